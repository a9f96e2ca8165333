"""Telling people: an in-app notification per recipient and, by their preference, an e-mail now or in the daily
digest. Everything is written in the transaction of the event that causes it, in a fixed number of statements
whatever the number of recipients."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, cast

from flask import current_app
from flask_babel import gettext
from sqlalchemy import and_, case, delete, exists, func, insert, or_, select, update
from sqlalchemy.engine import CursorResult

from bulletin.accounts.models import User, UserState
from bulletin.core.db import utcnow
from bulletin.core.urls import absolute_url, path_for
from bulletin.extensions import db
from bulletin.notifications.kinds import (
    KINDS,
    SUBJECT_ENDPOINTS,
    notification_brief,
    notification_subject,
    notification_text,
)
from bulletin.notifications.mail import queue_email, render_email, waiting_with_key
from bulletin.notifications.models import (
    DeliveryMode,
    Follow,
    FollowTarget,
    Notification,
    NotificationPreference,
    OutboxMessage,
)
from bulletin.organizations.models import Membership, Organization, OrganizationKind
from bulletin.posts.recommendations import recommendations_for


def staff_of(organization_ids: Iterable[int]) -> list[User]:
    """Active staff of the organizations (suspended or deactivated accounts and suspended organizations left out)."""
    ids = set(organization_ids)
    if not ids:
        return []
    return list(
        db.session.scalars(
            select(User)
            .join(User.organization)
            .where(
                User.organization_id.in_(ids),
                User.state == UserState.ACTIVE,
                Organization.membership == Membership.MEMBER,
            )
        )
    )


def moderators() -> list[User]:
    """Everyone who moderates and can act now."""
    return list(db.session.scalars(select(User).where(User.is_moderator.is_(True), User.state == UserState.ACTIVE)))


def modes_for(users: list[User], kind: str) -> dict[int, DeliveryMode]:
    """Each user's e-mail delivery for a kind, from their preferences or the kind's default (one query)."""
    default = KINDS[kind].default
    chosen = (
        dict(
            db.session.execute(
                select(NotificationPreference.user_id, NotificationPreference.mode).where(
                    NotificationPreference.kind == kind, NotificationPreference.user_id.in_([u.id for u in users])
                )
            ).all()
        )
        if users
        else {}
    )
    return {user.id: chosen.get(user.id, default) for user in users}


def preferences_of(user: User, kinds: list[str]) -> dict[str, DeliveryMode]:
    """The user's e-mail delivery for each kind (one query)."""
    chosen = dict(
        db.session.execute(
            select(NotificationPreference.kind, NotificationPreference.mode).where(
                NotificationPreference.user_id == user.id
            )
        ).all()
    )
    return {kind: chosen.get(kind, KINDS[kind].default) for kind in kinds}


def notify(
    recipients: Iterable[User],
    kind: str,
    params: dict,
    endpoint: str,
    actor: User | None = None,
    email_template: str = "notification",
    email_context: dict | None = None,
    email_context_for: Callable[[User], dict] | None = None,
    coalesce_as: str | None = None,
    subject: str | None = None,
    mode: DeliveryMode | None = None,
    **url_values,
) -> int:
    """Notify each active recipient once (never the actor of the event); returns how many were told.

    `params` are stored with the notification and kept small: the in-app sentence and the digest's brief read them.
    The e-mail, rendered now and stored in the outbox, uses `email/<email_template>.txt` with `email_context` (the
    event's substance in full) and what `email_context_for` gives for each recipient. A coalesced mail still waiting
    is written anew instead (it then says the latest). `subject` names the queue item of a moderator's notice
    ("post:12"), so that deciding the item reads every moderator's notice of it (`resolve_notices`). `mode`, when
    given, is the e-mail delivery for everyone instead of their preference for the kind (a saved search has its own),
    except for those who turned the kind's e-mail off.
    """
    if endpoint not in SUBJECT_ENDPOINTS:
        raise ValueError(f"{endpoint} does not read its notifications: add it to SUBJECT_ENDPOINTS")
    seen: set[int] = set()
    users = []
    for user in recipients:
        if user.id in seen or user.state != UserState.ACTIVE or (actor is not None and user.id == actor.id):
            continue
        seen.add(user.id)
        users.append(user)
    if not users:
        return 0
    modes = modes_for(users, kind)
    if (
        mode is not None
    ):  # the event's own delivery, unless the user turned this kind's e-mail off (its unsubscribe link)
        modes = {user_id: DeliveryMode.OFF if chosen == DeliveryMode.OFF else mode for user_id, chosen in modes.items()}
    path = path_for(endpoint, **url_values)
    now = utcnow()
    db.session.execute(
        insert(Notification),
        [
            {
                "user_id": user.id,
                "kind": kind,
                "params": params,
                "url": path,
                "subject": subject,
                "created_at": now,
                "digest_pending": modes[user.id] == DeliveryMode.DIGEST,
            }
            for user in users
        ],
    )
    db.session.execute(
        update(User)
        .where(User.id.in_(seen))
        .values(unread_notifications=User.unread_notifications + 1)
        .execution_options(synchronize_session=False)
    )
    keys = {user.id: f"{coalesce_as}:{user.id}" for user in users} if coalesce_as else {}
    waiting = (
        dict(
            db.session.execute(
                select(OutboxMessage.coalesce_key, OutboxMessage.id).where(*waiting_with_key(list(keys.values())))
            ).all()
        )
        if keys
        else {}
    )
    mails, rewritten = [], []
    for user in users:
        db.session.expire(user, ["unread_notifications"])
        if modes[user.id] != DeliveryMode.IMMEDIATE:
            continue
        mail = render_email(
            user,
            kind,
            _Subject(kind, params, user),
            email_template,
            unsubscribable=True,
            coalesce_key=keys.get(user.id),
            coalesce_seconds=current_app.config["MAIL_COALESCE_SECONDS"] if coalesce_as else 0,
            kind_name=kind,
            params=params,
            text_of=notification_text,
            link=absolute_url(endpoint, **url_values),
            **(email_context or {}),
            **(email_context_for(user) if email_context_for else {}),
        )
        waiting_id = waiting.get(keys.get(user.id))
        if waiting_id is None:
            mails.append(mail)
        else:
            rewritten.append({"id": waiting_id, "body": mail["body"]})
    if mails:  # one statement whatever the number of recipients (no RETURNING: nobody needs their ids)
        db.session.execute(insert(OutboxMessage), mails)
    if rewritten:  # one statement too, by primary key
        db.session.execute(update(OutboxMessage), rewritten, execution_options={"synchronize_session": False})
    return len(users)


class _Subject:
    """The notification's e-mail subject, rendered in the recipient's language."""

    def __init__(self, kind: str, params: dict, recipient: User):
        self.kind, self.params, self.recipient = kind, params, recipient

    def __str__(self) -> str:
        return notification_subject(self.kind, self.params, self.recipient)


def resolve_notices(subjects: Iterable[str]) -> None:
    """A moderator decided these queue items: every notice of them is read (and left out of digests to come), and
    the unread counts of the moderators who had them go down, in two statements."""
    names = list(subjects)
    of_them = and_(Notification.subject.in_(names), Notification.read_at.is_(None))
    unread_of_others = (
        select(func.count())
        .select_from(Notification)
        .where(
            Notification.user_id == User.id,
            Notification.read_at.is_(None),
            or_(Notification.subject.is_(None), Notification.subject.not_in(names)),
        )
        .scalar_subquery()
    )
    db.session.execute(
        update(User)
        .where(User.id.in_(select(Notification.user_id).where(of_them)))
        .values(unread_notifications=unread_of_others)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Notification)
        .where(of_them)
        .values(read_at=utcnow(), digest_pending=False)
        .execution_options(synchronize_session=False)
    )


def mark_read(user: User, notification: Notification) -> None:
    """Mark one of the user's notifications read."""
    if notification.user_id != user.id or notification.read_at is not None:
        return
    notification.read_at = utcnow()
    db.session.execute(
        update(User)
        .where(User.id == user.id, User.unread_notifications > 0)
        .values(unread_notifications=User.unread_notifications - 1)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(user, ["unread_notifications"])


def has_unread_for_path(user: User, path: str) -> bool:
    """Whether the user has unread notifications about a page: asked first, so that pages with nothing unread stay
    free of writes."""
    unread_here = select(Notification.id).where(
        Notification.user_id == user.id, Notification.url == path, Notification.read_at.is_(None)
    )
    return db.session.scalar(unread_here.limit(1)) is not None


def mark_read_for_path(user_id: int, path: str) -> int:
    """Mark the user's unread notifications about a page read; returns how many there were."""
    result = cast(
        CursorResult[Any],
        db.session.execute(
            update(Notification)
            .where(Notification.user_id == user_id, Notification.url == path, Notification.read_at.is_(None))
            .values(read_at=utcnow())
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount:
        db.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(
                unread_notifications=case(
                    (User.unread_notifications > result.rowcount, User.unread_notifications - result.rowcount),
                    else_=0,
                )
            )
            .execution_options(synchronize_session=False)
        )
    return result.rowcount


def mark_all_read(user: User) -> None:
    """Mark every notification of the user read."""
    db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(unread_notifications=0)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(user, ["unread_notifications"])


def set_preferences(user: User, modes: dict[str, DeliveryMode]) -> None:
    """Store the user's choices; a choice equal to the default is stored too, so later default changes don't
    override what the user picked."""
    existing = {
        pref.kind: pref
        for pref in db.session.scalars(select(NotificationPreference).where(NotificationPreference.user_id == user.id))
    }
    for kind, mode in modes.items():
        if kind not in KINDS:
            continue
        if kind in existing:
            existing[kind].mode = mode
        else:
            db.session.add(NotificationPreference(user_id=user.id, kind=kind, mode=mode))


def kinds_for(user: User) -> list[str]:
    """The kinds a user can receive: moderator-only kinds for moderators, ward-only kinds for a ward's staff."""
    in_a_ward = user.organization is not None and user.organization.is_ward
    return [
        kind
        for kind, definition in KINDS.items()
        if definition.on_settings_page
        and (user.is_moderator or not definition.moderators_only)
        and (in_a_ward or not definition.wards_only)
    ]


def send_digests() -> int:
    """Send each user with digest items one e-mail of all of them, grouped by kind, with a short おすすめ when there is
    any (two queries a reader); each item goes in exactly one digest and nobody gets an empty one. Returns how many
    digests were queued (the caller commits)."""
    pending = list(
        db.session.scalars(
            select(Notification)
            .where(Notification.digest_pending.is_(True))
            .order_by(Notification.user_id, Notification.id)
        )
    )
    by_user: dict[int, list[Notification]] = {}
    for item in pending:
        by_user.setdefault(item.user_id, []).append(item)
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(by_user)))} if by_user else {}
    sent = 0
    for user_id, items in by_user.items():
        user = users.get(user_id)
        if user is not None and user.state == UserState.ACTIVE:
            groups: dict[str, list[Notification]] = {}
            for item in items:
                groups.setdefault(item.kind, []).append(item)
            queue_email(
                user,
                "digest",
                _DigestSubject(len(items)),
                "digest",
                unsubscribable=True,
                groups=groups,
                recommended=recommendations_for(user),
                kinds=KINDS,
                text_of=notification_text,
                brief_of=notification_brief,
                base_url=absolute_url("main.index").rstrip("/"),
            )
            sent += 1
        for item in items:
            item.digest_pending = False
    return sent


class _DigestSubject:
    def __init__(self, count: int):
        self.count = count

    def __str__(self) -> str:
        return gettext("お知らせのまとめ（%(n)d件）", n=self.count)


def post_audience(post) -> tuple[list[User], list[User]]:
    """Who hears of a newly published post: (officers of the wards it targets, the other side's followers).

    A proposal goes to the wards: the targeted wards' officers at once; every other ward officer who follows
    all new posts (the default until they choose), its category or its organization's prefecture. A call goes
    to the staff of member municipalities and associations who follow all new posts or its category.
    """
    is_proposal = post.kind == "proposal"  # a StrEnum, or the plain value before a reload
    targeted_ids = {ward.id for ward in post.target_wards} if is_proposal else set()
    matches = or_(
        and_(Follow.target == FollowTarget.ALL),
        and_(Follow.target == FollowTarget.CATEGORY, Follow.value == post.category),
        and_(Follow.target == FollowTarget.PREFECTURE, Follow.value == post.organization.prefecture_code),
    )
    follows = exists().where(Follow.user_id == User.id, matches)
    side = (
        (Organization.kind == OrganizationKind.SPECIAL_WARD)
        if is_proposal
        else (Organization.kind != OrganizationKind.SPECIAL_WARD)
    )
    interested = or_(follows, User.follows_customized.is_(False)) if is_proposal else follows
    candidates = list(
        db.session.scalars(
            select(User)
            .join(User.organization)
            .where(
                User.state == UserState.ACTIVE,
                Organization.membership == Membership.MEMBER,
                side,
                User.organization_id.not_in(post.organization_ids()),
                or_(User.organization_id.in_(targeted_ids), interested) if targeted_ids else interested,
            )
        )
    )
    targeted = [user for user in candidates if user.organization_id in targeted_ids]
    followers = [user for user in candidates if user.organization_id not in targeted_ids]
    return targeted, followers


def follows_of(user: User) -> dict[str, set[str]]:
    """The user's follows by target: {"all": {""}, "category": {...}, "prefecture": {...}}."""
    result: dict[str, set[str]] = {target.value: set() for target in FollowTarget}
    for follow in db.session.scalars(select(Follow).where(Follow.user_id == user.id)):
        result[follow.target.value].add(follow.value)
    if (
        not user.follows_customized
        and user.organization is not None
        and (user.organization.kind == OrganizationKind.SPECIAL_WARD)
    ):
        result["all"].add("")
    return result


def set_follows(user: User, follow_all: bool, categories: set[str], prefectures: set[str]) -> None:
    """Replace the user's follows with these choices."""
    db.session.execute(delete(Follow).where(Follow.user_id == user.id))
    rows = [{"user_id": user.id, "target": FollowTarget.ALL, "value": ""}] if follow_all else []
    rows += [{"user_id": user.id, "target": FollowTarget.CATEGORY, "value": key} for key in sorted(categories)]
    rows += [{"user_id": user.id, "target": FollowTarget.PREFECTURE, "value": code} for code in sorted(prefectures)]
    if rows:
        db.session.execute(insert(Follow), rows)
    user.follows_customized = True
