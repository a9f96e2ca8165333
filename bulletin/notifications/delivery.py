"""Delivering the outbox: claim a due message, send it, record the outcome; retries with exponential backoff.

A message is claimed with a lease (state `sending`, `lease_until`) in its own committed transaction, so that
several workers never take the same message and a worker killed mid-send leaves the message to be taken
again when the lease runs out. Its Message-ID is fixed at queueing time, so even that rare resend is one
message to the recipient's mail system.

One bad message never stops the queue: a message that cannot be built or sent is marked failed with its reason
(moderators see it at /moderation/mail) and the drain goes on with the next.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import smtplib
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import or_, select, update

from bulletin.accounts.models import User, UserState
from bulletin.core.db import utcnow
from bulletin.core.text import single_line
from bulletin.extensions import db
from bulletin.notifications.kinds import NOTIFICATION_KINDS
from bulletin.notifications.models import OutboxMessage, OutboxState
from bulletin.organizations.models import Membership

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
HEADER_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322: printable ASCII but the colon


class PermanentDeliveryError(Exception):
    """The mail server refused the message for good (5xx): retrying cannot help."""


class ConnectionSetupError(Exception):
    """No connection to the mail server could be set up, for a reason that is no message's own (a setting smtplib
    cannot use): each message waits for a retry rather than failing for good."""


def build_email(message: OutboxMessage, sender: str) -> EmailMessage:
    """The MIME message for an outbox row: plain-text UTF-8, no attachments; raises when the row cannot make one."""
    # The SMTP policy folds headers into RFC 2047 encoded words of at most 78 characters and ends lines with CRLF,
    # in the mail folder as on the wire. Each value is made one line first: a row written before the forms refused
    # line separators would otherwise make every header assignment raise.
    email = EmailMessage(policy=policy.SMTP)
    email["From"] = _header_value(sender)
    email["To"] = _header_value(message.recipient)
    email["Subject"] = _header_value(message.subject)
    email["Date"] = format_datetime(message.created_at)
    email["Message-ID"] = _header_value(message.message_id)
    email["Auto-Submitted"] = "auto-generated"
    for name, value in (message.headers or {}).items():
        if not HEADER_NAME.fullmatch(name):
            raise ValueError(f"not a header name: {name!r}")
        email[name] = _header_value(value)
    email.set_content(message.body, charset="utf-8", cte="base64")
    return email


def _header_value(value: str) -> str:
    return single_line(value).strip()


class FolderTransport:
    """Development transport: each message becomes a .eml file named after its Message-ID (so never twice)."""

    def __init__(self, folder: str):
        self.folder = Path(folder)

    def __enter__(self) -> FolderTransport:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, *exc) -> None:
        return None

    def send(self, email: EmailMessage) -> None:
        """Write the message atomically."""
        name = email["Message-ID"].strip("<>").replace("/", "_") + ".eml"
        content = bytes(email)  # before the file exists, so that a message that cannot be serialised leaves none
        with tempfile.NamedTemporaryFile("wb", dir=self.folder, delete=False, suffix=".tmp") as handle:
            handle.write(content)
        os.replace(handle.name, self.folder / name)


class SMTPTransport:
    """SMTP delivery over one connection per batch, with optional STARTTLS/TLS and credentials."""

    def __init__(self, config: dict):
        self.config = config
        self.connection: smtplib.SMTP | None = None

    def __enter__(self) -> SMTPTransport:
        return self

    def __exit__(self, *exc) -> None:
        if self.connection is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.connection.quit()
            self.connection = None

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        host, port, timeout = cfg["SMTP_HOST"], int(cfg["SMTP_PORT"]), cfg["SMTP_TIMEOUT"]
        if cfg.get("SMTP_SSL"):
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            connection = smtplib.SMTP(host, port, timeout=timeout)
        try:
            if cfg.get("SMTP_STARTTLS") and not cfg.get("SMTP_SSL"):
                connection.starttls(context=ssl.create_default_context())
            if cfg.get("SMTP_USERNAME"):
                connection.login(cfg["SMTP_USERNAME"], cfg.get("SMTP_PASSWORD") or "")
        except BaseException:
            connection.close()  # a failed handshake must not leak the socket
            raise
        return connection

    def send(self, email: EmailMessage) -> None:
        """Send one message; a 5xx refusal is permanent, anything else is worth a retry."""
        if self.connection is None:
            try:
                self.connection = self._connect()
            except (smtplib.SMTPException, OSError):
                raise
            except Exception as error:
                raise ConnectionSetupError(_describe(error)) from error
        try:
            self.connection.send_message(email)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            if codes and all(500 <= code < 600 for code in codes):
                raise PermanentDeliveryError(str(error.recipients)) from error
            raise
        except smtplib.SMTPResponseException as error:
            if 500 <= error.smtp_code < 600 and not isinstance(error, smtplib.SMTPServerDisconnected):
                raise PermanentDeliveryError(f"{error.smtp_code} {error.smtp_error!r}") from error
            self._drop_connection()
            raise
        except (smtplib.SMTPException, OSError):
            self._drop_connection()
            raise
        except Exception:
            self._drop_connection()  # the session may be left mid-transaction: start the next message afresh
            raise

    def _drop_connection(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            finally:
                self.connection = None


def make_transport(config: dict) -> FolderTransport | SMTPTransport:
    """SMTP when SMTP_HOST is set, else the mail folder, so that nothing is lost in development."""
    if config.get("SMTP_HOST"):
        return SMTPTransport(config)
    return FolderTransport(config["MAIL_FOLDER"])


def retry_delay(attempts: int, base_seconds: int) -> timedelta:
    """Exponential backoff: base, 2×base, 4×base … capped at six hours."""
    return timedelta(seconds=min(base_seconds * 2 ** max(attempts - 1, 0), 6 * 3600))


def _due_condition(now: datetime, include_waiting: bool):
    pending = OutboxMessage.state == OutboxState.PENDING
    if not include_waiting:
        pending = pending & (OutboxMessage.next_attempt_at <= now)
    stale_lease = (OutboxMessage.state == OutboxState.SENDING) & (OutboxMessage.lease_until < now)
    return or_(pending, stale_lease)


@dataclass(frozen=True)
class ClaimedMessage:
    """What a worker needs of a claimed message, read before the database transaction ends."""

    id: int
    attempts: int
    message_id: str
    recipient: str
    email: EmailMessage | None  # None when it could not be built
    withheld: str | None = None  # why a notification is no longer sent (its reader left or was suspended)
    unbuildable: str | None = None  # why the message could not be built; the claim has marked it failed


def claim_next(
    now: datetime,
    include_waiting: bool = False,
    exclude: set[int] | frozenset[int] = frozenset(),
    sender: str | None = None,
) -> ClaimedMessage | None:
    """Take the oldest due message for this worker and commit the claim; None when nothing is due.

    The transaction is over when this returns, so no database lock or snapshot is held while the message is
    sent (on SQLite another process may write meanwhile). A message that cannot be built is committed as failed,
    with the reason, in the claim's transaction.
    """
    session = db.session
    sender = sender or current_app.config["MAIL_FROM"]
    session.commit()  # the claim below must be the first statement of its transaction
    candidate = select(OutboxMessage.id).where(_due_condition(now, include_waiting)).order_by(OutboxMessage.id).limit(1)
    if exclude:
        candidate = candidate.where(OutboxMessage.id.not_in(exclude))
    if session.get_bind().dialect.name == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True)
    # Read and write in one statement: SQLite takes its write lock before reading (waiting out busy_timeout), so
    # another process's commit cannot leave the claim on a stale snapshot; PostgreSQL skips rows another worker
    # has locked and re-checks the condition on the row it locks.
    claimed_id = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == candidate.scalar_subquery())
        .values(state=OutboxState.SENDING, lease_until=now + LEASE, attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    ).scalar()
    if claimed_id is None:
        session.rollback()
        return None
    message = session.get_one(OutboxMessage, claimed_id, populate_existing=True)
    try:
        email = build_email(message, sender)
    except Exception as error:  # whatever the row holds, it must not stay first in the queue
        reason = _describe(error)
        claimed = ClaimedMessage(
            message.id, message.attempts, message.message_id, message.recipient, None, unbuildable=reason
        )
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == claimed_id)
            .values(state=OutboxState.FAILED, lease_until=None, last_error=reason)
            .execution_options(synchronize_session=False)
        )
        session.commit()
        log.warning("cannot build %s to %s: %s", claimed.message_id, claimed.recipient, reason)
        return claimed
    claimed = ClaimedMessage(
        message.id, message.attempts, message.message_id, message.recipient, email, _withheld(message)
    )
    session.commit()
    return claimed


@dataclass
class DeliveryReport:
    """What one drain of the outbox did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0


def deliver_due(
    include_waiting: bool = False, limit: int | None = None, should_stop: Callable[[], bool] = lambda: False
) -> DeliveryReport:
    """Deliver every message that is due now, each at most once per drain; commits after each message.

    `should_stop` is asked before each message, so a worker told to stop finishes only the current one.
    """
    config = current_app.config
    report = DeliveryReport()
    tried: set[int] = set()
    with make_transport(config) as transport:
        while (limit is None or len(tried) < limit) and not should_stop():
            claimed = claim_next(utcnow(), include_waiting, exclude=tried, sender=config["MAIL_FROM"])
            if claimed is None:
                break
            tried.add(claimed.id)
            outcome = _deliver_one(claimed, transport, config)
            setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def _withheld(message: OutboxMessage) -> str | None:
    """A notification is not sent to someone who is no longer active, or whose organization was suspended,
    since it was queued; account mail (confirmation, reset, decisions) always goes."""
    if message.user_id is None or message.kind not in NOTIFICATION_KINDS:
        return None
    user = db.session.get(User, message.user_id)
    if user is None or user.state != UserState.ACTIVE:
        return "withheld: the recipient's account is no longer active"
    if user.organization is not None and user.organization.membership != Membership.MEMBER:
        return "withheld: the recipient's organization is suspended"
    return None


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:2000]


def _deliver_one(claimed: ClaimedMessage, transport, config) -> str:
    if claimed.email is None:
        return "failed"  # it could not be built: the claim has recorded it
    if claimed.withheld:
        return _record_failure(claimed, claimed.withheld, permanent=True, config=config)
    try:
        transport.send(claimed.email)
    except PermanentDeliveryError as error:
        return _record_failure(claimed, str(error), permanent=True, config=config)
    except ConnectionSetupError as error:
        return _record_failure(claimed, str(error), permanent=False, config=config)
    except (smtplib.SMTPException, OSError) as error:
        return _record_failure(claimed, _describe(error), permanent=False, config=config)
    except Exception as error:  # the message itself cannot be sent (serialised, or accepted by smtplib): for good
        log.exception("cannot send %s to %s", claimed.message_id, claimed.recipient)
        return _record_failure(claimed, _describe(error), permanent=True, config=config)
    _finish(claimed, state=OutboxState.SENT, sent_at=utcnow(), last_error=None)
    log.info("sent %s to %s", claimed.message_id, claimed.recipient)
    return "sent"


def _finish(claimed: ClaimedMessage, **values) -> None:
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == claimed.id, OutboxMessage.state == OutboxState.SENDING)
        .values(lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _record_failure(claimed: ClaimedMessage, error: str, permanent: bool, config) -> str:
    if permanent or claimed.attempts >= config["MAIL_MAX_ATTEMPTS"]:
        _finish(claimed, state=OutboxState.FAILED, last_error=error[:2000])
        log.warning("giving up on %s to %s: %s", claimed.message_id, claimed.recipient, error)
        return "failed"
    next_attempt = utcnow() + retry_delay(claimed.attempts, config["MAIL_RETRY_BASE_SECONDS"])
    _finish(claimed, state=OutboxState.PENDING, next_attempt_at=next_attempt, last_error=error[:2000])
    log.info("will retry %s (attempt %d): %s", claimed.message_id, claimed.attempts, error)
    return "retried"
