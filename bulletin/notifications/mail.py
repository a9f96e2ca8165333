"""Queueing e-mail: render a plain-text template in the recipient's language and write it to the outbox."""

from __future__ import annotations

from datetime import timedelta
from email.utils import parseaddr

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import func, select, text

from bulletin.accounts.models import User
from bulletin.accounts.tokens import make_unsubscribe_token
from bulletin.core.db import utcnow
from bulletin.core.urls import absolute_url
from bulletin.extensions import db
from bulletin.notifications.models import OutboxMessage, OutboxState, new_message_id

# Account mail that anyone can have sent to an address by typing it into a form.
MAIL_ANYONE_CAN_ASK_FOR = (
    "confirm_email",
    "already_registered",
    "password_reset",
    "invitation",
    "email_change_confirm",
    "email_change_address_taken",
    "account_unlock",
)


def asked_too_often(address: str) -> bool:
    """Whether the address has had as many mails of the kinds anyone can ask for in the last hour as it may
    (ACCOUNT_MAILS_PER_HOUR): more would be a stranger filling the officer's mailbox. Requests for one address
    are taken one at a time (on PostgreSQL a lock on the address for the transaction; SQLite writes one at a
    time anyway), so that twenty at once still send no more than the limit."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:address))"), {"address": address})
    sent = db.session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.recipient == address,  # addresses are stored as the accounts normalise them
            OutboxMessage.kind.in_(MAIL_ANYONE_CAN_ASK_FOR),
            OutboxMessage.created_at > utcnow() - timedelta(hours=1),
        )
    )
    return (sent or 0) >= current_app.config["ACCOUNT_MAILS_PER_HOUR"]


def queue_email(
    recipient: User | str,
    kind: str,
    subject,
    template: str,
    locale: str | None = None,
    unsubscribable: bool = False,
    coalesce_key: str | None = None,
    coalesce_seconds: int = 0,
    **context,
) -> OutboxMessage:
    """Render `email/<template>.txt` and add the message to the session (the caller's transaction commits it).

    `subject` is a lazy string: it is translated here, in the recipient's language. With a `coalesce_key`, the
    message waits `coalesce_seconds` before it is sent, and a second one with the same key queued meanwhile is
    not written: the waiting one already says it (e.g. "new messages in this conversation").
    """
    if coalesce_key is not None:
        waiting = db.session.scalar(select(OutboxMessage).where(*waiting_with_key([coalesce_key])))
        if waiting is not None:
            return waiting
    message = OutboxMessage(
        **render_email(
            recipient, kind, subject, template, locale, unsubscribable, coalesce_key, coalesce_seconds, **context
        )
    )
    db.session.add(message)
    return message


def waiting_with_key(keys: list[str]) -> tuple:
    """The conditions of a message with one of these coalesce keys that is still waiting to go."""
    return (
        OutboxMessage.coalesce_key.in_(keys),
        OutboxMessage.state == OutboxState.PENDING,
        OutboxMessage.next_attempt_at > utcnow(),
    )


def render_email(
    recipient: User | str,
    kind: str,
    subject,
    template: str,
    locale: str | None = None,
    unsubscribable: bool = False,
    coalesce_key: str | None = None,
    coalesce_seconds: int = 0,
    **context,
) -> dict:
    """The values of the outbox row for `email/<template>.txt`, rendered in the recipient's language."""
    user = recipient if isinstance(recipient, User) else None
    address = user.email if user else recipient
    locale = locale or (user.locale if user else "ja")
    with force_locale(locale):
        translated_subject = str(subject)
        body = render_template(
            f"email/{template}.txt", user=user, recipient=address, absolute_url=absolute_url, **context
        )
    config = current_app.config
    domain = parseaddr(config["MAIL_FROM"])[1].rsplit("@", 1)[-1] or "localhost"
    return {
        "message_id": new_message_id(domain),
        "recipient": address,
        "user_id": user.id if user else None,
        "kind": kind,
        "subject": f"{config['MAIL_SUBJECT_PREFIX']} {translated_subject}",
        "body": body.strip() + "\n",
        "headers": _unsubscribe_headers(user, kind) if user is not None and unsubscribable else {},
        "coalesce_key": coalesce_key,
        "next_attempt_at": utcnow() + timedelta(seconds=coalesce_seconds),
    }


def _unsubscribe_headers(user: User, kind: str) -> dict[str, str]:
    """List-Unsubscribe with RFC 8058 one-click: mail clients offer "unsubscribe", which turns this kind off."""
    link = absolute_url("notifications.unsubscribe", token=make_unsubscribe_token(user, kind))
    return {"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
