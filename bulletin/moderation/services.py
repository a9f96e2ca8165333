"""Moderation decisions on members. Each writes its log line in the same transaction as the change."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from bulletin.accounts.models import OrgRole, User, UserState
from bulletin.core import signals
from bulletin.core.audit import log_decision
from bulletin.core.db import guarded_update, utcnow
from bulletin.core.errors import DomainError
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


def _decide_pending(user: User, state: UserState, **values) -> None:
    """Move a pending registration on; of two decisions at the same instant, the second is refused."""
    decided = user.state == UserState.PENDING and guarded_update(
        db.session, user, User.state == UserState.PENDING, state=state, **values
    )
    if not decided:
        raise ModerationError(_l("この登録はすでに処理されています。"))


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


def approve_user(actor: User, user: User, confirm_user_domain: bool = False) -> None:
    """Approve a pending registration; the organization becomes a member, and the first officer its admin."""
    _require_moderator(actor)
    now = utcnow()
    _decide_pending(user, UserState.ACTIVE, approved_at=now)
    organization = user.organization
    details: dict = {"email": user.email}
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


def reject_user(actor: User, user: User, reason: str) -> None:
    """Reject a pending registration with a reason that the applicant is told."""
    _require_moderator(actor)
    reason = reason.strip()
    if not reason:
        raise ModerationError(_l("却下の理由を入力してください。"))
    _decide_pending(user, UserState.REJECTED, rejection_reason=reason)
    log_decision(actor, "reject_user", "user", user.id, _user_label(user), reason=reason, email=user.email)
    db.session.flush()
    signals.user_rejected.send(actor, user=user, moderator=actor, reason=reason)


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
