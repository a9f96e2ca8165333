"""A member's saved searches and the posts each has matched (so a post is told of once per saved search)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bulletin.accounts.models import User
from bulletin.core.db import str_enum, utcnow
from bulletin.extensions import Model, db
from bulletin.notifications.models import DeliveryMode


class SavedSearch(Model):
    """A search of /posts with its filters, kept by name; new posts it matches are told to its owner by `delivery`."""

    __tablename__ = "saved_search"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # The list's query string without page or sort ("q=かに&category=products"), parsed by PostFilters.from_args.
    query: Mapped[str] = mapped_column(String(500), default="", server_default="")
    delivery: Mapped[DeliveryMode] = mapped_column(
        str_enum(DeliveryMode, "saved_search_delivery"), default=DeliveryMode.IMMEDIATE
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()

    __table_args__ = (db.UniqueConstraint("user_id", "name", name="uq_saved_search_user_name"),)

    def can_manage(self, user: User | None) -> bool:
        """Only its owner sees, renames or deletes a saved search."""
        return user is not None and getattr(user, "is_authenticated", False) and user.id == self.user_id


class SavedSearchMatch(Model):
    """A published post a saved search matched: one row per pair, so a retry or a second publication tells nobody
    twice."""

    __tablename__ = "saved_search_match"

    saved_search_id: Mapped[int] = mapped_column(ForeignKey("saved_search.id", ondelete="CASCADE"), primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
