"""Reports (通報): a member reports a published post or a message of a conversation; a moderator dismisses the report
or hides what was reported."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from bulletin.accounts.models import User
from bulletin.core import signals
from bulletin.core.audit import log_decision
from bulletin.core.db import guarded_update, utcnow
from bulletin.extensions import db
from bulletin.moderation.models import Report, ReportState
from bulletin.posts.models import Post
from bulletin.posts.services import PostError, hide_post
from bulletin.responses.models import Message


def report_post(actor: User, post: Post, reason: str) -> Report:
    """File a report; it goes to the moderation queue."""
    if not post.can_report(actor):
        raise PostError(_l("この投稿は通報できません。"))
    reason = (reason or "").strip()
    if not reason:
        raise PostError(_l("通報の理由を入力してください。"), field="reason")
    already = db.session.scalar(
        select(Report.id).where(
            Report.post_id == post.id, Report.reporter_id == actor.id, Report.state == ReportState.OPEN
        )
    )
    if already is not None:
        raise PostError(_l("この投稿はすでに通報済みです。事務局が確認します。"), field="reason")
    report = Report(post=post, reporter_id=actor.id, reason=reason)
    db.session.add(report)
    db.session.flush()
    signals.post_reported.send(actor, report=report)
    return report


def report_message(actor: User, message: Message, reason: str) -> Report:
    """Report a message of a conversation the actor takes part in."""
    conversation = message.conversation
    if not conversation.can_view(actor) or actor.is_moderator or message.organization_id == actor.organization_id:
        raise PostError(_l("このメッセージは通報できません。"))
    reason = (reason or "").strip()
    if not reason:
        raise PostError(_l("通報の理由を入力してください。"), field="reason")
    already = db.session.scalar(
        select(Report.id).where(
            Report.message_id == message.id, Report.reporter_id == actor.id, Report.state == ReportState.OPEN
        )
    )
    if already is not None:
        raise PostError(_l("このメッセージはすでに通報済みです。事務局が確認します。"), field="reason")
    report = Report(message=message, reporter_id=actor.id, reason=reason)
    db.session.add(report)
    db.session.flush()
    signals.post_reported.send(actor, report=report)
    return report


def _subject(report: Report) -> tuple[str, int, str]:
    if report.message is not None:
        conversation = report.message.conversation
        return "conversation", conversation.id, conversation.post.title
    assert report.post is not None  # a report is of a message or of a post (a CHECK constraint)
    return "post", report.post.id, report.post.title


def _require_moderator(actor: User) -> None:
    if not actor.can_moderate():
        raise PostError(_l("この操作はモデレーターだけが行えます。"))


def _resolve(actor: User, report: Report, state: ReportState, note: str | None) -> None:
    """Close an open report; of two decisions at the same instant, the second is refused."""
    resolved = report.state == ReportState.OPEN and guarded_update(
        db.session,
        report,
        Report.state == ReportState.OPEN,
        state=state,
        resolved_at=utcnow(),
        resolved_by_id=actor.id,
        resolution_note=note,
    )
    if not resolved:
        raise PostError(_l("この通報はすでに処理されています。"))


def check_open(actor: User, report: Report) -> None:
    """Refuse, before asking for confirmation, a decision on a report that is already closed."""
    _require_moderator(actor)
    if report.state != ReportState.OPEN:
        raise PostError(_l("この通報はすでに処理されています。"))


def dismiss_report(actor: User, report: Report, note: str = "") -> None:
    """Close a report without action."""
    _require_moderator(actor)
    _resolve(actor, report, ReportState.DISMISSED, note.strip() or None)
    log_decision(actor, "dismiss_report", *_subject(report), reason=report.resolution_note, report_id=report.id)
    db.session.flush()
    signals.reports_resolved.send(actor, report_ids=[report.id])


def hide_reported_post(actor: User, report: Report, reason: str) -> None:
    """Hide the reported post, or the reported message; every open report on it is resolved with it."""
    _require_moderator(actor)
    if not (reason or "").strip():
        raise PostError(_l("非公開にする理由を入力してください。"), field="reason")
    _resolve(actor, report, ReportState.ACTIONED, reason.strip())
    if report.message is not None:
        _hide_message(actor, report.message, report, reason)
        return
    assert report.post is not None  # a report is of a message or of a post (a CHECK constraint)
    hide_post(actor, report.post, reason)
    also_open = _open_report_ids(Report.post_id == report.post_id)
    db.session.execute(
        update(Report)
        .where(Report.post_id == report.post_id, Report.state == ReportState.OPEN)
        .values(
            state=ReportState.ACTIONED, resolved_at=utcnow(), resolved_by_id=actor.id, resolution_note=reason.strip()
        )
        .execution_options(synchronize_session="fetch")
    )
    db.session.flush()
    signals.reports_resolved.send(actor, report_ids=[report.id, *also_open])


def _hide_message(actor: User, message: Message, report: Report, reason: str) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise PostError(_l("非公開にする理由を入力してください。"), field="reason")
    message.hidden_at = utcnow()
    message.hidden_reason = reason
    log_decision(actor, "hide_message", *_subject(report), reason=reason, message_id=message.id)
    also_open = _open_report_ids(Report.message_id == message.id)
    db.session.execute(
        update(Report)
        .where(Report.message_id == message.id, Report.state == ReportState.OPEN)
        .values(state=ReportState.ACTIONED, resolved_at=utcnow(), resolved_by_id=actor.id, resolution_note=reason)
        .execution_options(synchronize_session="fetch")
    )
    db.session.flush()
    signals.reports_resolved.send(actor, report_ids=[report.id, *also_open])


def _open_report_ids(of_subject) -> list[int]:
    """The ids of the open reports on a post or a message (closed with the one decided)."""
    return list(db.session.scalars(select(Report.id).where(of_subject, Report.state == ReportState.OPEN)))
