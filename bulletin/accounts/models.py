"""User, Invitation, signed-in sessions, the April review of each organization's staff, and e-mail address changes
awaiting the secretariat."""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import Date, ForeignKey, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bulletin.core.audit import fingerprint
from bulletin.core.db import str_enum, utcnow
from bulletin.core.enums import LabelledStrEnum
from bulletin.extensions import Model, db
from bulletin.organizations.domains import ascii_domain
from bulletin.organizations.models import Membership, Organization


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
    # Kept up to date by the notification services, so the header never counts rows.
    unread_notifications: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # False until the user saves their follows: ward officers then follow every new proposal (the default).
    follows_customized: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    approved_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    # Two-factor sign-in (TOTP, RFC 6238). The secret is trusted from `totp_enabled_at` on; a secret being enrolled
    # waits in `totp_pending_secret` until a code made from it is typed. `totp_last_step` is the time step of the
    # last code accepted: a code is never accepted twice, nor an older one after it.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_pending_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None]
    # Chosen in the April review for someone who leaves at the end of the fiscal year: the account works until this
    # day (Japan time) is over, then `bulletin expire` deactivates it.
    leaves_after: Mapped[date | None] = mapped_column(Date)
    # While suspended: why, since when and by whom (None: by the board itself, for inactivity). Cleared when
    # reinstated; the moderation log and the security log keep every suspension. (No ON DELETE: a moderator's
    # account is never deleted, the moderation log refers to it too.)
    suspension_reason: Mapped[str | None] = mapped_column(db.Text)
    suspended_at: Mapped[datetime | None]
    suspended_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    reinstated_at: Mapped[datetime | None]  # the inactivity clock starts again here
    # When the account was warned that it will be suspended for inactivity; cleared at the next sign-in.
    inactivity_warned_at: Mapped[datetime | None]

    organization: Mapped[Organization | None] = relationship()
    suspended_by: Mapped[User | None] = relationship(remote_side="User.id", foreign_keys=[suspended_by_id])

    __table_args__ = (
        db.CheckConstraint("is_moderator OR organization_id IS NOT NULL", name="member_has_organization"),
        db.CheckConstraint("state IN ('unconfirmed') OR confirmed_at IS NOT NULL", name="confirmed_has_time"),
        db.CheckConstraint("state <> 'rejected' OR rejection_reason IS NOT NULL", name="rejected_has_reason"),
    )

    @property
    def current_session(self) -> UserSession | None:
        """The signed-in session this request runs in (set by the session loader; not a column)."""
        return self.__dict__.get("_current_session")

    @current_session.setter
    def current_session(self, row: UserSession | None) -> None:
        self.__dict__["_current_session"] = row

    def session_id_for_cookie(self) -> str | None:
        """What Flask-Login puts in the cookie (its `id_attribute`): the random id of the session being started,
        never the user's id."""
        return self.__dict__.get("_new_session_id")

    def set_session_id_for_cookie(self, raw: str) -> None:
        """Hand the random id of a new session to Flask-Login's login_user."""
        self.__dict__["_new_session_id"] = raw

    @property
    def is_active(self) -> bool:  # Flask-Login: only active users stay logged in
        return self.state == UserState.ACTIVE

    @property
    def has_two_factor(self) -> bool:
        """Whether sign-in asks this user for a code after the password."""
        return self.totp_enabled_at is not None and self.totp_secret is not None

    @property
    def organization_is_suspended(self) -> bool:
        """The user's organization is suspended: its staff may sign in only to read why (moderators excepted)."""
        return (
            not self.is_moderator
            and self.organization is not None
            and self.organization.membership == Membership.SUSPENDED
        )

    @property
    def is_org_admin(self) -> bool:
        """An organization admin invites colleagues and hands the role on."""
        return self.is_active and self.role == OrgRole.ADMIN and self.organization_id is not None

    @property
    def email_domain(self) -> str:
        """The part of the address after @, as domains are stored (lower case, IDNA)."""
        return ascii_domain(self.email.rsplit("@", 1)[-1])

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


class RecoveryCode(Model):
    """One of a user's single-use recovery codes for two-factor sign-in, stored as the SHA-256 of the code (the
    code has 80 random bits, so no slower hash is needed to keep a copy of the table from revealing it)."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The unique constraint's index, led by user_id, serves every look-up of a user's codes.
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]

    __table_args__ = (db.UniqueConstraint("user_id", "code_hash"),)


class UserSession(Model):
    """One signed-in browser: the cookie holds a random id whose hash is this row's key.

    Deleting the row ends the session wherever its cookie is (logout, suspension, password change); a session also
    ends after an idle time and at an absolute lifetime (SESSION_IDLE_MINUTES, SESSION_MAX_HOURS).
    """

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ip_address: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<UserSession {self.id} of user {self.user_id}>"


class StaffReview(Model):
    """An organization's April review for one fiscal year: when its admins were last reminded, and when (and by whom)
    it confirmed who is still on its staff. The row appears with the first reminder or the confirmation."""

    __tablename__ = "staff_review"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"))
    fiscal_year: Mapped[int] = mapped_column(index=True)
    confirmed_at: Mapped[datetime | None]
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    last_reminded_on: Mapped[date | None] = mapped_column(Date)  # a date in Japan: reminders go once a week
    reminders_sent: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organization: Mapped[Organization] = relationship()
    confirmed_by: Mapped[User | None] = relationship()

    __table_args__ = (
        db.UniqueConstraint("organization_id", "fiscal_year", name="uq_staff_review_organization_id_fiscal_year"),
        db.CheckConstraint("confirmed_by_id IS NULL OR confirmed_at IS NOT NULL", name="confirmer_has_time"),
        db.CheckConstraint("reminders_sent >= 0", name="reminders_not_negative"),
    )

    @property
    def is_confirmed(self) -> bool:
        """Whether the organization has confirmed its staff for the year."""
        return self.confirmed_at is not None


class EmailChangeState(LabelledStrEnum):
    """Where a change of address to a domain the organization has not confirmed stands."""

    PENDING = "pending", _l("事務局の確認待ち")
    APPROVED = "approved", _l("承認")
    REJECTED = "rejected", _l("却下")


class EmailChange(Model):
    """A change of address whose new mailbox its owner has proved, held for a moderator because the new domain is
    not a confirmed one of the user's organization. The user keeps the old address until a moderator approves."""

    __tablename__ = "email_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    old_email: Mapped[str] = mapped_column(String(254))
    new_email: Mapped[str] = mapped_column(String(254))
    state: Mapped[EmailChangeState] = mapped_column(
        str_enum(EmailChangeState, "email_change_state"), default=EmailChangeState.PENDING, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(db.Text)

    user: Mapped[User] = relationship(foreign_keys=[user_id])

    __table_args__ = (
        db.CheckConstraint("state = 'pending' OR decided_at IS NOT NULL", name="decided_has_time"),
        db.CheckConstraint("state <> 'rejected' OR reason IS NOT NULL", name="rejected_has_reason"),
        # One change per user waits at a time (the link opened twice at once makes one row).
        db.Index(
            "uq_email_change_pending_user",
            "user_id",
            unique=True,
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
    )

    @property
    def new_domain(self) -> str:
        """The part of the new address after @."""
        return self.new_email.rsplit("@", 1)[-1].lower()
