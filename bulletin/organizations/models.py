"""Organization, its e-mail domains, and broad-area agreements (広域連携協定)."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, Date, Float, ForeignKey, String, Table, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bulletin.core.db import str_enum, utcnow
from bulletin.core.enums import LabelledStrEnum
from bulletin.extensions import Model, db
from bulletin.organizations.data import prefecture_name

if TYPE_CHECKING:
    from bulletin.accounts.models import User


class OrganizationKind(LabelledStrEnum):
    """What sort of body an organization is."""

    PREFECTURE = "prefecture", _l("都道府県")
    CITY = "city", _l("市")
    TOWN = "town", _l("町")
    VILLAGE = "village", _l("村")
    SPECIAL_WARD = "special_ward", _l("特別区")
    ASSOCIATION = "association", _l("町村会・市長会")


class Membership(LabelledStrEnum):
    """Whether an organization takes part in the board."""

    NONE = "none", _l("未登録")
    PENDING = "pending", _l("登録申請中")
    MEMBER = "member", _l("会員")
    SUSPENDED = "suspended", _l("利用停止中")


class Organization(Model):
    """A prefecture, municipality, special ward or municipal association; content belongs to it."""

    __tablename__ = "organization"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(6), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kana: Mapped[str] = mapped_column(String(200), default="")
    search_key: Mapped[str] = mapped_column(String(300), index=True, default="")
    prefecture_code: Mapped[str] = mapped_column(String(2), index=True)
    kind: Mapped[OrganizationKind] = mapped_column(str_enum(OrganizationKind, "organization_kind"))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    membership: Mapped[Membership] = mapped_column(
        str_enum(Membership, "membership"), default=Membership.NONE, server_default=Membership.NONE.value
    )
    member_since: Mapped[date | None] = mapped_column(Date)
    # While suspended: why and since when, and the membership to give back when reinstated. Who decided is in the
    # moderation log.
    suspension_reason: Mapped[str | None] = mapped_column(db.Text)
    suspended_at: Mapped[datetime | None]
    membership_before_suspension: Mapped[Membership | None] = mapped_column(
        str_enum(Membership, "membership_before_suspension", constraint=False)
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    domains: Mapped[list[EmailDomain]] = relationship(
        back_populates="organization", cascade="all, delete-orphan", order_by="EmailDomain.domain"
    )
    agreement: Mapped[Agreement | None] = relationship(
        back_populates="association", foreign_keys="Agreement.association_id"
    )

    __table_args__ = (
        db.CheckConstraint("length(code) = 6", name="code_six_digits"),
        db.CheckConstraint("membership <> 'member' OR member_since IS NOT NULL", name="member_has_since"),
    )

    @property
    def is_ward(self) -> bool:
        """Tokyo's special wards are one side of the board; everyone else is the other."""
        return self.kind == OrganizationKind.SPECIAL_WARD

    @property
    def prefecture_name(self) -> str:
        """The name of the prefecture the organization belongs to."""
        return prefecture_name(self.prefecture_code)

    @property
    def display_name(self) -> str:
        """Name qualified by prefecture where the bare name is ambiguous (e.g. 府中市 in Tokyo and Hiroshima)."""
        return self.display_name_of(self.kind, self.prefecture_code, self.name)

    @staticmethod
    def display_name_of(kind: str, prefecture_code: str, name: str) -> str:
        """The display name from the three columns it is made of (for lists that read columns, not objects)."""
        if kind in (OrganizationKind.PREFECTURE, OrganizationKind.ASSOCIATION):
            return name
        return f"{prefecture_name(prefecture_code)} {name}"

    def confirmed_domains(self) -> set[str]:
        """Domains a moderator has confirmed as this organization's."""
        return {d.domain for d in self.domains if d.is_confirmed}

    def __repr__(self) -> str:
        return f"<Organization {self.code} {self.name}>"


class EmailDomain(Model):
    """An e-mail domain used by an organization's staff; trusted only once a moderator confirms it."""

    __tablename__ = "email_domain"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    is_confirmed: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    confirmed_at: Mapped[datetime | None]
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organization: Mapped[Organization] = relationship(back_populates="domains")
    confirmed_by: Mapped[User | None] = relationship("User", foreign_keys=[confirmed_by_id])

    __table_args__ = (db.CheckConstraint("NOT is_confirmed OR confirmed_at IS NOT NULL", name="confirmed_has_time"),)


agreement_member = Table(
    "agreement_member",
    db.metadata,
    Column("agreement_id", ForeignKey("agreement.id", ondelete="CASCADE"), primary_key=True),
    Column("organization_id", ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Agreement(Model):
    """A broad-area agreement concluded with a municipal association, covering its member municipalities."""

    __tablename__ = "agreement"

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), unique=True)
    concluded_on: Mapped[date] = mapped_column(Date)

    association: Mapped[Organization] = relationship(back_populates="agreement", foreign_keys=[association_id])
    members: Mapped[list[Organization]] = relationship(secondary=agreement_member, order_by="Organization.code")


class ExchangeKind(LabelledStrEnum):
    """What ties a ward to a partner municipality."""

    SISTER_CITY = "sister_city", _l("姉妹都市")
    FRIENDSHIP = "friendship", _l("友好都市")
    DISASTER_AID = "disaster_aid", _l("災害時相互応援協定")
    OTHER = "other", _l("その他の交流")


class ExchangeRelation(Model):
    """An exchange relation (交流自治体): a ward's standing relationship with a municipality, since a date."""

    __tablename__ = "exchange_relation"

    id: Mapped[int] = mapped_column(primary_key=True)
    ward_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    started_on: Mapped[date] = mapped_column(Date)
    kind: Mapped[ExchangeKind] = mapped_column(str_enum(ExchangeKind, "exchange_kind"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ward: Mapped[Organization] = relationship(foreign_keys=[ward_id])
    municipality: Mapped[Organization] = relationship(foreign_keys=[municipality_id])

    __table_args__ = (
        db.UniqueConstraint("ward_id", "municipality_id", "kind", name="uq_exchange_relation_ward_municipality_kind"),
        db.CheckConstraint("ward_id <> municipality_id", name="two_organizations"),
    )
