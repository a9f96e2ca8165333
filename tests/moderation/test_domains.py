"""Moderators confirm an organization's e-mail domains from its page, and revoke them: who confirmed and when is
shown, both logs record it, and only a confirmed domain lets a registration skip review."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bulletin.accounts.models import User, UserState
from bulletin.core.audit import ModerationDecision, fingerprint
from bulletin.core.security_events import SecurityEvent, SecurityEventKind
from bulletin.extensions import db
from bulletin.organizations.domains import DomainNameError, clean_domain, is_public_suffix
from bulletin.organizations.models import EmailDomain
from bulletin.organizations.services import confirm_domain
from tests.constants import CONTROL_CHARACTERS, SAKAI, SHINAGAWA
from tests.factories import (
    assert_unchanged,
    database_state,
    flashes_after,
    link_in,
    new_client,
    page_of,
    registration_form,
    text_of,
)

SAKAI_DOMAIN = "city.fukui-sakai.lg.jp"
SAKAI_PAGE = f"/moderation/organizations/{SAKAI}"


def add(browser, domain: str, code: str = SAKAI):
    return browser.post(f"/moderation/organizations/{code}/domains", data={"domain": domain})


def revoke(browser, record: EmailDomain, reason: str = "職員以外も使うドメインと分かったため", code: str = SAKAI):
    return browser.post(f"/moderation/organizations/{code}/domains/{record.id}/revoke", data={"reason": reason})


def stored(domain: str) -> EmailDomain | None:
    db.session.expire_all()
    return db.session.scalar(select(EmailDomain).where(EmailDomain.domain == domain))


def log_lines(action: str) -> list[ModerationDecision]:
    return list(db.session.scalars(select(ModerationDecision).where(ModerationDecision.action == action)))


def security_lines(kind: SecurityEventKind) -> list[SecurityEvent]:
    return list(db.session.scalars(select(SecurityEvent).where(SecurityEvent.kind == kind)))


def register_and_confirm(client, outbox, email: str) -> User:
    """Register from the address at 坂井市 and open the confirmation link; the account as it then stands."""
    client.post("/register", data=registration_form(email=email))
    [mail] = outbox(email)
    client.post(link_in(mail.body, "/confirm/"))
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.email == email))


def test_a_moderator_adds_a_domain_confirmed_at_once_in_their_name(app, create_user, moderator, organization):
    create_user(SAKAI)
    desk = new_client(app, moderator)

    response = add(desk, "  City.Fukui-Sakai.LG.jp. ")

    assert response.status_code == 302 and response.headers["Location"] == SAKAI_PAGE
    assert f"{SAKAI_DOMAIN} を 坂井市 のドメインとして確認しました。" in flashes_after(desk, response)
    record = stored(SAKAI_DOMAIN)
    assert record.organization_id == organization(SAKAI).id and record.is_confirmed
    assert record.confirmed_by_id == moderator.id and record.confirmed_at is not None
    [line] = log_lines("confirm_domain")
    assert line.actor_id == moderator.id and line.subject_type == "organization"
    assert line.details["domain"] == SAKAI_DOMAIN
    [event] = security_lines(SecurityEventKind.DOMAIN_CONFIRMED)
    assert event.organization_id == record.organization_id and event.actor_id == moderator.id
    assert event.detail == SAKAI_DOMAIN
    row = next(tr for tr in page_of(desk.get(SAKAI_PAGE)).all("tr") if SAKAI_DOMAIN in tr.text)
    assert moderator.name in row.text and "20" in row.text  # who confirmed it, and when


def test_an_added_domain_lets_a_registration_skip_review_and_a_revoked_one_no_longer(
    app, client, create_user, moderator, outbox
):
    colleague = create_user(SAKAI, email="colleague@city.fukui-sakai.lg.jp")
    desk = new_client(app, moderator)
    assert register_and_confirm(client, outbox, "before@city.fukui-sakai.lg.jp").state == UserState.PENDING
    add(desk, SAKAI_DOMAIN)
    assert register_and_confirm(client, outbox, "trusted@city.fukui-sakai.lg.jp").state == UserState.ACTIVE

    response = revoke(desk, stored(SAKAI_DOMAIN), "職員以外も使うドメインと分かったため")

    assert f"{SAKAI_DOMAIN} の確認を取り消しました。" in flashes_after(desk, response)
    assert stored(SAKAI_DOMAIN) is None
    assert register_and_confirm(client, outbox, "after@city.fukui-sakai.lg.jp").state == UserState.PENDING
    trusted = db.session.scalar(select(User).where(User.email == "trusted@city.fukui-sakai.lg.jp"))
    assert trusted.state == UserState.ACTIVE and db.session.get(User, colleague.id).state == UserState.ACTIVE
    [line] = log_lines("revoke_domain")
    assert line.reason == "職員以外も使うドメインと分かったため" and line.details["domain"] == SAKAI_DOMAIN
    assert line.actor_id == moderator.id and line.details["confirmed_by_id"] == moderator.id
    [event] = security_lines(SecurityEventKind.DOMAIN_REVOKED)
    assert event.organization_id == trusted.organization_id and SAKAI_DOMAIN in event.detail
    page = page_of(desk.get("/moderation/log"))
    assert "ドメインの確認を取り消し" in page.html and SAKAI_DOMAIN in page.html


def test_a_domain_of_another_organization_is_refused_naming_it(app, create_user, moderator, organization):
    confirm_domain(organization(SHINAGAWA), "city.shinagawa.tokyo.jp", moderator.id)
    db.session.commit()
    desk = new_client(app, moderator)
    before = database_state()

    response = add(desk, "city.shinagawa.tokyo.jp")

    assert response.status_code == 400
    error = page_of(response).by_id("domain-error")
    assert "city.shinagawa.tokyo.jp は別の団体（東京都 品川区）のドメインとして登録されています。" in error.text
    assert_unchanged(before)


def test_adding_a_confirmed_domain_again_is_refused(app, create_user, moderator):
    desk = new_client(app, moderator)
    add(desk, SAKAI_DOMAIN)
    before = database_state()

    response = add(desk, SAKAI_DOMAIN.upper())

    assert response.status_code == 400
    assert "はすでにこの団体のドメインとして確認済みです。" in page_of(response).by_id("domain-error").text
    assert_unchanged(before)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "ドメインを入力してください。"),
        ("lg.jp", "lg.jp は lg.jp や go.jp と同じく、誰でもその下にドメインを持てる公開の接尾辞です。"),
        ("go.jp", "go.jp は lg.jp や go.jp と同じく"),
        ("jp", "jp は lg.jp や go.jp と同じく"),
        ("shinagawa.tokyo.jp", "shinagawa.tokyo.jp は lg.jp や go.jp と同じく"),
        ("foo.kawasaki.jp", "foo.kawasaki.jp は lg.jp や go.jp と同じく"),
        ("gmail.com", "gmail.com は誰でも使えるメールサービスのドメインのため、団体のドメインにできません。"),
        ("city fukui-sakai lg jp", "ドメインの形式が正しくありません（例: city.fukui-sakai.lg.jp）。"),
        ("city..lg.jp", "ドメインの形式が正しくありません"),
        ("-city.lg.jp", "ドメインの形式が正しくありません"),
        ("city.fukui-sakai.lg.jpp", "ドメインの形式が正しくありません"),
        ("192.168.1.1", "ドメインの形式が正しくありません"),
        ("a" * 64 + ".lg.jp", "ドメインの形式が正しくありません"),
        ("a." * 126 + "jp", "253文字以内で入力してください。"),
        ("city.\x00.lg.jp", CONTROL_CHARACTERS),
    ],
    ids=lambda value: value if len(value) < 30 else value[:12] + "…",
)
def test_a_domain_that_cannot_be_an_organizations_is_refused_on_the_form(app, moderator, typed, message):
    desk = new_client(app, moderator)
    before = database_state()

    response = add(desk, typed)

    assert response.status_code == 400
    error = page_of(response).by_id("domain-error")
    assert error is not None and message in error.text, text_of(response)
    assert_unchanged(before)


def test_an_internationalised_domain_is_stored_in_its_ascii_form_and_matches_addresses_at_it(
    app, client, create_user, moderator, outbox
):
    create_user(SAKAI)
    desk = new_client(app, moderator)

    add(desk, "坂井市.jp")

    record = stored("xn--elq54sfxf.jp")
    assert record is not None and record.is_confirmed
    user = register_and_confirm(client, outbox, "kanko@坂井市.jp")
    assert user.email_domain == "xn--elq54sfxf.jp" and user.state == UserState.ACTIVE


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "取り消しの理由を入力してください。"),
        ("長" * 2001, "2000文字以内で入力してください。"),
        ("\x00", CONTROL_CHARACTERS),
    ],
    ids=["empty", "too long", "NUL"],
)
def test_revoking_needs_a_good_reason_and_a_bad_one_changes_nothing(app, moderator, reason, message):
    desk = new_client(app, moderator)
    add(desk, SAKAI_DOMAIN)
    record = stored(SAKAI_DOMAIN)
    before = database_state()

    response = revoke(desk, record, reason)

    assert response.status_code == 400
    error = page_of(response).by_id(f"revoke-reason-{record.id}-error")
    assert error is not None and message in error.text
    assert_unchanged(before)


def test_revoking_twice_is_refused_and_another_organizations_domain_is_not_found(app, moderator):
    desk = new_client(app, moderator)
    add(desk, SAKAI_DOMAIN)
    record = stored(SAKAI_DOMAIN)
    assert revoke(desk, record, code=SHINAGAWA).status_code == 404  # under another organization's page
    assert stored(SAKAI_DOMAIN) is not None
    revoke(desk, record)

    again = revoke(desk, record)

    assert again.status_code == 404  # gone: nothing left to revoke
    assert len(log_lines("revoke_domain")) == 1


def test_approving_with_a_domain_of_another_organization_names_it(app, create_user, moderator, organization):
    confirm_domain(organization(SHINAGAWA), SAKAI_DOMAIN, moderator.id)  # confirmed for the wrong organization
    applicant = create_user(SAKAI, email="applicant@city.fukui-sakai.lg.jp", state=UserState.PENDING)
    desk = new_client(app, moderator)

    shown = fingerprint(applicant.registration_details())
    response = desk.post(
        f"/moderation/users/{applicant.id}/approve", data={"confirm_domain": "y", "fingerprint": shown}
    )

    refusal = f"{SAKAI_DOMAIN} は別の団体（東京都 品川区）のドメインとして登録されています。"
    assert refusal in flashes_after(desk, response)
    db.session.refresh(applicant)
    assert applicant.state == UserState.PENDING


def test_approving_with_the_domain_writes_the_security_log(app, create_user, moderator):
    create_user(SAKAI)
    applicant = create_user(SAKAI, email="applicant@city.fukui-sakai.lg.jp", state=UserState.PENDING)

    shown = fingerprint(applicant.registration_details())
    new_client(app, moderator).post(
        f"/moderation/users/{applicant.id}/approve", data={"confirm_domain": "y", "fingerprint": shown}
    )

    [event] = security_lines(SecurityEventKind.DOMAIN_CONFIRMED)
    assert event.detail == SAKAI_DOMAIN and event.actor_id == moderator.id
    assert event.organization_id == applicant.organization_id


# --- the rules, on their own -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "public"),
    [
        ("jp", True),
        ("lg.jp", True),
        ("go.jp", True),
        ("tokyo.jp", True),
        ("shinagawa.tokyo.jp", True),
        ("city.shinagawa.tokyo.jp", False),
        ("city.fukui-sakai.lg.jp", False),
        ("pref.fukui.jp", False),
        ("metro.tokyo.lg.jp", False),
        ("foo.kawasaki.jp", True),  # *.kawasaki.jp
        ("city.kawasaki.jp", False),  # !city.kawasaki.jp
        ("co.uk", True),
        ("example.co.uk", False),
    ],
)
def test_public_suffixes(domain, public):
    assert is_public_suffix(domain) is public


def test_a_cleaned_domain_is_lower_case_idna_without_dots_around_it():
    assert clean_domain(" ＣＩＴＹ．Ｆｕｋｕｉ-Sakai.lg.jp. ") == SAKAI_DOMAIN
    assert clean_domain("hanako@city.fukui-sakai.lg.jp") == SAKAI_DOMAIN  # an address pasted whole
    assert clean_domain("坂井市.jp") == "xn--elq54sfxf.jp"
    with pytest.raises(DomainNameError):
        clean_domain("localhost")
