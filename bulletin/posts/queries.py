"""Read side of posts: the list with its filters, one post with what its page shows, an organization's posts.

Every page costs a fixed number of queries whatever the number of posts: relations the templates use are
eager-loaded, and the list asks for one row more than a page to know whether another follows; the number of results
is counted over the filtered posts only, never over the whole table.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort
from sqlalchemy import ColumnElement, Select, UnaryExpression, and_, func, or_, select
from sqlalchemy.orm import defer, joinedload, load_only, selectinload

from bulletin.accounts.models import User
from bulletin.core.text import fold
from bulletin.extensions import db
from bulletin.organizations.models import Organization
from bulletin.posts.categories import CATEGORIES
from bulletin.posts.models import (
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
SORTS = ("newest", "deadline")
LIST_STATUSES = {"open": (PostState.PUBLISHED,), "closed": (PostState.CLOSED, PostState.EXPIRED)}


@dataclass
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

    @classmethod
    def from_args(cls, args) -> PostFilters:
        """Parse request.args without ever failing."""
        page = args.get("page", 1, type=int) or 1
        prefecture = args.get("prefecture", "")
        return cls(
            q=args.get("q", "")[:100].strip(),
            kind=args.get("kind", "") if args.get("kind") in {k.value for k in PostKind} else "",
            category=args.get("category", "") if args.get("category") in CATEGORIES else "",
            prefecture=prefecture if prefecture.isdigit() and len(prefecture) == 2 else "",
            ward=args.get("ward", "") if args.get("ward", "").isdigit() else "",
            status=args.get("status", "open") if args.get("status") in LIST_STATUSES else "open",
            sort=args.get("sort", "newest") if args.get("sort") in SORTS else "newest",
            page=min(max(page, 1), 10_000),
        )

    @property
    def is_filtered(self) -> bool:
        """Any condition narrows the list (the sort alone does not)."""
        return bool(self.q or self.kind or self.category or self.prefecture or self.ward or self.status != "open")

    def as_args(self, **changes) -> dict:
        """Query arguments for a link to another page or sort of the same list."""
        values = {**self.__dict__, **changes}
        return {
            key: value
            for key, value in values.items()
            if value not in ("", None)
            and not (key == "page" and value == 1)
            and not (key == "status" and value == "open")
            and not (key == "sort" and value == "newest")
        }


@dataclass
class PostPage:
    """One page of posts and whether more follow; whether the keywords were matched without dakuten and handakuten
    because their exact form matched nothing."""

    items: list[Post]
    page: int
    has_next: bool
    total: int
    ignored_voicing: bool = False
    total_capped: bool = False

    @property
    def has_prev(self) -> bool:
        """Whether a previous page exists."""
        return self.page > 1


# What a list row shows; the long texts stay in the database.
_LIST_COLUMNS = (
    Post.id, Post.organization_id, Post.kind, Post.state, Post.title, Post.summary, Post.category, Post.tags,
    Post.deadline, Post.published_at, Post.updated_at, Post.desired_from, Post.desired_until,
)  # fmt: skip


def _with_list_relations(statement: Select) -> Select:
    return statement.options(
        load_only(*_LIST_COLUMNS),
        joinedload(Post.organization),
        selectinload(Post.co_proposers).joinedload(CoProposer.organization),
    )


def recent_posts(limit: int = 5) -> list[Post]:
    """The newest published posts, for the home page."""
    statement = (
        select(Post)
        .where(Post.state == PostState.PUBLISHED)
        .order_by(Post.published_at.desc(), Post.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(_with_list_relations(statement)).unique())


def list_posts(filters: PostFilters) -> PostPage:
    """Published posts matching the filters, newest first or by closest deadline, 20 a page."""
    statement = select(Post).where(Post.state.in_(LIST_STATUSES[filters.status]))
    if filters.kind:
        statement = statement.where(Post.kind == filters.kind)
    if filters.category:
        statement = statement.where(Post.category == filters.category)
    if filters.prefecture:
        statement = statement.join(Post.organization).where(Organization.prefecture_code == filters.prefecture)
    if filters.ward:
        targeted = (
            select(post_target_ward.c.post_id)
            .join(Organization, Organization.id == post_target_ward.c.organization_id)
            .where(Organization.code == filters.ward)
        )
        untargeted = select(post_target_ward.c.post_id)
        statement = statement.where(
            Post.kind == PostKind.PROPOSAL, or_(Post.id.in_(targeted), Post.id.not_in(untargeted))
        )
    if filters.sort == "deadline":
        # Closing soonest first, among posts that have a deadline (the index gives this order directly).
        statement = statement.where(Post.deadline.is_not(None))
        order: tuple[UnaryExpression, ...] = (Post.deadline.asc(), Post.id.asc())
    else:
        order = (Post.published_at.desc(), Post.id.desc())
    exact, loose = _keyword_conditions(filters.q)
    if exact is not None:
        if loose is not None:
            # The looser match only when the filters leave no exact one, in the same statement; the second column
            # tells which of the two the page shows.
            any_exact = statement.with_only_columns(Post.id).where(exact).correlate(None).exists()
            statement = statement.where(or_(exact, and_(~any_exact, loose)))
        else:
            statement = statement.where(exact)
        statement = statement.add_columns(exact.label("exact_match"))
    # The number of results: a count of the filtered posts' ids, never of the whole table, and at most COUNT_CAP + 1.
    counted = statement.with_only_columns(Post.id).limit(COUNT_CAP + 1)
    total = db.session.scalar(select(func.count()).select_from(counted.subquery())) or 0
    statement = statement.order_by(*order).offset((filters.page - 1) * PER_PAGE).limit(PER_PAGE + 1)
    rows = db.session.execute(_with_list_relations(statement)).unique().all()
    posts = [row[0] for row in rows]
    return PostPage(
        items=posts[:PER_PAGE],
        page=filters.page,
        has_next=len(posts) > PER_PAGE,
        total=min(total, COUNT_CAP),
        ignored_voicing=loose is not None and bool(rows) and not rows[0][1],
        total_capped=total > COUNT_CAP,
    )


# Kana that a voiced one becomes without its dakuten or handakuten (か, は, う…): a keyword without any of them
# matches nothing more when voicing is ignored.
_UNVOICED_FORMS = frozenset(
    fold(chr(code), ignore_voicing=True)
    for code in range(0x3041, 0x30FF)
    if fold(chr(code), ignore_voicing=True) != fold(chr(code))
)


def _keyword_conditions(q: str) -> tuple[ColumnElement[bool] | None, ColumnElement[bool] | None]:
    """Every keyword in the folded text; and every keyword in the text without dakuten and handakuten, when that
    could match more (None otherwise)."""
    words = {word for word in map(fold, q.split()) if word}
    if not words:
        return None, None
    exact = and_(*(Post.search_text.contains(word, autoescape=True) for word in sorted(words)))
    loose_words = sorted({fold(word, ignore_voicing=True) for word in words})
    if not _UNVOICED_FORMS.intersection("".join(loose_words)):
        return exact, None
    return exact, and_(*(Post.search_text_unvoiced.contains(word, autoescape=True) for word in loose_words))


def get_post(post_id: int) -> Post | None:
    """A post with everything its page shows."""
    statement = (
        select(Post)
        .where(Post.id == post_id)
        .options(
            defer(Post.search_text),
            joinedload(Post.organization),
            joinedload(Post.created_by),
            selectinload(Post.target_wards),
            selectinload(Post.attachments),
            selectinload(Post.co_proposers).joinedload(CoProposer.organization),
        )
    )
    return db.session.scalar(statement)


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
    return db.session.scalar(
        select(PostRevision)
        .where(
            PostRevision.post_id == post.id,
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

    items: list[Post]
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
    posts = list(db.session.scalars(_with_list_relations(statement)).unique())
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
