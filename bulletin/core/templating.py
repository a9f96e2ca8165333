"""Template filters and globals: 和暦 dates, fiscal years (年度), Japan time, file sizes, the CSRF token, absolute
URLs."""

from __future__ import annotations

from flask import Flask
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf

from bulletin.core.confirm import confirm_attributes
from bulletin.core.text import format_datetime, format_dual_date, format_era_date, format_fiscal_year
from bulletin.core.urls import absolute_url


def format_size(size: int) -> str:
    """1.2 MB, 340 KB: a file's size as people read it."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{max(size // 1024, 1)} KB"


def init_templating(app: Flask) -> None:
    """Register filters and globals on the Jinja environment."""
    app.jinja_env.filters.update(
        era_date=lambda value: (
            format_era_date(value) if str(get_locale() or "ja") != "en" else format_dual_date(value, "en")
        ),
        dual_date=lambda value: format_dual_date(value, str(get_locale() or "ja")),
        datetime_jst=format_datetime,
        fiscal_year=lambda year: format_fiscal_year(year, str(get_locale() or "ja")),
        filesize=format_size,
    )
    app.jinja_env.globals.update(
        csrf_token=generate_csrf,
        get_locale=get_locale,
        absolute_url=absolute_url,
        confirm_attributes=confirm_attributes,
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
