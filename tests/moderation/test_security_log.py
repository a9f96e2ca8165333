"""Moderators read the security log and filter it by kind, address, account and day."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bulletin.core.security_events import SecurityEvent, SecurityEventKind, record_security_event
from bulletin.extensions import db
from tests.constants import PASSWORD, SAKAI, SHINAGAWA
from tests.factories import new_client, page_of


def rows(response) -> list[str]:
    page = page_of(response)
    return [" ".join(cell.text.split()) for cell in page.all("tr")][1:]


def test_sign_ins_failures_and_logouts_are_in_the_log(app, create_user):
    moderator = create_user(None, is_moderator=True, email="mod@secretariat.lg.jp")
    officer = create_user(SAKAI, email="officer@city.fukui-sakai.lg.jp")
    new_client(app).post(
        "/login", data={"email": officer.email, "password": "wrong-one"}, environ_base={"REMOTE_ADDR": "192.0.2.7"}
    )
    browser = new_client(app, officer)
    browser.post("/logout")
    kinds = [e.kind for e in db.session.scalars(select(SecurityEvent).where(SecurityEvent.user_id == officer.id))]
    assert kinds == [SecurityEventKind.LOGIN_FAILED, SecurityEventKind.LOGIN, SecurityEventKind.LOGOUT]

    page = new_client(app, moderator).get("/moderation/security")
    assert page.status_code == 200
    text = "\n".join(rows(page))
    assert "ログイン失敗" in text and "192.0.2.7" in text and "ログアウト" in text and officer.email in text


def test_filters_narrow_the_log(app, create_user):
    moderator = create_user(None, is_moderator=True, email="mod@secretariat.lg.jp")
    sakai = create_user(SAKAI, email="sakai@city.fukui-sakai.lg.jp")
    ward = create_user(SHINAGAWA, email="ward@city.shinagawa.lg.jp")
    old = record_security_event(SecurityEventKind.LOGIN_FAILED, user=ward, detail="password")
    old.created_at = datetime(2026, 4, 1, 14, 59, tzinfo=UTC)  # 23:59 on 1 April in Japan
    record_security_event(
        SecurityEventKind.DOMAIN_CONFIRMED, user=sakai, actor=moderator, detail="city.fukui-sakai.lg.jp"
    )
    db.session.flush()
    browser = new_client(app, moderator)

    by_kind = "\n".join(rows(browser.get("/moderation/security?kind=domain_confirmed")))
    assert "ドメインの確認" in by_kind and "ログイン" not in by_kind

    by_text = rows(browser.get("/moderation/security?q=SHINAGAWA"))
    assert by_text and all("shinagawa" in row for row in by_text)

    on_the_day = rows(browser.get("/moderation/security?date_from=2026-04-01&date_until=2026-04-01"))
    assert len(on_the_day) == 1 and "2026-04-01 23:59" in on_the_day[0]
    assert rows(browser.get("/moderation/security?date_from=2026-04-02&date_until=2026-04-02")) == [
        "該当する記録はありません。"
    ]

    by_account = rows(browser.get(f"/moderation/security?user={moderator.id}"))
    assert len(by_account) >= 2  # the moderator's sign-in and the domain they confirmed


def test_bad_filters_are_said_and_change_nothing(app, create_user):
    moderator = create_user(None, is_moderator=True, email="mod@secretariat.lg.jp")
    browser = new_client(app, moderator)
    response = browser.get("/moderation/security?kind=nonsense&date_from=2026-02-30&q=%00&user=-5")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "日付は 2026-04-01 の形で入力してください。" in text
    assert "ログイン" in text  # the unfiltered log is shown


def test_each_user_sees_only_their_own_sign_ins(app, create_user):
    mine = create_user(SAKAI, email="mine@city.fukui-sakai.lg.jp")
    theirs = create_user(SAKAI, email="theirs@city.fukui-sakai.lg.jp")
    new_client(app).post(
        "/login", data={"email": theirs.email, "password": "wrong-one"}, environ_base={"REMOTE_ADDR": "198.51.100.99"}
    )
    page = new_client(app, mine, PASSWORD).get("/settings/sessions").get_data(as_text=True)
    assert "198.51.100.99" not in page
