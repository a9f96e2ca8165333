"""Bad input on the account and moderation pages: a clear Japanese message tied to its field, never a 500, and
nothing changed in the database."""

import time
from datetime import timedelta
from urllib.parse import urljoin, urlsplit

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import select

from bulletin.accounts import tokens
from bulletin.accounts.models import Invitation, OrgRole, User, UserState
from bulletin.core.db import utcnow
from bulletin.extensions import db
from bulletin.organizations.codes import check_digit
from tests.constants import CONTROL_CHARACTERS, NEW_PASSWORD, PASSWORD, REQUIRED, SAKAI
from tests.factories import (
    assert_field_error,
    assert_unchanged,
    database_state,
    link_in,
    page_of,
    registration_form,
)

UNKNOWN_CODE = "47999" + check_digit("47999")  # a well-formed code that no organization has
INVALID_LINK = "リンクが正しくありません。メールのリンクをそのまま開いてください。"
EXPIRED_LINK = "リンクの有効期限が切れています。"
USED_LINK = "このリンクはすでに使われています。"
BAD_INVITATION = "招待リンクの有効期限が切れているか、すでに使われています。"
LONG_EMAIL = "a" * 64 + "@" + ".".join(["b" * 60, "c" * 60, "d" * 60, "e" * 10]) + ".lg.jp"  # 264 characters


def refused_registration(client, field, message, **overrides):
    """Post the registration form; it must come back with the message on the field and nothing written."""
    before = database_state()
    response = client.post("/register", data=registration_form(**overrides))
    assert response.status_code == 200
    assert_field_error(response, field, message)
    assert_unchanged(before)
    return response


# --- registration form ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (UNKNOWN_CODE, "この団体コードの団体は見つかりません。団体名で検索してください。"),
        ("182108", "団体コードの検査数字（6桁目）が正しくありません。"),
        ("18210", "団体コードは6桁の数字で入力してください（例: 182109）。"),
        ("1821099", "団体コードは6桁の数字で入力してください（例: 182109）。"),
        ("坂井市", "団体コードは6桁の数字で入力してください（例: 182109）。"),
        ("182\x00109", "団体コードは6桁の数字で入力してください（例: 182109）。"),
        ("", REQUIRED),
    ],
    ids=["unknown", "check-digit", "five-digits", "seven-digits", "name", "nul", "empty"],
)
def test_bad_organization_code(client, organization, code, message):
    assert organization(UNKNOWN_CODE) is None
    refused_registration(client, "organization_code", message, organization_code=code)


@pytest.mark.parametrize("code", ["１８２１０９", "１８２-１０９", " 182109 ", "182 109"])
def test_organization_code_in_full_width_or_with_separators_is_normalised(client, code):
    response = client.post("/register", data=registration_form(organization_code=code))
    assert response.status_code == 302 and response.headers["Location"] == "/register/sent"
    user = db.session.scalar(select(User).where(User.email == "hanako.sakai@city.fukui-sakai.lg.jp"))
    assert user.organization.code == SAKAI


@pytest.mark.parametrize(
    ("password", "confirm", "field", "message"),
    [
        ("Short-pw-1", "Short-pw-1", "password", "パスワードは12文字以上にしてください。"),
        ("password1234", "password1234", "password", "よく使われるパスワードです。推測されにくいものにしてください。"),
        ("Password2024!", "Password2024!", "password", "よく使われるパスワードです。"),
        ("abababababab", "abababababab", "password", "同じ文字の繰り返しが多すぎます。"),
        (
            "hanako.sakai-2025-xyz",
            "hanako.sakai-2025-xyz",
            "password",
            "メールアドレスを含まないパスワードにしてください。",
        ),
        (PASSWORD, PASSWORD + "x", "password_confirm", "パスワードが一致しません。"),
        (PASSWORD, "", "password_confirm", REQUIRED),
        ("", "", "password", REQUIRED),
        ("horse-staple-" * 20, "horse-staple-" * 20, "password", "256文字以内で入力してください。"),
    ],
    ids=["short", "common", "common-with-suffix", "repetitive", "contains-address", "mismatch", "no-confirm",
         "empty", "too-long"],
)  # fmt: skip
def test_weak_or_mismatched_password(client, password, confirm, field, message):
    refused_registration(client, field, message, password=password, password_confirm=confirm)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "花" * 101, "100文字以内で入力してください。"),
        ("department", "課" * 101, "100文字以内で入力してください。"),
        ("phone", "0" * 31, "30文字以内で入力してください。"),
        ("email", LONG_EMAIL, "254文字以内で入力してください。"),
    ],
)  # fmt: skip
def test_over_long_fields(client, field, value, message):
    refused_registration(client, field, message, **{field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "坂井\x00花子"),
        ("name", "坂井\x1b[31m花子"),
        ("name", "\u202e子花 井坂"),
        ("name", "坂井\u200b花子"),
        ("name", "坂井\n花子"),
        ("department", "観光\x00交流課"),
        ("department", "\u202e課流交光観"),
        ("department", "観光\x7f交流課"),
        ("phone", "0776\x0050\x003152"),
        ("email", "hanako\x00@city.fukui-sakai.lg.jp"),
        ("name", "坂井\u2028花子"),
        ("name", "坂井\u2029花子"),
        ("name", "坂井\x85花子"),
        ("name", "坂井\x9b31m花子"),
        ("name", "坂井\u2067花子\u2069"),
        ("name", "坂井\u200f花子"),
        ("name", "坂井\u061c花子"),
        ("name", "坂井\t花子"),
        ("department", "観光\u2028交流課"),
        ("department", "観光\x85交流課"),
        ("phone", "0776\u202850\u20283152"),
        ("email", "hanako\u2028@city.fukui-sakai.lg.jp"),
        ("organization_code", "18210\x009"),
    ],
    ids=["name-nul", "name-escape", "name-rlo", "name-zero-width", "name-newline", "dept-nul", "dept-rlo",
         "dept-del", "phone-nul", "email-nul", "name-line-separator", "name-paragraph-separator", "name-next-line",
         "name-c1-csi", "name-rl-isolate", "name-rl-mark", "name-arabic-letter-mark", "name-tab",
         "dept-line-separator", "dept-next-line", "phone-line-separator", "email-line-separator", "code-nul"],
)  # fmt: skip
def test_control_characters_are_refused(client, field, value):
    refused_registration(client, field, CONTROL_CHARACTERS, **{field: value})


@pytest.mark.parametrize(
    "email",
    [
        "not-an-email",
        "hanako@",
        "@city.fukui-sakai.lg.jp",
        "hanako@@city.fukui-sakai.lg.jp",
        "hanako sakai@city.fukui-sakai.lg.jp",
        "hanako@city",
        "hanako@city..fukui-sakai.lg.jp",
        "hanako.@city.fukui-sakai.lg.jp",
    ],
)
def test_invalid_email_formats(client, email):
    refused_registration(client, "email", "メールアドレスの形式が正しくありません。", email=email)


@pytest.mark.parametrize("field", ["organization_code", "name", "department", "email", "password"])
def test_missing_required_field(client, field):
    refused_registration(client, field, REQUIRED, **{field: None})


@pytest.mark.parametrize("blank", ["", "   ", "\u3000\u3000"])
def test_blank_name_is_missing(client, blank):
    refused_registration(client, "name", REQUIRED, name=blank)


def test_terms_must_be_agreed(client):
    refused_registration(client, "agree", "利用規約への同意が必要です。", agree=None)


def test_an_empty_form_marks_every_required_field(client):
    before = database_state()
    response = client.post("/register", data={})
    assert response.status_code == 200
    for field in ("organization_code", "name", "department", "email", "password", "password_confirm"):
        assert_field_error(response, field, REQUIRED)
    assert_field_error(response, "agree", "利用規約への同意が必要です。")
    summary = page_of(response).html
    assert "入力内容を確認してください。" in summary
    assert_unchanged(before)


@pytest.mark.parametrize("phone", ["0776-50-ABCD", "電話番号", "0776-50-3152 内線12", "tel:0776503152"])
def test_phone_with_letters_is_refused(client, phone):
    refused_registration(client, "phone", "電話番号は数字とハイフンで入力してください。", phone=phone)


def registered_phone() -> str | None:
    """The phone number stored for the address registration_form() uses."""
    return db.session.scalar(select(User.phone).where(User.email == "hanako.sakai@city.fukui-sakai.lg.jp"))


@pytest.mark.parametrize(
    ("phone", "stored"),
    [("", ""), ("0776-50-3152", "0776-50-3152"), ("０７７６ー５０ー３１５２", "0776-50-3152"),
     ("(0776) 50-3152", "(0776) 50-3152"), ("+81-776-50-3152", "+81-776-50-3152")],
    ids=["none", "hyphens", "full-width-with-long-vowel-marks", "brackets", "international"],
)  # fmt: skip
def test_phone_in_usual_forms_is_accepted(client, phone, stored):
    response = client.post("/register", data=registration_form(phone=phone))
    assert response.status_code == 302 and response.headers["Location"] == "/register/sent"
    assert registered_phone() == stored


def test_phone_typed_with_a_japanese_ime_is_accepted(client):
    response = client.post("/register", data=registration_form(phone="０７７６－５０－３１５２"))
    assert response.status_code == 302
    assert registered_phone() == "0776-50-3152"


def test_an_address_already_registered_is_told_by_mail_and_nothing_else_changes(client, create_user, outbox):
    owner = create_user(SAKAI, email="owner@city.fukui-sakai.lg.jp")
    new = client.post("/register", data=registration_form(email="someone.new@city.fukui-sakai.lg.jp"))
    before = database_state()
    again = client.post("/register", data=registration_form(email=" Owner@City.Fukui-Sakai.LG.JP ", name="なりすまし"))
    assert again.status_code == new.status_code == 302
    assert again.headers["Location"] == new.headers["Location"] == "/register/sent"  # the form reveals nothing
    assert "確認メールを送りました" in client.get("/register/sent").get_data(as_text=True)
    after = database_state()
    assert {name for name in before if before[name] != after[name]} == {"outbox_message"}
    assert len(after["outbox_message"]) == len(before["outbox_message"]) + 1
    assert [m.kind for m in outbox(owner.email)] == ["already_registered"]


def test_registering_with_a_garbage_invitation_is_refused(client):
    before = database_state()
    response = client.post("/register", data=registration_form(invitation="garbage"))
    assert response.status_code == 200
    assert BAD_INVITATION in response.get_data(as_text=True)
    assert_unchanged(before)


# --- login -------------------------------------------------------------------------------------------------------


def test_login_bad_input_is_shown_on_the_form(client, create_user):
    user = create_user(SAKAI)
    before = database_state()
    response = client.post("/login", data={"email": "", "password": ""})
    assert response.status_code == 200
    assert_field_error(response, "email", REQUIRED)
    assert_field_error(response, "password", REQUIRED)
    response = client.post("/login", data={"email": "no-at-sign", "password": PASSWORD})
    assert_field_error(response, "email", "メールアドレスの形式が正しくありません。")
    response = client.post("/login", data={"email": user.email + "\x00", "password": PASSWORD})
    assert_field_error(response, "email", CONTROL_CHARACTERS)
    response = client.post("/login", data={"email": user.email, "password": "x" * 257})
    assert_field_error(response, "password", "256文字以内で入力してください。")
    assert_unchanged(before)  # bad input is no sign-in attempt: nothing, not even the security log, changes
    response = client.post("/login", data={"email": user.email, "password": "wrong-password-123"})
    assert response.status_code == 200
    assert "メールアドレスまたはパスワードが正しくありません。" in response.get_data(as_text=True)
    changed = database_state()
    assert [name for name in before if before[name] != changed[name]] == ["security_event"]  # the failure, logged
    assert client.get("/profile").status_code == 302  # not logged in


def browser_destination(location: str) -> tuple[str, str]:
    """Where a browser would go for this Location: it drops tabs and newlines and reads \\ as /."""
    cleaned = location.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    target = urlsplit(urljoin("http://localhost/login", cleaned))
    return target.netloc, target.path


OFF_SITE = [
    "https://evil.example/",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "/\t/evil.example/",
    "https:evil.example",
    "javascript:alert(1)",
    " //evil.example/",
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_login_ignores_a_next_parameter_pointing_off_site(client, create_user, target):
    user = create_user(SAKAI)
    form = page_of(client.get("/login", query_string={"next": target}))
    kept = form.by_id("next").attrs.get("value", "")
    assert not urlsplit(kept).netloc and not kept.startswith("//")
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "next": target})
    assert response.status_code == 302
    assert browser_destination(response.headers["Location"])[0] == "localhost"


def test_login_follows_a_same_site_next(client, create_user):
    user = create_user(SAKAI)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "next": "/profile"})
    assert response.headers["Location"] == "/profile"


@pytest.mark.parametrize("target", [t for t in OFF_SITE if t != "/\t/evil.example/"])
def test_language_switch_ignores_a_next_parameter_pointing_off_site(client, target):
    response = client.post("/locale", data={"locale": "en", "next": target})
    assert response.status_code == 302
    assert browser_destination(response.headers["Location"])[0] == "localhost"


def test_language_switch_ignores_a_next_hidden_behind_a_tab(client):
    response = client.post("/locale", data={"locale": "en", "next": "/\t/evil.example/"})
    assert browser_destination(response.headers["Location"])[0] == "localhost"


# --- confirmation links ------------------------------------------------------------------------------------------


@pytest.fixture
def unconfirmed(client, outbox):
    """A freshly registered (unconfirmed) user and the confirmation path from their mail."""
    client.post("/register", data=registration_form())
    user = db.session.scalar(select(User).where(User.email == "hanako.sakai@city.fukui-sakai.lg.jp"))
    return user, link_in(outbox(user.email)[0].body, "/confirm/")


def forged(token: str) -> str:
    """The token with its signature altered (a character that is not the last, whose low bits may be ignored)."""
    head, signature = token.rsplit(".", 1)
    swapped = "B" if signature[0] != "B" else "C"
    return f"{head}.{swapped}{signature[1:]}"


def made_long_ago(monkeypatch, make, *args, seconds):
    """A token made `seconds` ago."""
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - seconds)
        return make(*args)


def refused_confirmation(client, token, message):
    before = database_state()
    response = client.post(f"/confirm/{token}")
    assert response.status_code == 400
    page = page_of(response)
    assert any(message in e.text for e in page.all("div") if "error-summary" in e.attrs.get("class", ""))
    assert page.by_id("main") is not None and "メールアドレスの確認" in page.html
    assert_unchanged(before)


def test_forged_confirmation_link(client, unconfirmed):
    user, path = unconfirmed
    refused_confirmation(client, forged(path.rsplit("/", 1)[1]), INVALID_LINK)
    db.session.refresh(user)
    assert user.state == UserState.UNCONFIRMED


def test_expired_confirmation_link(client, app, unconfirmed, monkeypatch):
    user, _path = unconfirmed
    token = made_long_ago(
        monkeypatch, tokens.make_confirmation_token, user, seconds=app.config["CONFIRM_TOKEN_MAX_AGE"] + 60
    )
    refused_confirmation(client, token, EXPIRED_LINK)


def test_confirmation_link_used_twice(client, unconfirmed):
    _user, path = unconfirmed
    assert client.post(path).status_code == 200
    refused_confirmation(client, path.rsplit("/", 1)[1], USED_LINK)


def test_reset_link_does_not_confirm_an_address(client, unconfirmed):
    user, _path = unconfirmed
    refused_confirmation(client, tokens.make_reset_token(user), INVALID_LINK)


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "%E6%97%A5%E6%9C%AC", "x" * 4000, "eyJ1IjoxfQ.AAAAAA.AAAAAAAA"])
def test_garbage_confirmation_links(client, create_user, token):
    create_user(SAKAI, state=UserState.UNCONFIRMED)
    before = database_state()
    shown = client.get(f"/confirm/{token}")
    assert shown.status_code == 200  # the GET only shows the button: mail scanners open links
    posted = client.post(f"/confirm/{token}")
    assert posted.status_code == 400 and INVALID_LINK in posted.get_data(as_text=True)
    assert_unchanged(before)


# --- password reset links ----------------------------------------------------------------------------------------


@pytest.fixture
def forgetful(create_user):
    return create_user(SAKAI, email="forgetful@city.fukui-sakai.lg.jp")


def refused_reset(client, token, message):
    before = database_state()
    for response in (
        client.get(f"/password/reset/{token}"),
        client.post(f"/password/reset/{token}", data={"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}),
    ):
        assert response.status_code == 400
        page = page_of(response)
        assert message in page.html
        assert page.by_id("password") is None  # no form to fill in
    assert_unchanged(before)


def test_forged_reset_link(client, forgetful):
    refused_reset(client, forged(tokens.make_reset_token(forgetful)), INVALID_LINK)


def test_expired_reset_link_by_age(client, app, forgetful, monkeypatch):
    token = made_long_ago(
        monkeypatch, tokens.make_reset_token, forgetful, seconds=app.config["RESET_TOKEN_MAX_AGE"] + 1
    )
    refused_reset(client, token, EXPIRED_LINK)


@pytest.mark.parametrize("max_age", [0, -1])
def test_expired_reset_link_by_configured_max_age(client, app, forgetful, monkeypatch, max_age):
    token = tokens.make_reset_token(forgetful)
    monkeypatch.setitem(app.config, "RESET_TOKEN_MAX_AGE", max_age)
    if max_age == 0:  # itsdangerous expires a token only once it is older than max_age seconds
        monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) + 1)
    refused_reset(client, token, EXPIRED_LINK)


def test_used_reset_link(client, forgetful, outbox):
    client.post("/password/forgot", data={"email": forgetful.email})
    path = link_in(outbox(forgetful.email)[-1].body, "/password/reset/")
    data = {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    assert client.post(path, data=data).status_code == 302
    refused_reset(client, path.rsplit("/", 1)[1], USED_LINK)


def test_confirmation_link_does_not_reset_a_password(client, forgetful):
    refused_reset(client, tokens.make_confirmation_token(forgetful), INVALID_LINK)


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "%E6%97%A5%E6%9C%AC", "x" * 4000])
def test_garbage_reset_links(client, forgetful, token):
    refused_reset(client, token, INVALID_LINK)


def test_weak_password_on_the_reset_form(client, forgetful):
    token = tokens.make_reset_token(forgetful)
    before = database_state()
    response = client.post(f"/password/reset/{token}", data={"password": "password1234", "password_confirm": "x"})
    assert response.status_code == 200
    assert_field_error(response, "password", "よく使われるパスワードです。")
    assert_field_error(response, "password_confirm", "パスワードが一致しません。")
    response = client.post(
        f"/password/reset/{token}", data={"password": "forgetful-2025-abc", "password_confirm": "forgetful-2025-abc"}
    )
    assert_field_error(response, "password", "メールアドレスを含まないパスワードにしてください。")
    assert_unchanged(before)


# --- invitations ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["garbage", "%E6%97%A5%E6%9C%AC", "x" * 4000])
def test_garbage_invitation_links(client, token):
    before = database_state()
    response = client.get(f"/invitations/{token}")
    assert response.status_code == 400 and BAD_INVITATION in response.get_data(as_text=True)
    assert_unchanged(before)


def invitation_for(admin, email="invitee@city.fukui-sakai.lg.jp", **values):
    token, token_hash = tokens.new_invitation_token()
    invitation = Invitation(
        organization_id=admin.organization_id,
        email=email,
        token_hash=token_hash,
        invited_by_id=admin.id,
        expires_at=values.pop("expires_at", None) or utcnow() + timedelta(days=7),
        **values,
    )
    db.session.add(invitation)
    db.session.commit()
    return token


def test_expired_or_used_invitation_links(client, create_user):
    admin = create_user(SAKAI, role=OrgRole.ADMIN)
    expired = invitation_for(admin, expires_at=utcnow() - timedelta(minutes=1))
    used = invitation_for(admin, email="used@city.fukui-sakai.lg.jp", accepted_at=utcnow())
    before = database_state()
    for token in (expired, used):
        response = client.get(f"/invitations/{token}")
        assert response.status_code == 400 and BAD_INVITATION in response.get_data(as_text=True)
        response = client.post(
            "/register", data=registration_form(email="invitee@city.fukui-sakai.lg.jp", invitation=token)
        )
        assert response.status_code == 200 and BAD_INVITATION in response.get_data(as_text=True)
    assert_unchanged(before)


def test_invitation_for_another_address(client, create_user):
    admin = create_user(SAKAI, role=OrgRole.ADMIN)
    token = invitation_for(admin)
    before = database_state()
    response = client.post(
        "/register", data=registration_form(email="someone.else@city.fukui-sakai.lg.jp", invitation=token)
    )
    assert response.status_code == 200
    assert_field_error(response, "email", "招待されたメールアドレスと団体で登録してください。")
    assert_unchanged(before)


def test_inviting_bad_addresses(client, auth, create_user):
    admin = create_user(SAKAI, role=OrgRole.ADMIN)
    colleague = create_user(SAKAI)
    auth.login(admin)
    before = database_state()
    for email, message in [
        ("", REQUIRED),
        ("not-an-email", "メールアドレスの形式が正しくありません。"),
        ("a\x00b@city.fukui-sakai.lg.jp", CONTROL_CHARACTERS),
        (colleague.email.upper(), "このアドレスはすでに登録されています。"),
    ]:
        response = client.post("/organization/members", data={"email": email})
        assert response.status_code == 200
        assert_field_error(response, "email", message)
    assert_unchanged(before)


# --- profile -------------------------------------------------------------------------------------------------------


def test_profile_bad_input(client, auth, create_user):
    user = create_user(SAKAI)
    auth.login(user)
    before = database_state()
    for field, value, message in [
        ("name", "", REQUIRED),
        ("name", "花" * 101, "100文字以内で入力してください。"),
        ("department", "\u202e課", CONTROL_CHARACTERS),
        ("name", "坂井\u2028花子", CONTROL_CHARACTERS),
        ("department", "観光\x85交流課", CONTROL_CHARACTERS),
        ("phone", "0776-50-ABCD", "電話番号は数字とハイフンで入力してください。"),
    ]:
        data = {"name": user.name, "department": user.department, "phone": user.phone, field: value}
        response = client.post("/profile", data=data)
        assert response.status_code == 200
        assert_field_error(response, field, message)
    data = {"current_password": "wrong-password-123", "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    response = client.post("/profile/password", data=data)
    assert response.status_code == 400
    assert_field_error(response, "current_password", "現在のパスワードが正しくありません。")
    data = {"current_password": PASSWORD, "password": "short", "password_confirm": "short"}
    response = client.post("/profile/password", data=data)
    assert response.status_code == 400
    assert_field_error(response, "password", "パスワードは12文字以上にしてください。")
    assert_unchanged(before)


# --- moderation ------------------------------------------------------------------------------------------------------


@pytest.fixture
def applicant(create_user):
    return create_user(SAKAI, state=UserState.PENDING, email="applicant@example.com")


@pytest.mark.parametrize(
    ("reason", "message"),
    [("", "却下の理由を入力してください。"), (" \n\u3000 ", "却下の理由を入力してください。"),
     ("理由\x00", CONTROL_CHARACTERS), ("理" * 2001, "2000文字以内で入力してください。")],
    ids=["empty", "blank", "nul", "too-long"],
)  # fmt: skip
def test_rejection_needs_a_proper_reason(client, auth, moderator, applicant, reason, message):
    auth.login(moderator)
    before = database_state()
    response = client.post(f"/moderation/users/{applicant.id}/reject", data={"reason": reason})
    assert response.status_code == 400
    assert_field_error(response, "reason", message)
    assert_unchanged(before)


def test_approving_an_already_approved_user_changes_nothing(client, auth, moderator, applicant, outbox):
    auth.login(moderator)
    seen = {"fingerprint": applicant.registration_fingerprint}
    assert client.post(f"/moderation/users/{applicant.id}/approve", data=seen).status_code == 302
    before = database_state()
    response = client.post(f"/moderation/users/{applicant.id}/approve", data=seen, follow_redirects=True)
    assert response.status_code == 200
    assert "この登録はすでに処理されています。" in response.get_data(as_text=True)
    response = client.post(f"/moderation/users/{applicant.id}/reject", data={"reason": "遅すぎた却下", **seen})
    assert response.status_code == 302
    assert "この登録はすでに処理されています。" in client.get("/moderation").get_data(as_text=True)
    assert_unchanged(before)
    db.session.refresh(applicant)
    assert applicant.state == UserState.ACTIVE
    assert [m.kind for m in outbox(applicant.email)] == ["user_approved"]


def test_moderation_of_an_unknown_user_is_404(client, auth, moderator):
    auth.login(moderator)
    before = database_state()
    assert client.post("/moderation/users/987654/approve").status_code == 404
    assert client.post("/moderation/users/987654/reject", data={"reason": "x"}).status_code == 404
    assert_unchanged(before)


HUGE_ID = "99999999999999999999"


def test_absurd_ids_in_urls_are_404(client, auth, moderator, create_user):
    admin = create_user(SAKAI, role=OrgRole.ADMIN)
    auth.login(moderator)
    before = database_state()
    assert client.post(f"/moderation/users/{HUGE_ID}/approve").status_code == 404
    assert client.get(f"/moderation/users/{HUGE_ID}/reject").status_code == 404
    assert_unchanged(before)
    auth.logout()
    auth.login(admin)
    before = database_state()
    assert client.post(f"/organization/members/{HUGE_ID}/deactivate").status_code == 404
    assert_unchanged(before)


def moderation_log_heading(response) -> str:
    """The h1 of a moderation log page that opened."""
    assert response.status_code == 200
    return page_of(response).all("h1")[0].text.strip()


def test_absurd_page_number_is_not_a_500(client, auth, moderator):
    auth.login(moderator)
    assert moderation_log_heading(client.get(f"/moderation/log?page={HUGE_ID}")) == "モデレーション記録"


# --- query strings that reach the database ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/register?org_q=%00", "/register?code=%00", "/organizations/search.json?q=%00", "/posts?q=%00"]
)
def test_nul_in_query_strings_is_not_a_500(client, auth, create_user, path):
    if path.startswith("/posts"):
        auth.login(create_user(SAKAI))
    before = database_state()
    response = client.get(path)
    assert response.status_code == 200  # the NUL is dropped or matches nothing: an ordinary answer
    if response.is_json:
        assert response.get_json() == []
    assert_unchanged(before)


@pytest.mark.parametrize(
    "path",
    ["/register?org_q=" + "さ" * 500, "/register?org_q=%E2%80%AE", "/register?code=abcdefgh",
     "/register?code=%EF%BC%91%EF%BC%98", "/register?invitation=garbage", "/organizations/search.json?q=%25_%5C",
     "/organizations/search.json?q=" + "x" * 5000],
)  # fmt: skip
def test_odd_query_strings(client, path):
    before = database_state()
    assert client.get(path).status_code == 200
    assert_unchanged(before)


@pytest.mark.parametrize("page", ["abc", "-3", "0", "99999"])
def test_odd_page_numbers(client, auth, moderator, page):
    auth.login(moderator)
    assert moderation_log_heading(client.get(f"/moderation/log?page={page}")) == "モデレーション記録"
