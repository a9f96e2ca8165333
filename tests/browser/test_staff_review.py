"""The April review and the change of one's address in real Chromium: the admin reviews the staff of 小松市 on one
page in March, a 加賀市 officer moves to a new address through the link of a real e-mail, the secretariat follows
the review; axe-core on each page, and screenshots at desk and phone widths in /tmp/shots."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from bulletin.accounts import staff_review
from bulletin.accounts.models import OrgRole, User, UserState
from bulletin.extensions import db
from bulletin.notifications.delivery import deliver_due
from bulletin.organizations.services import confirm_domain, get_by_code
from tests.browser.pages import Account, LiveServer, assert_accessible, heading, log_in
from tests.factories import SMTPServer

pytestmark = pytest.mark.browser

KOMATSU = "172031"  # 小松市 (石川県): no other browser test uses it
KAGA = "172065"  # 加賀市 (石川県)
NANAO = "172022"  # 七尾市 (石川県)
WAJIMA = "172049"  # 輪島市 (石川県)
SUZU = "172057"  # 珠洲市 (石川県)
SHOTS = Path("/tmp/shots")
WIDTHS = {"desk": 1280, "phone": 390}


def shoot(page: Page, name: str) -> None:
    """Full-page screenshots of the page as it is, at a desk's width and a phone's."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SHOTS / f"{name}-{label}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": WIDTHS["desk"], "height": 900})


def stored(live_server: LiveServer, email: str) -> User:
    with live_server.app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == email))
        db.session.expunge(user)
        return user


def make_admin(live_server: LiveServer, email: str) -> None:
    with live_server.app.app_context():
        db.session.scalar(db.select(User).where(User.email == email)).role = OrgRole.ADMIN
        db.session.commit()


@pytest.fixture
def in_march(monkeypatch) -> None:
    """The server sees 10 March 2027 as today in Japan: the review of FY2027 is open, the year has not ended."""
    monkeypatch.setattr(staff_review, "today_in_japan", lambda: date(2027, 3, 10))
    monkeypatch.setattr("bulletin.accounts.views.today_in_japan", lambda: date(2027, 3, 10))


def test_the_admin_reviews_the_staff_on_one_page(
    new_page: Callable[..., Page], add_user, live_server: LiveServer, moderator: Account, in_march
):
    admin = add_user("jinji@city.komatsu.lg.jp", code=KOMATSU, name="小松 人事")
    make_admin(live_server, admin.email)
    successor = add_user("kanko@city.komatsu.lg.jp", code=KOMATSU, name="小松 観光")
    leaving = add_user("kikaku@city.komatsu.lg.jp", code=KOMATSU, name="小松 企画")
    gone = add_user("somu@city.komatsu.lg.jp", code=KOMATSU, name="小松 総務")

    page = new_page()
    page.goto("/login")
    log_in(page, admin)
    page.goto("/organization/members")
    notice = page.locator(".notice", has_text="職員の確認をお願いします")
    expect(notice).to_contain_text("令和9年度（2027年度）")
    notice.get_by_role("link", name="職員を確認する").click()
    expect(heading(page)).to_contain_text("職員の確認（令和9年度（2027年度））")
    for person in (admin, successor, leaving, gone):
        expect(page.get_by_role("group", name=person.name)).to_be_visible()
    mine = page.get_by_role("group", name=f"{admin.name} （あなた）")
    expect(mine.get_by_label("残す", exact=True)).to_be_checked()
    assert_accessible(page, "the review page")
    shoot(page, "staff-review")

    # Leaving without handing the admin role on is refused, and the page says why, keeping what was chosen.
    mine.get_by_label("今すぐ無効にする", exact=True).check()
    page.get_by_role("group", name=gone.name).get_by_label("今すぐ無効にする", exact=True).check()
    page.get_by_role("button", name="この内容で確定する").click()
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("管理者がいなくなります")
    expect(page.get_by_role("group", name=gone.name).get_by_label("今すぐ無効にする", exact=True)).to_be_checked()
    assert_accessible(page, "the review page with its error")
    shoot(page, "staff-review-refused")

    mine.get_by_label("残す", exact=True).check()
    page.get_by_role("group", name=successor.name).get_by_label("管理者にする（引き継ぐ）").check()
    page.get_by_role("group", name=leaving.name).get_by_label("3月31日まで使えるようにして、その後無効にする").check()
    page.get_by_role("button", name="この内容で確定する").click()
    expect(page.locator(".flash--success")).to_have_text(
        "令和9年度（2027年度） の職員の確認を受け付けました（残す 1名・管理者に 1名・3月31日まで 1名・無効 1名）。"
    )
    expect(page.locator(".notice").first).to_contain_text("の確認は済んでいます")
    expect(page.get_by_role("group", name=gone.name)).to_have_count(0)
    assert_accessible(page, "the review page once confirmed")
    shoot(page, "staff-review-confirmed")

    assert stored(live_server, successor.email).role == OrgRole.ADMIN
    assert stored(live_server, leaving.email).leaves_after == date(2027, 3, 31)
    assert stored(live_server, gone.email).state == UserState.DEACTIVATED

    nanao = add_user("jinji@city.nanao.lg.jp", code=NANAO, name="七尾 人事")
    make_admin(live_server, nanao.email)
    add_user("kanko@city.nanao.lg.jp", code=NANAO, name="七尾 観光")
    add_user("kikaku@city.wajima.lg.jp", code=WAJIMA, name="輪島 企画")
    with live_server.app.app_context():
        staff_review.send_reminders(date(2027, 3, 1))
        db.session.commit()

    desk = new_page()
    desk.goto("/login")
    log_in(desk, moderator)
    desk.get_by_role("navigation", name="メインメニュー").get_by_role("link", name="職員確認").click()
    expect(heading(desk)).to_have_text("職員確認の状況（令和9年度（2027年度））")
    confirmed = desk.get_by_role("table", name="確認済みの団体（新しい順）")
    expect(confirmed).to_contain_text("石川県 小松市")
    expect(confirmed).to_contain_text(admin.name)
    waiting = desk.get_by_role("table", name="未確認の団体（団体コード順）")
    expect(waiting.get_by_role("row", name="石川県 七尾市")).to_contain_text("七尾 人事")
    expect(waiting.get_by_role("row", name="石川県 七尾市")).to_contain_text("1回（最後: 令和9年3月1日（2027-03-01））")
    expect(waiting.get_by_role("row", name="石川県 輪島市")).to_contain_text("管理者なし")
    assert_accessible(desk, "the moderators' overview of the review")
    shoot(desk, "moderation-staff-review")


def test_an_officer_moves_to_a_new_address_through_the_mailed_link(
    new_page: Callable[..., Page],
    add_user,
    live_server: LiveServer,
    mail_sink: SMTPServer,
    deliver_mail_and_find_link: Callable[[str, str], str],
):
    officer = add_user("kanko@city.kaga.lg.jp", code=KAGA, name="加賀 観光")
    with live_server.app.app_context():
        confirm_domain(get_by_code(KAGA), "city.kaga.lg.jp", None)
        db.session.commit()
    new_address = "kouryu@city.kaga.lg.jp"

    page = new_page()
    page.goto("/login")
    log_in(page, officer)
    page.goto("/profile")
    page.get_by_role("link", name="変更する").click()
    expect(heading(page)).to_have_text("メールアドレスの変更手続き")
    assert_accessible(page, "the e-mail change form")
    shoot(page, "email-change")

    page.get_by_label("新しいメールアドレス（職場のもの）").fill(new_address)
    page.get_by_label("現在のパスワード").fill("wrong password")
    page.get_by_role("button", name="確認メールを送る").click()
    expect(page.locator("#current_password-error")).to_have_text("現在のパスワードが正しくありません。")
    assert_accessible(page, "the e-mail change form with its error")
    shoot(page, "email-change-refused")

    page.get_by_label("現在のパスワード").fill(officer.password)
    page.get_by_role("button", name="確認メールを送る").click()
    expect(heading(page)).to_have_text("確認メールを送りました")
    expect(page.get_by_role("main")).to_contain_text(new_address)
    assert_accessible(page, "the page after asking")

    link = deliver_mail_and_find_link(new_address, "/profile/email/confirm/")
    [notice] = [mail for mail in mail_sink.received_by(officer.email) if "申し込みがありました" in mail.subject]
    assert new_address in notice.body and "/profile/email/confirm/" not in notice.body
    assert stored(live_server, officer.email).email == officer.email  # nothing changes before the button

    page.goto(link)
    expect(heading(page)).to_have_text("メールアドレス変更の確認")
    expect(page.get_by_role("main")).to_contain_text(officer.email)
    assert_accessible(page, "the confirmation button page")
    shoot(page, "email-change-confirm")
    page.get_by_role("button", name="メールアドレスを変更する").click()
    expect(heading(page)).to_have_text("メールアドレスを変更しました")
    assert_accessible(page, "the page after the change")

    page.goto("/profile")
    expect(page.get_by_role("main")).to_contain_text(new_address)
    with live_server.app.app_context():
        deliver_due()
    changed = [mail for mail in mail_sink.received_by(officer.email) if "変更されました" in mail.subject]
    assert changed and f"変更後: {new_address}" in changed[0].body


def test_a_change_to_another_domain_waits_for_the_secretariat(
    new_page: Callable[..., Page],
    add_user,
    live_server: LiveServer,
    moderator: Account,
    deliver_mail_and_find_link: Callable[[str, str], str],
):
    officer = add_user("kanko@city.suzu.lg.jp", code=SUZU, name="珠洲 観光")
    new_address = "kanko@suzu-kanko.example.jp"
    page = new_page()
    page.goto("/login")
    log_in(page, officer)
    page.goto("/profile/email")
    page.get_by_label("新しいメールアドレス（職場のもの）").fill(new_address)
    page.get_by_label("現在のパスワード").fill(officer.password)
    page.get_by_role("button", name="確認メールを送る").click()
    expect(page.get_by_role("main")).to_contain_text("事務局が確認してから切り替わります")
    page.goto(deliver_mail_and_find_link(new_address, "/profile/email/confirm/"))
    page.get_by_role("button", name="メールアドレスを変更する").click()
    expect(heading(page)).to_have_text("事務局の確認を待っています")
    assert_accessible(page, "the page of a change awaiting the secretariat")

    desk = new_page()
    desk.goto("/login")
    log_in(desk, moderator)
    desk.goto("/moderation#email-changes-heading")
    item = desk.locator("article").filter(has=desk.get_by_role("heading", name=officer.name))
    expect(item).to_contain_text(new_address)
    expect(item).to_contain_text("lg.jp 以外のドメイン")
    assert_accessible(desk, "the queue with a change of address")
    item.scroll_into_view_if_needed()
    shoot(desk, "moderation-queue-email-change")
    item.get_by_label("suzu-kanko.example.jp を 珠洲市 のドメインとして確認する").check()
    item.get_by_role("button", name="変更を承認する").click()
    expect(desk.locator(".flash--success")).to_have_text(
        f"{officer.name} さんのメールアドレスを {new_address} に変更しました。"
    )
    assert stored(live_server, new_address).name == officer.name
