"""Accounts through the real pages: login refusals, password reset and change, profile, invitations, the org
admin's colleagues page, password hashing and the create-moderator command."""

import re

import pytest
from sqlalchemy import select

from bulletin.accounts.models import Invitation, OrgRole, User, UserState
from bulletin.accounts.passwords import verify_password
from bulletin.extensions import db
from tests.constants import NEW_PASSWORD, PASSWORD, SAKAI, SHINAGAWA
from tests.factories import (
    AuthActions,
    assert_field_error,
    count,
    fresh,
    link_in,
    new_client,
    open_sessions,
    page_of,
    refuse_login_of_the_current_user_proxy,
    registration_form,
)


def logged_in(client) -> bool:
    """Whether the client's session is logged in: the profile page opens."""
    return client.get("/profile").status_code == 200


# --- login -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (UserState.UNCONFIRMED, "メールアドレスの確認が済んでいません。届いたメールのリンクを開いてください。"),
        (UserState.PENDING, "事務局の承認をお待ちください。承認されるとメールでお知らせします。"),
        (UserState.REJECTED, "この登録は承認されませんでした。事務局にお問い合わせください。"),
        (UserState.SUSPENDED, "このアカウントは停止されています。事務局にお問い合わせください。"),
        (UserState.DEACTIVATED, "このアカウントは無効になっています。団体の管理者にお問い合わせください。"),
    ],
)
def test_login_is_refused_with_the_reason(client, auth, create_user, state, message):
    user = create_user(SAKAI, state=state)
    response = auth.login(user)
    assert response.status_code == 200
    assert message in page_of(response).html
    assert not logged_in(client)
    assert fresh(user).last_login_at is None


@pytest.mark.parametrize("state", [UserState.PENDING, UserState.SUSPENDED, UserState.DEACTIVATED])
def test_a_wrong_password_does_not_reveal_the_state(client, auth, create_user, state):
    user = create_user(SAKAI, state=state)
    html = auth.login(user, "wrong-password-123").get_data(as_text=True)
    assert "メールアドレスまたはパスワードが正しくありません。" in html
    assert "承認" not in html.split("<main", 1)[1].split("</main>", 1)[0]


def test_unknown_address_and_wrong_password_get_the_same_answer(client, auth, create_user):
    user = create_user(SAKAI)
    unknown = auth.login("nobody@city.fukui-sakai.lg.jp", PASSWORD)
    wrong = auth.login(user, "wrong-password-123")
    assert unknown.status_code == wrong.status_code == 200
    message = "メールアドレスまたはパスワードが正しくありません。"
    assert message in unknown.get_data(as_text=True) and message in wrong.get_data(as_text=True)


def test_login_is_case_insensitive_and_records_the_time(client, auth, create_user):
    user = create_user(SAKAI, email="taro@city.fukui-sakai.lg.jp")
    response = auth.login(" Taro@City.Fukui-Sakai.LG.JP ")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert logged_in(client)
    assert fresh(user).last_login_at is not None
    auth.logout()
    assert not logged_in(client)


def test_login_upgrades_a_hash_made_with_weaker_parameters(client, auth, app, create_user, monkeypatch):
    user = create_user(SAKAI)
    assert user.password_hash.startswith("$argon2id$") and ",t=1," in user.password_hash
    monkeypatch.setitem(app.config, "ARGON2_TIME_COST", 2)
    assert auth.login(user).status_code == 302
    upgraded = fresh(user).password_hash
    assert upgraded.startswith("$argon2id$") and ",t=2," in upgraded
    assert verify_password(upgraded, PASSWORD)


def test_passwords_are_hashed_with_argon2id(client, outbox):
    response = client.post("/register", data=registration_form(email="hanako@city.fukui-sakai.lg.jp"))
    assert response.status_code == 302
    stored = db.session.scalar(select(User.password_hash).where(User.email == "hanako@city.fukui-sakai.lg.jp"))
    assert re.fullmatch(r"\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+", stored)
    assert PASSWORD not in stored
    assert verify_password(stored, PASSWORD) and not verify_password(stored, PASSWORD + "x")


# --- password reset ------------------------------------------------------------------------------------------------


def test_forgot_password_answers_the_same_for_unknown_and_known_addresses(client, create_user, outbox):
    user = create_user(SAKAI, email="known@city.fukui-sakai.lg.jp")
    mails_before = len(outbox())

    def answer(email):
        response = client.post("/password/forgot", data={"email": email})
        assert response.status_code == 200
        html = response.get_data(as_text=True).replace(email, "ADDRESS")
        return re.sub(r'name="csrf_token" value="[^"]*"', "", html)

    assert answer("unknown@city.fukui-sakai.lg.jp") == answer(user.email)
    assert outbox("unknown@city.fukui-sakai.lg.jp") == []
    assert [m.kind for m in outbox(user.email)] == ["password_reset"]
    assert len(outbox()) == mails_before + 1


@pytest.mark.parametrize("state", [UserState.UNCONFIRMED, UserState.REJECTED, UserState.SUSPENDED])
def test_no_reset_mail_for_accounts_that_cannot_log_in(client, create_user, outbox, state):
    user = create_user(SAKAI, state=state)
    assert client.post("/password/forgot", data={"email": user.email}).status_code == 200
    assert outbox(user.email) == []


def test_reset_by_mail_link_works_once_and_logs_out_other_sessions(app, client, auth, create_user, outbox):
    user = create_user(SAKAI, email="forgetful@city.fukui-sakai.lg.jp")
    office = new_client(app, user)
    assert logged_in(office)

    client.post("/password/forgot", data={"email": user.email})
    [mail] = outbox(user.email)
    path = link_in(mail.body, "/password/reset/")
    assert mail.body.count("http://localhost/password/reset/") == 1
    form = client.get(path)
    assert form.status_code == 200 and page_of(form).by_id("password") is not None

    response = client.post(path, data={"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert "パスワードを変更しました。新しいパスワードでログインしてください。" in client.get("/login").get_data(
        as_text=True
    )
    assert [m.kind for m in outbox(user.email)] == ["password_reset", "password_changed"]

    again = client.post(path, data={"password": "yet-another-passphrase", "password_confirm": "yet-another-passphrase"})
    assert again.status_code == 400 and "このリンクはすでに使われています。" in again.get_data(as_text=True)
    assert client.get(path).status_code == 400

    assert not logged_in(office)  # the session opened before the reset has ended
    assert open_sessions(user) == 0
    assert auth.login(user, PASSWORD).status_code == 200
    assert auth.login(user, NEW_PASSWORD).status_code == 302


def test_a_newer_reset_link_does_not_revive_an_older_one(client, create_user, outbox):
    user = create_user(SAKAI)
    client.post("/password/forgot", data={"email": user.email})
    client.post("/password/forgot", data={"email": user.email})
    first, second = (link_in(m.body, "/password/reset/") for m in outbox(user.email))
    data = {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    assert client.post(second, data=data).status_code == 302
    assert verify_password(fresh(user).password_hash, NEW_PASSWORD)
    other = "yet-another-passphrase"
    refused = client.post(first, data={"password": other, "password_confirm": other})
    assert refused.status_code == 400  # every link dies when the password changes
    assert "このリンクはすでに使われています。" in refused.get_data(as_text=True)
    user = fresh(user)
    assert verify_password(user.password_hash, NEW_PASSWORD) and not verify_password(user.password_hash, other)
    assert open_sessions(user) == 0


# --- password change and profile ----------------------------------------------------------------------------------


def test_change_password_needs_the_current_one(client, auth, create_user):
    user = create_user(SAKAI)
    auth.login(user)
    data = {"current_password": "not-my-password", "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    response = client.post("/profile/password", data=data)
    assert response.status_code == 400
    assert_field_error(response, "current_password", "現在のパスワードが正しくありません。")
    assert verify_password(fresh(user).password_hash, PASSWORD)
    assert open_sessions(user) == 1  # a wrong current password ends nothing


def test_change_password_keeps_this_session_and_ends_the_others(app, client, auth, create_user, outbox, monkeypatch):
    refuse_login_of_the_current_user_proxy(monkeypatch)
    user = create_user(SAKAI)
    home = new_client(app, user)
    auth.login(user)
    data = {"current_password": PASSWORD, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    response = client.post("/profile/password", data=data)
    assert response.status_code == 302 and response.headers["Location"] == "/profile"
    assert "パスワードを変更しました。" in client.get("/profile").get_data(as_text=True)
    assert logged_in(client)
    assert not logged_in(home)
    assert verify_password(fresh(user).password_hash, NEW_PASSWORD)
    assert [m.kind for m in outbox(user.email)] == ["password_changed"]


def test_profile_edit(client, auth, create_user):
    user = create_user(SAKAI)
    auth.login(user)
    form = page_of(client.get("/profile"))
    assert form.by_id("name").attrs["value"] == user.name
    response = client.post(
        "/profile", data={"name": "  坂井 次郎\u3000", "department": "総合政策課", "phone": "０７７６-５０-３１５２"}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/profile"
    user = fresh(user)
    assert (user.name, user.department, user.phone) == ("坂井 次郎", "総合政策課", "0776-50-3152")
    assert "プロフィールを保存しました。" in client.get("/profile").get_data(as_text=True)
    response = client.post("/profile", data={"name": "坂井 次郎", "department": "総合政策課", "phone": ""})
    assert response.status_code == 302 and fresh(user).phone == ""


def test_profile_cannot_change_the_address_or_role(client, auth, create_user):
    user = create_user(SAKAI, email="taro@city.fukui-sakai.lg.jp")
    auth.login(user)
    response = client.post(
        "/profile",
        data={"name": "x", "department": "y", "email": "evil@example.com", "role": "admin", "is_moderator": "y"},
    )
    assert response.status_code == 302
    user = fresh(user)
    assert (user.name, user.department) == ("x", "y")  # the form was taken, and only its own fields
    assert (user.email, user.role, user.is_moderator) == ("taro@city.fukui-sakai.lg.jp", OrgRole.STAFF, False)


# --- invitations and the organization's staff ------------------------------------------------------------------------


@pytest.fixture
def sakai_admin(create_user):
    return create_user(SAKAI, role=OrgRole.ADMIN, email="admin@city.fukui-sakai.lg.jp", name="坂井 管理者")


def invite(client, auth, admin, email):
    auth.login(admin)
    response = client.post("/organization/members", data={"email": email})
    auth.logout()
    return response


def test_invited_colleague_is_active_after_confirming_without_a_moderator(client, auth, sakai_admin, moderator, outbox):
    response = invite(client, auth, sakai_admin, "Newcomer@City.Fukui-Sakai.LG.JP")
    assert response.status_code == 302 and response.headers["Location"] == "/organization/members"
    [mail] = outbox("newcomer@city.fukui-sakai.lg.jp")
    assert mail.kind == "invitation"
    invitation_path = link_in(mail.body, "/invitations/")
    token = invitation_path.rsplit("/", 1)[1]
    stored = db.session.scalar(select(Invitation).where(Invitation.email == "newcomer@city.fukui-sakai.lg.jp"))
    assert stored.token_hash != token and token not in stored.token_hash  # only a hash is kept

    response = client.get(invitation_path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/register?invitation=")
    form = page_of(client.get(response.headers["Location"]))
    assert form.by_id("email").attrs["value"] == "newcomer@city.fukui-sakai.lg.jp"
    assert form.by_id("organization_code").attrs["value"] == SAKAI
    assert form.by_id("invitation").attrs["value"] == token
    assert "からの招待で登録します" in form.html

    response = client.post(
        "/register",
        data={
            "email": "newcomer@city.fukui-sakai.lg.jp",
            "password": PASSWORD,
            "password_confirm": PASSWORD,
            "name": "坂井 新人",
            "department": "観光交流課",
            "organization_code": SAKAI,
            "agree": "y",
            "invitation": token,
        },
    )
    assert response.status_code == 302
    newcomer = db.session.scalar(select(User).where(User.email == "newcomer@city.fukui-sakai.lg.jp"))
    assert newcomer.state == UserState.UNCONFIRMED and newcomer.invited_by_id == sakai_admin.id
    assert fresh(stored).accepted_by_id == newcomer.id

    confirm = link_in(outbox(newcomer.email)[-1].body, "/confirm/")
    assert client.post(confirm).status_code == 200
    newcomer = fresh(newcomer)
    assert newcomer.state == UserState.ACTIVE and newcomer.role == OrgRole.STAFF
    assert outbox(moderator.email) == []  # no moderator needed
    assert auth.login(newcomer).status_code == 302

    auth.logout()
    reused = client.get(invitation_path)
    assert reused.status_code == 400
    assert "招待リンクの有効期限が切れているか、すでに使われています。" in reused.get_data(as_text=True)


def test_staff_cannot_invite(client, auth, create_user, outbox):
    staff = create_user(SAKAI)
    auth.login(staff)
    members = page_of(client.get("/organization/members"))
    assert members.by_id("invite-heading") is None  # no form offered
    response = client.post("/organization/members", data={"email": "friend@city.fukui-sakai.lg.jp"})
    assert response.status_code == 403
    assert count(Invitation) == 0
    assert outbox("friend@city.fukui-sakai.lg.jp") == []


def test_admin_hands_on_the_admin_role(client, auth, sakai_admin, create_user):
    colleague = create_user(SAKAI, name="坂井 後任")
    auth.login(sakai_admin)
    response = client.post(f"/organization/members/{colleague.id}/admin")
    assert response.status_code == 302 and response.headers["Location"] == "/organization/members"
    assert fresh(colleague).role == OrgRole.ADMIN
    assert fresh(sakai_admin).role == OrgRole.STAFF
    assert client.post("/organization/members", data={"email": "x@city.fukui-sakai.lg.jp"}).status_code == 403


def test_admin_can_keep_the_role_while_adding_another_admin(client, auth, sakai_admin, create_user):
    colleague = create_user(SAKAI)
    auth.login(sakai_admin)
    response = client.post(f"/organization/members/{colleague.id}/admin", data={"keep": "1"})
    assert response.status_code == 302
    assert fresh(colleague).role == fresh(sakai_admin).role == OrgRole.ADMIN


def test_admin_role_only_goes_to_active_colleagues_of_the_same_organization(client, auth, sakai_admin, create_user):
    pending = create_user(SAKAI, state=UserState.PENDING)
    ward_officer = create_user(SHINAGAWA)
    auth.login(sakai_admin)
    response = client.post(f"/organization/members/{pending.id}/admin", follow_redirects=True)
    assert "この職員を管理者にすることはできません。" in response.get_data(as_text=True)
    assert client.post(f"/organization/members/{ward_officer.id}/admin").status_code == 404
    assert fresh(pending).role == fresh(ward_officer).role == OrgRole.STAFF
    assert fresh(sakai_admin).role == OrgRole.ADMIN


def test_deactivated_colleague_cannot_log_in_and_their_account_stays(app, client, auth, sakai_admin, create_user):
    leaver = create_user(SAKAI, email="leaver@city.fukui-sakai.lg.jp", name="坂井 異動者")
    their_browser = new_client(app, leaver)
    assert logged_in(their_browser)

    auth.login(sakai_admin)
    response = client.post(f"/organization/members/{leaver.id}/deactivate", follow_redirects=True)
    assert "坂井 異動者 さんのアカウントを無効にしました。" in response.get_data(as_text=True)
    leaver = fresh(leaver)
    assert leaver.state == UserState.DEACTIVATED
    assert (leaver.name, leaver.organization_id, leaver.email) == (
        "坂井 異動者",
        sakai_admin.organization_id,
        "leaver@city.fukui-sakai.lg.jp",
    )
    assert "坂井 異動者" in client.get("/organization/members").get_data(as_text=True)  # still listed

    assert not logged_in(their_browser)  # their open session ended
    refused = AuthActions(their_browser).login(leaver)
    assert "このアカウントは無効になっています。" in refused.get_data(as_text=True)
    assert not logged_in(their_browser)


def test_admin_cannot_deactivate_themselves(client, auth, sakai_admin):
    auth.login(sakai_admin)
    response = client.post(f"/organization/members/{sakai_admin.id}/deactivate", follow_redirects=True)
    assert "この職員を無効にすることはできません。" in response.get_data(as_text=True)
    assert fresh(sakai_admin).state == UserState.ACTIVE


def test_members_page_lists_only_the_own_organization(client, auth, sakai_admin, create_user):
    create_user(SHINAGAWA, name="品川 太郎")
    colleague = create_user(SAKAI, name="坂井 同僚")
    auth.login(colleague)
    html = client.get("/organization/members").get_data(as_text=True)
    assert "坂井 同僚" in html and "坂井 管理者" in html and "品川 太郎" not in html


# --- create-moderator -----------------------------------------------------------------------------------------------


def test_create_moderator_command(app, client, auth):
    result = app.test_cli_runner().invoke(
        args=["create-moderator", "Secretariat@Example.JP", "--name", "事務局 太郎"], input=NEW_PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    assert "moderator secretariat@example.jp is ready" in result.output
    moderator = db.session.scalar(select(User).where(User.email == "secretariat@example.jp"))
    assert moderator.is_moderator and moderator.state == UserState.ACTIVE and moderator.name == "事務局 太郎"
    assert moderator.organization_id is None and moderator.password_hash.startswith("$argon2id$")
    assert auth.login("secretariat@example.jp", NEW_PASSWORD).status_code == 302
    assert client.get("/moderation").status_code == 200


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("password", "パスワードは12文字以上にしてください。"),
        ("password1234", "よく使われるパスワードです。"),
        ("secretariat-2025", "メールアドレスを含まないパスワードにしてください。"),
        ("", "パスワードは12文字以上にしてください。"),
    ],
)
def test_create_moderator_refuses_a_weak_password(app, password, message):
    result = app.test_cli_runner().invoke(args=["create-moderator", "secretariat@example.jp"], input=password + "\n")
    assert result.exit_code == 1
    assert not isinstance(result.exception, RuntimeError), result.exception
    assert message in result.output
    assert db.session.scalar(select(User).where(User.email == "secretariat@example.jp")) is None
