"""Notifications (DESIGN §4): who is told of each event, in the app and by e-mail, and who never is; the per-kind
preferences and the daily digest (`bulletin digest`); the notification centre and the header's unread count; the
fan-out to many recipients in a fixed number of statements; and the text of the e-mail."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import func, insert, select

from bulletin.accounts import services as accounts
from bulletin.accounts import tokens
from bulletin.accounts.models import OrgRole, User, UserState
from bulletin.accounts.passwords import hash_password
from bulletin.core import signals
from bulletin.core.db import utcnow
from bulletin.core.urls import path_for
from bulletin.extensions import db
from bulletin.moderation.reports import report_message, report_post
from bulletin.notifications import services as notifications
from bulletin.notifications.delivery import build_email, deliver_due
from bulletin.notifications.kinds import KINDS
from bulletin.notifications.models import DeliveryMode, Notification, NotificationPreference, OutboxMessage
from bulletin.organizations.models import Membership
from bulletin.posts import services as posts
from bulletin.posts.models import PostState
from bulletin.responses import services as responses
from bulletin.responses.models import Message, Response, ResponseKind
from tests.constants import PASSWORD, SAKAI, SAKAI_OSAKA, SHINAGAWA
from tests.factories import count, in_days, outcome, page_of
from tests.notifications.conftest import Cast

SETTINGS_PATH = "/settings/notifications"
BASE_URL = "https://renkei.example.jp"
LINK_LINE = re.compile(re.escape(BASE_URL) + r"/[^\s<>\"']*")


# --- what an event told whom --------------------------------------------------------------------------------------


@dataclass
class Told:
    """What one event wrote, each as (address, kind), sorted, so that a duplicate shows: in the app and by e-mail."""

    app: list[tuple[str, str]]
    mail: list[tuple[str, str]]


def told(event: Callable[[], object]) -> Told:
    """Run the event as a request would (the service verb, then one commit) and read what it wrote."""
    last_notification = db.session.scalar(select(func.max(Notification.id))) or 0
    last_mail = db.session.scalar(select(func.max(OutboxMessage.id))) or 0
    event()
    db.session.commit()
    app_rows = db.session.execute(
        select(User.email, Notification.kind)
        .join(User, User.id == Notification.user_id)
        .where(Notification.id > last_notification)
    )
    mail_rows = db.session.execute(
        select(OutboxMessage.recipient, OutboxMessage.kind).where(OutboxMessage.id > last_mail)
    )
    return Told(sorted(tuple(row) for row in app_rows), sorted(tuple(row) for row in mail_rows))


def each(kind: str, *users: User) -> list[tuple[str, str]]:
    """What `told` reads when each of these users, and no one else, was told once."""
    return sorted((user.email, kind) for user in users)


# A published post also tells the other side (the wards it targets, its followers): DESIGN §4's "post published"
# row, with a test of its own; the tests of the approval's other recipients set these kinds aside.
NEW_POST_KINDS = frozenset({"post_published", "post_targeted"})


def assert_told(result: Told, kind: str, *users: User, besides: frozenset[str] = frozenset()) -> None:
    """Exactly these users were told, once each, in the app and by e-mail (immediate is these kinds' default), and
    nobody was told anything else (but the kinds `besides`)."""
    assert [row for row in result.app if row[1] not in besides] == each(kind, *users)
    assert [row for row in result.mail if row[1] not in besides] == each(kind, *users)


def answered(cast: Cast, make_post, title: str = "黄金がにのPRイベント") -> Response:
    """坂井市's published proposal with 品川区's answer, committed."""
    post = make_post(cast.people.sakai, title=title)
    answer = responses.respond(cast.people.shinagawa, post, ResponseKind.INTEREST, "関心があります。")
    db.session.commit()
    return answer


def first_message(answer: Response) -> Message:
    """The message that came with the answer."""
    return db.session.scalar(select(Message).where(Message.conversation_id == answer.conversation.id))


# --- 1. who is told ---------------------------------------------------------------------------------------------


def test_a_registration_awaiting_approval_tells_every_active_moderator(app, cast, create_user):
    applicant = create_user(SAKAI_OSAKA, email="applicant@city.sakai.lg.jp", state=UserState.UNCONFIRMED)
    token = tokens.make_confirmation_token(applicant)

    result = told(lambda: accounts.confirm_email(token))

    assert applicant.state == UserState.PENDING
    assert_told(result, "registration_pending", *cast.moderators)


def test_a_submitted_post_tells_the_moderators_but_never_the_moderator_who_submitted_it(app, cast, make_post):
    by_staff = make_post(cast.people.sakai, PostState.DRAFT)
    by_moderator = make_post(cast.sakai_moderator, PostState.DRAFT)

    result = told(lambda: posts.submit_post(cast.people.sakai, by_staff))
    assert_told(result, "post_submitted", *cast.moderators)

    result = told(lambda: posts.submit_post(cast.sakai_moderator, by_moderator))
    assert_told(result, "post_submitted", cast.people.moderator, cast.moderator2)


def test_a_report_of_a_post_or_of_a_message_tells_the_moderators(app, cast, make_post):
    answer = answered(cast, make_post)

    result = told(lambda: report_post(cast.people.chiyoda, answer.post, "内容が不正確です"))
    assert_told(result, "report_filed", *cast.moderators)

    result = told(lambda: report_message(cast.people.sakai, first_message(answer), "不適切な表現があります"))
    assert_told(result, "report_filed", *cast.moderators)


def test_a_decision_on_a_post_tells_its_organization_and_accepted_co_proposers_but_not_the_deciding_moderator(
    app, cast, make_post
):
    people = cast.people
    post = make_post(people.sakai, PostState.DRAFT)
    for invited, accept in ((people.kushiro, True), (cast.kanazawa, False), (cast.sakai_osaka, None)):
        co_proposer = posts.invite_co_proposer(people.sakai, post, invited.organization)
        if accept is not None:
            posts.answer_co_proposal(invited, co_proposer, accept)
    posts.submit_post(people.sakai, post)
    db.session.commit()
    told_of_decisions = [people.sakai, people.sakai_colleague, *cast.kushiro_staff]  # not sakai_moderator: decides

    result = told(lambda: posts.reject_post(cast.sakai_moderator, post, post.version, "日程を具体的に書いてください。"))
    assert_told(result, "post_rejected", *told_of_decisions)  # returned: nobody else hears of it

    posts.submit_post(people.sakai, post)
    db.session.commit()
    result = told(lambda: posts.approve_post(cast.sakai_moderator, post, post.version))
    assert_told(result, "post_approved", *told_of_decisions, besides=NEW_POST_KINDS)


def test_a_decision_by_a_moderator_of_no_organization_tells_every_active_officer_of_the_post(app, cast, make_post):
    post = make_post(cast.people.sakai, PostState.PENDING)

    result = told(lambda: posts.approve_post(cast.people.moderator, post, post.version))

    assert_told(result, "post_approved", *cast.sakai_staff, besides=NEW_POST_KINDS)


def test_a_response_tells_the_posting_organization_only(app, cast, make_post):
    post = make_post(cast.people.sakai)

    result = told(lambda: responses.respond(cast.people.shinagawa, post, ResponseKind.OFFER, "会場を用意できます。"))

    assert_told(result, "response_received", *cast.sakai_staff)


@pytest.mark.parametrize("writer", ["posting side", "answering side", "moderator"])
def test_a_message_tells_the_other_organization_and_both_when_a_moderator_writes(app, cast, make_post, writer):
    conversation = answered(cast, make_post).conversation
    author, recipients = {
        "posting side": (cast.people.sakai_colleague, cast.shinagawa_staff),
        "answering side": (cast.shinagawa_colleague, cast.sakai_staff),
        "moderator": (cast.people.moderator, [*cast.sakai_staff, *cast.shinagawa_staff]),
    }[writer]

    result = told(lambda: responses.post_message(author, conversation, "日程のご相談です。"))

    assert_told(result, "message_posted", *recipients)


@pytest.mark.parametrize("decision", ["accept", "decline"])
def test_a_decision_on_a_response_tells_the_responding_organization(app, cast, make_post, decision):
    answer = answered(cast, make_post)
    verb, kind = {
        "accept": (responses.accept_response, "response_accepted"),
        "decline": (responses.decline_response, "response_declined"),
    }[decision]

    result = told(lambda: verb(cast.people.sakai_colleague, answer))

    assert_told(result, kind, *cast.shinagawa_staff)


@pytest.mark.parametrize("side", ["posting side", "answering side"])
def test_a_recorded_outcome_tells_the_other_organization(app, cast, make_post, side):
    partnership = responses.accept_response(cast.people.sakai, answered(cast, make_post))
    db.session.commit()
    author, recipients = {
        "posting side": (cast.people.sakai, cast.shinagawa_staff),
        "answering side": (cast.shinagawa_colleague, cast.sakai_staff),
    }[side]

    result = told(lambda: responses.update_outcome(author, partnership, outcome()))

    assert_told(result, "outcome_updated", *recipients)


def test_the_staff_of_a_suspended_organization_are_not_told(app, cast, make_post):
    answer = answered(cast, make_post)
    cast.people.shinagawa.organization.membership = Membership.SUSPENDED
    db.session.commit()

    result = told(lambda: responses.post_message(cast.people.moderator, answer.conversation, "事務局からの連絡です。"))
    assert_told(result, "message_posted", *cast.sakai_staff)

    result = told(lambda: responses.decline_response(cast.people.sakai, answer))
    assert_told(result, "response_declined")


def test_messages_in_one_conversation_within_minutes_make_one_mail_each_but_every_one_shows_in_the_app(
    app, cast, make_post
):
    conversation = answered(cast, make_post).conversation
    responses.post_message(cast.people.shinagawa, conversation, "日程のご相談です。")
    db.session.commit()

    result = told(lambda: responses.post_message(cast.people.shinagawa, conversation, "会場の図面を送ります。"))

    assert result.app == each("message_posted", *cast.sakai_staff)
    assert result.mail == []  # the mail of the first message, still waiting, says it


def test_a_deadline_seven_days_away_tells_the_posting_organization_once(app, cast, make_post):
    due = make_post(cast.people.sakai, deadline=in_days(7), desired_from=in_days(10), desired_until=in_days(12))
    make_post(cast.people.sakai, deadline=in_days(8), desired_from=in_days(10), desired_until=in_days(12))

    result = told(posts.remind_deadlines)

    assert_told(result, "deadline_soon", *cast.sakai_staff)
    assert due.deadline_reminded_at is not None
    assert_told(told(posts.remind_deadlines), "deadline_soon")  # the next day's run: nobody again


def test_a_published_proposal_tells_its_target_wards_at_once_and_following_ward_officers_in_their_digest(
    app, cast, make_post
):
    people = cast.people
    fukui_follower = people.chiyoda
    notifications.set_follows(fukui_follower, False, set(), {people.sakai.organization.prefecture_code})
    notifications.set_follows(cast.chiyoda_colleague, False, {"events"}, set())  # not this post's category
    post = make_post(people.sakai, PostState.PENDING, category="products", target_ward_codes=[SHINAGAWA])

    result = told(lambda: posts.approve_post(people.moderator, post, post.version))

    assert [row for row in result.app if row[1] == "post_targeted"] == each("post_targeted", *cast.shinagawa_staff)
    assert [row for row in result.mail if row[1] == "post_targeted"] == each("post_targeted", *cast.shinagawa_staff)
    assert [row for row in result.app if row[1] == "post_published"] == each("post_published", fukui_follower)
    assert [row for row in result.mail if row[1] == "post_published"] == []  # in the daily digest by default
    assert {row[1] for row in result.app} == {"post_approved", "post_targeted", "post_published"}


# --- 2. preferences and the daily digest ---------------------------------------------------------------------------


def prefer(user: User, **modes: DeliveryMode) -> None:
    """The user's choices, stored through the service and committed."""
    notifications.set_preferences(user, modes)
    db.session.commit()


def test_off_keeps_the_notification_in_the_app_only_and_digest_holds_the_mail_for_the_digest(app, cast, make_post):
    post = make_post(cast.people.sakai)
    prefer(cast.people.sakai, response_received=DeliveryMode.OFF)
    prefer(cast.people.sakai_colleague, response_received=DeliveryMode.DIGEST)

    result = told(lambda: responses.respond(cast.people.shinagawa, post, ResponseKind.OFFER, "会場を用意できます。"))

    assert result.app == each("response_received", *cast.sakai_staff)
    assert result.mail == each("response_received", cast.sakai_moderator)
    pending = dict(
        db.session.execute(
            select(User.email, Notification.digest_pending)
            .join(User, User.id == Notification.user_id)
            .where(Notification.kind == "response_received")
        ).all()
    )
    assert pending == {
        cast.people.sakai.email: False,
        cast.people.sakai_colleague.email: True,
        cast.sakai_moderator.email: False,
    }


def run_digest(app) -> str:
    """`bulletin digest`, as cron runs it; its output."""
    result = app.test_cli_runner().invoke(args=["digest"])
    assert result.exit_code == 0, result.output
    return result.output


def digests() -> dict[str, list[OutboxMessage]]:
    """The digests queued so far, by recipient."""
    by_recipient: dict[str, list[OutboxMessage]] = {}
    for message in db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "digest").order_by(OutboxMessage.id)
    ):
        by_recipient.setdefault(message.recipient, []).append(message)
    return by_recipient


def sections(body: str) -> dict[str, list[str]]:
    """A digest's items under each of its headings (■ label（count）), each item as its line of text."""
    found: dict[str, list[str]] = {}
    heading = None
    for line in body.splitlines():
        if line.startswith("■ "):
            heading = line[2:]
            found[heading] = []
        elif heading is not None and line.startswith("- "):
            found[heading].append(line[2:])
    return found


def test_the_digest_sends_each_user_one_mail_of_all_their_items_grouped_by_kind_and_each_item_once(
    app, cast, create_user, make_post, outbox, monkeypatch
):
    monkeypatch.setitem(app.config, "BASE_URL", BASE_URL)
    people = cast.people
    leaving = create_user(SHINAGAWA, email="leaving@city.shinagawa.tokyo.jp")  # suspended before the digest runs
    prefer(people.shinagawa, response_received=DeliveryMode.DIGEST, message_posted=DeliveryMode.DIGEST)
    prefer(cast.shinagawa_colleague, message_posted=DeliveryMode.DIGEST)
    prefer(leaving, response_received=DeliveryMode.DIGEST)
    festival = make_post(people.shinagawa, title="区民まつりへの出展")  # calls: no other ward hears of them
    fair = make_post(people.shinagawa, title="物産展への出展")
    answer = responses.respond(people.sakai, festival, ResponseKind.OFFER, "出展します。")
    responses.respond(people.kushiro, fair, ResponseKind.INTEREST, "関心があります。")
    responses.post_message(people.sakai, answer.conversation, "日程のご相談です。")
    leaving.state = UserState.SUSPENDED
    db.session.commit()
    sakai, kushiro = people.sakai.organization.display_name, people.kushiro.organization.display_name
    message_item = f"{sakai} から「区民まつりへの出展」のやりとりにメッセージがあります。"
    mail_before = len(outbox())

    assert run_digest(app) == "queued 2 digest(s)\n"

    assert sorted(digests()) == sorted([people.shinagawa.email, cast.shinagawa_colleague.email])
    [to_officer], [to_colleague] = digests()[people.shinagawa.email], digests()[cast.shinagawa_colleague.email]
    assert len(outbox()) == mail_before + 2  # nothing for the suspended officer, nor for anyone without items
    assert to_officer.subject == "[全国連携マッチング掲示板] お知らせのまとめ（3件）"
    assert sections(to_officer.body) == {
        "応答の受信（2）": [
            f"{sakai} から「区民まつりへの出展」への応答がありました。",
            f"{kushiro} から「物産展への出展」への応答がありました。",
        ],
        "やりとりの新着メッセージ（1）": [message_item],
    }
    assert sections(to_colleague.body) == {"やりとりの新着メッセージ（1）": [message_item]}
    conversation_link = BASE_URL + path_for("responses.conversation", conversation_id=answer.conversation.id)
    assert conversation_link in to_colleague.body.splitlines()
    assert_links_alone_and_absolute(to_officer.body)
    assert BASE_URL + SETTINGS_PATH in to_officer.body.splitlines()
    still_pending = count(Notification, Notification.digest_pending.is_(True))
    assert still_pending == 0  # the suspended officer's items are dropped with the rest, without mail

    assert run_digest(app) == "queued 0 digest(s)\n"
    assert len(outbox()) == mail_before + 2

    responses.post_message(people.sakai, answer.conversation, "会場の図面を送ります。")
    db.session.commit()
    assert run_digest(app) == "queued 2 digest(s)\n"
    assert {recipient: len(messages) for recipient, messages in digests().items()} == {
        people.shinagawa.email: 2,
        cast.shinagawa_colleague.email: 2,
    }
    for messages in digests().values():
        assert sections(messages[-1].body) == {"やりとりの新着メッセージ（1）": [message_item]}
    assert run_digest(app) == "queued 0 digest(s)\n"


def settings_form(client) -> dict[str, str]:
    """The settings page's radio groups, each with its checked value."""
    page = page_of(client.get(SETTINGS_PATH))
    groups: dict[str, str] = {}
    for element in page.all("input"):
        if element.attrs.get("type") == "radio":
            groups.setdefault(element.attrs["name"], "")
            if "checked" in element.attrs:
                groups[element.attrs["name"]] = element.attrs["value"]
    return groups


# Kinds chosen on the settings page (a saved search's notices are chosen with each saved search, at /searches).
WARD_KINDS = [
    kind for kind, definition in KINDS.items() if not definition.moderators_only and definition.on_settings_page
]
ORGANIZATION_KINDS = [kind for kind in WARD_KINDS if not KINDS[kind].wards_only]  # a municipality's officer
MODERATOR_KINDS = [kind for kind, definition in KINDS.items() if definition.moderators_only]


def test_the_settings_page_offers_each_kind_with_its_default_and_saves_the_choices(app, cast, auth, client):
    officer = cast.people.sakai
    auth.login(officer)
    defaults = {f"mode_{kind}": KINDS[kind].default.value for kind in ORGANIZATION_KINDS}
    assert settings_form(client) == defaults
    choices = dict(defaults)
    choices |= {"mode_message_posted": "digest", "mode_post_approved": "off"}
    choices["mode_registration_pending"] = "off"  # not offered to an officer: ignored

    response = client.post(SETTINGS_PATH, data=choices)

    assert response.status_code == 302 and response.headers["Location"] == SETTINGS_PATH
    assert settings_form(client) == {key: value for key, value in choices.items() if key != "mode_registration_pending"}
    stored = dict(
        db.session.execute(
            select(NotificationPreference.kind, NotificationPreference.mode).where(
                NotificationPreference.user_id == officer.id
            )
        ).all()
    )
    assert stored == {kind: DeliveryMode(choices[f"mode_{kind}"]) for kind in ORGANIZATION_KINDS}


def test_a_ward_officer_is_offered_the_proposals_addressed_to_the_ward_and_no_one_else_is(app, cast, auth, client):
    auth.login(cast.people.shinagawa)
    assert list(settings_form(client)) == [f"mode_{kind}" for kind in WARD_KINDS]
    assert "mode_post_targeted" in settings_form(client)
    auth.logout()
    auth.login(cast.people.sakai)
    assert "mode_post_targeted" not in settings_form(client)


def test_moderators_also_choose_for_the_kinds_only_moderators_receive(app, cast, auth, client):
    auth.login(cast.people.moderator)
    offered = {
        kind: definition
        for kind, definition in KINDS.items()
        if not definition.wards_only and definition.on_settings_page
    }
    assert settings_form(client) == {f"mode_{kind}": definition.default.value for kind, definition in offered.items()}
    choices = {f"mode_{kind}": "immediate" for kind in offered} | {"mode_registration_pending": "digest"}

    assert client.post(SETTINGS_PATH, data=choices | {"mode_post_targeted": "off"}).status_code == 302

    assert settings_form(client) == choices
    assert notifications.preferences_of(cast.people.moderator, MODERATOR_KINDS)["registration_pending"] == "digest"


@pytest.mark.parametrize("bad", ["weekly", "", None])
def test_an_invalid_choice_changes_nothing(app, cast, auth, client, bad):
    officer = cast.people.sakai
    prefer(officer, message_posted=DeliveryMode.DIGEST)
    auth.login(officer)
    choices = {f"mode_{kind}": "off" for kind in ORGANIZATION_KINDS} | {"mode_response_received": bad}
    choices = {key: value for key, value in choices.items() if value is not None}

    response = client.post(SETTINGS_PATH, data=choices, follow_redirects=True)

    assert "選択肢から選んでください。" in response.get_data(as_text=True)
    rows = db.session.execute(
        select(NotificationPreference.kind, NotificationPreference.mode).where(
            NotificationPreference.user_id == officer.id
        )
    ).all()
    assert [tuple(row) for row in rows] == [("message_posted", DeliveryMode.DIGEST)]


# --- 3. the notification centre and the header --------------------------------------------------------------------


def unread_of(user: User) -> int:
    """The user's unread count as the database has it now."""
    db.session.expire(user, ["unread_notifications"])
    return user.unread_notifications


def header_count(response) -> str | None:
    """The number in the header's unread badge (on the phone menu's button too: the two must agree), or None without a
    badge."""
    badges = [e for e in page_of(response).elements if "count-badge" in e.attrs.get("class", "").split()]
    assert len({badge.text for badge in badges}) <= 1
    return badges[0].text.split()[0] if badges else None


READ_FORM = re.compile(r"/notifications/\d+/read")


def listed(response) -> list[str]:
    """The texts of the notification centre's items, top to bottom (without their unread mark)."""
    texts, in_read_form = [], False
    for element in page_of(response).elements:
        if element.tag == "form":
            in_read_form = bool(READ_FORM.fullmatch(element.attrs.get("action", "")))
        elif element.tag == "button" and in_read_form:
            texts.append(" ".join(element.text.split()).removeprefix("未読 ").removeprefix("Unread "))
            in_read_form = False
    return texts


@pytest.fixture
def three_notifications(app, cast, make_post) -> list[Notification]:
    """The notifications of one officer of 坂井市, oldest first: their post published, 品川区's answer, a message."""
    answer = answered(cast, make_post, title="黄金がにのPR")
    responses.post_message(cast.people.shinagawa, answer.conversation, "日程のご相談です。")
    db.session.commit()
    mine = select(Notification).where(Notification.user_id == cast.people.sakai.id).order_by(Notification.id)
    notifications_of_sakai = list(db.session.scalars(mine))
    assert [n.kind for n in notifications_of_sakai] == ["post_approved", "response_received", "message_posted"]
    return notifications_of_sakai


def test_the_centre_lists_newest_first_and_the_header_counts_the_unread(app, cast, auth, client, three_notifications):
    ward = cast.people.shinagawa.organization.display_name
    auth.login(cast.people.sakai)

    response = client.get("/notifications")

    assert listed(response) == [
        f"{ward} から「黄金がにのPR」のやりとりにメッセージがあります。",
        f"{ward} から「黄金がにのPR」への応答がありました。",
        "「黄金がにのPR」が公開されました。",
    ]
    assert header_count(response) == "3"


def test_reading_a_notification_marks_it_read_once_and_goes_to_its_subject(
    app, cast, auth, client, three_notifications
):
    officer = cast.people.sakai
    message_notice = three_notifications[-1]
    auth.login(officer)

    response = client.post(f"/notifications/{message_notice.id}/read")

    assert response.status_code == 302
    assert response.headers["Location"] == message_notice.url
    assert message_notice.url.startswith("/conversations/")
    db.session.refresh(message_notice)
    assert message_notice.read_at is not None
    assert unread_of(officer) == 2
    assert header_count(client.get("/notifications")) == "2"

    client.post(f"/notifications/{message_notice.id}/read")  # again: nothing more to count down
    assert unread_of(officer) == 2


def test_another_users_notification_is_not_found(app, cast, auth, client, three_notifications):
    auth.login(cast.people.sakai_colleague)
    before = unread_of(cast.people.sakai_colleague)

    response = client.post(f"/notifications/{three_notifications[0].id}/read")

    assert response.status_code == 404
    db.session.refresh(three_notifications[0])
    assert three_notifications[0].read_at is None
    assert unread_of(cast.people.sakai) == 3 and unread_of(cast.people.sakai_colleague) == before


def test_read_all_zeroes_the_count_and_the_header_shows_no_badge(app, cast, auth, client, three_notifications):
    auth.login(cast.people.sakai)

    response = client.post("/notifications/read-all", follow_redirects=True)

    assert unread_of(cast.people.sakai) == 0
    assert header_count(response) is None
    db.session.expire_all()
    assert all(notification.read_at is not None for notification in three_notifications)
    assert len(listed(response)) == 3  # still listed, now read


def test_english_users_read_their_notifications_and_mail_in_english(app, cast, auth, client, make_post, outbox):
    officer = cast.people.sakai
    officer.locale = "en"
    db.session.commit()

    answered(cast, make_post, title="黄金がにのPR")
    auth.login(officer)
    sentence = f'{cast.people.shinagawa.organization.display_name} responded to "黄金がにのPR".'

    response = client.get("/notifications")

    assert listed(response) == [sentence, '"黄金がにのPR" has been published.']
    assert header_count(response) == "2"
    [mail] = [m for m in outbox(officer.email) if m.kind == "response_received"]
    assert mail.subject.endswith(f" Response from {cast.people.shinagawa.organization.display_name}: 黄金がにのPR")
    assert sentence in mail.body.splitlines()
    assert "You can change how you receive notifications here:" in mail.body


def test_a_message_from_the_secretariat_reads_in_the_readers_language(app, cast, auth, client, make_post):
    officer = cast.people.sakai
    officer.locale = "en"
    conversation = answered(cast, make_post, title="黄金がにのPR").conversation
    responses.post_message(cast.people.moderator, conversation, "事務局からの連絡です。")
    db.session.commit()
    auth.login(officer)

    assert listed(client.get("/notifications"))[0] == (
        'New message from Secretariat in the conversation on "黄金がにのPR".'
    )


# --- 4. fan-out ---------------------------------------------------------------------------------------------------


def many_officers(count: int, organization_id: int) -> list[User]:
    """`count` active officers of one organization, inserted in one statement, then loaded."""
    now = utcnow()
    password_hash = hash_password(PASSWORD)
    db.session.execute(
        insert(User),
        [
            {
                "email": f"officer{number:04d}@city.shinagawa.tokyo.jp",
                "password_hash": password_hash,
                "name": f"品川 職員{number}",
                "organization_id": organization_id,
                "role": OrgRole.STAFF,
                "state": UserState.ACTIVE,
                "confirmed_at": now,
                "approved_at": now,
            }
            for number in range(count)
        ],
    )
    db.session.commit()
    return list(db.session.scalars(select(User).where(User.email.like("officer%")).order_by(User.id)))


def statements_of_notify(count_queries, users: list[User], kind: str) -> list[str]:
    """The SQL that notifying these users (and flushing what it added) executes."""
    with count_queries() as counter:
        assert notifications.notify(users, kind, {"title": "区民まつり"}, "posts.ours") == len(users)
        db.session.flush()
    return counter.statements


def test_notifying_a_thousand_officers_takes_as_many_statements_as_notifying_ten(app, cast, count_queries):
    officers = many_officers(1000, cast.people.shinagawa.organization_id)
    db.session.execute(
        insert(NotificationPreference),
        [{"user_id": user.id, "kind": "post_approved", "mode": DeliveryMode.OFF} for user in officers],
    )
    db.session.commit()
    officers = list(db.session.scalars(select(User).where(User.id.in_([u.id for u in officers])).order_by(User.id)))

    ten = statements_of_notify(count_queries, officers[:10], "post_approved")
    thousand = statements_of_notify(count_queries, officers, "post_approved")

    print(f"\nfan-out, e-mail off: 10 recipients {len(ten)} statements, 1,000 recipients {len(thousand)} statements")
    assert len(ten) == len(thousand) == 3  # the preferences, the notifications, the unread counts
    assert count(Notification) >= 1010
    assert unread_of(officers[0]) == 2 and unread_of(officers[-1]) == 1


def outbox_inserts(statements: list[str]) -> int:
    """How many of the statements insert into the outbox."""
    return sum(1 for statement in statements if statement.lstrip().upper().startswith("INSERT INTO OUTBOX_MESSAGE"))


@pytest.fixture
def immediate_fan_out(app, cast, count_queries) -> tuple[list[str], list[str]]:
    """The statements of notifying 10 and then 1,000 officers whose e-mail for the kind is immediate."""
    officers = many_officers(1000, cast.people.shinagawa.organization_id)
    ten = statements_of_notify(count_queries, officers[:10], "post_rejected")
    officers = list(db.session.scalars(select(User).where(User.id.in_([u.id for u in officers])).order_by(User.id)))
    thousand = statements_of_notify(count_queries, officers, "post_rejected")
    print(
        f"\nfan-out, immediate e-mail: 10 recipients {len(ten)} statements ({outbox_inserts(ten)} outbox inserts), "
        f"1,000 recipients {len(thousand)} statements ({outbox_inserts(thousand)} outbox inserts)"
    )
    assert count(OutboxMessage) >= 1010
    return ten, thousand


def test_with_immediate_mail_the_fan_out_grows_only_by_the_outbox_inserts(immediate_fan_out):
    ten, thousand = immediate_fan_out
    assert len(thousand) - outbox_inserts(thousand) == len(ten) - outbox_inserts(ten) == 3
    assert outbox_inserts(ten) >= 1


def test_with_immediate_mail_the_outbox_rows_too_are_written_in_a_fixed_number_of_statements(immediate_fan_out):
    ten, thousand = immediate_fan_out
    assert outbox_inserts(thousand) == outbox_inserts(ten)
    assert len(thousand) == len(ten)


def test_a_coalesced_fan_out_also_takes_a_fixed_number_of_statements(app, cast, count_queries, make_post):
    """The first message of a round writes each reader's mail; the next ones write the waiting mails anew (so that
    they quote the latest): either way, as many statements for 1,000 readers as for 10."""
    conversation_id = answered(cast, make_post).conversation.id
    officers = many_officers(1000, cast.people.shinagawa.organization_id)
    counts = {}
    for size, round_ in ((10, "first"), (1000, "first"), (10, "next"), (1000, "next")):
        with count_queries() as counter:
            notifications.notify(
                officers[:size],
                "message_posted",
                {"org": "坂井市", "title": "黄金がにのPR"},
                "responses.conversation",
                coalesce_as=f"conversation:{conversation_id}:{size}",
                conversation_id=conversation_id,
            )
            db.session.flush()
        counts[size, round_] = counter.count
        officers = list(db.session.scalars(select(User).where(User.email.like("officer%")).order_by(User.id)))
    print(f"\nfan-out, coalesced message mail (10 and 1,000 recipients, first and next rounds): {counts} statements")
    assert counts[1000, "first"] == counts[10, "first"]
    assert counts[1000, "next"] == counts[10, "next"]
    assert count(OutboxMessage, OutboxMessage.coalesce_key.like(f"conversation:{conversation_id}:%")) == 1010


# --- 5. the e-mail ------------------------------------------------------------------------------------------------


def assert_links_alone_and_absolute(body: str) -> None:
    """Every link is a full BASE_URL address on a line of its own; there is at least one."""
    lines = [line.strip() for line in body.splitlines()]
    link_lines = [line for line in lines if "://" in line or "www." in line or line.startswith("/")]
    assert link_lines, body
    for line in link_lines:
        assert LINK_LINE.fullmatch(line), f"not a full link alone on its line: {line!r}"


EVERY_KIND_BUT_REGISTRATION = {
    "post_submitted",
    "post_approved",
    "post_rejected",
    "report_filed",
    "response_received",
    "message_posted",
    "response_accepted",
    "response_declined",
    "outcome_updated",
}


def every_organization_kind(cast: Cast, make_post) -> None:
    """Events that write e-mail of every kind in EVERY_KIND_BUT_REGISTRATION."""
    people = cast.people
    post = make_post(people.sakai, title="黄金がにのPR")  # submitted, approved
    make_post(people.sakai, PostState.REJECTED, title="越前がにのPR")
    report_post(people.chiyoda, post, "内容が不正確です")
    answer = responses.respond(people.shinagawa, post, ResponseKind.OFFER, "会場を用意できます。")
    refused = responses.respond(people.chiyoda, post, ResponseKind.INTEREST, "関心があります。")
    responses.post_message(people.sakai, answer.conversation, "日程のご相談です。")
    partnership = responses.accept_response(people.sakai, answer)
    responses.decline_response(people.sakai, refused)
    responses.update_outcome(people.shinagawa, partnership, outcome())
    db.session.commit()


def test_every_notification_email_is_plain_text_with_its_links_alone_absolute_and_the_settings_link(
    app, cast, make_post, outbox, monkeypatch
):
    monkeypatch.setitem(app.config, "BASE_URL", BASE_URL)
    every_organization_kind(cast, make_post)
    mails = [m for m in outbox() if m.kind in KINDS]
    assert {m.kind for m in mails} >= EVERY_KIND_BUT_REGISTRATION
    subject_links: dict[tuple[int, str], set[str]] = {}
    for notification in db.session.scalars(select(Notification)):
        subject_links.setdefault((notification.user_id, notification.kind), set()).add(BASE_URL + notification.url)

    for mail in mails:
        email = build_email(mail, app.config["MAIL_FROM"])
        assert email["Content-Type"] == 'text/plain; charset="utf-8"'
        assert not email.is_multipart()
        body = email.get_content()
        assert "<a " not in body and "<html" not in body.lower()
        assert_links_alone_and_absolute(body)
        lines = body.splitlines()
        assert BASE_URL + SETTINGS_PATH in lines, f"{mail.kind} mail lacks the settings link:\n{body}"
        assert subject_links[(mail.user_id, mail.kind)] & set(lines), f"{mail.kind} mail lacks its link:\n{body}"
        assert LINK_LINE.fullmatch(email["List-Unsubscribe"].strip("<>"))
        assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_the_registration_pending_email_links_to_the_notification_settings(app, cast, create_user, outbox, monkeypatch):
    monkeypatch.setitem(app.config, "BASE_URL", BASE_URL)
    applicant = create_user(SAKAI_OSAKA, email="applicant@city.sakai.lg.jp", state=UserState.UNCONFIRMED)
    accounts.confirm_email(tokens.make_confirmation_token(applicant))
    db.session.commit()
    [mail] = outbox(cast.people.moderator.email)

    assert_links_alone_and_absolute(mail.body)
    assert BASE_URL + SETTINGS_PATH in mail.body.splitlines()


def test_a_notification_is_withheld_when_its_reader_was_suspended_before_delivery(
    app, monkeypatch, tmp_path, create_user
):
    monkeypatch.setitem(app.config, "SMTP_HOST", None)
    monkeypatch.setitem(app.config, "MAIL_FOLDER", str(tmp_path / "mail"))
    reader = create_user(SHINAGAWA, email="reader@city.shinagawa.tokyo.jp")
    colleague = create_user(SHINAGAWA, email="stays@city.shinagawa.tokyo.jp")
    notifications.notify([reader, colleague], "post_targeted", {"org": "坂井市", "title": "黄金がに"}, "posts.ours")
    db.session.commit()
    reader.state = UserState.SUSPENDED  # between the event and the delivery
    db.session.commit()

    report = deliver_due()

    assert (report.sent, report.failed) == (1, 1)
    rows = {
        row.recipient: row
        for row in db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "post_targeted"))
    }
    assert rows[colleague.email].state == "sent"
    withheld = rows[reader.email]
    assert withheld.state == "failed" and "no longer active" in withheld.last_error
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1


def test_account_mail_still_goes_to_someone_not_yet_active(app, monkeypatch, tmp_path, create_user):
    monkeypatch.setitem(app.config, "SMTP_HOST", None)
    monkeypatch.setitem(app.config, "MAIL_FOLDER", str(tmp_path / "mail"))
    applicant = create_user(SAKAI, email="applicant@city.fukui-sakai.lg.jp", state=UserState.UNCONFIRMED)
    signals.user_registered.send(None, user=applicant, token="t")
    db.session.commit()
    assert deliver_due().sent == 1


def test_opening_the_page_a_notification_is_about_reads_it(app, client, auth, create_user):
    reader = create_user(SHINAGAWA, email="opens@city.shinagawa.tokyo.jp")
    notifications.notify([reader], "post_targeted", {"org": "坂井市", "title": "黄金がに"}, "posts.ours")
    notifications.notify([reader], "post_targeted", {"org": "坂井市", "title": "物産展"}, "accounts.members")
    db.session.commit()
    auth.login(reader)
    client.get("/accessibility")  # a page no notification is about: nothing read
    db.session.refresh(reader)
    assert reader.unread_notifications == 2
    client.get("/posts/ours")  # e.g. from the e-mail's link
    db.session.refresh(reader)
    assert reader.unread_notifications == 1
    read = db.session.scalars(
        select(Notification.url).where(Notification.user_id == reader.id, Notification.read_at.is_not(None))
    ).all()
    assert read == ["/posts/ours"]


def test_pages_no_notification_can_be_about_do_not_look_for_unread_ones(client, auth, create_user, count_queries):
    reader = create_user(SHINAGAWA, email="lists@city.shinagawa.tokyo.jp")
    notifications.notify([reader], "post_targeted", {"org": "坂井市", "title": "黄金がに"}, "posts.ours")
    db.session.commit()
    auth.login(reader)
    client.get("/accessibility")
    for path in ("/posts", "/", "/dashboard"):
        with count_queries() as counter:
            assert client.get(path).status_code == 200
        assert not [s for s in counter.statements if "FROM notification" in s], path


def test_a_notification_links_only_to_pages_that_read_it(app):
    with pytest.raises(ValueError):
        notifications.notify([], "post_targeted", {}, "main.terms")


def test_the_centre_costs_the_same_with_3_or_120_notifications(client, auth, create_user, count_queries):
    """50 a page, newest first: the first, a middle and the last page cost the same queries, at most 8, no write."""
    reader = create_user(SHINAGAWA, email="many@city.shinagawa.tokyo.jp")

    def add(count: int) -> None:
        for number in range(count):
            notifications.notify([reader], "post_targeted", {"org": "坂井市", "title": f"投稿{number}"}, "posts.ours")
        db.session.commit()

    def cost(path: str) -> tuple[int, list[str]]:
        client.get(path)
        with count_queries() as counter:
            assert client.get(path).status_code == 200
        return counter.count, [s for s in counter.statements if s.lstrip().upper().startswith(("INSERT", "UPDATE"))]

    add(3)
    auth.login(reader)
    small = cost("/notifications")
    add(117)
    assert cost("/notifications") == cost("/notifications?page=2") == cost("/notifications?page=3") == small
    assert small[0] <= 8 and small[1] == []
    pages = [page_of(client.get(f"/notifications?page={number}")) for number in (1, 2, 3)]
    items = [len([e for e in page.all("li") if "notification" in e.attrs.get("class", "").split()]) for page in pages]
    assert items == [50, 50, 20]
