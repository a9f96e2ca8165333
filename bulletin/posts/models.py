"""Post, its revisions, attachments, co-proposers, target wards and reports."""

from __future__ import annotations

import enum
from datetime import date, datetime

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Column, Date, ForeignKey, Index, String, Table, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bulletin.accounts.models import User, UserState
from bulletin.core.db import str_enum, utcnow
from bulletin.core.enums import LabelledStrEnum
from bulletin.core.uploads import StoredFile
from bulletin.extensions import Model, db
from bulletin.organizations.models import Membership, Organization
from bulletin.posts.categories import CATEGORIES, category_label


class PostKind(LabelledStrEnum):
    """A proposal goes from a municipality to the wards; a call from a ward to municipalities."""

    PROPOSAL = "proposal", _l("提案")
    CALL = "call", _l("募集")


class PostState(LabelledStrEnum):
    """Where a post stands; the allowed moves are in services.TRANSITIONS."""

    DRAFT = "draft", _l("下書き")
    PENDING = "pending", _l("審査待ち")
    PUBLISHED = "published", _l("公開中")
    REJECTED = "rejected", _l("差し戻し")
    CLOSED = "closed", _l("終了")
    WITHDRAWN = "withdrawn", _l("取り下げ")
    EXPIRED = "expired", _l("期限切れ")
    HIDDEN = "hidden", _l("非公開（事務局）")


PUBLIC_STATES = (PostState.PUBLISHED, PostState.CLOSED, PostState.EXPIRED)
EDITABLE_STATES = (PostState.DRAFT, PostState.PENDING, PostState.REJECTED)


class RevisionState(enum.StrEnum):
    """A pending edit of a published post and the moderator's decision on it."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class CloseReason(LabelledStrEnum):
    """Why the organization closed its published post (stored in Post.closed_reason)."""

    PARTNERED = "partnered", _l("連携が決まった")
    NO_LONGER_SEEKING = "no_longer_seeking", _l("募集をやめた")


class CoProposerState(LabelledStrEnum):
    """An invitation to join a post as co-proposer."""

    INVITED = "invited", _l("招待中")
    ACCEPTED = "accepted", _l("参加")
    DECLINED = "declined", _l("辞退")


post_target_ward = Table(
    "post_target_ward",
    db.metadata,
    Column("post_id", ForeignKey("post.id", ondelete="CASCADE"), primary_key=True),
    Column("organization_id", ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True, index=True),
)

# The fields a revision carries (everything an author writes), in the form's order, each with the label that the
# post form and the moderator's diff show.
CONTENT_FIELDS: dict[str, LazyString] = {
    "title": _l("タイトル"),
    "summary": _l("概要"),
    "offered": _l("提供できること"),
    "sought": _l("求めていること"),
    "body": _l("本文"),
    "category": _l("分野"),
    "tags": _l("タグ"),
    "desired_from": _l("希望時期（から）"),
    "desired_until": _l("希望時期（まで）"),
    "deadline": _l("締切"),
    "venue": _l("会場・実施形態"),
    "cost_sharing": _l("費用負担"),
    "target_ward_codes": _l("対象の区"),
}


class Post(Model):
    """A proposal or a call. It belongs to its organization, not to the officer who wrote it."""

    __tablename__ = "post"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    kind: Mapped[PostKind] = mapped_column(str_enum(PostKind, "post_kind"))
    state: Mapped[PostState] = mapped_column(str_enum(PostState, "post_state"), default=PostState.DRAFT)
    title: Mapped[str] = mapped_column(String(120))
    summary: Mapped[str] = mapped_column(String(400), default="")
    offered: Mapped[str] = mapped_column(Text, default="")
    sought: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(30))
    tags: Mapped[str] = mapped_column(String(300), default="")
    desired_from: Mapped[date | None] = mapped_column(Date)
    desired_until: Mapped[date | None] = mapped_column(Date)
    deadline: Mapped[date | None] = mapped_column(Date, index=True)
    venue: Mapped[str] = mapped_column(String(200), default="")
    cost_sharing: Mapped[str] = mapped_column(Text, default="")
    search_text: Mapped[str] = mapped_column(Text, default="")
    # The same text without dakuten and handakuten: what a search falls back to when the exact form finds nothing.
    search_text_unvoiced: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The folded title and summary: a keyword found there makes a post more relevant (bulletin.posts.search).
    search_head: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The version of what a moderator reads (the author's fields and the attachments): every edit that changes it
    # makes a new one, and a moderator's decision holds only for the version they were shown.
    version: Mapped[int] = mapped_column(default=1, server_default=text("1"))
    moderator_comment: Mapped[str | None] = mapped_column(Text)
    returned_snapshot: Mapped[dict | None] = mapped_column(JSON)
    hidden_reason: Mapped[str | None] = mapped_column(Text)
    hidden_from_state: Mapped[str | None] = mapped_column(String(20))
    closed_reason: Mapped[str | None] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None] = mapped_column(index=True)
    deadline_reminded_at: Mapped[datetime | None]  # the "deadline in 7 days" notice went out

    organization: Mapped[Organization] = relationship()
    created_by: Mapped[User | None] = relationship()
    target_wards: Mapped[list[Organization]] = relationship(secondary=post_target_ward, order_by="Organization.code")
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="post", cascade="all, delete-orphan", order_by="Attachment.id"
    )
    co_proposers: Mapped[list[CoProposer]] = relationship(
        back_populates="post", cascade="all, delete-orphan", order_by="CoProposer.id"
    )
    revisions: Mapped[list[PostRevision]] = relationship(
        back_populates="post", cascade="all, delete-orphan", order_by="PostRevision.id", lazy="raise_on_sql"
    )

    __table_args__ = (
        db.CheckConstraint("state <> 'published' OR published_at IS NOT NULL", name="published_has_time"),
        db.CheckConstraint("state <> 'hidden' OR hidden_reason IS NOT NULL", name="hidden_has_reason"),
        db.CheckConstraint("state <> 'rejected' OR moderator_comment IS NOT NULL", name="rejected_has_comment"),
        db.CheckConstraint(
            "desired_from IS NULL OR desired_until IS NULL OR desired_from <= desired_until", name="period_ordered"
        ),
        db.CheckConstraint(f"category IN ({', '.join(repr(key) for key in CATEGORIES)})", name="known_category"),
        # The list's orders, with and without a category filter: newest first, or the closest deadline first.
        Index("ix_post_state_published_at", "state", "published_at"),
        Index("ix_post_state_category_published_at", "state", "category", "published_at"),
        Index("ix_post_state_deadline", "state", "deadline", "id"),
        Index("ix_post_state_category_deadline", "state", "category", "deadline", "id"),
        # The statistics count published posts of each kind and category in each fiscal year, a range of this index.
        Index("ix_post_kind_category_published_at", "kind", "category", "published_at"),
    )

    @property
    def category_label(self) -> str:
        """The category's label in the current language."""
        return category_label(self.category)

    @property
    def tag_list(self) -> list[str]:
        """Tags as a list."""
        return [tag for tag in self.tags.split(",") if tag]

    @property
    def target_ward_codes(self) -> list[str]:
        """Codes of the targeted wards; empty means all wards."""
        return [ward.code for ward in self.target_wards]

    @property
    def organization_name(self) -> str:
        """The organization's display name, as a post card shows it (bulletin.posts.queries.PostCard)."""
        return self.organization.display_name

    @property
    def co_proposer_names(self) -> tuple[str, ...]:
        """The display names of the organizations that joined the post, as a post card shows them."""
        return tuple(org.display_name for org in self.accepted_co_proposers)

    @property
    def accepted_co_proposers(self) -> list[Organization]:
        """Organizations that joined the post."""
        return [co.organization for co in self.co_proposers if co.state == CoProposerState.ACCEPTED]

    def organization_ids(self) -> set[int]:
        """The owning organization and every accepted co-proposer."""
        return {self.organization_id} | {
            co.organization_id for co in self.co_proposers if co.state == CoProposerState.ACCEPTED
        }

    def content(self) -> dict:
        """The author-written fields as plain JSON values (for revisions, snapshots and diffs)."""
        values = {}
        for field in CONTENT_FIELDS:
            value = getattr(self, field)
            values[field] = value.isoformat() if isinstance(value, date) else value
        return values

    def reviewed(self) -> dict:
        """What a moderator reads of the post: the author's fields and the attached files (each stored anew)."""
        return {"content": self.content(), "attachments": [file.stored_name for file in self.attachments]}

    # --- permissions -------------------------------------------------------------------------------------------

    def belongs_to(self, user: User | None) -> bool:
        """The user is active staff of the post's organization or of an accepted co-proposer."""
        return bool(
            user is not None
            and getattr(user, "is_authenticated", False)
            and user.state == UserState.ACTIVE
            and user.organization_id in self.organization_ids()
        )

    def can_view(self, user: User | None) -> bool:
        """Published, closed and expired posts are for every active member; the rest for the owners and moderators."""
        if user is None or not getattr(user, "is_authenticated", False) or user.state != UserState.ACTIVE:
            return False
        if user.is_moderator:
            return True
        if self.belongs_to(user):
            return True
        return (
            self.state in PUBLIC_STATES
            and user.organization is not None
            and (user.organization.membership == Membership.MEMBER)
        )

    def can_edit(self, user: User | None) -> bool:
        """Owners edit drafts, pending and returned posts directly, and published ones through a revision."""
        return self.belongs_to(user) and self.state in (*EDITABLE_STATES, PostState.PUBLISHED)

    def can_submit(self, user: User | None) -> bool:
        """Owners send a draft or a returned post to review."""
        return self.belongs_to(user) and self.state in (PostState.DRAFT, PostState.REJECTED)

    def is_owned_by(self, user: User | None) -> bool:
        """The user is active staff of the organization that wrote the post (co-proposers edit, but do not
        withdraw or close it). The owning organization is always among the post's, so its co-proposers are not
        read."""
        return bool(
            user is not None
            and getattr(user, "is_authenticated", False)
            and user.state == UserState.ACTIVE
            and user.organization_id == self.organization_id
        )

    def can_withdraw(self, user: User | None) -> bool:
        """The owning organization withdraws a post that is not yet finished."""
        return self.is_owned_by(user) and self.state in (*EDITABLE_STATES, PostState.PUBLISHED)

    def can_close(self, user: User | None) -> bool:
        """The owning organization closes a published post (partnered, or no longer seeking)."""
        return self.is_owned_by(user) and self.state == PostState.PUBLISHED

    def can_invite_co_proposer(self, user: User | None) -> bool:
        """The owning organization invites co-proposers while the post is open."""
        return self.is_owned_by(user) and self.state in (*EDITABLE_STATES, PostState.PUBLISHED)

    def can_report(self, user: User | None) -> bool:
        """Any member other than the owners may report a published post."""
        return self.can_view(user) and not self.belongs_to(user) and self.state in PUBLIC_STATES

    def __repr__(self) -> str:
        return f"<Post {self.id} {self.state} {self.title!r}>"


class PostRevision(Model):
    """An edit of a published post, held until a moderator approves it; the published text stays meanwhile."""

    __tablename__ = "post_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    state: Mapped[RevisionState] = mapped_column(
        str_enum(RevisionState, "revision_state"), default=RevisionState.PENDING
    )
    content: Mapped[dict] = mapped_column(JSON)
    # Each edit that replaces the pending content makes a new version; a decision holds only for the one shown.
    version: Mapped[int] = mapped_column(default=1, server_default=text("1"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    comment: Mapped[str | None] = mapped_column(Text)

    post: Mapped[Post] = relationship(back_populates="revisions")
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])

    __table_args__ = (
        Index(
            "uq_post_revision_one_pending",
            "post_id",
            unique=True,
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
    )


class Attachment(StoredFile, Model):
    """A PDF or image of a post, stored under UPLOAD_DIR with a random name."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"), index=True)

    post: Mapped[Post] = relationship(back_populates="attachments")


class StagedAttachment(StoredFile, Model):
    """A file chosen on the post form that was not saved yet (the form was previewed, or refused): held for its
    uploader under a random token, which the form carries back, until the post is saved (it then becomes one of the
    post's attachments) or it expires (`bulletin expire` deletes it and its file)."""

    __tablename__ = "staged_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    # The owner: only they may use or remove it. (StoredFile's column, here required: a staged file has an owner.)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class CoProposer(Model):
    """Another member organization invited to a joint post; once accepted, its staff edit the post too."""

    __tablename__ = "co_proposer"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    state: Mapped[CoProposerState] = mapped_column(
        str_enum(CoProposerState, "co_proposer_state"), default=CoProposerState.INVITED
    )
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]

    post: Mapped[Post] = relationship(back_populates="co_proposers")
    organization: Mapped[Organization] = relationship()

    __table_args__ = (UniqueConstraint("post_id", "organization_id", name="uq_co_proposer_post_organization"),)
