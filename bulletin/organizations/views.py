"""Organization search for the registration form (HTML without JavaScript, JSON for the enhancement)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from bulletin.organizations.services import search_organizations

bp = Blueprint("organizations", __name__)


@bp.get("/organizations/search.json")
def search_json():
    """Up to 20 organizations matching `q` by code, name or reading."""
    query = request.args.get("q", "")[:50]
    results = search_organizations(query) if query.strip() else []
    return jsonify(
        [
            {
                "code": org.code,
                "name": org.name,
                "display_name": org.display_name,
                "kana": org.kana,
                "kind": org.kind.value,
            }
            for org in results
        ]
    )
