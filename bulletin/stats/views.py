"""The map page: published posts or public cases per prefecture, each prefecture a link to its list."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import login_required

from bulletin.stats import queries
from bulletin.stats.prefecture_map import outlines, shaded_map

bp = Blueprint("stats", __name__)


@bp.get("/map")
@login_required
def prefecture_map():
    """地図: members see posts (the default) or partnerships (?show=cases) per prefecture, on an SVG and in a table."""
    show = "cases" if request.args.get("show") == "cases" else "posts"
    counts = queries.cases_by_prefecture() if show == "cases" else queries.published_posts_by_prefecture()
    return render_template("stats/map.html", show=show, shaded=shaded_map(counts), outlines=outlines())
