"""A proposal's path in real Chromium: the 坂井市 officer drafts it with a PDF and submits it, the moderator
returns it with a reason, the officer edits and resubmits, the moderator approves, and a 品川区 officer finds it
by keyword and opens it; axe-core on the list, detail, form and queue pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from bulletin.core.text import today_in_japan
from tests.browser.pages import assert_accessible, heading, logged_in
from tests.constants import PDF, SAKAI, SHINAGAWA

pytestmark = pytest.mark.browser

TITLE = "三国港の黄金がにを区民に紹介するPRイベント"


def test_proposal_is_returned_resubmitted_published_and_found(new_page, add_user, moderator, tmp_path):
    officer = add_user("hanako@city.fukui-sakai.lg.jp", code=SAKAI, name="坂井 花子")
    ward_officer = add_user("taro@city.shinagawa.tokyo.jp", code=SHINAGAWA, name="品川 太郎")
    pdf = tmp_path / "企画書.pdf"
    pdf.write_bytes(PDF)

    page = logged_in(new_page, officer)
    page.get_by_role("navigation", name="メインメニュー").get_by_role("link", name="自団体の投稿").click()
    page.get_by_role("link", name="新しく投稿する").click()
    expect(heading(page)).to_have_text("新しい提案")
    page.get_by_role("button", name="審査に出す").click()  # empty: errors tied to their fields
    expect(page.get_by_role("alert")).to_contain_text("入力内容を確認してください。")
    expect(page.get_by_label("タイトル")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page, "post form with errors")

    page.get_by_label("タイトル").fill(TITLE)
    page.get_by_label("概要").fill("坂井市三国港の黄金がにの試食と観光PRを区内で行いたい。")
    page.get_by_label("分野").select_option(label="物産・マルシェ")
    page.get_by_label("本文").fill("## 内容\n\n- 試食\n- 漁師のトーク")
    page.get_by_label("締切").fill((today_in_japan() + timedelta(days=30)).isoformat())
    page.get_by_label("タグ").fill("黄金がに、物産展")
    page.get_by_label("添付ファイル").set_input_files(str(pdf))
    page.get_by_role("button", name="本文をプレビュー").click()
    expect(page.get_by_role("region", name="本文のプレビュー")).to_contain_text("漁師のトーク")
    expect(page.get_by_role("group", name="添付済み（保存前）")).to_contain_text("企画書.pdf")  # kept by the preview
    page.get_by_role("button", name="下書き保存").click()
    expect(heading(page)).to_have_text(TITLE)
    expect(page.get_by_role("main")).to_contain_text("下書き")
    expect(page.get_by_role("link", name="企画書.pdf")).to_be_visible()
    page.get_by_role("button", name="審査に出す").click()
    expect(page.get_by_role("status")).to_contain_text("審査に出しました")

    review = logged_in(new_page, moderator)
    review.goto("/moderation")
    assert_accessible(review, "moderation queue with a pending post")
    review.get_by_role("link", name=TITLE).click()
    review.get_by_label("理由").fill("実施時期を具体的に書いてください。")
    review.get_by_role("button", name="差し戻す").click()
    expect(review.get_by_role("status")).to_contain_text("差し戻しました")

    page.reload()
    expect(page.get_by_role("note")).to_contain_text("実施時期を具体的に書いてください。")
    page.get_by_role("link", name="修正して再提出する").click()
    expect(page.get_by_role("note")).to_contain_text("実施時期を具体的に書いてください。")  # beside the form
    assert_accessible(page, "edit form of a returned post")
    page.get_by_label("希望時期（から）").fill((today_in_japan() + timedelta(days=40)).isoformat())
    page.get_by_label("希望時期（まで）").fill((today_in_japan() + timedelta(days=45)).isoformat())
    page.get_by_role("button", name="審査に出す").click()
    expect(page.get_by_role("status")).to_contain_text("審査に出しました")

    review.goto("/moderation")
    review.get_by_role("link", name=TITLE).click()
    changes = review.get_by_role("region", name="差し戻した版からの変更")
    expect(changes.locator("ins").first).to_be_visible()
    assert_accessible(review, "review of a resubmitted post")
    review.get_by_role("button", name="承認して公開する").click()
    expect(review.get_by_role("status")).to_contain_text("公開しました")

    reader = logged_in(new_page, ward_officer)
    reader.goto("/posts")
    reader.get_by_label("キーワード").fill("ｵｳｺﾞﾝ")  # a reading in half-width katakana does not match kanji
    reader.get_by_role("button", name="絞り込む").click()
    expect(reader.get_by_role("main")).to_contain_text("条件に合う投稿はありません。")
    reader.get_by_label("キーワード").fill("黄金がに")
    reader.get_by_role("button", name="絞り込む").click()
    assert_accessible(reader, "post list with results")
    reader.get_by_role("link", name=TITLE).click()
    expect(heading(reader)).to_have_text(TITLE)
    expect(reader.get_by_role("main")).to_contain_text("福井県 坂井市")
    expect(reader.get_by_role("link", name="企画書.pdf")).to_be_visible()
    assert_accessible(reader, "post detail")
    with reader.expect_download() as download:
        reader.get_by_role("link", name="企画書.pdf").click()
    assert download.value.suggested_filename == "企画書.pdf"
    assert download.value.path().read_bytes() == PDF
