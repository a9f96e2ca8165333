"""Template filters and globals: 和暦 dates, fiscal years (年度), Japan time, file sizes, the CSRF token, absolute
URLs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any

from babel.support import NullTranslations
from flask import Flask, current_app, g, has_app_context, has_request_context, request, session, url_for
from flask.templating import Environment
from flask_babel import get_locale, get_translations
from flask_wtf.csrf import generate_csrf
from jinja2 import nodes, pass_eval_context
from jinja2.nodes import EvalContext
from jinja2.visitor import NodeTransformer
from markupsafe import Markup, escape

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
        store = g._get_current_object().__dict__  # one lookup of the request's g, not one per name read from it
    except RuntimeError:  # outside an app context
        return None, get_translations(), str(get_locale() or "ja")
    babel_context = store.get("_flask_babel")
    cached = store.get("_bulletin_locale")
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


_SIGNED_TOKENS: dict[str, tuple[float, str]] = {}
SIGNED_TOKEN_REUSE_SECONDS = 60


def _kept_token(raw: str, now: float) -> str | None:
    kept = _SIGNED_TOKENS.get(raw)
    return kept[1] if kept is not None and now - kept[0] < SIGNED_TOKEN_REUSE_SECONDS else None


def use_kept_csrf_token() -> None:
    """Before a page is read: hand Flask-WTF the session's token signed less than a minute ago, if there is one. It
    keeps the request's signed token on g, so every form and template of the request takes this one instead of signing
    anew (an HMAC and a timestamp on every page): a signed token holds for WTF_CSRF_TIME_LIMIT from its signing, so
    one a minute old is as good."""
    if request.method not in ("GET", "HEAD") or not current_app.config.get("WTF_CSRF_ENABLED", True):
        return  # a form sent may end the session (sign-in, sign-out): its page signs its own token
    raw = session.get("csrf_token")
    token = _kept_token(raw, time.monotonic()) if raw else None
    if token is not None:
        g.csrf_token = token


def csrf_token() -> str:
    """The form token of the templates (Flask-WTF's), remembered for the next minute's requests of the session."""
    token = generate_csrf()
    raw = session.get("csrf_token")
    now = time.monotonic()
    if raw and current_app.config.get("WTF_CSRF_ENABLED", True) and _kept_token(raw, now) is None:
        if len(_SIGNED_TOKENS) > 10_000:
            _SIGNED_TOKENS.clear()
        _SIGNED_TOKENS[raw] = (now, token)
    return token


_URLS: dict[tuple[str, str, str | None], str] = {}


def url_for_template(endpoint: str, **values: Any) -> str:
    """Flask's url_for for templates, with the URLs of pages without parameters (the menu, the footer, the static
    files) kept per script root: the layout links to some 25 of them on every page, each built anew before."""
    if (values and (endpoint != "static" or values.keys() != {"filename"})) or not has_request_context():
        return url_for(endpoint, **values)
    key = (request.script_root, endpoint, values.get("filename"))
    found = _URLS.get(key)
    if found is None:
        found = _URLS[key] = url_for(endpoint, **values)
    return found


_CHOICES: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {}


def choices_in_locale(name: str, build: Callable[[], Iterable[tuple[object, object]]]) -> tuple[tuple[str, str], ...]:
    """(value, label) pairs with their labels translated into the locale in force, built once per locale and kept:
    the labels of enums, categories and prefectures never change while the board runs, and translating them anew
    on every page cost a catalogue lookup each."""
    key = (name, request_locale())
    found = _CHOICES.get(key)
    if found is None:
        found = _CHOICES[key] = tuple((str(value), str(label)) for value, label in build())
    return found


_OPTIONS: dict[tuple[int, str], tuple[tuple[tuple[str, str], ...], Markup]] = {}


def select_options(choices: tuple[tuple[str, str], ...], selected: object = None) -> Markup:
    """The <option> elements of a select, the selected value marked: built in Python (a Jinja loop over the 47
    prefectures and 23 wards cost more than the rest of the list's form), and kept for choices that are kept
    themselves (choices_in_locale's, the wards', the prefectures'): a few sets, each with one selection at a time."""
    chosen = "" if selected is None else str(selected)
    key = (id(choices), chosen)
    found = _OPTIONS.get(key)
    if found is not None and found[0] is choices:
        return found[1]
    html = Markup(
        "".join(
            f'<option value="{escape(value)}"{" selected" if value == chosen else ""}>{escape(label)}</option>'
            for value, label in choices
        )
    )
    if len(_OPTIONS) < 4096 and chosen in {value for value, _label in choices} | {""}:
        _OPTIONS[key] = (choices, html)  # the choices held too: their id is never reused while they are kept
    return html


# The locale a template is being compiled for (set by LocalizedEnvironment while it loads one).
_compiling_for: ContextVar[tuple[str, NullTranslations] | None] = ContextVar("compiling_for", default=None)


@pass_eval_context
def formatted(eval_ctx: EvalContext, text: str, **variables: object) -> str:
    """What `_("…%(n)d…", n=…)` gives once its text is translated: the text formatted with the variables, escaped
    where the template escapes (the rule of Jinja's newstyle gettext)."""
    return (Markup(text) if eval_ctx.autoescape else text) % variables


class _TranslateConstants(NodeTransformer):
    """Replace each `_("literal")` of a template with its translation: a constant (folded into the template's text),
    or with variables a call of `formatted` on the translated text. Other calls of `_` are left as they are."""

    def __init__(self, translations: NullTranslations):
        self.translations = translations

    def visit_Call(self, call: nodes.Call) -> nodes.Node:
        node = self.generic_visit(call)
        assert isinstance(node, nodes.Call)
        literal = node.args[0] if len(node.args) == 1 else None
        if not (
            isinstance(node.node, nodes.Name)
            and node.node.name in ("_", "gettext")
            and isinstance(literal, nodes.Const)
            and isinstance(literal.value, str)
            and node.dyn_args is None
            and node.dyn_kwargs is None
        ):
            return node
        text = self.translations.ugettext(literal.value)
        if node.kwargs:
            call = nodes.Call(nodes.Name("formatted", "load"), [nodes.Const(text)], node.kwargs, None, None)
            return call.set_lineno(node.lineno)
        try:
            text = text % {}  # newstyle gettext always formats, so "%%" is "%"
        except (KeyError, TypeError, ValueError):
            return node  # leave a malformed text to fail as it would have
        return nodes.MarkSafeIfAutoescape(nodes.Const(text)).set_lineno(node.lineno)


class LocalizedEnvironment(Environment):
    """Flask's Jinja environment, with each template compiled once per locale and its constant texts translated
    then: `_("…")` costs nothing when a page renders (Flask-Babel looked up the catalogue for each of a page's
    ~60 strings). Templates from strings, and loads outside an app context, are compiled as Jinja does."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._localized: dict[tuple[str, str], object] = {}

    def _load_template(self, name, globals):
        if not has_app_context() or self.loader is None:
            return super()._load_template(name, globals)
        if self.bytecode_cache is not None:
            raise RuntimeError("a bytecode cache would share one locale's compiled texts with the others")
        _, translations, locale = _locale_in_force()
        key = (locale, name)
        template = self._localized.get(key)
        if template is not None and (not self.auto_reload or template.is_up_to_date):  # type: ignore[attr-defined]
            if globals:
                template.globals.update(globals)  # type: ignore[attr-defined]
            return template
        token = _compiling_for.set((locale, translations))
        try:
            template = self.loader.load(self, name, self.make_globals(globals))
        finally:
            _compiling_for.reset(token)
        self._localized[key] = template
        return template

    def _parse(self, source, name, filename):
        tree = super()._parse(source, name, filename)
        compiling = _compiling_for.get()
        if compiling is None:
            return tree
        return _TranslateConstants(compiling[1]).visit(tree)


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
        # A list passes the locale it read once (request_locale()) rather than have each of its dates look it up.
        era_date=lambda value, locale=None: (
            format_era_date(value) if (locale or request_locale()) != "en" else format_dual_date(value, "en")
        ),
        dual_date=lambda value, locale=None: format_dual_date(value, locale or request_locale()),
        datetime_jst=format_datetime,
        fiscal_year=lambda year: format_fiscal_year(year, request_locale()),
        filesize=format_size,
    )
    app.jinja_env.globals.update(
        csrf_token=csrf_token,
        get_locale=get_locale,
        absolute_url=absolute_url,
        confirm_attributes=confirm_attributes,
        formatted=formatted,
        select_options=select_options,
        request_locale=request_locale,
        url_for=url_for_template,
    )
    # Flask-WTF hands its own csrf_token to every template by a context processor; this later one replaces it.
    app.context_processor(lambda: {"csrf_token": csrf_token})
    app.before_request(use_kept_csrf_token)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
