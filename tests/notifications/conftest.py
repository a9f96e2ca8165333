"""A real SMTP server for the delivery tests: aiosmtpd on a free loopback port, recording every message it
accepts and refusing recipients or DATA on demand (the server itself is in tests/factories.py)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from flask import Flask

from tests.factories import LOOPBACK, RecordingHandler, SMTPServer, start_smtp_server


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
        placeholder.bind((LOOPBACK, 0))
        yield placeholder.getsockname()[1]
