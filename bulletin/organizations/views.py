"""Organization search for the registration form (HTML without JavaScript, JSON for the enhancement); the exchange
relations (交流自治体), which everyone may read and moderators record."""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms import SelectChoice

from bulletin.core.transaction import refusal_shown_on
from bulletin.organizations import agreements, queries
from bulletin.organizations.forms import ExchangeRelationForm
from bulletin.organizations.models import ExchangeKind
from bulletin.organizations.services import search_organizations, ward_choices

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


def _moderators_only() -> None:
    """Recording is for moderators; others get 404, as on every moderator page."""
    if not current_user.can_moderate():
        abort(404)


def _exchange_form(formdata=...) -> ExchangeRelationForm:
    form = ExchangeRelationForm() if formdata is ... else ExchangeRelationForm(formdata=formdata)
    form.ward.choices = [SelectChoice(code, name) for code, name in ward_choices()]
    return form


def _exchange_page(form: ExchangeRelationForm, status: int = 200):
    return render_template(
        "organizations/exchange_relations.html", relations=queries.exchange_relations(), form=form
    ), status


@bp.get("/exchange-relations")
def exchange_relations():
    """交流自治体: each ward's standing relationships with municipalities; moderators see the form to add one."""
    return _exchange_page(_exchange_form(None))


@bp.post("/exchange-relations")
@login_required
def add_exchange_relation():
    """Record an exchange relation (moderators)."""
    _moderators_only()
    form = _exchange_form()
    if form.validate_on_submit():
        with refusal_shown_on(form) as outcome:
            agreements.add_exchange_relation(
                current_user,
                form.ward.data,
                form.municipality_code.data,
                form.started_on.data,
                ExchangeKind(form.kind.data),
            )
        if outcome.ok:
            flash(_("交流自治体を登録しました。"), "success")
            return redirect(url_for("organizations.exchange_relations"))
    return _exchange_page(form, status=400)
