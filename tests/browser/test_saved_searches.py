"""Saved searches and おすすめ in real Chromium: a 品川区 officer saves the list's search by name, chooses a daily
digest for it at /searches, and sees a proposal addressed to the ward recommended on the home page with its reason;
axe-core on /searches, the list with its save form and the home at a desk's width and a phone's."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.pages import assert_accessible_at_both_widths, heading, logged_in, published_proposal
from tests.constants import SAKAI, SHINAGAWA

pytestmark = pytest.mark.browser


def test_a_ward_officer_saves_a_search_and_sees_recommendations(new_page, add_user, moderator, live_server):
    officer = add_user("kensaku@city.fukui-sakai.lg.jp", code=SAKAI, name="坂井 花子")
    ward_officer = add_user("kensaku@city.shinagawa.tokyo.jp", code=SHINAGAWA, name="品川 太郎")
    published_proposal(
        live_server,
        officer,
        moderator,
        title="黄金がにのPR",
        summary="坂井市三国港の黄金がにを紹介したい。",
        body="試食を予定しています。",
        category="products",
        target_ward_codes=[SHINAGAWA],
    )

    page = logged_in(new_page, ward_officer)
    expect(page.get_by_role("region", name="おすすめ")).to_contain_text("理由: 品川区を対象にした提案です")
    assert_accessible_at_both_widths(page, "home with recommendations")

    page.goto("/posts?q=黄金がに&category=products")
    assert_accessible_at_both_widths(page, "post list with its save form")
    page.get_by_label("この条件を保存（名前）").fill("かにの物産")
    page.get_by_role("button", name="この条件を保存").click()
    expect(page.get_by_role("status")).to_contain_text("検索条件を保存しました")

    page.get_by_role("navigation", name="メインメニュー").get_by_role("link", name="保存した検索").click()
    expect(heading(page)).to_have_text("保存した検索")
    expect(page.get_by_role("region", name="かにの物産")).to_contain_text("キーワード: 黄金がに")
    page.get_by_label("1日1回のまとめ").check()
    page.get_by_role("button", name="「かにの物産」を保存する").click()
    expect(page.get_by_role("status")).to_contain_text("保存した検索を更新しました")
    expect(page.get_by_label("1日1回のまとめ")).to_be_checked()
    assert_accessible_at_both_widths(page, "saved searches")
