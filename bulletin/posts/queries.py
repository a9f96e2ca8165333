"""Read side of posts: the list with its filters, one post with what its page shows, an organization's posts.

Every page costs a fixed number of queries whatever the number of posts: relations the templates use are
eager-loaded, and the list asks for one row more than a page to know whether another follows; the number of results
is counted over the filtered posts only, never over the whole table.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from flask import abort
from sqlalchemy import ColumnElement, ScalarSelect, Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import aliased, defer, joinedload, selectinload

from bulletin.accounts.models import User
from bulletin.core.text import today_in_japan
from bulletin.extensions import db
from bulletin.organizations.codes import is_valid_code
from bulletin.organizations.models import Organization
from bulletin.posts import search
from bulletin.posts.categories import CATEGORIES
from bulletin.posts.models import (
    Attachment,
    CoProposer,
    CoProposerState,
    Post,
    PostKind,
    PostRevision,
    PostState,
    RevisionState,
    post_target_ward,
)

PER_PAGE = 20
# The list says how many posts match up to this many, and "more than" beyond: counting stays an index range scan of
# bounded length however many posts there are.
COUNT_CAP = 1000
SORTS = ("newest", "deadline", "relevance")
LIST_STATUSES = {"open": (PostState.PUBLISHED,), "closed": (PostState.CLOSED, PostState.EXPIRED)}
DEADLINE_WITHIN = (7, 14, 30)  # the choices of 「締切まで」, in days


def _iso_date(value: str | None) -> str:
    """The value if it is a date written YYYY-MM-DD, else ""."""
    try:
        return date.fromisoformat(value or "").isoformat()
    except ValueError:
        return ""


@dataclass(frozen=True)
class PostFilters:
    """The query string of /posts, checked: unknown values fall back to no filter."""

    q: str = ""
    kind: str = ""
    category: str = ""
    prefecture: str = ""
    ward: str = ""
    status: str = "open"
    sort: str = "newest"
    page: int = 1
    desired_from: str = ""  # YYYY-MM-DD: posts whose desired period overlaps from…
    desired_to: str = ""  # …to
    deadline_within: int = 0  # days from today (Japan), one of DEADLINE_WITHIN
    has_attachments: bool = False
    for_my_ward: bool = False  # proposals addressed to the viewer's ward (or to every ward); for ward staff
    organization: str = ""  # an organization's code: the posts it wrote or co-proposes (an agreement's page links)

    @classmethod
    def from_args(cls, args) -> PostFilters:
        """Parse request.args without ever failing."""
        page = args.get("page", 1, type=int) or 1
        prefecture = args.get("prefecture", "")
        deadline_within = args.get("deadline_within", 0, type=int)
        return cls(
            q=args.get("q", "")[:100].strip(),
            kind=args.get("kind", "") if args.get("kind") in {k.value for k in PostKind} else "",
            category=args.get("category", "") if args.get("category") in CATEGORIES else "",
            prefecture=prefecture if prefecture.isdigit() and len(prefecture) == 2 else "",
            ward=args.get("ward", "") if args.get("ward", "").isdigit() else "",
            status=args.get("status", "open") if args.get("status") in LIST_STATUSES else "open",
            sort=args.get("sort", "newest") if args.get("sort") in SORTS else "newest",
            page=min(max(page, 1), 10_000),
            desired_from=_iso_date(args.get("desired_from")),
            desired_to=_iso_date(args.get("desired_to")),
            deadline_within=deadline_within if deadline_within in DEADLINE_WITHIN else 0,
            has_attachments=args.get("has_attachments") == "1",
            for_my_ward=args.get("for_my_ward") == "1",
            organization=args.get("organization", "") if is_valid_code(args.get("organization", "")) else "",
        )

    @property
    def is_filtered(self) -> bool:
        """Any condition narrows the list (the sort alone does not)."""
        return bool(
            self.q or self.kind or self.category or self.prefecture or self.ward or self.status != "open"
            or self.desired_from or self.desired_to or self.deadline_within or self.has_attachments
            or self.for_my_ward or self.organization
        )  # fmt: skip

    def as_args(self, **changes) -> dict:
        """Query arguments for a link to another page or sort of the same list (a ticked box as 1)."""
        values = {**self.__dict__, **changes}
        return {
            key: (1 if value is True else value)
            for key, value in values.items()
            if value not in ("", None, False, 0)
            and not (key == "page" and value == 1)
            and not (key == "status" and value == "open")
            and not (key == "sort" and value == "newest")
        }


@dataclass
class PostPage:
    """One page of posts and whether more follow; whether the keywords were matched without dakuten and handakuten
    because their exact form matched nothing; the folded keywords a card highlights."""

    items: list[PostCard]
    page: int
    has_next: bool
    total: int
    ignored_voicing: bool = False
    highlighted: tuple[str, ...] = ()
    total_capped: bool = False

    @property
    def has_prev(self) -> bool:
        """Whether a previous page exists."""
        return self.page > 1


# What a list row shows; the long texts stay in the database.
@dataclass(frozen=True, slots=True)
class PostCard:
    """A post as a list's card shows it, read as plain columns: a list builds no ORM objects (building twenty posts
    with their organizations cost more than querying them). `Post` answers the same names, so a card can show
    either."""

    id: int
    kind: PostKind
    state: PostState
    category: str
    title: str
    summary: str
    deadline: date | None
    published_at: datetime | None
    organization_name: str
    co_proposer_names: tuple[str, ...] = ()
    body: str = ""


_Owner = aliased(Organization)  # the post's organization as the cards read it, apart from any join of the filters
_CARD_COLUMNS = (
    Post.id, Post.kind, Post.state, Post.category, Post.title, Post.summary, Post.deadline, Post.published_at,
    _Owner.kind, _Owner.prefecture_code, _Owner.name,
)  # fmt: skip


# The accepted co-proposers of a page's posts (built once: every list runs it).
_CO_PROPOSER_NAMES = (
    select(CoProposer.post_id, Organization.kind, Organization.prefecture_code, Organization.name)
    .join(Organization, Organization.id == CoProposer.organization_id)
    .where(CoProposer.post_id.in_(bindparam("ids", expanding=True)), CoProposer.state == CoProposerState.ACCEPTED)
    .order_by(CoProposer.id)
)


def _card_statement(statement: Select, *, with_body: bool = False) -> Select:
    """The statement selecting the cards' columns of the posts the statement selects."""
    columns = (*_CARD_COLUMNS, *([Post.body] if with_body else []))
    return statement.with_only_columns(*columns).join(_Owner, _Owner.id == Post.organization_id)


def _cards(statement: Select, *, with_body: bool = False, params: dict | None = None) -> list[PostCard]:
    """The cards of the posts the statement (made by _card_statement) selects, in its order: one query, and one for
    the names of the accepted co-proposers (always, so that a page costs the same whoever joined its posts)."""
    rows: list[Any] = list(db.session.execute(statement, params))  # by name (the post's), by position (the owner's)
    if not rows:
        return []
    names: dict[int, list[str]] = {}
    for post_id, kind, prefecture_code, name in db.session.execute(
        _CO_PROPOSER_NAMES, {"ids": [row[0] for row in rows]}
    ):
        names.setdefault(post_id, []).append(Organization.display_name_of(kind, prefecture_code, name))
    return [
        PostCard(
            row.id,
            row.kind,
            row.state,
            row.category,
            row.title,
            row.summary,
            row.deadline,
            row.published_at,
            organization_name=Organization.display_name_of(row[8], row[9], row[10]),
            co_proposer_names=tuple(names.get(row.id, ())),
            body=row.body if with_body else "",
        )
        for row in rows
    ]


def recent_posts(limit: int = 5) -> list[PostCard]:
    """The newest published posts, for the home page."""
    statement = (
        select(Post)
        .where(Post.state == PostState.PUBLISHED)
        .order_by(Post.published_at.desc(), Post.id.desc())
        .limit(limit)
    )
    return _cards(_card_statement(statement))


def _for_ward(ward: ColumnElement[bool]) -> ColumnElement[bool]:
    """Proposals addressed to the ward the condition on Organization names, or to every ward (no target)."""
    targeted = (
        select(post_target_ward.c.post_id)
        .join(Organization, Organization.id == post_target_ward.c.organization_id)
        .where(ward)
    )
    untargeted = select(post_target_ward.c.post_id)
    return and_(Post.kind == PostKind.PROPOSAL, or_(Post.id.in_(targeted), Post.id.not_in(untargeted)))


def _period_and_attachment_conditions(filters: PostFilters, today: date | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.desired_from or filters.desired_to:
        # The desired period overlaps the one asked for; a post without any period has none to overlap.
        conditions.append(or_(Post.desired_from.is_not(None), Post.desired_until.is_not(None)))
        if filters.desired_from:
            conditions.append(
                or_(Post.desired_until.is_(None), Post.desired_until >= date.fromisoformat(filters.desired_from))
            )
        if filters.desired_to:
            conditions.append(
                or_(Post.desired_from.is_(None), Post.desired_from <= date.fromisoformat(filters.desired_to))
            )
    if filters.deadline_within:
        today = today or today_in_japan()
        conditions.append(Post.deadline.between(today, today + timedelta(days=filters.deadline_within)))
    if filters.has_attachments:
        conditions.append(select(Attachment.id).where(Attachment.post_id == Post.id).exists())
    return conditions


def _count(statement: Select) -> ScalarSelect:
    """The number of posts the statement selects, up to COUNT_CAP + 1, as a subquery."""
    counted = statement.with_only_columns(Post.id).limit(COUNT_CAP + 1)
    return select(func.count()).select_from(counted.subquery()).scalar_subquery()


def _ward_of(viewer: User | None) -> int | None:
    """The id of the viewer's ward, for 「自区あて」; None for anyone but ward staff."""
    if viewer is None or viewer.organization is None or not viewer.organization.is_ward:
        return None
    return viewer.organization_id


def _filtered(
    filters: PostFilters, my_ward_id: int | None, query: search.Query, dialect: str, today: date | None = None
) -> Select:
    """Posts in the filters' status, kind, category, prefecture, ward, period, deadline and attachments, narrowed by
    the keywords' index where the database has one (the keywords themselves apart)."""
    statement = select(Post).where(search.broad(Post.state.in_(LIST_STATUSES[filters.status]), query, dialect))
    if filters.kind:
        statement = statement.where(Post.kind == filters.kind)
    if filters.category:
        statement = statement.where(Post.category == filters.category)
    if filters.prefecture:
        statement = statement.join(Post.organization).where(Organization.prefecture_code == filters.prefecture)
    if filters.ward:
        statement = statement.where(_for_ward(Organization.code == filters.ward))
    if filters.for_my_ward and my_ward_id is not None:
        statement = statement.where(_for_ward(Organization.id == my_ward_id))
    if filters.organization:
        statement = statement.where(_of_organization(filters.organization))
    return statement.where(*_period_and_attachment_conditions(filters, today))


def _of_organization(code: str) -> ColumnElement[bool]:
    """Posts the organization with this code wrote, or co-proposes (having accepted)."""
    organization_id = select(Organization.id).where(Organization.code == code).scalar_subquery()
    co_proposed = select(CoProposer.post_id).where(
        CoProposer.organization_id == organization_id, CoProposer.state == CoProposerState.ACCEPTED
    )
    return or_(Post.organization_id == organization_id, Post.id.in_(co_proposed))


def matching_post_ids(filters: PostFilters, post_ids: list[int], viewer: User | None = None) -> set[int]:
    """Which of these posts the list would show for the filters, in one query: the list's own conditions, its keywords
    in their exact form (a saved search is told of what it asked for, not of the looser match)."""
    if not post_ids:
        return set()
    query = search.parse(filters.q)
    dialect = db.session.get_bind().dialect.name
    statement = _filtered(filters, _ward_of(viewer), query, dialect).with_only_columns(Post.id)
    statement = statement.where(Post.id.in_(post_ids))
    exact, _loose = search.conditions(query, dialect)
    if exact is not None:
        statement = statement.where(exact)
    return set(db.session.scalars(statement))


@dataclass(frozen=True)
class _ListPlan:
    """The statements of one list's filters: both counts in one, and the page of cards with the exact match and, when
    the keywords have dakuten or handakuten, the looser one (the page's offset a parameter)."""

    counts: Select
    exact: Select
    loose: Select | None
    highlighted: tuple[str, ...]
    unvoiced: tuple[str, ...]
    with_body: bool


@lru_cache(maxsize=256)
def _list_plan(filters: PostFilters, my_ward_id: int | None, dialect: str, today: date | None) -> _ListPlan:
    """The statements for the filters (any page), built once and kept: building them cost more than running them.
    Statements hold no data, only the filters' values, so a kept one is what building it anew would give."""
    query = search.parse(filters.q)
    statement = _filtered(filters, my_ward_id, query, dialect, today)
    if filters.sort == "deadline":
        # Closing soonest first, among posts that have a deadline (the index gives this order directly).
        statement = statement.where(Post.deadline.is_not(None))
        order: tuple[ColumnElement, ...] = (Post.deadline.asc(), Post.id.asc())
    elif filters.sort == "relevance" and query.include:
        order = (search.relevance(query).desc(), Post.published_at.desc(), Post.id.desc())
    else:
        order = (Post.published_at.desc(), Post.id.desc())
    exact, loose = search.conditions(query, dialect)
    # The number of results: a count of the filtered posts' ids, never of the whole table. The looser match only
    # when the filters leave no exact one: both are counted in the one statement, and the page says which it shows.
    searched = statement if exact is None else statement.where(exact)
    loosened = None if loose is None else statement.where(loose)
    counts = select(_count(searched), *([] if loosened is None else [_count(loosened)]))
    # With keywords, the body too: a card shows where a keyword is found in it when the summary has none.
    with_body = bool(query.include)

    def page_of(chosen: Select) -> Select:
        paged = chosen.order_by(*order).offset(bindparam("offset")).limit(PER_PAGE + 1)
        return _card_statement(paged, with_body=with_body)

    return _ListPlan(
        counts=counts,
        exact=page_of(searched),
        loose=None if loosened is None else page_of(loosened),
        highlighted=query.include,
        unvoiced=query.unvoiced,
        with_body=with_body,
    )


def list_posts(filters: PostFilters, viewer: User | None = None) -> PostPage:
    """Published posts matching the filters, newest first, by closest deadline or by relevance, 20 a page. The viewer
    (when given) is the ward that 「自区あて」 means; for anyone else that filter is ignored."""
    plan = _list_plan(
        replace(filters, page=1),
        _ward_of(viewer) if filters.for_my_ward else None,
        db.session.get_bind().dialect.name,
        today_in_japan() if filters.deadline_within else None,
    )
    row = db.session.execute(plan.counts).one()
    total: int = row[0] or 0
    loose_total: int = row[1] if len(row) > 1 else 0
    ignored_voicing = plan.loose is not None and not total and loose_total > 0
    chosen = plan.exact
    if plan.loose is not None and ignored_voicing:
        chosen, total = plan.loose, loose_total
    offset = {"offset": (filters.page - 1) * PER_PAGE}
    posts = _cards(chosen, with_body=plan.with_body, params=offset) if total else []
    return PostPage(
        items=posts[:PER_PAGE],
        page=filters.page,
        has_next=len(posts) > PER_PAGE,
        total=min(total, COUNT_CAP),
        ignored_voicing=ignored_voicing,
        highlighted=plan.unvoiced if ignored_voicing else plan.highlighted,
        total_capped=total > COUNT_CAP,
    )


def get_post(post_id: int) -> Post | None:
    """A post with everything its page shows."""
    return db.session.scalar(_POST_PAGE, {"post_id": post_id})


# Built once, the post as a parameter: building the statement with its options cost more than running it.
_POST_PAGE = (
    select(Post)
    .where(Post.id == bindparam("post_id"))
    .options(
        defer(Post.search_text),
        joinedload(Post.organization),
        joinedload(Post.created_by),
        selectinload(Post.target_wards),
        selectinload(Post.attachments),
        selectinload(Post.co_proposers).joinedload(CoProposer.organization),
    )
)


def visible_post_or_404(post_id: int, user: User) -> Post:
    """The post with everything its page shows, if the user may see it; anything else is 404, so that a hidden post
    is not even confirmed to exist."""
    post = get_post(post_id)
    if post is None or not post.can_view(user):
        abort(404)
    return post


def pending_revision(post: Post) -> PostRevision | None:
    """The edit of a published post awaiting review, if any."""
    return db.session.scalar(
        select(PostRevision).where(PostRevision.post_id == post.id, PostRevision.state == RevisionState.PENDING)
    )


def revision_told_to_owners(post: Post) -> PostRevision | None:
    """The edit of the published post its organizations read about beside it, in one query: the one awaiting review,
    else the last one a moderator decided (a refused one shows its reason until a later edit is decided)."""
    return db.session.scalar(_REVISION_TOLD_TO_OWNERS, {"post_id": post.id})


_REVISION_TOLD_TO_OWNERS = (
    select(PostRevision)
    .where(
        PostRevision.post_id == bindparam("post_id"),
        or_(PostRevision.state == RevisionState.PENDING, PostRevision.decided_by_id.is_not(None)),
    )
    .order_by(
        (PostRevision.state == RevisionState.PENDING).desc(),
        PostRevision.decided_at.desc(),
        PostRevision.id.desc(),
    )
    .limit(1)
)


@dataclass
class OwnPostPage:
    """One page of the organization's own posts, 20 a page."""

    items: list[PostCard]
    page: int
    has_next: bool


def organization_posts(user: User, page: int = 1) -> OwnPostPage:
    """A page of the posts of the user's organization (and those it co-proposes), in every state, newest first."""
    co_posts = select(CoProposer.post_id).where(
        CoProposer.organization_id == user.organization_id, CoProposer.state == CoProposerState.ACCEPTED
    )
    statement = select(Post).where(or_(Post.organization_id == user.organization_id, Post.id.in_(co_posts)))
    statement = statement.order_by(Post.updated_at.desc(), Post.id.desc())
    statement = statement.offset((page - 1) * PER_PAGE).limit(PER_PAGE + 1)
    posts = _cards(_card_statement(statement))
    return OwnPostPage(posts[:PER_PAGE], page, len(posts) > PER_PAGE)


def co_proposal_invitations(user: User) -> list[CoProposer]:
    """Invitations to co-propose awaiting the user's organization."""
    return list(
        db.session.scalars(
            select(CoProposer)
            .where(CoProposer.organization_id == user.organization_id, CoProposer.state == CoProposerState.INVITED)
            .options(joinedload(CoProposer.post).joinedload(Post.organization))
            .order_by(CoProposer.id)
        )
    )
