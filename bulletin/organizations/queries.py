"""Read side of the agreements and exchange relations: each list in one statement, with what its page shows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ScalarSelect, func, select
from sqlalchemy.orm import aliased, contains_eager, joinedload, selectinload

from bulletin.extensions import db
from bulletin.organizations.models import Agreement, ExchangeRelation, Organization, agreement_member


def exchange_relations() -> list[ExchangeRelation]:
    """Every exchange relation with its ward and municipality, by ward then municipality code."""
    ward, municipality = aliased(Organization), aliased(Organization)
    statement = (
        select(ExchangeRelation)
        .join(ward, ExchangeRelation.ward_id == ward.id)
        .join(municipality, ExchangeRelation.municipality_id == municipality.id)
        .options(contains_eager(ExchangeRelation.ward.of_type(ward)))
        .options(contains_eager(ExchangeRelation.municipality.of_type(municipality)))
        .order_by(ward.code, municipality.code, ExchangeRelation.kind)
    )
    return list(db.session.scalars(statement))


@dataclass(frozen=True)
class AgreementLine:
    """An agreement as the list shows it: the agreement with its association, and how many members it has."""

    agreement: Agreement
    members: int


def agreements() -> list[AgreementLine]:
    """Every agreement, oldest first, with its association and member count, in one statement."""
    members: ScalarSelect[int] = (
        select(func.count())
        .select_from(agreement_member)
        .where(agreement_member.c.agreement_id == Agreement.id)
        .scalar_subquery()
    )
    statement = (
        select(Agreement, members)
        .join(Agreement.association)
        .options(contains_eager(Agreement.association))
        .order_by(Agreement.concluded_on, Organization.code)
    )
    return [AgreementLine(agreement, int(count)) for agreement, count in db.session.execute(statement)]


def agreement(agreement_id: int) -> Agreement | None:
    """One agreement with its association and its members (in code order)."""
    statement = (
        select(Agreement)
        .where(Agreement.id == agreement_id)
        .options(joinedload(Agreement.association), selectinload(Agreement.members))
    )
    return db.session.scalar(statement)
