"""The account-security pages in real Chromium: the sessions page (ending a session elsewhere, which then opens
nothing), the wait after wrong passwords with its unlock link, and the moderators' security log; axe-core on each."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.pages import Account, assert_accessible, heading, log_in
from tests.constants import KUSHIRO_TOWN

pytestmark = pytest.mark.browser


def test_ending_a_session_from_the_sessions_page_signs_the_other_browser_out(
    page: Page, new_page: Callable[..., Page], add_user: Callable[..., Account]
):
    officer = add_user("sessions@town.kushiro.lg.jp", code=KUSHIRO_TOWN, name="釧路 セッション")
    other = new_page(user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1")
    other.goto("/login")
    log_in(other, officer)

    page.goto("/login")
    log_in(page, officer)
    page.goto("/settings/sessions")
    expect(heading(page)).to_have_text("ログイン中のセッション")
    expect(page.get_by_role("main")).to_contain_text("この画面")
    expect(page.get_by_role("main")).to_contain_text("Safari / iPhone")
    assert_accessible(page, "the sessions page")

    page.get_by_role("button", name="この画面以外のセッションをすべて終了する").click()
    expect(page.get_by_role("main")).to_contain_text("ほかのセッションを 1 件終了しました。")
    other.goto("/profile")
    expect(heading(other)).to_have_text("ログイン")  # sent to the login page


def test_the_wait_after_wrong_passwords_and_the_unlock_link(
    page: Page, add_user: Callable[..., Account], deliver_mail_and_find_link: Callable[[str, str], str]
):
    officer = add_user("waiting@town.kushiro.lg.jp", code=KUSHIRO_TOWN, name="釧路 待機")
    page.goto("/login")
    for _ in range(3):
        log_in(page, Account(email=officer.email, password="wrong-password-123", name=""))
    log_in(page, officer)
    expect(page.get_by_role("alert")).to_contain_text("秒後まで受け付けません")
    assert_accessible(page, "the login form asking to wait")

    page.get_by_role("button", name="制限を解除するリンクをメールで受け取る").click()
    expect(page.get_by_role("main")).to_contain_text("リンクをお送りしました")
    page.goto(deliver_mail_and_find_link(officer.email, "/login/unlock/"))
    expect(heading(page)).to_have_text("ログイン制限の解除")
    assert_accessible(page, "the unlock page")
    page.get_by_role("button", name="制限を解除する").click()
    expect(page.get_by_role("main")).to_contain_text("ログインの制限を解除しました。")
    log_in(page, officer)
    expect(page.get_by_role("main")).not_to_contain_text("受け付けません")
    page.goto("/profile")
    expect(heading(page)).to_have_text("プロフィール")


def test_the_security_log_passes_axe(page: Page, moderator: Account):
    page.goto("/login")
    log_in(page, moderator)
    page.goto("/moderation/security")
    expect(heading(page)).to_have_text("セキュリティ記録")
    assert_accessible(page, "the security log")
    page.goto("/moderation/security?date_from=2026-02-30")
    expect(page.get_by_role("main")).to_contain_text("日付は 2026-04-01 の形で入力してください。")
    assert_accessible(page, "the security log with a bad filter")


def test_the_april_review_overview_and_the_moderation_log_pass_axe(page: Page, moderator: Account):
    page.goto("/login")
    log_in(page, moderator)
    page.goto("/moderation/staff-review")
    expect(page.get_by_role("main")).to_contain_text("職員")
    assert_accessible(page, "the April review overview")
    page.goto("/moderation/log")
    expect(heading(page)).to_have_text("モデレーション記録")
    assert_accessible(page, "the moderation log")
