"""The moderation log: every decision, who, what, when, why, written in the transaction of the change it records.

It sits in core, below the domains whose decisions it records (posts, responses, moderation), so that each of them
writes its own lines without importing another. Rows are never updated or deleted.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, ForeignKey, String, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bulletin.core.db import utcnow
from bulletin.extensions import db

if TYPE_CHECKING:
    from bulletin.accounts.models import User


class ModerationDecision(db.Model):
    """One line of the moderation log."""

    __tablename__ = "moderation_decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="RESTRICT"), index=True)
    action: Mapped[str] = mapped_column(String(40))
    subject_type: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[int]
    subject_label: Mapped[str] = mapped_column(String(300), default="")
    reason: Mapped[str | None] = mapped_column(db.Text)
    details: Mapped[dict] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship()

    __table_args__ = (db.Index("ix_moderation_decision_subject", "subject_type", "subject_id"),)


@event.listens_for(ModerationDecision, "before_update")
@event.listens_for(ModerationDecision, "before_delete")
def _log_is_append_only(mapper, connection, target):
    raise RuntimeError("the moderation log is append-only")


def log_decision(
    actor: User | None,
    action: str,
    subject_type: str,
    subject_id: int,
    subject_label: str = "",
    reason: str | None = None,
    **details,
) -> ModerationDecision:
    """Append one line to the moderation log."""
    decision = ModerationDecision(
        actor_id=actor.id if actor else None,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        subject_label=subject_label[:300],
        reason=reason,
        details=details,
    )
    db.session.add(decision)
    return decision
