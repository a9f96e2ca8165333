"""Changing one's own e-mail address: the current password, a link to the new address and a notice to the old one,
nothing changed until the link's button is pressed, the domain rules of registration (a confirmed domain of the
organization changes at once, any other waits for a moderator), no address of another account, other sessions ended,
the security log, and the limits on mail anyone can have sent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from bulletin.accounts.models import EmailChange, EmailChangeState, OrgRole, UserState
from bulletin.core.audit import ModerationDecision
from bulletin.core.security_events import SecurityEvent, SecurityEventKind
from bulletin.extensions import db, limiter
from bulletin.notifications.models import Notification, OutboxMessage
from bulletin.organizations.models import EmailDomain
from bulletin.organizations.services import confirm_domain
from tests.constants import KUSHIRO_TOWN, NEW_PASSWORD, PASSWORD, SAKAI
from tests.factories import (
    assert_field_error,
    assert_unchanged,
    database_state,
    flashes_after,
    form_errors,
    fresh,
    limiter_state_preserved,
    link_in,
    make_test_app,
    new_client,
    open_sessions,
    page_of,
    refuse_login_of_the_current_user_proxy,
    sharing_test_connection,
    text_of,
)

OLD = "kanko@city.fukui-sakai.lg.jp"
NEW = "kouryu@city.fukui-sakai.lg.jp"  # the same, confirmed domain: changes at once
ELSEWHERE = "kouryu@fukui-sakai.example.jp"  # a domain 坂井市 has not confirmed: a moderator decides


@pytest.fixture
def officer(create_user):
    """坂井市's officer, on the organization's confirmed domain."""
    return create_user(SAKAI, email=OLD, name="坂井 観光", confirm_org_domain=True)


def ask(browser, new_email: str, password: str = PASSWORD):
    return browser.post("/profile/email", data={"new_email": new_email, "current_password": password})


def mails(kind: str, recipient: str | None = None) -> list[OutboxMessage]:
    statement = select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
    if recipient:
        statement = statement.where(OutboxMessage.recipient == recipient)
    return list(db.session.scalars(statement))


def events(kind: SecurityEventKind) -> list[SecurityEvent]:
    return list(db.session.scalars(select(SecurityEvent).where(SecurityEvent.kind == kind).order_by(SecurityEvent.id)))


def confirm_link(recipient: str) -> str:
    [mail] = mails("email_change_confirm", recipient)
    return link_in(mail.body, "/profile/email/confirm/")


# --- asking ------------------------------------------------------------------------------------------------------


def test_the_profile_leads_to_the_form(app, officer):
    browser = new_client(app, officer)
    profile = page_of(browser.get("/profile"))
    assert any(a.attrs.get("href") == "/profile/email" for a in profile.all("a"))
    form = text_of(browser.get("/profile/email"))
    assert OLD in form and "city.fukui-sakai.lg.jp" in form  # the address and the domains that change at once


def test_asking_sends_a_link_to_the_new_address_and_a_notice_to_the_old_one_and_changes_nothing(app, officer):
    browser = new_client(app, officer)
    response = ask(browser, " Kouryu@City.Fukui-Sakai.LG.JP ")
    assert response.status_code == 200
    page = text_of(response)
    assert f"{NEW} に確認のメールを送りました" in page and "事務局が確認してから" not in page
    assert fresh(officer).email == OLD
    [confirm] = mails("email_change_confirm")
    assert confirm.recipient == NEW and confirm.user_id is None
    assert confirm.subject == "[全国連携マッチング掲示板] メールアドレス変更の確認"
    assert f"変更前: {OLD}\n変更後: {NEW}" in confirm.body
    assert "\nhttp://localhost/profile/email/confirm/" in confirm.body
    [notice] = mails("email_change_requested")
    assert notice.recipient == OLD and notice.user_id == officer.id
    assert f"変更後: {NEW}" in notice.body and "http://localhost/profile\n" in notice.body
    assert "/profile/email/confirm/" not in notice.body  # the old mailbox cannot complete the change
    assert events(SecurityEventKind.EMAIL_CHANGED) == []


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"new_email": NEW, "current_password": "wrong-password"},
            "current_password",
            "現在のパスワードが正しくありません。",
        ),
        ({"new_email": NEW, "current_password": ""}, "current_password", "入力してください。"),
        ({"new_email": "", "current_password": PASSWORD}, "new_email", "入力してください。"),
        (
            {"new_email": "not-an-address", "current_password": PASSWORD},
            "new_email",
            "メールアドレスの形式が正しくありません。",
        ),
        (
            {"new_email": "a@b\x00.jp", "current_password": PASSWORD},
            "new_email",
            "使用できない制御文字が含まれています。",
        ),
        (
            {"new_email": "x" * 250 + "@a.jp", "current_password": PASSWORD},
            "new_email",
            "254文字以内で入力してください。",
        ),
        ({"new_email": OLD.upper(), "current_password": PASSWORD}, "new_email", "現在と同じメールアドレスです。"),
    ],
)
def test_bad_input_is_shown_on_the_form_and_sends_nothing(app, officer, data, field, message):
    browser = new_client(app, officer)
    before = database_state()
    response = browser.post("/profile/email", data=data)
    assert response.status_code == 400
    assert_field_error(response, field, message)
    assert_unchanged(before)


def test_the_form_needs_a_signed_in_user(client):
    assert client.get("/profile/email").headers["Location"].startswith("/login")
    assert client.post("/profile/email", data={"new_email": NEW, "current_password": PASSWORD}).status_code == 302


# --- confirming on a confirmed domain ----------------------------------------------------------------------------


def test_the_link_changes_the_address_ends_the_other_sessions_and_tells_both_addresses(app, officer, monkeypatch):
    refuse_login_of_the_current_user_proxy(monkeypatch)
    elsewhere = new_client(app, officer)
    browser = new_client(app, officer)
    ask(browser, NEW)
    link = confirm_link(NEW)

    shown = browser.get(link)  # what a mail scanner does: nothing changes
    assert shown.status_code == 200
    assert OLD in text_of(shown) and NEW in text_of(shown) and fresh(officer).email == OLD
    response = browser.post(link)
    assert response.status_code == 200
    assert "メールアドレスを変更しました" in text_of(response)
    assert fresh(officer).email == NEW
    assert browser.get("/profile").status_code == 200  # the browser that confirmed stays signed in
    assert elsewhere.get("/profile").status_code == 302
    assert open_sessions(officer) == 1
    [event] = events(SecurityEventKind.EMAIL_CHANGED)
    assert (event.user_id, event.actor_id, event.email) == (officer.id, None, NEW)
    assert event.detail == f"{OLD} -> {NEW}"
    assert [m.recipient for m in mails("email_changed")] == [NEW, OLD]
    for mail in mails("email_changed"):
        assert f"変更前: {OLD}\n変更後: {NEW}" in mail.body and "事務局の承認により" not in mail.body
    assert new_client(app).post("/login", data={"email": OLD, "password": PASSWORD}).status_code == 200
    assert new_client(app).post("/login", data={"email": NEW, "password": PASSWORD}).status_code == 302


def test_the_link_opened_in_another_browser_ends_every_session(app, officer):
    browser = new_client(app, officer)
    ask(browser, NEW)
    stranger = new_client(app)  # e.g. the mail opened on another PC
    assert stranger.post(confirm_link(NEW)).status_code == 200
    assert fresh(officer).email == NEW and open_sessions(officer) == 0
    assert browser.get("/profile").status_code == 302


def test_the_link_works_once(app, officer):
    browser = new_client(app, officer)
    ask(browser, NEW)
    link = confirm_link(NEW)
    assert browser.post(link).status_code == 200
    again = browser.post(link)
    assert again.status_code == 400 and "このリンクはすでに使われています。" in form_errors(again)
    assert browser.get(link).status_code == 400


def test_a_newer_link_kills_the_older_one_once_used(app, officer):
    browser = new_client(app, officer)
    ask(browser, NEW)
    ask(browser, "tourism@city.fukui-sakai.lg.jp")
    first, second = confirm_link(NEW), confirm_link("tourism@city.fukui-sakai.lg.jp")
    assert browser.post(second).status_code == 200
    assert browser.post(first).status_code == 400
    assert fresh(officer).email == "tourism@city.fukui-sakai.lg.jp"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/profile/email/confirm/forged", "リンクが正しくありません。"),
        ("/profile/email/confirm/" + "x" * 3000, "リンクが正しくありません。"),
    ],
)
def test_a_forged_link_changes_nothing(app, officer, path, message):
    before = database_state()
    for response in (new_client(app).get(path), new_client(app).post(path)):
        assert response.status_code == 400 and message in text_of(response)
    assert_unchanged(before)


def test_an_expired_link_changes_nothing(app, officer, monkeypatch):
    browser = new_client(app, officer)
    ask(browser, NEW)
    monkeypatch.setitem(app.config, "EMAIL_CHANGE_TOKEN_MAX_AGE", -1)
    response = browser.post(confirm_link(NEW))
    assert response.status_code == 400 and "リンクの有効期限が切れています。" in text_of(response)
    assert fresh(officer).email == OLD


def test_the_link_of_a_deactivated_account_changes_nothing(app, officer):
    browser = new_client(app, officer)
    ask(browser, NEW)
    fresh(officer).state = UserState.DEACTIVATED
    db.session.commit()
    assert new_client(app).post(confirm_link(NEW)).status_code == 400
    assert fresh(officer).email == OLD


def test_the_button_needs_its_csrf_token(app, officer, monkeypatch):
    browser = new_client(app, officer)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    form = page_of(browser.get("/profile/email"))
    token = next(e.attrs["value"] for e in form.all("input") if e.attrs.get("name") == "csrf_token")
    browser.post("/profile/email", data={"new_email": NEW, "current_password": PASSWORD, "csrf_token": token})
    link = confirm_link(NEW)
    assert browser.post(link).status_code == 400  # without the form's token: refused
    assert fresh(officer).email == OLD
    button = page_of(browser.get(link))
    token = next(e.attrs["value"] for e in button.all("input") if e.attrs.get("name") == "csrf_token")
    assert browser.post(link, data={"csrf_token": token}).status_code == 200
    assert fresh(officer).email == NEW


# --- another account's address -----------------------------------------------------------------------------------


def test_an_address_of_another_account_gets_the_same_answer_and_its_owner_is_told(app, officer, create_user):
    owner = create_user(SAKAI, email=NEW, name="坂井 交流")
    namesake = create_user(SAKAI, email="somu@city.fukui-sakai.lg.jp", name="坂井 観光")
    free = ask(new_client(app, namesake), "free@city.fukui-sakai.lg.jp")
    taken = ask(new_client(app, officer), NEW)
    assert taken.status_code == free.status_code == 200

    def main_text(response, new_email: str, old_email: str) -> str:
        return page_of(response).by_id("main").text.replace(new_email, "NEW").replace(old_email, "OLD")

    assert main_text(taken, NEW, OLD) == main_text(free, "free@city.fukui-sakai.lg.jp", namesake.email)
    assert mails("email_change_confirm", NEW) == []
    [notice] = mails("email_change_address_taken")
    assert notice.recipient == NEW and notice.user_id == owner.id
    assert "すでにあなたのアカウントで使われているため、何も変更していません" in notice.body
    assert OLD not in notice.body  # the owner is not told who asked
    assert [m.recipient for m in mails("email_change_requested")] == [namesake.email, OLD]
    assert fresh(officer).email == OLD


def test_an_address_taken_after_the_link_was_sent_is_not_taken(app, officer, create_user):
    browser = new_client(app, officer)
    ask(browser, NEW)
    link = confirm_link(NEW)
    create_user(SAKAI, email=NEW)  # someone registered it meanwhile
    before = database_state()
    response = browser.post(link)
    assert response.status_code == 409
    assert "このメールアドレスはすでに別のアカウントで使われているため、変更できません。" in text_of(response)
    assert_unchanged(before)


# --- limits on mail --------------------------------------------------------------------------------------------


def test_at_most_three_links_an_hour_reach_one_new_address_but_the_old_one_always_hears(app, officer):
    browser = new_client(app, officer)
    for _ in range(5):
        assert ask(browser, NEW).status_code == 200
    assert len(mails("email_change_confirm", NEW)) == 3
    assert len(mails("email_change_requested", OLD)) == 5


def test_the_links_count_with_the_other_mail_anyone_can_ask_for(app, officer, create_user):
    victim = "victim@city.fukui-sakai.lg.jp"
    admin = new_client(app, create_user(SAKAI, role=OrgRole.ADMIN, email="admin@city.fukui-sakai.lg.jp"))
    for _ in range(2):
        assert admin.post("/organization/members", data={"email": victim}).status_code == 302
    browser = new_client(app, officer)
    ask(browser, victim)
    ask(browser, victim)
    assert len(mails("invitation", victim)) == 2
    assert len(mails("email_change_confirm", victim)) == 1  # the third mail of the hour; the fourth is not sent


@pytest.fixture
def limited_app(app, database_url, tmp_path) -> Iterator[Flask]:
    """An app with rate limits on, writing inside the test's rolled-back transaction."""
    with limiter_state_preserved():
        second = make_test_app(database_url, tmp_path, RATELIMIT_ENABLED=True)
        with sharing_test_connection(second, app):
            limiter.reset()
            try:
                yield second
            finally:
                limiter.reset()


def test_one_sender_address_may_ask_ten_times_an_hour(limited_app, officer):
    browser = new_client(limited_app)
    browser.environ_base["REMOTE_ADDR"] = "192.0.2.60"
    assert browser.post("/login", data={"email": OLD, "password": PASSWORD}).status_code == 302
    for number in range(10):
        assert ask(browser, f"new{number}@city.fukui-sakai.lg.jp").status_code == 200
    assert ask(browser, NEW).status_code == 429
    assert mails("email_change_confirm", NEW) == []


# --- a domain the organization has not confirmed: the secretariat decides ---------------------------------------


def waiting_change(app, officer, new_email: str = ELSEWHERE) -> EmailChange:
    browser = new_client(app, officer)
    response = ask(browser, new_email)
    assert "事務局が確認してから切り替わります" in text_of(response)
    assert "事務局が承認してから切り替わります" in mails("email_change_confirm", new_email)[0].body
    done = browser.post(confirm_link(new_email))
    assert done.status_code == 200 and "事務局の確認を待っています" in text_of(done)
    return db.session.scalar(select(EmailChange).where(EmailChange.user_id == officer.id))


def test_a_new_domain_waits_for_a_moderator_and_the_user_keeps_the_old_address(app, officer, moderator):
    browser = new_client(app, officer)
    change = waiting_change(app, officer)
    assert (change.state, change.old_email, change.new_email) == (EmailChangeState.PENDING, OLD, ELSEWHERE)
    assert fresh(officer).email == OLD and browser.get("/profile").status_code == 200
    assert events(SecurityEventKind.EMAIL_CHANGED) == []
    [notice] = db.session.scalars(select(Notification).where(Notification.user_id == moderator.id))
    assert notice.kind == "email_change_pending" and notice.url == "/moderation"
    [mail] = mails("email_change_pending")
    assert mail.recipient == moderator.email and f"変更前: {OLD}\n変更後: {ELSEWHERE}" in mail.body
    page = text_of(browser.get("/profile/email"))
    assert f"{ELSEWHERE} への変更を事務局が確認しています" in page
    again = ask(browser, "third@fukui-sakai.example.jp")
    assert again.status_code == 400 and "への変更を事務局が確認しています" in form_errors(again)


def test_the_link_opened_twice_makes_one_waiting_change(app, officer, moderator):
    browser = new_client(app, officer)
    ask(browser, ELSEWHERE)
    link = confirm_link(ELSEWHERE)
    assert browser.post(link).status_code == 200
    assert browser.post(link).status_code == 200
    assert len(list(db.session.scalars(select(EmailChange)))) == 1
    assert len(mails("email_change_pending")) == 1


def test_the_queue_shows_the_change_with_its_flags(app, officer, moderator):
    change = waiting_change(app, officer)
    page = page_of(new_client(app, moderator).get("/moderation"))
    item = next(a for a in page.all("article") if f"email-change-{change.id}-name" == a.attrs.get("aria-labelledby"))
    assert "坂井 観光" in item.text and OLD in item.text and ELSEWHERE in item.text
    assert "ドメイン未確認" in item.text and "lg.jp 以外のドメイン" in item.text
    assert "city.fukui-sakai.lg.jp" in item.text  # the organization's confirmed domains
    assert page.by_id(f"confirm-change-domain-{change.id}") is not None


def test_a_moderator_approves_the_change_and_may_confirm_the_domain(app, officer, moderator):
    browser = new_client(app, officer)
    change = waiting_change(app, officer)
    desk = new_client(app, moderator)
    response = desk.post(f"/moderation/email-changes/{change.id}/approve", data={"confirm_domain": "y"})
    assert f"坂井 観光 さんのメールアドレスを {ELSEWHERE} に変更しました。" in flashes_after(desk, response)
    assert fresh(officer).email == ELSEWHERE and open_sessions(officer) == 0
    assert browser.get("/profile").status_code == 302
    change = fresh(change)
    assert change.state == EmailChangeState.APPROVED and change.decided_by_id == moderator.id
    domain = db.session.scalar(select(EmailDomain).where(EmailDomain.domain == "fukui-sakai.example.jp"))
    assert domain.is_confirmed and domain.organization_id == officer.organization_id
    [changed] = events(SecurityEventKind.EMAIL_CHANGED)
    assert (changed.user_id, changed.actor_id) == (officer.id, moderator.id)
    [confirmed] = events(SecurityEventKind.DOMAIN_CONFIRMED)
    assert confirmed.actor_id == moderator.id and confirmed.detail == "fukui-sakai.example.jp"
    [decision] = db.session.scalars(
        select(ModerationDecision).where(ModerationDecision.action == "approve_email_change")
    )
    assert decision.details == {"old_email": OLD, "new_email": ELSEWHERE, "confirmed_domain": "fukui-sakai.example.jp"}
    assert sorted(m.recipient for m in mails("email_changed")) == sorted([OLD, ELSEWHERE])
    assert all("事務局の承認により" in m.body for m in mails("email_changed"))
    assert new_client(app).post("/login", data={"email": ELSEWHERE, "password": PASSWORD}).status_code == 302


def test_a_moderator_approves_without_confirming_the_domain(app, officer, moderator, create_user):
    change = waiting_change(app, officer)
    desk = new_client(app, moderator)
    desk.post(f"/moderation/email-changes/{change.id}/approve")
    assert fresh(officer).email == ELSEWHERE
    assert db.session.scalar(select(EmailDomain).where(EmailDomain.domain == "fukui-sakai.example.jp")) is None
    assert events(SecurityEventKind.DOMAIN_CONFIRMED) == []


def test_a_moderator_rejects_the_change_with_a_reason_both_addresses_hear(app, officer, moderator):
    change = waiting_change(app, officer)
    desk = new_client(app, moderator)
    desk.get("/moderation")  # the moderator's notice of the change is read: the queue writes nothing more
    before = database_state()
    empty = desk.post(f"/moderation/email-changes/{change.id}/reject", data={"reason": "  "})
    assert "却下の理由を入力してください。" in flashes_after(desk, empty)
    assert_unchanged(before)
    response = desk.post(
        f"/moderation/email-changes/{change.id}/reject", data={"reason": "団体のアドレスではありません。"}
    )
    assert "坂井 観光 さんのメールアドレスの変更を却下しました。" in flashes_after(desk, response)
    change = fresh(change)
    assert change.state == EmailChangeState.REJECTED and change.reason == "団体のアドレスではありません。"
    assert fresh(officer).email == OLD
    assert sorted(m.recipient for m in mails("email_change_rejected")) == sorted([OLD, ELSEWHERE])
    assert all("団体のアドレスではありません。" in m.body for m in mails("email_change_rejected"))
    assert ask(new_client(app, officer), "another@fukui-sakai.example.jp").status_code == 200  # may ask again


def test_a_change_is_decided_once(app, officer, moderator):
    change = waiting_change(app, officer)
    desk = new_client(app, moderator)
    desk.post(f"/moderation/email-changes/{change.id}/approve")
    desk.get("/moderation")
    before = database_state()
    for path, data in (("approve", {}), ("reject", {"reason": "理由"})):
        response = desk.post(f"/moderation/email-changes/{change.id}/{path}", data=data)
        assert "このメールアドレスの変更はすでに処理されています。" in flashes_after(desk, response)
    assert_unchanged(before)
    assert desk.post("/moderation/email-changes/999999/approve").status_code == 404


def test_approving_an_address_taken_meanwhile_is_refused(app, officer, moderator, create_user):
    change = waiting_change(app, officer)
    create_user(KUSHIRO_TOWN, email=ELSEWHERE)
    desk = new_client(app, moderator)
    desk.get("/moderation")  # the moderator's notice of the change is read: the queue writes nothing more
    before = database_state()
    response = desk.post(f"/moderation/email-changes/{change.id}/approve")
    assert "このメールアドレスはすでに別のアカウントで使われているため、変更できません。" in flashes_after(
        desk, response
    )
    assert_unchanged(before)


def test_approving_the_change_of_an_account_deactivated_meanwhile_is_refused(app, officer, moderator):
    change = waiting_change(app, officer)
    fresh(officer).state = UserState.DEACTIVATED
    db.session.commit()
    desk = new_client(app, moderator)
    response = desk.post(f"/moderation/email-changes/{change.id}/approve")
    assert "変わっています。却下してください。" in flashes_after(desk, response)[-1]
    assert fresh(change).state == EmailChangeState.PENDING and fresh(officer).email == OLD


def test_once_the_domain_is_confirmed_colleagues_move_to_it_at_once(app, officer, create_user, moderator):
    confirm_domain(officer.organization, "fukui-sakai.example.jp", moderator.id)
    db.session.commit()
    browser = new_client(app, officer)
    assert "事務局が確認してから" not in text_of(ask(browser, ELSEWHERE))
    browser.post(confirm_link(ELSEWHERE))
    assert fresh(officer).email == ELSEWHERE


def test_an_invitation_does_not_vouch_for_a_new_domain(app, create_user, moderator):
    admin = create_user(SAKAI, role=OrgRole.ADMIN, email="admin@city.fukui-sakai.lg.jp")
    invited = create_user(SAKAI, email="invited@city.fukui-sakai.lg.jp")
    invited.invited_by_id = admin.id
    db.session.commit()
    waiting_change(app, invited, "invited@gmail.example.com")
    assert fresh(invited).email == "invited@city.fukui-sakai.lg.jp"


def test_the_secretariat_changes_its_own_address_at_once(app, moderator):
    browser = new_client(app, moderator)
    ask(browser, "jimukyoku@tokyo23.example.jp")
    browser.post(confirm_link("jimukyoku@tokyo23.example.jp"))
    assert fresh(moderator).email == "jimukyoku@tokyo23.example.jp"


def test_a_password_changed_after_asking_does_not_stop_the_link(app, officer):
    browser = new_client(app, officer)
    ask(browser, NEW)
    data = {"current_password": PASSWORD, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    assert browser.post("/profile/password", data=data).status_code == 302
    assert browser.post(confirm_link(NEW)).status_code == 200
    assert fresh(officer).email == NEW
