"""Reports (通報) of posts and messages, and how moderators resolved them."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bulletin.accounts.models import User
from bulletin.core.db import str_enum, utcnow
from bulletin.extensions import Model, db
from bulletin.posts.models import Post
from bulletin.responses.models import Message


class ReportState(enum.StrEnum):
    """A report (通報) and how it was resolved."""

    OPEN = "open"
    DISMISSED = "dismissed"
    ACTIONED = "actioned"


class Report(Model):
    """A member's report of a post that may break the rules; resolved by a moderator."""

    __tablename__ = "report"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int | None] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"), index=True)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[ReportState] = mapped_column(str_enum(ReportState, "report_state"), default=ReportState.OPEN)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    resolution_note: Mapped[str | None] = mapped_column(Text)

    post: Mapped[Post | None] = relationship()
    message: Mapped[Message | None] = relationship()
    reporter: Mapped[User | None] = relationship(foreign_keys=[reporter_id])

    __table_args__ = (
        Index("ix_report_state_created_at", "state", "created_at"),
        db.CheckConstraint("(post_id IS NULL) <> (message_id IS NULL)", name="one_subject"),
    )
