"""A real SMTP server for the delivery tests: aiosmtpd on a free loopback port, recording every message it
accepts and refusing recipients or DATA on demand; and the people and post factory of the posts tests."""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from flask import Flask

from tests.posts import conftest as posts_fixtures

HOST = "127.0.0.1"

people = posts_fixtures.people  # the people and the post factory of the posts tests serve the notification tests
make_post = posts_fixtures.make_post


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Received:
    """One message the server accepted (answered 250 to its DATA)."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    @property
    def email(self) -> EmailMessage:
        return message_from_bytes(self.content, policy=policy.default)

    @property
    def message_id(self) -> str:
        return self.email["Message-ID"]


@dataclass
class RecordingHandler:
    """aiosmtpd handler: accepts and records every message, except what the test scripts it to refuse."""

    received: list[Received] = field(default_factory=list)
    refused_recipients: dict[str, str] = field(default_factory=dict)  # address -> reply to its RCPT TO
    data_replies: deque[str | None] = field(default_factory=deque)  # replies to the next DATA commands; None: accept
    delay: float = 0.0  # seconds before answering DATA, to make a drain take a while

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refused_recipients:
            return self.refused_recipients[address]
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        reply = self.data_replies.popleft() if self.data_replies else None
        return reply or self.accept(envelope)

    def accept(self, envelope) -> str:
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 OK: queued"


@dataclass
class SMTPServer:
    """The running server, and what it received."""

    host: str
    port: int
    handler: RecordingHandler

    @property
    def received(self) -> list[Received]:
        return list(self.handler.received)

    def message_ids(self) -> list[str]:
        return [message.message_id for message in self.received]


def start_smtp_server(handler: RecordingHandler) -> Controller:
    """Start aiosmtpd in its own thread on a free loopback port."""
    controller = Controller(handler, hostname=HOST, port=free_port())
    controller.start()
    return controller


@pytest.fixture
def smtp_handler() -> RecordingHandler:
    """The handler of `smtp_server`; a test may replace it with a subclass by overriding this fixture."""
    return RecordingHandler()


@pytest.fixture
def smtp_server(smtp_handler) -> Iterator[SMTPServer]:
    """A real SMTP server on 127.0.0.1, stopped after the test."""
    controller = start_smtp_server(smtp_handler)
    try:
        yield SMTPServer(controller.hostname, controller.port, smtp_handler)
    finally:
        controller.stop()


@pytest.fixture
def smtp(app: Flask, smtp_server: SMTPServer, monkeypatch) -> SMTPServer:
    """`smtp_server`, with the app configured to deliver to it (the settings are restored afterwards)."""
    monkeypatch.setitem(app.config, "SMTP_HOST", smtp_server.host)
    monkeypatch.setitem(app.config, "SMTP_PORT", smtp_server.port)
    monkeypatch.setitem(app.config, "SMTP_TIMEOUT", 5)
    return smtp_server


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound (so nobody else takes it) but not listening."""
    with socket.socket() as placeholder:
        placeholder.bind((HOST, 0))
        yield placeholder.getsockname()[1]
