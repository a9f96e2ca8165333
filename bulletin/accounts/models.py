"""User and Invitation."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bulletin.core.audit import fingerprint
from bulletin.core.db import str_enum, utcnow
from bulletin.core.enums import LabelledStrEnum
from bulletin.extensions import Model, db
from bulletin.organizations.models import Organization


class UserState(LabelledStrEnum):
    """Where an account stands: confirmation, then approval, then use."""

    UNCONFIRMED = "unconfirmed", _l("メール未確認")
    PENDING = "pending", _l("承認待ち")
    ACTIVE = "active", _l("利用中")
    REJECTED = "rejected", _l("却下")
    SUSPENDED = "suspended", _l("停止中")
    DEACTIVATED = "deactivated", _l("無効")


class OrgRole(LabelledStrEnum):
    """A user's role inside their organization."""

    STAFF = "staff", _l("職員")
    ADMIN = "admin", _l("管理者")


# What a moderator is shown of a registration awaiting approval, and so what their decision holds for.
REGISTRATION_DETAILS = ("email", "name", "department", "phone", "organization_id")


class User(UserMixin, Model):
    """A person on an organization's staff (or on the secretariat, as moderator)."""

    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(100))
    department: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(30), default="")
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id"), index=True)
    role: Mapped[OrgRole] = mapped_column(str_enum(OrgRole, "org_role"), default=OrgRole.STAFF)
    is_moderator: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    state: Mapped[UserState] = mapped_column(
        str_enum(UserState, "user_state"), default=UserState.UNCONFIRMED, index=True
    )
    locale: Mapped[str] = mapped_column(String(5), default="ja", server_default="ja")
    rejection_reason: Mapped[str | None] = mapped_column(db.Text)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    session_version: Mapped[int] = mapped_column(default=1, server_default=text("1"))
    # Kept up to date by the notification services, so the header never counts rows.
    unread_notifications: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # False until the user saves their follows: ward officers then follow every new proposal (the default).
    follows_customized: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    approved_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]

    organization: Mapped[Organization | None] = relationship()

    __table_args__ = (
        db.CheckConstraint("is_moderator OR organization_id IS NOT NULL", name="member_has_organization"),
        db.CheckConstraint("state IN ('unconfirmed') OR confirmed_at IS NOT NULL", name="confirmed_has_time"),
        db.CheckConstraint("state <> 'rejected' OR rejection_reason IS NOT NULL", name="rejected_has_reason"),
    )

    def get_id(self) -> str:
        """Session identity: changes when the password changes, which logs out every other session."""
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:  # Flask-Login: only active users stay logged in
        return self.state == UserState.ACTIVE

    @property
    def is_org_admin(self) -> bool:
        """An organization admin invites colleagues and hands the role on."""
        return self.is_active and self.role == OrgRole.ADMIN and self.organization_id is not None

    @property
    def email_domain(self) -> str:
        """The part of the address after @, lower case."""
        return self.email.rsplit("@", 1)[-1].lower()

    def registration_details(self) -> dict:
        """The registration as a moderator reviews it: address, name, department, phone and organization."""
        return {name: getattr(self, name) for name in REGISTRATION_DETAILS}

    @property
    def registration_fingerprint(self) -> str:
        """A fingerprint of the registration's details; a moderator's decision holds only while it is unchanged."""
        return fingerprint(self.registration_details())

    def can_moderate(self) -> bool:
        """Moderators approve members and posts."""
        return self.is_active and self.is_moderator

    def can_invite(self) -> bool:
        """Org admins invite colleagues into their organization."""
        return self.is_org_admin

    def can_manage_member(self, other: User) -> bool:
        """Org admins manage the other accounts of their own organization."""
        return self.is_org_admin and other.organization_id == self.organization_id and other.id != self.id

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class Invitation(Model):
    """An org admin's invitation of a colleague; the link's token is stored only as a hash."""

    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    organization: Mapped[Organization] = relationship()
    invited_by: Mapped[User | None] = relationship(foreign_keys=[invited_by_id])

    def is_usable(self, now: datetime) -> bool:
        """An invitation works once, before it expires."""
        return self.accepted_at is None and self.expires_at > now
