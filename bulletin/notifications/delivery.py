"""Delivering the outbox: claim a due message, send it, record the outcome; retries with exponential backoff.

A message is claimed with a lease (state `sending`, `lease_until`) in its own committed transaction, so that
several workers never take the same message and a worker killed mid-send leaves the message to be taken
again when the lease runs out. Its Message-ID is fixed at queueing time, so even that rare resend is one
message to the recipient's mail system.
"""

from __future__ import annotations

import contextlib
import logging
import os
import smtplib
import ssl
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import or_, select, update

from bulletin.core.db import utcnow
from bulletin.extensions import db
from bulletin.notifications.models import OutboxMessage, OutboxState

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)


class PermanentDeliveryError(Exception):
    """The mail server refused the message for good (5xx): retrying cannot help."""


def build_email(message: OutboxMessage, sender: str) -> EmailMessage:
    """The MIME message for an outbox row: plain-text UTF-8, no attachments."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Date"] = format_datetime(message.created_at)
    email["Message-ID"] = message.message_id
    email["Auto-Submitted"] = "auto-generated"
    for name, value in (message.headers or {}).items():
        email[name] = value
    email.set_content(message.body, charset="utf-8", cte="base64")
    return email


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
        with tempfile.NamedTemporaryFile("wb", dir=self.folder, delete=False, suffix=".tmp") as handle:
            handle.write(bytes(email))
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
            if cfg.get("SMTP_STARTTLS"):
                connection.starttls(context=ssl.create_default_context())
        if cfg.get("SMTP_USERNAME"):
            connection.login(cfg["SMTP_USERNAME"], cfg.get("SMTP_PASSWORD") or "")
        return connection

    def send(self, email: EmailMessage) -> None:
        """Send one message; a 5xx refusal is permanent, anything else is worth a retry."""
        if self.connection is None:
            self.connection = self._connect()
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


def claim_next(now: datetime, include_waiting: bool = False) -> OutboxMessage | None:
    """Take the oldest due message for this worker, committing the claim; None when nothing is due."""
    session = db.session
    while True:
        query = (
            select(OutboxMessage.id, OutboxMessage.state, OutboxMessage.attempts)
            .where(_due_condition(now, include_waiting))
            .order_by(OutboxMessage.id)
            .limit(1)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        row = session.execute(query).first()
        if row is None:
            session.rollback()
            return None
        # The guarded update makes the claim exclusive on every database: whoever changes the row first wins.
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id, OutboxMessage.state == row.state, OutboxMessage.attempts == row.attempts)
            .values(state=OutboxState.SENDING, lease_until=now + LEASE, attempts=row.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        session.commit()
        if result.rowcount == 1:
            return session.get(OutboxMessage, row.id, populate_existing=True)


@dataclass
class DeliveryReport:
    """What one drain of the outbox did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0


def deliver_due(include_waiting: bool = False, limit: int | None = None) -> DeliveryReport:
    """Deliver every message that is due now; returns counts. Commits after each message."""
    config = current_app.config
    report = DeliveryReport()
    with make_transport(config) as transport:
        while limit is None or report.sent + report.retried + report.failed < limit:
            now = utcnow()
            message = claim_next(now, include_waiting)
            if message is None:
                break
            outcome = _deliver_one(message, transport, config)
            setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def _deliver_one(message: OutboxMessage, transport, config) -> str:
    try:
        transport.send(build_email(message, config["MAIL_FROM"]))
    except PermanentDeliveryError as error:
        _record_failure(message, str(error), permanent=True, config=config)
    except (smtplib.SMTPException, OSError) as error:
        return _record_failure(message, f"{type(error).__name__}: {error}", permanent=False, config=config)
    else:
        message.state = OutboxState.SENT
        message.sent_at = utcnow()
        message.lease_until = None
        message.last_error = None
        db.session.commit()
        log.info("sent %s to %s", message.message_id, message.recipient)
        return "sent"
    return "failed"


def _record_failure(message: OutboxMessage, error: str, permanent: bool, config) -> str:
    message.last_error = error[:2000]
    message.lease_until = None
    if permanent or message.attempts >= config["MAIL_MAX_ATTEMPTS"]:
        message.state = OutboxState.FAILED
        outcome = "failed"
        log.warning("giving up on %s to %s: %s", message.message_id, message.recipient, error)
    else:
        message.state = OutboxState.PENDING
        message.next_attempt_at = utcnow() + retry_delay(message.attempts, config["MAIL_RETRY_BASE_SECONDS"])
        outcome = "retried"
        log.info("will retry %s (attempt %d): %s", message.message_id, message.attempts, error)
    db.session.commit()
    return outcome


def retry_failed(message: OutboxMessage) -> None:
    """Put a failed message back in the queue (a moderator's decision); the caller commits."""
    message.state = OutboxState.PENDING
    message.attempts = 0
    message.next_attempt_at = utcnow()
    message.last_error = None
