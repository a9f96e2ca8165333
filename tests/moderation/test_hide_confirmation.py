"""Hiding a post asks first: the review page's button (and a GET of its URL) shows a confirm page with the post and
the reason; only 確定 (confirm=1) hides it. The reason stays required on both pages. Hiding what a report is about
from the queue asks the same way."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bulletin.extensions import db
from bulletin.moderation import reports
from bulletin.moderation.models import Report, ReportState
from bulletin.posts.models import Post, PostState
from bulletin.responses.models import Message
from tests.constants import CONFIRMED
from tests.factories import (
    FIRST_MESSAGE,
    assert_field_error,
    assert_unchanged,
    database_state,
    flashes,
    page_of,
    text_of,
)

REASON = "規約に反する内容のため"
QUESTION = "この投稿を非公開にしますか"


@pytest.fixture
def published(people, make_post) -> Post:
    return make_post(people.sakai, PostState.PUBLISHED, title="非公開にするか確かめる投稿", summary="要約の文")


def state_of(post: Post) -> PostState:
    db.session.expire_all()
    return db.session.get(Post, post.id).state


def test_the_button_leads_to_a_confirm_page_that_changes_nothing(client, auth, people, published):
    auth.login(people.moderator)
    before = database_state()
    response = client.post(f"/moderation/posts/{published.id}/hide", data={"reason": REASON})
    assert response.status_code == 200
    page = page_of(response)
    assert page.all("h1")[0].text == QUESTION
    text = text_of(response)
    assert "非公開にするか確かめる投稿" in text and "要約の文" in text and "福井県 坂井市" in text
    assert "モデレーション記録に残ります" in text
    assert page.by_id("reason").text.strip() == REASON  # carried to the confirm page, still editable
    assert f'href="/moderation/posts/{published.id}"' in text  # 戻る
    assert_unchanged(before)

    response = client.post(f"/moderation/posts/{published.id}/hide", data={"reason": REASON, **CONFIRMED})
    assert response.status_code == 302
    assert state_of(published) == PostState.HIDDEN


def test_a_get_shows_the_confirm_page_with_an_empty_reason(client, auth, people, published):
    auth.login(people.moderator)
    response = client.get(f"/moderation/posts/{published.id}/hide")
    assert response.status_code == 200 and page_of(response).all("h1")[0].text == QUESTION
    assert state_of(published) == PostState.PUBLISHED


@pytest.mark.parametrize("confirmed", [False, True], ids=["review-page", "confirm-page"])
def test_the_reason_is_still_required(client, auth, people, published, confirmed):
    auth.login(people.moderator)
    before = database_state()
    response = client.post(
        f"/moderation/posts/{published.id}/hide", data={"reason": " ", **(CONFIRMED if confirmed else {})}
    )
    assert response.status_code == 400
    assert_field_error(response, "reason", "理由を入力してください。")
    assert_unchanged(before)


def test_a_post_that_cannot_be_hidden_has_no_confirm_page(client, auth, people, make_post):
    draft = make_post(people.sakai, PostState.PENDING, title="審査中の投稿")
    auth.login(people.moderator)
    response = client.get(f"/moderation/posts/{draft.id}/hide", follow_redirects=True)
    assert response.request.path == f"/moderation/posts/{draft.id}"
    assert flashes(response) and QUESTION not in text_of(response)


@pytest.mark.parametrize("subject", ["post", "message"])
def test_hiding_from_a_report_asks_first(client, auth, people, published, answer, subject):
    if subject == "post":
        report = reports.report_post(people.kushiro, published, "営利目的の宣伝です。")
        question, shown = QUESTION, "非公開にするか確かめる投稿"
    else:
        message = db.session.scalar(select(Message).where(Message.conversation_id == answer.conversation.id))
        report = reports.report_message(people.sakai, message, "個人の連絡先が書かれています。")
        question, shown = "このメッセージを非表示にしますか", FIRST_MESSAGE
    db.session.commit()
    auth.login(people.moderator)
    client.get("/moderation")  # the queue marks the moderator's notices read
    before = database_state()
    response = client.post(f"/moderation/reports/{report.id}/hide", data={"reason": REASON})
    assert response.status_code == 200 and page_of(response).all("h1")[0].text == question
    assert shown in text_of(response) and report.reason in text_of(response)
    assert_unchanged(before)
    response = client.post(f"/moderation/reports/{report.id}/hide", data={"reason": REASON, **CONFIRMED})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Report, report.id).state == ReportState.ACTIONED
