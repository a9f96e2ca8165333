"""Signed-in sessions are rows: logout and the rules end them wherever their cookie went; they end by themselves."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from bulletin.accounts.models import UserSession
from bulletin.accounts.sessions import hash_session_id
from bulletin.core.db import utcnow
from bulletin.core.security_events import SecurityEvent, SecurityEventKind
from bulletin.extensions import db
from tests.constants import NEW_PASSWORD, PASSWORD, SAKAI
from tests.factories import fresh, new_client, open_sessions, page_of

COOKIE = "bulletin_session"


def logged_in(client) -> bool:
    return client.get("/profile").status_code == 200


def copy_cookie(source, target) -> None:
    target.set_cookie(COOKIE, source.get_cookie(COOKIE).value)


def signed_in_with(app, user, agent: str):
    """A browser with its own User-Agent, signed in as the user."""
    browser = new_client(app)
    browser.environ_base["HTTP_USER_AGENT"] = agent
    assert browser.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    return browser


def sessions_of(user) -> list[UserSession]:
    return list(db.session.scalars(select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.id)))


def events(kind: SecurityEventKind, user=None) -> list[SecurityEvent]:
    query = select(SecurityEvent).where(SecurityEvent.kind == kind)
    if user is not None:
        query = query.where(SecurityEvent.user_id == user.id)
    return list(db.session.scalars(query))


def test_a_cookie_copied_before_logout_is_refused_after_it(app, create_user):
    user = create_user(SAKAI)
    browser = new_client(app, user)
    thief = new_client(app)
    copy_cookie(browser, thief)
    assert logged_in(thief)  # the copy works while the session lasts

    assert browser.post("/logout").status_code == 302
    assert not logged_in(browser)
    assert not logged_in(thief)
    assert open_sessions(user) == 0
    assert len(events(SecurityEventKind.LOGOUT, user)) == 1


def test_the_cookie_holds_a_random_id_whose_hash_is_stored(app, create_user):
    user = create_user(SAKAI)
    browser = new_client(app, user)
    with browser.session_transaction() as cookie_session:
        raw = cookie_session["_user_id"]
    assert raw != str(user.id) and str(user.id) not in raw.split(":") and len(raw) >= 40
    [row] = sessions_of(user)
    assert row.token_hash == hash_session_id(raw) and raw not in row.token_hash
    assert row.ip_address == "127.0.0.1"


def test_each_login_is_its_own_session_and_login_replaces_the_cookie(app, create_user):
    user = create_user(SAKAI)
    browser = new_client(app)
    with browser.session_transaction() as cookie_session:
        cookie_session["_user_id"] = "planted-by-someone-else"
    browser.post("/login", data={"email": user.email, "password": PASSWORD})
    with browser.session_transaction() as cookie_session:
        assert cookie_session["_user_id"] != "planted-by-someone-else"
    new_client(app, user)
    assert open_sessions(user) == 2
    assert len(events(SecurityEventKind.LOGIN, user)) == 2


def test_a_session_ends_after_the_idle_time(app, create_user):
    user = create_user(SAKAI)
    browser = new_client(app, user)
    idle = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"])
    db.session.execute(update(UserSession).values(last_seen_at=utcnow() - idle + timedelta(minutes=1)))
    assert logged_in(browser)  # a minute before the idle time: still open, and the use moves it on
    assert sessions_of(user)[0].last_seen_at > utcnow() - timedelta(minutes=1)
    db.session.execute(update(UserSession).values(last_seen_at=utcnow() - idle - timedelta(seconds=1)))
    assert not logged_in(browser)


def test_a_busy_session_ends_at_its_absolute_lifetime(app, create_user):
    user = create_user(SAKAI)
    browser = new_client(app, user)
    lifetime = timedelta(hours=app.config["SESSION_MAX_HOURS"])
    db.session.execute(update(UserSession).values(created_at=utcnow() - lifetime + timedelta(minutes=1)))
    assert logged_in(browser)
    db.session.execute(update(UserSession).values(created_at=utcnow() - lifetime - timedelta(seconds=1)))
    assert not logged_in(browser)


def test_the_last_use_moves_at_most_once_a_minute(app, create_user):
    user = create_user(SAKAI)
    browser = new_client(app, user)
    seen = utcnow() - timedelta(seconds=30)
    db.session.execute(update(UserSession).values(last_seen_at=seen))
    assert logged_in(browser)
    assert sessions_of(user)[0].last_seen_at == seen  # thirty seconds ago: not written again


def test_the_user_and_the_session_are_loaded_in_one_query(app, create_user, count_queries):
    user = create_user(SAKAI)
    browser = new_client(app, user)
    with count_queries() as queries:
        assert browser.get("/settings/notifications").status_code == 200
    loads = [q for q in queries.statements if "user_session" in q.lower()]
    assert len(loads) == 1, loads
    assert (
        "user_1.organization_id" in loads[0] and "organization_1" in loads[0]
    )  # the user and their organization come with it
    assert not [q for q in queries.statements if q.lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE"))]


def test_password_change_ends_the_other_sessions_and_keeps_this_one(app, create_user):
    user = create_user(SAKAI)
    here, elsewhere = new_client(app, user), new_client(app, user)
    response = here.post(
        "/profile/password",
        data={
            "current_password": PASSWORD,
            "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert logged_in(here) and not logged_in(elsewhere)
    assert open_sessions(user) == 1


def test_deactivation_ends_every_session_at_once(app, create_user):
    admin = create_user(SAKAI, role="admin", email="admin@city.fukui-sakai.lg.jp")
    colleague = create_user(SAKAI, email="leaving@city.fukui-sakai.lg.jp")
    theirs = new_client(app, colleague)
    assert logged_in(theirs)
    assert new_client(app, admin).post(f"/organization/members/{colleague.id}/deactivate").status_code == 302
    assert not logged_in(theirs)
    assert open_sessions(colleague) == 0
    [ended] = events(SecurityEventKind.SESSION_ENDED, colleague)
    assert ended.actor_id == admin.id


def test_the_sessions_page_lists_them_and_ends_one_or_all_others(app, create_user):
    user = create_user(SAKAI)
    here = new_client(app, user)
    phone = signed_in_with(app, user, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1")
    office = signed_in_with(app, user, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0 Safari/537.36")
    response = here.get("/settings/sessions")
    page, text = page_of(response), response.get_data(as_text=True)
    assert "Safari / iPhone" in text and "Chrome / Windows" in text and "この画面" in text
    forms = [f for f in page.all("form") if f.attrs.get("action", "").endswith("/end")]
    assert len(forms) == 2  # every session but this one has a button

    phone_row = next(r for r in sessions_of(user) if "iPhone" in r.user_agent)
    assert here.post(f"/settings/sessions/{phone_row.id}/end").status_code == 302
    assert not logged_in(phone) and logged_in(office) and logged_in(here)

    this_row = next(r for r in sessions_of(user) if r.user_agent.startswith("Werkzeug"))
    refused = here.post(f"/settings/sessions/{this_row.id}/end", follow_redirects=True)
    assert "ログアウトしてください" in refused.get_data(as_text=True) and logged_in(here)

    response = here.post("/settings/sessions/end-others", follow_redirects=True)
    assert "ほかのセッションを 1 件終了しました。" in response.get_data(as_text=True)
    assert logged_in(here) and not logged_in(office)
    assert open_sessions(user) == 1


def test_no_one_ends_a_session_of_someone_else(app, create_user):
    owner = create_user(SAKAI, email="owner@city.fukui-sakai.lg.jp")
    other = create_user(SAKAI, email="other@city.fukui-sakai.lg.jp")
    owners = new_client(app, owner)
    [row] = sessions_of(owner)
    new_client(app, other).post(f"/settings/sessions/{row.id}/end")
    assert logged_in(owners)


def test_recent_sign_ins_show_failures_too(app, client, create_user):
    user = create_user(SAKAI)
    client.post("/login", data={"email": user.email, "password": "not-the-password"})
    browser = new_client(app, user)
    page = browser.get("/settings/sessions").get_data(as_text=True)
    assert "ログイン失敗" in page and "ログイン" in page
    [failed] = events(SecurityEventKind.LOGIN_FAILED, user)
    assert failed.detail == "password"


def test_expire_deletes_ended_sessions(app, create_user):
    user = create_user(SAKAI)
    new_client(app, user)
    new_client(app, user)
    first, _second = sessions_of(user)
    db.session.execute(
        update(UserSession).where(UserSession.id == first.id).values(last_seen_at=utcnow() - timedelta(days=1))
    )
    result = app.test_cli_runner().invoke(args=["expire"])
    assert "deleted 1 ended session(s)" in result.output, result.output
    assert [r.id for r in sessions_of(fresh(user))] == [_second.id]


def test_a_page_read_sends_no_cookie_and_loads_the_user_once(app, create_user, count_queries):
    user = create_user(SAKAI)
    browser = new_client(app, user)
    assert browser.get("/guide").status_code == 200  # whatever the first page after sign-in sets
    with count_queries() as queries:
        response = browser.get("/guide")
    assert response.status_code == 200
    assert not response.headers.getlist("Set-Cookie")  # the session cookie is not signed and sent again
    users = [q for q in queries.statements if 'from "user"' in q.lower() or "from user " in q.lower()]
    assert len(users) <= 1, users  # never again after the view (a rollback would have expired it)
    assert len(queries.statements) == 1, queries.statements
