"""The Cast of the notification tests, and a real SMTP server for the delivery tests: aiosmtpd on a free loopback
port, recording every message it accepts and refusing recipients or DATA on demand (the server itself is in
tests/factories.py)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask

from bulletin.accounts.models import User, UserState
from tests.constants import CHIYODA, KANAZAWA, KUSHIRO_TOWN, SAKAI, SAKAI_OSAKA, SHINAGAWA
from tests.factories import LOOPBACK, People, RecordingHandler, SMTPServer, start_smtp_server


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


@dataclass
class Cast:
    """The People of the posts tests with colleagues, co-proposers, more moderators, and accounts never told anything.

    `sakai_moderator` is a moderator and 坂井市 staff at once: their own acts would reach them if the actor were
    not left out.
    """

    people: People
    sakai_moderator: User
    moderator2: User
    shinagawa_colleague: User
    kushiro_colleague: User
    kanazawa: User  # 金沢市: invited to co-propose, declines
    sakai_osaka: User  # 堺市: invited to co-propose, never answers
    chiyoda_colleague: User
    never_told: list[User]  # suspended and deactivated accounts, two of them moderators

    @property
    def moderators(self) -> list[User]:
        """Every active moderator."""
        return [self.people.moderator, self.moderator2, self.sakai_moderator]

    @property
    def sakai_staff(self) -> list[User]:
        """Every active officer of 坂井市."""
        return [self.people.sakai, self.people.sakai_colleague, self.sakai_moderator]

    @property
    def shinagawa_staff(self) -> list[User]:
        """Every active officer of 品川区."""
        return [self.people.shinagawa, self.shinagawa_colleague]

    @property
    def kushiro_staff(self) -> list[User]:
        """Every active officer of 釧路町."""
        return [self.people.kushiro, self.kushiro_colleague]


@pytest.fixture
def cast(people: People, create_user) -> Cast:
    """The Cast of one test."""
    return Cast(
        people=people,
        sakai_moderator=create_user(SAKAI, email="moderator@city.fukui-sakai.lg.jp", is_moderator=True),
        moderator2=create_user(None, email="moderator2@secretariat.example.jp", is_moderator=True),
        shinagawa_colleague=create_user(SHINAGAWA, email="colleague@city.shinagawa.tokyo.jp"),
        kushiro_colleague=create_user(KUSHIRO_TOWN, email="colleague@town.kushiro.lg.jp"),
        kanazawa=create_user(KANAZAWA, email="staff@city.kanazawa.lg.jp"),
        sakai_osaka=create_user(SAKAI_OSAKA, email="staff@city.sakai.lg.jp"),
        chiyoda_colleague=create_user(CHIYODA, email="colleague@city.chiyoda.lg.jp"),
        never_told=[
            create_user(SAKAI, email="suspended@city.fukui-sakai.lg.jp", state=UserState.SUSPENDED),
            create_user(SAKAI, email="left@city.fukui-sakai.lg.jp", state=UserState.DEACTIVATED),
            create_user(SHINAGAWA, email="suspended@city.shinagawa.tokyo.jp", state=UserState.SUSPENDED),
            create_user(SHINAGAWA, email="left@city.shinagawa.tokyo.jp", state=UserState.DEACTIVATED),
            create_user(KUSHIRO_TOWN, email="suspended@town.kushiro.lg.jp", state=UserState.SUSPENDED),
            create_user(None, email="suspended@secretariat.example.jp", is_moderator=True, state=UserState.SUSPENDED),
            create_user(None, email="left@secretariat.example.jp", is_moderator=True, state=UserState.DEACTIVATED),
        ],
    )
