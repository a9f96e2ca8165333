"""Browser test fixtures: the app served over HTTP from a thread, a real SMTP server catching its mail, and one
Chromium per run driven through Playwright's sync API.

The rolled-back-transaction `app` of tests/conftest.py cannot serve requests from another thread, so these tests
run their own app on a fresh SQLite file, migrated and seeded once per run. Every test keeps to its own
organizations and addresses, so that the tests stay independent although they share the database.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask, got_request_exception
from flask_migrate import upgrade
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from bulletin.accounts.models import OrgRole, User, UserState
from bulletin.accounts.passwords import hash_password
from bulletin.accounts.services import create_moderator
from bulletin.core.db import utcnow
from bulletin.extensions import db
from bulletin.notifications.delivery import deliver_due
from bulletin.organizations.services import get_by_code, make_member, seed_organizations
from tests.browser.pages import Account, LiveServer
from tests.constants import PASSWORD
from tests.factories import RecordingHandler, SMTPServer, make_test_app, start_smtp_server

CHROMIUM = os.environ.get("BULLETIN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 10_000


@pytest.fixture(scope="session")
def mail_sink() -> Iterator[SMTPServer]:
    """A real SMTP server on loopback, in its own thread, for the app to deliver to."""
    handler = RecordingHandler()
    controller = start_smtp_server(handler)
    yield SMTPServer(controller.hostname, controller.port, handler)
    controller.stop()


class QuietRequestHandler(WSGIRequestHandler):
    """No access log lines in the test output; errors are still reported."""

    def log_request(self, code="-", size="-") -> None:
        return None


def buffered(app: Flask):
    """The app as a WSGI callable that reads each response body whole and closes it before returning it.

    Werkzeug's server (3.1) closes the response only after draining the request socket; when the browser drops the
    connection (a navigation that abandons a script still loading), that drain raises and a file response such as
    /static/js/site.js is never closed. Its ResourceWarning then surfaces, through pytest's unraisable-exception
    hook and the "error" warning filter, in whichever test happens to be running when the file is collected.
    """

    def serve(environ, start_response):
        body = app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            if hasattr(body, "close"):
                body.close()

    return serve


@pytest.fixture(scope="session")
def live_server(mail_sink: SMTPServer, tmp_path_factory) -> Iterator[LiveServer]:
    """The app on its own migrated and seeded SQLite file, with CSRF on, served over HTTP from a daemon thread."""
    folder = tmp_path_factory.mktemp("browser")
    app = make_test_app(
        f"sqlite:///{folder / 'browser.sqlite'}",
        folder,
        WTF_CSRF_ENABLED=True,
        RATELIMIT_ENABLED=False,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=mail_sink.port,
        SMTP_TIMEOUT=5,
    )
    with app.app_context():
        upgrade()
        seed_organizations()
        db.session.commit()

    server: BaseWSGIServer = make_server(
        "127.0.0.1", 0, buffered(app), threaded=True, request_handler=QuietRequestHandler
    )
    live = LiveServer(app=app, url=f"http://127.0.0.1:{server.server_port}")
    app.config["BASE_URL"] = live.url  # links in e-mail lead to this server

    def record_error(sender, exception, **extra) -> None:
        live.errors.append(exception)

    got_request_exception.connect(record_error, app)
    thread = threading.Thread(target=server.serve_forever, name="bulletin-live-server", daemon=True)
    thread.start()
    yield live
    server.shutdown()
    thread.join(timeout=10)
    got_request_exception.disconnect(record_error, app)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def no_server_errors(live_server: LiveServer) -> Iterator[None]:
    """A test fails when the app raised an exception while serving it (the browser would only see a 500 page)."""
    live_server.errors.clear()
    yield
    errors, live_server.errors[:] = list(live_server.errors), []
    assert not errors, f"the app raised while serving this test: {errors!r}"


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, launched once for the run."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (set BULLETIN_CHROMIUM)")
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(chromium: Browser, live_server: LiveServer) -> Iterator[Callable[..., Page]]:
    """Factory: a page in a fresh browser context (its own cookies: one person), in Japanese; closed afterwards.

    Keyword arguments go to `Browser.new_context`, e.g. `java_script_enabled=False`.
    """
    contexts = []

    def open_page(**options) -> Page:
        context = chromium.new_context(base_url=live_server.url, locale="ja-JP", **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    """A page in a fresh browser context."""
    return new_page()


@pytest.fixture(scope="session")
def moderator(live_server: LiveServer) -> Account:
    """The secretariat's moderator, created as `bulletin create-moderator` does."""
    account = Account(email="moderator@secretariat.example.jp", password=PASSWORD, name="事務局 審査")
    with live_server.app.app_context():
        create_moderator(account.email, account.password, name=account.name)
        db.session.commit()
    return account


@pytest.fixture
def add_user(live_server: LiveServer) -> Callable[..., Account]:
    """Factory: a user of an organization put straight into the database (active, or pending approval)."""

    def add(email: str, *, code: str, name: str, state: UserState = UserState.ACTIVE) -> Account:
        with live_server.app.app_context():
            organization = get_by_code(code)
            now = utcnow()
            db.session.add(
                User(
                    email=email,
                    password_hash=hash_password(PASSWORD),
                    name=name,
                    department="企画課",
                    phone="03-1234-5678",
                    organization=organization,
                    role=OrgRole.STAFF,
                    state=state,
                    confirmed_at=now,
                    approved_at=now if state == UserState.ACTIVE else None,
                )
            )
            if state == UserState.ACTIVE:
                make_member(organization, now.date())
            db.session.commit()
        return Account(email=email, password=PASSWORD, name=name)

    return add


@pytest.fixture
def deliver_mail_and_find_link(live_server: LiveServer, mail_sink: SMTPServer) -> Callable[[str, str], str]:
    """Deliver the outbox over SMTP, then return the first link containing `path_fragment` in the newest
    message to `to_address` that has one; the link is absolute, built from BASE_URL."""

    def deliver_and_find(to_address: str, path_fragment: str) -> str:
        with live_server.app.app_context():
            report = deliver_due()
        received = mail_sink.received_by(to_address)
        for mail in reversed(received):
            for line in mail.body.splitlines():
                line = line.strip()
                if line.startswith(live_server.url + "/") and path_fragment in line:
                    return line
        bodies = "\n---\n".join(f"{mail.subject}\n{mail.body}" for mail in received) or "(none)"
        raise AssertionError(
            f"no link with {path_fragment!r} in mail to {to_address} (delivery: {report}); received:\n{bodies}"
        )

    return deliver_and_find
