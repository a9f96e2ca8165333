"""The post list's search in real Chromium: a ward officer searches with the further filters (desired period,
deadline, attachments, proposals to their ward) and relevance order, by keyboard; the keywords are marked in the
card; axe-core at a desk's width and a phone's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from bulletin.core.text import today_in_japan
from tests.browser.pages import assert_accessible_at_both_widths, logged_in, published_proposal
from tests.constants import CHIYODA, SAKAI

pytestmark = pytest.mark.browser


def test_a_ward_officer_searches_with_every_filter(new_page, live_server, add_user, moderator):
    author = add_user("search-author@city.fukui-sakai.lg.jp", code=SAKAI, name="坂井 検索")
    officer = add_user("search-officer@city.chiyoda.lg.jp", code=CHIYODA, name="千代田 検索")
    today = today_in_japan()
    published_proposal(
        live_server, author, moderator, title="越前がにの試食会を千代田区で", summary="冬の越前がにを区民の皆さまに。",
        category="products", deadline=today + timedelta(days=5), desired_from=today + timedelta(days=20),
        desired_until=today + timedelta(days=30), target_ward_codes=[CHIYODA],
    )  # fmt: skip

    page = logged_in(new_page, officer)
    page.goto("/posts")
    page.get_by_label("キーワード").fill("越前ガニ 試食")
    page.get_by_label("希望時期（から）").fill((today + timedelta(days=25)).isoformat())
    page.get_by_label("締切まで").select_option(label="7日以内")
    page.get_by_label("自区あての提案").check()
    page.get_by_label("並び順").select_option("relevance")
    page.get_by_label("キーワード").press("Enter")  # the form is sent by keyboard
    expect(page.get_by_role("link", name="越前がにの試食会を千代田区で")).to_be_visible()
    expect(page.locator(".post-card__summary mark")).to_have_text("越前がに")
    expect(page.get_by_role("link", name="条件をクリア")).to_be_visible()
    assert_accessible_at_both_widths(page, "post list searched with every filter")

    page.get_by_label("添付資料あり").check()
    page.get_by_role("button", name="絞り込む").click()
    expect(page.get_by_role("main")).to_contain_text("条件に合う投稿はありません。")
