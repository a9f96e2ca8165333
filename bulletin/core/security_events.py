"""The security log: sign-ins, failed sign-ins, session ends, two-factor changes, suspensions, domain changes.

Moderators read and filter it (/moderation/security); each user sees their own recent sign-ins (/settings/sessions).
A line is written in the transaction of what it records, like the moderation log, and carries the address and
browser of the request when there is one. It sits in core so that every domain (accounts, organizations,
moderation) writes its own lines without importing another.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from flask import has_request_context, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, String, delete
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bulletin.core.db import str_enum, utcnow
from bulletin.core.enums import LabelledStrEnum
from bulletin.extensions import Model, db

if TYPE_CHECKING:
    from bulletin.accounts.models import User


class SecurityEventKind(LabelledStrEnum):
    """What a line of the security log records."""

    LOGIN = "login", _l("ログイン")
    LOGIN_FAILED = "login_failed", _l("ログイン失敗")
    LOGIN_THROTTLED = "login_throttled", _l("ログインの一時制限")
    UNLOCK_SENT = "unlock_sent", _l("制限解除メールの送信")
    UNLOCKED = "unlocked", _l("ログイン制限の解除")
    LOGOUT = "logout", _l("ログアウト")
    SESSION_ENDED = "session_ended", _l("セッションの終了")
    PASSWORD_CHANGED = "password_changed", _l("パスワードの変更")
    EMAIL_CHANGED = "email_changed", _l("メールアドレスの変更")
    TWO_FACTOR_ENABLED = "two_factor_enabled", _l("2段階認証の設定")
    TWO_FACTOR_DISABLED = "two_factor_disabled", _l("2段階認証の解除")
    TWO_FACTOR_FAILED = "two_factor_failed", _l("確認コードの誤り")
    RECOVERY_CODE_USED = "recovery_code_used", _l("リカバリーコードの使用")
    RECOVERY_CODES_RENEWED = "recovery_codes_renewed", _l("リカバリーコードの再発行")
    SUSPENDED = "suspended", _l("利用停止")
    REINSTATED = "reinstated", _l("利用再開")
    DEACTIVATED = "deactivated", _l("アカウントの無効化")
    DOMAIN_CONFIRMED = "domain_confirmed", _l("ドメインの確認")
    DOMAIN_REVOKED = "domain_revoked", _l("ドメインの取り消し")


class SecurityEvent(Model):
    """One line of the security log."""

    __tablename__ = "security_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    kind: Mapped[SecurityEventKind] = mapped_column(str_enum(SecurityEventKind, "security_event_kind"), index=True)
    # Whose account it concerns (None for a failed sign-in with an unknown address: `email` says what was typed).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    # Who did it, when not the user themself (a moderator suspending, an admin deactivating).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id", ondelete="SET NULL"))
    email: Mapped[str] = mapped_column(String(254), default="")
    ip_address: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    detail: Mapped[str] = mapped_column(String(500), default="")

    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])

    # Sign-in throttling counts a typed address's recent failures (bulletin/accounts/throttle.py).
    __table_args__ = (db.Index("ix_security_event_email_created_at", "email", "created_at"),)


def record_security_event(
    kind: SecurityEventKind,
    *,
    user: User | None = None,
    actor: User | None = None,
    organization_id: int | None = None,
    email: str = "",
    detail: str = "",
) -> SecurityEvent:
    """Add a line to the security log in the current transaction."""
    address, browser = "", ""
    if has_request_context():
        address = (request.remote_addr or "")[:45]
        browser = (request.user_agent.string or "")[:255]
    event = SecurityEvent(
        kind=kind,
        user_id=user.id if user is not None else None,
        actor_id=actor.id if actor is not None else None,
        organization_id=organization_id if organization_id is not None else (user.organization_id if user else None),
        email=(email or (user.email if user is not None else ""))[:254],
        ip_address=address,
        user_agent=browser,
        detail=detail[:500],
    )
    db.session.add(event)
    return event


def purge_old_security_events(days: int) -> int:
    """Delete the lines older than `days` (run by `bulletin expire`); how many went."""
    result = db.session.execute(delete(SecurityEvent).where(SecurityEvent.created_at < utcnow() - timedelta(days=days)))
    return result.rowcount or 0  # type: ignore[attr-defined]
