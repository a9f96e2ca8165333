"""Two-factor sign-in: enrolment at /settings/two-factor, the code step of a login, recovery codes, turning it off,
renewing the codes, the secretariat's reset, and what every change brings along (the other sessions end, a line of
the security log, an account mail).

Time is a fixed clock here (`totp_clock`), moved on by whole 30-second steps, so that "the same code twice" and "the
next code" mean exactly that.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import timedelta

import pyotp
import pytest
import segno
from flask import Flask
from sqlalchemy import select

from bulletin import create_app
from bulletin.accounts import two_factor, two_factor_views
from bulletin.accounts.models import RecoveryCode, User
from bulletin.config import ConfigError
from bulletin.core.security_events import SecurityEvent, SecurityEventKind
from bulletin.extensions import db, limiter
from tests.constants import CONTROL_CHARACTERS, NEW_PASSWORD, PASSWORD, REQUIRED, SAKAI
from tests.core.test_security import inline_code, outside_references
from tests.factories import (
    assert_field_error,
    assert_unchanged,
    count,
    database_state,
    enrol,
    flashes,
    flashes_after,
    fresh,
    limiter_state_preserved,
    make_test_app,
    new_client,
    open_sessions,
    page_of,
    sharing_test_connection,
    text_of,
)

SETTINGS = "/settings/two-factor"
CODE_STEP = "/login/two-factor"
WRONG_CODE = "確認コードが正しくありません。"
REUSED_CODE = "この確認コードはすでに使われています。次のコードが表示されるまでお待ちください。"
CODE_FORMAT = "認証アプリの6桁の確認コード、またはリカバリーコードを入力してください。"
THROTTLED = "短時間に操作が繰り返されたため、しばらく受け付けを止めています。時間をおいてもう一度お試しください。"


def password_step(app: Flask, user: User, path: str = "/login"):
    """A browser that gave the user's right password; it now waits at the code step."""
    browser = new_client(app)
    response = browser.post(path, data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == CODE_STEP, text_of(response)[:300]
    return browser


def signed_in_with_code(app: Flask, user: User, code: str):
    """A browser signed in through both steps."""
    browser = password_step(app, user)
    response = browser.post(CODE_STEP, data={"code": code})
    assert response.status_code == 302, text_of(response)[:500]
    return browser


def logged_in(browser) -> bool:
    return browser.get("/profile").status_code == 200


def events(user: User, kind: SecurityEventKind) -> list[SecurityEvent]:
    statement = select(SecurityEvent).where(SecurityEvent.user_id == user.id, SecurityEvent.kind == kind)
    return list(db.session.scalars(statement.order_by(SecurityEvent.id)))


def two_factor_mails(outbox, user: User) -> list:
    return [message for message in outbox(user.email) if message.kind == "two_factor_changed"]


def shown_secret(response) -> str:
    element = page_of(response).by_id("totp-secret")
    assert element is not None, text_of(response)
    return element.text.replace(" ", "")


def recovery_codes_on(response) -> list[str]:
    return [element.text for element in page_of(response).with_class("recovery-code")]


# --- enrolment -----------------------------------------------------------------------------------------------------


def test_enrolment_needs_the_password_then_a_right_code_and_shows_ten_hashed_recovery_codes_once(
    app, create_user, outbox, totp_clock
):
    user = create_user(SAKAI)
    browser, elsewhere = new_client(app, user), new_client(app, user)
    page = browser.get(SETTINGS)
    assert page.status_code == 200 and page_of(page).by_id("totp-secret") is None
    assert page.headers["Cache-Control"] == "no-store"

    refused = browser.post(f"{SETTINGS}/start", data={"password": "not-the-password"})
    assert refused.status_code == 400
    assert_field_error(refused, "start-password", "パスワードが正しくありません。")
    assert fresh(user).totp_pending_secret is None

    assert browser.post(f"{SETTINGS}/start", data={"password": PASSWORD}).headers["Location"] == SETTINGS + "#enrol"
    page = browser.get(SETTINGS)
    secret = shown_secret(page)
    assert secret == fresh(user).totp_pending_secret and len(secret) == 32
    assert page_of(page).all("svg") and not fresh(user).has_two_factor  # pending: trusted for nothing yet
    assert password_step_is_skipped(app, user)

    wrong = browser.post(SETTINGS, data={"code": totp_clock.code(secret, steps=5)})
    assert wrong.status_code == 400
    assert_field_error(
        wrong, "code", "確認コードが正しくありません。アプリに表示されている6桁の数字を入力してください。"
    )
    assert not fresh(user).has_two_factor

    done = browser.post(SETTINGS, data={"code": totp_clock.code(secret)})
    assert done.status_code == 200
    codes = recovery_codes_on(done)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[0-9a-z]{4}(-[0-9a-z]{4}){3}", code) for code in codes)
    assert done.headers["Cache-Control"] == "no-store"
    user = fresh(user)
    assert user.has_two_factor and user.totp_secret == secret and user.totp_pending_secret is None

    stored = db.session.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)).all()
    assert sorted(stored) == sorted(hashlib.sha256(code.replace("-", "").encode()).hexdigest() for code in codes)
    state = repr(database_state())
    assert not [code for code in codes if code in state or code.replace("-", "") in state]

    again = browser.get(SETTINGS)  # shown once: neither the codes nor the secret appear again
    assert recovery_codes_on(again) == [] and page_of(again).by_id("totp-secret") is None
    assert secret not in text_of(again) and not page_of(again).all("svg")
    assert "残りのリカバリーコード" in text_of(again)

    assert logged_in(browser) and not logged_in(elsewhere)  # the other session ended, this one continues
    assert len(events(user, SecurityEventKind.TWO_FACTOR_ENABLED)) == 1
    [mail] = two_factor_mails(outbox, user)
    assert "2段階認証が有効になりました" in mail.body and "/settings/two-factor" in mail.body
    assert secret not in mail.body


def password_step_is_skipped(app: Flask, user: User) -> bool:
    """While enrolment is pending, signing in still takes the password alone."""
    response = new_client(app).post("/login", data={"email": user.email, "password": PASSWORD})
    return response.status_code == 302 and response.headers["Location"] == "/"


def test_the_qr_code_is_inline_svg_of_the_otpauth_address_without_style_or_script(app, create_user, totp_clock):
    user = create_user(SAKAI, email="kanko@city.fukui-sakai.lg.jp")
    browser = new_client(app, user)
    browser.post(f"{SETTINGS}/start", data={"password": PASSWORD})
    page = browser.get(SETTINGS)
    secret = shown_secret(page)
    [svg] = page_of(page).all("svg")
    assert svg.attrs["role"] == "img" and "kanko@city.fukui-sakai.lg.jp" in svg.attrs["aria-label"]
    assert "viewbox" in svg.attrs and "style" not in svg.attrs
    assert not inline_code(page_of(page)) and not outside_references(page_of(page))

    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name="全国連携マッチング掲示板")
    assert "issuer=%E5%85%A8%E5%9B%BD" in uri  # 全国連携マッチング掲示板, percent-encoded
    expected = segno.make(uri).svg_inline(
        scale=1, border=4, dark="#000", light="#fff", svgclass="qr-code", lineclass=None, omitsize=True
    )
    drawn = re.search(r'<path stroke="#000" d="([^"]+)"', text_of(page))
    assert drawn and drawn.group(1) in expected  # the QR code is this address's, drawn on the server

    app.config["TOTP_ISSUER"] = "特別区長会事務局 掲示板"
    try:
        assert "issuer=%E7%89%B9%E5%88%A5" in two_factor.provisioning_uri(user, secret)
    finally:
        app.config["TOTP_ISSUER"] = "全国連携マッチング掲示板"


def test_the_code_may_come_from_the_step_before_or_after_and_is_typed_as_people_type_it(app, create_user, totp_clock):
    user = create_user(SAKAI)
    secret = two_factor.start_enrolment(user, PASSWORD)
    code = totp_clock.code(secret, steps=-1)
    assert two_factor.confirm_enrolment(
        user, f" {code[:3]} {code[3:]} ".translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    )
    assert fresh(user).has_two_factor
    assert fresh(user).totp_last_step == two_factor.current_step(totp_clock.now) - 1


def test_enrolment_can_be_cancelled_and_a_confirmation_without_a_start_is_refused(app, create_user, totp_clock):
    user = create_user(SAKAI)
    browser = new_client(app, user)
    refused = browser.post(SETTINGS, data={"code": "123456"})
    assert "設定の手続きが始まっていません" in " ".join(flashes_after(browser, refused))
    browser.post(f"{SETTINGS}/start", data={"password": PASSWORD})
    assert fresh(user).totp_pending_secret
    response = browser.post(f"{SETTINGS}/cancel")
    assert "2段階認証の設定をやめました。" in flashes_after(browser, response)
    assert fresh(user).totp_pending_secret is None and not fresh(user).has_two_factor


# --- the code step of a login --------------------------------------------------------------------------------------


def test_the_password_alone_opens_no_session_and_the_code_does(app, create_user, totp_clock):
    user = create_user(SAKAI)
    secret, _ = enrol(user, totp_clock)
    browser = password_step(app, user)
    assert open_sessions(user) == 0 and not logged_in(browser)
    assert fresh(user).last_login_at is None
    assert not events(user, SecurityEventKind.LOGIN)
    page = browser.get(CODE_STEP)
    form_fields = [e.attrs.get("name") for e in page_of(page).all("input") if e.attrs.get("type") != "hidden"]
    assert form_fields == ["code"]
    assert page_of(page).by_id("code").attrs.get("autocomplete") == "one-time-code"

    response = browser.post(CODE_STEP, data={"code": totp_clock.code(secret)})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert logged_in(browser) and open_sessions(user) == 1
    assert fresh(user).last_login_at is not None
    assert len(events(user, SecurityEventKind.LOGIN)) == 1
    assert browser.get(CODE_STEP).headers["Location"] == "/"  # signed in: nothing to do here


def test_the_next_page_is_kept_through_the_code_step(app, create_user, totp_clock):
    user = create_user(SAKAI)
    secret, _ = enrol(user, totp_clock)
    browser = new_client(app)
    login_form = page_of(browser.get("/login?next=/settings/sessions")).by_id("next")
    assert login_form.attrs["value"] == "/settings/sessions"
    response = browser.post("/login", data={"email": user.email, "password": PASSWORD, "next": "/settings/sessions"})
    assert response.headers["Location"] == CODE_STEP
    response = browser.post(CODE_STEP, data={"code": totp_clock.code(secret)})
    assert response.headers["Location"] == "/settings/sessions"
    elsewhere = new_client(app)
    elsewhere.post("/login", data={"email": user.email, "password": PASSWORD, "next": "https://evil.example/"})
    totp_clock.tick()
    assert elsewhere.post(CODE_STEP, data={"code": totp_clock.code(secret)}).headers["Location"] == "/"


def test_a_code_is_accepted_once_and_no_older_one_after_it(app, create_user, totp_clock):
    user = create_user(SAKAI)
    secret, _ = enrol(user, totp_clock)
    code = totp_clock.code(secret)
    owner = signed_in_with_code(app, user, code)

    thief = password_step(app, user)  # someone who saw the code and knows the password
    response = thief.post(CODE_STEP, data={"code": code})
    assert response.status_code == 200 and REUSED_CODE in text_of(response)
    older = thief.post(CODE_STEP, data={"code": totp_clock.code(secret, steps=-1)})
    assert REUSED_CODE in text_of(older)
    assert not logged_in(thief) and open_sessions(user) == 1
    assert [e.detail for e in events(user, SecurityEventKind.TWO_FACTOR_FAILED)] == ["reused", "reused"]
    assert "確認コードの誤り" in text_of(owner.get("/settings/sessions"))  # the owner sees the attempts

    totp_clock.tick()
    assert thief.post(CODE_STEP, data={"code": totp_clock.code(secret)}).status_code == 302  # the next code works


def test_the_code_used_to_enrol_does_not_sign_in(app, create_user, totp_clock):
    user = create_user(SAKAI)
    secret = two_factor.start_enrolment(user, PASSWORD)
    code = totp_clock.code(secret)
    two_factor.confirm_enrolment(user, code)
    db.session.commit()
    response = password_step(app, user).post(CODE_STEP, data={"code": code})
    assert REUSED_CODE in text_of(response)


def test_a_recovery_code_signs_in_once(app, create_user, totp_clock):
    user = create_user(SAKAI)
    _, codes = enrol(user, totp_clock)
    browser = password_step(app, user)
    typed = "  " + codes[0].upper().replace("-", " ") + " "  # as read out from paper
    response = browser.post(CODE_STEP, data={"code": typed})
    assert response.status_code == 302
    shown = flashes(browser.get(response.headers["Location"]))
    assert "リカバリーコードでログインしました。残りのリカバリーコードは 9 個です。" in " ".join(shown)
    assert logged_in(browser)
    assert len(events(user, SecurityEventKind.RECOVERY_CODE_USED)) == 1
    assert count(RecoveryCode, RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_not(None)) == 1

    again = password_step(app, user).post(CODE_STEP, data={"code": codes[0]})
    assert again.status_code == 200 and WRONG_CODE in text_of(again)
    other = password_step(app, user).post(CODE_STEP, data={"code": codes[1]})
    assert other.status_code == 302


def test_five_wrong_codes_send_the_login_back_to_the_password_step(app, create_user, totp_clock):
    user = create_user(SAKAI)
    secret, _ = enrol(user, totp_clock)
    browser = password_step(app, user)
    for _ in range(4):
        response = browser.post(CODE_STEP, data={"code": "000000"})
        assert response.status_code == 200
        assert_field_error(response, "code", WRONG_CODE)
    fifth = browser.post(CODE_STEP, data={"code": "000000"})
    assert fifth.status_code == 302 and fifth.headers["Location"] == "/login"
    assert "確認コードを続けて間違えたため、ログインをやり直してください。" in flashes_after(browser, fifth)
    late = browser.post(CODE_STEP, data={"code": totp_clock.code(secret)})  # the right code comes too late
    assert late.headers["Location"] == "/login" and not logged_in(browser)
    assert len(events(user, SecurityEventKind.TWO_FACTOR_FAILED)) == 5
    assert browser.get(CODE_STEP).headers["Location"] == "/login"


def test_the_code_step_expires_after_five_minutes(app, create_user, totp_clock):
    user = create_user(SAKAI)
    secret, _ = enrol(user, totp_clock)
    browser = password_step(app, user)
    totp_clock.now += timedelta(minutes=5, seconds=1)
    response = browser.post(CODE_STEP, data={"code": totp_clock.code(secret)})
    assert response.headers["Location"] == "/login"
    assert "もう一度、メールアドレスとパスワードでログインしてください。" in flashes_after(browser, response)
    assert not logged_in(browser)


def test_a_password_change_ends_a_half_done_login(app, create_user, totp_clock):
    user = create_user(SAKAI)
    secret, _ = enrol(user, totp_clock)
    browser = password_step(app, user)
    owner = signed_in_with_code(app, user, totp_clock.code(secret))
    owner.post(
        "/profile/password",
        data={"current_password": PASSWORD, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
    )
    totp_clock.tick()
    assert browser.post(CODE_STEP, data={"code": totp_clock.code(secret)}).headers["Location"] == "/login"
    assert not logged_in(browser)


def test_the_code_step_without_a_password_step_goes_to_login(client):
    response = client.post(CODE_STEP, data={"code": "123456"})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    with client.session_transaction() as cookie:
        cookie[two_factor_views.PENDING] = {"user": "1; DROP", "until": "never"}
    assert client.get(CODE_STEP).headers["Location"] == "/login"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", REQUIRED),
        ("   ", REQUIRED),
        ("abcdef", CODE_FORMAT),
        ("12345", CODE_FORMAT),
        ("1234567", CODE_FORMAT),
        ("x" * 100, "40文字以内で入力してください。"),
        ("123456\x00", CONTROL_CHARACTERS),
        ("\x00", CONTROL_CHARACTERS),
        ("ｘｙｚ１２３", CODE_FORMAT),
        ("<script>alert(1)</script>", CODE_FORMAT),
    ],
)
def test_bad_input_at_the_code_step_is_explained_and_changes_nothing(app, create_user, totp_clock, typed, message):
    user = create_user(SAKAI)
    enrol(user, totp_clock)
    browser = password_step(app, user)
    before = database_state()
    response = browser.post(CODE_STEP, data={"code": typed})
    assert response.status_code == 200
    assert_field_error(response, "code", message)
    assert "<script>alert" not in text_of(response)
    assert_unchanged(before)  # not even a log line: a malformed field is not a guess
    assert not logged_in(browser)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", REQUIRED),
        ("abcdef", "認証アプリに表示されている6桁の数字を入力してください。"),
        ("abcd-efgh-jkmn-pqrs", "認証アプリに表示されている6桁の数字を入力してください。"),  # no recovery code yet
        ("9" * 100, "40文字以内で入力してください。"),
        ("12\x0034", CONTROL_CHARACTERS),
    ],
)
def test_bad_input_at_enrolment_is_explained_and_changes_nothing(app, create_user, totp_clock, typed, message):
    user = create_user(SAKAI)
    browser = new_client(app, user)
    browser.post(f"{SETTINGS}/start", data={"password": PASSWORD})
    before = database_state()
    response = browser.post(SETTINGS, data={"code": typed})
    assert response.status_code == 400
    assert_field_error(response, "code", message)
    assert_unchanged(before)
    assert page_of(response).by_id("totp-secret") is not None  # the same enrolment goes on


def test_bad_input_in_the_password_forms_is_explained(app, create_user, totp_clock):
    user = create_user(SAKAI)
    enrol(user, totp_clock)
    browser = new_client(app)
    browser.post("/login", data={"email": user.email, "password": PASSWORD})
    browser.post(CODE_STEP, data={"code": totp_clock.code(fresh(user).totp_secret)})
    before = database_state()
    for action, field in (("off", "off-password"), ("recovery-codes", "renew-password"), ("start", "reenrol-password")):
        for typed, message in (("", REQUIRED), ("x" * 300, "256文字以内で入力してください。")):
            response = browser.post(f"{SETTINGS}/{action}", data={"password": typed})
            assert response.status_code == 400, action
            assert_field_error(response, field, message)
    assert_unchanged(before)


# --- changing the setting ------------------------------------------------------------------------------------------


def test_turning_it_off_needs_the_password_and_ends_the_other_sessions(app, create_user, outbox, totp_clock):
    user = create_user(SAKAI)
    secret, _ = enrol(user, totp_clock)
    here = signed_in_with_code(app, user, totp_clock.code(secret))
    totp_clock.tick()
    elsewhere = signed_in_with_code(app, user, totp_clock.code(secret))

    wrong = here.post(f"{SETTINGS}/off", data={"password": "not-the-password"})
    assert wrong.status_code == 400
    assert_field_error(wrong, "off-password", "パスワードが正しくありません。")
    assert fresh(user).has_two_factor

    response = here.post(f"{SETTINGS}/off", data={"password": PASSWORD})
    assert "2段階認証を解除しました。" in flashes_after(here, response)
    user = fresh(user)
    assert not user.has_two_factor and user.totp_secret is None and user.totp_last_step is None
    assert count(RecoveryCode, RecoveryCode.user_id == user.id) == 0
    assert logged_in(here) and not logged_in(elsewhere)
    assert len(events(user, SecurityEventKind.TWO_FACTOR_DISABLED)) == 1
    assert [m.body for m in two_factor_mails(outbox, user)][-1].count("解除されました") == 1
    assert password_step_is_skipped(app, user)


def test_moderators_under_the_rule_cannot_turn_it_off_but_may_enrol_again(
    app, moderator, two_factor_required, totp_clock
):
    secret, _ = enrol(moderator, totp_clock)
    browser = signed_in_with_code(app, moderator, totp_clock.code(secret))
    page = browser.get(SETTINGS)
    assert "モデレーターは2段階認証を解除できません。" in text_of(page)
    assert not [f for f in page_of(page).all("form") if f.attrs.get("action") == f"{SETTINGS}/off"]
    response = browser.post(f"{SETTINGS}/off", data={"password": PASSWORD})
    cannot = "モデレーターは2段階認証を解除できません。新しい端末で設定し直してください。"
    assert cannot in flashes_after(browser, response)
    assert fresh(moderator).has_two_factor

    browser.post(f"{SETTINGS}/start", data={"password": PASSWORD})
    new_secret = shown_secret(browser.get(SETTINGS))
    assert new_secret != secret
    totp_clock.tick()
    done = browser.post(SETTINGS, data={"code": totp_clock.code(new_secret)})
    assert len(recovery_codes_on(done)) == 10 and fresh(moderator).totp_secret == new_secret


def test_under_optional_a_moderator_may_turn_it_off(app, moderator, totp_clock):
    secret, _ = enrol(moderator, totp_clock)
    browser = signed_in_with_code(app, moderator, totp_clock.code(secret))
    assert browser.post(f"{SETTINGS}/off", data={"password": PASSWORD}).status_code == 302
    assert not fresh(moderator).has_two_factor


def test_renewing_the_recovery_codes_shows_new_ones_once_and_the_old_ones_stop_working(
    app, create_user, outbox, totp_clock
):
    user = create_user(SAKAI)
    secret, old = enrol(user, totp_clock)
    here = signed_in_with_code(app, user, totp_clock.code(secret))
    elsewhere = signed_in_with_code(app, user, old[0])

    refused = here.post(f"{SETTINGS}/recovery-codes", data={"password": "not-the-password"})
    assert refused.status_code == 400 and recovery_codes_on(refused) == []
    response = here.post(f"{SETTINGS}/recovery-codes", data={"password": PASSWORD})
    assert response.status_code == 200
    new = recovery_codes_on(response)
    assert len(new) == 10 and not set(new) & set(old)
    assert "リカバリーコードを再発行しました" in text_of(response)
    assert count(RecoveryCode, RecoveryCode.user_id == user.id) == 10
    assert logged_in(here) and not logged_in(elsewhere)
    assert len(events(user, SecurityEventKind.RECOVERY_CODES_RENEWED)) == 1
    assert "リカバリーコードが再発行されました" in two_factor_mails(outbox, user)[-1].body

    assert WRONG_CODE in text_of(password_step(app, user).post(CODE_STEP, data={"code": old[1]}))
    assert password_step(app, user).post(CODE_STEP, data={"code": new[0]}).status_code == 302


def test_enrolling_a_new_phone_keeps_the_old_one_until_the_new_code_is_confirmed(app, create_user, outbox, totp_clock):
    user = create_user(SAKAI)
    old_secret, old_codes = enrol(user, totp_clock)
    browser = signed_in_with_code(app, user, totp_clock.code(old_secret))
    browser.post(f"{SETTINGS}/start", data={"password": PASSWORD})
    new_secret = shown_secret(browser.get(SETTINGS))

    totp_clock.tick()
    signed_in_with_code(app, user, totp_clock.code(old_secret))  # meanwhile the old phone still works
    totp_clock.tick()
    assert WRONG_CODE in text_of(password_step(app, user).post(CODE_STEP, data={"code": totp_clock.code(new_secret)}))

    done = browser.post(SETTINGS, data={"code": totp_clock.code(new_secret, steps=1)})
    assert len(recovery_codes_on(done)) == 10
    totp_clock.tick(2)
    assert WRONG_CODE in text_of(password_step(app, user).post(CODE_STEP, data={"code": totp_clock.code(old_secret)}))
    assert WRONG_CODE in text_of(password_step(app, user).post(CODE_STEP, data={"code": old_codes[0]}))
    assert password_step(app, user).post(CODE_STEP, data={"code": totp_clock.code(new_secret)}).status_code == 302
    [first, second] = events(user, SecurityEventKind.TWO_FACTOR_ENABLED)
    assert (first.detail, second.detail) == ("", "replaced")
    assert "新しい認証アプリに切り替わりました" in two_factor_mails(outbox, user)[-1].body


def test_each_password_field_of_the_settings_page_has_its_own_id_and_label(app, create_user, totp_clock):
    user = create_user(SAKAI)
    enrol(user, totp_clock)
    browser = new_client(app)
    browser.post("/login", data={"email": user.email, "password": PASSWORD})
    browser.post(CODE_STEP, data={"code": totp_clock.code(fresh(user).totp_secret)})
    page = page_of(browser.get(SETTINGS))
    fields = [e for e in page.all("input") if e.attrs.get("name") == "password"]
    assert sorted(e.attrs["id"] for e in fields) == ["off-password", "reenrol-password", "renew-password"]
    ids = [e.attrs["id"] for e in page.elements if "id" in e.attrs]
    assert len(ids) == len(set(ids))
    labelled = {label.attrs.get("for") for label in page.all("label")}
    assert {e.attrs["id"] for e in fields} <= labelled


def test_the_profile_links_to_the_setting(app, create_user, totp_clock):
    user = create_user(SAKAI)
    page = new_client(app, user).get("/profile")
    section = page_of(page).by_id("security-heading")
    assert section is not None
    links = [a for a in page_of(page).all("a") if a.attrs.get("href") == SETTINGS]
    assert links and "2段階認証" in links[0].text and "未設定" in text_of(page)


def test_the_recovery_codes_page_has_no_inline_style_or_script(app, create_user, totp_clock):
    user = create_user(SAKAI)
    browser = new_client(app, user)
    browser.post(f"{SETTINGS}/start", data={"password": PASSWORD})
    secret = shown_secret(browser.get(SETTINGS))
    page = page_of(browser.post(SETTINGS, data={"code": totp_clock.code(secret)}))
    assert not inline_code(page) and not outside_references(page)


# --- the secretariat's reset ---------------------------------------------------------------------------------------


def test_the_secretariat_resets_a_lost_phone_from_the_command_line(app, create_user, outbox, totp_clock):
    user = create_user(SAKAI)
    secret, _ = enrol(user, totp_clock)
    browser = signed_in_with_code(app, user, totp_clock.code(secret))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["reset-two-factor", user.email.upper()])
    assert result.exit_code == 0, result.output
    assert f"two-factor sign-in of {user.email} is off" in result.output
    db.session.expire_all()
    assert not fresh(user).has_two_factor and count(RecoveryCode, RecoveryCode.user_id == user.id) == 0
    assert not logged_in(browser) and open_sessions(user) == 0
    [event] = events(user, SecurityEventKind.TWO_FACTOR_DISABLED)
    assert event.detail == "reset"
    assert "事務局が" in two_factor_mails(outbox, user)[-1].body
    assert password_step_is_skipped(app, user)

    again = runner.invoke(args=["reset-two-factor", user.email])
    assert again.exit_code == 0 and "nothing changed" in again.output
    unknown = runner.invoke(args=["reset-two-factor", "nobody@example.jp"])
    assert unknown.exit_code != 0 and "no account" in unknown.output


# --- configuration -------------------------------------------------------------------------------------------------


@pytest.fixture
def environment(monkeypatch) -> Iterator[None]:
    for name in ("DATABASE_URL", "REDIS_URL", "BASE_URL", "BULLETIN_ENV", "MODERATOR_TWO_FACTOR", "TOTP_ISSUER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    with limiter_state_preserved():
        yield


def test_moderators_must_use_it_unless_the_environment_says_optional(environment, monkeypatch):
    assert create_app("development").config["MODERATOR_TWO_FACTOR"] == "required"
    monkeypatch.setenv("MODERATOR_TWO_FACTOR", " Optional ")
    monkeypatch.setenv("TOTP_ISSUER", "特別区 掲示板")
    app = create_app("development")
    assert app.config["MODERATOR_TWO_FACTOR"] == "optional" and app.config["TOTP_ISSUER"] == "特別区 掲示板"
    monkeypatch.setenv("MODERATOR_TWO_FACTOR", "sometimes")
    with pytest.raises(ConfigError, match="MODERATOR_TWO_FACTOR"):
        create_app("development")


# --- throttling ----------------------------------------------------------------------------------------------------


@pytest.fixture
def throttled_app(app, database_url, tmp_path) -> Iterator[Flask]:
    """An app with rate limits on (a small per-address limit, to reach it), writing in the test's transaction."""
    with limiter_state_preserved():
        second = make_test_app(
            database_url, tmp_path, RATELIMIT_ENABLED=True, TWO_FACTOR_LIMIT_PER_ADDRESS="12 per 15 minutes"
        )
        with sharing_test_connection(second, app):
            limiter.reset()
            try:
                yield second
            finally:
                limiter.reset()


def test_wrong_codes_are_limited_per_account_whatever_the_login(throttled_app, create_user, totp_clock):
    user = create_user(SAKAI)
    secret, _ = enrol(user, totp_clock)
    for address in ("198.51.100.1", "198.51.100.2"):  # two logins, five wrong codes each: the account's ten an hour
        browser = new_client(throttled_app)
        browser.environ_base["REMOTE_ADDR"] = address
        browser.post("/login", data={"email": user.email, "password": PASSWORD})
        statuses = [browser.post(CODE_STEP, data={"code": "000000"}).status_code for _ in range(5)]
        assert statuses == [200] * 4 + [302]
    browser = new_client(throttled_app)
    browser.environ_base["REMOTE_ADDR"] = "198.51.100.3"
    browser.post("/login", data={"email": user.email, "password": PASSWORD})
    refused = browser.post(CODE_STEP, data={"code": totp_clock.code(secret)})
    assert refused.status_code == 429 and THROTTLED in text_of(refused)
    assert not logged_in(browser)
    other = create_user(SAKAI)
    other_secret, _ = enrol(other, totp_clock)
    browser = new_client(throttled_app)
    browser.post("/login", data={"email": other.email, "password": PASSWORD})
    assert browser.post(CODE_STEP, data={"code": totp_clock.code(other_secret)}).status_code == 302


def test_wrong_codes_are_limited_per_address_and_right_ones_do_not_count(throttled_app, create_user, totp_clock):
    users = [create_user(SAKAI) for _ in range(4)]
    secrets = [enrol(user, totp_clock)[0] for user in users]
    for user, secret in zip(users[:3], secrets, strict=False):
        browser = new_client(throttled_app)
        browser.post("/login", data={"email": user.email, "password": PASSWORD})
        assert browser.post(CODE_STEP, data={"code": totp_clock.code(secret)}).status_code == 302  # does not count
        browser = new_client(throttled_app)
        browser.post("/login", data={"email": user.email, "password": PASSWORD})
        assert [browser.post(CODE_STEP, data={"code": "000000"}).status_code for _ in range(4)] == [200] * 4
    browser = new_client(throttled_app)
    browser.post("/login", data={"email": users[3].email, "password": PASSWORD})
    assert browser.post(CODE_STEP, data={"code": totp_clock.code(secrets[3])}).status_code == 429


def test_wrong_passwords_in_the_settings_are_limited(throttled_app, create_user, totp_clock):
    user = create_user(SAKAI)
    browser = new_client(throttled_app, user)
    for _ in range(5):
        assert browser.post(f"{SETTINGS}/start", data={"password": "not-the-password"}).status_code == 400
    assert browser.post(f"{SETTINGS}/start", data={"password": PASSWORD}).status_code == 429
    assert fresh(user).totp_pending_secret is None
