"""Moderators suspend and reinstate accounts and whole organizations: sessions end at once, the user is told why by
e-mail, both logs record it; the staff of a suspended organization can sign in to read nothing but why."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bulletin.accounts.models import OrgRole, User, UserState
from bulletin.core.audit import ModerationDecision, fingerprint
from bulletin.core.security_events import SecurityEvent, SecurityEventKind
from bulletin.extensions import db
from bulletin.moderation import services
from bulletin.moderation.services import ModerationError
from bulletin.organizations.models import Membership
from bulletin.posts.models import Post
from bulletin.responses.models import Message
from tests.constants import CONTROL_CHARACTERS, GIFU, KUSHIRO_TOWN, PASSWORD, SAKAI, SAKAI_OSAKA, SHINAGAWA
from tests.factories import (
    assert_unchanged,
    build_world,
    count,
    database_state,
    flashes_after,
    fresh,
    new_client,
    open_sessions,
    page_of,
    text_of,
)
from tests.test_permissions import ROUTES, formatted, refs_of

REASON = "規約に反する投稿を繰り返したため"
SUSPENDED_LOGIN = "このアカウントは停止されています。"
WHY_PAGE = "/organization/suspended"


def decisions(action: str, subject_id: int) -> list[ModerationDecision]:
    return list(
        db.session.scalars(
            select(ModerationDecision).where(
                ModerationDecision.action == action, ModerationDecision.subject_id == subject_id
            )
        )
    )


def security_events(kind: SecurityEventKind, **conditions) -> list[SecurityEvent]:
    query = select(SecurityEvent).where(SecurityEvent.kind == kind)
    for name, value in conditions.items():
        query = query.where(getattr(SecurityEvent, name) == value)
    return list(db.session.scalars(query.order_by(SecurityEvent.id)))


def mails(outbox, user: User, kind: str):
    return [message for message in outbox(user.email) if message.kind == kind]


def suspend(browser, user: User, reason: str = REASON):
    return browser.post(f"/moderation/users/{user.id}/suspend", data={"reason": reason})


# --- accounts ------------------------------------------------------------------------------------------------------


def test_a_suspended_users_open_session_is_refused_at_its_next_request(app, create_user, moderator):
    officer = create_user(SAKAI)
    officer_browser, other_device = new_client(app, officer), new_client(app, officer)
    assert officer_browser.get("/profile").status_code == 200
    desk = new_client(app, moderator)

    response = suspend(desk, officer)

    assert response.status_code == 302 and response.headers["Location"] == f"/moderation/users/{officer.id}"
    assert any("さんのアカウントを停止しました。" in message for message in flashes_after(desk, response))
    for browser in (officer_browser, other_device):
        refused = browser.get("/profile")
        assert refused.status_code == 302 and refused.headers["Location"].startswith("/login")
        assert browser.get("/posts").status_code == 302
        assert browser.post("/profile", data={"name": "停止中に変えた"}).status_code == 302
    assert open_sessions(officer) == 0
    stored = fresh(officer)
    assert stored.state == UserState.SUSPENDED and stored.name != "停止中に変えた"
    assert stored.suspension_reason == REASON and stored.suspended_by_id == moderator.id
    assert stored.suspended_at is not None
    login = new_client(app).post("/login", data={"email": officer.email, "password": PASSWORD})
    assert login.status_code == 200 and SUSPENDED_LOGIN in text_of(login)


def test_the_suspended_user_is_told_the_reason_and_both_logs_record_it(app, create_user, moderator, outbox):
    officer = create_user(SAKAI)
    new_client(app, officer)

    suspend(new_client(app, moderator), officer)

    [mail] = mails(outbox, officer, "account_suspended")
    assert REASON in mail.body and "アカウントの利用を停止しました" in mail.subject
    [line] = decisions("suspend_user", officer.id)
    assert line.actor_id == moderator.id and line.reason == REASON and line.subject_type == "user"
    [event] = security_events(SecurityEventKind.SUSPENDED, user_id=officer.id)
    assert event.actor_id == moderator.id and event.detail == REASON
    [ended] = security_events(SecurityEventKind.SESSION_ENDED, user_id=officer.id)
    assert ended.actor_id == moderator.id and "suspended" in ended.detail
    account_page = text_of(new_client(app, moderator).get(f"/moderation/users/{officer.id}"))
    assert REASON in account_page and "利用停止" in account_page and moderator.name in account_page


def test_reinstating_restores_the_account_and_tells_the_user(app, create_user, moderator, outbox):
    officer = create_user(SAKAI)
    desk = new_client(app, moderator)
    suspend(desk, officer)

    response = desk.post(f"/moderation/users/{officer.id}/reinstate")

    assert any("さんのアカウントの利用を再開しました。" in message for message in flashes_after(desk, response))
    stored = fresh(officer)
    assert stored.state == UserState.ACTIVE and stored.reinstated_at is not None
    assert (stored.suspension_reason, stored.suspended_at, stored.suspended_by_id) == (None, None, None)
    [mail] = mails(outbox, officer, "account_reinstated")
    assert "http://localhost/login" in mail.body
    assert len(decisions("reinstate_user", officer.id)) == 1
    assert len(security_events(SecurityEventKind.REINSTATED, user_id=officer.id, actor_id=moderator.id)) == 1
    assert new_client(app, officer).get("/posts").status_code == 200


def test_a_moderator_cannot_suspend_themselves(app, moderator, create_user):
    create_user(None, email="second@secretariat.example.jp", is_moderator=True)
    desk = new_client(app, moderator)
    before = database_state()

    response = suspend(desk, moderator)

    assert "自分のアカウントは停止できません。" in flashes_after(desk, response)
    assert_unchanged(before)
    page = text_of(desk.get(f"/moderation/users/{moderator.id}"))
    assert "自分のアカウントは停止できません。" in page and 'name="reason"' not in page


def test_the_last_active_moderator_is_never_suspended(app, moderator, create_user):
    with pytest.raises(ModerationError, match="最後のモデレーターのアカウントは停止できません。"):
        services.suspend_user(None, moderator, REASON)  # the board itself (inactivity) is refused too
    colleague = create_user(None, email="second@secretariat.example.jp", is_moderator=True)
    create_user(None, email="gone@secretariat.example.jp", is_moderator=True, state=UserState.SUSPENDED)

    services.suspend_user(colleague, moderator, REASON)  # two active moderators: one may suspend the other
    db.session.commit()

    assert fresh(moderator).state == UserState.SUSPENDED
    with pytest.raises(ModerationError, match="最後のモデレーターのアカウントは停止できません。"):
        services.suspend_user(None, colleague, REASON)


def test_suspending_twice_and_reinstating_an_active_account_are_refused(app, create_user, moderator, outbox):
    officer = create_user(SAKAI)
    desk = new_client(app, moderator)
    suspend(desk, officer)
    before = database_state()

    again = suspend(desk, officer, "二度目の理由")
    assert "このアカウントはすでに停止されています。" in flashes_after(desk, again)
    assert_unchanged(before)

    desk.post(f"/moderation/users/{officer.id}/reinstate")
    before = database_state()
    again = desk.post(f"/moderation/users/{officer.id}/reinstate")
    assert "このアカウントは停止されていません。" in flashes_after(desk, again)
    assert_unchanged(before)
    assert len(mails(outbox, officer, "account_suspended")) == 1
    assert len(mails(outbox, officer, "account_reinstated")) == 1


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "停止の理由を入力してください。"),
        ("　 \n ", "停止の理由を入力してください。"),
        ("長" * 2001, "2000文字以内で入力してください。"),
        ("理由\x00です", CONTROL_CHARACTERS),
        ("理由\u202eです", CONTROL_CHARACTERS),
    ],
    ids=["empty", "blank", "too long", "NUL", "bidi override"],
)
def test_a_bad_reason_is_shown_on_the_form_and_changes_nothing(app, create_user, moderator, reason, message):
    officer = create_user(SAKAI)
    desk = new_client(app, moderator)
    before = database_state()

    response = suspend(desk, officer, reason)

    assert response.status_code == 400
    error = page_of(response).by_id("reason-error")
    assert error is not None and message in error.text
    assert_unchanged(before)


def test_only_an_active_account_can_be_suspended(app, create_user, moderator):
    applicant = create_user(SAKAI_OSAKA, state=UserState.PENDING)
    desk = new_client(app, moderator)
    before = database_state()

    response = suspend(desk, applicant)

    assert "停止できるのは利用中のアカウントだけです（現在: 承認待ち）。" in flashes_after(desk, response)
    assert_unchanged(before)


def test_unknown_accounts_and_organizations_are_404(app, moderator):
    desk = new_client(app, moderator)
    assert desk.get("/moderation/users/999999").status_code == 404
    assert suspend(desk, User(id=999999)).status_code == 404
    assert desk.get("/moderation/organizations/182108").status_code == 404  # a wrong check digit
    assert desk.get("/moderation/organizations/not-a-code").status_code == 404
    assert desk.post("/moderation/organizations/999999/suspend", data={"reason": REASON}).status_code == 404


# --- organizations -------------------------------------------------------------------------------------------------


def suspend_organization(browser, code: str, reason: str = "会費の未納のため"):
    return browser.post(f"/moderation/organizations/{code}/suspend", data={"reason": reason})


def test_suspending_an_organization_ends_its_staffs_sessions_and_tells_each_active_one(
    app, create_user, moderator, organization, outbox
):
    first, second = create_user(SAKAI), create_user(SAKAI, role=OrgRole.ADMIN)
    gone = create_user(SAKAI, state=UserState.DEACTIVATED)
    other = create_user(SHINAGAWA)
    browsers = [new_client(app, first), new_client(app, second), new_client(app, other)]
    desk = new_client(app, moderator)

    response = suspend_organization(desk, SAKAI)

    assert response.headers["Location"] == f"/moderation/organizations/{SAKAI}"
    assert "福井県 坂井市 の利用を停止しました。" in flashes_after(desk, response)
    sakai = organization(SAKAI)
    db.session.refresh(sakai)
    assert sakai.membership == Membership.SUSPENDED and sakai.membership_before_suspension == Membership.MEMBER
    assert sakai.suspension_reason == "会費の未納のため" and sakai.suspended_at is not None
    assert open_sessions(first) == open_sessions(second) == 0
    assert browsers[0].get("/profile").headers["Location"].startswith("/login")
    assert browsers[2].get("/profile").status_code == 200  # another organization's officer carries on
    for officer in (first, second):
        [mail] = mails(outbox, officer, "organization_suspended")
        assert "会費の未納のため" in mail.body and "http://localhost/organization/suspended" in mail.body
    assert mails(outbox, gone, "organization_suspended") == []
    assert fresh(first).state == UserState.ACTIVE  # the accounts themselves are not suspended
    [line] = decisions("suspend_organization", sakai.id)
    assert line.actor_id == moderator.id and line.reason == "会費の未納のため" and line.details["code"] == SAKAI
    [event] = security_events(SecurityEventKind.SUSPENDED, organization_id=sakai.id, user_id=None)
    assert event.actor_id == moderator.id
    page = text_of(desk.get(f"/moderation/organizations/{SAKAI}"))
    assert "利用停止中" in page and "会費の未納のため" in page and first.name in page


@pytest.fixture
def world(create_user, moderator):
    return build_world(create_user, moderator, with_posts=True, with_responses=True)


def post_states() -> dict[int, str]:
    return {post_id: state for post_id, state in db.session.execute(select(Post.id, Post.state))}


def test_the_staff_of_a_suspended_organization_read_only_why(app, world, outbox):
    services.suspend_organization(world.moderator, world.member_a.organization, "会費の未納のため")
    db.session.commit()
    states, messages = post_states(), count(Message)
    officer = new_client(app)

    signed_in = officer.post("/login", data={"email": world.member_a.email, "password": PASSWORD})

    assert signed_in.status_code == 302
    home = officer.get(signed_in.headers["Location"])
    assert home.status_code == 302 and home.headers["Location"] == WHY_PAGE
    why = officer.get(WHY_PAGE)
    assert why.status_code == 200
    body = text_of(why)
    assert "団体の利用が停止されています" in body and "会費の未納のため" in body and "特別区長会事務局" in body
    nav = [a.attrs["href"] for a in page_of(why).all("a") if a.attrs.get("href", "").startswith("/")]
    assert "/posts" not in nav and "/notifications" not in nav
    conversation = f"/conversations/{world.conversation.id}"
    assert officer.get(conversation).headers["Location"] == WHY_PAGE
    assert officer.get(f"/posts/{world.published.id}").headers["Location"] == WHY_PAGE
    assert officer.post(conversation, data={"message": "停止中に書いた"}).status_code == 403
    assert officer.post("/posts/new", data={"kind": "proposal", "title": "停止中の投稿"}).status_code == 403
    assert officer.post(f"/posts/{world.published.id}/withdraw").status_code == 403
    assert post_states() == states and count(Message) == messages  # their posts stay as they are
    assert officer.get("/healthz").status_code == 200
    assert officer.post("/locale", data={"locale": "en", "next": WHY_PAGE}).status_code == 302
    assert "Use of your organization has been suspended" in text_of(officer.get(WHY_PAGE))
    assert officer.post("/logout").status_code == 302
    assert officer.get(WHY_PAGE).headers["Location"].startswith("/login")
    ward = new_client(app, world.ward)  # the other side still sees 坂井市's published post
    assert ward.get(f"/posts/{world.published.id}").status_code == 200


OPEN_TO_THEM = {"accounts.organization_suspended", "accounts.logout", "static", "main.set_locale"}
OPEN_TO_EVERYONE = {"main.healthz", "main.readyz"}


def test_every_route_but_the_why_page_turns_a_suspended_organizations_staff_away(app, world):
    """Each route of the permission matrix, as 坂井市's officer once 坂井市 is suspended: pages lead to the why page,
    forms are refused with 403, and nothing they would change changes."""
    services.suspend_organization(world.moderator, world.member_a.organization, "会費の未納のため")
    db.session.commit()
    w = refs_of(world)
    officer = new_client(app, world.member_a)
    failures = []
    for (endpoint, method), cases in ROUTES.items():
        if endpoint in OPEN_TO_THEM | OPEN_TO_EVERYONE:
            continue
        for case in cases:
            path = case.path.format(w=w)
            changed_before = case.effect(w, fresh(world.member_a)) if case.effect is not None else None
            if method == "GET":
                response = officer.get(path)
                if response.status_code != 302 or response.headers["Location"] != WHY_PAGE:
                    failures.append(f"GET {path}: {response.status_code} {response.headers.get('Location')}")
            else:
                data = case.data(w, None) if callable(case.data) else formatted(case.data or {}, w)
                response = officer.post(path, data=data)
                if response.status_code != 403:
                    failures.append(f"POST {path}: {response.status_code}")
            response.close()
            db.session.expire_all()
            if case.effect is not None and case.effect(w, fresh(world.member_a)) != changed_before:
                failures.append(f"{method} {path} changed something")
    assert not failures, "\n".join(failures)


def test_reinstating_an_organization_gives_back_its_membership_and_tells_its_staff(
    app, create_user, moderator, organization, outbox
):
    officer = create_user(SAKAI)
    desk = new_client(app, moderator)
    suspend_organization(desk, SAKAI)
    member_since = organization(SAKAI).member_since

    response = desk.post(f"/moderation/organizations/{SAKAI}/reinstate")

    assert "福井県 坂井市 の利用を再開しました。" in flashes_after(desk, response)
    sakai = organization(SAKAI)
    db.session.refresh(sakai)
    assert sakai.membership == Membership.MEMBER and sakai.member_since == member_since
    assert (sakai.suspension_reason, sakai.suspended_at, sakai.membership_before_suspension) == (None, None, None)
    [mail] = mails(outbox, officer, "organization_reinstated")
    assert "http://localhost/login" in mail.body
    assert len(decisions("reinstate_organization", sakai.id)) == 1
    assert len(security_events(SecurityEventKind.REINSTATED, organization_id=sakai.id, user_id=None)) == 1
    assert new_client(app, officer).get("/posts").status_code == 200

    again = desk.post(f"/moderation/organizations/{SAKAI}/reinstate")
    assert "この団体は停止されていません。" in flashes_after(desk, again)


def test_an_organization_suspended_while_pending_is_pending_again_when_reinstated(
    app, create_user, moderator, organization
):
    applicant = create_user(SAKAI_OSAKA, state=UserState.PENDING)
    osaka = organization(SAKAI_OSAKA)
    osaka.membership = Membership.PENDING
    db.session.commit()

    services.suspend_organization(moderator, osaka, "申請内容に虚偽があったため")
    services.approve_user(
        moderator, applicant, fingerprint(applicant.registration_details())
    )  # an approval meanwhile does not lift the suspension
    db.session.commit()
    assert fresh(osaka).membership == Membership.SUSPENDED
    assert osaka.membership_before_suspension == Membership.MEMBER and osaka.member_since is not None

    services.reinstate_organization(moderator, osaka)
    assert osaka.membership == Membership.MEMBER


def test_a_suspended_organization_is_suspended_once(app, moderator, organization, create_user):
    create_user(GIFU)
    desk = new_client(app, moderator)
    suspend_organization(desk, GIFU)
    before = database_state()

    again = suspend_organization(desk, GIFU, "もう一度")

    assert "この団体はすでに停止されています。" in flashes_after(desk, again)
    assert_unchanged(before)


def test_an_organization_that_never_joined_cannot_be_suspended(app, moderator):
    desk = new_client(app, moderator)
    page = text_of(desk.get(f"/moderation/organizations/{KUSHIRO_TOWN}"))
    assert "この団体はまだ掲示板に登録していません。" in page
    before = database_state()

    response = suspend_organization(desk, KUSHIRO_TOWN)

    assert "停止できるのは会員の団体と登録申請中の団体だけです。" in flashes_after(desk, response)
    assert_unchanged(before)


def test_a_moderator_cannot_suspend_their_own_organization(app, create_user):
    officer = create_user(SAKAI)  # makes 坂井市 a member
    moderator = create_user(SAKAI, email="moderator@city.fukui-sakai.lg.jp", is_moderator=True)
    desk = new_client(app, moderator)
    before = database_state()

    response = suspend_organization(desk, SAKAI)

    assert "自分の所属する団体は停止できません。" in flashes_after(desk, response)
    assert_unchanged(before)
    assert officer.organization.membership == Membership.MEMBER


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "停止の理由を入力してください。"),
        ("長" * 2001, "2000文字以内で入力してください。"),
        ("\x00", CONTROL_CHARACTERS),
    ],
    ids=["empty", "too long", "NUL"],
)
def test_a_bad_reason_for_an_organization_changes_nothing(app, create_user, moderator, reason, message):
    create_user(SAKAI)
    desk = new_client(app, moderator)
    before = database_state()

    response = suspend_organization(desk, SAKAI, reason)

    assert response.status_code == 400
    assert message in page_of(response).by_id("reason-error").text
    assert_unchanged(before)


def test_moderators_find_organizations_and_whoever_is_suspended(app, create_user, moderator):
    officer = create_user(SAKAI)
    desk = new_client(app, moderator)
    suspend(desk, officer)
    suspend_organization(desk, SAKAI)

    found = page_of(desk.get("/moderation/organizations?q=さかいし"))

    links = {a.attrs["href"] for a in found.all("a")}
    assert f"/moderation/organizations/{SAKAI}" in links and f"/moderation/users/{officer.id}" in links
    log = page_of(desk.get("/moderation/log"))
    log_links = {a.attrs["href"] for a in log.all("a")}
    assert f"/moderation/users/{officer.id}" in log_links and f"/moderation/organizations/{SAKAI}" in log_links
    organization_page = page_of(desk.get(f"/moderation/organizations/{SAKAI}"))
    assert f"/moderation/users/{officer.id}" in {a.attrs["href"] for a in organization_page.all("a")}
