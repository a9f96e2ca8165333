"""Account verbs: register, confirm, authenticate, reset, invite, manage colleagues. None of them commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bulletin.accounts import throttle, tokens
from bulletin.accounts.models import Invitation, OrgRole, User, UserSession, UserState
from bulletin.accounts.passwords import hash_password, needs_rehash, spend_verification_time, verify_password
from bulletin.accounts.sessions import end_sessions
from bulletin.core import signals
from bulletin.core.db import guarded_update, utcnow
from bulletin.core.errors import DomainError
from bulletin.core.security_events import SecurityEvent, SecurityEventKind, record_security_event
from bulletin.extensions import db
from bulletin.organizations.models import Membership, Organization


class AccountError(DomainError):
    """A request the rules refuse; `message` is shown to the user."""


def normalise_email(email: str) -> str:
    """Addresses are compared case-insensitively: stored lower-case."""
    return email.strip().lower()


def get_user_by_email(email: str) -> User | None:
    """The user with this address, if any."""
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


@dataclass
class Registration:
    """The details a person gives when registering."""

    email: str
    password: str
    name: str
    department: str
    phone: str
    organization: Organization
    invitation: Invitation | None = None
    locale: str = "ja"


def find_invitation(token: str) -> Invitation | None:
    """The usable invitation behind a token, or None."""
    if not token:
        return None
    invitation = db.session.scalar(
        select(Invitation).where(Invitation.token_hash == tokens.hash_invitation_token(token))
    )
    if invitation is None or not invitation.is_usable(utcnow()):
        return None
    return invitation


def register(details: Registration) -> User | None:
    """Create an unconfirmed account and send the confirmation link.

    If the address is already registered nothing is created: its owner is told by e-mail instead, and the
    caller shows the same page as for a new registration, so that the form never reveals who is registered.
    """
    email = normalise_email(details.email)
    existing = get_user_by_email(email)
    if existing is not None:
        hash_password(details.password)  # the same time as a new registration: the answer reveals nothing
        signals.registration_attempt_on_existing.send(None, user=existing)
        return None
    organization = details.organization
    if details.invitation is not None and (
        details.invitation.organization_id != organization.id or normalise_email(details.invitation.email) != email
    ):
        raise AccountError(_l("招待されたメールアドレスと団体で登録してください。"), field="email")
    password_hash = hash_password(details.password)
    try:
        with db.session.begin_nested():  # the same new address sent twice at the same instant: the second is a no-op
            user = User(
                email=email,
                password_hash=password_hash,
                name=details.name,
                department=details.department,
                phone=details.phone,
                organization=organization,
                role=OrgRole.STAFF,
                state=UserState.UNCONFIRMED,
                locale=details.locale,
                invited_by_id=details.invitation.invited_by_id if details.invitation else None,
            )
            db.session.add(user)
            if organization.membership == Membership.NONE:
                organization.membership = Membership.PENDING
            db.session.flush()
    except IntegrityError:
        return None
    if details.invitation is not None:
        details.invitation.accepted_at = utcnow()
        details.invitation.accepted_by_id = user.id
    signals.user_registered.send(None, user=user, token=tokens.make_confirmation_token(user))
    return user


def is_trusted_without_review(user: User) -> bool:
    """An officer needs no moderator when their domain is confirmed for their organization or they were invited
    (unless the organization is suspended).

    A domain is never trusted for ending in .lg.jp alone.
    """
    if user.organization is None or user.organization.membership == Membership.SUSPENDED:
        return False
    if user.invited_by_id is not None:
        return True
    return user.organization.membership == Membership.MEMBER and user.email_domain in (
        user.organization.confirmed_domains()
    )


def confirm_email(token: str) -> User:
    """Mark the address behind a confirmation link as confirmed; raises TokenError for a bad or used link."""
    user_id, email_fingerprint = tokens.load_confirmation_token(token)
    user = db.session.get(User, user_id)
    if user is None or not tokens.fingerprint_matches(user.email, email_fingerprint):
        raise tokens.TokenError("invalid")
    if user.state != UserState.UNCONFIRMED:
        raise tokens.TokenError("used")
    now = utcnow()
    trusted = is_trusted_without_review(user)
    confirmed = guarded_update(
        db.session,
        user,
        User.state == UserState.UNCONFIRMED,  # the link opened twice at the same instant confirms once
        confirmed_at=now,
        state=UserState.ACTIVE if trusted else UserState.PENDING,
        approved_at=now if trusted else None,
    )
    if not confirmed:
        raise tokens.TokenError("used")
    signals.user_confirmed.send(None, user=user, awaiting_approval=user.state == UserState.PENDING)
    return user


class LoginRefused(Exception):
    """Login did not succeed; `reason` is one of bad_credentials, throttled (`wait_seconds` says how long),
    unlock_sent, unconfirmed, pending, rejected, suspended, deactivated."""

    def __init__(self, reason: str, wait_seconds: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.wait_seconds = wait_seconds


def _wrong_password(email: str, user: User | None, address: str) -> None:
    """Record a wrong password; note in the log when it is the one after which this address starts to wait."""
    detail = throttle.WRONG_PASSWORD[0] if user else throttle.WRONG_PASSWORD[1]
    record_security_event(SecurityEventKind.LOGIN_FAILED, user=user, email=email, detail=detail)
    db.session.flush()
    counted = throttle.throttle_for(email, address).failures
    if counted == current_app.config["LOGIN_FREE_TRIES"]:
        record_security_event(SecurityEventKind.LOGIN_THROTTLED, user=user, email=email, detail=f"{counted}")


def authenticate(email: str, password: str, address: str = "") -> User:
    """The user whose address and password these are, if they may sign in from `address`; raises LoginRefused
    otherwise. Only a wrong password counts towards throttling: a try that must wait is not even checked. (With
    two-factor sign-in, the code is still to come: the session, and last_login_at, start with it.)"""
    email = normalise_email(email)[:254]
    wait = throttle.throttle_for(email, address).wait_seconds
    if wait:
        raise LoginRefused("throttled", wait_seconds=wait)
    user = get_user_by_email(email)
    if user is None:
        spend_verification_time(password)
        _wrong_password(email, None, address)
        raise LoginRefused("bad_credentials")
    if not verify_password(user.password_hash, password):
        _wrong_password(email, user, address)
        raise LoginRefused("bad_credentials")
    if user.state != UserState.ACTIVE:
        record_security_event(SecurityEventKind.LOGIN_FAILED, user=user, detail=user.state.value)
        raise LoginRefused(user.state.value)
    if throttle.needs_unlock(user, address):
        send_unlock_link(user)
        raise LoginRefused("unlock_sent")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def send_unlock_link(user: User) -> None:
    """Mail the owner a link that ends the throttling of their account (at most a few such mails an hour)."""
    token = tokens.make_unlock_token(user, throttle.last_unlock_id(user))
    record_security_event(SecurityEventKind.UNLOCK_SENT, user=user)
    signals.unlock_requested.send(None, user=user, token=token)


def request_unlock(email: str) -> None:
    """Someone asks for an unlock link: it goes to an active account's own address; nothing is said either way."""
    user = get_user_by_email(email)
    if user is not None and user.state == UserState.ACTIVE:
        send_unlock_link(user)


def unlock(token: str) -> User:
    """Open the account to sign-ins again from every address (the owner proved they read its mail)."""
    user_id, last_unlock_id = tokens.load_unlock_token(token)
    user = db.session.get(User, user_id)
    if user is None:
        raise tokens.TokenError("invalid")
    if throttle.last_unlock_id(user) != last_unlock_id:
        raise tokens.TokenError("used")
    record_security_event(SecurityEventKind.UNLOCKED, user=user)
    return user


def request_password_reset(email: str) -> None:
    """Send a reset link if the address belongs to a usable account; say nothing either way."""
    user = get_user_by_email(email)
    if user is None or user.state not in (UserState.ACTIVE, UserState.PENDING):
        return
    signals.password_reset_requested.send(None, user=user, token=tokens.make_reset_token(user))


def user_for_reset_token(token: str) -> User:
    """The user a reset link is for; raises TokenError when forged, expired or used."""
    user_id, password_fingerprint = tokens.load_reset_token(token)
    user = db.session.get(User, user_id)
    if user is None:
        raise tokens.TokenError("invalid")
    if not tokens.fingerprint_matches(user.password_hash, password_fingerprint):
        raise tokens.TokenError("used")
    return user


def set_password(user: User, new_password: str, keep: UserSession | None = None) -> None:
    """Change the password and end every session of the user but `keep` (the one that changed it)."""
    user.password_hash = hash_password(new_password)
    db.session.flush()
    record_security_event(SecurityEventKind.PASSWORD_CHANGED, user=user)
    end_sessions(user, keep=keep, why="password")
    signals.password_changed.send(None, user=user)


def change_password(user: User, current_password: str, new_password: str) -> None:
    """A logged-in user changes their password, proving they know the current one."""
    if not verify_password(user.password_hash, current_password):
        raise AccountError(_l("現在のパスワードが正しくありません。"), field="current_password")
    set_password(user, new_password, keep=user.current_session)


def update_profile(user: User, name: str, department: str, phone: str) -> None:
    """A user edits their own name, department and phone number."""
    user.name, user.department, user.phone = name, department, phone


def invite_colleague(actor: User, email: str) -> Invitation:
    """An org admin invites a colleague; the invitation link lets them skip moderator review."""
    if not actor.can_invite():
        raise AccountError(_l("招待できるのは団体の管理者だけです。"))
    email = normalise_email(email)
    if get_user_by_email(email) is not None:
        raise AccountError(_l("このアドレスはすでに登録されています。"), field="email")
    token, token_hash = tokens.new_invitation_token()
    invitation = Invitation(
        organization_id=actor.organization_id,
        email=email,
        token_hash=token_hash,
        invited_by_id=actor.id,
        expires_at=utcnow() + timedelta(days=current_app.config["INVITATION_MAX_AGE_DAYS"]),
    )
    db.session.add(invitation)
    db.session.flush()
    signals.user_invited.send(actor, invitation=invitation, token=token)
    return invitation


def hand_over_admin(actor: User, colleague: User, keep_own: bool = False) -> None:
    """Make an active colleague an admin of the organization; the actor steps down unless keep_own."""
    if not actor.can_manage_member(colleague) or colleague.state != UserState.ACTIVE:
        raise AccountError(_l("この職員を管理者にすることはできません。"))
    colleague.role = OrgRole.ADMIN
    if not keep_own:
        actor.role = OrgRole.STAFF


def deactivate_colleague(actor: User, colleague: User) -> None:
    """An org admin deactivates a colleague who left; what they wrote stays with the organization."""
    refused = AccountError(_l("この職員を無効にすることはできません。"))
    if not actor.can_manage_member(colleague) or colleague.state == UserState.DEACTIVATED:
        raise refused
    if not deactivate_account(colleague, actor):
        raise refused


def deactivate_account(user: User, actor: User | None, why: str = "") -> bool:
    """Deactivate an account (sessions end, sign-in refused, the admin role goes); what they wrote stays with the
    organization. False when it already was (of two decisions at the same instant, the second changes nothing)."""
    if not guarded_update(
        db.session,
        user,
        User.state != UserState.DEACTIVATED,
        state=UserState.DEACTIVATED,
        role=OrgRole.STAFF,
    ):
        return False
    record_security_event(SecurityEventKind.DEACTIVATED, user=user, actor=actor, detail=why)
    end_sessions(user, actor=actor, why="deactivated")
    return True


def create_moderator(email: str, password: str, name: str = "事務局") -> User:
    """An active moderator account for the secretariat (from the command line)."""
    email = normalise_email(email)
    user = get_user_by_email(email)
    now = utcnow()
    if user is None:
        user = User(email=email, name=name, password_hash=hash_password(password))
        db.session.add(user)
    else:
        user.password_hash = hash_password(password)
    user.is_moderator = True
    user.state = UserState.ACTIVE
    user.confirmed_at = user.confirmed_at or now
    user.approved_at = user.approved_at or now
    db.session.flush()
    return user


def organization_colleagues(user: User) -> list[User]:
    """Everyone on the staff of the user's organization, admins first."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.organization_id == user.organization_id)
            .order_by(User.role, func.lower(User.name))  # 'admin' sorts before 'staff'
        )
    )


SIGN_IN_KINDS = (
    SecurityEventKind.LOGIN,
    SecurityEventKind.LOGIN_FAILED,
    SecurityEventKind.LOGIN_THROTTLED,
    SecurityEventKind.TWO_FACTOR_FAILED,  # the right password and a wrong code: someone may know the password
    SecurityEventKind.RECOVERY_CODE_USED,
)


def recent_sign_ins(user: User, limit: int = 20) -> list[SecurityEvent]:
    """The user's own latest sign-ins and failed sign-ins, newest first, so they notice one that was not theirs."""
    return list(
        db.session.scalars(
            select(SecurityEvent)
            .where(SecurityEvent.user_id == user.id, SecurityEvent.kind.in_(SIGN_IN_KINDS))
            .order_by(SecurityEvent.created_at.desc(), SecurityEvent.id.desc())
            .limit(limit)
        )
    )
