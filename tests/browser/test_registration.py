"""Registration to login in real Chromium: organization search (with and without JavaScript), the confirmation
link from a real e-mail, moderator approval, login; axe-core on the pages of that flow; login by keyboard alone."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from bulletin.accounts.models import UserState
from bulletin.extensions import db
from bulletin.organizations.models import Membership
from bulletin.organizations.services import get_by_code
from tests.browser.pages import Account, LiveServer, assert_accessible, header_user, heading, log_in
from tests.constants import KANAZAWA, KUSHIRO_TOWN, PASSWORD, SAKAI, SHINAGAWA
from tests.factories import SMTPServer

pytestmark = pytest.mark.browser


def fill_registration(page: Page, account: Account, *, department: str, phone: str) -> None:
    """Fill every field of /register but the organization code, and tick the terms."""
    page.get_by_label("氏名", exact=True).fill(account.name)
    page.get_by_label("所属部署", exact=True).fill(department)
    page.get_by_label("電話番号", exact=True).fill(phone)
    page.get_by_label("メールアドレス（職場のもの）", exact=True).fill(account.email)
    page.get_by_label("パスワード", exact=True).fill(account.password)
    page.get_by_label("パスワード（確認）", exact=True).fill(account.password)
    page.get_by_label("利用規約に同意します", exact=True).check()


def submit_registration(page: Page, account: Account) -> None:
    """Send /register and expect the "check your mail" page."""
    page.get_by_role("button", name="登録する", exact=True).click()
    expect(heading(page)).to_have_text("確認メールを送りました")
    expect(page.get_by_role("main")).to_contain_text(account.email)


def confirm_address(page: Page, confirm_link: str) -> None:
    """Open the link from the e-mail and press the confirmation button (the GET alone changes nothing)."""
    page.goto(confirm_link)
    expect(heading(page)).to_have_text("メールアドレスの確認")
    page.get_by_role("button", name="メールアドレスを確認する", exact=True).click()
    expect(heading(page)).to_have_text("メールアドレスを確認しました")


def queue_item(page: Page, name: str):
    """The moderation queue entry of the applicant with this name."""
    return page.locator("article").filter(has=page.get_by_role("heading", name=name))


def _not_yet_a_member(live_server: LiveServer, code: str) -> None:
    """Put an organization back to "not a member" so its first registration is flagged as such."""
    with live_server.app.app_context():
        organization = get_by_code(code)
        organization.membership = Membership.NONE
        organization.member_since = None
        db.session.commit()


def test_sakai_officer_registers_confirms_is_approved_and_logs_in(
    new_page: Callable[..., Page],
    moderator: Account,
    deliver_mail_and_find_link: Callable[[str, str], str],
    mail_sink: SMTPServer,
    live_server: LiveServer,
):
    _not_yet_a_member(live_server, SAKAI)  # other browser tests may have made 坂井市 a member already
    officer = Account(email="hanako.sakai@city.fukui-sakai.lg.jp", password=PASSWORD, name="坂井 花子")
    # Without JavaScript: the organization search is a plain GET form whose results are links.
    page = new_page(java_script_enabled=False)
    page.goto("/register")
    expect(heading(page)).to_have_text("利用登録")
    page.get_by_role("searchbox", name="団体名・よみがな・団体コード").fill("さかい")
    page.get_by_role("search").get_by_role("button", name="検索", exact=True).click()
    expect(page).to_have_url(re.compile(r"/register\?org_q="))
    results = page.locator("#org-results")
    expect(results.get_by_role("link", name="大阪府 堺市", exact=True)).to_be_visible()  # same reading, other city
    results.get_by_role("link", name="福井県 坂井市", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/register\?code={SAKAI}$"))
    expect(page.get_by_label("団体コード", exact=True)).to_have_value(SAKAI)
    expect(page.get_by_text("選択中: 福井県 坂井市")).to_be_visible()

    fill_registration(page, officer, department="観光交流課", phone="0776-50-3152")
    submit_registration(page, officer)

    confirm_address(page, deliver_mail_and_find_link(officer.email, "/confirm/"))
    expect(page.get_by_role("main")).to_contain_text("事務局が登録内容を確認しています")

    page.goto("/login")
    log_in(page, officer)
    expect(page.get_by_role("alert")).to_contain_text("事務局の承認をお待ちください")

    # The moderator follows the link in their notice, logs in, and lands on the queue.
    queue_link = deliver_mail_and_find_link(moderator.email, "/moderation")
    [notice] = [mail for mail in mail_sink.received_by(moderator.email) if officer.email in mail.body]
    assert "福井県 坂井市" in notice.body and "承認待ち" in notice.subject
    secretariat = new_page()
    secretariat.goto(queue_link)
    expect(heading(secretariat)).to_have_text("ログイン")
    log_in(secretariat, moderator)
    expect(secretariat).to_have_url(queue_link)
    expect(heading(secretariat)).to_have_text("承認待ち")
    item = queue_item(secretariat, officer.name)
    expect(item).to_contain_text("福井県 坂井市（市 · 182109）")
    expect(item).to_contain_text("観光交流課")
    expect(item).to_contain_text("city.fukui-sakai.lg.jp")
    expect(item.get_by_role("list", name="確認事項").get_by_role("listitem")).to_have_text(
        ["ドメイン未確認", "初めての登録団体"]
    )
    expect(item.get_by_role("link", name="却下する")).to_have_attribute(
        "href", re.compile(r"/moderation/users/\d+/reject$")
    )
    item.get_by_role("button", name="承認する", exact=True).click()
    expect(secretariat.get_by_role("status")).to_contain_text("坂井 花子 さんの登録を承認しました。")
    expect(queue_item(secretariat, officer.name)).to_have_count(0)

    # The officer is told by e-mail, follows the link and logs in.
    page.goto(deliver_mail_and_find_link(officer.email, "/login"))
    log_in(page, officer)
    expect(page.get_by_role("status")).to_contain_text("ログインしました。")
    name, organization = header_user(page)
    expect(name).to_have_text(officer.name)
    expect(organization).to_have_text("福井県 坂井市")


def test_ward_officer_flow(
    new_page: Callable[..., Page],
    moderator: Account,
    deliver_mail_and_find_link: Callable[[str, str], str],
    mail_sink: SMTPServer,
):
    first = Account(email="taro.shinagawa@city.shinagawa.lg.jp", password=PASSWORD, name="品川 太郎")
    second = Account(email="jiro.shinagawa@city.shinagawa.lg.jp", password=PASSWORD, name="品川 次郎")

    # With JavaScript: suggestions appear while typing, and choosing one fills the code field.
    page = new_page()
    page.goto("/register")
    page.get_by_role("searchbox", name="団体名・よみがな・団体コード").press_sequentially("しながわ")
    page.locator("#org-results").get_by_role("button", name="東京都 品川区", exact=True).click()
    code_field = page.get_by_label("団体コード", exact=True)
    expect(code_field).to_have_value(SHINAGAWA)
    expect(code_field).to_be_focused()
    expect(page).to_have_url(re.compile(r"/register$"))  # no page load: the enhancement did it
    fill_registration(page, first, department="文化観光課", phone="03-5742-6913")
    submit_registration(page, first)
    confirm_address(page, deliver_mail_and_find_link(first.email, "/confirm/"))
    expect(page.get_by_role("main")).to_contain_text("事務局が登録内容を確認しています")

    # The moderator approves and confirms the ward's domain in the same step.
    secretariat = new_page()
    secretariat.goto("/login")
    log_in(secretariat, moderator)
    secretariat.get_by_role("navigation", name="メインメニュー").get_by_role("link", name="承認待ち").click()
    item = queue_item(secretariat, first.name)
    expect(item).to_contain_text("東京都 品川区（特別区 · 131091）")
    expect(item.get_by_role("list", name="確認事項").get_by_role("listitem")).to_have_text(["ドメイン未確認"])
    item.get_by_label("city.shinagawa.lg.jp を 品川区 のドメインとして確認する").check()
    item.get_by_role("button", name="承認する", exact=True).click()
    expect(secretariat.get_by_role("status")).to_contain_text("品川 太郎 さんの登録を承認しました。")

    page.goto(deliver_mail_and_find_link(first.email, "/login"))
    log_in(page, first)
    name, organization = header_user(page)
    expect(name).to_have_text(first.name)
    expect(organization).to_have_text("東京都 品川区")

    # A colleague from the confirmed domain is active as soon as the address is confirmed: no moderator.
    colleague = new_page()
    colleague.goto("/register")
    colleague.get_by_label("団体コード", exact=True).fill(SHINAGAWA)
    fill_registration(colleague, second, department="文化観光課", phone="03-5742-6913")
    submit_registration(colleague, second)
    confirm_address(colleague, deliver_mail_and_find_link(second.email, "/confirm/"))
    expect(colleague.get_by_role("main")).to_contain_text("登録が完了しました。ログインしてご利用ください。")
    colleague.get_by_role("main").get_by_role("link", name="ログイン", exact=True).click()
    log_in(colleague, second)
    name, organization = header_user(colleague)
    expect(name).to_have_text(second.name)
    expect(organization).to_have_text("東京都 品川区")
    assert not [mail for mail in mail_sink.received_by(moderator.email) if second.email in mail.body]


def test_registration_pages_pass_axe(page: Page):
    page.goto("/register")
    assert_accessible(page, "the registration form")

    page.goto("/register?org_q=さかい")
    expect(page.locator("#org-results").get_by_role("link")).not_to_have_count(0)
    assert_accessible(page, "the registration form with organization search results")

    page.goto(f"/register?code={SAKAI}")
    page.get_by_label("氏名", exact=True).fill("検証 太郎")
    page.get_by_label("メールアドレス（職場のもの）", exact=True).fill("not-an-address")
    page.get_by_label("パスワード", exact=True).fill("short")
    page.get_by_label("パスワード（確認）", exact=True).fill("different")
    page.get_by_role("button", name="登録する", exact=True).click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("入力内容を確認してください。")
    expect(summary.get_by_role("link", name=re.compile("^所属部署"))).to_be_visible()
    expect(summary.get_by_role("link", name=re.compile("^利用規約に同意します"))).to_be_visible()
    expect(page.get_by_label("メールアドレス（職場のもの）", exact=True)).to_have_attribute("aria-invalid", "true")
    assert_accessible(page, "the registration form with validation errors")


def test_login_page_passes_axe(page: Page):
    page.goto("/login")
    assert_accessible(page, "the login form")

    log_in(page, Account(email="nobody@example.lg.jp", password="wrong-password-123", name=""))
    expect(page.get_by_role("alert")).to_contain_text("メールアドレスまたはパスワードが正しくありません。")
    assert_accessible(page, "the login form with an error")


def test_moderation_queue_passes_axe(page: Page, moderator: Account, add_user: Callable[..., Account]):
    applicant = add_user("kanazawa@city.kanazawa.example.jp", code=KANAZAWA, name="金沢 申請", state=UserState.PENDING)
    page.goto("/login")
    log_in(page, moderator)
    page.goto("/moderation")
    expect(queue_item(page, applicant.name)).to_be_visible()
    assert_accessible(page, "the moderation queue")


def test_keyboard_only_login(page: Page, live_server: LiveServer, add_user: Callable[..., Account]):
    officer = add_user("ichiro@town.kushiro.lg.jp", code=KUSHIRO_TOWN, name="釧路 一郎")
    page.goto("/login")

    page.keyboard.press("Tab")
    skip_link = page.locator(":focus")
    expect(skip_link).to_have_text("本文へ移動")
    expect(skip_link).to_have_attribute("href", "#main")
    box = skip_link.bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0, f"the focused skip link is off screen: {box}"

    page.keyboard.press("Enter")
    expect(page.get_by_role("main")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("メールアドレス", exact=True)).to_be_focused()
    page.keyboard.type(officer.email)
    page.keyboard.press("Tab")
    expect(page.get_by_label("パスワード", exact=True)).to_be_focused()
    page.keyboard.type(officer.password)
    page.keyboard.press("Enter")

    expect(page).to_have_url(live_server.url + "/")
    name, organization = header_user(page)
    expect(name).to_have_text(officer.name)
    expect(organization).to_have_text("北海道 釧路町")
