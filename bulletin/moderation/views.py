"""The moderation queue, member decisions and the log."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from bulletin.extensions import db
from bulletin.moderation import queries, services
from bulletin.moderation.forms import ApproveUserForm, RejectUserForm

bp = Blueprint("moderation", __name__, url_prefix="/moderation")


@bp.before_request
@login_required
def require_moderator():
    """Every page here is for moderators only; others get 404 so the pages are not advertised."""
    if not current_user.can_moderate():
        abort(404)


@bp.get("")
def queue():
    """Pending registrations, oldest first, with their flags."""
    return render_template(
        "moderation/queue.html",
        pending=queries.pending_members(),
        flag_labels=queries.FLAG_LABELS,
        approve_form=ApproveUserForm(formdata=None),
        reject_form=RejectUserForm(formdata=None),
    )


def _pending_user_or_404(user_id: int):
    user = queries.get_user(user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/users/<int:user_id>/approve", methods=["POST"])
def approve_user(user_id: int):
    """Approve a registration, optionally confirming its e-mail domain for the organization."""
    user = _pending_user_or_404(user_id)
    form = ApproveUserForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.approve_user(current_user, user, confirm_user_domain=form.confirm_domain.data)
    except services.ModerationError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("moderation.queue"))
    db.session.commit()
    flash(_("%(name)s さんの登録を承認しました。", name=user.name), "success")
    return redirect(url_for("moderation.queue"))


@bp.route("/users/<int:user_id>/reject", methods=["GET", "POST"])
def reject_user(user_id: int):
    """Reject a registration with a reason the applicant is told."""
    user = _pending_user_or_404(user_id)
    form = RejectUserForm()
    if form.validate_on_submit():
        try:
            services.reject_user(current_user, user, form.reason.data)
        except services.ModerationError as error:
            db.session.rollback()
            flash(error.message, "error")
            return redirect(url_for("moderation.queue"))
        db.session.commit()
        flash(_("%(name)s さんの登録を却下しました。", name=user.name), "success")
        return redirect(url_for("moderation.queue"))
    status = 400 if request.method == "POST" else 200
    return render_template("moderation/reject_user.html", user=user, form=form), status


@bp.get("/log")
def log():
    """Every decision, newest first. Nothing here can be edited or deleted."""
    page = request.args.get("page", 1, type=int)
    return render_template("moderation/log.html", pagination=queries.moderation_log(max(page, 1)))
