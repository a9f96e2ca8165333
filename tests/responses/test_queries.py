"""Page cost: the conversation page and the dashboard issue a fixed number of queries whatever the number of
messages or conversations, at most 8 a page (DESIGN §7). The conversation page moves the reader's read marker: one
write on the GET that finds unread messages, none on the next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import func, insert, select, update

from bulletin.accounts.models import User
from bulletin.core.db import utcnow
from bulletin.core.text import fold, today_in_japan
from bulletin.extensions import db
from bulletin.organizations.models import Organization
from bulletin.organizations.services import get_by_code, ward_organizations
from bulletin.posts.models import Post, PostKind, PostState
from bulletin.responses.models import (
    Conversation,
    ConversationRead,
    Message,
    Partnership,
    Response,
    ResponseKind,
    ResponseState,
)
from bulletin.responses.queries import response_labels
from tests.constants import SAKAI, SHINAGAWA
from tests.factories import Page, new_client

MAX_QUERIES = 8
WRITES = ("INSERT", "UPDATE", "DELETE")


@dataclass
class Cost:
    """What one GET cost: every statement, and the writes among them."""

    queries: int
    writes: list[str]


def cost(client, count_queries, url: str) -> Cost:
    with count_queries() as counter:
        response = client.get(url)
    assert response.status_code == 200, url
    writes = [s for s in counter.statements if s.lstrip().upper().startswith(WRITES)]
    return Cost(counter.count, writes)


def add_messages(conversation: Conversation, count: int, authors: list[User]) -> None:
    """`count` messages appended to the conversation in one multi-row INSERT, the authors taking turns, and the
    conversation's counters brought up to date as the service would."""
    start = utcnow()
    rows = [
        {
            "conversation_id": conversation.id,
            "author_id": authors[number % len(authors)].id,
            "organization_id": authors[number % len(authors)].organization_id,
            "body": f"一括メッセージ {number}\n日程の相談です。",
            "created_at": start + timedelta(seconds=number),
        }
        for number in range(count)
    ]
    db.session.execute(insert(Message), rows)
    last_id = db.session.scalar(select(func.max(Message.id)).where(Message.conversation_id == conversation.id))
    db.session.execute(
        update(Conversation)
        .where(Conversation.id == conversation.id)
        .values(
            message_count=Conversation.message_count + count,
            last_message_id=last_id,
            last_message_at=start + timedelta(seconds=count),
        )
    )
    db.session.commit()


def a_conversation(sakai: User, shinagawa: User, title: str) -> Conversation:
    """坂井市's published proposal answered by 品川区, built directly: the conversation holds no message yet."""
    now = utcnow()
    post = Post(
        organization_id=sakai.organization_id,
        created_by_id=sakai.id,
        kind=PostKind.PROPOSAL,
        state=PostState.PUBLISHED,
        title=title,
        summary="件数が増えてもページの費用は変わらない。",
        category="products",
        published_at=now,
        submitted_at=now,
    )
    response = Response(post=post, organization_id=shinagawa.organization_id, author_id=shinagawa.id)
    response.kind = ResponseKind.OFFER
    conversation = Conversation(
        response=response,
        post=post,
        post_organization_id=sakai.organization_id,
        partner_organization_id=shinagawa.organization_id,
    )
    db.session.add_all([post, response, conversation])
    db.session.commit()
    return conversation


@pytest.fixture
def small_and_large(people) -> tuple[Conversation, Conversation]:
    """Two conversations of 坂井市 and 品川区, of 5 and of 500 messages, none of them read by 坂井市."""
    authors = [people.shinagawa, people.sakai, people.sakai_colleague]
    small = a_conversation(people.sakai, people.shinagawa, "5通のやりとり")
    large = a_conversation(people.sakai, people.shinagawa, "500通のやりとり")
    add_messages(small, 5, authors)
    add_messages(large, 500, authors)
    return small, large


def last_read(reader: User, conversation: Conversation) -> int | None:
    return db.session.scalar(
        select(ConversationRead.last_read_message_id).where(
            ConversationRead.conversation_id == conversation.id, ConversationRead.user_id == reader.id
        )
    )


def last_message(conversation: Conversation) -> int:
    return db.session.scalar(select(func.max(Message.id)).where(Message.conversation_id == conversation.id))


@pytest.mark.parametrize("viewer", ["sakai", "shinagawa", "moderator"])
def test_reading_a_conversation_again_costs_the_same_with_5_or_500_messages(
    client, auth, people, count_queries, small_and_large, viewer
):
    reader = getattr(people, viewer)
    auth.login(reader)
    client.get("/cases")  # the first request of a session is not what is measured
    first = [cost(client, count_queries, f"/conversations/{c.id}") for c in small_and_large]
    again = [cost(client, count_queries, f"/conversations/{c.id}") for c in small_and_large]

    expected = 0 if reader.is_moderator else 1  # members' first read moves their marker; moderators have none
    assert [len(visit.writes) for visit in first] == [expected, expected], [visit.writes for visit in first]
    assert [visit.writes for visit in again] == [[], []], "reading again wrote something"
    assert again[0].queries == again[1].queries <= MAX_QUERIES
    for conversation in small_and_large:
        assert last_read(reader, conversation) == (None if reader.is_moderator else last_message(conversation))


@pytest.mark.parametrize(
    "viewer",
    [
        "sakai",
        "shinagawa",
        "moderator",
    ],
)
def test_the_read_that_moves_the_marker_costs_the_same_with_5_or_500_messages(
    client, auth, people, count_queries, small_and_large, viewer
):
    auth.login(getattr(people, viewer))
    client.get("/cases")
    small, large = (cost(client, count_queries, f"/conversations/{c.id}") for c in small_and_large)
    assert len(small.writes) == len(large.writes) <= 1
    assert small.queries == large.queries <= MAX_QUERIES


def message_items(html: str) -> list:
    return [e for e in Page(html).all("li") if "message" in e.attrs.get("class", "").split()]


def older_link(html: str) -> str:
    [link] = [a.attrs["href"] for a in Page(html).all("a") if a.attrs.get("rel") == "prev"]
    return link


def test_a_long_conversation_opens_on_its_newest_50_messages_with_the_reply_form(client, auth, people):
    conversation = a_conversation(people.sakai, people.shinagawa, "120通のやりとり")
    add_messages(conversation, 120, [people.shinagawa, people.sakai])
    auth.login(people.sakai)
    html = client.get(f"/conversations/{conversation.id}").get_data(as_text=True)
    assert len(message_items(html)) == 50
    assert "一括メッセージ 70" in html and "一括メッセージ 119" in html and "一括メッセージ 69\n" not in html
    assert "メッセージ（120件）" in html
    assert 'id="latest"' in html and 'id="reply-heading"' in html
    assert html.count("ここから未読") == 1
    assert "最新のメッセージ" not in html

    second = client.get(older_link(html)).get_data(as_text=True)
    assert len(message_items(second)) == 50
    assert "一括メッセージ 20\n" in second and "一括メッセージ 69\n" in second and "一括メッセージ 70\n" not in second
    assert 'id="latest"' not in second and "最新のメッセージ" in second

    third = client.get(older_link(second)).get_data(as_text=True)
    assert len(message_items(third)) == 20
    assert "一括メッセージ 0\n" in third and "一括メッセージ 19\n" in third
    assert "以前のメッセージ" not in third


def test_exactly_50_messages_have_no_older_page(client, auth, people):
    conversation = a_conversation(people.sakai, people.shinagawa, "50通のやりとり")
    add_messages(conversation, 50, [people.shinagawa])
    auth.login(people.sakai)
    html = client.get(f"/conversations/{conversation.id}").get_data(as_text=True)
    assert len(message_items(html)) == 50 and "以前のメッセージ" not in html
    add_messages(conversation, 1, [people.shinagawa])
    html = client.get(f"/conversations/{conversation.id}").get_data(as_text=True)
    assert len(message_items(html)) == 50 and "以前のメッセージ" in html


def test_the_read_marker_never_passes_what_was_shown(client, auth, people):
    conversation = a_conversation(people.sakai, people.shinagawa, "120通のやりとり")
    add_messages(conversation, 120, [people.shinagawa])
    newest = last_message(conversation)
    auth.login(people.sakai)
    client.get(f"/conversations/{conversation.id}?before={newest - 49}")  # an older page, read first
    assert last_read(people.sakai, conversation) == newest - 50
    client.get(f"/conversations/{conversation.id}")
    assert last_read(people.sakai, conversation) == newest
    html = client.get(f"/conversations/{conversation.id}?before={newest - 69}").get_data(as_text=True)
    assert last_read(people.sakai, conversation) == newest  # going back never moves it backwards
    assert "ここから未読" not in html


def test_new_messages_are_marked_unread_on_the_newest_page(client, auth, people):
    conversation = a_conversation(people.sakai, people.shinagawa, "やりとり")
    add_messages(conversation, 100, [people.shinagawa])
    auth.login(people.sakai)
    client.get(f"/conversations/{conversation.id}")
    add_messages(conversation, 3, [people.shinagawa])
    html = client.get(f"/conversations/{conversation.id}").get_data(as_text=True)
    items = message_items(html)
    assert [("ここから未読" in item.text) for item in items[-4:]] == [False, True, False, False]


def test_a_new_message_is_one_write_for_the_reader(client, auth, people, count_queries):
    conversation = a_conversation(people.sakai, people.shinagawa, "やりとり")
    add_messages(conversation, 5, [people.shinagawa])
    auth.login(people.sakai)
    assert len(cost(client, count_queries, f"/conversations/{conversation.id}").writes) == 1  # the marker is new
    assert cost(client, count_queries, f"/conversations/{conversation.id}").writes == []
    add_messages(conversation, 1, [people.shinagawa])
    assert len(cost(client, count_queries, f"/conversations/{conversation.id}").writes) == 1  # it moves
    assert cost(client, count_queries, f"/conversations/{conversation.id}").writes == []
    add_messages(conversation, 1, [people.sakai_colleague])  # a colleague's message is new to the reader too
    assert len(cost(client, count_queries, f"/conversations/{conversation.id}").writes) == 1


# --- the dashboard ----------------------------------------------------------------------------------------------


def add_conversations(viewer: User, count: int, start: int = 0) -> None:
    """`count` conversations of the viewer's organization (a municipality), built directly: half on its own
    proposals, answered by wards, half its answers to wards' calls; open, accepted (with a partnership, some
    published as cases) and declined responses; one to three messages each, some of them read by the viewer."""
    wards = ward_organizations()
    own = db.session.get(Organization, viewer.organization_id)
    now = utcnow()
    conversations, partnerships = [], []
    for number in range(start, start + count):
        ward = wards[number % len(wards)]
        ours = number % 2 == 0
        post = Post(
            organization_id=own.id if ours else ward.id,
            kind=PostKind.PROPOSAL if ours else PostKind.CALL,
            state=PostState.PUBLISHED,
            title=f"一括の投稿 {number}",
            summary="件数が増えてもページの費用は変わらない。",
            category="events",
            published_at=now - timedelta(minutes=number),
            submitted_at=now - timedelta(minutes=number + 1),
        )
        post.search_text = fold(post.title)
        state = [ResponseState.OPEN, ResponseState.OPEN, ResponseState.ACCEPTED, ResponseState.DECLINED][number % 4]
        response = Response(
            post=post,
            organization_id=ward.id if ours else own.id,
            kind=list(ResponseKind)[number % 3],
            state=state,
            created_at=now - timedelta(minutes=number),
            decided_at=None if state == ResponseState.OPEN else now,
        )
        conversations.append(
            Conversation(
                response=response,
                post=post,
                post_organization_id=post.organization_id,
                partner_organization_id=response.organization_id,
                last_message_at=now - timedelta(minutes=number),
            )
        )
        if state == ResponseState.ACCEPTED:
            published = number % 8 == 2
            partnerships.append(
                Partnership(
                    post=post,
                    response=response,
                    post_organization_id=post.organization_id,
                    partner_organization_id=response.organization_id,
                    agreed_on=today_in_japan(),
                    title=f"一括の連携 {number}",
                    post_organization_consent_at=now if published else None,
                    partner_organization_consent_at=now if published else None,
                    published_at=now if published else None,
                )
            )
    db.session.add_all([*conversations, *partnerships])
    db.session.flush()
    rows = []
    for number, conversation in enumerate(conversations, start=start):
        for turn in range(1 + number % 3):
            rows.append(
                {
                    "conversation_id": conversation.id,
                    "author_id": viewer.id if turn % 2 else None,  # None: an officer who has left
                    "organization_id": conversation.partner_organization_id if turn % 2 == 0 else own.id,
                    "body": f"メッセージ {number}-{turn}",
                    "created_at": now - timedelta(minutes=number, seconds=-turn),
                }
            )
    db.session.execute(insert(Message), rows)
    last_ids = dict(
        db.session.execute(
            select(Message.conversation_id, func.max(Message.id))
            .where(Message.conversation_id.in_([c.id for c in conversations]))
            .group_by(Message.conversation_id)
        ).all()
    )
    for number, conversation in enumerate(conversations, start=start):
        conversation.last_message_id = last_ids[conversation.id]
        conversation.message_count = 1 + number % 3
    db.session.add_all(
        ConversationRead(conversation_id=c.id, user_id=viewer.id, last_read_message_id=last_ids[c.id] - 1)
        for n, c in enumerate(conversations, start=start)
        if n % 3 == 1
    )
    db.session.commit()


@pytest.mark.parametrize("viewer", ["sakai", "sakai_colleague"])
def test_the_dashboard_costs_the_same_with_3_or_200_conversations(client, auth, people, count_queries, viewer):
    add_conversations(people.sakai, 3)
    auth.login(getattr(people, viewer))
    client.get("/cases")
    small = cost(client, count_queries, "/dashboard")
    add_conversations(people.sakai, 197, start=3)
    large = cost(client, count_queries, "/dashboard")
    assert small.writes == large.writes == []
    assert large.queries == small.queries <= MAX_QUERIES


def test_the_dashboard_shows_what_it_loads(client, auth, people):
    add_conversations(people.sakai, 200)
    auth.login(people.sakai)
    html = client.get("/dashboard").get_data(as_text=True)
    assert "一括の投稿 0<" in html and "一括の投稿 19<" in html and "一括の投稿 20<" not in html
    assert 'rel="next"' in html
    html = client.get("/dashboard?page=10").get_data(as_text=True)
    assert "一括の投稿 180<" in html and "一括の投稿 199<" in html and 'rel="next"' not in html
    assert "回答を待っている応答（20件以上）" in html  # of 50 open responses: the 20 oldest shown
    assert "連携（50件）" in html and "事例公開中" in html


def test_the_dashboard_of_a_ward_costs_the_same_with_few_or_many(client, auth, people, count_queries):
    """品川区 sees the conversations on its calls and its answers; a ward other than the viewer's answers too."""
    shinagawa = get_by_code(SHINAGAWA)
    sakai = get_by_code(SAKAI)
    assert shinagawa.id == people.shinagawa.organization_id and sakai.id == people.sakai.organization_id
    add_conversations(people.sakai, 46)  # every 23rd of them is with 品川区
    auth.login(people.shinagawa)
    client.get("/cases")
    small = cost(client, count_queries, "/dashboard")
    add_conversations(people.sakai, 230, start=46)
    large = cost(client, count_queries, "/dashboard")
    assert small.writes == large.writes == []
    assert large.queries == small.queries <= MAX_QUERIES


def test_the_public_cases_cost_the_same_with_few_or_many(app, people, count_queries):
    visitor = new_client(app)
    add_conversations(people.sakai, 8)  # one published case
    visitor.get("/")
    small = cost(visitor, count_queries, "/cases")
    add_conversations(people.sakai, 400, start=8)  # 50 cases: three pages
    large = cost(visitor, count_queries, "/cases")
    second_page = cost(visitor, count_queries, "/cases?page=2")
    assert small.writes == large.writes == second_page.writes == []
    assert large.queries == small.queries == second_page.queries <= MAX_QUERIES


def test_a_post_seen_by_its_own_organization_costs_the_same_with_1_or_20_responses(client, auth, people, count_queries):
    """The post's page lists every response to its own organization: the same queries for 1 as for 20, at most 8."""
    one = a_conversation(people.sakai, people.shinagawa, "応答が1件の提案").post
    many = a_conversation(people.sakai, people.shinagawa, "応答が20件の提案").post
    for ward in [w for w in ward_organizations() if w.id != people.shinagawa.organization_id][:19]:
        response = Response(post=many, organization_id=ward.id, kind=ResponseKind.INTEREST)
        db.session.add_all(
            [
                response,
                Conversation(
                    response=response,
                    post=many,
                    post_organization_id=many.organization_id,
                    partner_organization_id=ward.id,
                ),
            ]
        )
    db.session.commit()
    auth.login(people.sakai)
    client.get("/cases")
    small, large = (cost(client, count_queries, f"/posts/{post.id}") for post in (one, many))
    assert small.writes == large.writes == []
    assert small.queries == large.queries <= MAX_QUERIES
    assert client.get(f"/posts/{many.id}").get_data(as_text=True).count('href="/conversations/') == 20


def test_the_responses_labels_are_kept_for_each_language_apart(app):
    with app.test_request_context():
        with force_locale("ja"):
            japanese = response_labels()
        with force_locale("en"):
            english = response_labels()
        with force_locale("ja"):
            assert response_labels() is japanese
    assert japanese.kinds[ResponseKind.OFFER] == "具体的に提案します"
    assert japanese.states[ResponseState.OPEN] == "回答待ち" and japanese.post_side == "投稿した団体"
    assert english.kinds[ResponseKind.OFFER] != japanese.kinds[ResponseKind.OFFER]
    assert all(label.isascii() for label in (*english.kinds.values(), *english.states.values()))
    assert "data-confirm-title" in english.accept_dialog and english.accept_dialog != japanese.accept_dialog
