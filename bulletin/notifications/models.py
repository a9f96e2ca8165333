"""The e-mail outbox: a message is written in the transaction of the event that causes it."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, String, text
from sqlalchemy.orm import Mapped, mapped_column

from bulletin.core.db import str_enum, utcnow
from bulletin.core.enums import LabelledStrEnum
from bulletin.extensions import Model, db


class OutboxState(enum.StrEnum):
    """Delivery state of an outbox message."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


def new_message_id(domain: str) -> str:
    """A globally unique Message-ID, fixed when the message is queued so that a resend carries the same one."""
    return f"<{uuid.uuid4().hex}@{domain}>"


class OutboxMessage(Model):
    """One e-mail to one recipient, waiting for, in, or after delivery."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    recipient: Mapped[str] = mapped_column(String(254))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(50))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(db.Text)
    headers: Mapped[dict] = mapped_column(JSON, default=dict)
    # Messages of one conversation to one person wait a few minutes and are merged into one e-mail.
    coalesce_key: Mapped[str | None] = mapped_column(String(80))
    state: Mapped[OutboxState] = mapped_column(str_enum(OutboxState, "outbox_state"), default=OutboxState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(db.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    __table_args__ = (
        db.Index("ix_outbox_message_due", "state", "next_attempt_at"),
        db.Index("ix_outbox_message_coalesce", "coalesce_key", "state"),
        db.Index("ix_outbox_message_recipient_created_at", "recipient", "created_at"),
        db.CheckConstraint("state <> 'sent' OR sent_at IS NOT NULL", name="sent_has_time"),
        db.CheckConstraint("state <> 'sending' OR lease_until IS NOT NULL", name="sending_has_lease"),
        db.CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    )


class DeliveryMode(LabelledStrEnum):
    """How a user wants a kind of notification by e-mail (in the app they always see it)."""

    IMMEDIATE = "immediate", _l("すぐにメール")
    DIGEST = "digest", _l("1日1回のまとめ")
    OFF = "off", _l("メールしない")


class Notification(Model):
    """An in-app item for one recipient; its text is rendered in the reader's language from `kind` and `params`."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    url: Mapped[str] = mapped_column(String(300))
    # The queue item a moderator's notice is about ("post:12", "report:3"): once any moderator has decided it, every
    # moderator's notice of it is read.
    subject: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
    digest_pending: Mapped[bool] = mapped_column(default=False, server_default=text("false"))

    __table_args__ = (
        db.Index("ix_notification_user_id_id", "user_id", "id"),
        db.Index("ix_notification_digest_pending", "digest_pending", "user_id"),
        db.Index("ix_notification_subject", "subject"),
    )


class NotificationPreference(Model):
    """A user's choice for one kind of notification; kinds without a row use their default."""

    __tablename__ = "notification_preference"

    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    mode: Mapped[DeliveryMode] = mapped_column(str_enum(DeliveryMode, "delivery_mode"))


class FollowTarget(enum.StrEnum):
    """What a user follows among the other side's new posts."""

    ALL = "all"
    CATEGORY = "category"
    PREFECTURE = "prefecture"


class Follow(Model):
    """A user's interest in new posts of the other side: all of them, a category, or a prefecture."""

    __tablename__ = "follow"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    target: Mapped[FollowTarget] = mapped_column(str_enum(FollowTarget, "follow_target"))
    value: Mapped[str] = mapped_column(String(30), default="", server_default="")

    __table_args__ = (
        db.UniqueConstraint("user_id", "target", "value", name="uq_follow_user_target_value"),
        db.Index("ix_follow_target_value", "target", "value"),
    )
