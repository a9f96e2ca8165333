"""Paged pages in real Chromium: a conversation of 60 messages opens on its newest 50 with the reply form, and
「以前のメッセージ」 leads to the 10 before them; the desk with 25 conversations shows 20 and a next page. axe-core on
each, at a desk's width and a phone's."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from bulletin.extensions import db
from bulletin.posts.models import Post
from bulletin.responses import services as responses
from bulletin.responses.models import Conversation, ResponseKind
from tests.browser.pages import assert_accessible_at_both_widths, heading, logged_in, published_proposal, user_by_email

OGAKI = "212024"  # 大垣市 (岐阜県), and 世田谷区: organizations no other browser test uses, whose desks these 25
SETAGAYA = "131121"  # conversations would otherwise crowd (the live server's database is shared by the run)

pytestmark = pytest.mark.browser


def test_a_long_conversation_and_a_full_desk_come_in_pages(new_page, add_user, moderator, live_server):
    sakai = add_user("paging.city@city.ogaki.example.jp", code=OGAKI, name="大垣 頁")
    shinagawa = add_user("paging.ward@city.setagaya.example.jp", code=SETAGAYA, name="世田谷 頁")
    posts = [
        published_proposal(live_server, sakai, moderator, title=f"頁送りの提案 {n}", summary="頁送りの確認。")
        for n in range(25)
    ]
    with live_server.app.app_context():
        ward, city = user_by_email(shinagawa.email), user_by_email(sakai.email)
        conversations = []
        for post_id in posts:
            response = responses.respond(ward, db.session.get(Post, post_id), ResponseKind.INTEREST, "関心があります。")
            conversations.append(response.conversation.id)
        long_one = db.session.get(Conversation, conversations[0])
        for number in range(1, 60):
            responses.post_message(city if number % 2 else ward, long_one, f"メッセージ番号 {number}", [])
        db.session.commit()

    page = logged_in(new_page, sakai)
    page.goto(f"/conversations/{conversations[0]}")
    expect(heading(page)).to_have_text("やりとり")
    messages = page.locator("ol.messages > li")
    expect(messages).to_have_count(50)
    expect(page.get_by_role("heading", name="メッセージ（60件）")).to_be_visible()
    expect(page.get_by_role("heading", name="返信する")).to_be_visible()
    expect(messages.last).to_contain_text("メッセージ番号 59")
    assert_accessible_at_both_widths(page, "conversation, newest page")
    page.get_by_role("link", name="以前のメッセージ").click()
    expect(messages).to_have_count(10)
    expect(messages.first).to_contain_text("関心があります。")
    expect(page.get_by_role("link", name="以前のメッセージ")).to_have_count(0)
    assert_accessible_at_both_widths(page, "conversation, older page")
    page.get_by_role("link", name="最新のメッセージ").click()
    expect(messages).to_have_count(50)

    page.goto("/dashboard")
    rows = page.get_by_role("region", name="やりとり").get_by_role("row")
    expect(rows).to_have_count(21)  # the header and 20
    assert_accessible_at_both_widths(page, "desk, first page")
    page.get_by_role("link", name="次へ").click()
    expect(page).to_have_url(re.compile(r"/dashboard\?page=2$"))
    expect(rows).to_have_count(6)
