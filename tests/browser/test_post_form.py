"""The post form in real Chromium: two wards chosen by clicking both are both kept (a multi-select kept only the
last one clicked), with a live summary, "select all" and "clear", and without JavaScript too; a PDF chosen before a
preview is kept and attached when the post is sent; the followed prefectures as checkboxes by region. axe-core on the
form and the settings page at 1280 and 390 pixels wide; screenshots of both in /tmp/shots/.

Every address and organization (富山市, 高岡市, 魚津市) here is this module's own.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.pages import Account, assert_accessible_at_both_widths, heading, logged_in
from tests.constants import PDF

pytestmark = pytest.mark.browser

TOYAMA = "162019"  # 富山市
TAKAOKA = "162027"  # 高岡市
UOZU = "162043"  # 魚津市


def wards(page: Page):
    return page.get_by_role("group", name="対象の区")


def fill_proposal(page: Page, title: str) -> None:
    page.get_by_label("タイトル").fill(title)
    page.get_by_label("概要").fill("富山湾の白えびを区民の皆さまに紹介したい。")


def test_two_wards_clicked_are_both_kept(new_page: Callable[..., Page], add_user):
    officer = add_user("shiroebi@city.toyama.lg.jp", code=TOYAMA, name="富山 白子")
    page = logged_in(new_page, officer)
    page.goto("/posts/new")
    expect(heading(page)).to_have_text("新しい提案")
    group = wards(page)
    expect(group.get_by_role("checkbox")).to_have_count(23)
    expect(group.get_by_role("group", name="城南")).to_contain_text("品川区")
    summary = group.locator("[data-check-summary]")
    expect(summary).to_have_text("選択なし（23区すべてが対象）")

    fill_proposal(page, "白えびを品川区と江東区で紹介したい")
    page.get_by_label("品川区").click()
    page.get_by_label("江東区").click()
    expect(summary).to_have_text("選択中: 江東区、品川区（2区）")
    group.get_by_role("button", name="すべて選ぶ").click()
    expect(summary).to_have_text("23区すべて（23区）")
    group.get_by_role("button", name="選択を解除").click()
    expect(summary).to_have_text("選択なし（23区すべてが対象）")
    page.get_by_label("品川区").click()
    page.get_by_label("江東区").click()

    page.get_by_role("button", name="本文をプレビュー").click()
    expect(page.get_by_role("region", name="本文のプレビュー")).to_contain_text("対象の区: 江東区、品川区（2区）")
    expect(page.get_by_label("品川区")).to_be_checked()
    expect(page.get_by_label("江東区")).to_be_checked()
    expect(summary).to_have_text("選択中: 江東区、品川区（2区）")
    assert_accessible_at_both_widths(page, "post form with two wards chosen")

    page.get_by_role("button", name="下書き保存").click()
    expect(heading(page)).to_have_text("白えびを品川区と江東区で紹介したい")
    expect(page.get_by_role("main")).to_contain_text("江東区、品川区")


def test_wards_are_chosen_without_javascript(new_page: Callable[..., Page], add_user):
    officer = add_user("kanko@city.takaoka.lg.jp", code=TAKAOKA, name="高岡 銅子")
    page = new_page(java_script_enabled=False)
    page.goto("/login")
    page.get_by_label("メールアドレス", exact=True).fill(officer.email)
    page.get_by_label("パスワード", exact=True).fill(officer.password)
    page.get_by_role("main").get_by_role("button", name="ログイン", exact=True).click()
    page.goto("/posts/new")
    group = wards(page)
    expect(group.get_by_role("button", name="すべて選ぶ")).to_be_hidden()  # the buttons need JavaScript
    fill_proposal(page, "銅器を世田谷区と足立区で紹介したい")
    page.get_by_label("世田谷区").check()
    page.get_by_label("足立区").check()
    page.get_by_role("button", name="本文をプレビュー").click()
    expect(page.get_by_role("region", name="本文のプレビュー")).to_contain_text("対象の区: 世田谷区、足立区（2区）")
    page.get_by_role("button", name="下書き保存").click()
    expect(page.get_by_role("main")).to_contain_text("世田谷区、足立区")


def test_a_pdf_is_kept_across_a_preview_and_attached(new_page: Callable[..., Page], add_user, tmp_path):
    officer = add_user("hotaru@city.uozu.lg.jp", code=UOZU, name="魚津 蛍")
    pdf = tmp_path / "企画書.pdf"
    pdf.write_bytes(PDF)
    page = logged_in(new_page, officer)
    page.goto("/posts/new")
    fill_proposal(page, "ほたるいかを区民に紹介したい")
    page.get_by_label("添付ファイル").set_input_files(str(pdf))
    page.get_by_role("button", name="本文をプレビュー").click()
    kept = page.get_by_role("group", name="添付済み（保存前）")
    expect(kept).to_contain_text("企画書.pdf")
    expect(kept).to_contain_text("1 KB")
    expect(page.get_by_label("添付ファイル")).to_have_value("")  # the file is held by the board, not the input
    assert_accessible_at_both_widths(page, "post form with a kept file")

    page.get_by_label("タイトル").fill("")
    page.get_by_role("button", name="審査に出す").click()  # refused: the file is still kept
    expect(page.get_by_role("alert")).to_contain_text("入力内容を確認してください。")
    expect(page.get_by_role("group", name="添付済み（保存前）")).to_contain_text("企画書.pdf")
    page.get_by_label("タイトル").fill("ほたるいかを区民に紹介したい")
    page.get_by_role("button", name="審査に出す").click()
    expect(heading(page)).to_have_text("ほたるいかを区民に紹介したい")
    expect(page.get_by_role("link", name="企画書.pdf")).to_have_count(1)


def test_followed_prefectures_are_chosen_by_region(new_page: Callable[..., Page], add_user):
    officer: Account = add_user("follow@city.toyama.lg.jp", code=TOYAMA, name="富山 追子")
    page = logged_in(new_page, officer)
    page.goto("/settings/notifications")
    prefectures = page.get_by_role("group", name="都道府県（提案した団体の所在地）")
    expect(prefectures.get_by_role("checkbox")).to_have_count(47)
    expect(prefectures.get_by_role("group", name="九州・沖縄")).to_contain_text("沖縄県")
    page.get_by_label("北海道", exact=True).click()
    page.get_by_label("福井県").click()
    expect(prefectures.locator("[data-check-summary]")).to_have_text("選択中: 北海道、福井県（2都道府県）")
    assert_accessible_at_both_widths(page, "notification settings")
    page.get_by_role("button", name="保存する").click()
    expect(page.get_by_label("北海道", exact=True)).to_be_checked()
    expect(page.get_by_label("福井県")).to_be_checked()
