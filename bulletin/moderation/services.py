"""Moderation decisions on members. Each writes its log line in the same transaction as the change."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from bulletin.accounts.email_change import change_address
from bulletin.accounts.models import EmailChange, EmailChangeState, OrgRole, User, UserState
from bulletin.accounts.services import AccountError
from bulletin.core import signals
from bulletin.core.audit import fingerprint, log_decision
from bulletin.core.db import guarded_update, utcnow
from bulletin.core.errors import DomainError, NotTheVersionShown
from bulletin.core.security_events import SecurityEventKind, record_security_event
from bulletin.core.text import today_in_japan
from bulletin.extensions import db
from bulletin.notifications.models import OutboxMessage, OutboxState
from bulletin.organizations.models import OrganizationKind
from bulletin.organizations.services import confirm_domain, make_member


class ModerationError(DomainError):
    """A decision the rules refuse; `message` is shown to the moderator."""


def _require_moderator(actor: User) -> None:
    if not actor.can_moderate():
        raise ModerationError(_l("この操作はモデレーターだけが行えます。"))


def _decide_pending(user: User, seen_fingerprint: str | None, state: UserState, **values) -> str:
    """Move a pending registration on, as the moderator was shown it (`seen_fingerprint`); the fingerprint decided.

    Of two decisions at the same instant, the second is refused. So is a decision on details that changed after the
    moderator's page was drawn, or on details nobody can tell: the update holds only while every detail is still the
    one fingerprinted, so a change landing between the check and the decision cannot slip through either.
    """
    already = ModerationError(_l("この登録はすでに処理されています。"))
    changed = NotTheVersionShown(_l("審査中に登録内容が変わりました。最新の内容を確認してから判断してください。"))
    if user.state != UserState.PENDING:
        raise already
    if not seen_fingerprint:
        raise NotTheVersionShown(
            _l("どの登録内容を確認したかが分からないため、判断できません。承認待ちの画面を開き直してください。")
        )
    shown = user.registration_details()
    if fingerprint(shown) != seen_fingerprint:
        raise changed
    unchanged = [getattr(User, name) == value for name, value in shown.items()]
    if not guarded_update(db.session, user, User.state == UserState.PENDING, *unchanged, state=state, **values):
        raise already if user.state != UserState.PENDING else changed
    return seen_fingerprint


def _organization_has_admin(user: User) -> bool:
    return (
        db.session.scalar(
            select(User.id)
            .where(
                User.organization_id == user.organization_id,
                User.role == OrgRole.ADMIN,
                User.state == UserState.ACTIVE,
                User.id != user.id,
            )
            .limit(1)
        )
        is not None
    )


def approve_user(actor: User, user: User, seen_fingerprint: str | None, confirm_user_domain: bool = False) -> None:
    """Approve a pending registration as the moderator was shown it; the organization becomes a member, and the
    first officer its admin."""
    _require_moderator(actor)
    now = utcnow()
    decided = _decide_pending(user, seen_fingerprint, UserState.ACTIVE, approved_at=now)
    organization = user.organization
    details: dict = {"email": user.email, "fingerprint": decided}
    if organization is not None:
        make_member(organization, today_in_japan())
        if not _organization_has_admin(user):
            user.role = OrgRole.ADMIN
            details["made_admin"] = True
        if confirm_user_domain:
            try:
                confirm_domain(organization, user.email_domain, actor.id)
            except ValueError as error:
                raise ModerationError(_l("このドメインは別の団体のものとして確認済みです。")) from error
            details["confirmed_domain"] = user.email_domain
    log_decision(actor, "approve_user", "user", user.id, _user_label(user), **details)
    db.session.flush()
    signals.user_approved.send(actor, user=user, moderator=actor)


def reject_user(actor: User, user: User, seen_fingerprint: str | None, reason: str) -> None:
    """Reject a pending registration, as the moderator was shown it, with a reason that the applicant is told."""
    _require_moderator(actor)
    reason = reason.strip()
    if not reason:
        raise ModerationError(_l("却下の理由を入力してください。"))
    decided = _decide_pending(user, seen_fingerprint, UserState.REJECTED, rejection_reason=reason)
    log_decision(
        actor, "reject_user", "user", user.id, _user_label(user), reason=reason, email=user.email, fingerprint=decided
    )
    db.session.flush()
    signals.user_rejected.send(actor, user=user, moderator=actor, reason=reason)


def _decide_email_change(actor: User, change: EmailChange, state: EmailChangeState, **values) -> None:
    """Close a change of address waiting for review; of two decisions at the same instant, the second is refused."""
    decided = change.state == EmailChangeState.PENDING and guarded_update(
        db.session,
        change,
        EmailChange.state == EmailChangeState.PENDING,
        state=state,
        decided_at=utcnow(),
        decided_by_id=actor.id,
        **values,
    )
    if not decided:
        raise ModerationError(_l("このメールアドレスの変更はすでに処理されています。"))


def approve_email_change(actor: User, change: EmailChange, confirm_new_domain: bool = False) -> None:
    """Move the account to the address its owner proved, optionally confirming the new domain for the organization
    (so that colleagues moving to it need nobody); the user's sessions end and both addresses are told."""
    _require_moderator(actor)
    user = change.user
    _decide_email_change(actor, change, EmailChangeState.APPROVED)
    if user.state != UserState.ACTIVE or user.email != change.old_email:
        raise ModerationError(_l("この職員のアカウントは変更を申請した時から変わっています。却下してください。"))
    try:
        change_address(user, change.new_email, actor=actor)
    except AccountError as error:
        raise ModerationError(error.message) from error
    details: dict = {"old_email": change.old_email, "new_email": change.new_email}
    if confirm_new_domain and user.organization is not None:
        try:
            confirm_domain(user.organization, change.new_domain, actor.id)
        except ValueError as error:
            raise ModerationError(_l("このドメインは別の団体のものとして確認済みです。")) from error
        record_security_event(
            SecurityEventKind.DOMAIN_CONFIRMED,
            actor=actor,
            organization_id=user.organization_id,
            detail=change.new_domain,
        )
        details["confirmed_domain"] = change.new_domain
    log_decision(actor, "approve_email_change", "user", user.id, _user_label(user), **details)
    db.session.flush()


def reject_email_change(actor: User, change: EmailChange, reason: str) -> None:
    """Refuse a change of address with a reason; the user keeps the old address and both addresses are told."""
    _require_moderator(actor)
    reason = reason.strip()
    if not reason:
        raise ModerationError(_l("却下の理由を入力してください。"))
    _decide_email_change(actor, change, EmailChangeState.REJECTED, reason=reason)
    log_decision(
        actor,
        "reject_email_change",
        "user",
        change.user_id,
        _user_label(change.user),
        reason=reason,
        old_email=change.old_email,
        new_email=change.new_email,
    )
    db.session.flush()
    signals.email_change_rejected.send(actor, change=change, moderator=actor, reason=reason)


def retry_mail(actor: User, message: OutboxMessage) -> None:
    """Put a message that failed for good back in the queue; the worker sends it on its next round."""
    _require_moderator(actor)
    requeued = message.state == OutboxState.FAILED and guarded_update(
        db.session,
        message,
        OutboxMessage.state == OutboxState.FAILED,
        state=OutboxState.PENDING,
        attempts=0,
        next_attempt_at=utcnow(),
        last_error=None,
    )
    if not requeued:
        raise ModerationError(_l("このメールはすでに送信待ちに戻されています。"))
    log_decision(actor, "retry_mail", "mail", message.id, message.recipient)


def _user_label(user: User) -> str:
    organization = user.organization.name if user.organization else "事務局"
    if user.organization and user.organization.kind != OrganizationKind.PREFECTURE:
        organization = user.organization.display_name
    return f"{user.name}（{organization}）"
