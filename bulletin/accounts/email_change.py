"""Changing one's own e-mail address.

A signed-in user asks with their current password (/profile/email). A link goes to the new address and a notice to the
old one; nothing changes until the link is opened and its button pressed (mail scanners open links). The domain rules
of registration apply again: on a confirmed domain of the user's organization the address changes at once, the user's
other sessions end and both addresses are told. On any other domain the proved change waits for a moderator in the
queue (the user keeps the old address meanwhile), who approves it, possibly confirming the domain for the
organization, or refuses it with a reason. An address that another account has is never taken, and the form's answer
does not say so: like registration, it tells that address's owner instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bulletin.accounts import tokens
from bulletin.accounts.models import EmailChange, EmailChangeState, User, UserSession, UserState
from bulletin.accounts.passwords import verify_password
from bulletin.accounts.services import AccountError, get_user_by_email, normalise_email
from bulletin.accounts.sessions import end_sessions
from bulletin.core import signals
from bulletin.core.db import guarded_update
from bulletin.core.security_events import SecurityEventKind, record_security_event
from bulletin.extensions import db
from bulletin.organizations.models import Membership

ADDRESS_TAKEN = _l("このメールアドレスはすでに別のアカウントで使われているため、変更できません。")


def is_trusted_address(user: User, email: str) -> bool:
    """Whether the user may move to this address without a moderator: its domain is a confirmed one of their member
    organization. The secretariat's own accounts (moderators without an organization) have nobody above them."""
    domain = normalise_email(email).rsplit("@", 1)[-1]
    if user.organization is None:
        return user.is_moderator
    return user.organization.membership == Membership.MEMBER and domain in user.organization.confirmed_domains()


def pending_change_of(user: User) -> EmailChange | None:
    """The user's change of address waiting for a moderator, if any."""
    return db.session.scalar(
        select(EmailChange).where(EmailChange.user_id == user.id, EmailChange.state == EmailChangeState.PENDING)
    )


@dataclass(frozen=True)
class ChangeRequested:
    """What the user is told after asking: the same whether or not another account has the address."""

    new_email: str
    needs_review: bool


def request_email_change(user: User, new_email: str, current_password: str) -> ChangeRequested:
    """Send the link that moves the account to `new_email` to that address, and a notice to the current one."""
    if not verify_password(user.password_hash, current_password):
        raise AccountError(_l("現在のパスワードが正しくありません。"), field="current_password")
    new_email = normalise_email(new_email)
    if new_email == user.email:
        raise AccountError(_l("現在と同じメールアドレスです。"), field="new_email")
    pending = pending_change_of(user)
    if pending is not None:
        raise AccountError(
            _l(
                "%(email)s への変更を事務局が確認しています。結果のお知らせを待ってから、もう一度お試しください。",
                email=pending.new_email,
            )
        )
    needs_review = not is_trusted_address(user, new_email)
    owner = get_user_by_email(new_email)
    if owner is not None:
        signals.email_change_address_taken.send(
            user, user=user, new_email=new_email, owner=owner, needs_review=needs_review
        )
    else:
        token = tokens.make_email_change_token(user, new_email)
        signals.email_change_requested.send(
            user, user=user, new_email=new_email, token=token, needs_review=needs_review
        )
    return ChangeRequested(new_email=new_email, needs_review=needs_review)


def user_for_email_change_token(token: str) -> tuple[User, str]:
    """The user and new address of a change link; raises TokenError when forged, expired or used."""
    user_id, fingerprint, new_email = tokens.load_email_change_token(token)
    user = db.session.get(User, user_id)
    if user is None or user.state != UserState.ACTIVE:
        raise tokens.TokenError("invalid")
    if not tokens.fingerprint_matches(user.email, fingerprint):
        raise tokens.TokenError("used")
    return user, normalise_email(new_email)


@dataclass(frozen=True)
class ChangeConfirmed:
    """The outcome of opening the link: the address changed, or the change waits for a moderator."""

    user: User
    new_email: str
    changed: bool


def confirm_email_change(token: str, signed_in: User | None = None) -> ChangeConfirmed:
    """The new mailbox is proved: change the address (keeping the session of `signed_in` when it is the user's own)
    or, on a domain the organization has not confirmed, hold the change for a moderator."""
    user, new_email = user_for_email_change_token(token)
    if get_user_by_email(new_email) is not None:  # whoever opens this link owns the new address: they may know
        raise AccountError(ADDRESS_TAKEN)
    if is_trusted_address(user, new_email):
        keep = signed_in.current_session if signed_in is not None and signed_in.id == user.id else None
        change_address(user, new_email, keep=keep)
        return ChangeConfirmed(user, new_email, changed=True)
    pending = pending_change_of(user)
    if pending is not None and pending.new_email != new_email:
        raise AccountError(
            _l("%(email)s への変更を事務局が確認しています。結果のお知らせをお待ちください。", email=pending.new_email)
        )
    if pending is None:
        try:
            with db.session.begin_nested():  # the link opened twice at once: one change waits
                pending = EmailChange(user_id=user.id, old_email=user.email, new_email=new_email)
                db.session.add(pending)
                db.session.flush()
        except IntegrityError:
            return ChangeConfirmed(user, new_email, changed=False)
        signals.email_change_awaiting_review.send(user, change=pending)
    return ChangeConfirmed(user, new_email, changed=False)


def change_address(user: User, new_email: str, *, actor: User | None = None, keep: UserSession | None = None) -> str:
    """Move the account to the new address: its other sessions end, the security log and both addresses are told.
    Returns the old address. Refused when another account took the address or the address changed meanwhile."""
    old_email = user.email
    try:
        with db.session.begin_nested():
            changed = guarded_update(db.session, user, User.email == old_email, email=new_email)
    except IntegrityError as error:
        raise AccountError(ADDRESS_TAKEN) from error
    if not changed:
        raise AccountError(_l("メールアドレスはすでに変更されています。"))
    record_security_event(
        SecurityEventKind.EMAIL_CHANGED, user=user, actor=actor, email=new_email, detail=f"{old_email} -> {new_email}"
    )
    end_sessions(user, keep=keep, actor=actor, why="email")
    signals.email_changed.send(actor, user=user, old_email=old_email, moderator=actor)
    return old_email
