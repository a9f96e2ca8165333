"""Delivering the outbox to a real SMTP server (aiosmtpd on loopback): content, retries, permanent refusals, the
mail folder, claims and leases, the `bulletin worker` command, and worker processes killed or run side by side."""

from __future__ import annotations

import asyncio
import gc
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes, policy
from email.utils import parseaddr
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask_migrate import upgrade
from markupsafe import escape
from sqlalchemy import Engine, create_engine, event, func, select, text, update
from sqlalchemy.exc import OperationalError

from bulletin.accounts.models import User, UserState
from bulletin.core.db import utcnow
from bulletin.core.urls import absolute_url
from bulletin.extensions import db
from bulletin.notifications.delivery import LEASE, DeliveryReport, claim_next, deliver_due
from bulletin.notifications.mail import queue_email
from bulletin.notifications.models import OutboxMessage, OutboxState
from tests.constants import ON_POSTGRESQL
from tests.factories import (
    LOOPBACK,
    AuthActions,
    RecordingHandler,
    free_port,
    make_test_app,
    new_database,
    registration_form,
    start_smtp_server,
)

BULLETIN = Path(sys.executable).with_name("bulletin")
URL_LINE = re.compile(r"https?://[^\s<>\"']+")


def queue(recipient: User | str) -> OutboxMessage:
    """Queue one "password changed" e-mail and commit it, as the request that causes it would."""
    message = queue_email(
        recipient,
        "password_changed",
        "パスワードが変更されました",
        "password_changed",
        forgot_url=absolute_url("accounts.forgot_password"),
    )
    db.session.commit()
    return message


def wait_for_retry(message: OutboxMessage) -> None:
    """Let the time pass until the message's next try is due."""
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id)
        .values(next_attempt_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


def reload(message: OutboxMessage) -> OutboxMessage:
    """The row as the database has it now."""
    db.session.refresh(message)
    return message


@pytest.fixture
def keep_sigterm_handler() -> Iterator[None]:
    """The worker command installs a SIGTERM handler: give the test process its own back afterwards."""
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


# --- content ----------------------------------------------------------------------------------------------------


def test_a_registration_mail_arrives_as_plain_japanese_text_with_every_link_on_a_line_of_its_own(
    app, client, smtp, outbox
):
    email_address = "hanako.sakai@city.fukui-sakai.lg.jp"
    response = client.post("/register", data=registration_form(email=email_address))
    assert response.status_code == 302
    [queued] = outbox(email_address)

    assert deliver_due() == DeliveryReport(sent=1)

    [received] = smtp.received
    assert received.mail_from == parseaddr(app.config["MAIL_FROM"])[1] == "noreply@localhost"
    assert received.rcpt_tos == [email_address]
    assert received.content.isascii()  # encoded words and base64: no gateway needs 8BITMIME or SMTPUTF8
    assert b"\nSubject: =?utf-8?" in received.content

    email = received.email
    assert email["From"] == app.config["MAIL_FROM"] == "全国連携マッチング掲示板 <noreply@localhost>"
    assert email["To"] == email_address
    assert email["Subject"] == "[全国連携マッチング掲示板] メールアドレスの確認"
    assert email["Message-ID"] == queued.message_id
    assert email["Date"] and email["Auto-Submitted"] == "auto-generated"
    assert email["Content-Type"] == 'text/plain; charset="utf-8"'
    assert not email.is_multipart() and list(email.iter_attachments()) == []
    assert email["Content-Disposition"] is None

    body = email.get_content()
    assert body.replace("\r\n", "\n") == queued.body
    assert body.startswith("坂井 花子 様")
    assert "全国連携マッチング掲示板への登録を受け付けました。" in body
    assert "<a " not in body and "<html" not in body.lower()
    link_lines = [line.strip() for line in body.splitlines() if "://" in line or "www." in line]
    assert link_lines, body
    for line in link_lines:
        assert URL_LINE.fullmatch(line), f"a link shares its line with text: {line!r}"
    assert all(line.startswith(app.config["BASE_URL"] + "/") for line in link_lines)
    assert any(line.startswith("http://localhost/confirm/") for line in link_lines)  # the link to open

    queued = reload(queued)
    assert queued.state == OutboxState.SENT and queued.sent_at is not None
    assert queued.attempts == 1 and queued.lease_until is None and queued.last_error is None


# --- temporary and permanent refusals, a server that is down -------------------------------------------------------


@pytest.mark.parametrize("stage", ["RCPT", "DATA"])
def test_a_temporary_refusal_is_retried_after_a_backoff_and_delivered_once(app, smtp, create_user, stage):
    user = create_user()
    message = queue(user)
    if stage == "RCPT":
        smtp.handler.refused_recipients[user.email] = "451 4.3.0 try later"
    else:
        smtp.handler.data_replies.append("451 4.3.0 try later")

    before = utcnow()
    assert deliver_due() == DeliveryReport(retried=1)
    message = reload(message)
    assert message.state == OutboxState.PENDING and message.attempts == 1 and message.lease_until is None
    assert "451" in message.last_error and "try later" in message.last_error
    assert message.next_attempt_at >= before + timedelta(seconds=app.config["MAIL_RETRY_BASE_SECONDS"])
    assert smtp.received == []

    smtp.handler.refused_recipients.clear()
    assert deliver_due() == DeliveryReport()  # waiting for its retry: not due yet
    assert smtp.received == []
    assert deliver_due(include_waiting=True) == DeliveryReport(sent=1)
    assert deliver_due(include_waiting=True) == DeliveryReport()

    assert smtp.message_ids() == [message.message_id]
    message = reload(message)
    assert message.state == OutboxState.SENT and message.attempts == 2 and message.last_error is None


def test_nothing_is_lost_while_the_smtp_server_is_down(app, create_user, closed_port, smtp_server, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_HOST", LOOPBACK)
    monkeypatch.setitem(app.config, "SMTP_PORT", closed_port)
    user = create_user()
    messages = [queue(user) for _ in range(3)]

    assert deliver_due() == DeliveryReport(retried=3)
    now = utcnow()
    for message in map(reload, messages):
        assert message.state == OutboxState.PENDING and message.attempts == 1
        assert message.last_error.startswith("ConnectionRefusedError")
        assert message.next_attempt_at > now
    assert deliver_due() == DeliveryReport()

    monkeypatch.setitem(app.config, "SMTP_PORT", smtp_server.port)  # the server is back
    assert deliver_due() == DeliveryReport()  # still waiting for the retry time
    assert deliver_due(include_waiting=True) == DeliveryReport(sent=3)
    assert smtp_server.message_ids() == [message.message_id for message in messages]
    assert {reload(message).state for message in messages} == {OutboxState.SENT}


def test_after_the_last_try_a_message_is_marked_failed_with_exponential_backoff_between_tries(
    app, create_user, closed_port, monkeypatch
):
    monkeypatch.setitem(app.config, "SMTP_HOST", LOOPBACK)
    monkeypatch.setitem(app.config, "SMTP_PORT", closed_port)
    monkeypatch.setitem(app.config, "MAIL_MAX_ATTEMPTS", 4)
    base = app.config["MAIL_RETRY_BASE_SECONDS"]
    message = queue(create_user())

    for attempt in (1, 2, 3):
        started = utcnow()
        assert deliver_due() == DeliveryReport(retried=1)
        message = reload(message)
        assert message.state == OutboxState.PENDING and message.attempts == attempt
        delay = (message.next_attempt_at - started).total_seconds()
        assert base * 2 ** (attempt - 1) <= delay < base * 2 ** (attempt - 1) + 5
        assert deliver_due() == DeliveryReport()
        wait_for_retry(message)

    assert deliver_due() == DeliveryReport(failed=1)
    message = reload(message)
    assert message.state == OutboxState.FAILED and message.attempts == 4
    assert message.last_error.startswith("ConnectionRefusedError") and message.sent_at is None
    assert deliver_due(include_waiting=True) == DeliveryReport()  # a failed message waits for a moderator


def test_worker_now_while_the_server_is_still_down_tries_each_message_once_and_fails_none(
    app, create_user, closed_port, monkeypatch, keep_sigterm_handler
):
    monkeypatch.setitem(app.config, "SMTP_HOST", LOOPBACK)
    monkeypatch.setitem(app.config, "SMTP_PORT", closed_port)
    user = create_user()
    for _ in range(2):
        queue(user)

    result = app.test_cli_runner().invoke(args=["worker", "--once", "--now"])

    assert result.output == "sent 0, to retry 2, failed 0\n"
    rows = db.session.execute(select(OutboxMessage.state, OutboxMessage.attempts)).all()
    assert [tuple(row) for row in rows] == [(OutboxState.PENDING, 1)] * 2


@pytest.mark.parametrize(
    ("stage", "reply"), [("RCPT", "550 5.1.1 no such user"), ("DATA", "554 5.7.1 message refused")]
)
def test_a_permanent_refusal_fails_at_once_and_the_rest_of_the_drain_is_delivered(app, smtp, create_user, stage, reply):
    first, refused, last = (queue(create_user()) for _ in range(3))
    if stage == "RCPT":
        smtp.handler.refused_recipients[refused.recipient] = reply
    else:
        smtp.handler.data_replies.extend([None, reply])

    assert deliver_due() == DeliveryReport(sent=2, failed=1)

    refused = reload(refused)
    assert refused.state == OutboxState.FAILED and refused.attempts == 1 and refused.sent_at is None
    assert reply.split()[0] in refused.last_error
    assert smtp.message_ids() == [first.message_id, last.message_id]
    assert reload(first).state == reload(last).state == OutboxState.SENT
    assert deliver_due(include_waiting=True) == DeliveryReport()


def test_a_required_starttls_that_the_server_does_not_offer_is_never_skipped(app, smtp, create_user, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_STARTTLS", True)
    message = queue(create_user())

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert deliver_due() == DeliveryReport(retried=1)
        gc.collect()

    assert smtp.received == []  # not sent in clear instead
    message = reload(message)
    assert message.state == OutboxState.PENDING and "STARTTLS" in message.last_error
    leaks = [str(warning.message) for warning in caught if issubclass(warning.category, ResourceWarning)]
    assert leaks == []  # the connection whose STARTTLS failed was closed


# --- the mail folder -----------------------------------------------------------------------------------------------


def test_without_smtp_each_message_becomes_one_eml_file_named_after_its_message_id(
    app, create_user, monkeypatch, tmp_path
):
    folder = tmp_path / "mail"
    monkeypatch.setitem(app.config, "SMTP_HOST", None)
    monkeypatch.setitem(app.config, "MAIL_FOLDER", str(folder))
    user = create_user()
    messages = [queue(user), queue(user)]

    assert deliver_due() == DeliveryReport(sent=2)

    names = {message.message_id.strip("<>") + ".eml" for message in messages}
    assert {path.name for path in folder.iterdir()} == names
    for message in messages:
        email = message_from_bytes(
            (folder / (message.message_id.strip("<>") + ".eml")).read_bytes(), policy=policy.default
        )
        assert email["Message-ID"] == message.message_id and email["To"] == user.email
        assert email["Subject"] == "[全国連携マッチング掲示板] パスワードが変更されました"
        assert email.get_content().replace("\r\n", "\n") == message.body

    assert deliver_due(include_waiting=True) == DeliveryReport()
    assert {path.name for path in folder.iterdir()} == names

    # Even a resend (a lease that ran out after the file was written) replaces the file rather than adding one.
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == messages[0].id)
        .values(state=OutboxState.SENDING, lease_until=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    assert deliver_due() == DeliveryReport(sent=1)
    assert {path.name for path in folder.iterdir()} == names


# --- claims and leases ---------------------------------------------------------------------------------------------


def test_a_claim_is_exclusive_until_its_lease_runs_out(app, create_user):
    user = create_user()
    first, second = queue(user), queue(user)
    now = utcnow()

    claimed = claim_next(now)
    assert (claimed.id, claimed.attempts) == (first.id, 1)
    assert claimed.email["Message-ID"] == claimed.message_id == first.message_id
    first = reload(first)
    assert first.state == OutboxState.SENDING and first.attempts == 1 and first.lease_until == now + LEASE
    assert claim_next(now).id == second.id
    assert claim_next(now) is None
    assert claim_next(now, include_waiting=True) is None  # --now does not take what a live worker holds
    assert claim_next(now + LEASE - timedelta(seconds=1), include_waiting=True) is None

    later = now + LEASE + timedelta(seconds=1)
    again = claim_next(later)  # the worker that held it is presumed dead
    assert (again.id, again.attempts) == (first.id, 2)
    assert reload(first).lease_until == later + LEASE
    assert claim_next(later).id == second.id
    assert claim_next(later) is None


def test_only_due_messages_are_claimed(app, create_user):
    user = create_user()
    sent, failed, waiting, due = (queue(user) for _ in range(4))
    now = utcnow()
    sent.state, sent.sent_at = OutboxState.SENT, now
    failed.state, failed.attempts = OutboxState.FAILED, 6
    waiting.attempts, waiting.next_attempt_at = 1, now + timedelta(minutes=2)
    db.session.commit()

    assert claim_next(now).id == due.id
    assert claim_next(now) is None
    assert claim_next(now, include_waiting=True).id == waiting.id
    assert claim_next(now, include_waiting=True) is None


# --- the worker command --------------------------------------------------------------------------------------------


def test_the_worker_command_delivers_what_is_due_and_prints_counts(app, smtp, create_user, keep_sigterm_handler):
    first, refused, last = (queue(create_user()) for _ in range(3))
    smtp.handler.refused_recipients[refused.recipient] = "550 5.1.1 no such user"
    expected = [first.message_id, last.message_id]

    result = app.test_cli_runner().invoke(args=["worker", "--once"])

    assert result.exit_code == 0, result.output
    assert result.output == "sent 2, to retry 0, failed 1\n"
    assert smtp.message_ids() == expected


def test_the_worker_command_with_now_sends_messages_waiting_for_their_retry(
    app, smtp, create_user, keep_sigterm_handler
):
    message_id = queue(create_user()).message_id
    smtp.handler.data_replies.append("451 4.3.0 try later")
    runner = app.test_cli_runner()

    assert runner.invoke(args=["worker", "--once"]).output == "sent 0, to retry 1, failed 0\n"
    assert runner.invoke(args=["worker", "--once"]).output == "sent 0, to retry 0, failed 0\n"
    assert runner.invoke(args=["worker", "--once", "--now"]).output == "sent 1, to retry 0, failed 0\n"
    assert smtp.message_ids() == [message_id]


# --- one bad message never stops the queue -------------------------------------------------------------------------
# A line separator (U+2028) in a post title once made building the subject raise inside the claim: the message
# stayed first in the queue and every later worker run died on it, with a password reset waiting behind it.

OLD_SUBJECT = "[全国連携マッチング掲示板] 新着: 黄金がに\u2028PR\u2029三国\x85港の\r\n物産展\x1b[31m\u202e秋"


def poison(message: OutboxMessage, **values) -> OutboxMessage:
    """Give a queued row values the forms refuse now but older rows (or a bug) may hold, and commit."""
    db.session.execute(update(OutboxMessage).where(OutboxMessage.id == message.id).values(**values))
    db.session.commit()
    return reload(message)


def header_section(content: bytes) -> list[bytes]:
    return content.split(b"\r\n\r\n", 1)[0].replace(b"\r\n", b"\n").split(b"\n")


def test_a_subject_with_line_separators_and_controls_from_an_older_row_goes_out_on_one_line(app, smtp, create_user):
    message = poison(queue(create_user()), subject=OLD_SUBJECT)

    assert deliver_due() == DeliveryReport(sent=1)

    [received] = smtp.received
    assert received.content.isascii()
    lines = header_section(received.content)
    assert all(len(line) <= 78 for line in lines), lines  # folded, as RFC 5322 asks
    assert received.email["Subject"] == "[全国連携マッチング掲示板] 新着: 黄金がに PR 三国 港の 物産展 [31m 秋"
    assert reload(message).state == OutboxState.SENT


@pytest.mark.parametrize(
    "headers",
    [
        {"Subject": "二つ目の件名"},  # one Subject only: building the message raises ValueError
        {"List-Unsubscribe": 3},  # not text
        {"List Unsubscribe": "<https://example.jp/u>"},  # not a header name
    ],
    ids=["second-subject", "number", "bad-name"],
)
def test_a_message_that_cannot_be_built_is_marked_failed_and_the_worker_delivers_the_rest(
    app, client, smtp, create_user, moderator, outbox, keep_sigterm_handler, headers
):
    user = create_user()
    moderator_email = moderator.email
    separator = poison(queue(user), subject=OLD_SUBJECT).message_id
    broken = poison(queue(user), headers=headers).id
    assert client.post("/password/forgot", data={"email": user.email}).status_code == 200
    [reset] = [message.message_id for message in outbox(user.email) if message.kind == "password_reset"]
    runner = app.test_cli_runner()

    result = runner.invoke(args=["worker", "--once"])  # the worker ends its session: rows are read again below

    assert result.exit_code == 0, result.output
    assert result.output == "sent 2, to retry 0, failed 1\n"
    assert smtp.message_ids() == [separator, reset]
    failed = db.session.get(OutboxMessage, broken)
    assert failed.state == OutboxState.FAILED and failed.attempts == 1
    assert failed.lease_until is None and failed.sent_at is None
    assert failed.last_error.startswith(("ValueError", "TypeError")), failed.last_error
    assert states() == {OutboxState.SENT: 2, OutboxState.FAILED: 1}

    # The next run leaves the failed message alone: it waits for a moderator, who sees why.
    assert runner.invoke(args=["worker", "--once", "--now"]).output == "sent 0, to retry 0, failed 0\n"
    assert len(smtp.received) == 2
    assert states() == {OutboxState.SENT: 2, OutboxState.FAILED: 1}
    failed = db.session.get(OutboxMessage, broken)
    assert failed.attempts == 1
    AuthActions(client).login(moderator_email)
    page = client.get("/moderation/mail").get_data(as_text=True)
    assert failed.recipient in page and escape(failed.last_error) in page


def test_a_message_the_transport_cannot_send_is_marked_failed_and_the_drain_goes_on(app, smtp, create_user):
    """smtplib raises ValueError (neither SMTPException nor OSError) for a message with two Resent- blocks."""
    user = create_user()
    first = queue(user)
    unsendable = poison(
        queue(user),
        headers={"Resent-Date": "Mon, 01 Jun 2026 09:00:00 +0900", "resent-date": "Tue, 02 Jun 2026 09:00:00 +0900"},
    )
    last = queue(user)

    assert deliver_due() == DeliveryReport(sent=2, failed=1)

    assert smtp.message_ids() == [first.message_id, last.message_id]
    unsendable = reload(unsendable)
    assert unsendable.state == OutboxState.FAILED and unsendable.attempts == 1 and unsendable.lease_until is None
    assert unsendable.last_error.startswith("ValueError") and "Resent-" in unsendable.last_error
    assert deliver_due(include_waiting=True) == DeliveryReport()


def test_a_connection_that_cannot_be_set_up_fails_no_message_for_good(app, create_user, monkeypatch):
    """smtplib cannot encode a non-ASCII password (UnicodeEncodeError): the fault is the setting, not the messages,
    which wait for their retry."""
    controller = Controller(
        RecordingHandler(),
        hostname=LOOPBACK,
        port=free_port(),
        authenticator=lambda *args: None,
        auth_require_tls=False,
    )
    controller.start()
    try:
        monkeypatch.setitem(app.config, "SMTP_HOST", LOOPBACK)
        monkeypatch.setitem(app.config, "SMTP_PORT", controller.port)
        monkeypatch.setitem(app.config, "SMTP_USERNAME", "bulletin")
        monkeypatch.setitem(app.config, "SMTP_PASSWORD", "パスワード")
        user = create_user()
        messages = [queue(user), queue(user)]

        assert deliver_due() == DeliveryReport(retried=2)
    finally:
        controller.stop()

    for message in map(reload, messages):
        assert message.state == OutboxState.PENDING and message.attempts == 1
        assert message.last_error.startswith("UnicodeEncodeError"), message.last_error


def test_a_claim_whose_message_cannot_be_built_commits_it_as_failed(app, create_user):
    user = create_user()
    broken = poison(queue(user), headers={"Message-ID": "<second@localhost>"})
    good = queue(user)

    claimed = claim_next(utcnow())

    assert claimed.id == broken.id and claimed.email is None
    assert claimed.unbuildable.startswith("ValueError")
    db.session.rollback()  # what the claim wrote is committed: nothing is left to roll back
    broken = reload(broken)
    assert (broken.state, broken.attempts, broken.lease_until) == (OutboxState.FAILED, 1, None)
    assert broken.last_error == claimed.unbuildable
    assert claim_next(utcnow()).id == good.id


# --- worker processes on a database of their own ----------------------------------------------------------------
# These need commits that other processes see, so they cannot use the rolled-back `app` fixture.


@pytest.fixture
def own_database(tmp_path) -> Iterator[str]:
    """A new database on the run's backend: a PostgreSQL database dropped afterwards, or a SQLite file (in
    memory-backed /dev/shm when there is one: the workers commit twice per message, and fsync is not under test)."""
    shm = Path("/dev/shm")
    with (
        tempfile.TemporaryDirectory(dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else tmp_path) as folder,
        new_database(Path(folder)) as url,
    ):
        yield url


@pytest.fixture
def own_app(own_database, tmp_path) -> Iterator[Flask]:
    """An app on `own_database`, migrated, inside an app context; its commits are real."""
    app = make_test_app(own_database, tmp_path)
    with app.app_context():
        upgrade()
        yield app
        db.session.remove()
        db.engine.dispose()


def queue_for_moderators(count: int) -> dict[str, str]:
    """Queue one e-mail to each of `count` new moderators (who need no organization) and commit; Message-ID ->
    recipient."""
    now = utcnow()
    users = [
        User(
            email=f"moderator{number}@secretariat.example.jp",
            password_hash="-",
            name=f"事務局 {number}",
            is_moderator=True,
            state=UserState.ACTIVE,
            confirmed_at=now,
            approved_at=now,
        )
        for number in range(count)
    ]
    db.session.add_all(users)
    db.session.flush()
    messages = [
        queue_email(
            user,
            "password_changed",
            "パスワードが変更されました",
            "password_changed",
            forgot_url=absolute_url("accounts.forgot_password"),
        )
        for user in users
    ]
    db.session.commit()
    return {message.message_id: message.recipient for message in messages}


def states() -> Counter:
    """How many messages are in each state, as the database has it now."""
    db.session.rollback()
    rows = db.session.execute(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state))
    return Counter({state: count for state, count in rows})


@dataclass
class Workers:
    """Starts `bulletin worker` processes on a database and an SMTP server, as in production."""

    database_url: str
    smtp_port: int
    folder: Path

    def env(self) -> dict[str, str]:
        inherited = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("SMTP_", "MAIL_", "BULLETIN_", "FLASK_"))
            and name not in {"DATABASE_URL", "BASE_URL", "SECRET_KEY", "REDIS_URL", "UPLOAD_DIR"}
        }
        return {
            **inherited,
            "BULLETIN_ENV": "development",
            "DATABASE_URL": self.database_url,
            "SECRET_KEY": "worker-test-secret",
            "SMTP_HOST": LOOPBACK,
            "SMTP_PORT": str(self.smtp_port),
            "SMTP_TIMEOUT": "5",
        }

    def start(self, *args: str, name: str = "worker") -> subprocess.Popen:
        """A worker process in the background; its output goes to <name>.out and <name>.err."""
        with (self.folder / f"{name}.out").open("w") as out, (self.folder / f"{name}.err").open("w") as err:
            return subprocess.Popen(
                [str(BULLETIN), "worker", *args], env=self.env(), cwd=self.folder, stdout=out, stderr=err
            )

    def output(self, name: str = "worker") -> str:
        return (self.folder / f"{name}.out").read_text() + (self.folder / f"{name}.err").read_text()

    def run(self, *args: str) -> str:
        """Run a worker to the end; its standard output."""
        result = subprocess.run(
            [str(BULLETIN), "worker", *args],
            env=self.env(),
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout


@dataclass
class KillingHandler(RecordingHandler):
    """Kills the worker (SIGKILL) while it waits for the reply to its `kill_at`-th message.

    With `accept_first`, the server has already taken the message when the worker dies: the 250 reply is lost,
    as when a worker is killed between the server's acceptance and the commit that marks the message sent.
    Without it, the worker dies before the server took the message (during DATA).
    """

    kill_at: int = 0
    accept_first: bool = False
    worker: subprocess.Popen | None = None
    data_commands: int = 0
    in_flight: str | None = None

    async def handle_DATA(self, server, session, envelope):
        self.data_commands += 1
        if self.data_commands != self.kill_at:
            return self.accept(envelope)
        self.in_flight = message_from_bytes(envelope.content, policy=policy.default)["Message-ID"]
        if self.accept_first:
            self.accept(envelope)
        self.worker.kill()
        self.worker.wait()
        return "250 2.0.0 OK: queued"  # to a dead peer


@pytest.mark.parametrize("accepted_before_the_kill", [False, True], ids=["killed-during-data", "killed-after-250"])
def test_a_worker_killed_mid_batch_loses_nothing_and_resends_at_most_the_message_in_flight(
    own_app, own_database, tmp_path, accepted_before_the_kill
):
    """Delivery is at least once. A worker has one message in flight; the only copy a kill can cause is of that
    message, and only when the server accepted it before the worker could commit it as sent (its lease then runs
    out and another worker sends it again, with the same Message-ID). Killed before the server accepted it, the
    message arrives exactly once, like every message the worker had already committed as sent."""
    total, kill_at = 200, 73
    recipients = queue_for_moderators(total)
    db.session.remove()
    handler = KillingHandler(kill_at=kill_at, accept_first=accepted_before_the_kill)
    controller = start_smtp_server(handler)
    workers = Workers(own_database, controller.port, tmp_path)
    try:
        handler.worker = worker = workers.start("--interval", "0.2")
        try:
            worker.wait(timeout=60)
        finally:
            worker.kill()
        assert worker.returncode == -signal.SIGKILL, workers.output()
        in_flight = handler.in_flight
        assert states() == {OutboxState.SENT: kill_at - 1, OutboxState.SENDING: 1, OutboxState.PENDING: total - kill_at}
        assert db.session.scalar(select(OutboxMessage.state).where(OutboxMessage.message_id == in_flight)) == "sending"

        # A new worker delivers the rest, but leaves the message whose lease is still running, even with --now.
        assert workers.run("--once", "--now") == f"sent {total - kill_at}, to retry 0, failed 0\n"
        assert states() == {OutboxState.SENT: total - 1, OutboxState.SENDING: 1}

        # When the lease runs out (five minutes: here set into the past), the message is delivered again.
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.state == OutboxState.SENDING)
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        assert workers.run("--once") == "sent 1, to retry 0, failed 0\n"
    finally:
        controller.stop()

    assert states() == {OutboxState.SENT: total}
    resent = db.session.scalar(select(OutboxMessage).where(OutboxMessage.message_id == in_flight))
    assert resent.attempts == 2 and resent.lease_until is None
    received = handler.received
    assert all(message.rcpt_tos == [recipients[message.message_id]] for message in received)
    copies = Counter(message.message_id for message in received)
    assert set(copies) == set(recipients)  # every queued message arrived
    if accepted_before_the_kill:
        # The one message in flight arrives twice, with the same Message-ID (so the recipient's mail system can
        # recognise the copy); every other message exactly once.
        assert {message_id: count for message_id, count in copies.items() if count > 1} == {in_flight: 2}
    else:
        assert set(copies.values()) == {1}


@dataclass
class WritingHandler(RecordingHandler):
    """While the worker waits for the reply to its first message, another process commits a write to the database
    (a user logs in, as on the site beside the worker)."""

    engine: Engine | None = None
    user_id: int = 0

    async def handle_DATA(self, server, session, envelope):
        if not self.received:
            with self.engine.begin() as connection:
                connection.execute(update(User).where(User.id == self.user_id).values(last_login_at=utcnow()))
        return self.accept(envelope)


def test_a_write_by_another_process_during_a_send_does_not_break_the_worker(own_app, own_database, tmp_path):
    recipients = queue_for_moderators(3)
    handler = WritingHandler(engine=db.engine, user_id=db.session.scalar(select(func.min(User.id))))
    db.session.remove()
    controller = start_smtp_server(handler)
    try:
        output = Workers(own_database, controller.port, tmp_path).run("--once")
    finally:
        controller.stop()

    assert output == "sent 3, to retry 0, failed 0\n"
    assert states() == {OutboxState.SENT: 3}
    assert sorted(message.message_id for message in handler.received) == sorted(recipients)


def test_a_claim_survives_a_commit_by_another_connection_between_its_read_and_its_update(own_app):
    [message_id] = queue_for_moderators(1)
    user_id = db.session.scalar(select(func.min(User.id)))
    db.session.remove()
    elsewhere = create_engine(db.engine.url)  # another connection: a web request, or a second worker
    commits: list[bool] = []

    def commit_elsewhere_after_the_claims_first_statement(conn, cursor, statement, *args):
        if commits or "outbox_message" not in statement:
            return
        with elsewhere.connect() as other:
            try:
                if other.dialect.name == "sqlite":  # its transaction begins here, waiting for the write lock
                    other.exec_driver_sql("PRAGMA busy_timeout = 100")
                other.execute(update(User).where(User.id == user_id).values(last_login_at=utcnow()))
                other.commit()
                commits.append(True)
            except OperationalError:  # the claim holds the write lock: the other writer waits its turn, rightly
                other.rollback()
                commits.append(False)

    event.listen(db.engine, "after_cursor_execute", commit_elsewhere_after_the_claims_first_statement)
    try:
        claimed = claim_next(utcnow())
    finally:
        event.remove(db.engine, "after_cursor_execute", commit_elsewhere_after_the_claims_first_statement)
        elsewhere.dispose()

    assert commits, "the claim ran no statement on the outbox"
    assert claimed is not None and claimed.message_id == message_id
    assert states() == {OutboxState.SENDING: 1}


@dataclass
class OverlappingHandler(RecordingHandler):
    """Answers no DATA until two clients are connected at once (ten seconds at most), so that two workers' drains
    surely overlap however their start-up times differ."""

    peers: set = field(default_factory=set)

    async def handle_DATA(self, server, session, envelope):
        self.peers.add(session.peer)
        deadline = time.monotonic() + 10
        while len(self.peers) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.skipif(not ON_POSTGRESQL, reason="concurrent workers need PostgreSQL (SKIP LOCKED)")
def test_two_workers_draining_one_outbox_never_send_a_message_twice(own_app, own_database, tmp_path):
    total = 300
    recipients = queue_for_moderators(total)
    db.session.remove()
    handler = OverlappingHandler(delay=0.002)
    controller = start_smtp_server(handler)
    workers = Workers(own_database, controller.port, tmp_path)
    processes: list[subprocess.Popen] = []
    try:
        processes.extend(workers.start("--once", name=f"worker{number}") for number in (1, 2))
        for process in processes:
            process.wait(timeout=60)
    finally:
        for process in processes:
            process.kill()
        controller.stop()

    sent_by = []
    for number, process in enumerate(processes, start=1):
        output = workers.output(f"worker{number}")
        assert process.returncode == 0, output
        [sent] = re.fullmatch(r"sent (\d+), to retry 0, failed 0\n", output).groups()
        sent_by.append(int(sent))
    assert sum(sent_by) == total
    assert all(sent_by), sent_by
    assert states() == {OutboxState.SENT: total}
    copies = Counter(message.message_id for message in handler.received)
    assert set(copies) == set(recipients) and set(copies.values()) == {1}


def test_sigterm_stops_the_worker_after_the_current_message(own_app, own_database, tmp_path):
    total = 200
    queue_for_moderators(total)
    db.session.remove()
    handler = RecordingHandler(delay=0.03)  # a drain of the whole backlog takes about six seconds
    controller = start_smtp_server(handler)
    workers = Workers(own_database, controller.port, tmp_path)
    try:
        worker = workers.start("--interval", "0.2")
        try:
            deadline = time.monotonic() + 30
            while len(handler.received) < 10 and time.monotonic() < deadline:
                time.sleep(0.01)
            worker.send_signal(signal.SIGTERM)
            stopped = True
            try:
                worker.wait(timeout=3)
            except subprocess.TimeoutExpired:
                stopped = False
        finally:
            worker.kill()
            worker.wait()
    finally:
        controller.stop()

    assert stopped, "still draining three seconds after SIGTERM"
    assert worker.returncode == 0, workers.output()
    counts = states()
    assert counts[OutboxState.SENDING] == 0  # the current message was finished, not abandoned
    assert counts[OutboxState.SENT] == len(handler.received) < total


def test_a_long_running_worker_applies_now_to_its_first_drain_only(own_app, own_database, tmp_path, closed_port):
    queue_for_moderators(2)
    db.session.remove()
    workers = Workers(own_database, closed_port, tmp_path)
    worker = workers.start("--now", "--interval", "0.2")
    try:
        deadline = time.monotonic() + 30
        while not db.session.scalar(select(func.max(OutboxMessage.attempts))) and time.monotonic() < deadline:
            db.session.rollback()
            time.sleep(0.05)
        time.sleep(1.5)  # several polls
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=10)
    finally:
        worker.kill()
        worker.wait()

    assert worker.returncode == 0, workers.output()
    db.session.rollback()
    rows = db.session.execute(select(OutboxMessage.state, OutboxMessage.attempts)).all()
    assert [tuple(row) for row in rows] == [(OutboxState.PENDING, 1)] * 2


def failed_drains(workers: Workers) -> int:
    return workers.output().count("delivering the outbox failed")


def test_a_long_running_worker_outlives_a_drain_that_fails_and_delivers_once_it_can(own_app, own_database, tmp_path):
    """Anything a drain raises (here the outbox table is missing for a while) is logged, and the worker polls again."""
    [message_id] = queue_for_moderators(1)
    db.session.execute(text("ALTER TABLE outbox_message RENAME TO outbox_message_away"))
    db.session.commit()
    db.session.remove()
    handler = RecordingHandler()
    controller = start_smtp_server(handler)
    workers = Workers(own_database, controller.port, tmp_path)
    try:
        once = subprocess.run(
            [str(BULLETIN), "worker", "--once"], env=workers.env(), cwd=tmp_path, capture_output=True, text=True
        )
        assert once.returncode == 1, once.stdout + once.stderr  # --once reports the failed drain, for cron
        assert "delivering the outbox failed" in once.stderr and "outbox_message" in once.stderr

        worker = workers.start("--interval", "0.2")
        try:
            deadline = time.monotonic() + 30
            while failed_drains(workers) < 2 and worker.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert failed_drains(workers) >= 2 and worker.poll() is None, workers.output()  # logged, still there

            db.session.execute(text("ALTER TABLE outbox_message_away RENAME TO outbox_message"))
            db.session.commit()
            deadline = time.monotonic() + 30
            while not handler.received and worker.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=10)
        finally:
            worker.kill()
            worker.wait()
    finally:
        controller.stop()

    assert worker.returncode == 0, workers.output()
    assert [received.message_id for received in handler.received] == [message_id]
    assert states() == {OutboxState.SENT: 1}
