"""The moderation queue, decisions on members, changes of address, posts and reports, accounts and organizations
(suspension, confirmed e-mail domains), the log, the security log, failed mail, the April review's progress; and
members' reports."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms import SelectChoice

from bulletin.accounts.staff_review import current_period, period_of
from bulletin.core.confirm import Confirmation, confirm_page, excerpt, is_confirmed
from bulletin.core.diff import diff_fields
from bulletin.core.downloads import csv_download
from bulletin.core.errors import NotTheVersionShown
from bulletin.core.forms import ConfirmActionForm, NoteForm, ReasonForm
from bulletin.core.text import today_in_japan
from bulletin.core.transaction import carry_out, refusal_shown_on, refused_go_to
from bulletin.extensions import db
from bulletin.moderation import queries, reports, services
from bulletin.moderation.export import moderation_log_csv
from bulletin.moderation.forms import (
    ApproveEmailChangeForm,
    ApproveUserForm,
    DecisionForm,
    DomainForm,
    ModerationLogFilter,
    RejectUserForm,
    ReturnForm,
    RevokeDomainForm,
    SecurityLogFilter,
    SuspendOrganizationForm,
    SuspendUserForm,
)
from bulletin.moderation.models import Report
from bulletin.notifications.models import OutboxMessage, OutboxState
from bulletin.organizations.models import EmailDomain, Organization
from bulletin.organizations.services import search_organizations
from bulletin.posts import queries as post_queries
from bulletin.posts import services as posts
from bulletin.posts.models import CONTENT_FIELDS, PostRevision
from bulletin.responses import queries as response_queries
from bulletin.responses.models import Message

bp = Blueprint("moderation", __name__, url_prefix="/moderation")
# Members report from the post and conversation pages, under those pages' URLs: a blueprint without the moderators'
# guard. Filing a report lives here, with resolving it, as moderation sits above the posts and responses it reports.
reports_bp = Blueprint("reports", __name__)


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
        email_changes=queries.pending_email_changes(),
        posts=queries.pending_posts(),
        revisions=queries.pending_revisions(),
        reports=queries.open_reports(),
        hidden=queries.hidden_posts(),
        cases=response_queries.cases_awaiting_publication(),
        approve_form=ApproveUserForm(formdata=None),
        action_form=ConfirmActionForm(),
    )


def _user_or_404(user_id: int):
    user = queries.get_user(user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/users/<int:user_id>/approve", methods=["POST"])
def approve_user(user_id: int):
    """Approve a registration as the queue showed it, optionally confirming its e-mail domain for the organization."""
    user = _user_or_404(user_id)
    form = ApproveUserForm()
    if not form.validate_on_submit():
        abort(400)
    return carry_out(
        lambda: services.approve_user(
            current_user, user, form.fingerprint.data, confirm_user_domain=form.confirm_domain.data
        ),
        _("%(name)s さんの登録を承認しました。", name=user.name),
        url_for("moderation.queue"),
    )


@bp.route("/users/<int:user_id>/reject", methods=["GET", "POST"])
def reject_user(user_id: int):
    """Reject a registration as this page showed it, with a reason the applicant is told; when the registration
    changed meanwhile, the page shows it again as it is now, with the reason kept."""
    user = _user_or_404(user_id)
    form = RejectUserForm()
    status = 400 if request.method == "POST" else 200
    if form.validate_on_submit():
        refused_go_to(url_for("moderation.queue"))
        with refusal_shown_on(form, only=NotTheVersionShown) as outcome:
            services.reject_user(current_user, user, form.fingerprint.data, form.reason.data)
        if outcome.ok:
            flash(_("%(name)s さんの登録を却下しました。", name=user.name), "success")
            return redirect(url_for("moderation.queue"))
        status = 409
    return render_template("moderation/reject_user.html", user=user, form=form), status


def _email_change_or_404(change_id: int):
    change = queries.get_email_change(change_id)
    if change is None:
        abort(404)
    return change


@bp.post("/email-changes/<int:change_id>/approve")
def approve_email_change(change_id: int):
    """Move an account to the address its owner proved, optionally confirming the new domain for the organization."""
    change = _email_change_or_404(change_id)
    form = ApproveEmailChangeForm()
    if not form.validate_on_submit():
        abort(400)
    return carry_out(
        lambda: services.approve_email_change(current_user, change, confirm_new_domain=form.confirm_domain.data),
        _("%(name)s さんのメールアドレスを %(email)s に変更しました。", name=change.user.name, email=change.new_email),
        url_for("moderation.queue"),
    )


@bp.post("/email-changes/<int:change_id>/reject")
def reject_email_change(change_id: int):
    """Refuse a change of address with a reason the user is told."""
    change = _email_change_or_404(change_id)
    form = ReasonForm()
    return carry_out(
        lambda: services.reject_email_change(current_user, change, form.reason.data),
        _("%(name)s さんのメールアドレスの変更を却下しました。", name=change.user.name),
        url_for("moderation.queue"),
        form=form,
        incomplete=_("却下の理由を入力してください。"),
    )


@bp.get("/staff-review")
def staff_review():
    """The April review across the board: how many organizations confirmed their staff, and who has not yet."""
    current = current_period()
    year = request.args.get("year", type=int)
    period = period_of(year) if year is not None and 2000 <= year <= current.fiscal_year else current
    return render_template(
        "moderation/staff_review.html",
        period=period,
        current=current,
        overview=queries.staff_review_overview(period.fiscal_year),
    )


# --- accounts ---------------------------------------------------------------------------------------------------------


def _account_page(user, suspend_form: SuspendUserForm | None = None, status: int = 200):
    return render_template(
        "moderation/user.html",
        user=user,
        overview=queries.account_overview(user),
        suspend_form=suspend_form or SuspendUserForm(formdata=None),
        action_form=ConfirmActionForm(),
    ), status


@bp.get("/users/<int:user_id>")
def user_page(user_id: int):
    """One account: its organization, state, sessions and security log, and the buttons to suspend or reinstate."""
    return _account_page(_user_or_404(user_id))


@bp.post("/users/<int:user_id>/suspend")
def suspend_user(user_id: int):
    """Suspend an account with a reason the user is told; their sessions end at once."""
    user = _user_or_404(user_id)
    form = SuspendUserForm()
    if not form.validate_on_submit():
        return _account_page(user, form, 400)
    here = url_for("moderation.user_page", user_id=user.id)
    refused_go_to(here)
    services.suspend_user(current_user, user, form.reason.data)
    flash(_("%(name)s さんのアカウントを停止しました。", name=user.name), "success")
    return redirect(here)


@bp.post("/users/<int:user_id>/reinstate")
def reinstate_user(user_id: int):
    """Let a suspended account be used again."""
    user = _user_or_404(user_id)
    if not ConfirmActionForm().validate_on_submit():
        abort(400)
    return carry_out(
        lambda: services.reinstate_user(current_user, user),
        _("%(name)s さんのアカウントの利用を再開しました。", name=user.name),
        url_for("moderation.user_page", user_id=user.id),
    )


# --- organizations ----------------------------------------------------------------------------------------------------


@bp.get("/organizations")
def organizations():
    """Find an organization by code, name or reading; the organizations and accounts suspended now."""
    query = request.args.get("q", "")[:50]
    return render_template(
        "moderation/organizations.html",
        query=query,
        results=search_organizations(query) if query.strip() else [],
        suspended_organizations=queries.suspended_organizations(),
        suspended_accounts=queries.suspended_accounts(),
    )


def _organization_or_404(code: str) -> Organization:
    organization = queries.organization_by_code(code)
    if organization is None:
        abort(404)
    return organization


def _organization_page(
    organization: Organization,
    *,
    suspend_form: SuspendOrganizationForm | None = None,
    domain_form: DomainForm | None = None,
    revoke_form: RevokeDomainForm | None = None,
    revoking: int | None = None,
    status: int = 200,
):
    return render_template(
        "moderation/organization.html",
        organization=organization,
        staff=queries.staff_of(organization),
        decisions=queries.decisions_about("organization", organization.id),
        suspend_form=suspend_form or SuspendOrganizationForm(formdata=None),
        domain_form=domain_form or DomainForm(formdata=None),
        revoke_form=revoke_form or RevokeDomainForm(formdata=None),
        revoking=revoking,
        action_form=ConfirmActionForm(),
    ), status


@bp.get("/organizations/<code>")
def organization_page(code: str):
    """One organization: its membership, its staff and their states, its confirmed e-mail domains, and the buttons to
    suspend or reinstate it and to add or revoke a domain."""
    return _organization_page(_organization_or_404(code))


@bp.post("/organizations/<code>/suspend")
def suspend_organization(code: str):
    """Suspend an organization with a reason its staff are told; their sessions end at once."""
    organization = _organization_or_404(code)
    form = SuspendOrganizationForm()
    if not form.validate_on_submit():
        return _organization_page(organization, suspend_form=form, status=400)
    here = url_for("moderation.organization_page", code=organization.code)
    refused_go_to(here)
    services.suspend_organization(current_user, organization, form.reason.data)
    flash(_("%(org)s の利用を停止しました。", org=organization.display_name), "success")
    return redirect(here)


@bp.post("/organizations/<code>/reinstate")
def reinstate_organization(code: str):
    """Give a suspended organization back its membership."""
    organization = _organization_or_404(code)
    if not ConfirmActionForm().validate_on_submit():
        abort(400)
    return carry_out(
        lambda: services.reinstate_organization(current_user, organization),
        _("%(org)s の利用を再開しました。", org=organization.display_name),
        url_for("moderation.organization_page", code=organization.code),
    )


@bp.post("/organizations/<code>/domains")
def add_domain(code: str):
    """Confirm an e-mail domain as the organization's, at once."""
    organization = _organization_or_404(code)
    form = DomainForm()
    if form.validate_on_submit():
        with refusal_shown_on(form) as outcome:
            record = services.add_domain(current_user, organization, form.domain.data)
        if outcome.ok:
            flash(
                _("%(domain)s を %(org)s のドメインとして確認しました。", domain=record.domain, org=organization.name),
                "success",
            )
            return redirect(url_for("moderation.organization_page", code=organization.code))
    return _organization_page(organization, domain_form=form, status=400)


@bp.post("/organizations/<code>/domains/<int:domain_id>/revoke")
def revoke_domain(code: str, domain_id: int):
    """Stop trusting one of the organization's domains; registrations from it wait for review again."""
    organization = _organization_or_404(code)
    record = db.session.get(EmailDomain, domain_id)
    if record is None or record.organization_id != organization.id:
        abort(404)
    form = RevokeDomainForm()
    if not form.validate_on_submit():
        return _organization_page(organization, revoke_form=form, revoking=record.id, status=400)
    here = url_for("moderation.organization_page", code=organization.code)
    refused_go_to(here)
    services.revoke_domain(current_user, record, form.reason.data)
    flash(_("%(domain)s の確認を取り消しました。", domain=record.domain), "success")
    return redirect(here)


def _log_filter() -> tuple[ModerationLogFilter, queries.ModerationLogQuery, dict[str, str]]:
    """The moderation log's filter form read from the query string, the query it asks for (none while it has an
    error), and the filters to keep in links."""
    form = ModerationLogFilter(request.args)
    form.moderator.choices = [
        SelectChoice("", _("すべて")),
        *(SelectChoice(user_id, name) for user_id, name in queries.moderator_choices()),
        SelectChoice(queries.SYSTEM, _("システム（自動）")),
    ]
    if not form.validate():
        return form, queries.ModerationLogQuery(), {}
    query = queries.ModerationLogQuery(
        action=form.action.data or "",
        moderator=form.moderator.data or "",
        organization=form.organization.data or "",
        date_from=form.date_from.data,
        date_until=form.date_until.data,
    )
    return form, query, {key: value for key, value in request.args.items() if key != "page" and value}


@bp.get("/log")
def log():
    """Every decision, newest first, filtered by kind, moderator, organization and period. Nothing here can be edited
    or deleted."""
    form, query, filters = _log_filter()
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), 100_000)
    return render_template("moderation/log.html", form=form, log=queries.moderation_log(query, page), filters=filters)


@bp.get("/log.csv")
def log_csv():
    """The filtered moderation log as CSV (UTF-8 with a BOM, so that Excel reads the Japanese): one row a decision."""
    _form, query, _filters = _log_filter()
    body = moderation_log_csv(queries.moderation_log_export(query))
    return csv_download(body, f"moderation-log-{today_in_japan():%Y%m%d}.csv")


@bp.get("/security")
def security_log():
    """Sign-ins, failures, session ends, two-factor changes, suspensions and domain changes, filtered."""
    form = SecurityLogFilter(request.args)
    query = queries.SecurityLogQuery()
    user_id = request.args.get("user", type=int)
    if form.validate():
        query = queries.SecurityLogQuery(
            kind=form.kind.data or "",
            text=form.q.data or "",
            user_id=user_id if user_id is not None and 0 < user_id < 2**31 else None,
            date_from=form.date_from.data,
            date_until=form.date_until.data,
        )
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), 100_000)
    filters = {key: value for key, value in request.args.items() if key != "page" and value}
    return render_template(
        "moderation/security.html", form=form, pagination=queries.security_log(query, page), filters=filters
    )


def _post_or_404(post_id: int):
    post = post_queries.get_post(post_id)
    if post is None:
        abort(404)
    return post


def _review_post_page(post, reason_form, status: int = 200):
    changes = None
    if post.returned_snapshot:
        changes = [d for d in diff_fields(post.returned_snapshot, post.content(), CONTENT_FIELDS) if d.changed]
    return render_template(
        "moderation/review_post.html",
        post=post,
        changes=changes,
        action_form=ConfirmActionForm(),
        reason_form=reason_form,
    ), status


@bp.get("/posts/<int:post_id>")
def review_post(post_id: int):
    """A pending post in full; after a return for revision, the difference from the version returned. The decision
    forms carry the version shown."""
    return _review_post_page(_post_or_404(post_id), ReasonForm(formdata=None))


def _decide(post_id: int, decide, success: str, needs_reason: bool, on_confirm_page: bool = False):
    post = _post_or_404(post_id)
    form = ReasonForm() if needs_reason else ConfirmActionForm()
    if not form.validate_on_submit():
        if not needs_reason:
            abort(400)
        return _hide_confirmation(post, form, 400) if on_confirm_page else _review_post_page(post, form, 400)
    refused_go_to(url_for("moderation.review_post", post_id=post.id))
    decide(current_user, post, form.reason.data) if needs_reason else decide(current_user, post)
    flash(success, "success")
    return redirect(url_for("moderation.queue"))


@bp.post("/posts/<int:post_id>/approve")
def approve_post(post_id: int):
    """Publish a pending post in the version the moderator was shown; when it changed meanwhile, back to its page."""
    post = _post_or_404(post_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        abort(400)
    refused_go_to(url_for("moderation.review_post", post_id=post.id))
    posts.approve_post(current_user, post, form.version.data)
    flash(_("投稿を公開しました。"), "success")
    return redirect(url_for("moderation.queue"))


@bp.post("/posts/<int:post_id>/reject")
def reject_post(post_id: int):
    """Return a pending post for revision with comments for the author, in the version the moderator was shown; when
    it changed meanwhile, its page shows the current version again, with the comments kept."""
    post = _post_or_404(post_id)
    form = ReturnForm()
    if not form.validate_on_submit():
        return _review_post_page(post, form, 400)
    refused_go_to(url_for("moderation.review_post", post_id=post.id))
    with refusal_shown_on(form, only=NotTheVersionShown) as outcome:
        posts.reject_post(current_user, post, form.version.data, form.reason.data)
    if not outcome.ok:
        return _review_post_page(post, form, 409)
    flash(_("投稿を差し戻しました。"), "success")
    return redirect(url_for("moderation.queue"))


@bp.route("/posts/<int:post_id>/hide", methods=["GET", "POST"])
def hide_post(post_id: int):
    """Hide a published post with a reason, once confirmed: the review page's button (without `confirm`) and a GET
    show a confirm page with the post and the reason; a missing reason goes back to the page it was typed on."""
    if is_confirmed():
        return _decide(post_id, posts.hide_post, _("投稿を非公開にしました。"), needs_reason=True, on_confirm_page=True)
    post = _post_or_404(post_id)
    form = ReasonForm(formdata=request.form if request.method == "POST" else None)
    if request.method == "POST" and not form.validate():
        return _review_post_page(post, form, 400)
    refused_go_to(url_for("moderation.review_post", post_id=post.id))
    posts.check_can_hide(current_user, post)
    return _hide_confirmation(post, form)


def _hide_confirmation(post, form, status: int = 200):
    page = confirm_page(
        Confirmation(
            kind="hide_post",
            action=url_for("moderation.hide_post", post_id=post.id),
            back=url_for("moderation.review_post", post_id=post.id),
            facts=[(_("投稿"), post.title), (_("投稿した団体"), post.organization.display_name)],
            excerpt=excerpt(post.summary),
        ),
        form,
        reason_hint=_("理由は投稿した団体に表示され、記録に残ります。"),
    )
    return page, status


@bp.post("/posts/<int:post_id>/unhide")
def unhide_post(post_id: int):
    """Show a hidden post again."""
    return _decide(post_id, posts.unhide_post, _("投稿を再び公開しました。"), needs_reason=False)


def _revision_or_404(revision_id: int) -> PostRevision:
    revision = db.session.get(PostRevision, revision_id)
    if revision is None:
        abort(404)
    return revision


def _review_revision_page(revision: PostRevision, reason_form, status: int = 200):
    changes = [d for d in diff_fields(revision.post.content(), revision.content, CONTENT_FIELDS) if d.changed]
    return render_template(
        "moderation/review_revision.html",
        revision=revision,
        changes=changes,
        action_form=ConfirmActionForm(),
        reason_form=reason_form,
    ), status


@bp.get("/revisions/<int:revision_id>")
def review_revision(revision_id: int):
    """An edit of a published post as a diff against the published text. The decision forms carry the version
    shown."""
    return _review_revision_page(_revision_or_404(revision_id), ReasonForm(formdata=None))


@bp.post("/revisions/<int:revision_id>/<any(approve, reject):decision>")
def decide_revision(revision_id: int, decision: str):
    """Apply or refuse an edit of a published post, in the version the moderator was shown; when the author replaced
    it meanwhile, its page shows the current version again (with the reason of a refusal kept)."""
    revision = _revision_or_404(revision_id)
    refused_go_to(url_for("moderation.review_revision", revision_id=revision.id))
    if decision == "approve":
        if not (approval := DecisionForm()).validate_on_submit():
            abort(400)
        posts.approve_revision(current_user, revision, approval.version.data)
        flash(_("修正を反映しました。"), "success")
        return redirect(url_for("moderation.queue"))
    form = ReturnForm()
    if not form.validate_on_submit():
        return _review_revision_page(revision, form, 400)
    with refusal_shown_on(form, only=NotTheVersionShown) as outcome:
        posts.reject_revision(current_user, revision, form.version.data, form.reason.data)
    if not outcome.ok:
        return _review_revision_page(revision, form, 409)
    flash(_("修正を差し戻しました。"), "success")
    return redirect(url_for("moderation.queue"))


def _report_hide_confirmation(report: Report, form):
    """Hiding what a report is about asks first: the post or the message, the report, the reason (editable)."""
    if report.message is not None:
        conversation = report.message.conversation
        kind, subject, text = "hide_message", conversation.post.title, report.message.body
        where = f"{conversation.post_organization.display_name} ⇄ {conversation.partner_organization.display_name}"
    else:
        assert report.post is not None  # a report is of a message or of a post (a CHECK constraint)
        kind, subject, text = "hide_post", report.post.title, report.post.summary
        where = report.post.organization.display_name
    return confirm_page(
        Confirmation(
            kind=kind,
            action=url_for("moderation.resolve_report", report_id=report.id, decision="hide"),
            back=url_for("moderation.queue", _anchor=f"report-{report.id}-title"),
            facts=[(_("投稿"), subject), (_("団体"), where), (_("通報の理由"), report.reason)],
            excerpt=excerpt(text),
        ),
        form,
        reason_hint=_("理由は記録に残ります。"),
    )


@bp.post("/reports/<int:report_id>/<any(dismiss, hide):decision>")
def resolve_report(report_id: int, decision: str):
    """Dismiss a report, or hide the reported post or message with a reason, once confirmed (a confirm page first)."""
    report = db.session.get(Report, report_id)
    if report is None:
        abort(404)
    form = ReasonForm() if decision == "hide" else NoteForm()
    if not form.validate_on_submit():
        flash(_("理由を入力してください。") if decision == "hide" else _("メモの内容を確認してください。"), "error")
        return redirect(url_for("moderation.queue"))
    refused_go_to(url_for("moderation.queue"))
    if decision == "hide" and not is_confirmed():
        reports.check_open(current_user, report)
        return _report_hide_confirmation(report, form)
    if decision == "hide":
        reports.hide_reported_post(current_user, report, form.reason.data)
    else:
        reports.dismiss_report(current_user, report, form.note.data or "")
    if decision == "dismiss":
        flash(_("通報を却下しました。"), "success")
    else:
        flash(_("メッセージを非表示にしました。") if report.message_id else _("投稿を非公開にしました。"), "success")
    return redirect(url_for("moderation.queue"))


@bp.get("/mail")
def mail():
    """E-mail that could not be delivered after every try, newest first, with a button to try again."""
    failed = list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.state == OutboxState.FAILED)
            .order_by(OutboxMessage.id.desc())
            .limit(200)
        )
    )
    return render_template("moderation/mail.html", failed=failed, action_form=ConfirmActionForm())


@bp.post("/mail/<int:message_id>/retry")
def retry_mail(message_id: int):
    """Put a failed message back in the queue; the worker sends it on its next round."""
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        abort(404)
    if not ConfirmActionForm().validate_on_submit():
        abort(400)
    return carry_out(
        lambda: services.retry_mail(current_user, message),
        _("%(recipient)s へのメールを送信待ちに戻しました。", recipient=message.recipient),
        url_for("moderation.mail"),
    )


@reports_bp.post("/posts/<int:post_id>/report")
@login_required
def report_post(post_id: int):
    """A member reports a post to the moderators."""
    post = post_queries.visible_post_or_404(post_id, current_user)
    form = ReasonForm()
    return carry_out(
        lambda: reports.report_post(current_user, post, form.reason.data),
        _("通報しました。事務局が確認します。"),
        url_for("posts.show", post_id=post.id),
        form=form,
        incomplete=_("通報の理由を入力してください。"),
    )


@reports_bp.post("/conversations/<int:conversation_id>/messages/<int:message_id>/report")
@login_required
def report_message(conversation_id: int, message_id: int):
    """A member reports a message of a conversation to the moderators."""
    conversation = response_queries.visible_conversation_or_404(conversation_id, current_user)
    message = db.session.get(Message, message_id)
    if message is None or message.conversation_id != conversation.id:
        abort(404)
    form = ReasonForm()
    return carry_out(
        lambda: reports.report_message(current_user, message, form.reason.data),
        _("通報しました。事務局が確認します。"),
        url_for("responses.conversation", conversation_id=conversation.id),
        form=form,
        incomplete=_("通報の理由を入力してください。"),
    )
