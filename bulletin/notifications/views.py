"""The notification centre and the notification settings."""

from __future__ import annotations

from itertools import groupby

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select

from bulletin.accounts.models import User
from bulletin.accounts.tokens import TokenError, load_unsubscribe_token
from bulletin.core.forms import ChoiceGroup, ConfirmActionForm
from bulletin.core.transaction import write_separately
from bulletin.core.urls import safe_next_path
from bulletin.extensions import csrf, db
from bulletin.notifications import services
from bulletin.notifications.kinds import KINDS, SUBJECT_ENDPOINTS, notification_brief, notification_text
from bulletin.notifications.models import DeliveryMode, Notification
from bulletin.organizations.data import prefectures as prefectures_by_code
from bulletin.organizations.services import prefecture_groups
from bulletin.posts.categories import CATEGORIES

bp = Blueprint("notifications", __name__)

PER_PAGE = 50


@bp.get("/notifications")
@login_required
def index():
    """The user's notifications, newest first, each linking to its subject."""
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), 10_000)
    rows = list(
        db.session.scalars(
            select(Notification)
            .where(Notification.user_id == current_user.id)
            .order_by(Notification.id.desc())
            .offset((page - 1) * PER_PAGE)
            .limit(PER_PAGE + 1)
        )
    )
    return render_template(
        "notifications/index.html",
        notifications=rows[:PER_PAGE],
        page=page,
        has_next=len(rows) > PER_PAGE,
        text_of=notification_text,
        brief_of=notification_brief,
        action_form=ConfirmActionForm(),
    )


@bp.post("/notifications/<int:notification_id>/read")
@login_required
def read(notification_id: int):
    """Mark one notification read and go to its subject."""
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.user_id != current_user.id:
        abort(404)
    if not ConfirmActionForm().validate_on_submit():
        abort(400)
    services.mark_read(current_user, notification)
    return redirect(safe_next_path(notification.url) or url_for("notifications.index"))


@bp.post("/notifications/read-all")
@login_required
def read_all():
    """Mark every notification read."""
    if not ConfirmActionForm().validate_on_submit():
        abort(400)
    services.mark_all_read(current_user)
    flash(_("すべて既読にしました。"), "success")
    return redirect(url_for("notifications.index"))


@bp.route("/settings/notifications", methods=["GET", "POST"])
@login_required
def settings():
    """Per kind of event: e-mail at once, in the daily digest, or not at all (the app always shows them)."""
    kinds = services.kinds_for(current_user)
    form = ConfirmActionForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        chosen = {}
        for kind in kinds:
            value = request.form.get(f"mode_{kind}", "")
            if value not in {mode.value for mode in DeliveryMode}:
                flash(_("選択肢から選んでください。"), "error")
                return redirect(url_for("notifications.settings")), 303
            chosen[kind] = DeliveryMode(value)
        services.set_preferences(current_user, chosen)
        if current_user.organization_id is not None:
            categories = set(request.form.getlist("follow_category")) & set(CATEGORIES)
            prefectures = set(request.form.getlist("follow_prefecture")) & set(prefectures_by_code())
            services.set_follows(current_user, request.form.get("follow_all") == "y", categories, prefectures)
        flash(_("通知の設定を保存しました。"), "success")
        return redirect(url_for("notifications.settings"))
    modes = services.preferences_of(current_user, kinds)
    return render_template(
        "notifications/settings.html",
        groups=[(label, list(members)) for label, members in groupby(kinds, key=lambda kind: KINDS[kind].group)],
        definitions=KINDS,
        modes=modes,
        delivery_modes=list(DeliveryMode),
        form=form,
        follows=services.follows_of(current_user) if current_user.organization_id else None,
        category_groups=[ChoiceGroup("", tuple((key, str(label)) for key, label in CATEGORIES.items()))],
        prefecture_groups=prefecture_groups(),
    )


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058: the mail client POSTs without a session; the signed token is the proof
def unsubscribe(token: str):
    """Turn off the e-mail of one kind from a link in that e-mail. GET only asks (mail scanners open links);
    POST does it, from the page's button or from the mail client's one-click."""
    try:
        user_id, kind = load_unsubscribe_token(token)
    except TokenError:
        return render_template("notifications/unsubscribe.html", invalid=True, token=token), 400
    user = db.session.get(User, user_id)
    if user is None or (kind not in KINDS and kind != "digest"):
        return render_template("notifications/unsubscribe.html", invalid=True, token=token), 400
    label = KINDS[kind].label if kind in KINDS else _l("お知らせのまとめ")
    if request.method == "POST":
        if kind == "digest":
            services.set_preferences(
                user,
                {
                    k: DeliveryMode.OFF
                    for k, m in services.preferences_of(user, services.kinds_for(user)).items()
                    if m == DeliveryMode.DIGEST
                },
            )
        else:
            services.set_preferences(user, {kind: DeliveryMode.OFF})
        return render_template("notifications/unsubscribe.html", done=True, label=label, token=token)
    return render_template("notifications/unsubscribe.html", label=label, token=token)


@bp.before_app_request
def read_notifications_of_this_page():
    """Opening the page a notification is about (from the e-mail, the dashboard…) reads it: a write on GET, made
    only when the user has unread notifications for exactly this page. Other pages, and users with nothing unread
    (the count is on the user's row), cost no query."""
    if request.method != "GET" or request.endpoint not in SUBJECT_ENDPOINTS:
        return
    if not current_user.is_authenticated or not current_user.unread_notifications:
        return
    if services.has_unread_for_path(current_user, request.path):
        user_id, path = current_user.id, request.path
        write_separately(lambda: services.mark_read_for_path(user_id, path))
