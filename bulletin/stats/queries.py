"""Read side of the figures: counts by prefecture and by fiscal year, each in one grouped query whatever the number of
rows (the record's medians read one row per post or decision, and compute in Python)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    Select,
    String,
    case,
    func,
    literal_column,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import aliased

from bulletin.core.audit import ModerationDecision
from bulletin.core.db import UTCDateTime
from bulletin.core.text import fiscal_year_start, start_of_japanese_day
from bulletin.extensions import db
from bulletin.organizations.models import (
    Agreement,
    ExchangeRelation,
    Membership,
    Organization,
    OrganizationKind,
    agreement_member,
)
from bulletin.posts.models import Post, PostState
from bulletin.responses.models import Partnership, Response
from bulletin.responses.queries import case_prefecture_code


def published_posts_by_prefecture() -> dict[str, int]:
    """Published (open) posts by the prefecture of the organization that posted them: what /posts lists."""
    statement = (
        select(Organization.prefecture_code, func.count(Post.id))
        .join(Post.organization)
        .where(Post.state == PostState.PUBLISHED)
        .group_by(Organization.prefecture_code)
    )
    return {str(code): int(count) for code, count in db.session.execute(statement)}


def cases_by_prefecture() -> dict[str, int]:
    """Published partnerships (the public cases) by the prefecture of the municipality's side: what /cases lists."""
    post_organization, partner_organization = aliased(Organization), aliased(Organization)
    prefecture = case_prefecture_code(post_organization, partner_organization)
    statement = (
        select(prefecture, func.count(Partnership.id))
        .join(post_organization, Partnership.post_organization_id == post_organization.id)
        .join(partner_organization, Partnership.partner_organization_id == partner_organization.id)
        .where(Partnership.published_at.is_not(None))
        .group_by(prefecture)
    )
    return {str(code): int(count) for code, count in db.session.execute(statement)}


# --- the record: counts by fiscal year ------------------------------------------------------------------------------


def organization_dates() -> list[tuple[int, OrganizationKind, str, date]]:
    """For each organization, the first day it counts from in each source: `member` (member since; wards, members
    from the start, left out), `agreement` (the earliest agreement covering it) and `exchange` (its earliest exchange
    relation with a ward). One row per organization and source, whatever the number of agreements or relations."""
    members = select(
        Organization.id,
        Organization.kind,
        literal_column("'member'", String).label("source"),
        Organization.member_since,
    ).where(
        Organization.member_since.is_not(None),
        Organization.membership.in_((Membership.MEMBER, Membership.SUSPENDED)),
        Organization.kind != OrganizationKind.SPECIAL_WARD,
    )
    covered = (
        select(
            Organization.id, Organization.kind, literal_column("'agreement'", String), func.min(Agreement.concluded_on)
        )
        .join(agreement_member, agreement_member.c.organization_id == Organization.id)
        .join(Agreement, Agreement.id == agreement_member.c.agreement_id)
        .group_by(Organization.id, Organization.kind)
    )
    partners = (
        select(
            Organization.id,
            Organization.kind,
            literal_column("'exchange'", String),
            func.min(ExchangeRelation.started_on),
        )
        .join(ExchangeRelation, ExchangeRelation.municipality_id == Organization.id)
        .group_by(Organization.id, Organization.kind)
    )
    rows: list[tuple[Any, ...]] = list(db.session.execute(union_all(members, covered, partners)))
    return [(int(org_id), OrganizationKind(kind), str(source), _as_date(day)) for org_id, kind, source, day in rows]


def agreement_dates() -> list[tuple[str, date]]:
    """Each agreement's association name and date, oldest first."""
    statement = (
        select(Organization.name, Agreement.concluded_on)
        .join(Agreement.association)
        .order_by(Agreement.concluded_on, Organization.code)
    )
    return [(str(name), _as_date(day)) for name, day in db.session.execute(statement)]


def activity_counts(years: Sequence[int]) -> list[tuple[str, str, str, int, int]]:
    """(measure, kind, detail, fiscal year, count) for what happens within a fiscal year (April to March, Japan
    time): posts published by kind and category, posts submitted, responses, partnerships agreed, cases published and
    moderation decisions by action; one statement of grouped selects. Anything before the first year counts in it."""

    def grouped(measure: str, column: Any, *where: Any, kind: Any = None, detail: Any = None) -> Select:
        inner = (
            select(
                type_coerce(kind if kind is not None else literal_column("''"), String).label("kind"),
                type_coerce(detail if detail is not None else literal_column("''"), String).label("detail"),
                fiscal_year_case(column, years).label("year"),
            )
            .where(column.is_not(None), *where)
            .subquery()
        )
        return select(
            literal_column(f"'{measure}'", String), inner.c.kind, inner.c.detail, inner.c.year, func.count()
        ).group_by(inner.c.kind, inner.c.detail, inner.c.year)

    statement = union_all(
        grouped("post", Post.published_at, kind=Post.kind, detail=Post.category),
        grouped("submitted", Post.submitted_at),
        grouped("response", Response.created_at),
        grouped("partnership", Partnership.agreed_on),
        grouped("case", Partnership.published_at),
        grouped("decision", ModerationDecision.created_at, kind=ModerationDecision.action),
    )
    rows: list[tuple[Any, ...]] = list(db.session.execute(statement))
    return [
        (str(measure), str(kind or ""), str(detail or ""), int(year), int(count))
        for measure, kind, detail, year, count in rows
    ]


def first_responses() -> list[tuple[datetime, datetime | None]]:
    """For each post ever published: when, and when its first response came (None without one)."""
    statement = (
        select(Post.published_at, func.min(Response.created_at))
        .outerjoin(Response, Response.post_id == Post.id)
        .where(Post.published_at.is_not(None))
        .group_by(Post.id, Post.published_at)
    )
    return [(published, first) for published, first in db.session.execute(statement) if published]


def post_decision_times() -> list[tuple[datetime, datetime]]:
    """For each decision on a submitted post (published or returned): when the post was submitted, when decided."""
    statement = (
        select(Post.submitted_at, ModerationDecision.created_at)
        .join(Post, (ModerationDecision.subject_type == "post") & (ModerationDecision.subject_id == Post.id))
        .where(
            ModerationDecision.action.in_(("approve_post", "reject_post")),
            Post.submitted_at.is_not(None),
            Post.submitted_at <= ModerationDecision.created_at,
        )
    )
    return [(submitted, decided) for submitted, decided in db.session.execute(statement) if submitted]


def fiscal_year_case(column: Any, years: Sequence[int]) -> ColumnElement[int]:
    """The fiscal year of a date or timestamp column among `years` (earlier ones count in the first, later ones in
    the last), written as comparisons with each year's first day: portable, and able to use an index."""
    is_timestamp = _is_timestamp(column)
    whens = []
    for year in years[:-1]:
        boundary: date | datetime = fiscal_year_start(year + 1)
        if is_timestamp:
            boundary = start_of_japanese_day(boundary)
        whens.append((column < boundary, year))
    return case(*whens, else_=years[-1]) if whens else literal_column(str(years[-1]), Integer)


def _is_timestamp(column: Any) -> bool:
    return isinstance(column.type, UTCDateTime | DateTime)


def _as_date(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value
