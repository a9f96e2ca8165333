"""Helpers shared by the test modules: an isolated test client, an HTML reader, database snapshots, and ways to
run a second app (or a production-mode app) without leaking state into the rest of the run."""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from html.parser import HTMLParser

from flask import Flask
from flask_login import login_user
from PIL import Image
from sqlalchemy import or_, select
from werkzeug.datastructures import FileStorage
from werkzeug.local import LocalProxy

from bulletin.accounts import tokens, views
from bulletin.accounts.models import Invitation, OrgRole, User, UserState
from bulletin.core.db import utcnow
from bulletin.extensions import db, limiter
from bulletin.moderation.models import Report
from bulletin.moderation.reports import report_post
from bulletin.notifications.models import Notification, OutboxMessage, OutboxState
from bulletin.posts import services as posts
from bulletin.posts.models import Attachment, CoProposer, Post, PostKind, PostRevision
from bulletin.posts.services import PostInput
from bulletin.responses import services as responses
from bulletin.responses.models import Conversation, Message, Partnership, PartnershipPhoto, Response, ResponseKind
from tests.conftest import KUSHIRO_TOWN, SAKAI, SHINAGAWA, IsolatedClient, isolated_client  # noqa: F401

SAKAI_OSAKA = "271403"  # 堺市, whose domain city.sakai.lg.jp is often taken for 坂井市's


VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    """One element of a page: its tag, attributes and the text inside it."""

    tag: str
    attrs: dict[str, str]
    text: str = ""


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


def page_of(response) -> Page:
    """The response's body as a Page."""
    return Page(response.get_data(as_text=True))


def assert_field_error(response, field_name: str, message: str) -> None:
    """The message is shown in the field's error paragraph, the field points at it for screen readers, and the
    summary at the top of the form links to the field."""
    page = page_of(response)
    error = page.by_id(f"{field_name}-error")
    assert error is not None, f"no #{field_name}-error on the page:\n{page.html}"
    assert error.tag == "p"
    assert message in error.text, f"{message!r} not in #{field_name}-error: {error.text!r}"
    control = page.by_id(field_name)
    assert control is not None and control.tag in {"input", "textarea", "select"}, f"no control #{field_name}"
    assert control.attrs.get("aria-invalid") == "true", f"#{field_name} lacks aria-invalid: {control.attrs}"
    described_by = control.attrs.get("aria-describedby", "").split()
    assert f"{field_name}-error" in described_by, f"#{field_name} aria-describedby={described_by}"
    summary_links = [a for a in page.all("a") if a.attrs.get("href") == f"#{field_name}"]
    assert summary_links, f"the error summary does not link to #{field_name}"


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


def refuse_login_of_the_current_user_proxy(monkeypatch) -> None:
    """Make accounts.views.login_user fail loudly when given Flask-Login's `current_user` proxy itself.

    Stored as the request's user, the proxy resolves to itself: the next look-up of current_user recurses
    until the interpreter's C stack overflows, and the whole test run dies of a segmentation fault. With this
    guard the test fails with an AssertionError instead; with the real user object it changes nothing.
    """

    def guarded(user, *args, **kwargs):
        assert not isinstance(user, LocalProxy), "login_user() was given the current_user proxy, not the user"
        return login_user(user, *args, **kwargs)

    monkeypatch.setattr(views, "login_user", guarded)


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
    notification: Notification | None = None  # one of 坂井市 staff's (member_a) notifications, about the home page
    failed_mail: OutboxMessage | None = None  # an e-mail that failed after every try
    unsubscribe_token: str = ""  # member_a's link to stop "post approved" e-mail
    confirm_token: str = ""
    reset_token: str = ""
    invitation_token: str = ""
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
    partnership: Partnership | None = None  # 坂井市 accepted 品川区's answer; outcome and a photo, no consent yet
    partnership_photo: PartnershipPhoto | None = None
    consented: Partnership | None = None  # another one, both sides consented, awaiting a moderator
    case: Partnership | None = None  # another one, published as a public case, with a photo
    case_photo: PartnershipPhoto | None = None

    @property
    def attachment(self) -> Attachment:
        return self.draft.attachments[0]


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
    )
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
    db.session.flush()
    if with_posts:
        _add_posts(world, create_user(SHINAGAWA, email="reporter@city.shinagawa.tokyo.jp"))
    if with_responses:
        _add_responses(world)
    db.session.commit()
    return world


def proposal(title: str, **values) -> PostInput:
    """What a municipality's officer writes."""
    return PostInput(kind=PostKind.PROPOSAL, title=title, summary=f"{title}の概要", category="other", **values)


def call(title: str, **values) -> PostInput:
    """What a ward's officer writes."""
    return PostInput(kind=PostKind.CALL, title=title, summary=f"{title}の概要", category="events", **values)


def png_upload(name: str = "kani.png") -> FileStorage:
    """A small PNG as the browser would send it."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 80, 40)).save(buffer, format="PNG")
    buffer.seek(0)
    return FileStorage(stream=buffer, filename=name, content_type="image/png")


def _add_posts(world: World, reporter: User) -> None:
    author, moderator = world.member_a, world.moderator
    world.draft = posts.create_post(author, proposal("坂井の下書き", body="**黄金がに**"), [png_upload()])
    world.pending = posts.create_post(author, proposal("坂井の審査待ち"), submit=True)
    world.published = posts.create_post(author, proposal("坂井の黄金がに"), submit=True)
    posts.approve_post(moderator, world.published)
    world.hidden = posts.create_post(author, proposal("坂井の非公開"), submit=True)
    posts.approve_post(moderator, world.hidden)
    posts.hide_post(moderator, world.hidden, "規約に反する内容のため")
    world.revision = posts.update_post(author, world.published, proposal("坂井の黄金がに（修正）"))
    world.report = report_post(reporter, world.published, "内容が不正確です")
    world.co_proposal = posts.invite_co_proposer(author, world.draft, world.member_b.organization)


def published_post(author: User, moderator: User, values: PostInput) -> Post:
    """A post written, submitted and approved through the service verbs."""
    post = posts.create_post(author, values, submit=True)
    posts.approve_post(moderator, post)
    return post


OUTCOME = responses.OutcomeInput(
    title="しながわ水族館で黄金がにPR",
    held_from=date(2015, 11, 18),
    held_until=date(2015, 11, 23),
    venue="しながわ水族館",
    summary="坂井市の黄金がにを区民に紹介した。",
)


def accepted_partnership(world: World, title: str, *, photo: bool = False, consent: bool = False) -> Partnership:
    """坂井市's published proposal, answered by 品川区 and accepted by 坂井市, with the outcome recorded by 品川区;
    optionally with a photo and both sides' consent."""
    sakai, shinagawa = world.member_a, world.ward
    post = published_post(sakai, world.moderator, proposal(title))
    answer = responses.respond(shinagawa, post, ResponseKind.OFFER, f"{title}に応答します。")
    partnership = responses.accept_response(sakai, answer)
    responses.update_outcome(shinagawa, partnership, OUTCOME, [png_upload("水槽.png")] if photo else [])
    if consent:
        responses.consent_to_publication(sakai, partnership)
        responses.consent_to_publication(shinagawa, partnership)
    return partnership


def _add_responses(world: World) -> None:
    sakai, shinagawa, moderator = world.member_a, world.ward, world.moderator
    world.unanswered = published_post(sakai, moderator, proposal("坂井の応答待ち"))
    world.call = published_post(shinagawa, moderator, call("品川の祭りに出展を"))
    world.discussed = published_post(sakai, moderator, proposal("坂井のやりとり"))
    world.open_response = responses.respond(shinagawa, world.discussed, ResponseKind.INTEREST, "関心があります。")
    world.conversation = world.open_response.conversation
    world.ward_message = db.session.scalar(select(Message).where(Message.conversation_id == world.conversation.id))
    responses.post_message(sakai, world.conversation, "ご連絡ありがとうございます。")
    world.partnership = accepted_partnership(world, "坂井の連携", photo=True)
    world.partnership_photo = world.partnership.photos[0]
    world.consented = accepted_partnership(world, "坂井の同意済み", consent=True)
    world.case = accepted_partnership(world, "坂井の事例", photo=True, consent=True)
    world.case_photo = world.case.photos[0]
    responses.publish_case(moderator, world.case)
