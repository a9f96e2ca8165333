"""Read side of the figures: counts by prefecture and by fiscal year, each in one grouped query whatever the number of
rows (the record's medians too, taken by the database)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    Select,
    String,
    case,
    column,
    func,
    literal_column,
    select,
    true,
    type_coerce,
    union_all,
    values,
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
from bulletin.posts.categories import CATEGORIES
from bulletin.posts.models import Post, PostKind, PostState
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
    time): posts published by kind and category, responses, partnerships agreed, cases published and
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
        _posts_by_year(years),
        grouped("response", Response.created_at),
        grouped("partnership", Partnership.agreed_on),
        grouped("case", Partnership.published_at),
        grouped("decision", ModerationDecision.created_at, kind=ModerationDecision.action),
    )
    rows: list[tuple[Any, ...]] = list(db.session.execute(statement))
    return [
        (str(measure), str(kind or ""), str(detail or ""), int(year), int(count))
        for measure, kind, detail, year, count in rows
        if count  # the posts' counts come for every kind, category and year, none or not
    ]


def _posts_by_year(years: Sequence[int]) -> Select:
    """Published posts of each kind and category in each fiscal year: every (kind, category) with every year and its
    range of publication times, against which each count is one range of the index on (kind, category,
    published_at), so that every post is visited once in the index and none is sorted or read."""
    bounds = [datetime(1900, 1, 1, tzinfo=UTC)]
    bounds += [start_of_japanese_day(fiscal_year_start(year)) for year in years[1:]]
    bounds += [datetime(9999, 1, 1, tzinfo=UTC)]
    spans = (
        values(column("year", Integer), column("starts", UTCDateTime()), column("ends", UTCDateTime()), name="span")
        .data([(year, bounds[index], bounds[index + 1]) for index, year in enumerate(years)])
        .cte("span")
    )
    sorts = (
        values(column("kind", String), column("category", String), name="sort")
        .data([(kind.value, category) for kind in PostKind for category in CATEGORIES])
        .cte("sort")
    )
    counted = (
        select(func.count())
        .select_from(Post)
        .where(
            Post.kind == sorts.c.kind,
            Post.category == sorts.c.category,
            Post.published_at >= spans.c.starts,
            Post.published_at < spans.c.ends,
        )
        .scalar_subquery()
    )
    return select(literal_column("'post'", String), sorts.c.kind, sorts.c.category, spans.c.year, counted).select_from(
        sorts.join(spans, true())
    )


def response_times(years: Sequence[int]) -> dict[int, tuple[int, float | None]]:
    """For each fiscal year, of the posts published in it: how many have had a response, and the median of the days
    from publication to the first response. One statement: the median is taken by the database (window functions,
    on SQLite and PostgreSQL alike), never by reading one row per post."""
    firsts = select(Response.post_id, func.min(Response.created_at).label("end")).group_by(Response.post_id).subquery()
    answered = (
        select(Post.published_at.label("start"), firsts.c.end)
        .join(firsts, firsts.c.post_id == Post.id)
        .where(Post.published_at.is_not(None))
        .subquery()
    )
    return _medians(answered.c.start, answered.c.end, answered.c.start, years, select_from=answered)


def decision_times(years: Sequence[int]) -> dict[int, tuple[int, float | None]]:
    """For each fiscal year, of the decisions to publish or return a post taken in it: how many, and the median of the
    days from the post's submission to the decision."""
    pairs = (
        select(Post.submitted_at.label("start"), ModerationDecision.created_at.label("end"))
        .join(Post, (ModerationDecision.subject_type == "post") & (ModerationDecision.subject_id == Post.id))
        .where(
            ModerationDecision.action.in_(("approve_post", "reject_post")),
            Post.submitted_at.is_not(None),
            Post.submitted_at <= ModerationDecision.created_at,
        )
        .subquery()
    )
    return _medians(pairs.c.start, pairs.c.end, pairs.c.end, years, select_from=pairs)


def _medians(
    start: Any, end: Any, dated: Any, years: Sequence[int], select_from: Any
) -> dict[int, tuple[int, float | None]]:
    """(count, median days from start to end) by the fiscal year of `dated`, the median being the middle value or
    the mean of the two middle ones."""
    days = _days_between(start, end)
    ranked = (
        select(
            fiscal_year_case(dated, years).label("year"),
            days.label("days"),
            func.row_number().over(partition_by=fiscal_year_case(dated, years), order_by=days).label("rank"),
            func.count().over(partition_by=fiscal_year_case(dated, years)).label("total"),
        )
        .select_from(select_from)
        .subquery()
    )
    middle = ranked.c.rank.in_(((ranked.c.total + 1) // 2, (ranked.c.total + 2) // 2))
    statement = (
        select(ranked.c.year, func.max(ranked.c.total), func.avg(ranked.c.days)).where(middle).group_by(ranked.c.year)
    )
    rows: list[tuple[Any, ...]] = list(db.session.execute(statement))
    return {int(year): (int(total), float(value) if value is not None else None) for year, total, value in rows}


def _days_between(start: Any, end: Any) -> ColumnElement[Any]:
    """The days from one timestamp to another, with their fraction, in the database's own terms."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start) / 86400.0
    return func.julianday(end) - func.julianday(start)


def fiscal_year_case(column: Any, years: Sequence[int]) -> ColumnElement[int]:
    """The fiscal year of a date or timestamp column among `years` (earlier ones count in the first, later ones in
    the last), written as comparisons with each year's first day, newest first as most rows are recent: portable,
    and read from an index where one holds the column."""
    is_timestamp = _is_timestamp(column)
    whens = []
    for year in reversed(years[1:]):
        boundary: date | datetime = fiscal_year_start(year)
        if is_timestamp:
            boundary = start_of_japanese_day(boundary)
        whens.append((column >= boundary, year))
    return case(*whens, else_=years[0]) if whens else literal_column(str(years[0]), Integer)


def _is_timestamp(column: Any) -> bool:
    return isinstance(column.type, UTCDateTime | DateTime)


def _as_date(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value
