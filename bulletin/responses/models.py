"""Response, Conversation, Message and its attachments, read markers, Partnership and its photos."""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bulletin.accounts.models import User, UserState
from bulletin.core.db import str_enum, utcnow
from bulletin.core.enums import LabelledStrEnum
from bulletin.core.uploads import StoredFile
from bulletin.extensions import Model, db
from bulletin.organizations.models import Organization
from bulletin.posts.models import Post


class ResponseKind(LabelledStrEnum):
    """What the answering organization says first."""

    INTEREST = "interest", _l("関心があります")
    QUESTION = "question", _l("質問があります")
    OFFER = "offer", _l("具体的に提案します")


class ResponseState(LabelledStrEnum):
    """Whether the post's organization has answered the response."""

    OPEN = "open", _l("回答待ち")
    ACCEPTED = "accepted", _l("受け入れ")
    DECLINED = "declined", _l("お断り")


class Response(Model):
    """The other side's answer to a post; one per organization and post (a database constraint)."""

    __tablename__ = "response"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    kind: Mapped[ResponseKind] = mapped_column(str_enum(ResponseKind, "response_kind"))
    state: Mapped[ResponseState] = mapped_column(str_enum(ResponseState, "response_state"), default=ResponseState.OPEN)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    post: Mapped[Post] = relationship()
    organization: Mapped[Organization] = relationship()
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    conversation: Mapped[Conversation] = relationship(back_populates="response", uselist=False)
    # The partnership its acceptance recorded (read only: accept_response creates it).
    partnership: Mapped[Partnership | None] = relationship(viewonly=True, uselist=False)

    __table_args__ = (
        UniqueConstraint("post_id", "organization_id", name="uq_response_post_organization"),
        db.CheckConstraint("state = 'open' OR decided_at IS NOT NULL", name="decided_has_time"),
    )


class Conversation(Model):
    """The private exchange a response opens between the post's organization and the responding one."""

    __tablename__ = "conversation"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("response.id", ondelete="CASCADE"), unique=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"), index=True)
    post_organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    partner_organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_message_id: Mapped[int | None] = mapped_column()
    message_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))

    response: Mapped[Response] = relationship(back_populates="conversation")
    post: Mapped[Post] = relationship()
    post_organization: Mapped[Organization] = relationship(foreign_keys=[post_organization_id])
    partner_organization: Mapped[Organization] = relationship(foreign_keys=[partner_organization_id])

    __table_args__ = (db.CheckConstraint("post_organization_id <> partner_organization_id", name="two_organizations"),)

    def organization_ids(self) -> set[int]:
        """The two organizations of the conversation."""
        return {self.post_organization_id, self.partner_organization_id}

    def can_view(self, user: User | None) -> bool:
        """Active staff of either organization and moderators; everyone else gets 404."""
        if user is None or not getattr(user, "is_authenticated", False) or user.state != UserState.ACTIVE:
            return False
        return user.is_moderator or user.organization_id in self.organization_ids()

    def can_write(self, user: User | None) -> bool:
        """Both organizations' staff and moderators write in it."""
        return self.can_view(user)


class Message(Model):
    """One message in a conversation."""

    __tablename__ = "message"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    hidden_at: Mapped[datetime | None]
    hidden_reason: Mapped[str | None] = mapped_column(Text)

    author: Mapped[User | None] = relationship()
    conversation: Mapped[Conversation] = relationship()
    organization: Mapped[Organization | None] = relationship()
    attachments: Mapped[list[MessageAttachment]] = relationship(
        back_populates="message", cascade="all, delete-orphan", order_by="MessageAttachment.id"
    )

    __table_args__ = (Index("ix_message_conversation_id_id", "conversation_id", "id"),)


class MessageAttachment(StoredFile, Model):
    """A file sent with a message (企画書, 見積, a photo): for the two organizations and moderators only."""

    __tablename__ = "message_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"), index=True)
    # Office documents have long types ("application/vnd.openxmlformats-officedocument.presentationml.presentation").
    content_type: Mapped[str] = mapped_column(String(100))

    message: Mapped[Message] = relationship(back_populates="attachments")


class ConversationRead(Model):
    """How far a user has read a conversation: messages after `last_read_message_id` are unread."""

    __tablename__ = "conversation_read"

    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), primary_key=True, index=True)
    last_read_message_id: Mapped[int] = mapped_column(default=0)
    read_at: Mapped[datetime] = mapped_column(default=utcnow)


class Partnership(Model):
    """A partnership recorded when a post's organization accepts a response; one per response (a constraint)."""

    __tablename__ = "partnership"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"), index=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("response.id", ondelete="CASCADE"), unique=True)
    post_organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    partner_organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    agreed_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    title: Mapped[str] = mapped_column(String(120), default="")
    held_from: Mapped[date | None] = mapped_column(Date)
    held_until: Mapped[date | None] = mapped_column(Date)
    venue: Mapped[str] = mapped_column(String(200), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    outcome_updated_at: Mapped[datetime | None]
    outcome_updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    post_organization_consent_at: Mapped[datetime | None]
    partner_organization_consent_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None] = mapped_column(index=True)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    post: Mapped[Post] = relationship()
    response: Mapped[Response] = relationship()
    post_organization: Mapped[Organization] = relationship(foreign_keys=[post_organization_id])
    partner_organization: Mapped[Organization] = relationship(foreign_keys=[partner_organization_id])
    photos: Mapped[list[PartnershipPhoto]] = relationship(
        back_populates="partnership", cascade="all, delete-orphan", order_by="PartnershipPhoto.id"
    )

    __table_args__ = (
        db.CheckConstraint(
            "published_at IS NULL OR (post_organization_consent_at IS NOT NULL "
            "AND partner_organization_consent_at IS NOT NULL)",
            name="published_with_both_consents",
        ),
        db.CheckConstraint("held_from IS NULL OR held_until IS NULL OR held_from <= held_until", name="held_ordered"),
    )

    def organization_ids(self) -> set[int]:
        """The two organizations of the partnership."""
        return {self.post_organization_id, self.partner_organization_id}

    def is_case(self) -> bool:
        """Published as a public case."""
        return self.published_at is not None

    def can_view(self, user: User | None) -> bool:
        """Both organizations and moderators see it; a published case is public (at /cases)."""
        if user is None or not getattr(user, "is_authenticated", False) or user.state != UserState.ACTIVE:
            return False
        return user.is_moderator or user.organization_id in self.organization_ids()

    def can_edit_outcome(self, user: User | None) -> bool:
        """Either side fills in the outcome until it is published."""
        return user is not None and self.can_view(user) and not user.is_moderator and self.published_at is None

    def can_consent(self, user: User | None) -> bool:
        """Each side consents separately to publication."""
        return user is not None and self.can_edit_outcome(user) and self.consent_of(user) is None

    def consent_of(self, user: User) -> datetime | None:
        """When the user's side consented, if it has."""
        if user.organization_id == self.post_organization_id:
            return self.post_organization_consent_at
        if user.organization_id == self.partner_organization_id:
            return self.partner_organization_consent_at
        return None

    @property
    def has_both_consents(self) -> bool:
        """Both organizations agreed to publication."""
        return self.post_organization_consent_at is not None and self.partner_organization_consent_at is not None

    @property
    def has_outcome(self) -> bool:
        """The outcome has been filled in enough to be a case."""
        return bool(self.summary and self.held_from)


class PartnershipPhoto(StoredFile, Model):
    """A photo of a partnership's outcome, stored as attachments are (re-encoded, random name)."""

    __tablename__ = "partnership_photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    partnership_id: Mapped[int] = mapped_column(ForeignKey("partnership.id", ondelete="CASCADE"), index=True)
    caption: Mapped[str] = mapped_column(String(200), default="")

    partnership: Mapped[Partnership] = relationship(back_populates="photos")
