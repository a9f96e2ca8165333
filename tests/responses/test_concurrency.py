"""Races settled by the database (PostgreSQL): requests from several threads, each through its own test client, app
context, session and connection, against a database of their own whose commits are real. A barrier starts them
together; a second barrier, inside the code under test, holds every request at the point where it has checked
and not yet written, so that the race happens every time rather than now and then. Rows are counted afterwards."""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, select

from bulletin.accounts.models import OrgRole, User, UserState
from bulletin.accounts.passwords import hash_password
from bulletin.core.db import utcnow
from bulletin.extensions import db
from bulletin.organizations.services import get_by_code, make_member, seed_organizations
from bulletin.posts import services as posts
from bulletin.posts.models import Post
from bulletin.responses import services
from bulletin.responses.models import Conversation, Message, Partnership, Response, ResponseKind, ResponseState
from tests.conftest import PASSWORD, SAKAI, SHINAGAWA, _postgres_database, make_test_app
from tests.posts.conftest import CHIYODA, post_input
from tests.support import isolated_client, limiter_state_preserved, page_of

ON_POSTGRESQL = os.environ.get("TEST_DATABASE_URL", "").startswith("postgres")
pytestmark = pytest.mark.skipif(
    not ON_POSTGRESQL,
    reason="concurrent transactions need PostgreSQL: SQLite lets one writer at a time hold the whole database",
)

TIMEOUT = 20  # seconds a thread waits at a barrier before the test gives up
ALREADY_ANSWERED = "この投稿にはすでに応答しています。"
ALREADY_DECIDED = "この応答にはすでに回答しています。"


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory) -> Iterator[Flask]:
    """An app on a PostgreSQL database of this module's own, migrated and seeded, whose commits are real."""
    url, drop = _postgres_database(os.environ["TEST_DATABASE_URL"])
    with limiter_state_preserved():
        app = make_test_app(url, tmp_path_factory.mktemp("concurrency"))
    with app.app_context():
        upgrade()
        seed_organizations()
        db.session.commit()
        db.session.remove()
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop()


@pytest.fixture
def app(shared_app) -> Iterator[Flask]:
    """The shared app with a context pushed for the test's own setup and counting (not for the requests)."""
    with shared_app.app_context():
        yield shared_app
        db.session.remove()


_numbers = itertools.count(1)


@pytest.fixture
def officer(app) -> Callable[..., User]:
    """Factory: a committed, active officer of the organization with this code (None: a moderator)."""

    def create(code: str | None) -> User:
        number = next(_numbers)
        organization = get_by_code(code) if code else None
        now = utcnow()
        user = User(
            email=f"race{number}@{'example-' + code if code else 'secretariat'}.lg.jp",
            password_hash=hash_password(PASSWORD),
            name=f"職員 {number}",
            department="企画課",
            organization=organization,
            role=OrgRole.STAFF,
            is_moderator=code is None,
            state=UserState.ACTIVE,
            confirmed_at=now,
            approved_at=now,
        )
        db.session.add(user)
        if organization is not None:
            make_member(organization, now.date())
        db.session.commit()
        return user

    return create


def published_proposal(author: User, moderator: User, title: str) -> Post:
    post = posts.create_post(author, post_input(title=title), submit=True)
    posts.approve_post(moderator, post)
    db.session.commit()
    return post


def logged_in(app: Flask, user: User):
    browser = isolated_client(app)
    assert browser.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    return browser


def all_at_once(requests: list[Callable[[], object]]) -> list:
    """Run the requests in threads of their own, started together by a barrier; their results in order."""
    start = threading.Barrier(len(requests), timeout=TIMEOUT)

    def run(request):
        start.wait()
        return request()

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(run, requests))


def hold_until_all_arrive(monkeypatch, module, name: str, parties: int) -> threading.Barrier:
    """Make every call of module.name wait until `parties` calls have arrived (each thread calling it the same
    number of times), so that no request gets past that point before all have reached it."""
    barrier = threading.Barrier(parties, timeout=TIMEOUT)
    real = getattr(module, name)

    def held(*args, **kwargs):
        barrier.wait()
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, held)
    return barrier


def count_of(model, *conditions) -> int:
    db.session.remove()
    return db.session.scalar(select(func.count()).select_from(model).where(*conditions))


def flashes_after(browser, response) -> list[str]:
    """The messages shown on the page a redirect leads to."""
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    page = page_of(browser.get(response.headers["Location"]))
    return [e.text.strip() for e in page.elements if "flash" in e.attrs.get("class", "").split()]


@pytest.fixture
def moderator(officer) -> User:
    return officer(None)


# --- answering ----------------------------------------------------------------------------------------------------


def test_two_wards_answering_the_same_post_at_the_same_instant_both_succeed(app, officer, moderator, monkeypatch):
    sakai, shinagawa, chiyoda = officer(SAKAI), officer(SHINAGAWA), officer(CHIYODA)
    post = published_proposal(sakai, moderator, "二つの区が同時に応答する投稿")
    post_id, wards = post.id, sorted([shinagawa.organization_id, chiyoda.organization_id])
    browsers = [logged_in(app, shinagawa), logged_in(app, chiyoda)]
    respond = f"/posts/{post_id}/respond"
    # each request looks for its organization's answer twice (the page, then the service): hold both each time
    checked = hold_until_all_arrive(monkeypatch, services, "existing_response", parties=2)

    results = all_at_once(
        [
            lambda browser=browser: browser.post(respond, data={"kind": "interest", "message": "同時に応答します。"})
            for browser in browsers
        ]
    )

    assert not checked.broken
    assert [result.status_code for result in results] == [302, 302]
    assert all(result.headers["Location"].startswith("/conversations/") for result in results)
    assert count_of(Response, Response.post_id == post_id) == 2
    assert count_of(Conversation, Conversation.post_id == post_id) == 2
    organizations = db.session.scalars(select(Response.organization_id).where(Response.post_id == post_id)).all()
    assert sorted(organizations) == wards


def test_one_organization_answering_twice_at_the_same_instant_answers_once(app, officer, moderator, monkeypatch):
    sakai = officer(SAKAI)
    first, second = officer(SHINAGAWA), officer(SHINAGAWA)  # two officers of 品川区, or one with two tabs
    post = published_proposal(sakai, moderator, "同じ区が二重に応答する投稿")
    post_id = post.id
    browsers = [logged_in(app, first), logged_in(app, second)]
    respond = f"/posts/{post_id}/respond"
    checked = hold_until_all_arrive(monkeypatch, services, "existing_response", parties=2)

    results = all_at_once(
        [
            lambda browser=browser, n=n: browser.post(respond, data={"kind": "offer", "message": f"{n}人目です。"})
            for n, browser in enumerate(browsers, start=1)
        ]
    )

    assert not checked.broken
    assert count_of(Response, Response.post_id == post_id) == 1
    assert count_of(Conversation, Conversation.post_id == post_id) == 1
    assert count_of(Message, Message.conversation_id == Conversation.id, Conversation.post_id == post_id) == 1
    statuses = sorted(result.status_code for result in results)
    assert statuses == [302, 400], statuses  # the loser is told on the form, not given a 500
    refused = next(result for result in results if result.status_code == 400)
    assert ALREADY_ANSWERED in refused.get_data(as_text=True)


# --- accepting ----------------------------------------------------------------------------------------------------

PARALLEL = 8


def test_parallel_accepts_of_one_response_record_one_partnership(app, officer, moderator, monkeypatch):
    sakai, shinagawa = officer(SAKAI), officer(SHINAGAWA)
    colleagues = [sakai, *(officer(SAKAI) for _ in range(PARALLEL - 1))]
    post = published_proposal(sakai, moderator, "同時に受け入れられる応答")
    answer = services.respond(shinagawa, post, ResponseKind.OFFER, "しながわ水族館でいかがでしょう。")
    db.session.commit()
    post_id, answer_id, conversation_id = post.id, answer.id, answer.conversation.id
    browsers = [logged_in(app, colleague) for colleague in colleagues]  # a double click, and colleagues
    decided = hold_until_all_arrive(monkeypatch, services, "_decide", parties=PARALLEL)

    accept = f"/responses/{answer_id}/accept"
    results = all_at_once([lambda browser=browser: browser.post(accept) for browser in browsers])

    assert not decided.broken
    assert count_of(Partnership, Partnership.response_id == answer_id) == 1
    assert count_of(Partnership, Partnership.post_id == post_id) == 1
    assert db.session.get(Response, answer_id).state == ResponseState.ACCEPTED
    locations = [result.headers.get("Location", "") for result in results]
    winners = [n for n, location in enumerate(locations) if location.startswith("/partnerships/")]
    assert len(winners) == 1, locations
    for n, (browser, result) in enumerate(zip(browsers, results, strict=True)):
        if n not in winners:
            assert result.headers["Location"] == f"/conversations/{conversation_id}"
            assert ALREADY_DECIDED in flashes_after(browser, result)


def test_accepting_and_declining_at_the_same_instant_decides_once(app, officer, moderator, monkeypatch):
    sakai, colleague, shinagawa = officer(SAKAI), officer(SAKAI), officer(SHINAGAWA)
    post = published_proposal(sakai, moderator, "受け入れとお断りが同時に届く応答")
    answer = services.respond(shinagawa, post, ResponseKind.INTEREST, "関心があります。")
    db.session.commit()
    answer_id = answer.id
    accepting, declining = logged_in(app, sakai), logged_in(app, colleague)
    path = f"/responses/{answer_id}"
    decided = hold_until_all_arrive(monkeypatch, services, "_decide", parties=2)

    accepted, declined = all_at_once(
        [
            lambda: accepting.post(f"{path}/accept"),
            lambda: declining.post(f"{path}/decline"),
        ]
    )

    assert not decided.broken
    partnerships = count_of(Partnership, Partnership.response_id == answer_id)
    state = db.session.get(Response, answer_id).state
    assert (state, partnerships) in {(ResponseState.ACCEPTED, 1), (ResponseState.DECLINED, 0)}
    loser = (declining, declined) if state == ResponseState.ACCEPTED else (accepting, accepted)
    assert ALREADY_DECIDED in flashes_after(*loser)


# --- writing ------------------------------------------------------------------------------------------------------


def test_parallel_messages_are_all_counted(app, officer, moderator):
    sakai, shinagawa = officer(SAKAI), officer(SHINAGAWA)
    post = published_proposal(sakai, moderator, "同時に書き込まれるやりとり")
    answer = services.respond(shinagawa, post, ResponseKind.INTEREST, "最初のメッセージ")
    db.session.commit()
    conversation_id = answer.conversation.id
    conversation = f"/conversations/{conversation_id}"
    writers = [sakai, shinagawa, *(officer(code) for code in (SAKAI, SHINAGAWA) * 3)]
    browsers = [logged_in(app, writer) for writer in writers]

    results = all_at_once(
        [
            lambda browser=browser, n=n: browser.post(conversation, data={"message": f"書き込み{n}"})
            for n, browser in enumerate(browsers)
        ]
    )

    assert [result.status_code for result in results] == [302] * len(writers)
    assert count_of(Message, Message.conversation_id == conversation_id) == len(writers) + 1
    assert db.session.get(Conversation, conversation_id).message_count == len(writers) + 1
