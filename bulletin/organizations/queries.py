"""Read side of the agreements and exchange relations: each list in one statement, with what its page shows."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import aliased, contains_eager

from bulletin.extensions import db
from bulletin.organizations.models import ExchangeRelation, Organization


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
