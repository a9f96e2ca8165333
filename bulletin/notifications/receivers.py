"""The one subscriber to domain signals: turns events into outbox e-mail in the event's own transaction."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from bulletin.accounts.models import User, UserState
from bulletin.core import signals
from bulletin.core.urls import absolute_url
from bulletin.extensions import db
from bulletin.notifications.mail import queue_email


def active_moderators() -> list[User]:
    """Everyone who moderates and can act now."""
    return list(db.session.scalars(select(User).where(User.is_moderator.is_(True), User.state == UserState.ACTIVE)))


def on_user_registered(sender, user: User, token: str, **_):
    queue_email(
        user,
        "confirm_email",
        _l("メールアドレスの確認"),
        "confirm_email",
        confirm_url=absolute_url("accounts.confirm", token=token),
    )


def on_registration_attempt_on_existing(sender, user: User, **_):
    queue_email(
        user,
        "already_registered",
        _l("登録の申し込みがありました"),
        "already_registered",
        login_url=absolute_url("accounts.login"),
        reset_url=absolute_url("accounts.forgot_password"),
    )


def on_user_confirmed(sender, user: User, awaiting_approval: bool, **_):
    if not awaiting_approval:
        return
    domain_confirmed = user.organization is not None and user.email_domain in user.organization.confirmed_domains()
    for moderator in active_moderators():
        queue_email(
            moderator,
            "registration_pending",
            _l("承認待ちの登録があります"),
            "registration_pending",
            applicant=user,
            domain_confirmed=domain_confirmed,
            queue_url=absolute_url("moderation.queue"),
        )


def on_user_approved(sender, user: User, **_):
    queue_email(
        user, "user_approved", _l("利用登録が承認されました"), "user_approved", login_url=absolute_url("accounts.login")
    )


def on_user_rejected(sender, user: User, reason: str, **_):
    queue_email(user, "user_rejected", _l("利用登録を承認できませんでした"), "user_rejected", reason=reason)


def on_password_reset_requested(sender, user: User, token: str, **_):
    queue_email(
        user,
        "password_reset",
        _l("パスワードの再設定"),
        "password_reset",
        reset_url=absolute_url("accounts.reset_password", token=token),
    )


def on_password_changed(sender, user: User, **_):
    queue_email(
        user,
        "password_changed",
        _l("パスワードが変更されました"),
        "password_changed",
        forgot_url=absolute_url("accounts.forgot_password"),
    )


def on_user_invited(sender, invitation, token: str, **_):
    queue_email(
        invitation.email,
        "invitation",
        _l("掲示板への招待"),
        "invitation",
        locale=sender.locale if sender is not None else "ja",  # colleagues usually share the inviter's language
        inviter=sender,
        invitation=invitation,
        invitation_url=absolute_url("accounts.accept_invitation", token=token),
    )


def connect_receivers() -> None:
    """Subscribe every receiver; called once by create_app (weak=False: the functions live for the process)."""
    pairs = (
        (signals.user_registered, on_user_registered),
        (signals.registration_attempt_on_existing, on_registration_attempt_on_existing),
        (signals.user_confirmed, on_user_confirmed),
        (signals.user_approved, on_user_approved),
        (signals.user_rejected, on_user_rejected),
        (signals.password_reset_requested, on_password_reset_requested),
        (signals.password_changed, on_password_changed),
        (signals.user_invited, on_user_invited),
    )
    for signal, receiver in pairs:
        signal.connect(receiver, weak=False)
