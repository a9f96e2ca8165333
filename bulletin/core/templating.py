"""Template filters and globals: 和暦 dates, fiscal years (年度), Japan time, file sizes, the CSRF token, absolute
URLs."""

from __future__ import annotations

from babel.support import NullTranslations
from flask import Flask, g
from flask_babel import get_locale, get_translations
from flask_wtf.csrf import generate_csrf

from bulletin.core.confirm import confirm_attributes
from bulletin.core.text import format_datetime, format_dual_date, format_era_date, format_fiscal_year
from bulletin.core.urls import absolute_url


def format_size(size: int) -> str:
    """1.2 MB, 340 KB: a file's size as people read it."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{max(size // 1024, 1)} KB"


def _locale_in_force() -> tuple[object, NullTranslations, str]:
    """The locale in force, its catalogue and its code, looked up once per request (and again under `force_locale`
    or after `refresh`): Flask-Babel looks them up anew for every string and every date, which cost a page of 50
    strings and 40 dates more than its database queries."""
    try:
        babel_context = g.get("_flask_babel")
        cached = g.get("_bulletin_locale")
    except RuntimeError:  # outside an app context
        return None, get_translations(), str(get_locale() or "ja")
    if babel_context is not None and cached is not None and cached[0] is getattr(babel_context, "babel_locale", None):
        return cached
    translations = get_translations()  # selects the locale on first use, and makes g._flask_babel
    locale = getattr(g.get("_flask_babel"), "babel_locale", None)
    g._bulletin_locale = (locale, translations, str(locale or "ja"))
    return g._bulletin_locale


def request_translations() -> NullTranslations:
    """The catalogue of the locale in force."""
    return _locale_in_force()[1]


def request_locale() -> str:
    """The code of the locale in force: "ja" or "en"."""
    return _locale_in_force()[2]


def init_templating(app: Flask) -> None:
    """Register filters and globals on the Jinja environment, and the translation functions templates call."""
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: request_translations().ugettext(s),
        ngettext=lambda s, p, n: request_translations().ungettext(s, p, n),
        pgettext=lambda c, s: request_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: request_translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
    app.jinja_env.filters.update(
        era_date=lambda value: format_era_date(value) if request_locale() != "en" else format_dual_date(value, "en"),
        dual_date=lambda value: format_dual_date(value, request_locale()),
        datetime_jst=format_datetime,
        fiscal_year=lambda year: format_fiscal_year(year, request_locale()),
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
