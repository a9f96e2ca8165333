"""The map page, and the record (統計): counts by fiscal year on a page with charts, and as CSV."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user, login_required

from bulletin.core.downloads import csv_download
from bulletin.core.templating import request_locale
from bulletin.core.text import parse_month_day, today_in_japan
from bulletin.stats import export, queries
from bulletin.stats.charts import charts_of
from bulletin.stats.prefecture_map import outlines, shaded_map
from bulletin.stats.record import Record, build_record

bp = Blueprint("stats", __name__)


@bp.get("/map")
@login_required
def prefecture_map():
    """地図: members see posts (the default) or partnerships (?show=cases) per prefecture, on an SVG and in a table."""
    show = "cases" if request.args.get("show") == "cases" else "posts"
    counts = queries.cases_by_prefecture() if show == "cases" else queries.published_posts_by_prefecture()
    return render_template("stats/map.html", show=show, shaded=shaded_map(counts), outlines=outlines())


@bp.get("/stats")
def record():
    """統計: the record by fiscal year for everyone; moderators also see submissions and every kind of decision."""
    current = _record()
    return render_template("stats/record.html", record=current, charts=charts_of(current))


@bp.get("/stats.csv")
def record_csv():
    """The same tables as /stats (for the same viewer) as CSV, one row per measure and a column per fiscal year."""
    return csv_download(export.record_csv(_record()), f"bulletin-stats-{today_in_japan():%Y%m%d}.csv")


def _record() -> Record:
    full = current_user.is_authenticated and current_user.can_moderate()
    reference_day = parse_month_day(current_app.config["STATS_REFERENCE_DAY"])
    return build_record(reference_day, today_in_japan(), full, request_locale())
