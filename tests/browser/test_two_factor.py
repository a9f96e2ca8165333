"""Two-factor sign-in in real Chromium: enrolment by keyboard alone (the key read from the page, the code computed as
an authenticator app would), then signing in with a code from the app and with a recovery code (once only); axe-core
on the enrolment page, the recovery codes and the code step; the enrolment page fits a phone's width.

With BULLETIN_SCREENSHOTS set to a folder, the enrolment page is photographed there at 1280 and 390 pixels wide.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Page, expect

from bulletin.accounts.two_factor import STEP_SECONDS
from tests.browser.pages import Account, LiveServer, assert_accessible, heading, logged_in
from tests.constants import KUSHIRO_TOWN

pytestmark = pytest.mark.browser


def press(page: Page, *keys: str) -> None:
    for key in keys:
        page.keyboard.press(key)


def to_main_content(page: Page) -> None:
    """From the top of a page: the skip link, then into the main content (as a keyboard user does)."""
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("本文へ移動")
    page.keyboard.press("Enter")
    expect(page.get_by_role("main")).to_be_focused()


def photograph(page: Page, name: str) -> None:
    folder = os.environ.get("BULLETIN_SCREENSHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(Path(folder) / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 720})


def code_step(page: Page, account: Account) -> None:
    """Log in with address and password by keyboard; the code step follows."""
    page.goto("/login")
    to_main_content(page)
    press(page, "Tab")
    page.keyboard.type(account.email)
    press(page, "Tab")
    page.keyboard.type(account.password)
    press(page, "Enter")
    expect(heading(page)).to_have_text("確認コードの入力")


def log_out(page: Page) -> None:
    page.get_by_role("banner").get_by_role("button", name="ログアウト").click()
    expect(page.get_by_role("banner").get_by_role("link", name="ログイン")).to_be_visible()


def test_enrol_by_keyboard_then_sign_in_with_the_app_and_with_a_recovery_code(
    new_page: Callable[..., Page], live_server: LiveServer, add_user: Callable[..., Account]
):
    officer = add_user("anzen@town.kushiro.lg.jp", code=KUSHIRO_TOWN, name="釧路 安全")
    page = logged_in(new_page, officer)

    # Enrolment, by keyboard alone: the password, the key, the code.
    page.goto("/profile")
    page.get_by_role("link", name="2段階認証").click()
    expect(heading(page)).to_have_text("2段階認証")
    to_main_content(page)
    press(page, "Tab")
    expect(page.get_by_label("現在のパスワード")).to_be_focused()
    page.keyboard.type(officer.password)
    press(page, "Enter")

    expect(page.get_by_role("heading", name="認証アプリに登録する")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("QRコード"))).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
    assert_accessible(page, "the enrolment page")
    photograph(page, "two-factor-enrolment")
    page.set_viewport_size({"width": 390, "height": 900})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than a phone
    page.set_viewport_size({"width": 1280, "height": 720})

    press(page, "Tab")
    expect(page.get_by_label("確認コード")).to_be_focused()
    totp = pyotp.TOTP(secret)
    page.keyboard.type(totp.now())
    press(page, "Enter")

    expect(heading(page)).to_have_text("2段階認証を設定しました")
    codes = page.locator(".recovery-code").all_inner_texts()
    assert len(codes) == 10
    assert_accessible(page, "the recovery codes")
    to_main_content(page)
    press(page, "Tab")
    expect(page.locator(":focus")).to_have_text("保管しました。次へ進む")
    press(page, "Enter")
    expect(page.get_by_text("残りのリカバリーコード")).to_be_visible()
    log_out(page)

    # Signing in with the app's code (the next one: the code of the step just used to enrol is spent).
    code_step(page, officer)
    assert_accessible(page, "the code step of a login")
    to_main_content(page)
    press(page, "Tab")
    expect(page.get_by_label("確認コード")).to_be_focused()
    page.keyboard.type(totp.at(datetime.now(UTC) + timedelta(seconds=STEP_SECONDS)))
    press(page, "Enter")
    expect(page).to_have_url(live_server.url + "/")
    expect(page.get_by_role("banner")).to_contain_text(officer.name)
    log_out(page)

    # A recovery code signs in once.
    code_step(page, officer)
    page.get_by_label("確認コード").fill(codes[0].upper())
    page.get_by_role("main").get_by_role("button", name="ログイン").click()
    expect(page.get_by_role("banner")).to_contain_text(officer.name)
    expect(page.get_by_text("残りのリカバリーコードは 9 個です。", exact=False)).to_be_visible()
    log_out(page)

    code_step(page, officer)
    page.get_by_label("確認コード").fill(codes[0])
    page.get_by_role("main").get_by_role("button", name="ログイン").click()
    expect(page.locator("#code-error")).to_have_text("確認コードが正しくありません。")
    expect(page.get_by_label("確認コード")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page, "the code step with a wrong code")
    expect(page.get_by_role("banner").get_by_role("link", name="ログイン")).to_be_visible()
