"""Sign-in throttling that a stranger cannot turn against the account's owner.

Wrong passwords are counted from the security log, per account and address together. The account is the address
typed, so that an address with no account is slowed exactly like one with an account and the answer reveals
nothing. After LOGIN_FREE_TRIES failures from one address, each further try on that account from that address waits
twice as long as the last (LOGIN_DELAY_BASE_SECONDS, doubling, at most LOGIN_DELAY_MAX_SECONDS). Another address is
not slowed by them, so wrong passwords typed anywhere else never keep the owner out. A successful sign-in from the
address, or the owner's unlock link, starts the count again; failures older than LOGIN_FAILURE_WINDOW_MINUTES are
forgotten.

When one account collects LOGIN_ACCOUNT_GUARD failures from all addresses within the window (a guess spread over
many addresses), the right password alone no longer opens it from an address the owner has never signed in
from: the owner is sent an unlock link by e-mail and signs in after opening it. Addresses the owner used before
keep working. Per address, whatever the account, Flask-Limiter counts wrong passwords too (LOGIN_LIMIT_PER_ADDRESS).

Counting in the database keeps the rule the same for every app process, with or without Redis.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, func, or_, select

from bulletin.accounts.models import User
from bulletin.core.db import utcnow
from bulletin.core.security_events import SecurityEvent, SecurityEventKind
from bulletin.extensions import db

KNOWN_ADDRESS_DAYS = 180
# A failed sign-in's detail when the password was wrong (the others: a right password of an account that may not sign
# in, which never counts).
WRONG_PASSWORD = ("password", "unknown")


@dataclass(frozen=True)
class Throttle:
    """What the rules say about a sign-in attempt on one account from one address."""

    wait_seconds: int = 0  # the address must wait this long before trying this account again
    failures: int = 0  # wrong passwords from this address on this account that still count


def _window_start(now: datetime) -> datetime:
    return now - timedelta(minutes=current_app.config["LOGIN_FAILURE_WINDOW_MINUTES"])


def _counting_since(email: str, address: str, now: datetime) -> datetime:
    """The failures that count are those after the window's start, this address's last sign-in and the last unlock."""
    since = _window_start(now)
    resets = select(func.max(SecurityEvent.created_at)).where(
        SecurityEvent.email == email,
        SecurityEvent.created_at > since,
        or_(
            and_(SecurityEvent.kind == SecurityEventKind.LOGIN, SecurityEvent.ip_address == address),
            SecurityEvent.kind == SecurityEventKind.UNLOCKED,
        ),
    )
    last_reset = db.session.scalar(resets)
    return max(since, last_reset) if last_reset is not None else since


def delay_after(failures: int) -> int:
    """The seconds to wait after this many failures from one address on one account."""
    free = current_app.config["LOGIN_FREE_TRIES"]
    if failures < free:
        return 0
    delay = current_app.config["LOGIN_DELAY_BASE_SECONDS"] * 2 ** min(failures - free, 20)
    return int(min(delay, current_app.config["LOGIN_DELAY_MAX_SECONDS"]))


def throttle_for(email: str, address: str) -> Throttle:
    """How long this address must still wait before trying the account of this (normalised) e-mail address again."""
    now = utcnow()
    since = _counting_since(email, address, now)
    failures, last_failure = db.session.execute(
        select(func.count(), func.max(SecurityEvent.created_at)).where(
            SecurityEvent.email == email,
            SecurityEvent.kind == SecurityEventKind.LOGIN_FAILED,
            SecurityEvent.detail.in_(WRONG_PASSWORD),
            SecurityEvent.ip_address == address,
            SecurityEvent.created_at > since,
        )
    ).one()
    if not failures or last_failure is None:
        return Throttle()
    remaining = delay_after(failures) - (now - last_failure).total_seconds()
    return Throttle(wait_seconds=max(0, int(remaining + 0.999)), failures=failures)


def under_attack(user: User) -> bool:
    """Whether the account has collected LOGIN_ACCOUNT_GUARD failures, from all addresses, since the window's start
    and the owner's last unlock."""
    now = utcnow()
    since = _window_start(now)
    last_unlock = db.session.scalar(
        select(func.max(SecurityEvent.created_at)).where(
            SecurityEvent.user_id == user.id,
            SecurityEvent.kind == SecurityEventKind.UNLOCKED,
            SecurityEvent.created_at > since,
        )
    )
    failures = db.session.scalar(
        select(func.count()).where(
            SecurityEvent.email == user.email,
            SecurityEvent.kind == SecurityEventKind.LOGIN_FAILED,
            SecurityEvent.detail.in_(WRONG_PASSWORD),
            SecurityEvent.created_at > (last_unlock or since),
        )
    )
    return (failures or 0) >= current_app.config["LOGIN_ACCOUNT_GUARD"]


def is_known_address(user: User, address: str) -> bool:
    """Whether the owner has signed in from this address in the last KNOWN_ADDRESS_DAYS days."""
    return (
        db.session.scalar(
            select(SecurityEvent.id)
            .where(
                SecurityEvent.user_id == user.id,
                SecurityEvent.kind == SecurityEventKind.LOGIN,
                SecurityEvent.ip_address == address,
                SecurityEvent.created_at > utcnow() - timedelta(days=KNOWN_ADDRESS_DAYS),
            )
            .limit(1)
        )
        is not None
    )


def needs_unlock(user: User, address: str) -> bool:
    """The right password is not enough: the account is under a spread guess and the address is new to it."""
    return under_attack(user) and not is_known_address(user, address)


def last_unlock_id(user: User) -> int:
    """The id of the owner's last unlock (0 if none): an unlock link dies once a newer unlock is recorded."""
    return (
        db.session.scalar(
            select(func.max(SecurityEvent.id)).where(
                SecurityEvent.user_id == user.id, SecurityEvent.kind == SecurityEventKind.UNLOCKED
            )
        )
        or 0
    )
