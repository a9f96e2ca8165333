"""The tests' helpers, in one place: tests/conftest.py registers this module as a pytest plugin, so its fixtures
serve every test, and test modules import its plain functions and classes from here.

- databases and apps: `new_database`, `postgres_database`, `make_test_app`, `limiter_state_preserved`,
  `sharing_test_connection`
- clients: the `client` fixture, `new_client` for a second browser, `auth` (AuthActions), CSRF helpers
- reading pages: `Page`, `page_of`, `text_of`, `flashes`, `form_errors`, `assert_field_error`, `hidden_value`,
  `link_in`
- the database: `count`, `fresh`, `database_state`, `assert_unchanged`, `count_queries`, `outbox`
- people: `organization`, `create_user`, `moderator`, `people` (People)
- what officers write and send: `post_input`, `form_data`, `registration_form`, `outcome`, files and images
- posts and responses brought to a state through the service verbs: `make_post`, `proposal`, `answer`,
  `partnership`, `with_outcome`, `consented`, `case`, `respond_as`
- two-factor sign-in: `totp_clock` (Clock), `two_factor_required`, `enrol`
- the World of the route and page tests: `build_world`
- a real SMTP server: `RecordingHandler`, `SMTPServer`, `start_smtp_server`
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import io
import itertools
import re
import socket
import struct
import uuid
import zipfile
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import psycopg
import pyotp
import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient
from flask_login import login_user
from PIL import Image
from sqlalchemy import event, func, or_, select
from werkzeug.datastructures import FileStorage
from werkzeug.local import LocalProxy

from bulletin import create_app
from bulletin.accounts import sessions, tokens, two_factor, two_factor_views
from bulletin.accounts.models import EmailChange, Invitation, OrgRole, User, UserSession, UserState
from bulletin.accounts.passwords import hash_password
from bulletin.core.db import utcnow
from bulletin.core.text import today_in_japan
from bulletin.extensions import db, limiter
from bulletin.moderation.models import Report
from bulletin.moderation.reports import report_post
from bulletin.notifications.models import Notification, OutboxMessage, OutboxState
from bulletin.organizations.codes import association_code
from bulletin.organizations.models import Agreement, EmailDomain, Membership, Organization
from bulletin.organizations.services import confirm_domain, make_member
from bulletin.posts import services as posts
from bulletin.posts.models import Attachment, CoProposer, Post, PostKind, PostRevision, PostState
from bulletin.posts.services import PostInput
from bulletin.responses import services as responses
from bulletin.responses.models import (
    Conversation,
    Message,
    MessageAttachment,
    Partnership,
    PartnershipPhoto,
    Response,
    ResponseKind,
)
from bulletin.responses.services import OutcomeInput
from bulletin.saved_searches.models import SavedSearch
from tests.constants import (
    CHIYODA,
    GIFU,
    HIDE_REASON,
    KUSHIRO_TOWN,
    ON_POSTGRESQL,
    PASSWORD,
    PDF,
    RETURN_COMMENT,
    SAKAI,
    SAKAI_OSAKA,
    SHINAGAWA,
    TEST_DATABASE_URL,
)

# --- databases and apps ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """The URL of a new, empty database on the PostgreSQL server of `server_url`, dropped afterwards."""
    base = re.sub(r"^postgresql(\+psycopg)?://", "postgresql://", server_url)
    name = f"bulletin_test_{uuid.uuid4().hex[:10]}"
    admin_url = base.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield "postgresql+psycopg://" + base.split("://", 1)[1].rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def new_database(folder: Path) -> Iterator[str]:
    """The URL of a new, empty database of the run's backend: a PostgreSQL database when TEST_DATABASE_URL names a
    server (dropped afterwards), otherwise a SQLite file in `folder`."""
    if ON_POSTGRESQL:
        with postgres_database(TEST_DATABASE_URL) as url:
            yield url
    else:
        yield f"sqlite:///{folder / 'test.sqlite'}"


def make_test_app(database_url: str, tmp_path: Path, **overrides) -> Flask:
    """An app in testing mode on the given database, keeping its uploads and mail folder under `tmp_path`."""
    config = {
        "ENV_NAME": "testing",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "MAIL_FOLDER": str(tmp_path / "mail"),
        **overrides,
    }
    return create_app(config)


@contextlib.contextmanager
def limiter_state_preserved() -> Iterator[None]:
    """Flask-Limiter keeps its settings on the one module-level `limiter`, and every create_app re-initialises
    it: put it back as it was, so that an app built with rate limits on leaves no limits on the others."""
    saved = copy.copy(limiter.__dict__)
    try:
        yield
    finally:
        limiter.__dict__.clear()
        limiter.__dict__.update(saved)


@contextlib.contextmanager
def sharing_test_connection(second: Flask, first: Flask) -> Iterator[Flask]:
    """Let a second app use the connection (and so the rolled-back transaction) of the `app` fixture's test."""
    connection = db._app_engines[first][None]
    engines = db._app_engines[second]
    own_engine = engines[None]
    engines[None] = connection
    try:
        yield second
    finally:
        with second.app_context():
            db.session.remove()
        engines[None] = own_engine
        own_engine.dispose()


# --- clients -------------------------------------------------------------------------------------------------------


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in an app context of its own, as in production, and which fails
    the test on any 500.

    The `app` fixture keeps one app context pushed for the whole test, and Flask reuses a pushed app context
    for requests: `g` (where Flask-Login caches the current user and Flask-WTF the CSRF token) and the
    database session would then be shared by every request and every client of the test. A fresh context per
    request gives each request its own `g` and session; they still share the test's connection and transaction.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        assert response.status_code != 500, response.get_data(as_text=True)
        return response


def open_sessions(user: User) -> int:
    """How many signed-in sessions of the user have a row."""
    return db.session.scalar(select(func.count()).select_from(UserSession).where(UserSession.user_id == user.id)) or 0


def new_client(app: Flask, user: User | None = None, password: str = PASSWORD) -> IsolatedClient:
    """Another browser (its own cookies) on the app; logged in through the login form when a user is given."""
    browser = IsolatedClient(app, app.response_class, use_cookies=True)
    if user is not None:
        response = browser.post("/login", data={"email": user.email, "password": password})
        assert response.status_code == 302, f"{user.email} could not log in"
    return browser


@pytest.fixture
def client(app: Flask) -> IsolatedClient:
    """The test's browser: each request in its own app context; never a 500."""
    return new_client(app)


class AuthActions:
    """Log a test client in and out through the real forms."""

    def __init__(self, client: FlaskClient):
        self.client = client

    def login(self, user_or_email, password: str = PASSWORD):
        """Send the login form for the user (or address); the response."""
        email = user_or_email if isinstance(user_or_email, str) else user_or_email.email
        return self.client.post("/login", data={"email": email, "password": password})

    def logout(self):
        """Send the logout form; the response."""
        return self.client.post("/logout")


@pytest.fixture
def auth(client) -> AuthActions:
    """Login helper bound to the test client."""
    return AuthActions(client)


@pytest.fixture
def csrf(app: Flask, monkeypatch) -> None:
    """CSRF protection on, as in production (the testing configuration turns it off)."""
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)


def csrf_token_of(response) -> str:
    """The CSRF token of the first form on the page."""
    page = page_of(response)
    token = next(e.attrs["value"] for e in page.all("input") if e.attrs.get("name") == "csrf_token")
    assert token
    return token


def log_in_with_csrf(client: FlaskClient, user: User) -> str:
    """Log in through the login form with its CSRF token; the token of the session that follows."""
    token = csrf_token_of(client.get("/login"))
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, f"{user.email} could not log in"
    return csrf_token_of(client.get("/profile"))


def refuse_login_of_the_current_user_proxy(monkeypatch) -> None:
    """Make accounts.sessions.login_user fail loudly when given Flask-Login's `current_user` proxy itself.

    Stored as the request's user, the proxy resolves to itself: the next look-up of current_user recurses
    until the interpreter's C stack overflows, and the whole test run dies of a segmentation fault. With this
    guard the test fails with an AssertionError instead; with the real user object it changes nothing.
    """

    def guarded(user, *args, **kwargs):
        assert not isinstance(user, LocalProxy), "login_user() was given the current_user proxy, not the user"
        return login_user(user, *args, **kwargs)

    monkeypatch.setattr(sessions, "login_user", guarded)


# --- reading pages -------------------------------------------------------------------------------------------------

VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    """One element of a page: its tag, attributes and the text inside it."""

    tag: str
    attrs: dict[str, str]
    text: str = ""

    @property
    def classes(self) -> list[str]:
        """The element's classes."""
        return self.attrs.get("class", "").split()


class Page(HTMLParser):
    """A rendered page, read with the standard library's HTML parser."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.html = html
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.elements.append(element)
        if tag not in VOID_ELEMENTS:
            self._open.append(element)

    def handle_startendtag(self, tag, attrs):
        self.elements.append(Element(tag, {name: value or "" for name, value in attrs}))

    def handle_endtag(self, tag):
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index].tag == tag:
                del self._open[index:]
                return

    def handle_data(self, data):
        for element in self._open:
            element.text += data

    def by_id(self, element_id: str) -> Element | None:
        """The first element with this id."""
        return next((e for e in self.elements if e.attrs.get("id") == element_id), None)

    def all(self, tag: str) -> list[Element]:
        """Every element with this tag."""
        return [e for e in self.elements if e.tag == tag]

    def with_class(self, name: str) -> list[Element]:
        """Every element with this class."""
        return [e for e in self.elements if name in e.classes]


def page_of(response) -> Page:
    """The response's body as a Page."""
    return Page(response.get_data(as_text=True))


def text_of(response) -> str:
    """The response's body as text."""
    return response.get_data(as_text=True)


def flashes(response) -> list[str]:
    """The flashed messages shown on the page."""
    return [element.text.strip() for element in page_of(response).with_class("flash")]


def flashes_after(client: FlaskClient, response) -> list[str]:
    """The flashed messages shown on the page a redirect leads to."""
    assert response.status_code == 302, text_of(response)[:500]
    return flashes(client.get(response.headers["Location"]))


def form_errors(response) -> str:
    """The text of the error summary at the top of the form (which must be there)."""
    summary = next(iter(page_of(response).with_class("error-summary")), None)
    assert summary is not None, f"no error summary on the page:\n{text_of(response)}"
    return summary.text


def assert_field_error(response, field_name: str, message: str) -> None:
    """The message is shown in the field's error paragraph, the field (or its group's fieldset) points at it for
    screen readers, and the summary at the top of the form links to the field."""
    page = page_of(response)
    error = page.by_id(f"{field_name}-error")
    assert error is not None, f"no #{field_name}-error on the page:\n{page.html}"
    assert error.tag == "p"
    assert message in error.text, f"{message!r} not in #{field_name}-error: {error.text!r}"
    control = page.by_id(field_name)
    assert control is not None and control.tag in {"input", "textarea", "select", "fieldset"}, f"no #{field_name}"
    if control.tag != "fieldset":  # a group of checkboxes is described by its error, each box stays valid
        assert control.attrs.get("aria-invalid") == "true", f"#{field_name} lacks aria-invalid: {control.attrs}"
    described_by = control.attrs.get("aria-describedby", "").split()
    assert f"{field_name}-error" in described_by, f"#{field_name} aria-describedby={described_by}"
    summary_links = [a for a in page.all("a") if a.attrs.get("href") == f"#{field_name}"]
    assert summary_links, f"the error summary does not link to #{field_name}"


def hidden_value(response, action: str, name: str) -> str:
    """The value of the hidden field `name` in the form of the page that posts to `action` (e.g. the version of the
    text a moderator's decision form carries)."""
    assert response.status_code in (200, 400, 409), text_of(response)[:500]
    elements = page_of(response).elements
    start = next((i for i, e in enumerate(elements) if e.tag == "form" and e.attrs.get("action") == action), None)
    assert start is not None, f"no form to {action} on the page"
    for element in elements[start + 1 :]:
        if element.tag == "form":
            break
        if element.tag == "input" and element.attrs.get("name") == name:
            assert element.attrs.get("type") == "hidden", element.attrs
            return element.attrs["value"]
    raise AssertionError(f"no field {name!r} in the form to {action}")


def link_in(body: str, path_fragment: str) -> str:
    """The first full link in a mail body that contains the fragment, as a path for the test client."""
    for line in body.splitlines():
        line = line.strip()
        if line.startswith("http") and path_fragment in line:
            return "/" + line.split("://", 1)[1].split("/", 1)[1]
    raise AssertionError(f"no link with {path_fragment!r} in:\n{body}")


# --- the database --------------------------------------------------------------------------------------------------


def count(model, *conditions) -> int:
    """Rows of a model's table (that meet the conditions), as the database has them now."""
    return db.session.scalar(select(func.count()).select_from(model).where(*conditions))


def fresh(instance):
    """The instance's row as the database has it now (not as the session last saw it)."""
    db.session.expire_all()
    return db.session.get(type(instance), instance.id)


def _rows_statement(table):
    statement = select(table)
    if table.name == "organization":
        # Nearly 1,800 seeded rows of which only the membership ever changes, and only away from "none".
        statement = select(table.c.id, table.c.membership, table.c.member_since).where(
            or_(table.c.membership != "none", table.c.member_since.is_not(None))
        )
    return statement.order_by(*table.primary_key.columns)


def database_state() -> dict[str, list[tuple]]:
    """Every row of every table, by primary key: compare two of these to prove that nothing changed."""
    db.session.expire_all()
    return {
        table.name: [tuple(row) for row in db.session.execute(_rows_statement(table))]
        for table in db.metadata.sorted_tables
    }


def assert_unchanged(before: dict[str, list[tuple]]) -> None:
    """The database holds exactly what it held in `before`."""
    after = database_state()
    changed = [name for name in before if before[name] != after[name]]
    assert not changed, f"tables changed: {changed}"


def uploaded_files(app: Flask) -> set[str]:
    """The names of the files in the app's upload folder."""
    folder = Path(app.config["UPLOAD_DIR"])
    return {path.name for path in folder.iterdir()} if folder.is_dir() else set()


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

    @contextlib.contextmanager
    def counting() -> Iterator[QueryCounter]:
        counter = QueryCounter()
        event.listen(db.engine.engine, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            event.remove(db.engine.engine, "before_cursor_execute", counter)

    return counting


@pytest.fixture
def outbox() -> Callable[..., list[OutboxMessage]]:
    """The outbox messages written so far, optionally for one recipient."""

    def messages(recipient: str | None = None) -> list[OutboxMessage]:
        statement = select(OutboxMessage).order_by(OutboxMessage.id)
        if recipient:
            statement = statement.where(OutboxMessage.recipient == recipient)
        return list(db.session.scalars(statement))

    return messages


# --- people --------------------------------------------------------------------------------------------------------


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
            suspension_reason="規約違反のため" if state == UserState.SUSPENDED else None,
            suspended_at=now if state == UserState.SUSPENDED else None,
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


@dataclass
class People:
    """Staff of both sides and a moderator; every organization here is a member."""

    sakai: User  # 坂井市 staff: proposals
    sakai_colleague: User  # 坂井市 staff
    kushiro: User  # 釧路町 staff: proposals
    shinagawa: User  # 品川区 staff: calls
    chiyoda: User  # 千代田区 staff: calls
    moderator: User


@pytest.fixture
def people(create_user, moderator) -> People:
    """The People of one test."""
    return People(
        sakai=create_user(SAKAI, email="staff@city.fukui-sakai.lg.jp", name="坂井 職員"),
        sakai_colleague=create_user(SAKAI, email="colleague@city.fukui-sakai.lg.jp", name="坂井 同僚"),
        kushiro=create_user(KUSHIRO_TOWN, email="staff@town.kushiro.lg.jp", name="釧路町 職員"),
        shinagawa=create_user(SHINAGAWA, email="staff@city.shinagawa.tokyo.jp", name="品川 職員"),
        chiyoda=create_user(CHIYODA, email="staff@city.chiyoda.lg.jp", name="千代田 職員"),
        moderator=moderator,
    )


# --- what officers write and send ------------------------------------------------------------------------------------


def in_days(days: int) -> date:
    """A date relative to today in Japan."""
    return today_in_japan() + timedelta(days=days)


def post_input(kind: PostKind = PostKind.PROPOSAL, **overrides) -> PostInput:
    """What an author writes, with sensible values that any test may override."""
    values = {
        "kind": kind,
        "title": "黄金がにのPRイベントを開きませんか",
        "summary": "坂井市三国港の黄金がにを区民の皆さまに紹介したい。",
        "body": "## 内容\n\n- 試食\n- 漁師のトーク",
        "category": "products",
        "tags": ["黄金がに", "物産展"],
        "desired_from": in_days(30),
        "desired_until": in_days(40),
        "deadline": in_days(20),
    }
    values.update(overrides)
    return PostInput(**values)


def form_data(**overrides) -> dict:
    """The fields of /posts/new and /posts/<id>/edit as a browser sends them; None leaves a field out."""
    data = {
        "kind": "proposal",
        "title": "黄金がにのPRイベントを開きませんか",
        "summary": "坂井市三国港の黄金がにを区民の皆さまに紹介したい。",
        "body": "## 内容\n\n- 試食\n- 漁師のトーク",
        "category": "products",
        "tags": "黄金がに, 物産展",
        "desired_from": in_days(30).isoformat(),
        "desired_until": in_days(40).isoformat(),
        "deadline": in_days(20).isoformat(),
        "action": "draft",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def registration_form(**overrides) -> dict:
    """The fields of /register as a browser sends them for 坂井 花子 of 坂井市; None leaves a field out."""
    data = {
        "email": "hanako.sakai@city.fukui-sakai.lg.jp",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "name": "坂井 花子",
        "department": "観光交流課",
        "phone": "0776-50-3152",
        "organization_code": SAKAI,
        "agree": "y",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def outcome(**overrides) -> OutcomeInput:
    """The outcome of the model case (品川区 and 坂井市, 2015), which any test may change."""
    values = {
        "title": "しながわ水族館で黄金がにPR",
        "held_from": date(2015, 11, 18),
        "held_until": date(2015, 11, 23),
        "venue": "しながわ水族館",
        "summary": "坂井市の黄金がにを区民に紹介した。",
    }
    values.update(overrides)
    return OutcomeInput(**values)


def image_bytes(fmt: str, size: tuple[int, int] = (64, 48), **save_options) -> bytes:
    """A real image of the given Pillow format, made in memory."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 40, 30)).save(buffer, format=fmt, **save_options)
    return buffer.getvalue()


@cache
def blank_png(width: int, height: int, *, pixels: bool = True) -> bytes:
    """A valid black 1-bit PNG of any size, written chunk by chunk: a 10,900 x 10,900 image (a decompression bomb of
    119 million pixels) is 15 KB and takes milliseconds to make, where Pillow would first allocate every pixel.
    Without `pixels`, the image data is empty: the header is read, decoding fails."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # bit depth 1, greyscale, no interlace
    rows = (b"\x00" * (1 + (width + 7) // 8)) * height if pixels else b""  # per row: filter "none", then its bits
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def file_storage(data: bytes, filename: str) -> FileStorage:
    """An uploaded file as the services receive it."""
    return FileStorage(stream=io.BytesIO(data), filename=filename)


def image_upload(name: str = "kani.jpg", fmt: str = "JPEG", size: tuple[int, int] = (40, 30)) -> FileStorage:
    """An uploaded image as the services receive it."""
    return file_storage(image_bytes(fmt, size), name)


def pdf_upload(name: str = "報告書.pdf") -> FileStorage:
    """An uploaded PDF as the services receive it."""
    return file_storage(PDF, name)


OOXML_MAIN_PARTS = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml", "pptx": "ppt/presentation.xml"}


def office_bytes(kind: str = "docx", extra_parts: tuple[str, ...] = ()) -> bytes:
    """A minimal zip-based Office file (Word, Excel or PowerPoint) as the applications write one: its content
    types first, then its main part."""
    buffer = io.BytesIO()
    parts = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types/>',
        "_rels/.rels": '<?xml version="1.0"?><Relationships/>',
        OOXML_MAIN_PARTS[kind]: '<?xml version="1.0"?><document/>',
        **{part: "x" for part in extra_parts},
    }
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            # A fixed date: the same file byte for byte whenever it is made (a test compares a download with it).
            archive.writestr(zipfile.ZipInfo(name, date_time=(2015, 11, 1, 0, 0, 0)), text, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def office_upload(name: str = "企画書.docx", kind: str = "docx") -> FileStorage:
    """An uploaded Office file as the services receive it."""
    return file_storage(office_bytes(kind), name)


# --- posts ---------------------------------------------------------------------------------------------------------

_AFTER_PUBLICATION = (PostState.CLOSED, PostState.EXPIRED, PostState.HIDDEN)


@pytest.fixture
def make_post(moderator) -> Callable[..., Post]:
    """Factory: a post of the author's organization brought to `state` through the service verbs, committed."""
    numbers = itertools.count(1)

    def make(author: User, state: PostState = PostState.PUBLISHED, *, files=(), **fields) -> Post:
        fields.setdefault("title", f"投稿 {next(numbers)} 黄金がにのPR")
        post = posts.create_post(author, post_input(posts.kind_for(author.organization), **fields), files)
        if state in (PostState.PENDING, PostState.PUBLISHED, PostState.REJECTED) or state in _AFTER_PUBLICATION:
            posts.submit_post(author, post)
        if state == PostState.REJECTED:
            posts.reject_post(moderator, post, post.version, RETURN_COMMENT)
        if state == PostState.PUBLISHED or state in _AFTER_PUBLICATION:
            posts.approve_post(moderator, post, post.version)
        if state == PostState.CLOSED:
            posts.close_post(author, post, "partnered")
        elif state == PostState.EXPIRED:
            posts.transition(post, "expire")
        elif state == PostState.HIDDEN:
            posts.hide_post(moderator, post, HIDE_REASON)
        elif state == PostState.WITHDRAWN:
            posts.withdraw_post(author, post)
        db.session.commit()
        assert post.state == state
        return post

    return make


def published_post(author: User, moderator: User, values: PostInput) -> Post:
    """A post written, submitted and approved through the service verbs (not committed)."""
    post = posts.create_post(author, values, submit=True)
    posts.approve_post(moderator, post, post.version)
    return post


# --- responses: 坂井市's proposal answered by 品川区, step by step ----------------------------------------------------

FIRST_MESSAGE = "しながわ水族館でPRイベントを開けます。"  # what 品川区's answer says


@pytest.fixture
def proposal(people: People, make_post) -> Post:
    """坂井市's published proposal."""
    return make_post(people.sakai, title="黄金がにのPRイベント")


@pytest.fixture
def answer(people: People, proposal: Post) -> Response:
    """品川区's answer to the proposal, committed."""
    response = responses.respond(people.shinagawa, proposal, ResponseKind.INTEREST, FIRST_MESSAGE)
    db.session.commit()
    return response


@pytest.fixture
def partnership(people: People, answer: Response) -> Partnership:
    """坂井市 accepted 品川区's answer; no outcome yet."""
    record = responses.accept_response(people.sakai, answer)
    db.session.commit()
    return record


@pytest.fixture
def with_outcome(people: People, partnership: Partnership) -> Partnership:
    """The partnership with its outcome recorded by 品川区."""
    responses.update_outcome(people.shinagawa, partnership, outcome())
    db.session.commit()
    return partnership


@pytest.fixture
def consented(people: People, with_outcome: Partnership) -> Partnership:
    """The partnership with both sides' consent to publication."""
    responses.consent_to_publication(people.sakai, with_outcome)
    responses.consent_to_publication(people.shinagawa, with_outcome)
    db.session.commit()
    return with_outcome


@pytest.fixture
def case(people: People, consented: Partnership) -> Partnership:
    """The partnership published as a public case."""
    responses.publish_case(people.moderator, consented)
    db.session.commit()
    return consented


@pytest.fixture
def respond_as() -> Callable[..., Response]:
    """Factory: a committed answer of the actor to the post."""

    def respond(actor, post: Post, message: str = FIRST_MESSAGE, kind: ResponseKind = ResponseKind.INTEREST):
        response = responses.respond(actor, post, kind, message)
        db.session.commit()
        return response

    return respond


def messages_in(conversation_id: int) -> list[str]:
    """The bodies of a conversation's messages, in order."""
    statement = select(Message.body).where(Message.conversation_id == conversation_id).order_by(Message.id)
    return list(db.session.scalars(statement))


# --- two-factor sign-in -------------------------------------------------------------------------------------------


@dataclass
class Clock:
    """The time two-factor sign-in sees, moved on by hand in whole 30-second steps."""

    now: datetime

    def tick(self, steps: int = 1) -> None:
        """Move on to a later time step."""
        self.now += timedelta(seconds=two_factor.STEP_SECONDS * steps)

    def code(self, secret: str, steps: int = 0) -> str:
        """What the authenticator app shows now (or `steps` steps from now)."""
        return pyotp.TOTP(secret).at(self.now + timedelta(seconds=two_factor.STEP_SECONDS * steps))


@pytest.fixture
def totp_clock(monkeypatch) -> Clock:
    """Two-factor sign-in's clock, fixed five seconds into a time step, so that "the same code twice" and "the next
    code" mean exactly that."""
    now = utcnow().replace(microsecond=0)
    now -= timedelta(seconds=int(now.timestamp()) % two_factor.STEP_SECONDS - 5)
    fixed = Clock(now)
    monkeypatch.setattr(two_factor, "utcnow", lambda: fixed.now)
    monkeypatch.setattr(two_factor_views, "utcnow", lambda: fixed.now)
    return fixed


@pytest.fixture
def two_factor_required(app: Flask, monkeypatch) -> None:
    """Moderators must sign in with two factors, as in production (the testing configuration makes it optional)."""
    monkeypatch.setitem(app.config, "MODERATOR_TWO_FACTOR", "required")


def enrol(user: User, clock: Clock) -> tuple[str, list[str]]:
    """Turn the user's two-factor sign-in on through the service verbs and commit; the secret and the recovery codes.
    The clock moves on a step, so that the code used to enrol is not the current one any more."""
    secret = two_factor.start_enrolment(user, PASSWORD)
    codes = two_factor.confirm_enrolment(user, clock.code(secret))
    db.session.commit()
    clock.tick()
    return secret, codes


# --- the World of the route and page tests ---------------------------------------------------------------------------


@dataclass
class World:
    """The people, posts and links the route tests need: two member organizations, a ward, an org admin, a
    moderator, a suspended officer, an applicant awaiting approval, live confirmation, reset and invitation
    links, posts of 坂井市 in every state a route acts on, and 品川区's answers to 坂井市's posts at every step
    from a conversation to a public case."""

    member_a: User  # 坂井市 staff
    member_b: User  # 釧路町 staff
    ward: User  # 品川区 staff
    org_admin: User  # 坂井市 admin
    colleague: User  # 坂井市 staff, the one the admin manages
    moderator: User
    suspended: User  # 坂井市 staff, suspended
    applicant: User  # 堺市, awaiting approval
    unconfirmed: User  # 堺市, has not opened the confirmation mail yet
    forgetful: User  # 坂井市 staff, asked for a reset link
    kept_out: User  # 岐阜市 staff, active, but 岐阜市 is suspended: signed in, they see only why
    domain: EmailDomain | None = None  # town.kushiro.lg.jp, confirmed for 釧路町 by the moderator
    notification: Notification | None = None  # one of 坂井市 staff's (member_a) notifications, about the home page
    saved_search: SavedSearch | None = None  # member_a's saved search of the post list (キーワード 黄金がに)
    failed_mail: OutboxMessage | None = None  # an e-mail that failed after every try
    unsubscribe_token: str = ""  # member_a's link to stop "post approved" e-mail
    confirm_token: str = ""
    reset_token: str = ""
    invitation_token: str = ""
    email_change_token: str = ""  # colleague's link moving the account to a new address of 坂井市's domain
    email_change: EmailChange | None = None  # forgetful's change to another domain, awaiting a moderator
    draft: Post | None = None  # 坂井市's draft with an image attached; 釧路町 is invited to co-propose it
    pending: Post | None = None  # 坂井市's post awaiting review
    published: Post | None = None  # 坂井市's published post, with an edit awaiting review and a report
    hidden: Post | None = None  # 坂井市's post hidden by a moderator
    revision: PostRevision | None = None
    report: Report | None = None
    co_proposal: CoProposer | None = None
    unanswered: Post | None = None  # 坂井市's published proposal nobody has answered yet
    call: Post | None = None  # 品川区's published call, open to answers from 坂井市 and 釧路町
    discussed: Post | None = None  # 坂井市's proposal that 品川区 answered; the answer awaits a decision
    open_response: Response | None = None  # 品川区's answer to `discussed`
    conversation: Conversation | None = None  # 坂井市 ⇄ 品川区: 品川区's message, then 坂井市's reply
    ward_message: Message | None = None  # 品川区's first message in `conversation`
    file_message: Message | None = None  # 坂井市's reply in `conversation`, with a Word file
    message_file: MessageAttachment | None = None  # that file (企画書.docx)
    partnership: Partnership | None = None  # 坂井市 accepted 品川区's answer; outcome and a photo, no consent yet
    partnership_photo: PartnershipPhoto | None = None
    consented: Partnership | None = None  # another one, both sides consented, awaiting a moderator
    case: Partnership | None = None  # another one, published as a public case, with a photo
    case_photo: PartnershipPhoto | None = None

    @property
    def attachment(self) -> Attachment:
        return self.draft.attachments[0]

    @property
    def agreement(self) -> int:
        """The id of the seeded agreement with 山梨県町村会 (14 towns and villages)."""
        yamanashi = association_code("19", "towns")
        return db.session.scalar(select(Agreement.id).join(Agreement.association).where(Organization.code == yamanashi))


def build_world(create_user, moderator: User, with_posts: bool = False, with_responses: bool = False) -> World:
    """Create the World in the test's transaction (posts and responses only when asked: they cost more)."""
    org_admin = create_user(SAKAI, role=OrgRole.ADMIN, email="admin@city.fukui-sakai.lg.jp", name="坂井 管理者")
    world = World(
        member_a=create_user(SAKAI, email="staff@city.fukui-sakai.lg.jp", name="坂井 職員"),
        member_b=create_user(KUSHIRO_TOWN, email="staff@town.kushiro.lg.jp", name="釧路町 職員"),
        ward=create_user(SHINAGAWA, email="staff@city.shinagawa.tokyo.jp", name="品川 職員"),
        org_admin=org_admin,
        colleague=create_user(SAKAI, email="colleague@city.fukui-sakai.lg.jp", name="坂井 同僚"),
        moderator=moderator,
        suspended=create_user(SAKAI, email="suspended@city.fukui-sakai.lg.jp", state=UserState.SUSPENDED),
        applicant=create_user(SAKAI_OSAKA, email="applicant@city.sakai.lg.jp", state=UserState.PENDING),
        unconfirmed=create_user(SAKAI_OSAKA, email="new@city.sakai.lg.jp", state=UserState.UNCONFIRMED),
        forgetful=create_user(SAKAI, email="forgetful@city.fukui-sakai.lg.jp", name="坂井 忘却"),
        kept_out=create_user(GIFU, email="staff@city.gifu.lg.jp", name="岐阜 職員"),
    )
    suspend_organization_directly(world.kept_out.organization)
    world.domain = confirm_domain(world.member_b.organization, "town.kushiro.lg.jp", moderator.id)
    world.confirm_token = tokens.make_confirmation_token(world.unconfirmed)
    world.reset_token = tokens.make_reset_token(world.forgetful)
    token, token_hash = tokens.new_invitation_token()
    db.session.add(
        Invitation(
            organization_id=org_admin.organization_id,
            email="invitee@city.fukui-sakai.lg.jp",
            token_hash=token_hash,
            invited_by_id=org_admin.id,
            expires_at=utcnow() + timedelta(days=7),
        )
    )
    world.invitation_token = token
    world.notification = Notification(
        user_id=world.member_a.id, kind="post_approved", params={"title": "お知らせ"}, url="/"
    )
    db.session.add(world.notification)
    world.saved_search = SavedSearch(user_id=world.member_a.id, name="かにの提案", query="q=黄金がに")
    db.session.add(world.saved_search)
    world.failed_mail = OutboxMessage(
        message_id="<failed@test>",
        recipient="gone@example.jp",
        kind="test",
        subject="件名",
        body="本文",
        state=OutboxState.FAILED,
        attempts=6,
    )
    db.session.add(world.failed_mail)
    world.unsubscribe_token = tokens.make_unsubscribe_token(world.member_a, "post_approved")
    world.email_change_token = tokens.make_email_change_token(world.colleague, "moved@city.fukui-sakai.lg.jp")
    world.email_change = EmailChange(
        user_id=world.forgetful.id, old_email=world.forgetful.email, new_email="forgetful@fukui-sakai.example.jp"
    )
    db.session.add(world.email_change)
    db.session.flush()
    if with_posts:
        _add_posts(world, create_user(SHINAGAWA, email="reporter@city.shinagawa.tokyo.jp"))
    if with_responses:
        _add_responses(world)
    db.session.commit()
    return world


def suspend_organization_directly(organization: Organization, reason: str = "会費の未納のため") -> None:
    """Put a member organization in the suspended state (no mail, no log: for setting up a test)."""
    organization.membership_before_suspension = organization.membership
    organization.membership = Membership.SUSPENDED
    organization.suspension_reason = reason
    organization.suspended_at = utcnow()


def _written(kind: PostKind, title: str, **values) -> PostInput:
    """A short post of the kind: a title, its summary, a category."""
    category = "events" if kind == PostKind.CALL else "other"
    return PostInput(kind=kind, title=title, summary=f"{title}の概要", category=category, **values)


def _add_posts(world: World, reporter: User) -> None:
    author, moderator = world.member_a, world.moderator
    draft = _written(PostKind.PROPOSAL, "坂井の下書き", body="**黄金がに**")
    world.draft = posts.create_post(author, draft, [image_upload("kani.png", "PNG")])
    world.pending = posts.create_post(author, _written(PostKind.PROPOSAL, "坂井の審査待ち"), submit=True)
    world.published = published_post(author, moderator, _written(PostKind.PROPOSAL, "坂井の黄金がに"))
    world.hidden = published_post(author, moderator, _written(PostKind.PROPOSAL, "坂井の非公開"))
    posts.hide_post(moderator, world.hidden, "規約に反する内容のため")
    world.revision = posts.update_post(author, world.published, _written(PostKind.PROPOSAL, "坂井の黄金がに（修正）"))
    world.report = report_post(reporter, world.published, "内容が不正確です")
    world.co_proposal = posts.invite_co_proposer(author, world.draft, world.member_b.organization)


def _accepted_partnership(world: World, title: str, *, photo: bool = False, consent: bool = False) -> Partnership:
    """坂井市's published proposal, answered by 品川区 and accepted by 坂井市, with the outcome recorded by 品川区;
    optionally with a photo and both sides' consent."""
    sakai, shinagawa = world.member_a, world.ward
    post = published_post(sakai, world.moderator, _written(PostKind.PROPOSAL, title))
    answer = responses.respond(shinagawa, post, ResponseKind.OFFER, f"{title}に応答します。")
    partnership = responses.accept_response(sakai, answer)
    responses.update_outcome(shinagawa, partnership, outcome(), [image_upload("水槽.png", "PNG")] if photo else [])
    if consent:
        responses.consent_to_publication(sakai, partnership)
        responses.consent_to_publication(shinagawa, partnership)
    return partnership


def _add_responses(world: World) -> None:
    sakai, shinagawa, moderator = world.member_a, world.ward, world.moderator
    world.unanswered = published_post(sakai, moderator, _written(PostKind.PROPOSAL, "坂井の応答待ち"))
    world.call = published_post(shinagawa, moderator, _written(PostKind.CALL, "品川の祭りに出展を"))
    world.discussed = published_post(sakai, moderator, _written(PostKind.PROPOSAL, "坂井のやりとり"))
    world.open_response = responses.respond(shinagawa, world.discussed, ResponseKind.INTEREST, "関心があります。")
    world.conversation = world.open_response.conversation
    world.ward_message = db.session.scalar(select(Message).where(Message.conversation_id == world.conversation.id))
    reply = responses.post_message(sakai, world.conversation, "ご連絡ありがとうございます。", [office_upload()])
    world.file_message, world.message_file = reply, reply.attachments[0]
    world.partnership = _accepted_partnership(world, "坂井の連携", photo=True)
    world.partnership_photo = world.partnership.photos[0]
    world.consented = _accepted_partnership(world, "坂井の同意済み", consent=True)
    world.case = _accepted_partnership(world, "坂井の事例", photo=True, consent=True)
    world.case_photo = world.case.photos[0]
    responses.publish_case(moderator, world.case)


# --- a real SMTP server --------------------------------------------------------------------------------------------

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
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

    @property
    def subject(self) -> str:
        return str(self.email["Subject"])

    @property
    def body(self) -> str:
        """The plain-text body, decoded from its transfer encoding and charset."""
        return self.email.get_body(preferencelist=("plain",)).get_content()


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

    def received_by(self, recipient: str) -> list[Received]:
        """The messages received for this address so far, oldest first."""
        return [mail for mail in self.received if recipient.lower() in (r.lower() for r in mail.rcpt_tos)]

    def message_ids(self) -> list[str]:
        return [message.message_id for message in self.received]


def start_smtp_server(handler: RecordingHandler) -> Controller:
    """Start aiosmtpd in its own thread on a free loopback port."""
    controller = Controller(handler, hostname=LOOPBACK, port=free_port())
    controller.start()
    return controller
