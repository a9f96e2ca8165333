"""A body as Japanese officers write it, in real Chromium: bold next to 「」 and （）, a single line break, a bare URL
and a table, the same in the preview and on the published page; the writing help beside the field; axe at 1280 px
and 390 px."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from bulletin.core.text import today_in_japan
from tests.browser.pages import (
    assert_accessible_at_both_widths,
    heading,
    logged_in,
    published_proposal,
)
from tests.constants import SAKAI, SHINAGAWA

pytestmark = pytest.mark.browser

TITLE = "三国港の黄金がにを紹介するPRイベント"
BODY = (
    "三国港の**「黄金がに」**をご紹介します。\n"
    "申込みは**11月30日（月）**まで。\n"
    "詳細はhttps://www.city.fukui-sakai.lg.jp/をご覧ください。\n\n"
    "| 日程 | 内容 | 会場 | 担当 | 費用負担 | 備考 |\n"
    "| --- | --- | --- | --- | --- | --- |\n"
    "| 11月18日（水） | 搬入・設営 | しながわ水族館 | 坂井市観光交流課 | 坂井市 | 車両2台で搬入します |\n"
)


def assert_body_as_written(body) -> None:
    """Bold next to Japanese brackets, the line breaks, the bare URL as a link, and the table in its box."""
    expect(body.locator("strong").first).to_have_text("「黄金がに」")
    expect(body.locator("strong").nth(1)).to_have_text("11月30日（月）")
    expect(body.locator("br")).to_have_count(2)
    link = body.get_by_role("link", name="https://www.city.fukui-sakai.lg.jp/")
    expect(link).to_have_attribute("href", "https://www.city.fukui-sakai.lg.jp/")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(body.locator(".table-scroll table td").first).to_have_text("11月18日（水）")


def test_a_japanese_body_is_previewed_and_published_as_written(new_page, add_user, moderator):
    officer = add_user("honbun@city.fukui-sakai.lg.jp", code=SAKAI, name="坂井 花子")
    ward_officer = add_user("honbun@city.shinagawa.tokyo.jp", code=SHINAGAWA, name="品川 太郎")

    page = logged_in(new_page, officer)
    page.goto("/posts/new")
    help_ = page.locator("details.markdown-help")
    expect(help_.get_by_role("table")).to_be_hidden()
    help_.locator("summary").click()  # opens without JavaScript too (<details>)
    expect(help_.get_by_role("table")).to_contain_text("**「黄金がに」**")
    assert_accessible_at_both_widths(page, "post form with the writing help")

    page.get_by_label("タイトル").fill(TITLE)
    page.get_by_label("概要").fill("坂井市三国港の黄金がにの試食と観光PRを区内で行いたい。")
    page.get_by_label("分野").select_option(label="物産・マルシェ")
    page.get_by_label("本文").fill(BODY)
    page.get_by_label("締切").fill((today_in_japan() + timedelta(days=30)).isoformat())
    page.get_by_role("button", name="本文をプレビュー").click()
    preview = page.get_by_role("region", name="本文のプレビュー")
    assert_body_as_written(preview.locator(".prose"))
    assert_accessible_at_both_widths(page, "post form with a preview")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name="審査に出す").click()
    expect(page.get_by_role("status")).to_contain_text("審査に出しました")

    review = logged_in(new_page, moderator)
    review.goto("/moderation")
    review.get_by_role("link", name=TITLE).click()
    review.get_by_role("button", name="承認して公開する").click()
    expect(review.get_by_role("status")).to_contain_text("公開しました")

    reader = logged_in(new_page, ward_officer)
    reader.goto("/posts")
    reader.get_by_role("link", name=TITLE).click()
    expect(heading(reader)).to_have_text(TITLE)
    assert_body_as_written(reader.get_by_role("region", name="詳細"))
    assert_accessible_at_both_widths(reader, "published post with a Japanese body")


def test_search_by_reading_and_by_kana_without_dakuten(new_page, add_user, moderator, live_server):
    officer = add_user("kanko@city.fukui-sakai.lg.jp", code=SAKAI, name="坂井 次郎")
    ward_officer = add_user("jiro@city.shinagawa.tokyo.jp", code=SHINAGAWA, name="品川 次郎")
    title = "越前ガザミの試食会"
    published_proposal(
        live_server, officer, moderator, title=title, summary="冬の味覚です。", category="products",
        deadline=today_in_japan() + timedelta(days=30),
    )  # fmt: skip

    reader = logged_in(new_page, ward_officer)
    reader.goto("/posts")
    results = reader.get_by_role("region", name="検索結果")
    reader.get_by_label("キーワード").fill("さかいし")
    reader.get_by_role("button", name="絞り込む").click()
    expect(results.get_by_role("link", name=title)).to_be_visible()
    expect(results).not_to_contain_text("濁点")
    reader.get_by_label("キーワード").fill("かさみ")
    reader.get_by_role("button", name="絞り込む").click()
    expect(results.get_by_role("link", name=title)).to_be_visible()
    expect(results).to_contain_text(
        "「かさみ」に一致する投稿がないため、濁点・半濁点を区別せずに検索した結果を表示しています。"
    )
    assert_accessible_at_both_widths(reader, "post list searched without dakuten")
