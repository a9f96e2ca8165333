"""Accounts nobody uses are suspended: after INACTIVITY_SUSPEND_MONTHS without a sign-in, and not before a warning
e-mail INACTIVITY_WARNING_DAYS earlier. Run daily by `bulletin expire`; running it twice changes nothing more.

An account's last use is its last sign-in, or, when later, its approval or its reinstatement (a session lives a few
hours at most, so a sign-in is never far behind a use). Signing in clears the warning. The last active moderator is
never warned nor suspended: the board would have nobody left to reinstate anyone.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, or_, select

from bulletin.accounts.models import User, UserState
from bulletin.core import signals
from bulletin.core.db import guarded_update, utcnow
from bulletin.core.errors import DomainError
from bulletin.core.text import JST
from bulletin.extensions import db
from bulletin.moderation.services import other_active_moderators, suspend_user


@dataclass
class InactivityReport:
    """What a run did."""

    warned: int = 0
    suspended: int = 0


def months_before(moment: datetime, months: int) -> datetime:
    """The same time `months` calendar months earlier (the 31st becomes the last day of a shorter month)."""
    month_index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(month_index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def unused_since(cutoff: datetime):
    """The condition of an account not used after `cutoff`."""
    return and_(
        User.created_at <= cutoff,
        *(
            or_(column.is_(None), column <= cutoff)
            for column in (User.last_login_at, User.approved_at, User.reinstated_at)
        ),
    )


def inactivity_reason(months: int) -> str:
    """The reason recorded and told to the user (in Japanese, like every reason a moderator writes)."""
    return f"{months}か月間ログインがなかったため"


def _months_and_days() -> tuple[int, int]:
    return current_app.config["INACTIVITY_SUSPEND_MONTHS"], current_app.config["INACTIVITY_WARNING_DAYS"]


def _sole_moderator(user: User) -> bool:
    return user.is_moderator and not other_active_moderators(user)


def warn_inactive_accounts(now: datetime | None = None) -> int:
    """Warn once each active account that will be unused for the full time within the warning period; how many."""
    months, days = _months_and_days()
    if months <= 0:
        return 0
    now = now or utcnow()
    cutoff = months_before(now, months) + timedelta(days=days)
    suspend_on = (now + timedelta(days=days)).astimezone(JST).date()
    candidates = db.session.scalars(
        select(User)
        .where(User.state == UserState.ACTIVE, User.inactivity_warned_at.is_(None), unused_since(cutoff))
        .order_by(User.id)
    ).all()
    warned = 0
    for user in candidates:
        if _sole_moderator(user):
            continue
        if guarded_update(db.session, user, User.inactivity_warned_at.is_(None), inactivity_warned_at=now):
            signals.inactivity_warning.send(None, user=user, months=months, suspend_on=suspend_on)
            warned += 1
    return warned


def suspend_inactive_accounts(now: datetime | None = None) -> int:
    """Suspend each active account unused for the full time and warned at least the warning period ago; how many."""
    months, days = _months_and_days()
    if months <= 0:
        return 0
    now = now or utcnow()
    candidates = db.session.scalars(
        select(User)
        .where(
            User.state == UserState.ACTIVE,
            User.inactivity_warned_at <= now - timedelta(days=days),
            unused_since(months_before(now, months)),
        )
        .order_by(User.id)
    ).all()
    suspended = 0
    for user in candidates:
        try:
            with db.session.begin_nested():  # the last active moderator is refused: the others go on
                suspend_user(None, user, inactivity_reason(months))
        except DomainError:
            continue
        suspended += 1
    return suspended


def apply_inactivity_rules(now: datetime | None = None) -> InactivityReport:
    """Suspend the accounts whose warning has run out, then warn those whose time comes next."""
    now = now or utcnow()
    return InactivityReport(suspended=suspend_inactive_accounts(now), warned=warn_inactive_accounts(now))
