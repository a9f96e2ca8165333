"""bulletin — 全国連携マッチング掲示板. The app factory lists every extension, blueprint, CLI group and receiver."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, has_request_context, request, session
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from bulletin import models  # noqa: F401  every model registered on the metadata
from bulletin.accounts.sessions import init_sessions
from bulletin.accounts.two_factor_views import bp as two_factor_bp
from bulletin.accounts.views import bp as accounts_bp
from bulletin.cli import register_commands
from bulletin.config import load_config
from bulletin.core.db import render_migration_item
from bulletin.core.errors import register_error_handlers
from bulletin.core.security import init_security
from bulletin.core.templating import init_templating
from bulletin.core.transaction import TransactionalFlask, init_transactions
from bulletin.extensions import babel, csrf, db, limiter, login_manager, migrate
from bulletin.main.views import bp as main_bp
from bulletin.moderation.views import bp as moderation_bp
from bulletin.moderation.views import reports_bp
from bulletin.notifications.receivers import connect_receivers
from bulletin.notifications.views import bp as notifications_bp
from bulletin.organizations.views import bp as organizations_bp
from bulletin.posts.search import include_object as search_include_object
from bulletin.posts.views import bp as posts_bp
from bulletin.responses.views import bp as responses_bp
from bulletin.saved_searches.views import bp as saved_searches_bp
from bulletin.stats.views import bp as stats_bp

ROOT = Path(__file__).resolve().parent.parent


class DatabaseIntConverter(IntegerConverter):
    """<int:…> limited to what an INTEGER column holds, so an absurd id is a 404 rather than an overflow."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def select_locale() -> str:
    """The user's chosen language, else the session's, else the browser's, else Japanese (outside requests)."""
    if not has_request_context():
        return "ja"
    if current_user and current_user.is_authenticated and current_user.locale:
        return current_user.locale
    if session.get("locale"):
        return session["locale"]
    return request.accept_languages.best_match(["ja", "en"]) or "ja"


def create_app(config: dict | str | None = None) -> Flask:
    """Build the application: configuration, extensions, blueprints, CLI commands, receivers."""
    app = TransactionalFlask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(Path.cwd() / "instance"),
        instance_relative_config=False,
    )
    load_config(app, config)
    app.url_map.converters["int"] = DatabaseIntConverter
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # the default provider has it

    init_security(app)  # first: bad input is refused before any other hook reads it
    db.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=str(ROOT / "migrations"),
        render_as_batch=True,
        compare_type=True,
        render_item=render_migration_item,
        include_object=search_include_object,
    )
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, default_translation_directories=str(ROOT / "translations"))
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.id_attribute = "session_id_for_cookie"  # the cookie holds a session row's random id
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("このページを見るにはログインしてください。")
    login_manager.login_message_category = "info"

    for blueprint in (
        main_bp,
        accounts_bp,
        two_factor_bp,  # with the hook that keeps a moderator who must enrol to the enrolment
        organizations_bp,
        posts_bp,
        responses_bp,
        stats_bp,
        saved_searches_bp,
        moderation_bp,
        reports_bp,
        notifications_bp,
    ):
        app.register_blueprint(blueprint)
    init_templating(app)
    register_error_handlers(app)
    init_transactions(app)
    init_sessions(app)
    register_commands(app)
    connect_receivers()
    return app
