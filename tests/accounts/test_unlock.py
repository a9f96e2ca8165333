"""The doubling wait per account and address, the guard against a guess spread over many addresses, and the
unlock link that lets the owner in."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bulletin.accounts.throttle import delay_after
from bulletin.core.security_events import SecurityEvent
from bulletin.extensions import db
from tests.constants import PASSWORD, SAKAI
from tests.factories import link_in, new_client, open_sessions

WRONG = "wrong-password-123"


def attempt(app, email, password=WRONG, address="192.0.2.1"):
    return new_client(app).post(
        "/login", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def age_events(seconds: float) -> None:
    """As if `seconds` had passed since every recorded event."""
    for event in db.session.scalars(select(SecurityEvent)):
        event.created_at -= timedelta(seconds=seconds)
    db.session.flush()


def kinds(user) -> list[str]:
    query = select(SecurityEvent.kind).where(SecurityEvent.user_id == user.id).order_by(SecurityEvent.id)
    return [kind.value for kind in db.session.scalars(query)]


def test_the_wait_doubles_after_each_failure(app):
    assert [delay_after(n) for n in range(8)] == [0, 0, 0, 2, 4, 8, 16, 32]
    assert delay_after(30) == app.config["LOGIN_DELAY_MAX_SECONDS"]


def test_the_address_waits_and_is_told_how_long(app, create_user):
    user = create_user(SAKAI)
    for _ in range(3):
        assert attempt(app, user.email).status_code == 200
    waiting = attempt(app, user.email, PASSWORD)
    text = waiting.get_data(as_text=True)
    assert waiting.status_code == 429 and "2 秒後まで受け付けません" in text
    assert "制限を解除するリンクをメールで受け取る" in text
    age_events(2)
    assert attempt(app, user.email).status_code == 200  # the fourth failure: now four seconds
    assert "4 秒後まで" in attempt(app, user.email).get_data(as_text=True)
    age_events(4)
    assert attempt(app, user.email, PASSWORD).status_code == 302
    assert kinds(user).count("login_throttled") == 1  # noted once, when the wait began
    assert kinds(user).count("login_failed") == 4  # the tries that had to wait were not even checked


def test_a_guess_spread_over_many_addresses_needs_the_owners_mail_from_a_new_address(app, create_user, outbox):
    user = create_user(SAKAI)
    assert attempt(app, user.email, PASSWORD, address="10.1.1.1").status_code == 302  # the office
    for number in range(app.config["LOGIN_ACCOUNT_GUARD"]):
        assert attempt(app, user.email, address=f"198.51.100.{number}").status_code == 200

    stopped = attempt(app, user.email, PASSWORD, address="203.0.113.50")  # the right password, from a new place
    assert stopped.status_code == 200 and "リンクをお送りしました" in stopped.get_data(as_text=True)
    assert open_sessions(user) == 1
    [mail] = outbox(user.email)
    assert mail.kind == "account_unlock" and "パスワードの誤りが続いています" in mail.body

    assert attempt(app, user.email, PASSWORD, address="10.1.1.1").status_code == 302  # the office still works

    path = link_in(mail.body, "/login/unlock/")
    browser = new_client(app)
    assert browser.get(path).status_code == 200  # a mail scanner opening it changes nothing
    assert attempt(app, user.email, PASSWORD, address="203.0.113.50").status_code == 200
    done = browser.post(path)
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    assert attempt(app, user.email, PASSWORD, address="203.0.113.50").status_code == 302
    used = browser.post(path)
    assert used.status_code == 400 and "すでに使われています" in used.get_data(as_text=True)
    assert "unlocked" in kinds(user) and "unlock_sent" in kinds(user)


def test_an_unlock_link_can_be_asked_for_and_ends_the_wait_everywhere(app, create_user, outbox):
    user = create_user(SAKAI)
    for _ in range(3):
        attempt(app, user.email)
    assert attempt(app, user.email, PASSWORD).status_code == 429
    browser = new_client(app)
    asked = browser.post("/login/unlock", data={"email": user.email.upper()}, follow_redirects=True)
    assert "リンクをお送りしました" in asked.get_data(as_text=True)
    nobody = browser.post("/login/unlock", data={"email": "nobody@example.jp"}, follow_redirects=True)
    assert "リンクをお送りしました" in nobody.get_data(as_text=True)  # the same answer
    [mail] = outbox(user.email)
    assert outbox("nobody@example.jp") == []
    browser.post(link_in(mail.body, "/login/unlock/"))
    assert attempt(app, user.email, PASSWORD).status_code == 302


def test_a_stranger_cannot_fill_the_owners_mailbox_with_unlock_links(app, create_user, outbox):
    user = create_user(SAKAI)
    browser = new_client(app)
    for _ in range(10):
        browser.post("/login/unlock", data={"email": user.email})
    assert len(outbox(user.email)) == app.config["ACCOUNT_MAILS_PER_HOUR"]


def test_bad_unlock_requests_and_links_change_nothing(app, client, create_user):
    user = create_user(SAKAI)
    for data in ({"email": ""}, {"email": "no-at-sign"}, {"email": "a\x00@example.jp"}, {}):
        response = client.post("/login/unlock", data=data, follow_redirects=True)
        assert response.status_code == 200 and "メールアドレスを入力してください。" in response.get_data(as_text=True)
    for token in ("garbage", "x" * 500):
        assert client.get(f"/login/unlock/{token}").status_code == 200
        assert client.post(f"/login/unlock/{token}").status_code == 400
    assert kinds(user) == []
