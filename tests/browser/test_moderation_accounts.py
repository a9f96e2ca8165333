"""Accounts and organizations in real Chromium: a moderator finds 岐阜市, confirms its e-mail domain (and is told
why lg.jp alone cannot be one), suspends one officer (whose open page then asks them to log in), then the whole
organization, whose officer signing in sees only why; then reinstates both and revokes the domain. axe-core on the
search page, the organization page (also with a refused domain), an account page and the page that says why;
screenshots of the organization page at 1280 and 390 pixels wide in /tmp/shots/.

Every address and organization (岐阜市) here is this module's own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.pages import Account, assert_accessible, heading, log_in, logged_in
from tests.constants import GIFU

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots")
GIFU_NAME = "岐阜県 岐阜市"
ORGANIZATION_PAGE = f"/moderation/organizations/{GIFU}"


def flash(page: Page):
    return page.locator(".flash")


def screenshot(page: Page, name: str, width: int) -> None:
    """The whole page at this width, saved in /tmp/shots/ to be looked at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": width, "height": 900})
    page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)


def test_moderator_confirms_a_domain_and_suspends_an_officer_and_an_organization(
    new_page: Callable[..., Page], add_user, moderator: Account
):
    kokusai = add_user("kokusai@city.gifu.lg.jp", code=GIFU, name="長良 花子")
    kanko = add_user("kanko@city.gifu.lg.jp", code=GIFU, name="金華 太郎")
    desk = logged_in(new_page, moderator)

    desk.get_by_role("navigation", name="メインメニュー").get_by_role("link", name="団体とアカウント").click()
    expect(heading(desk)).to_have_text("団体とアカウント")
    desk.get_by_label("団体を探す（団体コード、名前、よみがな）").fill("ぎふし")
    desk.get_by_role("button", name="検索", exact=True).click()
    assert_accessible(desk, "the organizations page with results")
    desk.get_by_role("link", name=GIFU_NAME, exact=True).click()
    expect(heading(desk)).to_contain_text(GIFU_NAME)
    assert_accessible(desk, "an organization's page")

    domain = desk.get_by_label("メールドメイン", exact=True)
    domain.fill("lg.jp")
    desk.get_by_role("button", name="ドメインを確認済みとして追加する").click()
    expect(desk.locator("#domain-error")).to_contain_text("誰でもその下にドメインを持てる公開の接尾辞です")
    expect(domain).to_have_attribute("aria-invalid", "true")
    assert_accessible(desk, "an organization's page with a refused domain")
    desk.get_by_label("メールドメイン", exact=True).fill("City.Gifu.LG.jp")
    desk.get_by_role("button", name="ドメインを確認済みとして追加する").click()
    expect(flash(desk)).to_contain_text("city.gifu.lg.jp を 岐阜市 のドメインとして確認しました。")
    domains = desk.get_by_role("table", name="確認済みのメールドメイン")
    expect(domains.get_by_role("row").filter(has_text="city.gifu.lg.jp")).to_contain_text(moderator.name)

    officer_page = logged_in(new_page, kanko)
    desk.get_by_role("link", name=kanko.name, exact=True).click()
    expect(heading(desk)).to_contain_text(kanko.name)
    assert_accessible(desk, "an account's page")
    desk.get_by_role("button", name="アカウントを停止する").click()  # without a reason: refused on the form
    expect(desk.locator("#reason-error")).to_have_text("停止の理由を入力してください。")
    desk.get_by_label("停止の理由（本人にメールで伝えられます）").fill("異動により不要となったため")
    desk.get_by_role("button", name="アカウントを停止する").click()
    expect(flash(desk)).to_contain_text(f"{kanko.name} さんのアカウントを停止しました。")
    expect(desk.get_by_role("main")).to_contain_text("異動により不要となったため")
    assert_accessible(desk, "a suspended account's page")
    officer_page.reload()  # the officer's open session ended with the suspension
    expect(officer_page.get_by_role("banner")).not_to_contain_text(kanko.name)
    officer_page.goto("/profile")
    expect(officer_page).to_have_url(re.compile(r"/login\?next="))

    desk.get_by_role("link", name=GIFU_NAME).first.click()
    desk.get_by_label("停止の理由（団体の職員にメールで伝えられます）").fill("会費の未納が続いているため")
    desk.get_by_role("button", name="団体の利用を停止する").click()
    expect(flash(desk)).to_contain_text(f"{GIFU_NAME} の利用を停止しました。")
    expect(heading(desk)).to_contain_text("利用停止中")
    for width in (1280, 390):
        screenshot(desk, "moderation-organization-page", width)
    desk.set_viewport_size({"width": 1280, "height": 900})

    staff_page = new_page()
    staff_page.goto("/login")
    log_in(staff_page, kokusai)
    expect(heading(staff_page)).to_have_text("団体の利用が停止されています")
    expect(staff_page.get_by_role("main")).to_contain_text("会費の未納が続いているため")
    assert_accessible(staff_page, "the page that tells a suspended organization's staff why")
    for width in (1280, 390):
        screenshot(staff_page, "suspended-organization-why-page", width)
    staff_page.set_viewport_size({"width": 1280, "height": 900})
    staff_page.goto("/posts")
    expect(heading(staff_page)).to_have_text("団体の利用が停止されています")
    staff_page.get_by_role("banner").get_by_role("button", name="ログアウト").click()
    expect(staff_page.get_by_role("banner")).to_contain_text("ログイン")

    desk.get_by_role("button", name="団体の利用を再開する").click()
    expect(flash(desk)).to_contain_text(f"{GIFU_NAME} の利用を再開しました。")
    desk.locator("summary").filter(has_text="取り消す").click()
    desk.get_by_label("取り消しの理由").fill("確認の誤り")
    desk.get_by_role("button", name="city.gifu.lg.jp の確認を取り消す").click()
    expect(flash(desk)).to_contain_text("city.gifu.lg.jp の確認を取り消しました。")
    expect(desk.get_by_role("main")).to_contain_text("確認済みのドメインはありません。")
    desk.goto("/moderation/organizations")
    expect(desk.get_by_role("main")).to_contain_text(kanko.name)  # still suspended
    assert_accessible(desk, "the organizations page with a suspended account")

    staff_page.goto("/login")
    log_in(staff_page, kokusai)
    staff_page.goto("/posts")
    expect(heading(staff_page)).to_have_text("投稿一覧")
