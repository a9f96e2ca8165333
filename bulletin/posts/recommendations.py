"""おすすめ: posts a member's organization may want to answer, each with the one reason it is shown (no black box).

The rules, strongest first; a post shown for several says the strongest:

For a ward officer, published proposals
1. that name the ward among their targets               「品川区を対象にした提案です」
2. that a saved search of the officer matched            「保存した検索『かに』に合います」
3. in a category or from a prefecture the officer follows 「フォローしている分野（物産・マルシェ）の提案です」
4. from a municipality covered by the agreement of an association the ward has partnered with
                                                          「過去に連携した北海道町村会の協定の団体からの提案です」
5. from a prefecture the ward has partnered with         「過去に連携した北海道の団体からの提案です」
6. in the category of one of the ward's past partnerships 「過去の連携と同じ分野（物産・マルシェ）です」

For a municipality (or association, or prefecture), published calls
7. in a category of the organization's own posts         「自団体の投稿と同じ分野（物産・マルシェ）の募集です」
   Calls carry no regional restriction today, so every call passes the region rule.

Never shown: the organization's own posts, posts it has already answered, closed or expired ones and those past their
deadline. The ward's past partnerships are read in one query, the candidates with their reasons in one more: the
cost does not grow with the data.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, case, exists, false, func, or_, select
from sqlalchemy.orm import aliased, contains_eager

from bulletin.accounts.models import User
from bulletin.core.text import today_in_japan
from bulletin.extensions import db
from bulletin.notifications.models import Follow, FollowTarget
from bulletin.organizations.data import prefecture_name
from bulletin.organizations.models import Agreement, Organization, OrganizationKind, agreement_member
from bulletin.posts.categories import category_label
from bulletin.posts.models import Post, PostKind, PostState, post_target_ward
from bulletin.responses.models import Partnership, Response
from bulletin.saved_searches.models import SavedSearch, SavedSearchMatch

LIMIT = 5


@dataclass(frozen=True)
class Recommendation:
    """A post and the one line saying why it is recommended (rendered in the reader's language when shown)."""

    post: Post
    reason: object


@dataclass(frozen=True)
class _Partnered:
    """What a ward's past partnerships say: the other sides' prefectures, associations and the posts' categories."""

    prefectures: frozenset[str]
    association_ids: frozenset[int]
    categories: frozenset[str]


def recommendations_for(user: User, limit: int = LIMIT) -> list[Recommendation]:
    """Up to `limit` recommended posts for the user's organization, each with its reason (none without one)."""
    organization = user.organization
    if organization is None:
        return []
    if organization.kind == OrganizationKind.SPECIAL_WARD:
        return _for_ward(user, organization, limit)
    return _for_municipality(organization, limit)


def _open_to(organization_id: int, kind: PostKind) -> list[ColumnElement[bool]]:
    """Published posts of the kind, not the organization's own, not answered by it, not past their deadline."""
    answered = exists().where(Response.post_id == Post.id, Response.organization_id == organization_id)
    return [
        Post.state == PostState.PUBLISHED,
        Post.kind == kind,
        Post.organization_id != organization_id,
        ~answered,
        or_(Post.deadline.is_(None), Post.deadline >= today_in_japan()),
    ]


def _partnered(organization_id: int) -> _Partnered:
    """The ward's past partnerships, from either side (one query)."""
    other_id = case(
        (Partnership.post_organization_id == organization_id, Partnership.partner_organization_id),
        else_=Partnership.post_organization_id,
    )
    rows = db.session.execute(
        select(Organization.id, Organization.kind, Organization.prefecture_code, Post.category)
        .select_from(Partnership)
        .join(Post, Post.id == Partnership.post_id)
        .join(Organization, Organization.id == other_id)
        .where(
            or_(
                Partnership.post_organization_id == organization_id,
                Partnership.partner_organization_id == organization_id,
            )
        )
    ).all()
    return _Partnered(
        prefectures=frozenset(row.prefecture_code for row in rows),
        association_ids=frozenset(row.id for row in rows if row.kind == OrganizationKind.ASSOCIATION),
        categories=frozenset(row.category for row in rows),
    )


def _in(column, values) -> ColumnElement[bool]:
    return column.in_(sorted(values)) if values else false()


def _for_ward(user: User, ward: Organization, limit: int) -> list[Recommendation]:
    partnered = _partnered(ward.id)
    association = aliased(Organization)
    targeted = exists().where(post_target_ward.c.post_id == Post.id, post_target_ward.c.organization_id == ward.id)
    search_name = (
        select(func.min(SavedSearch.name))
        .join(SavedSearchMatch, SavedSearchMatch.saved_search_id == SavedSearch.id)
        .where(SavedSearch.user_id == user.id, SavedSearchMatch.post_id == Post.id)
        .scalar_subquery()
    )
    followed_category = exists().where(
        Follow.user_id == user.id, Follow.target == FollowTarget.CATEGORY, Follow.value == Post.category
    )
    followed_prefecture = exists().where(
        Follow.user_id == user.id,
        Follow.target == FollowTarget.PREFECTURE,
        Follow.value == Organization.prefecture_code,
    )
    association_name = (
        select(func.min(association.name))
        .select_from(Agreement)
        .join(association, association.id == Agreement.association_id)
        .join(agreement_member, agreement_member.c.agreement_id == Agreement.id)
        .where(
            _in(Agreement.association_id, partnered.association_ids),
            agreement_member.c.organization_id == Post.organization_id,
        )
        .scalar_subquery()
    )
    rules = (
        targeted,
        search_name.is_not(None),
        followed_category,
        followed_prefecture,
        association_name.is_not(None),
        _in(Organization.prefecture_code, partnered.prefectures),
        _in(Post.category, partnered.categories),
    )
    strongest = case(*((rule, rank) for rank, rule in enumerate(rules)), else_=len(rules))
    rows = db.session.execute(
        select(Post, strongest.label("rank"), search_name.label("search"), association_name.label("association"))
        .join(Post.organization)
        .options(contains_eager(Post.organization))
        .where(*_open_to(ward.id, PostKind.PROPOSAL), or_(*rules))
        .order_by(strongest, Post.published_at.desc(), Post.id.desc())
        .limit(limit)
    ).all()
    return [Recommendation(row.Post, _ward_reason(row, ward)) for row in rows]


def _ward_reason(row, ward: Organization) -> object:
    """The reason of the strongest rule a proposal met (the rank the query gave it)."""
    post = row.Post
    prefecture = prefecture_name(post.organization.prefecture_code)
    category = category_label(post.category)
    return (
        _l("%(ward)sを対象にした提案です", ward=ward.name),
        _l("保存した検索『%(name)s』に合います", name=row.search),
        _l("フォローしている分野（%(category)s）の提案です", category=category),
        _l("フォローしている%(prefecture)sの団体からの提案です", prefecture=prefecture),
        _l("過去に連携した%(association)sの協定の団体からの提案です", association=row.association),
        _l("過去に連携した%(prefecture)sの団体からの提案です", prefecture=prefecture),
        _l("過去の連携と同じ分野（%(category)s）です", category=category),
    )[row.rank]


def _for_municipality(organization: Organization, limit: int) -> list[Recommendation]:
    own = aliased(Post)
    own_categories = select(own.category).where(own.organization_id == organization.id)
    posts = db.session.scalars(
        select(Post)
        .join(Post.organization)
        .options(contains_eager(Post.organization))
        .where(*_open_to(organization.id, PostKind.CALL), Post.category.in_(own_categories))
        .order_by(Post.published_at.desc(), Post.id.desc())
        .limit(limit)
    )
    return [
        Recommendation(
            post, _l("自団体の投稿と同じ分野（%(category)s）の募集です", category=category_label(post.category))
        )
        for post in posts
    ]
