"""The response pages through the test client: answering a post, the conversation, accepting and declining, the
partnership with its outcome form, consent, publication, the dashboard and the public cases. Bad input gets a clear
Japanese message with status 400 (never a 500) and changes nothing; ids that do not belong together are 404."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from bulletin.core.audit import ModerationDecision
from bulletin.core.text import today_in_japan
from bulletin.extensions import db
from bulletin.moderation import reports
from bulletin.moderation.models import Report, ReportState
from bulletin.posts.models import PostState
from bulletin.responses import services
from bulletin.responses.models import Message, Partnership, PartnershipPhoto, Response, ResponseKind, ResponseState
from tests.constants import (
    ALREADY_DECIDED,
    BAD_DATE,
    CONFIRMED,
    CONTROL_CHARACTERS,
    CSRF_REFUSED,
    NOT_ACCEPTED,
    PDF,
    REQUIRED,
)
from tests.factories import (
    FIRST_MESSAGE,
    assert_field_error,
    assert_unchanged,
    blank_png,
    count,
    database_state,
    flashes,
    form_errors,
    fresh,
    image_bytes,
    image_upload,
    log_in_with_csrf,
    messages_in,
    new_client,
    outcome,
    page_of,
    text_of,
    uploaded_files,
)

END_BEFORE_START = "終了日は開始日と同じか後の日付にしてください。"
FUTURE_START = "実施日（から）に未来の日付は入力できません。実施した日を入力してください。"
FUTURE_END = "実施日（まで）に未来の日付は入力できません。実施が終わってから記録してください。"

OUTCOME_FORM = {
    "title": "しながわ水族館で黄金がにPR",
    "held_from": "2015-11-18",
    "held_until": "2015-11-23",
    "venue": "しながわ水族館",
    "summary": "坂井市の黄金がにを区民に紹介した。",
}


def multipart(fields: dict, *files: tuple[bytes, str]) -> dict:
    """Form fields and files as a browser posts a form with enctype="multipart/form-data"."""
    data = dict(fields)
    data["photos"] = [(io.BytesIO(content), name) for content, name in files]
    return data


def jpeg(name: str = "水槽.jpg") -> tuple[bytes, str]:
    """A photo as `multipart` takes it."""
    return image_bytes("JPEG", (40, 30)), name


# --- answering a post -------------------------------------------------------------------------------------------------


def test_the_post_page_invites_the_other_side_only(client, auth, people, proposal):
    auth.login(people.shinagawa)
    assert "この投稿に応答する" in text_of(client.get(f"/posts/{proposal.id}"))
    auth.logout()
    for other in (people.kushiro, people.sakai_colleague, people.moderator):
        auth.login(other)
        page = client.get(f"/posts/{proposal.id}")
        assert page.status_code == 200 and "この投稿に応答する" not in text_of(page)
        auth.logout()


def test_answering_opens_the_conversation(client, auth, people, proposal):
    auth.login(people.shinagawa)
    page = client.get(f"/posts/{proposal.id}/respond")
    assert page.status_code == 200 and proposal.title in text_of(page)
    response = client.post(f"/posts/{proposal.id}/respond", data={"kind": "offer", "message": FIRST_MESSAGE})
    answer = db.session.scalar(select(Response))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/conversations/{answer.conversation.id}"
    conversation = client.get(response.headers["Location"])
    assert FIRST_MESSAGE in text_of(conversation)
    assert "応答を送りました。やりとりはこのページで続けられます。" in flashes(conversation)
    assert "具体的に提案します" in text_of(conversation)
    assert "この応答を受け入れて連携する" not in text_of(conversation)  # that is for 坂井市
    post_page = text_of(client.get(f"/posts/{proposal.id}"))
    assert "あなたの団体はこの投稿に応答しています。" in post_page and "この投稿に応答する" not in post_page


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"kind": "interest", "message": ""}, "message", "メッセージを入力してください。"),
        ({"kind": "interest", "message": " \u3000 \n "}, "message", "メッセージを入力してください。"),
        ({"kind": "interest"}, "message", "メッセージを入力してください。"),
        ({"kind": "interest", "message": "あ" * 100_000}, "message", "10000文字以内で入力してください。"),
        ({"kind": "interest", "message": "よろしく\x00お願いします"}, "message", CONTROL_CHARACTERS),
        ({"kind": "interest", "message": "右から左\u202e"}, "message", CONTROL_CHARACTERS),
        ({"kind": "", "message": "応答します。"}, "kind", "応答の種類を選んでください。"),
        ({"message": "応答します。"}, "kind", "応答の種類を選んでください。"),
        ({"kind": "accepted", "message": "応答します。"}, "kind", "応答の種類を選んでください。"),
        ({"kind": ["interest", "offer"], "message": "応答します。"}, None, None),  # the first one counts: fine
    ],
    ids=[
        "empty",
        "spaces",
        "missing-message",
        "100000-characters",
        "nul",
        "bidi-override",
        "no-kind",
        "missing-kind",
        "unknown-kind",
        "two-kinds",
    ],
)
def test_bad_answers_are_refused_on_the_form(client, auth, people, proposal, data, field, message):
    auth.login(people.shinagawa)
    before = database_state()
    response = client.post(f"/posts/{proposal.id}/respond", data=data)
    if field is None:
        assert response.status_code == 302
        assert [(answer.kind, answer.organization_id) for answer in db.session.scalars(select(Response))] == [
            (ResponseKind.INTEREST, people.shinagawa.organization_id)
        ]
        return
    assert response.status_code == 400
    assert_unchanged(before)
    if field == "message":
        assert_field_error(response, "message", message)
    else:
        page = page_of(response)
        assert message in page.by_id("kind-error").text
        assert message in form_errors(response)
    assert response.mimetype == "text/html"


def test_an_answer_keeps_what_was_typed_after_an_error(client, auth, people, proposal):
    auth.login(people.shinagawa)
    typed = "水族館での開催を提案します。"
    response = client.post(f"/posts/{proposal.id}/respond", data={"kind": "", "message": typed})
    assert response.status_code == 400
    assert page_of(response).by_id("message").text.strip() == typed
    assert count(Response) == 0


@pytest.mark.parametrize(
    ("actor", "status"),
    [("kushiro", 403), ("sakai_colleague", 403), ("chiyoda", 200), ("moderator", 403)],
)
def test_who_may_open_the_answer_form(client, auth, people, proposal, actor, status):
    auth.login(getattr(people, actor))
    assert client.get(f"/posts/{proposal.id}/respond").status_code == status
    before = database_state()
    response = client.post(f"/posts/{proposal.id}/respond", data={"kind": "interest", "message": "応答します。"})
    if status == 200:
        assert response.status_code == 302 and count(Response) == 1
    else:
        assert response.status_code == status
        assert_unchanged(before)


@pytest.mark.parametrize(
    ("state", "status"),
    [
        (PostState.DRAFT, 404),
        (PostState.PENDING, 404),
        (PostState.REJECTED, 404),
        (PostState.WITHDRAWN, 404),
        (PostState.HIDDEN, 404),
        (PostState.CLOSED, 403),  # still readable, no longer answered
        (PostState.EXPIRED, 403),
    ],
)
def test_a_post_that_is_not_published_takes_no_answer(client, auth, people, make_post, state, status):
    post = make_post(people.sakai, state)
    auth.login(people.shinagawa)
    before = database_state()
    assert client.get(f"/posts/{post.id}/respond").status_code == status
    response = client.post(f"/posts/{post.id}/respond", data={"kind": "interest", "message": "応答します。"})
    assert response.status_code == status
    assert_unchanged(before)


def test_answering_a_post_that_does_not_exist(client, auth, people):
    auth.login(people.shinagawa)
    before = database_state()
    for post_id in ("999999", "0", "99999999999999999999", "x"):
        path = f"/posts/{post_id}/respond"
        assert client.get(path).status_code == 404
        assert client.post(path, data={"kind": "interest", "message": "応答"}).status_code == 404
    assert_unchanged(before)


# --- the conversation -------------------------------------------------------------------------------------------------


def test_the_conversation_page(client, auth, people, answer):
    auth.login(people.sakai)
    page = client.get(f"/conversations/{answer.conversation.id}")
    html = text_of(page)
    assert page.status_code == 200
    assert FIRST_MESSAGE in html and "ここから未読" in html
    assert "福井県 坂井市 ⇄ 東京都 品川区" in html
    assert "この応答を受け入れて連携する" in html and "お断りする" in html
    assert "このメッセージを通報する" in html  # the other side's message
    response = client.post(f"/conversations/{answer.conversation.id}", data={"message": "  ぜひお願いします。\n"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/conversations/{answer.conversation.id}#latest"
    assert messages_in(answer.conversation.id) == [FIRST_MESSAGE, "ぜひお願いします。"]
    html = text_of(client.get(f"/conversations/{answer.conversation.id}"))
    assert "ここから未読" not in html
    assert html.count("このメッセージを通報する") == 1  # not on their own message


def test_the_responders_page_has_no_decision_buttons(client, auth, people, answer):
    auth.login(people.shinagawa)
    html = text_of(client.get(f"/conversations/{answer.conversation.id}"))
    assert "この応答を受け入れて連携する" not in html and "ここから未読" not in html
    assert "このメッセージを通報する" not in html  # their own message


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("", "メッセージを入力してください。"),
        ("\u3000\u3000", "メッセージを入力してください。"),
        (None, "メッセージを入力してください。"),
        ("あ" * 100_000, "10000文字以内で入力してください。"),
        ("ベル\x07", CONTROL_CHARACTERS),
        ("ゼロ幅\u200b", CONTROL_CHARACTERS),
    ],
    ids=["empty", "full-width-spaces", "missing", "100000-characters", "bell", "zero-width"],
)
def test_bad_messages_are_refused_on_the_form(client, auth, people, answer, message, error):
    auth.login(people.sakai)
    client.get(f"/conversations/{answer.conversation.id}")  # reading moves the marker: not part of this test
    before = database_state()
    data = {} if message is None else {"message": message}
    response = client.post(f"/conversations/{answer.conversation.id}", data=data)
    assert response.status_code == 400
    assert_field_error(response, "message", error)
    assert FIRST_MESSAGE in text_of(response)  # the conversation is still shown
    assert_unchanged(before)


def test_a_stranger_cannot_read_or_write_a_conversation(client, auth, people, answer):
    auth.login(people.kushiro)
    before = database_state()
    path = f"/conversations/{answer.conversation.id}"
    assert client.get(path).status_code == 404
    assert client.post(path, data={"message": "割り込みます。"}).status_code == 404
    message = db.session.scalar(select(Message))
    assert client.post(f"{path}/messages/{message.id}/report", data={"reason": "理由"}).status_code == 404
    assert client.post(f"/responses/{answer.id}/accept").status_code == 404
    assert client.post(f"/responses/{answer.id}/decline").status_code == 404
    assert_unchanged(before)


def test_tampered_conversation_ids_are_404(client, auth, people, proposal, answer, respond_as):
    other = respond_as(people.chiyoda, proposal, "千代田区です。")
    other_message = db.session.scalar(select(Message).where(Message.conversation_id == other.conversation.id))
    auth.login(people.shinagawa)
    before = database_state()
    own = f"/conversations/{answer.conversation.id}"
    assert client.get(f"/conversations/{other.conversation.id}").status_code == 404  # 千代田区's conversation
    assert client.post(f"/conversations/{other.conversation.id}", data={"message": "横から"}).status_code == 404
    # a message of another conversation, reported through one's own
    assert client.post(f"{own}/messages/{other_message.id}/report", data={"reason": "理由"}).status_code == 404
    for path in ("/conversations/999999", "/conversations/99999999999999999999", "/conversations/-1", f"{own}x"):
        assert client.get(path).status_code == 404
    assert client.post(f"{own}/messages/999999/report", data={"reason": "理由"}).status_code == 404
    for path in ("/responses/999999/accept", "/responses/999999/decline", f"/responses/{other.id}/accept"):
        assert client.post(path).status_code == 404
    assert_unchanged(before)


def test_anonymous_visitors_are_sent_to_log_in(client, answer):
    for path in (f"/conversations/{answer.conversation.id}", "/dashboard"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
    response = client.post(f"/conversations/{answer.conversation.id}", data={"message": "匿名"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert len(messages_in(answer.conversation.id)) == 1


# --- reports of messages -------------------------------------------------------------------------------------------


def test_reporting_a_message_and_the_moderator_hiding_it(app, client, auth, people, answer):
    message = db.session.scalar(select(Message))
    path = f"/conversations/{answer.conversation.id}/messages/{message.id}/report"
    auth.login(people.sakai)
    client.get(f"/conversations/{answer.conversation.id}")  # reading it moves the read markers once
    before = database_state()
    for reason in ("", "  ", "理由\x00", "あ" * 2001):
        response = client.post(path, data={"reason": reason}, follow_redirects=True)
        assert response.status_code == 200 and "通報の理由を入力してください。" in flashes(response)
    assert_unchanged(before)
    response = client.post(path, data={"reason": "不適切な表現があります。"}, follow_redirects=True)
    assert "通報しました。事務局が確認します。" in flashes(response)
    again = client.post(path, data={"reason": "もう一度"}, follow_redirects=True)
    assert "このメッセージはすでに通報済みです。事務局が確認します。" in flashes(again)
    assert count(Report) == 1
    auth.logout()

    auth.login(people.moderator)
    queue = text_of(client.get("/moderation"))
    assert "不適切な表現があります。" in queue and FIRST_MESSAGE in queue and "メッセージを非表示にする" in queue
    report = db.session.scalar(select(Report))
    empty = client.post(f"/moderation/reports/{report.id}/hide", data={"reason": ""}, follow_redirects=True)
    assert "理由を入力してください。" in flashes(empty)
    response = client.post(
        f"/moderation/reports/{report.id}/hide", data={"reason": "個人の連絡先が書かれているため", **CONFIRMED}
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert report.state == ReportState.ACTIONED and message.hidden_at is not None
    assert db.session.scalar(select(ModerationDecision.action).order_by(ModerationDecision.id.desc())) == (
        "hide_message"
    )
    auth.logout()

    for reader in (people.sakai, people.shinagawa):
        auth.login(reader)
        html = text_of(client.get(f"/conversations/{answer.conversation.id}"))
        assert "このメッセージは事務局により非表示になりました。" in html and FIRST_MESSAGE not in html
        auth.logout()


def test_hiding_a_reported_message_says_what_was_hidden(client, auth, people, answer):
    message = db.session.scalar(select(Message))
    reports.report_message(people.sakai, message, "不適切な表現があります。")
    db.session.commit()
    report = db.session.scalar(select(Report))
    auth.login(people.moderator)
    response = client.post(
        f"/moderation/reports/{report.id}/hide",
        data={"reason": "個人の連絡先のため", **CONFIRMED},
        follow_redirects=True,
    )
    assert "投稿を非公開にしました。" not in flashes(response)
    assert any("メッセージ" in text for text in flashes(response))


def test_dismissing_a_message_report_from_the_queue(client, auth, people, answer):
    message = db.session.scalar(select(Message))
    reports.report_message(people.sakai, message, "不適切な表現があります。")
    db.session.commit()
    report = db.session.scalar(select(Report))
    auth.login(people.moderator)
    response = client.post(f"/moderation/reports/{report.id}/dismiss", data={"note": "問題ありません。"})
    assert response.status_code == 302
    db.session.expire_all()
    assert report.state == ReportState.DISMISSED and message.hidden_at is None


# --- accepting and declining ------------------------------------------------------------------------------------------


def test_accepting_through_the_page(client, auth, people, answer):
    auth.login(people.sakai)
    response = client.post(f"/responses/{answer.id}/accept", data=CONFIRMED, follow_redirects=True)
    partnership = db.session.scalar(select(Partnership))
    assert response.request.path == f"/partnerships/{partnership.id}"
    assert "応答を受け入れ、連携を記録しました。" in flashes(response)
    again = client.post(f"/responses/{answer.id}/accept", data=CONFIRMED, follow_redirects=True)  # a double click
    assert again.request.path == f"/conversations/{answer.conversation.id}"
    assert "この応答にはすでに回答しています。" in flashes(again)
    assert count(Partnership) == 1
    declined = client.post(f"/responses/{answer.id}/decline", data=CONFIRMED, follow_redirects=True)
    assert "この応答にはすでに回答しています。" in flashes(declined)
    db.session.refresh(answer)
    assert answer.state == ResponseState.ACCEPTED


def test_declining_through_the_page(client, auth, people, answer):
    auth.login(people.sakai)
    response = client.post(f"/responses/{answer.id}/decline", data=CONFIRMED, follow_redirects=True)
    assert response.request.path == f"/conversations/{answer.conversation.id}"
    assert "応答をお断りしました。" in flashes(response)
    assert "お断り" in text_of(response) and "この応答を受け入れて連携する" not in text_of(response)
    db.session.refresh(answer)
    assert answer.state == ResponseState.DECLINED and count(Partnership) == 0


@pytest.mark.parametrize("actor", ["shinagawa", "moderator"])
def test_the_other_side_cannot_accept(client, auth, people, answer, actor):
    auth.login(getattr(people, actor))
    before = database_state()
    for verb in ("accept", "decline"):
        response = client.post(f"/responses/{answer.id}/{verb}", data=CONFIRMED, follow_redirects=True)
        assert "応答に回答できるのは、投稿した団体の職員です。" in flashes(response)
    assert_unchanged(before)


@pytest.mark.parametrize(
    ("verb", "heading", "consequence"),
    [
        ("accept", "この応答を受け入れて連携しますか", "受け入れると連携として記録され、相手の団体に通知されます。"),
        ("decline", "この応答をお断りしますか", "お断りすると相手の団体に通知され"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_accepting_or_declining_asks_first(client, auth, people, answer, verb, heading, consequence, method):
    """The button without JavaScript posts without `confirm`: like a GET of the URL, it shows what will happen and
    changes nothing; 確定 posts again with confirm=1."""
    auth.login(people.sakai)
    before = database_state()
    response = client.open(f"/responses/{answer.id}/{verb}", method=method)
    assert response.status_code == 200
    page = page_of(response)
    assert page.all("h1")[0].text == heading
    text = text_of(response)
    assert consequence in text and "東京都 品川区" in text and FIRST_MESSAGE in text
    form = next(f for f in page.all("form") if f.attrs.get("action") == f"/responses/{answer.id}/{verb}")
    assert {"name": "confirm", "value": "1", "type": "hidden"}.items() <= next(
        e.attrs for e in page.all("input") if e.attrs.get("name") == "confirm"
    ).items()
    assert form.attrs["method"] == "post" and ">確定</button>" in text
    assert f'href="/conversations/{answer.conversation.id}"' in text  # 戻る
    assert_unchanged(before)
    assert fresh(answer).state == ResponseState.OPEN and count(Partnership) == 0
    client.post(f"/responses/{answer.id}/{verb}", data=CONFIRMED)
    assert fresh(answer).state == (ResponseState.ACCEPTED if verb == "accept" else ResponseState.DECLINED)


def test_the_confirm_page_refuses_what_the_decision_would(client, auth, people, answer):
    services.decline_response(people.sakai, answer)
    db.session.commit()
    auth.login(people.sakai)
    response = client.get(f"/responses/{answer.id}/accept", follow_redirects=True)
    assert response.request.path == f"/conversations/{answer.conversation.id}"
    assert ALREADY_DECIDED in flashes(response)


def test_the_conversation_buttons_ask_in_a_dialog_with_javascript(client, auth, people, answer):
    auth.login(people.sakai)
    page = page_of(client.get(f"/conversations/{answer.conversation.id}"))
    accept = next(f for f in page.all("form") if f.attrs.get("action") == f"/responses/{answer.id}/accept")
    assert accept.attrs["data-confirm-title"] == "この応答を受け入れて連携しますか"
    assert accept.attrs["data-confirm"].startswith("受け入れると連携として記録され、相手の団体に通知されます。")
    assert accept.attrs["data-confirm-ok"] == "確定" and accept.attrs["data-confirm-cancel"] == "戻る"


# --- the partnership and its outcome --------------------------------------------------------------------------------


def test_the_partnership_page(client, auth, people, partnership):
    for viewer in (people.sakai, people.shinagawa, people.moderator):
        auth.login(viewer)
        page = client.get(f"/partnerships/{partnership.id}")
        assert page.status_code == 200 and partnership.title in text_of(page)
        assert ("結果を記録する" in text_of(page)) == (viewer is not people.moderator)
        auth.logout()


def test_recording_the_outcome_with_photos(app, client, auth, people, partnership):
    auth.login(people.shinagawa)
    data = multipart(OUTCOME_FORM, jpeg("水槽.jpg"), jpeg("試食.jpg"))
    response = client.post(f"/partnerships/{partnership.id}", data=data, content_type="multipart/form-data")
    assert response.status_code == 302 and response.headers["Location"] == f"/partnerships/{partnership.id}"
    page = client.get(response.headers["Location"])
    assert "連携の結果を保存しました。" in flashes(page)
    db.session.expire_all()
    assert partnership.title == OUTCOME_FORM["title"] and partnership.venue == "しながわ水族館"
    assert [photo.original_name for photo in partnership.photos] == ["水槽.jpg", "試食.jpg"]
    first = partnership.photos[0]
    first_id, first_file = first.id, first.stored_name
    image = client.get(f"/partnerships/{partnership.id}/photos/{first.id}")
    assert image.status_code == 200 and image.mimetype == "image/jpeg"
    assert "no-store" in image.headers["Cache-Control"]  # not public yet
    image.close()

    removed = multipart({**OUTCOME_FORM, "remove_photos": [str(first_id)]})
    assert client.post(f"/partnerships/{partnership.id}", data=removed).status_code == 302
    db.session.expire_all()
    assert [photo.original_name for photo in partnership.photos] == ["試食.jpg"]
    assert client.get(f"/partnerships/{partnership.id}/photos/{first_id}").status_code == 404
    assert first_file not in uploaded_files(app)  # the file went with the commit


def test_an_outcome_cannot_be_in_the_future(client, auth, people, partnership):
    tomorrow = (today_in_japan() + timedelta(days=1)).isoformat()
    today = today_in_japan().isoformat()
    auth.login(people.sakai)
    before = database_state()
    for changes, field, message in [
        ({"held_from": tomorrow, "held_until": ""}, "held_from", FUTURE_START),
        ({"held_from": today, "held_until": tomorrow}, "held_until", FUTURE_END),
        ({"held_from": tomorrow, "held_until": tomorrow}, "held_from", FUTURE_START),
    ]:
        response = client.post(f"/partnerships/{partnership.id}", data={**OUTCOME_FORM, **changes})
        assert response.status_code == 400
        assert_field_error(response, field, message)
    assert_unchanged(before)
    response = client.post(
        f"/partnerships/{partnership.id}", data={**OUTCOME_FORM, "held_from": today, "held_until": today}
    )
    assert response.status_code == 302
    assert fresh(partnership).held_until == today_in_japan()  # today itself is not the future


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"held_from": "2015-11-23", "held_until": "2015-11-18"}, "held_until", END_BEFORE_START),
        ({"held_from": "2015-13-40"}, "held_from", BAD_DATE),
        ({"held_until": "平成27年11月23日"}, "held_until", BAD_DATE),
        ({"title": ""}, "title", REQUIRED),
        ({"title": "\u3000 "}, "title", REQUIRED),
        ({"title": "題" * 121}, "title", "120文字以内で入力してください。"),
        ({"title": "改行\nを含む"}, "title", CONTROL_CHARACTERS),
        ({"venue": "会" * 201}, "venue", "200文字以内で入力してください。"),
        ({"summary": "概" * 4001}, "summary", "4000文字以内で入力してください。"),
        ({"summary": "概要\x1b"}, "summary", CONTROL_CHARACTERS),
    ],
    ids=[
        "end-before-start",
        "impossible-date",
        "era-date",
        "no-title",
        "blank-title",
        "long-title",
        "newline-in-title",
        "long-venue",
        "long-summary",
        "escape-in-summary",
    ],
)
def test_bad_outcomes_are_refused_on_the_form(app, client, auth, people, partnership, changes, field, message):
    auth.login(people.sakai)
    files = uploaded_files(app)
    before = database_state()
    data = multipart({**OUTCOME_FORM, **changes}, jpeg())
    response = client.post(f"/partnerships/{partnership.id}", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert_field_error(response, field, message)
    assert_unchanged(before)
    assert uploaded_files(app) == files  # no file left behind


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([(PDF, "報告書.pdf")], "写真は PNG、JPEG、WebP の画像にしてください。"),
        ([(b"GIF89a" + b"\x00" * 32, "anim.gif")], "anim.gif " + NOT_ACCEPTED),
        ([(b"<script>alert(1)</script>", "x.jpg")], "x.jpg " + NOT_ACCEPTED),
        ([jpeg(f"{n}.jpg") for n in range(6)], "写真は5枚までです。"),
    ],
    ids=["pdf", "gif", "html-named-jpg", "six-photos"],
)
def test_bad_photos_are_refused_on_the_form(app, client, auth, people, partnership, files, message):
    auth.login(people.shinagawa)
    stored = uploaded_files(app)
    before = database_state()
    data = multipart(OUTCOME_FORM, jpeg("よい写真.jpg"), *files) if len(files) == 1 else multipart(OUTCOME_FORM, *files)
    response = client.post(f"/partnerships/{partnership.id}", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert message in text_of(response)
    assert_unchanged(before)
    assert uploaded_files(app) == stored


def test_a_photo_bomb_is_refused_on_the_form(app, client, auth, people, partnership):
    """A 15 KB PNG of 10,900 x 10,900 pixels is refused from its header, with the good photo sent along."""
    auth.login(people.shinagawa)
    stored = uploaded_files(app)
    before = database_state()
    data = multipart(OUTCOME_FORM, jpeg("よい写真.jpg"), (blank_png(10_900, 10_900), "集合写真.png"))
    response = client.post(f"/partnerships/{partnership.id}", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    too_large = "は画像が大きすぎます（1枚40,000,000画素、縦横それぞれ20,000画素まで）。縮小してから添付してください。"
    assert_field_error(response, "photos", f"集合写真.png {too_large}")
    assert_unchanged(before)
    assert uploaded_files(app) == stored


def test_tampered_photo_ids_are_ignored_or_404(client, auth, people, proposal, partnership, respond_as):
    other = services.accept_response(people.sakai, respond_as(people.chiyoda, proposal, "千代田区です。"))
    services.update_outcome(people.chiyoda, other, outcome(), [image_upload("千代田.jpg")])
    services.update_outcome(people.shinagawa, partnership, outcome(), [image_upload("品川.jpg")])
    db.session.commit()
    theirs, ours = other.photos[0], partnership.photos[0]
    auth.login(people.shinagawa)
    assert client.get(f"/partnerships/{partnership.id}/photos/{theirs.id}").status_code == 404
    assert client.get(f"/partnerships/{other.id}/photos/{theirs.id}").status_code == 404
    assert client.get(f"/partnerships/{other.id}").status_code == 404
    assert client.get(f"/partnerships/{partnership.id}/photos/999999").status_code == 404
    response = client.post(
        f"/partnerships/{partnership.id}", data={**OUTCOME_FORM, "remove_photos": [str(theirs.id), "abc", "-1"]}
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert [photo.id for photo in other.photos] == [theirs.id]  # another partnership's photo is not touched
    assert [photo.id for photo in partnership.photos] == [ours.id]
    before = database_state()
    assert client.post(f"/partnerships/{other.id}", data=OUTCOME_FORM).status_code == 404
    assert client.post(f"/partnerships/{other.id}/consent").status_code == 404
    assert client.post("/partnerships/999999", data=OUTCOME_FORM).status_code == 404
    assert_unchanged(before)
    assert count(PartnershipPhoto) == 2


def test_an_unchanged_outcome_saved_without_files_keeps_the_consents(client, auth, people, consented):
    auth.login(people.sakai)
    response = client.post(f"/partnerships/{consented.id}", data=OUTCOME_FORM)
    assert response.status_code == 302
    db.session.expire_all()
    assert consented.has_both_consents


def test_an_unchanged_outcome_saved_from_the_browser_keeps_the_consents(client, auth, people, consented):
    auth.login(people.sakai)
    data = {**OUTCOME_FORM, "photos": (io.BytesIO(b""), "")}  # what a browser sends for an empty file input
    response = client.post(f"/partnerships/{consented.id}", data=data, content_type="multipart/form-data")
    assert response.status_code == 302
    db.session.expire_all()
    assert consented.has_both_consents


def test_a_changed_outcome_withdraws_both_consents(client, auth, people, consented):
    auth.login(people.shinagawa)
    response = client.post(f"/partnerships/{consented.id}", data={**OUTCOME_FORM, "venue": "品川区立総合区民会館"})
    assert response.status_code == 302
    db.session.expire_all()
    assert consented.post_organization_consent_at is None and consented.partner_organization_consent_at is None
    assert "未同意" in text_of(client.get(f"/partnerships/{consented.id}"))


# --- consent and publication --------------------------------------------------------------------------------------


def test_consenting_through_the_page(client, auth, people, partnership, with_outcome):
    auth.login(people.sakai)
    page = text_of(client.get(f"/partnerships/{with_outcome.id}"))
    assert "事例としての公開に同意する" in page
    response = client.post(f"/partnerships/{with_outcome.id}/consent", follow_redirects=True)
    assert "事例としての公開に同意しました。" in flashes(response)
    assert "事例としての公開に同意する" not in text_of(response)
    consented_at = fresh(with_outcome).post_organization_consent_at
    assert consented_at is not None and with_outcome.partner_organization_consent_at is None
    again = client.post(f"/partnerships/{with_outcome.id}/consent", follow_redirects=True)
    assert "この連携の公開にはすでに同意しています。" in flashes(again)
    assert fresh(with_outcome).post_organization_consent_at == consented_at


def test_consent_without_an_outcome_is_refused_with_a_message(client, auth, people, partnership):
    auth.login(people.shinagawa)
    before = database_state()
    response = client.post(f"/partnerships/{partnership.id}/consent", follow_redirects=True)
    assert "公開に同意する前に、実施日と概要を記入してください。" in flashes(response)
    assert_unchanged(before)


def test_publishing_and_unpublishing_a_case(client, auth, people, consented):
    auth.login(people.moderator)
    assert str(consented.title) in text_of(client.get("/moderation"))
    response = client.post(f"/partnerships/{consented.id}/publish", data=CONFIRMED, follow_redirects=True)
    assert "連携事例として公開しました。" in flashes(response)
    db.session.expire_all()
    assert consented.is_case()
    again = client.post(f"/partnerships/{consented.id}/publish", data=CONFIRMED, follow_redirects=True)
    assert "この連携はすでに事例として公開されています。" in flashes(again)

    before = database_state()
    for reason in ("", "   ", "理由\x00"):
        response = client.post(
            f"/partnerships/{consented.id}/unpublish", data={"reason": reason}, follow_redirects=True
        )
        assert response.status_code == 200 and "理由を入力してください。" in flashes(response)
    assert_unchanged(before)
    response = client.post(
        f"/partnerships/{consented.id}/unpublish", data={"reason": "取り下げの依頼"}, follow_redirects=True
    )
    assert "連携事例の公開をやめました。" in flashes(response)
    db.session.expire_all()
    assert not consented.is_case()
    assert client.get(f"/cases/{consented.id}").status_code == 404


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_publishing_asks_first(client, auth, people, consented, method):
    auth.login(people.moderator)
    before = database_state()
    response = client.open(f"/partnerships/{consented.id}/publish", method=method)
    assert response.status_code == 200
    assert page_of(response).all("h1")[0].text == "連携事例として公開しますか"
    assert "ログインしていない人も読めるようになります。" in text_of(response)
    assert "福井県 坂井市 ⇄ 東京都 品川区" in text_of(response)
    assert_unchanged(before)
    assert not fresh(consented).is_case()


def test_publishing_without_both_consents_is_refused(client, auth, people, with_outcome):
    auth.login(people.moderator)
    before = database_state()
    response = client.post(f"/partnerships/{with_outcome.id}/publish", data=CONFIRMED, follow_redirects=True)
    assert "両方の団体が公開に同意した連携だけを公開できます。" in flashes(response)
    assert_unchanged(before)


def test_members_cannot_publish(client, auth, people, consented):
    auth.login(people.sakai)
    before = database_state()
    assert client.post(f"/partnerships/{consented.id}/publish").status_code == 404
    assert client.post(f"/partnerships/{consented.id}/anything").status_code == 404
    assert_unchanged(before)


# --- the dashboard and the public cases ----------------------------------------------------------------------------


def test_the_dashboard(client, auth, people, proposal, answer, respond_as):
    other = respond_as(people.chiyoda, proposal, "千代田区でも開けます。")
    services.accept_response(people.sakai, other)
    db.session.commit()
    auth.login(people.sakai)
    html = text_of(client.get("/dashboard"))
    assert "回答を待っている応答（1件）" in html and "東京都 品川区: 関心があります" in html
    assert "連携（1件）" in html
    page = page_of(client.get("/dashboard"))
    unread = [e.text for e in page.all("strong")]
    assert unread == ["1件", "1件"]
    auth.logout()
    auth.login(people.shinagawa)
    html = text_of(client.get("/dashboard"))
    assert "回答を待っている応答（0件）" in html and proposal.title in html
    auth.logout()
    auth.login(people.kushiro)
    html = text_of(client.get("/dashboard"))
    assert "やりとりはまだありません。" in html and "連携はまだありません。" in html


def test_the_public_cases(app, case):
    visitor = new_client(app)
    cases = visitor.get("/cases")
    assert cases.status_code == 200 and case.title in text_of(cases)
    page = visitor.get(f"/cases/{case.id}")
    html = text_of(page)
    assert "福井県 坂井市" in html and "東京都 品川区" in html
    assert "2015-11-18" in html and "平成27年11月18日" in html and "しながわ水族館" in html
    for path in ("/cases?page=abc", "/cases?page=0", "/cases?page=-3", "/cases?page=99999999999999"):
        assert visitor.get(path).status_code == 200
    assert visitor.get("/cases/999999").status_code == 404


def test_a_case_photo_is_public(app, client, people, consented):
    services.update_outcome(people.shinagawa, consented, outcome(), [image_upload("水槽.jpg")])
    services.consent_to_publication(people.sakai, consented)
    services.consent_to_publication(people.shinagawa, consented)
    services.publish_case(people.moderator, consented)
    db.session.commit()
    photo = consented.photos[0]
    visitor = new_client(app)
    image = visitor.get(f"/partnerships/{consented.id}/photos/{photo.id}")
    assert image.status_code == 200 and image.mimetype == "image/jpeg"
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in image.headers["Content-Security-Policy"]
    assert "no-store" not in image.headers.get("Cache-Control", "")
    image.close()
    assert f"/partnerships/{consented.id}/photos/{photo.id}" in text_of(visitor.get(f"/cases/{consented.id}"))
    assert visitor.get(f"/partnerships/{consented.id}").status_code == 302  # the partnership page is for members


def test_an_unpublished_case_is_not_public(app, people, consented):
    visitor = new_client(app)
    assert visitor.get(f"/cases/{consented.id}").status_code == 404
    assert consented.title not in text_of(visitor.get("/cases"))


# --- CSRF ----------------------------------------------------------------------------------------------------------


def test_every_response_form_needs_its_csrf_token(app, client, people, proposal, answer, partnership, csrf):
    message = db.session.scalar(select(Message).where(Message.conversation_id == answer.conversation.id))
    ward = new_client(app)
    log_in_with_csrf(ward, people.chiyoda)
    log_in_with_csrf(client, people.sakai)
    before = database_state()
    response = ward.post(f"/posts/{proposal.id}/respond", data={"kind": "interest", "message": "CSRFなし"})
    assert response.status_code == 400 and CSRF_REFUSED in text_of(response)
    for path, data in [
        (f"/conversations/{answer.conversation.id}", {"message": "CSRFなし"}),
        (f"/conversations/{answer.conversation.id}/messages/{message.id}/report", {"reason": "理由"}),
        (f"/responses/{answer.id}/accept", {}),
        (f"/responses/{answer.id}/decline", {}),
        (f"/partnerships/{partnership.id}", OUTCOME_FORM),
        (f"/partnerships/{partnership.id}/consent", {}),
        (f"/partnerships/{partnership.id}/publish", {}),
    ]:
        response = client.post(path, data=data)
        assert response.status_code == 400 and CSRF_REFUSED in text_of(response), path
    assert_unchanged(before)
