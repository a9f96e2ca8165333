"""Response verbs: who may answer which post, conversations and their unread markers, accepting and declining,
the outcome with its photos and consents, publication as a case, and reports of messages. Services flush; these
tests commit or roll back where the request would."""

from __future__ import annotations

import io
from contextlib import contextmanager
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage

from bulletin.accounts.models import UserState
from bulletin.core import signals, uploads
from bulletin.core.audit import ModerationDecision
from bulletin.core.db import utcnow
from bulletin.core.text import today_in_japan
from bulletin.extensions import db
from bulletin.moderation import queries as moderation_queries
from bulletin.moderation import reports
from bulletin.moderation.models import Report, ReportState
from bulletin.organizations.services import get_by_code
from bulletin.posts import services as posts
from bulletin.posts.models import PostState
from bulletin.posts.services import PostError
from bulletin.responses import queries, services
from bulletin.responses.forms import MessageForm, RespondForm
from bulletin.responses.models import (
    Conversation,
    ConversationRead,
    Message,
    Partnership,
    PartnershipPhoto,
    Response,
    ResponseKind,
    ResponseState,
)
from tests.constants import ALREADY_DECIDED, CHIYODA, KUSHIRO_TOWN, MODERATORS_ONLY, SHINAGAWA
from tests.factories import (
    FIRST_MESSAGE,
    assert_unchanged,
    blank_png,
    count,
    database_state,
    fresh,
    image_upload,
    messages_in,
    new_client,
    outcome,
    pdf_upload,
)

OTHER_SIDE_ONLY = "この投稿に応答できるのは、相手側の会員団体の職員です。"
NOT_OPEN = "この投稿は現在、応答を受け付けていません。"
ALREADY_ANSWERED = "この投稿にはすでに応答しています。続きはやりとりのページに書いてください。"
OWNERS_DECIDE = "応答に回答できるのは、投稿した団体の職員です。"
NO_EDIT = "この連携の結果は編集できません。"
HIDE_REASON = "個人の連絡先が書かれているため"


@contextmanager
def refused(message: str, field: str | None = None):
    """The block raises a refusal with exactly this message (and field), and the request would roll back."""
    with pytest.raises(PostError) as error:  # ResponseError is a PostError
        yield
    assert error.value.message == message
    assert error.value.field == field
    db.session.rollback()


def decisions(action: str) -> list[ModerationDecision]:
    statement = select(ModerationDecision).where(ModerationDecision.action == action).order_by(ModerationDecision.id)
    return list(db.session.scalars(statement))


def unread(user, conversation: Conversation) -> int:
    """The unread count the user's dashboard shows for the conversation."""
    [row] = [row for row in queries.organization_conversations(user).rows if row.id == conversation.id]
    return row.unread


def marker(user, conversation: Conversation) -> int | None:
    db.session.expire_all()
    record = db.session.get(ConversationRead, (conversation.id, user.id))
    return record.last_read_message_id if record else None


@pytest.fixture
def second_shinagawa(create_user):
    """Another officer of 品川区."""
    return create_user(SHINAGAWA, email="second@city.shinagawa.tokyo.jp", name="品川 二人目")


# --- who may answer --------------------------------------------------------------------------------------------


def test_a_ward_answers_a_proposal_and_a_conversation_opens(people, proposal):
    response = services.respond(people.shinagawa, proposal, ResponseKind.OFFER, "  しながわ水族館でいかがでしょう。\n")
    db.session.commit()
    db.session.expire_all()
    assert response.post_id == proposal.id and response.organization_id == people.shinagawa.organization_id
    assert response.author_id == people.shinagawa.id
    assert response.kind == ResponseKind.OFFER and response.state == ResponseState.OPEN
    conversation = response.conversation
    assert conversation.post_organization_id == people.sakai.organization_id
    assert conversation.partner_organization_id == people.shinagawa.organization_id
    [message] = db.session.scalars(select(Message).where(Message.conversation_id == conversation.id))
    assert message.body == "しながわ水族館でいかがでしょう。"  # trimmed
    assert message.author_id == people.shinagawa.id
    assert message.organization_id == people.shinagawa.organization_id
    assert conversation.message_count == 1 and conversation.last_message_id == message.id


def test_a_municipality_answers_a_call(people, make_post):
    call = make_post(people.shinagawa, title="品川区の祭りに出展を")
    assert services.can_respond(people.kushiro, call) and services.can_respond(people.sakai, call)
    response = services.respond(people.kushiro, call, ResponseKind.QUESTION, "出展料はかかりますか。")
    db.session.commit()
    assert response.conversation.post_organization_id == people.shinagawa.organization_id
    assert response.conversation.partner_organization_id == people.kushiro.organization_id


@pytest.mark.parametrize(
    ("actor", "author"),
    [
        ("kushiro", "sakai"),  # a municipality does not answer another municipality's proposal
        ("sakai_colleague", "sakai"),  # nor its own organization's
        ("sakai", "sakai"),
        ("chiyoda", "shinagawa"),  # a ward does not answer another ward's call
        ("shinagawa", "shinagawa"),
        ("moderator", "sakai"),  # the secretariat belongs to no side
        ("moderator", "shinagawa"),
    ],
)
def test_only_the_other_side_answers(people, make_post, actor, author):
    post = make_post(getattr(people, author))
    before = database_state()
    assert not services.can_respond(getattr(people, actor), post)
    with refused(OTHER_SIDE_ONLY):
        services.respond(getattr(people, actor), post, ResponseKind.INTEREST, "応答します。")
    assert_unchanged(before)


def test_a_co_proposer_does_not_answer_the_post_it_co_proposes(people, make_post):
    call = make_post(people.shinagawa, title="二区合同の募集")
    co_proposer = posts.invite_co_proposer(people.shinagawa, call, get_by_code(CHIYODA))
    posts.answer_co_proposal(people.chiyoda, co_proposer, accept=True)
    db.session.commit()
    before = database_state()
    assert not services.can_respond(people.chiyoda, call)
    with refused(OTHER_SIDE_ONLY):
        services.respond(people.chiyoda, call, ResponseKind.INTEREST, "応答します。")
    assert_unchanged(before)


def test_a_suspended_officer_does_not_answer(people, proposal):
    people.shinagawa.state = UserState.SUSPENDED
    db.session.commit()
    assert not services.can_respond(people.shinagawa, proposal)
    with refused(OTHER_SIDE_ONLY):
        services.respond(people.shinagawa, proposal, ResponseKind.INTEREST, "応答します。")
    assert count(Response) == 0


@pytest.mark.parametrize(
    "state",
    [
        PostState.DRAFT,
        PostState.PENDING,
        PostState.REJECTED,
        PostState.CLOSED,
        PostState.EXPIRED,
        PostState.HIDDEN,
        PostState.WITHDRAWN,
    ],
)
def test_a_post_that_is_not_published_takes_no_answer(people, make_post, state):
    post = make_post(people.sakai, state)
    before = database_state()
    assert not services.can_respond(people.shinagawa, post)
    with refused(NOT_OPEN):
        services.respond(people.shinagawa, post, ResponseKind.INTEREST, "応答します。")
    assert_unchanged(before)


def test_an_organization_answers_a_post_once(people, proposal, answer, second_shinagawa):
    before = database_state()
    with refused(ALREADY_ANSWERED):
        services.respond(second_shinagawa, proposal, ResponseKind.OFFER, "もう一度応答します。")
    with refused(ALREADY_ANSWERED):
        services.respond(people.shinagawa, proposal, ResponseKind.QUESTION, "もう一度")
    assert_unchanged(before)
    assert messages_in(answer.conversation.id) == [FIRST_MESSAGE]


def test_two_wards_answer_the_same_post(people, proposal, answer, respond_as):
    other = respond_as(people.chiyoda, proposal, "千代田区でも開けます。")
    assert other.conversation.id != answer.conversation.id
    assert count(Response) == count(Conversation) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "メッセージを入力してください。"),
        ("   \n\t　", "メッセージを入力してください。"),  # full-width space too
        ("あ" * 100_000, "メッセージは10000文字以内にしてください。"),
        ("a" * 10_001, "メッセージは10000文字以内にしてください。"),
    ],
    ids=["empty", "only-spaces", "100000-characters", "one-too-many"],
)
def test_an_empty_or_overlong_message_is_refused(people, proposal, text, message):
    before = database_state()
    with refused(message, field="message"):
        services.respond(people.shinagawa, proposal, ResponseKind.INTEREST, text)
    assert_unchanged(before)


def test_a_message_of_exactly_the_limit_is_accepted(people, proposal):
    response = services.respond(people.shinagawa, proposal, ResponseKind.INTEREST, "あ" * 10_000)
    db.session.commit()
    assert [len(body) for body in messages_in(response.conversation.id)] == [10_000]


@pytest.mark.parametrize("form_class", [RespondForm, MessageForm])
@pytest.mark.parametrize(
    "text", ["ヌル\x00文字", "ベル\x07", "逆向き\u202eきむ", "ゼロ幅\u200bスペース", "エスケープ\x1b[31m"]
)
def test_control_characters_are_refused_by_the_forms(app, form_class, text):
    with app.test_request_context("/", method="POST", data={"kind": "interest", "message": text}):
        form = form_class()
        assert not form.validate()
        assert form.message.errors == ["使用できない制御文字が含まれています。"]
    with app.test_request_context("/", method="POST", data={"kind": "interest", "message": "改行は\r\nよい\tタブも"}):
        assert form_class().validate()


# --- conversations ------------------------------------------------------------------------------------------------


def test_both_organizations_and_moderators_take_part_in_the_conversation(people, answer, create_user):
    conversation = answer.conversation
    for member in (people.sakai, people.sakai_colleague, people.shinagawa, people.moderator):
        assert conversation.can_view(member) and conversation.can_write(member), member.name
    suspended = create_user(SHINAGAWA, state=UserState.SUSPENDED)
    for stranger in (people.kushiro, people.chiyoda, suspended, None):
        assert not conversation.can_view(stranger) and not conversation.can_write(stranger)


def test_writing_in_a_conversation(people, answer):
    conversation = answer.conversation
    reply = services.post_message(people.sakai_colleague, conversation, "ぜひお願いします。")
    db.session.commit()
    db.session.expire_all()
    assert messages_in(conversation.id) == [FIRST_MESSAGE, "ぜひお願いします。"]
    assert reply.organization_id == people.sakai.organization_id
    assert conversation.message_count == 2 and conversation.last_message_id == reply.id
    assert conversation.last_message_at == reply.created_at


def test_a_stranger_does_not_write_in_a_conversation(people, answer):
    before = database_state()
    for stranger in (people.kushiro, people.chiyoda):
        with refused("このやりとりには書き込めません。"):
            services.post_message(stranger, answer.conversation, "割り込みます。")
    too_long = ("あ" * 10_001, "メッセージは10000文字以内にしてください。")
    for text, message in (("  ", "メッセージを入力してください。"), too_long):
        with refused(message, field="message"):
            services.post_message(people.sakai, answer.conversation, text)
    assert_unchanged(before)


def test_the_other_side_sees_the_new_messages_as_unread_and_the_author_does_not(people, answer):
    conversation = answer.conversation
    assert unread(people.shinagawa, conversation) == 0  # their own answer
    assert unread(people.sakai, conversation) == 1
    services.post_message(people.shinagawa, conversation, "日程の候補です。")
    db.session.commit()
    assert unread(people.shinagawa, conversation) == 0
    assert unread(people.sakai, conversation) == 2


def test_unread_markers_are_per_user(people, answer):
    conversation = answer.conversation
    services.mark_read(people.sakai.id, conversation.id, conversation.last_message_id)
    db.session.commit()
    assert unread(people.sakai, conversation) == 0
    assert unread(people.sakai_colleague, conversation) == 1  # a colleague's reading is not theirs
    reply = services.post_message(people.sakai, conversation, "ありがとうございます。")
    db.session.commit()
    assert unread(people.sakai, conversation) == 0
    assert unread(people.sakai_colleague, conversation) == 2  # a colleague's message is new to them
    assert unread(people.shinagawa, conversation) == 1
    assert marker(people.sakai, conversation) == reply.id


def test_the_read_marker_never_moves_backwards(people, answer):
    conversation = answer.conversation
    first = conversation.last_message_id
    second = services.post_message(people.shinagawa, conversation, "二通目").id
    services.mark_read(people.sakai.id, conversation.id, second)
    db.session.commit()
    services.mark_read(people.sakai.id, conversation.id, first)  # an older tab
    services.mark_read(people.sakai.id, conversation.id, None)
    services.mark_read(people.sakai.id, conversation.id, 0)
    db.session.commit()
    assert marker(people.sakai, conversation) == second
    assert unread(people.sakai, conversation) == 0


def test_each_verb_sends_its_signal(people, proposal):
    sent = []

    def record(name):
        return lambda sender, **kwargs: sent.append((name, sender, sorted(kwargs)))

    receivers = {
        signal: record(signal.name)
        for signal in (
            signals.response_received,
            signals.message_posted,
            signals.response_decided,
            signals.outcome_updated,
            signals.publication_consented,
        )
    }
    for signal, receiver in receivers.items():
        signal.connect(receiver)
    try:
        answer = services.respond(people.shinagawa, proposal, ResponseKind.INTEREST, FIRST_MESSAGE)
        services.post_message(people.sakai, answer.conversation, "返信")
        partnership = services.accept_response(people.sakai, answer)
        services.update_outcome(people.shinagawa, partnership, outcome())
        services.consent_to_publication(people.sakai, partnership)
    finally:
        for signal, receiver in receivers.items():
            signal.disconnect(receiver)
    assert sent == [
        ("response-received", people.shinagawa, ["response"]),
        ("message-posted", people.sakai, ["conversation", "message"]),
        ("response-decided", people.sakai, ["partnership", "response"]),
        ("outcome-updated", people.shinagawa, ["partnership"]),
        ("publication-consented", people.sakai, ["partnership"]),
    ]


# --- accepting and declining --------------------------------------------------------------------------------------


def test_accepting_records_one_partnership(people, proposal, answer):
    partnership = services.accept_response(people.sakai_colleague, answer)
    db.session.commit()
    db.session.expire_all()
    assert answer.state == ResponseState.ACCEPTED
    assert answer.decided_by_id == people.sakai_colleague.id and answer.decided_at is not None
    assert partnership.post_id == proposal.id and partnership.response_id == answer.id
    assert partnership.post_organization_id == people.sakai.organization_id
    assert partnership.partner_organization_id == people.shinagawa.organization_id
    assert partnership.agreed_on == today_in_japan()
    assert partnership.title == proposal.title
    assert partnership.published_at is None and not partnership.has_both_consents
    assert count(Partnership) == 1


def test_a_second_accept_is_refused_with_a_clear_message(people, partnership):
    answer = partnership.response
    before = database_state()
    for officer in (people.sakai, people.sakai_colleague):
        with refused(ALREADY_DECIDED):
            services.accept_response(officer, answer)
    with refused(ALREADY_DECIDED):
        services.decline_response(people.sakai, answer)
    assert_unchanged(before)


@pytest.mark.parametrize("actor", ["shinagawa", "kushiro", "chiyoda", "moderator"])
def test_only_the_posts_organization_accepts_or_declines(people, answer, actor):
    before = database_state()
    with refused(OWNERS_DECIDE):
        services.accept_response(getattr(people, actor), answer)
    with refused(OWNERS_DECIDE):
        services.decline_response(getattr(people, actor), answer)
    assert_unchanged(before)


def test_a_co_proposer_does_not_accept_for_the_author(people, proposal, answer):
    co_proposer = posts.invite_co_proposer(people.sakai, proposal, get_by_code(KUSHIRO_TOWN))
    posts.answer_co_proposal(people.kushiro, co_proposer, accept=True)
    db.session.commit()
    before = database_state()
    with refused(OWNERS_DECIDE):
        services.accept_response(people.kushiro, answer)
    assert_unchanged(before)


def test_declining_keeps_the_conversation(people, answer):
    services.decline_response(people.sakai, answer)
    db.session.commit()
    db.session.expire_all()
    assert answer.state == ResponseState.DECLINED and answer.decided_at is not None
    assert count(Partnership) == 0
    with refused(ALREADY_DECIDED):
        services.accept_response(people.sakai, answer)
    assert answer.conversation.can_view(people.shinagawa)
    services.post_message(people.shinagawa, answer.conversation, "承知しました。またの機会に。")
    db.session.commit()
    assert len(messages_in(answer.conversation.id)) == 2


def test_a_post_partners_with_several_organizations(people, proposal, answer, respond_as):
    other = respond_as(people.chiyoda, proposal, "千代田区でも開けます。")
    first = services.accept_response(people.sakai, answer)
    second = services.accept_response(people.sakai, other)
    db.session.commit()
    rows = db.session.scalars(select(Partnership).where(Partnership.post_id == proposal.id)).all()
    assert {row.id for row in rows} == {first.id, second.id}
    assert {row.partner_organization_id for row in rows} == {
        people.shinagawa.organization_id,
        people.chiyoda.organization_id,
    }


def test_a_closed_post_still_accepts_but_a_hidden_one_does_not(people, proposal, answer, respond_as):
    other = respond_as(people.chiyoda, proposal, "千代田区でも開けます。")
    posts.close_post(people.sakai, proposal, "partnered")
    db.session.commit()
    services.accept_response(people.sakai, answer)
    db.session.commit()
    posts.hide_post(people.moderator, proposal, "規約に反する内容のため")
    db.session.commit()
    before = database_state()
    with refused("この投稿の応答は、現在受け入れられません。"):
        services.accept_response(people.sakai, other)
    assert_unchanged(before)


# --- the outcome ----------------------------------------------------------------------------------------------------


def test_either_side_records_the_outcome(people, partnership):
    services.update_outcome(people.shinagawa, partnership, outcome())
    db.session.commit()
    db.session.expire_all()
    assert (partnership.title, partnership.held_from, partnership.venue) == (
        "しながわ水族館で黄金がにPR",
        date(2015, 11, 18),
        "しながわ水族館",
    )
    assert partnership.outcome_updated_by_id == people.shinagawa.id and partnership.has_outcome
    services.update_outcome(people.sakai_colleague, partnership, outcome(summary="来場者は約3,000人。"))
    db.session.commit()
    db.session.expire_all()
    assert partnership.summary == "来場者は約3,000人。"
    assert partnership.outcome_updated_by_id == people.sakai_colleague.id


@pytest.mark.parametrize("actor", ["kushiro", "chiyoda", "moderator"])
def test_only_the_two_organizations_record_the_outcome(people, partnership, actor):
    before = database_state()
    with refused(NO_EDIT):
        services.update_outcome(getattr(people, actor), partnership, outcome())
    assert_unchanged(before)


def test_the_end_of_the_event_is_not_before_its_start(people, partnership):
    before = database_state()
    with refused("終了日は開始日と同じか後の日付にしてください。", field="held_until"):
        services.update_outcome(
            people.shinagawa, partnership, outcome(held_from=date(2015, 11, 23), held_until=date(2015, 11, 18))
        )
    assert_unchanged(before)
    services.update_outcome(people.shinagawa, partnership, outcome(held_until=date(2015, 11, 18)))  # one day
    db.session.commit()


def test_the_database_refuses_an_end_before_the_start(people, partnership):
    partnership.held_from, partnership.held_until = date(2015, 11, 23), date(2015, 11, 18)
    with pytest.raises(IntegrityError, match="ck_partnership_held_ordered"):
        db.session.flush()
    db.session.rollback()
    assert fresh(partnership).held_from is None


def test_up_to_five_photos(people, partnership, app):
    files = [
        image_upload("1.jpg"),
        image_upload("2.png", "PNG"),
        image_upload("3.webp", "WEBP"),
        image_upload("4.jpg"),
    ]
    services.update_outcome(people.shinagawa, partnership, outcome(), files)
    db.session.commit()
    services.update_outcome(people.sakai, partnership, outcome(), [image_upload("5.jpg")])
    db.session.commit()
    db.session.expire_all()
    photos = partnership.photos
    assert [photo.original_name for photo in photos] == ["1.jpg", "2.png", "3.webp", "4.jpg", "5.jpg"]
    assert {photo.content_type for photo in photos} == {"image/jpeg", "image/png", "image/webp"}
    assert [photo.uploaded_by_id for photo in photos] == [people.shinagawa.id] * 4 + [people.sakai.id]
    assert all(photo.width == 40 and photo.height == 30 for photo in photos)
    with app.test_request_context():
        assert all(uploads.path_of(photo.stored_name).is_file() for photo in photos)
    before = database_state()
    with refused("写真は5枚までです。", field="photos"):
        services.update_outcome(people.sakai, partnership, outcome(), [image_upload("6.jpg")])
    assert_unchanged(before)


def test_six_photos_at_once_are_refused(people, partnership):
    before = database_state()
    with refused("写真は5枚までです。", field="photos"):
        services.update_outcome(people.shinagawa, partnership, outcome(), [image_upload(f"{n}.jpg") for n in range(6)])
    assert_unchanged(before)


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (lambda: pdf_upload(), "写真は PNG、JPEG、WebP の画像にしてください。"),
        (
            lambda: image_upload("偽物.jpg", "GIF"),
            "偽物.jpg は添付できない形式です。PDF、PNG、JPEG、WebP のみ添付できます。",
        ),
    ],
    ids=["pdf", "gif"],
)
def test_a_photo_must_be_an_image_we_take(people, partnership, upload, message):
    before = database_state()
    with refused(message, field="photos"):
        services.update_outcome(people.shinagawa, partnership, outcome(), [image_upload("ok.jpg"), upload()])
    assert_unchanged(before)


def test_photos_over_the_pixel_budget_together_are_refused(people, partnership):
    """Three posters of 40 million pixels: each may be a photo, together they are over 100 million."""
    before = database_state()
    posters = [FileStorage(io.BytesIO(blank_png(8_000, 5_000)), f"ポスター{n}.png") for n in range(3)]
    message = "画像が合わせて大きすぎます（一度に合計100,000,000画素まで）。枚数を減らすか、画像を縮小してください。"
    with refused(message, field="photos"):
        services.update_outcome(people.shinagawa, partnership, outcome(), posters)
    assert_unchanged(before)
    assert partnership.photos == []


def test_removing_a_photo(people, partnership):
    services.update_outcome(people.shinagawa, partnership, outcome(), [image_upload("1.jpg"), image_upload("2.jpg")])
    db.session.commit()
    first, second = partnership.photos
    services.update_outcome(people.sakai, partnership, outcome(), remove_photo_ids=[first.id, 999_999])
    db.session.commit()
    db.session.expire_all()
    assert [photo.id for photo in partnership.photos] == [second.id]
    assert count(PartnershipPhoto) == 1


def test_editing_after_consent_asks_both_sides_again(people, consented):
    services.update_outcome(people.sakai, consented, outcome())  # nothing changed: the consents stay
    db.session.commit()
    assert consented.has_both_consents
    services.update_outcome(people.sakai, consented, outcome(venue="しながわ水族館 イルカショースタジアム"))
    db.session.commit()
    db.session.expire_all()
    assert consented.post_organization_consent_at is None and consented.partner_organization_consent_at is None


def test_adding_a_photo_after_consent_asks_both_sides_again(people, consented):
    services.update_outcome(people.shinagawa, consented, outcome(), [image_upload()])
    db.session.commit()
    db.session.expire_all()
    assert not consented.has_both_consents and consented.partner_organization_consent_at is None


# --- consent and publication ------------------------------------------------------------------------------------


def test_consent_needs_an_outcome(people, partnership):
    before = database_state()
    with refused("公開に同意する前に、実施日と概要を記入してください。"):
        services.consent_to_publication(people.sakai, partnership)
    assert_unchanged(before)


def test_each_side_consents_once(people, with_outcome):
    services.consent_to_publication(people.sakai, with_outcome)
    db.session.commit()
    assert with_outcome.post_organization_consent_at is not None
    assert with_outcome.partner_organization_consent_at is None and not with_outcome.has_both_consents
    with refused("この連携の公開にはすでに同意しています。"):
        services.consent_to_publication(people.sakai_colleague, with_outcome)  # the organization has consented
    for stranger in (people.kushiro, people.moderator):
        with refused("公開への同意はできません。"):
            services.consent_to_publication(stranger, with_outcome)
    services.consent_to_publication(people.shinagawa, with_outcome)
    db.session.commit()
    assert with_outcome.has_both_consents


def test_publication_needs_both_consents(people, with_outcome):
    services.consent_to_publication(people.shinagawa, with_outcome)
    db.session.commit()
    before = database_state()
    with refused("両方の団体が公開に同意した連携だけを公開できます。"):
        services.publish_case(people.moderator, with_outcome)
    assert_unchanged(before)


def test_the_database_refuses_a_case_without_both_consents(people, with_outcome):
    with_outcome.published_at = utcnow()
    with pytest.raises(IntegrityError, match="ck_partnership_published_with_both_consents"):
        db.session.flush()
    db.session.rollback()
    assert fresh(with_outcome).published_at is None


@pytest.mark.parametrize("actor", ["sakai", "shinagawa", "kushiro"])
def test_only_moderators_publish_and_unpublish(people, consented, actor):
    before = database_state()
    with refused(MODERATORS_ONLY):
        services.publish_case(getattr(people, actor), consented)
    with refused(MODERATORS_ONLY):
        services.unpublish_case(getattr(people, actor), consented, "理由")
    assert_unchanged(before)


def test_publishing_a_case_is_logged(people, consented):
    services.publish_case(people.moderator, consented)
    db.session.commit()
    assert consented.is_case() and consented.published_by_id == people.moderator.id
    [decision] = decisions("publish_case")
    assert (decision.actor_id, decision.subject_type, decision.subject_id) == (
        people.moderator.id,
        "partnership",
        consented.id,
    )
    assert decision.subject_label == consented.title
    with refused("この連携はすでに事例として公開されています。"):
        services.publish_case(people.moderator, consented)
    assert len(decisions("publish_case")) == 1


def test_a_published_case_is_not_edited_nor_consented_again(people, case):
    before = database_state()
    for side in (people.sakai, people.shinagawa):
        assert not case.can_edit_outcome(side)
        with refused(NO_EDIT):
            services.update_outcome(side, case, outcome(summary="書き換え"))
        with refused("公開への同意はできません。"):
            services.consent_to_publication(side, case)
    assert_unchanged(before)


def test_unpublishing_needs_a_reason_and_is_logged(people, case):
    before = database_state()
    for reason in ("", "  \n"):
        with refused("理由を入力してください。", field="reason"):
            services.unpublish_case(people.moderator, case, reason)
    assert_unchanged(before)
    services.unpublish_case(people.moderator, case, "  団体から取り下げの依頼があったため ")
    db.session.commit()
    assert not case.is_case() and case.published_by_id is None
    [decision] = decisions("unpublish_case")
    assert decision.reason == "団体から取り下げの依頼があったため"
    assert (decision.actor_id, decision.subject_type, decision.subject_id) == (
        people.moderator.id,
        "partnership",
        case.id,
    )
    with refused("この連携は公開されていません。"):
        services.unpublish_case(people.moderator, case, "もう一度")
    assert case.can_edit_outcome(people.sakai)  # back in the organizations' hands


def test_public_cases_are_the_published_partnerships(people, case, proposal, respond_as):
    other = services.accept_response(people.sakai, respond_as(people.chiyoda, proposal, "千代田区です。"))
    db.session.commit()
    page = queries.published_cases()
    assert [item.id for item in page.items] == [case.id] and not page.has_next
    assert other.id not in [item.id for item in queries.cases_awaiting_publication()]


def test_consented_partnerships_wait_for_a_moderator(people, consented):
    assert [item.id for item in queries.cases_awaiting_publication()] == [consented.id]
    services.publish_case(people.moderator, consented)
    db.session.commit()
    assert queries.cases_awaiting_publication() == []


# --- reports of messages -------------------------------------------------------------------------------------------


@pytest.fixture
def reported(people, answer) -> Report:
    """坂井市 reported 品川区's first message."""
    message = db.session.scalar(select(Message).where(Message.conversation_id == answer.conversation.id))
    report = reports.report_message(people.sakai, message, "  不適切な表現があります。 ")
    db.session.commit()
    return report


def test_a_member_of_the_conversation_reports_the_other_sides_message(people, answer, reported):
    assert reported.message.body == FIRST_MESSAGE and reported.post_id is None
    assert reported.reporter_id == people.sakai.id and reported.reason == "不適切な表現があります。"
    assert reported.state == ReportState.OPEN
    assert [report.id for report in moderation_queries.open_reports()] == [reported.id]


def test_what_cannot_be_reported(people, answer, reported):
    message = reported.message
    own = services.post_message(people.sakai, answer.conversation, "坂井市の返信")
    db.session.commit()
    before = database_state()
    not_reportable = "このメッセージは通報できません。"
    cases = [
        (people.shinagawa, message, "理由", not_reportable, None),  # their own organization's
        (people.sakai, own, "理由", not_reportable, None),
        (people.kushiro, message, "理由", not_reportable, None),  # not in the conversation
        (people.moderator, message, "理由", not_reportable, None),  # moderators hide instead
        (people.sakai_colleague, message, " ", "通報の理由を入力してください。", "reason"),
        (people.sakai, message, "理由", "このメッセージはすでに通報済みです。事務局が確認します。", "reason"),
    ]
    for actor, target, reason, text, field in cases:
        with refused(text, field=field):
            reports.report_message(actor, target, reason)
    assert_unchanged(before)


def test_hiding_a_reported_message(app, auth, people, answer, reported):
    second = reports.report_message(people.sakai_colleague, reported.message, "同じく不適切です。")
    db.session.commit()
    with refused("非公開にする理由を入力してください。", field="reason"):
        reports.hide_reported_post(people.moderator, reported, "  ")
    with refused(MODERATORS_ONLY):
        reports.hide_reported_post(people.shinagawa, reported, HIDE_REASON)
    reports.hide_reported_post(people.moderator, reported, HIDE_REASON)
    db.session.commit()
    db.session.expire_all()
    message = reported.message
    assert message.hidden_at is not None and message.hidden_reason == HIDE_REASON
    assert message.body == FIRST_MESSAGE  # kept for the record
    assert reported.state == second.state == ReportState.ACTIONED  # every open report on the message
    assert reported.resolved_by_id == people.moderator.id
    [decision] = decisions("hide_message")
    assert (decision.actor_id, decision.subject_type, decision.subject_id, decision.reason) == (
        people.moderator.id,
        "conversation",
        answer.conversation.id,
        HIDE_REASON,
    )
    assert decision.details == {"message_id": message.id}
    assert moderation_queries.open_reports() == []
    with refused("この通報はすでに処理されています。"):
        reports.dismiss_report(people.moderator, reported)

    for reader in (people.sakai, people.shinagawa, people.moderator):
        browser = new_client(app, reader)
        page = browser.get(f"/conversations/{answer.conversation.id}").get_data(as_text=True)
        assert "このメッセージは事務局により非表示になりました。" in page
        assert FIRST_MESSAGE not in page


def test_dismissing_a_message_report(people, answer, reported):
    reports.dismiss_report(people.moderator, reported, "問題は見当たりません。")
    db.session.commit()
    assert reported.state == ReportState.DISMISSED and reported.resolved_by_id == people.moderator.id
    assert reported.message.hidden_at is None
    [decision] = decisions("dismiss_report")
    assert decision.actor_id == people.moderator.id and decision.reason == "問題は見当たりません。"
    assert decision.subject_type == "conversation" and decision.subject_id == answer.conversation.id
