"""Test fixtures: one database per run (SQLite by default, PostgreSQL with TEST_DATABASE_URL), migrated and
seeded once; each test runs inside a transaction that is rolled back, even when the code under test commits."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import event, select

from bulletin import create_app
from bulletin.accounts.models import OrgRole, User, UserState
from bulletin.accounts.passwords import hash_password
from bulletin.core.db import utcnow
from bulletin.extensions import db
from bulletin.notifications.models import OutboxMessage
from bulletin.organizations.models import Organization
from bulletin.organizations.services import confirm_domain, make_member, seed_organizations

PASSWORD = "correct-horse-battery-staple"
SAKAI = "182109"
SHINAGAWA = "131091"
KUSHIRO_TOWN = "016616"  # 釧路町, a town of Hokkaido


def _postgres_database(url: str) -> tuple[str, Callable[[], None]]:
    """A fresh database on the server of `url`, dropped at the end of the run."""
    base = re.sub(r"^postgresql(\+psycopg)?://", "postgresql://", url)
    name = f"bulletin_test_{uuid.uuid4().hex[:10]}"
    admin_url = base.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return "postgresql+psycopg://" + base.split("://", 1)[1].rsplit("/", 1)[0] + "/" + name, drop


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    """The run's database: a new SQLite file, or a new PostgreSQL database when TEST_DATABASE_URL is set."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if url.startswith("postgres"):
        url, drop = _postgres_database(url)
        yield url
        drop()
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"


def make_test_app(database_url: str, tmp_path: Path, **overrides) -> Flask:
    """An app in testing mode on the given database."""
    config = {
        "ENV_NAME": "testing",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "MAIL_FOLDER": str(tmp_path / "mail"),
        **overrides,
    }
    return create_app(config)


@pytest.fixture(scope="session")
def base_app(database_url, tmp_path_factory) -> Iterator[Flask]:
    """The app, with the schema built by the migrations and the organizations seeded (once per run)."""
    app = make_test_app(database_url, tmp_path_factory.mktemp("app"))
    with app.app_context():
        upgrade()
        seed_organizations()
        db.session.commit()
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def app(base_app: Flask) -> Iterator[Flask]:
    """The app for one test; everything the test writes, commits included, is rolled back afterwards."""
    with base_app.app_context():
        engines = db._app_engines[base_app]
        engine = engines[None]
        connection = engine.connect()
        outer = connection.begin()
        db.session.remove()
        db.session.configure(join_transaction_mode="create_savepoint")
        engines[None] = connection  # every session of this test binds to the one connection
        try:
            yield base_app
        finally:
            db.session.remove()
            engines[None] = engine
            outer.rollback()
            connection.close()
    base_app.config.update(WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in an app context of its own, as in production.

    The `app` fixture keeps one app context pushed for the whole test, and Flask reuses a pushed app context
    for requests: `g` (where Flask-Login caches the current user and Flask-WTF the CSRF token) and the
    database session would then be shared by every request and every client of the test. A fresh context per
    request gives each request its own `g` and session; they still share the test's connection and transaction.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def isolated_client(app: Flask) -> IsolatedClient:
    """A cookie-keeping IsolatedClient for the app."""
    return IsolatedClient(app, app.response_class, use_cookies=True)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client whose requests each run in their own app context."""
    return isolated_client(app)


@pytest.fixture
def organization() -> Callable[[str], Organization]:
    """Look up a seeded organization by code."""

    def get(code: str) -> Organization:
        return db.session.scalar(select(Organization).where(Organization.code == code))

    return get


@pytest.fixture
def create_user(app, organization) -> Callable[..., User]:
    """Factory: an active (by default) user of an organization; the organization becomes a member."""
    counter = iter(range(1, 10_000))

    def create(
        code: str | None = SAKAI,
        *,
        email: str | None = None,
        state: UserState = UserState.ACTIVE,
        role: OrgRole = OrgRole.STAFF,
        is_moderator: bool = False,
        name: str | None = None,
        password: str = PASSWORD,
        confirm_org_domain: bool = False,
    ) -> User:
        number = next(counter)
        org = organization(code) if code else None
        now = utcnow()
        user = User(
            email=email or f"user{number}@{'example-' + code if code else 'secretariat'}.lg.jp",
            password_hash=hash_password(password),
            name=name or f"職員 {number}",
            department="企画課",
            phone="03-1234-5678",
            organization=org,
            role=role,
            is_moderator=is_moderator,
            state=state,
            confirmed_at=None if state == UserState.UNCONFIRMED else now,
            approved_at=now if state == UserState.ACTIVE else None,
            rejection_reason="理由" if state == UserState.REJECTED else None,
        )
        db.session.add(user)
        if org is not None and state == UserState.ACTIVE:
            make_member(org, now.date())
            if confirm_org_domain:
                confirm_domain(org, user.email_domain, None)
        db.session.commit()
        return user

    return create


@pytest.fixture
def moderator(create_user) -> User:
    """An active moderator of the secretariat."""
    return create_user(None, email="moderator@secretariat.example.jp", is_moderator=True, name="事務局 審査")


class AuthActions:
    """Log a test client in and out through the real forms."""

    def __init__(self, client: FlaskClient):
        self.client = client

    def login(self, user_or_email, password: str = PASSWORD):
        email = user_or_email if isinstance(user_or_email, str) else user_or_email.email
        return self.client.post("/login", data={"email": email, "password": password})

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client) -> AuthActions:
    """Login helper bound to the test client."""
    return AuthActions(client)


@pytest.fixture
def outbox() -> Callable[..., list[OutboxMessage]]:
    """The outbox messages written so far, optionally for one recipient."""

    def messages(recipient: str | None = None) -> list[OutboxMessage]:
        statement = select(OutboxMessage).order_by(OutboxMessage.id)
        if recipient:
            statement = statement.where(OutboxMessage.recipient == recipient)
        return list(db.session.scalars(statement))

    return messages


def link_in(body: str, path_fragment: str) -> str:
    """The first full link in a mail body that contains the fragment, as a path for the test client."""
    for line in body.splitlines():
        line = line.strip()
        if line.startswith("http") and path_fragment in line:
            return "/" + line.split("://", 1)[1].split("/", 1)[1]
    raise AssertionError(f"no link with {path_fragment!r} in:\n{body}")


class QueryCounter:
    """Counts the SQL statements executed while active."""

    def __init__(self):
        self.statements: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
            self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app):
    """Context manager factory counting queries on the app's engine."""

    class _Counting:
        def __enter__(self_inner):
            self_inner.counter = QueryCounter()
            event.listen(db.engine.engine, "before_cursor_execute", self_inner.counter)
            return self_inner.counter

        def __exit__(self_inner, *exc):
            event.remove(db.engine.engine, "before_cursor_execute", self_inner.counter)

    return _Counting
