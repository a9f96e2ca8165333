"""Finding one's way in real Chromium: on a phone (390 px) the signed-in header folds into a menu that opens and
leads on with JavaScript on or off, and the header never scrolls sideways; on a wide screen the menu is always
open. The moderation log reads as a table at 1280 px and as cards on a phone. axe-core at 1280 and 390 px on the
privacy policy, the contact page, the guide, the filtered post list and the filtered moderation log."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.pages import Account, assert_accessible, heading, log_in, published_proposal
from tests.constants import SAKAI, SHINAGAWA

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
WIDTHS = {"1280": DESKTOP, "390": PHONE}


def signed_in(new_page: Callable[..., Page], account: Account, **options) -> Page:
    page = new_page(**options)
    page.goto("/login")
    log_in(page, account)
    expect(page.get_by_role("banner")).to_contain_text(account.name)
    return page


def overflow(page: Page, selector: str) -> int:
    """How far the element reaches beyond the window's width, in CSS pixels (0 when it fits)."""
    return page.evaluate(
        "s => Math.max(0, document.querySelector(s).scrollWidth - document.documentElement.clientWidth,"
        " document.documentElement.scrollWidth - document.documentElement.clientWidth)",
        selector,
    )


def test_the_phone_menu_opens_and_leads_on(new_page, add_user):
    officer = add_user("menu@city.fukui-sakai.lg.jp", code=SAKAI, name="坂井 メニュー")
    page = signed_in(new_page, officer, viewport=PHONE)
    page.goto("/posts")
    menu = page.get_by_role("navigation", name="メインメニュー")
    toggle = page.get_by_role("banner").locator("summary", has_text="メニュー")
    expect(toggle).to_be_visible()
    expect(menu).to_be_hidden()
    assert overflow(page, ".site-header") == 0
    assert_accessible(page, "the post list at 390 px, menu closed")

    toggle.click()
    expect(menu).to_be_visible()
    assert overflow(page, ".site-header") == 0
    assert_accessible(page, "the post list at 390 px, menu open")
    menu.get_by_role("link", name="自団体の窓口").click()
    expect(heading(page)).to_contain_text("自団体の窓口")
    expect(menu).to_be_hidden()  # a new page starts with the menu folded


def test_the_phone_menu_needs_no_javascript(new_page, add_user):
    """With JavaScript off (page scripts, and so axe and measuring, cannot run) the menu still opens and leads on."""
    officer = add_user("menu-no-js@city.fukui-sakai.lg.jp", code=SAKAI, name="坂井 スクリプトなし")
    page = signed_in(new_page, officer, viewport=PHONE, java_script_enabled=False)
    page.goto("/posts")
    menu = page.get_by_role("navigation", name="メインメニュー")
    expect(menu).to_be_hidden()
    page.get_by_role("banner").locator("summary", has_text="メニュー").click()
    menu.get_by_role("link", name="新規投稿").click()
    expect(page).to_have_url(re.compile(r"/posts/new$"))


def test_the_wide_header_shows_the_menu_without_a_button(new_page, add_user):
    officer = add_user("wide@city.fukui-sakai.lg.jp", code=SAKAI, name="坂井 広い")
    page = signed_in(new_page, officer, viewport=DESKTOP)
    page.goto("/posts")
    expect(page.get_by_role("banner").locator("summary")).to_be_hidden()
    menu = page.get_by_role("navigation", name="メインメニュー")
    expect(menu.get_by_role("link", name="新規投稿")).to_be_visible()
    expect(page.get_by_role("banner").get_by_role("button", name="ログアウト")).to_be_visible()
    assert overflow(page, ".site-header") == 0


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("path", ["/privacy", "/contact", "/guide"])
def test_the_public_service_pages_pass_axe(new_page, path, width):
    page = new_page(viewport=WIDTHS[width])
    page.goto(path)
    expect(heading(page)).to_be_visible()
    assert overflow(page, "body") == 0
    assert_accessible(page, f"{path} at {width} px")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_filtered_post_list_counts_and_passes_axe(new_page, add_user, moderator, live_server, width):
    author = add_user(f"count-{width}@city.fukui-sakai.lg.jp", code=SAKAI, name="坂井 件数")
    reader = add_user(f"count-{width}@city.shinagawa.tokyo.jp", code=SHINAGAWA, name="品川 件数")
    published_proposal(live_server, author, moderator, title=f"件数を数える提案 {width}", summary="件数の確認")
    page = signed_in(new_page, reader, viewport=WIDTHS[width])
    page.goto(f"/posts?q=件数を数える提案 {width}")
    expect(page.locator("#results-heading")).to_contain_text("1件の投稿")
    assert_accessible(page, f"the filtered post list at {width} px")
    page.get_by_role("link", name="条件をクリア").click()
    expect(page.get_by_role("searchbox", name="キーワード")).to_have_value("")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_moderation_log_reads_at_both_widths(new_page, add_user, moderator, live_server, width):
    author = add_user(f"log-{width}@city.fukui-sakai.lg.jp", code=SAKAI, name="坂井 記録")
    published_proposal(live_server, author, moderator, title=f"記録に残る提案 {width}")
    page = signed_in(new_page, moderator, viewport=WIDTHS[width])
    page.goto("/moderation/log?organization=坂井&action=approve_post")
    expect(heading(page)).to_have_text("モデレーション記録")
    row = page.get_by_role("row").filter(has_text=f"記録に残る提案 {width}")
    expect(row).to_contain_text("福井県 坂井市")
    assert overflow(page, "body") == 0
    narrowest = page.evaluate(
        "() => Math.min(...[...document.querySelectorAll('.moderation-log tbody td')].map(td => td.clientWidth))"
    )
    assert narrowest >= 100, f"a column of the log is {narrowest} px wide at {width} px"  # about six characters
    assert_accessible(page, f"the filtered moderation log at {width} px")
    page.goto("/moderation/log?date_from=2026-02-30")
    expect(page.get_by_role("main")).to_contain_text("日付は 2026-04-01 の形で入力してください。")
    assert_accessible(page, f"the moderation log with a bad date at {width} px")
