"""Saving, renaming and deleting a member's searches, and finding the saved searches a newly published post matches.

What a search matches has one definition, the post list's (`queries.matching_post_ids`); a post is matched at its
publication with one query per saved search (fine at the board's size: each member keeps at most MAX_PER_USER).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload
from werkzeug.datastructures import MultiDict

from bulletin.accounts.models import User, UserState
from bulletin.core.errors import DomainError
from bulletin.extensions import db
from bulletin.notifications.models import DeliveryMode, NotificationPreference
from bulletin.posts.models import Post
from bulletin.posts.queries import PostFilters, matching_post_ids
from bulletin.saved_searches.models import SavedSearch, SavedSearchMatch

MAX_PER_USER = 20
MATCHED = "saved_search_matched"  # the kind of notification of a new post a saved search matched
# The filters a saved search keeps: the page and the order are how the list is read, not what it asks for.
KEPT = (
    "q", "kind", "category", "prefecture", "ward", "status",
    "desired_from", "desired_to", "deadline_within", "has_attachments", "for_my_ward",
)  # fmt: skip


def filters_of(saved: SavedSearch) -> PostFilters:
    """The list's filters the saved search asks for."""
    return PostFilters.from_args(MultiDict(parse_qsl(saved.query)))


def _query_of(filters: PostFilters) -> str:
    """The filters to keep, as a query string; keywords without control characters (the list ignores them too)."""
    kept = {key: value for key, value in filters.as_args().items() if key in KEPT}
    if "q" in kept:
        kept["q"] = "".join(character for character in kept["q"] if character.isprintable()).strip()
    return urlencode({key: value for key, value in kept.items() if value})


def saved_searches_of(user: User) -> list[SavedSearch]:
    """The user's saved searches, by name."""
    return list(
        db.session.scalars(select(SavedSearch).where(SavedSearch.user_id == user.id).order_by(SavedSearch.name))
    )


def _check_name(user: User, name: str, saved: SavedSearch | None = None) -> str:
    name = name.strip()
    if not name:
        raise DomainError(_l("名前を入力してください。"), field="name")
    taken = select(SavedSearch.id).where(SavedSearch.user_id == user.id, SavedSearch.name == name)
    if saved is not None:
        taken = taken.where(SavedSearch.id != saved.id)
    if db.session.scalar(taken.limit(1)) is not None:
        raise DomainError(_l("同じ名前の保存した検索があります。別の名前にしてください。"), field="name")
    return name


def save_search(actor: User, name: str, filters: PostFilters) -> SavedSearch:
    """Keep the list's current filters under a name; new posts they match are told at once until the user chooses."""
    count = db.session.scalar(select(func.count()).where(SavedSearch.user_id == actor.id))
    if (count or 0) >= MAX_PER_USER:
        raise DomainError(
            _l("保存できる検索は%(n)d件までです。使わないものを削除してください。", n=MAX_PER_USER), field="name"
        )
    saved = SavedSearch(user_id=actor.id, name=_check_name(actor, name), query=_query_of(filters))
    db.session.add(saved)
    db.session.flush()
    return saved


def update_search(actor: User, saved: SavedSearch, name: str, delivery: DeliveryMode) -> None:
    """Rename a saved search and choose how its new posts are told; choosing e-mail again undoes the unsubscribe link
    of a saved search's mail (which stops every saved search's e-mail)."""
    saved.name = _check_name(actor, name, saved)
    saved.delivery = delivery
    if delivery != DeliveryMode.OFF:
        db.session.execute(
            delete(NotificationPreference).where(
                NotificationPreference.user_id == actor.id,
                NotificationPreference.kind == MATCHED,
                NotificationPreference.mode == DeliveryMode.OFF,
            )
        )
    db.session.flush()


def delete_search(actor: User, saved: SavedSearch) -> None:
    """Forget a saved search (and which posts it had matched)."""
    db.session.delete(saved)
    db.session.flush()


def record_matches(post: Post) -> list[SavedSearch]:
    """The saved searches a newly published post matches, each recorded with it; a pair already recorded (the post
    published again, a retry) is left out, so nobody is told twice. Only active owners who may read the post and are
    not of its organizations are considered."""
    candidates = list(
        db.session.scalars(
            select(SavedSearch)
            .join(User, User.id == SavedSearch.user_id)
            .where(
                User.state == UserState.ACTIVE,
                or_(User.organization_id.is_(None), User.organization_id.not_in(post.organization_ids())),
                SavedSearch.id.not_in(
                    select(SavedSearchMatch.saved_search_id).where(SavedSearchMatch.post_id == post.id)
                ),
            )
            .options(joinedload(SavedSearch.user).joinedload(User.organization))
            .order_by(SavedSearch.id)
        )
    )
    matched = [
        saved
        for saved in candidates
        if post.can_view(saved.user) and post.id in matching_post_ids(filters_of(saved), [post.id], viewer=saved.user)
    ]
    if not matched:
        return []
    rows = [{"saved_search_id": saved.id, "post_id": post.id} for saved in matched]
    inserted = set(db.session.scalars(_insert_new(rows), rows))
    return [saved for saved in matched if saved.id in inserted]


def _insert_new(rows: list[dict]):
    """INSERT … ON CONFLICT DO NOTHING RETURNING the saved searches newly recorded (both databases have it)."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(SavedSearchMatch).on_conflict_do_nothing().returning(SavedSearchMatch.saved_search_id)
