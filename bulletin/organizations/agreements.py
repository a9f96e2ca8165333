"""The verbs of broad-area agreements (広域連携協定) and exchange relations (交流自治体): moderators record them; each
change is logged and flushed in the caller's transaction, never committed here."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bulletin.core.audit import DecisionAction, log_decision
from bulletin.core.errors import DomainError
from bulletin.core.text import today_in_japan
from bulletin.extensions import db
from bulletin.organizations.codes import full_code
from bulletin.organizations.models import ExchangeKind, ExchangeRelation, Organization, OrganizationKind

if TYPE_CHECKING:
    from bulletin.accounts.models import User

MUNICIPAL_KINDS = frozenset({OrganizationKind.CITY, OrganizationKind.TOWN, OrganizationKind.VILLAGE})


class AgreementError(DomainError):
    """A change to the agreements or exchange relations that the rules refuse."""


def _require_moderator(actor: User) -> None:
    if not actor.can_moderate():
        raise AgreementError(_l("この操作はモデレーターだけが行えます。"))


def municipality_by_code(text: str, field: str) -> Organization:
    """The city, town or village with this code (five digits or six), or a refusal naming the field."""
    code = full_code(text)
    organization = (
        db.session.scalar(select(Organization).where(Organization.code == code)) if code is not None else None
    )
    if organization is None or organization.kind not in MUNICIPAL_KINDS:
        raise AgreementError(_l("%(code)s は市町村の団体コードではありません。", code=text.strip()), field=field)
    return organization


def _not_in_the_future(day: date, field: str) -> None:
    if day > today_in_japan():
        raise AgreementError(_l("今日より後の日付は登録できません。"), field=field)


def add_exchange_relation(
    actor: User, ward_code: str, municipality_code: str, started_on: date, kind: ExchangeKind
) -> ExchangeRelation:
    """Record that a ward has a standing relationship of this kind with a municipality since a day."""
    _require_moderator(actor)
    ward = db.session.scalar(select(Organization).where(Organization.code == ward_code))
    if ward is None or not ward.is_ward:
        raise AgreementError(_l("特別区を選んでください。"), field="ward")
    municipality = municipality_by_code(municipality_code, "municipality_code")
    _not_in_the_future(started_on, "started_on")
    duplicate = AgreementError(
        _l(
            "%(ward)sと%(municipality)sの%(kind)sはすでに登録されています。",
            ward=ward.name,
            municipality=municipality.display_name,
            kind=kind.label,
        ),
        field="municipality_code",
    )
    relation = ExchangeRelation(ward=ward, municipality=municipality, started_on=started_on, kind=kind)
    try:
        with db.session.begin_nested():  # the same relation sent twice at once: the second is refused
            db.session.add(relation)
            db.session.flush()
    except IntegrityError as error:
        raise duplicate from error
    log_decision(
        actor,
        DecisionAction.ADD_EXCHANGE_RELATION,
        "organization",
        municipality.id,
        f"{ward.name} × {municipality.display_name}",
        ward=ward.code,
        code=municipality.code,
        kind=kind.value,
        started_on=started_on.isoformat(),
    )
    db.session.flush()
    return relation
