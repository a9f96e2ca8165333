"""Registration to login through the real pages: register, confirm by e-mail link, moderator approval, login."""

from sqlalchemy import select

from bulletin.accounts.models import OrgRole, User, UserState
from bulletin.core.audit import ModerationDecision
from bulletin.extensions import db
from bulletin.organizations.models import Membership
from tests.constants import SAKAI, SHINAGAWA
from tests.factories import count, hidden_value, link_in, registration_form, text_of


def test_municipality_officer_registers_confirms_is_approved_and_logs_in(client, moderator, auth, outbox, organization):
    response = client.post("/register", data=registration_form())
    assert response.status_code == 302 and response.headers["Location"].endswith("/register/sent")
    user = db.session.scalar(select(User).where(User.email == "hanako.sakai@city.fukui-sakai.lg.jp"))
    assert user.state == UserState.UNCONFIRMED
    assert user.password_hash.startswith("$argon2id$")
    assert organization(SAKAI).membership == Membership.PENDING

    assert auth.login(user.email).status_code == 200  # not yet confirmed: refused
    [mail] = outbox(user.email)
    confirm_path = link_in(mail.body, "/confirm/")
    assert mail.body.count("http://localhost/confirm/") == 1
    assert client.get(confirm_path).status_code == 200  # GET only shows the button
    db.session.refresh(user)
    assert user.state == UserState.UNCONFIRMED
    assert client.post(confirm_path).status_code == 200
    db.session.refresh(user)
    assert user.state == UserState.PENDING
    assert [m.kind for m in outbox(moderator.email)] == ["registration_pending"]

    assert client.post(confirm_path).status_code == 400  # single use

    response = auth.login(user)
    assert "承認をお待ちください" in response.get_data(as_text=True)

    auth.login(moderator)
    queue = client.get("/moderation")
    assert "坂井 花子" in text_of(queue) and "ドメイン未確認" in text_of(queue) and "初めての登録団体" in text_of(queue)
    approve = f"/moderation/users/{user.id}/approve"
    seen = hidden_value(queue, approve, "fingerprint")
    response = client.post(approve, data={"confirm_domain": "y", "fingerprint": seen})
    assert response.status_code == 302
    auth.logout()

    db.session.refresh(user)
    assert user.state == UserState.ACTIVE
    assert user.role == OrgRole.ADMIN  # first officer of the organization
    sakai = organization(SAKAI)
    assert sakai.membership == Membership.MEMBER and sakai.member_since is not None
    assert sakai.confirmed_domains() == {"city.fukui-sakai.lg.jp"}
    decision = db.session.scalar(select(ModerationDecision).where(ModerationDecision.subject_id == user.id))
    assert decision.action == "approve_user" and decision.details["confirmed_domain"] == "city.fukui-sakai.lg.jp"
    assert decision.details["fingerprint"] == seen
    assert outbox(user.email)[-1].kind == "user_approved"

    response = auth.login(user)
    assert response.status_code == 302
    home = client.get("/").get_data(as_text=True)
    assert "坂井 花子" in home and "福井県 坂井市" in home


def test_ward_officer_from_a_confirmed_domain_needs_no_moderator(client, create_user, auth, outbox):
    create_user(SHINAGAWA, email="first@city.shinagawa.tokyo.jp", confirm_org_domain=True)
    client.post(
        "/register",
        data=registration_form(email="taro@city.shinagawa.tokyo.jp", organization_code=SHINAGAWA, name="品川 太郎"),
    )
    mail = outbox("taro@city.shinagawa.tokyo.jp")[0]
    client.post(link_in(mail.body, "/confirm/"))
    user = db.session.scalar(select(User).where(User.email == "taro@city.shinagawa.tokyo.jp"))
    assert user.state == UserState.ACTIVE
    assert auth.login(user).status_code == 302


def test_lg_jp_alone_is_not_trusted(client, create_user, outbox):
    create_user(SHINAGAWA, email="first@city.shinagawa.tokyo.jp", confirm_org_domain=True)
    client.post("/register", data=registration_form(email="x@city.shinagawa.lg.jp", organization_code=SHINAGAWA))
    client.post(link_in(outbox("x@city.shinagawa.lg.jp")[0].body, "/confirm/"))
    assert db.session.scalar(select(User.state).where(User.email == "x@city.shinagawa.lg.jp")) == UserState.PENDING


def test_rejection_with_reason_is_told_to_the_applicant(client, create_user, moderator, auth, outbox):
    applicant = create_user(SAKAI, state=UserState.PENDING, email="who@example.com")
    auth.login(moderator)
    reject = f"/moderation/users/{applicant.id}/reject"
    seen = hidden_value(client.get(reject), reject, "fingerprint")
    response = client.post(reject, data={"reason": "", "fingerprint": seen})
    assert response.status_code == 400 and "却下の理由を入力してください" in response.get_data(as_text=True)
    db.session.refresh(applicant)
    assert applicant.state == UserState.PENDING
    client.post(reject, data={"reason": "職員であることを確認できませんでした。", "fingerprint": seen})
    db.session.refresh(applicant)
    assert applicant.state == UserState.REJECTED
    mail = outbox(applicant.email)[-1]
    assert mail.kind == "user_rejected" and "職員であることを確認できませんでした。" in mail.body
    log = client.get("/moderation/log").get_data(as_text=True)
    assert "登録を却下" in log and "職員であることを確認できませんでした。" in log


def test_registering_an_existing_address_tells_its_owner_and_changes_nothing(client, create_user, outbox):
    owner = create_user(SAKAI, email="owner@city.fukui-sakai.lg.jp")
    users = count(User)
    response = client.post("/register", data=registration_form(email="OWNER@city.fukui-sakai.lg.jp"))
    assert response.status_code == 302 and response.headers["Location"].endswith("/register/sent")
    assert count(User) == users
    assert [m.kind for m in outbox(owner.email)] == ["already_registered"]
