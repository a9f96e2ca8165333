"""Home, static policy pages, language choice and health checks."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import text

from bulletin.core.forms import ConfirmActionForm
from bulletin.core.templating import request_locale
from bulletin.core.urls import safe_next_path
from bulletin.extensions import db
from bulletin.posts import queries, services
from bulletin.posts.recommendations import recommendations_for

bp = Blueprint("main", __name__)

_MENUS: dict[tuple, Markup] = {}


@bp.app_template_global()
def site_nav() -> Markup:
    """The main menu of every page (templates/_nav.html). It depends only on the locale and a few flags of the
    signed-in user, so it is drawn once per locale and flags and kept: some 15 links and their texts, every page."""
    user = current_user
    signed_in = user.is_authenticated
    flags = {
        "signed_in": signed_in,
        "suspended": signed_in and user.organization_is_suspended,
        "can_create": services.can_create_post(user),
        "has_organization": signed_in and user.organization_id is not None,
        "moderator": signed_in and user.can_moderate(),
        "unread": user.unread_notifications if signed_in else 0,
    }
    key = (request_locale(), request.script_root, *flags.values())
    menu = _MENUS.get(key)
    if menu is None:
        if len(_MENUS) > 2_000:
            _MENUS.clear()
        menu = _MENUS[key] = Markup(current_app.jinja_env.get_template("_nav.html").render(**flags))
    return menu


@bp.get("/")
def index():
    """The home page: what the board is, and for members the newest posts and the posts recommended to them."""
    recent, recommended = [], []
    if current_user.is_authenticated and current_user.is_active:
        recent = queries.recent_posts()
        recommended = recommendations_for(current_user)
    return render_template("main/index.html", recent=recent, recommended=recommended)


@bp.get("/terms")
def terms():
    """利用規約."""
    return render_template("main/terms.html")


@bp.get("/accessibility")
def accessibility():
    """ウェブアクセシビリティ方針."""
    return render_template("main/accessibility.html")


@bp.get("/privacy")
def privacy():
    """プライバシーポリシー: what the board keeps, why, for how long (the configured periods), and who sees it."""
    return render_template("main/privacy.html")


@bp.get("/contact")
def contact():
    """お問い合わせ: the secretariat's contact, as configured."""
    return render_template("main/contact.html")


@bp.get("/guide")
def guide():
    """利用の手引き: a short guide for each role."""
    return render_template("main/guide.html")


@bp.post("/locale")
def set_locale():
    """Switch the interface language; remembered for the session and, when logged in, on the account."""
    form = ConfirmActionForm()
    locale = request.form.get("locale", "")
    if form.validate_on_submit() and locale in current_app.config["LANGUAGES"]:
        session["locale"] = locale
        if current_user.is_authenticated:
            current_user.locale = locale
    return redirect(safe_next_path(request.form.get("next")) or url_for("main.index"))


@bp.get("/healthz")
def healthz():
    """The process is up."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """The database answers."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as error:  # the boundary rolls the failed transaction back
        return jsonify(status="unavailable", error=type(error).__name__), 503
    return jsonify(status="ok")
