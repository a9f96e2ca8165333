"""Races settled by the database, on SQLite and on PostgreSQL: requests from several threads, each through its own
test client, app context, session and connection, against a database of their own whose commits are real. A barrier
starts them together. On PostgreSQL a second barrier, inside the code under test, holds every request at the point
where it has checked and not yet written, so that the race happens every time rather than now and then. On SQLite a
request that writes holds the write lock from its first statement (BEGIN IMMEDIATE), so the requests run one after
the other and none may fail with "database is locked". Rows are counted afterwards."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pyotp
import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import select, update

from bulletin.accounts import services as accounts
from bulletin.accounts import staff_review, two_factor
from bulletin.accounts.models import OrgRole, RecoveryCode, StaffReview, User, UserSession, UserState
from bulletin.accounts.passwords import hash_password
from bulletin.core.audit import ModerationDecision
from bulletin.core.db import utcnow, write_intent
from bulletin.core.security_events import SecurityEvent, SecurityEventKind
from bulletin.extensions import db
from bulletin.moderation import services as moderation
from bulletin.notifications.delivery import deliver_due
from bulletin.notifications.models import Notification, OutboxMessage
from bulletin.organizations.models import EmailDomain, Membership, Organization
from bulletin.organizations.services import get_by_code, make_member, seed_organizations
from bulletin.posts import services as posts
from bulletin.posts import views as post_views
from bulletin.posts.models import CoProposer, Post, PostRevision, PostState, RevisionState
from bulletin.responses import services
from bulletin.responses.models import Conversation, Message, Partnership, Response, ResponseKind, ResponseState
from tests.constants import (
    ALREADY_DECIDED,
    CHIYODA,
    CONFIRMED,
    GIFU,
    KANAZAWA,
    KUSHIRO_TOWN,
    ON_POSTGRESQL,
    PASSWORD,
    SAKAI,
    SHINAGAWA,
)
from tests.factories import (
    count,
    flashes_after,
    form_data,
    limiter_state_preserved,
    make_test_app,
    new_client,
    new_database,
    post_input,
    published_post,
    registration_form,
    text_of,
)

TIMEOUT = 20  # seconds a thread waits at a barrier before the test gives up
ALREADY_ANSWERED = "この投稿にはすでに応答しています。"


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory) -> Iterator[Flask]:
    """An app on a database of this module's own (PostgreSQL, or a SQLite file), migrated and seeded, whose commits
    are real."""
    with new_database(tmp_path_factory.mktemp("races")) as url:
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
    """The author's proposal, approved by the moderator and committed."""
    post = published_post(author, moderator, post_input(title=title))
    db.session.commit()
    return post


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
    number of times), so that no request gets past that point before all have reached it.

    PostgreSQL only: on SQLite the first request holds the write lock until it commits, so the others cannot reach
    that point before it is done (they would wait at the barrier for a thread waiting for their lock)."""
    barrier = threading.Barrier(parties, timeout=TIMEOUT)
    if not ON_POSTGRESQL:
        return barrier
    real = getattr(module, name)

    def held(*args, **kwargs):
        barrier.wait()
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, held)
    return barrier


def count_of(model, *conditions) -> int:
    """Rows as a new session sees them, the threads' commits included."""
    db.session.remove()
    return count(model, *conditions)


@pytest.fixture
def moderator(officer) -> User:
    return officer(None)


# --- answering ----------------------------------------------------------------------------------------------------


def test_two_wards_answering_the_same_post_at_the_same_instant_both_succeed(app, officer, moderator, monkeypatch):
    sakai, shinagawa, chiyoda = officer(SAKAI), officer(SHINAGAWA), officer(CHIYODA)
    post = published_proposal(sakai, moderator, "二つの区が同時に応答する投稿")
    post_id, wards = post.id, sorted([shinagawa.organization_id, chiyoda.organization_id])
    browsers = [new_client(app, shinagawa), new_client(app, chiyoda)]
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
    browsers = [new_client(app, first), new_client(app, second)]
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
    if ON_POSTGRESQL:  # both passed the check: the loser is told on the form, not given a 500
        assert statuses == [302, 400], statuses
        refused = next(result for result in results if result.status_code == 400)
        assert ALREADY_ANSWERED in refused.get_data(as_text=True)
    else:  # the second came after the first: it is taken to the conversation the first one opened
        assert statuses == [302, 302], statuses
        assert len({result.headers["Location"] for result in results}) == 1


# --- accepting ----------------------------------------------------------------------------------------------------

PARALLEL = 8


def test_parallel_accepts_of_one_response_record_one_partnership(app, officer, moderator, monkeypatch):
    sakai, shinagawa = officer(SAKAI), officer(SHINAGAWA)
    colleagues = [sakai, *(officer(SAKAI) for _ in range(PARALLEL - 1))]
    post = published_proposal(sakai, moderator, "同時に受け入れられる応答")
    answer = services.respond(shinagawa, post, ResponseKind.OFFER, "しながわ水族館でいかがでしょう。")
    db.session.commit()
    post_id, answer_id, conversation_id = post.id, answer.id, answer.conversation.id
    browsers = [new_client(app, colleague) for colleague in colleagues]  # a double click, and colleagues
    decided = hold_until_all_arrive(monkeypatch, services, "_decide", parties=PARALLEL)

    accept = f"/responses/{answer_id}/accept"
    results = all_at_once([lambda browser=browser: browser.post(accept, data=CONFIRMED) for browser in browsers])

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
    accepting, declining = new_client(app, sakai), new_client(app, colleague)
    path = f"/responses/{answer_id}"
    decided = hold_until_all_arrive(monkeypatch, services, "_decide", parties=2)

    accepted, declined = all_at_once(
        [
            lambda: accepting.post(f"{path}/accept", data=CONFIRMED),
            lambda: declining.post(f"{path}/decline", data=CONFIRMED),
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
    browsers = [new_client(app, writer) for writer in writers]

    results = all_at_once(
        [
            lambda browser=browser, n=n: browser.post(conversation, data={"message": f"書き込み{n}"})
            for n, browser in enumerate(browsers)
        ]
    )

    assert [result.status_code for result in results] == [302] * len(writers)
    assert count_of(Message, Message.conversation_id == conversation_id) == len(writers) + 1
    assert db.session.get(Conversation, conversation_id).message_count == len(writers) + 1


# --- moderation decisions ------------------------------------------------------------------------------------------


def notified(kind: str, title: str) -> Counter:
    """How many notifications of a kind about a title each user has."""
    db.session.remove()
    rows = db.session.execute(select(Notification.user_id, Notification.params).where(Notification.kind == kind))
    return Counter(user_id for user_id, params in rows if (params or {}).get("title") == title)


def log_lines(action: str, subject_id: int) -> int:
    """How many lines of the moderation log record this action on this subject."""
    return count_of(
        ModerationDecision, ModerationDecision.action == action, ModerationDecision.subject_id == subject_id
    )


def fresh(model, identity):
    """The row as the database has it now (not as this test's session last saw it)."""
    db.session.remove()
    return db.session.get(model, identity)


def pending_proposal(author: User, title: str) -> Post:
    post = posts.create_post(author, post_input(title=title), submit=True)
    db.session.commit()
    return post


@pytest.mark.parametrize("second", ["approve", "reject"])
def test_two_moderators_deciding_one_post_at_the_same_instant_decide_once(app, officer, monkeypatch, second):
    title = f"二人の事務局が同時に{second}する投稿"
    sakai, first_moderator, second_moderator = officer(SAKAI), officer(None), officer(None)
    post = pending_proposal(sakai, title)
    post_id, version, sakai_id = post.id, str(post.version), sakai.id
    browsers = [new_client(app, first_moderator), new_client(app, second_moderator)]
    moved = hold_until_all_arrive(monkeypatch, posts, "transition", parties=2)

    results = all_at_once(
        [
            lambda: browsers[0].post(f"/moderation/posts/{post_id}/approve", data={"version": version}),
            lambda: browsers[1].post(
                f"/moderation/posts/{post_id}/{second}",
                data={"reason": "写真を差し替えてください。", "version": version},
            ),
        ]
    )

    assert not moved.broken
    assert [result.status_code for result in results] == [302, 302]
    state = fresh(Post, post_id).state
    assert state in (PostState.PUBLISHED, PostState.REJECTED)
    decisions = log_lines("approve_post", post_id) + log_lines("reject_post", post_id)
    assert decisions == 1
    winner_kind = "post_approved" if state == PostState.PUBLISHED else "post_rejected"
    loser_kind = "post_rejected" if state == PostState.PUBLISHED else "post_approved"
    told = notified(winner_kind, title)
    assert told[sakai_id] == 1 and set(told.values()) == {1}
    assert not notified(loser_kind, title)
    losers = [(b, r) for b, r in zip(browsers, results, strict=True) if r.headers["Location"] != "/moderation"]
    assert len(losers) == 1
    label = "公開中" if state == PostState.PUBLISHED else "差し戻し"
    assert f"この投稿は「{label}」のため、この操作はできません。" in flashes_after(*losers[0])


CHANGED_WHILE_REVIEWED = "審査中に投稿者が内容を更新しました。最新の内容を確認してから判断してください。"
EDITED_MEANWHILE = "編集している間に、この投稿は更新されました。最新の内容を確認してから、もう一度編集してください。"
HEAD_START = 0.5  # seconds the request that goes second waits after both arrived


def hold_both_then_one_first(monkeypatch, module, name: str, goes_first: Callable[..., bool]) -> threading.Barrier:
    """As hold_until_all_arrive for two calls; then the call for which goes_first(*args, **kwargs) is false waits a
    moment, so that the other one writes first and the order under test is the one that happens (PostgreSQL only:
    on SQLite the requests run one after the other in either order, and the test accepts both)."""
    barrier = threading.Barrier(2, timeout=TIMEOUT)
    if not ON_POSTGRESQL:
        return barrier
    real = getattr(module, name)

    def held(*args, **kwargs):
        barrier.wait()
        if not goes_first(*args, **kwargs):
            time.sleep(HEAD_START)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, held)
    return barrier


def is_a_decision(*args, **values) -> bool:
    """Whether a guarded update is a moderator's decision (it moves the state), not an author's edit."""
    return "state" in values


def is_an_edit(*args, **values) -> bool:
    """Whether a guarded update is an author's edit (a new version), not a moderator's decision."""
    return not is_a_decision(*args, **values)


@pytest.mark.parametrize("first", ["edit", "approval"])
def test_an_edit_racing_the_approval_of_the_version_before_it_never_publishes_the_edit(
    app, officer, monkeypatch, first
):
    title, edited = f"審査中に書き換えられる投稿（{first}）", f"審査中に書き換えたタイトル（{first}）"
    sakai, moderator = officer(SAKAI), officer(None)
    post = pending_proposal(sakai, title)
    post_id, seen, sakai_id = post.id, post.version, sakai.id
    author, deciding = new_client(app, sakai), new_client(app, moderator)
    # both requests have read and checked the post, and not yet written it: hold them there, then one goes first
    writing = hold_both_then_one_first(
        monkeypatch,
        posts,
        "guarded_update",
        is_a_decision if first == "approval" else is_an_edit,
    )

    edit, approval = all_at_once(
        [
            lambda: author.post(f"/posts/{post_id}/edit", data=form_data(title=edited)),
            lambda: deciding.post(f"/moderation/posts/{post_id}/approve", data={"version": str(seen)}),
        ]
    )

    assert not writing.broken
    stored = fresh(Post, post_id)
    if ON_POSTGRESQL:
        assert stored.state == (PostState.PUBLISHED if first == "approval" else PostState.PENDING)
    if stored.state == PostState.PUBLISHED:  # the approval came first: it published what the moderator was shown
        assert (stored.title, log_lines("approve_post", post_id)) == (title, 1)
        assert approval.headers["Location"] == "/moderation"
        assert notified("post_approved", title)[sakai_id] == 1
        if edit.status_code == 400:  # the edit found the post published under it
            assert EDITED_MEANWHILE in text_of(edit)
        else:  # it came after the commit and saw a published post: held as a revision, as any such edit
            held = db.session.scalars(select(PostRevision).where(PostRevision.post_id == post_id)).all()
            assert [(r.state, r.content["title"]) for r in held] == [(RevisionState.PENDING, edited)]
        decision = db.session.scalar(
            select(ModerationDecision).where(
                ModerationDecision.action == "approve_post", ModerationDecision.subject_id == post_id
            )
        )
        assert decision.details["version"] == seen
    else:  # the edit came first: approving the version before it is refused, and nothing is decided
        assert (stored.state, stored.title, stored.version) == (PostState.PENDING, edited, seen + 1)
        assert log_lines("approve_post", post_id) == 0
        assert edit.status_code == 302
        assert approval.headers["Location"] == f"/moderation/posts/{post_id}"
        assert CHANGED_WHILE_REVIEWED in flashes_after(deciding, approval)
        assert not notified("post_approved", title) and not notified("post_approved", edited)


@pytest.mark.parametrize("first", ["edit", "approval"])
def test_an_edit_racing_the_approval_of_the_revision_before_it_never_publishes_the_edit(
    app, officer, monkeypatch, first
):
    title, revised, edited = (
        f"公開中の投稿（{first}）",
        f"審査中の修正（{first}）",
        f"審査中に書き換えた修正（{first}）",
    )
    sakai, moderator = officer(SAKAI), officer(None)
    post = published_proposal(sakai, moderator, title)
    revision = posts.update_post(sakai, post, post_input(title=revised))
    db.session.commit()
    post_id, revision_id, seen = post.id, revision.id, revision.version
    author, deciding = new_client(app, sakai), new_client(app, moderator)
    writing = hold_both_then_one_first(
        monkeypatch,
        posts,
        "guarded_update",
        is_a_decision if first == "approval" else is_an_edit,
    )

    edit, approval = all_at_once(
        [
            lambda: author.post(f"/posts/{post_id}/edit", data=form_data(title=edited)),
            lambda: deciding.post(f"/moderation/revisions/{revision_id}/approve", data={"version": str(seen)}),
        ]
    )

    assert not writing.broken
    assert edit.status_code == 302  # an edit of a published post is always held as a revision
    published = fresh(Post, post_id)
    decided = db.session.get(PostRevision, revision_id)
    pending = db.session.scalars(
        select(PostRevision).where(PostRevision.post_id == post_id, PostRevision.state == RevisionState.PENDING)
    ).all()
    if ON_POSTGRESQL:
        assert decided.state == (RevisionState.APPROVED if first == "approval" else RevisionState.PENDING)
    if decided.state == RevisionState.APPROVED:  # the approval came first: it published the revision it was shown
        assert (published.title, decided.content["title"], decided.version) == (revised, revised, seen)
        assert [r.content["title"] for r in pending] == [edited]  # the edit is a new revision, awaiting review
        assert log_lines("approve_revision", post_id) == 1
        assert approval.headers["Location"] == "/moderation"
    else:  # the edit came first: approving the version before it is refused, and the published text stays
        assert published.title == title
        assert [(r.id, r.version, r.content["title"]) for r in pending] == [(revision_id, seen + 1, edited)]
        assert log_lines("approve_revision", post_id) == 0
        assert CHANGED_WHILE_REVIEWED in flashes_after(deciding, approval)


def test_two_officers_submitting_one_draft_at_the_same_instant_submit_it_once(app, officer, monkeypatch):
    title = "二人が同時に審査に出す下書き"
    sakai, colleague, moderator = officer(SAKAI), officer(SAKAI), officer(None)
    moderator_id = moderator.id
    post = posts.create_post(sakai, post_input(title=title))
    db.session.commit()
    post_id = post.id
    browsers = [new_client(app, sakai), new_client(app, colleague)]
    moved = hold_until_all_arrive(monkeypatch, posts, "transition", parties=2)

    results = all_at_once([lambda browser=browser: browser.post(f"/posts/{post_id}/submit") for browser in browsers])

    assert not moved.broken
    assert [result.status_code for result in results] == [302, 302]
    assert fresh(Post, post_id).state == PostState.PENDING
    told = notified("post_submitted", title)
    assert told[moderator_id] == 1 and set(told.values()) == {1}
    messages = [flashes_after(browser, result) for browser, result in zip(browsers, results, strict=True)]
    assert sorted(
        "この投稿は審査に出せません。" in shown or "この投稿は「審査待ち」のため、この操作はできません。" in shown
        for shown in messages
    ) == [False, True], messages


def test_hiding_one_post_twice_at_the_same_instant_hides_it_once(app, officer, monkeypatch):
    title = "二人の事務局が同時に非公開にする投稿"
    sakai, first_moderator, second_moderator = officer(SAKAI), officer(None), officer(None)
    post_id = published_proposal(sakai, first_moderator, title).id
    browsers = [new_client(app, first_moderator), new_client(app, second_moderator)]
    moved = hold_until_all_arrive(monkeypatch, posts, "transition", parties=2)

    results = all_at_once(
        [
            lambda browser=browser: browser.post(
                f"/moderation/posts/{post_id}/hide", data={"reason": "規約違反", **CONFIRMED}
            )
            for browser in browsers
        ]
    )

    assert not moved.broken
    assert [result.status_code for result in results] == [302, 302]
    hidden = fresh(Post, post_id)
    assert (hidden.state, hidden.hidden_reason, hidden.hidden_from_state) == (PostState.HIDDEN, "規約違反", "published")
    assert log_lines("hide_post", post_id) == 1
    shown = [flashes_after(browser, result) for browser, result in zip(browsers, results, strict=True)]
    refusal = "この投稿は「非公開（事務局）」のため、この操作はできません。"
    assert sorted(refusal in messages for messages in shown) == [False, True], shown


def test_two_invitations_of_one_organization_at_the_same_instant_invite_it_once(app, officer, monkeypatch):
    sakai, colleague, moderator = officer(SAKAI), officer(SAKAI), officer(None)
    officer(KUSHIRO_TOWN)  # 釧路町 becomes a member
    post_id = published_proposal(sakai, moderator, "同時に二度招待される共同提案").id
    browsers = [new_client(app, sakai), new_client(app, colleague)]
    looked_up = hold_until_all_arrive(monkeypatch, post_views, "get_by_code", parties=2)

    results = all_at_once(
        [
            lambda browser=browser: browser.post(
                f"/posts/{post_id}/co-proposers", data={"organization_code": KUSHIRO_TOWN}
            )
            for browser in browsers
        ]
    )

    assert not looked_up.broken
    assert [result.status_code for result in results] == [302, 302]
    assert count_of(CoProposer, CoProposer.post_id == post_id) == 1
    shown = [flashes_after(browser, result) for browser, result in zip(browsers, results, strict=True)]
    assert sorted("この団体はすでに招待されています。" in messages for messages in shown) == [False, True], shown


def test_two_registrations_of_one_new_address_at_the_same_instant_create_one_account(app, monkeypatch):
    email = "hanako.race@city.fukui-sakai.lg.jp"
    data = registration_form(email=email)
    browsers = [new_client(app), new_client(app)]
    looked_up = hold_until_all_arrive(monkeypatch, accounts, "get_user_by_email", parties=2)

    results = all_at_once([lambda browser=browser: browser.post("/register", data=data) for browser in browsers])

    assert not looked_up.broken
    assert [(result.status_code, result.headers.get("Location")) for result in results] == [(302, "/register/sent")] * 2
    assert count_of(User, User.email == email) == 1
    confirmations = count_of(OutboxMessage, OutboxMessage.recipient == email, OutboxMessage.kind == "confirm_email")
    assert confirmations == 1


# --- suspension and confirmed domains -------------------------------------------------------------------------------


def security_lines(kind: SecurityEventKind, user_id: int) -> int:
    return count_of(SecurityEvent, SecurityEvent.kind == kind, SecurityEvent.user_id == user_id)


def test_two_moderators_suspending_one_account_at_the_same_instant_suspend_it_once(app, officer, monkeypatch):
    sakai, first_moderator, second_moderator = officer(SAKAI), officer(None), officer(None)
    sakai_id, email = sakai.id, sakai.email
    browsers = [new_client(app, first_moderator), new_client(app, second_moderator)]
    deciding = hold_until_all_arrive(monkeypatch, moderation, "guarded_update", parties=2)

    results = all_at_once(
        [
            lambda browser=browser, n=n: browser.post(
                f"/moderation/users/{sakai_id}/suspend", data={"reason": f"{n}人目の理由"}
            )
            for n, browser in enumerate(browsers, start=1)
        ]
    )

    assert not deciding.broken
    assert [result.status_code for result in results] == [302, 302]
    assert fresh(User, sakai_id).state == UserState.SUSPENDED
    assert log_lines("suspend_user", sakai_id) == 1
    assert security_lines(SecurityEventKind.SUSPENDED, user_id=sakai_id) == 1
    assert count_of(OutboxMessage, OutboxMessage.recipient == email, OutboxMessage.kind == "account_suspended") == 1
    shown = [flashes_after(browser, result) for browser, result in zip(browsers, results, strict=True)]
    assert sorted("このアカウントはすでに停止されています。" in messages for messages in shown) == [False, True]


def test_two_moderators_suspending_each_other_at_the_same_instant_leave_one_of_them(app, officer, monkeypatch):
    """Each sees another active moderator before deciding; the lock on the moderators' rows makes the second look
    again after the first one's commit, and refuse: the board is never left without a moderator."""
    first, second = officer(None), officer(None)
    pair = (first.id, second.id)
    db.session.execute(  # the two are the only active moderators (earlier tests of this module left others)
        update(User)
        .where(User.is_moderator.is_(True), User.id.not_in(pair), User.state == UserState.ACTIVE)
        .values(state=UserState.DEACTIVATED)
    )
    db.session.commit()
    browsers = [new_client(app, first), new_client(app, second)]
    counted = hold_until_all_arrive(monkeypatch, moderation, "other_active_moderators", parties=2)

    results = all_at_once(
        [
            lambda: browsers[0].post(f"/moderation/users/{pair[1]}/suspend", data={"reason": "相手を停止"}),
            lambda: browsers[1].post(f"/moderation/users/{pair[0]}/suspend", data={"reason": "相手を停止"}),
        ]
    )

    assert not counted.broken
    assert all(result.status_code == 302 for result in results)
    states = sorted(fresh(User, user_id).state for user_id in pair)
    assert states == [UserState.ACTIVE, UserState.SUSPENDED]
    assert log_lines("suspend_user", pair[0]) + log_lines("suspend_user", pair[1]) == 1


def test_two_moderators_suspending_one_organization_at_the_same_instant_suspend_it_once(app, officer, monkeypatch):
    staff, moderators = [officer(GIFU), officer(GIFU)], [officer(None), officer(None)]
    emails, gifu_id = [member.email for member in staff], staff[0].organization_id
    browsers = [new_client(app, moderator) for moderator in moderators]
    deciding = hold_until_all_arrive(monkeypatch, moderation, "guarded_update", parties=2)

    results = all_at_once(
        [
            lambda browser=browser: browser.post(f"/moderation/organizations/{GIFU}/suspend", data={"reason": "同時"})
            for browser in browsers
        ]
    )

    assert not deciding.broken
    assert [result.status_code for result in results] == [302, 302]
    assert fresh(Organization, gifu_id).membership == Membership.SUSPENDED
    assert log_lines("suspend_organization", gifu_id) == 1
    for email in emails:
        sent = count_of(OutboxMessage, OutboxMessage.recipient == email, OutboxMessage.kind == "organization_suspended")
        assert sent == 1
    shown = [flashes_after(browser, result) for browser, result in zip(browsers, results, strict=True)]
    assert sorted("この団体はすでに停止されています。" in messages for messages in shown) == [False, True]


def test_two_moderators_adding_one_domain_at_the_same_instant_confirm_it_once(app, officer, monkeypatch):
    chiyoda, moderators = officer(CHIYODA), [officer(None), officer(None)]
    organization_id = chiyoda.organization_id
    browsers = [new_client(app, moderator) for moderator in moderators]
    confirming = hold_until_all_arrive(monkeypatch, moderation, "confirm_domain", parties=2)

    results = all_at_once(
        [
            lambda browser=browser: browser.post(
                f"/moderation/organizations/{CHIYODA}/domains", data={"domain": "city.chiyoda.lg.jp"}
            )
            for browser in browsers
        ]
    )

    assert not confirming.broken
    assert sorted(result.status_code for result in results) == [302, 400]
    assert count_of(EmailDomain, EmailDomain.domain == "city.chiyoda.lg.jp") == 1
    assert log_lines("confirm_domain", organization_id) == 1
    refused = next(result for result in results if result.status_code == 400)
    assert "city.chiyoda.lg.jp はすでにこの団体のドメインとして確認済みです。" in refused.get_data(as_text=True)


# --- consent and publication ---------------------------------------------------------------------------------------


def partnership_with_outcome(sakai: User, shinagawa: User, moderator: User, title: str) -> Partnership:
    post = published_proposal(sakai, moderator, title)
    answer = services.respond(shinagawa, post, ResponseKind.OFFER, "しながわ水族館でいかがでしょう。")
    partnership = services.accept_response(sakai, answer)
    services.update_outcome(
        sakai,
        partnership,
        services.OutcomeInput(title, utcnow().date(), utcnow().date(), "しながわ水族館", "3,000人が来場しました。"),
    )
    db.session.commit()
    return partnership


def test_consenting_twice_at_the_same_instant_consents_once(app, officer, monkeypatch):
    title = "二人が同時に公開に同意する連携"
    sakai, colleague, shinagawa, moderator = officer(SAKAI), officer(SAKAI), officer(SHINAGAWA), officer(None)
    partnership_id = partnership_with_outcome(sakai, shinagawa, moderator, title).id
    browsers = [new_client(app, sakai), new_client(app, colleague)]
    consenting = hold_until_all_arrive(monkeypatch, services, "consent_to_publication", parties=2)

    results = all_at_once(
        [lambda browser=browser: browser.post(f"/partnerships/{partnership_id}/consent") for browser in browsers]
    )

    assert not consenting.broken
    assert [result.status_code for result in results] == [302, 302]
    assert fresh(Partnership, partnership_id).post_organization_consent_at is not None
    shown = [flashes_after(browser, result) for browser, result in zip(browsers, results, strict=True)]
    assert sorted("この連携の公開にはすでに同意しています。" in messages for messages in shown) == [False, True], shown


def test_publishing_one_case_twice_at_the_same_instant_publishes_it_once(app, officer, monkeypatch):
    title = "二人の事務局が同時に公開する事例"
    sakai, shinagawa, first_moderator, second_moderator = (
        officer(SAKAI),
        officer(SHINAGAWA),
        officer(None),
        officer(None),
    )
    partnership = partnership_with_outcome(sakai, shinagawa, first_moderator, title)
    services.consent_to_publication(sakai, partnership)
    services.consent_to_publication(shinagawa, partnership)
    db.session.commit()
    partnership_id = partnership.id
    browsers = [new_client(app, first_moderator), new_client(app, second_moderator)]
    publishing = hold_until_all_arrive(monkeypatch, services, "publish_case", parties=2)

    results = all_at_once(
        [
            lambda browser=browser: browser.post(f"/partnerships/{partnership_id}/publish", data=CONFIRMED)
            for browser in browsers
        ]
    )

    assert not publishing.broken
    assert [result.status_code for result in results] == [302, 302]
    assert fresh(Partnership, partnership_id).published_at is not None
    assert log_lines("publish_case", partnership_id) == 1
    shown = [flashes_after(browser, result) for browser, result in zip(browsers, results, strict=True)]
    assert sorted("この連携はすでに事例として公開されています。" in messages for messages in shown) == [False, True]


# --- two-factor sign-in -------------------------------------------------------------------------------------------


def enrolled(officer_of_sakai: User) -> tuple[str, list[str]]:
    """Two-factor sign-in turned on and committed; the secret and the recovery codes."""
    secret = two_factor.start_enrolment(officer_of_sakai, PASSWORD)
    codes = two_factor.confirm_enrolment(officer_of_sakai, pyotp.TOTP(secret).now())
    db.session.commit()
    return secret, codes


def at_the_code_step(app: Flask, user: User, browsers: int = 2) -> list:
    """Browsers that gave the user's right password and wait for the code."""
    waiting = [new_client(app) for _ in range(browsers)]
    for browser in waiting:
        response = browser.post("/login", data={"email": user.email, "password": PASSWORD})
        assert response.headers["Location"] == "/login/two-factor"
    return waiting


def test_one_recovery_code_sent_twice_at_the_same_instant_signs_in_once(app, officer, monkeypatch):
    user = officer(SAKAI)
    _, codes = enrolled(user)
    user_id = user.id
    browsers = at_the_code_step(app, user)
    held = hold_until_all_arrive(monkeypatch, two_factor, "hash_recovery_code", parties=2)

    results = all_at_once(
        [lambda browser=browser: browser.post("/login/two-factor", data={"code": codes[0]}) for browser in browsers]
    )

    assert not held.broken
    assert sorted(result.status_code for result in results) == [200, 302]
    assert count_of(UserSession, UserSession.user_id == user_id) == 1
    assert count_of(RecoveryCode, RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_not(None)) == 1
    refused = next(result for result in results if result.status_code == 200)
    assert "確認コードが正しくありません。" in refused.get_data(as_text=True)


def test_one_code_from_the_app_sent_twice_at_the_same_instant_signs_in_once(app, officer, monkeypatch):
    user = officer(SAKAI)
    secret, _ = enrolled(user)  # the code of this time step went to enrol: the next one signs in
    user_id, code = user.id, pyotp.TOTP(secret).at(utcnow() + timedelta(seconds=two_factor.STEP_SECONDS))
    browsers = at_the_code_step(app, user)
    held = hold_until_all_arrive(monkeypatch, two_factor, "matching_step", parties=2)

    results = all_at_once(
        [lambda browser=browser: browser.post("/login/two-factor", data={"code": code}) for browser in browsers]
    )

    assert not held.broken
    assert sorted(result.status_code for result in results) == [200, 302]
    assert count_of(UserSession, UserSession.user_id == user_id) == 1
    refused = next(result for result in results if result.status_code == 200)
    assert "この確認コードはすでに使われています。" in refused.get_data(as_text=True)


# --- many officers at once -----------------------------------------------------------------------------------------


def test_officers_signing_in_reading_and_writing_at_once_beside_the_worker_never_get_an_error(app, officer):
    """Each request that read and then wrote (a login's last_login_at, a read marker, a message) used to fail on
    SQLite with "database is locked" when another connection had written in between, the mail worker included."""
    sakai, shinagawa, moderator = officer(SAKAI), officer(SHINAGAWA), officer(None)
    post = published_proposal(sakai, moderator, "大勢が同時に読み書きする投稿")
    answer = services.respond(shinagawa, post, ResponseKind.INTEREST, "最初のメッセージ")
    db.session.commit()
    conversation_id = answer.conversation.id
    conversation = f"/conversations/{conversation_id}"
    emails = [officer(code).email for code in (SAKAI, SHINAGAWA) * 4]
    rounds = 6

    def officer_at_work(email: str) -> list[tuple[str, int]]:
        browser = new_client(app)
        statuses = [("login", browser.post("/login", data={"email": email, "password": PASSWORD}).status_code)]
        for number in range(rounds):
            statuses.append(("read", browser.get(conversation).status_code))
            statuses.append(("write", browser.post(conversation, data={"message": f"{number}回目"}).status_code))
            statuses.append(("notifications", browser.get("/notifications").status_code))
        return statuses

    def worker() -> list[tuple[str, int]]:
        delivered = []
        with app.app_context():
            for _ in range(rounds * 2):
                delivered.append(("worker", deliver_due(include_waiting=True).sent))
                db.session.remove()
        return delivered

    results = all_at_once([lambda email=email: officer_at_work(email) for email in emails] + [worker])

    failures = [(kind, status) for statuses in results[:-1] for kind, status in statuses if status >= 500]
    assert not failures
    assert {status for statuses in results[:-1] for kind, status in statuses if kind == "write"} == {302}
    assert count_of(Message, Message.conversation_id == conversation_id) == 1 + len(emails) * rounds


def test_twenty_registrations_of_an_officers_address_at_the_same_instant_mail_it_at_most_three_times(app, officer):
    victim = officer(SAKAI).email
    browsers = [new_client(app) for _ in range(20)]

    results = all_at_once(
        [
            lambda browser=browser, n=n: browser.post(
                "/register", data=registration_form(email=victim), environ_base={"REMOTE_ADDR": f"198.51.100.{n}"}
            )
            for n, browser in enumerate(browsers)
        ]
    )

    assert {(result.status_code, result.headers.get("Location")) for result in results} == {(302, "/register/sent")}
    assert count_of(OutboxMessage, OutboxMessage.recipient == victim, OutboxMessage.kind == "already_registered") == 3


# --- the April review ------------------------------------------------------------------------------------------


def test_two_runs_of_the_reminders_at_the_same_instant_remind_each_organization_once(app, officer, monkeypatch):
    for code in (SAKAI, KUSHIRO_TOWN, SHINAGAWA):
        officer(code)
    opening = date(2031, 3, 1)  # a year no other test reviews
    moved = hold_until_all_arrive(monkeypatch, staff_review, "organizations_under_review", parties=2)

    def run() -> int:
        token = write_intent.set(True)  # as the command does: on SQLite the run takes the write lock first
        try:
            with app.app_context():
                reminded = staff_review.send_reminders(opening)
                db.session.commit()
                return reminded
        finally:
            write_intent.reset(token)

    with app.app_context():
        results = all_at_once([run, run])
    assert not moved.broken
    asked = count_of(StaffReview, StaffReview.fiscal_year == 2031)
    assert asked >= 3 and sorted(results) == [0, asked]
    db.session.remove()
    reminded = Counter(
        db.session.scalars(
            select(OutboxMessage.recipient).where(
                OutboxMessage.kind == "staff_review_reminder", OutboxMessage.subject.contains("2031年度")
            )
        )
    )
    assert reminded and set(reminded.values()) == {1}


def test_one_review_sent_twice_at_the_same_instant_deactivates_once(app, officer, monkeypatch):
    admin, leaving = officer(KANAZAWA), officer(KANAZAWA)
    with app.app_context():
        db.session.get(User, admin.id).role = OrgRole.ADMIN
        db.session.commit()
    form = {f"choice-{admin.id}": "keep", f"choice-{leaving.id}": "deactivate"}
    browsers = [new_client(app, admin), new_client(app, admin)]
    moved = hold_until_all_arrive(monkeypatch, staff_review, "_record_confirmation", parties=2)

    results = all_at_once(
        [lambda browser=browser: browser.post("/organization/review", data=form) for browser in browsers]
    )

    assert not moved.broken
    assert sorted(result.status_code for result in results) in ([302, 302], [302, 400])
    assert fresh(User, leaving.id).state == UserState.DEACTIVATED
    organization_id = fresh(User, admin.id).organization_id
    assert count_of(StaffReview, StaffReview.organization_id == organization_id) == 1
    assert count_of(SecurityEvent, SecurityEvent.kind == "deactivated", SecurityEvent.user_id == leaving.id) == 1
    for result in results:
        if result.status_code == 400:
            assert "職員の状態がほかの操作で変わりました。" in result.get_data(as_text=True)
