"""Signed-in sessions as rows: started at login, checked on every request, ended by logout or by the rules.

The cookie carries only a random id; the database keeps its SHA-256 (a copy of the table opens no session). A
session ends when its row is deleted: at logout, when the user ends it from /settings/sessions, when the password or
the two-factor setting changes (the other sessions), at suspension or deactivation (all of them). It also ends by
itself after SESSION_IDLE_MINUTES without a request and SESSION_MAX_HOURS after sign-in, whichever comes first.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta

from flask import Flask, current_app, g, request, session
from flask_login import current_user, login_user, logout_user
from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.orm import joinedload

from bulletin.accounts.models import User, UserSession, UserState
from bulletin.core.db import utcnow, write_intent
from bulletin.core.security_events import SecurityEventKind, record_security_event
from bulletin.extensions import db

log = logging.getLogger(__name__)

# last_seen_at moves at most this often: a request a minute is enough for an idle timeout counted in hours.
TOUCH_INTERVAL = timedelta(seconds=60)


def hash_session_id(raw: str) -> str:
    """The stored form of a cookie's session id."""
    return hashlib.sha256(raw.encode()).hexdigest()


def _client() -> tuple[str, str]:
    address = (request.remote_addr or "")[:45]
    browser = (request.user_agent.string or "")[:255]
    return address, browser


def idle_limit() -> timedelta:
    """How long a session lives without a request."""
    return timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])


def absolute_limit() -> timedelta:
    """How long a session lives after sign-in, however busy."""
    return timedelta(hours=current_app.config["SESSION_MAX_HOURS"])


def is_expired(row: UserSession, now: datetime) -> bool:
    """Whether a session has passed its idle time or its absolute lifetime."""
    return row.last_seen_at <= now - idle_limit() or row.created_at <= now - absolute_limit()


def start_session(user: User) -> UserSession:
    """Sign the user in on this browser: a new session row and a new cookie (whatever the old cookie held)."""
    raw = secrets.token_urlsafe(32)
    address, browser = _client()
    now = utcnow()
    row = UserSession(
        token_hash=hash_session_id(raw),
        user=user,
        created_at=now,
        last_seen_at=now,
        ip_address=address,
        user_agent=browser,
    )
    db.session.add(row)
    user.last_login_at = now
    user.inactivity_warned_at = None  # in use again: a warning of suspension for inactivity no longer holds
    db.session.execute(  # the user's sessions that ended by themselves go when a new one starts
        delete(UserSession).where(
            UserSession.user_id == user.id,
            or_(UserSession.last_seen_at <= now - idle_limit(), UserSession.created_at <= now - absolute_limit()),
        )
    )
    db.session.flush()
    record_security_event(SecurityEventKind.LOGIN, user=user)
    user.last_login_at = now
    user.inactivity_warned_at = None  # in use again: a warning of suspension for inactivity no longer holds
    session.clear()  # a fresh session: nothing an attacker planted before sign-in survives it
    user.set_session_id_for_cookie(raw)
    user.current_session = row
    login_user(user)
    session.permanent = True
    return row


# Built once: every signed-in request runs it, and building it cost a third of running it.
_SESSION_WITH_USER = (
    select(UserSession)
    .options(joinedload(UserSession.user).joinedload(User.organization))
    .where(UserSession.token_hash == bindparam("token_hash"))
)


def load_session_user(raw: str) -> User | None:
    """The user of the session whose id the cookie holds, with their organization, in one query; None when the
    session has ended (logged out, ended by the rules, idle or too old) or the account may no longer be used."""
    if not raw or len(raw) > 100:
        return None
    row = db.session.scalar(_SESSION_WITH_USER, {"token_hash": hash_session_id(raw)})
    if row is None:
        return None
    now = utcnow()
    if is_expired(row, now) or row.user.state != UserState.ACTIVE:
        return None
    if row.last_seen_at <= now - TOUCH_INTERVAL:
        g.session_to_touch = row.id
    user = row.user
    user.current_session = row
    return user


def end_current_session() -> None:
    """Log out: the session's row goes, so a copy of its cookie opens nothing any more."""
    row = current_user.current_session if current_user.is_authenticated else None
    if row is not None:
        db.session.execute(delete(UserSession).where(UserSession.id == row.id))
        record_security_event(SecurityEventKind.LOGOUT, user=current_user)
    logout_user()
    session.clear()


def end_sessions(user: User, keep: UserSession | None = None, *, actor: User | None = None, why: str = "") -> int:
    """End every session of the user but `keep`, saying why in the security log; how many ended."""
    query = delete(UserSession).where(UserSession.user_id == user.id)
    if keep is not None:
        query = query.where(UserSession.id != keep.id)
    ended = db.session.execute(query).rowcount or 0  # type: ignore[attr-defined]
    if ended:
        record_security_event(SecurityEventKind.SESSION_ENDED, user=user, actor=actor, detail=f"{ended} {why}".strip())
    return ended


def end_session_of(user: User, session_id: int) -> bool:
    """The user ends one of their own other sessions; False when there is no such session of theirs."""
    result = db.session.execute(delete(UserSession).where(UserSession.id == session_id, UserSession.user_id == user.id))
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    record_security_event(SecurityEventKind.SESSION_ENDED, user=user, detail="1 settings")
    return True


def sessions_of(user: User) -> list[UserSession]:
    """The user's sessions that are still open, the most recently used first."""
    now = utcnow()
    return list(
        db.session.scalars(
            select(UserSession)
            .where(
                UserSession.user_id == user.id,
                UserSession.last_seen_at > now - idle_limit(),
                UserSession.created_at > now - absolute_limit(),
            )
            .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
        )
    )


BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari"))
SYSTEMS = (
    ("Windows", "Windows"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def describe_browser(user_agent: str) -> str:
    """A user agent as a person recognises their own browser ("Chrome / Windows"); the full string stays stored."""
    browser = next((name for marker, name in BROWSERS if marker in user_agent), "")
    system = next((name for marker, name in SYSTEMS if marker in user_agent), "")
    return " / ".join(part for part in (browser, system) if part) or user_agent[:60]


def purge_expired() -> int:
    """Delete every session that ended by itself (run by `bulletin expire`); how many went."""
    now = utcnow()
    result = db.session.execute(
        delete(UserSession).where(
            or_(UserSession.last_seen_at <= now - idle_limit(), UserSession.created_at <= now - absolute_limit())
        )
    )
    return result.rowcount or 0  # type: ignore[attr-defined]


def _touch_after_request(response):
    """Move the session's last use forward, in a short transaction of its own after the request's (at most once a
    minute per session); a failure is logged and never costs the user the page."""
    session_id = g.pop("session_to_touch", None)
    if session_id is None:
        return response
    token = write_intent.set(True)
    try:
        db.session.rollback()
        now = utcnow()
        db.session.execute(
            update(UserSession)
            .where(UserSession.id == session_id, UserSession.last_seen_at <= now - TOUCH_INTERVAL)
            .values(last_seen_at=now)
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("the last use of session %s could not be recorded", session_id)
    finally:
        write_intent.reset(token)
    return response


def init_sessions(app: Flask) -> None:
    """Record each session's last use after the request."""
    app.after_request(_touch_after_request)
