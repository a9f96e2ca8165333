"""Login throttling: wrong passwords slow the address they come from, for that account (a doubling wait) and for
every account (a limit per address); they never lock the account for its owner elsewhere. Successful logins do not
count, and start the count again.

Flask-Limiter reads RATELIMIT_ENABLED once, in init_app: with it off (the testing default) the limiter never
installs the hooks that count failed logins, so turning the setting on in the `app` fixture's config does
nothing. These tests build a second app with rate limits on, bound to the `app` fixture's connection so that
everything it writes is rolled back with the test, and put the shared `limiter` back as it was afterwards.
"""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from bulletin.accounts import services
from bulletin.accounts.models import User, UserState
from bulletin.config import Config
from bulletin.core.security_events import SecurityEvent
from bulletin.extensions import db, limiter
from tests.constants import PASSWORD, SAKAI, SHINAGAWA
from tests.factories import limiter_state_preserved, make_test_app, new_client, sharing_test_connection

THROTTLED = "短時間に操作が繰り返されたため、しばらく受け付けを止めています。時間をおいてもう一度お試しください。"
BAD_CREDENTIALS = "メールアドレスまたはパスワードが正しくありません。"


@pytest.fixture
def throttled_app(app, database_url, tmp_path) -> Iterator[Flask]:
    """An app with rate limits on, writing inside the test's rolled-back transaction."""
    with limiter_state_preserved():
        second = make_test_app(database_url, tmp_path, RATELIMIT_ENABLED=True)
        assert limiter.enabled
        with sharing_test_connection(second, app):
            limiter.reset()
            try:
                yield second
            finally:
                limiter.reset()


def wait_out_the_delay() -> None:
    """Move every recorded failure back by the longest delay, as if the address had waited."""
    for event in db.session.scalars(select(SecurityEvent)):
        event.created_at -= timedelta(seconds=Config.LOGIN_DELAY_MAX_SECONDS)
    db.session.flush()


def attempt(app, email, password="wrong-password-123", address="192.0.2.1"):
    """One login from a new browser at the given address."""
    return new_client(app).post(
        "/login", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def test_limits_are_configured():
    assert not hasattr(Config, "LOGIN_LIMIT_PER_ACCOUNT")  # no lock of an account that anyone could set off
    assert Config.LOGIN_LIMIT_PER_ADDRESS == "30 per 15 minutes"
    assert (Config.LOGIN_FREE_TRIES, Config.LOGIN_DELAY_BASE_SECONDS, Config.LOGIN_ACCOUNT_GUARD) == (3, 2, 20)


def test_wrong_passwords_from_one_address_do_not_stop_the_right_password_from_another(throttled_app, create_user):
    user = create_user(SAKAI)
    answers = [attempt(throttled_app, user.email, address="127.0.0.2").status_code for _ in range(5)]
    assert answers == [200, 200, 200, 429, 429]  # the stranger's address waits
    assert attempt(throttled_app, user.email, PASSWORD, address="127.0.0.3").status_code == 302
    db.session.expire_all()
    assert db.session.scalar(select(User.last_login_at).where(User.id == user.id)) is not None


def test_unknown_addresses_are_slowed_like_known_ones(throttled_app, create_user):
    user = create_user(SAKAI)
    known = [attempt(throttled_app, user.email, address="203.0.113.9").status_code for _ in range(5)]
    unknown = [attempt(throttled_app, "nobody@example.jp", address="203.0.113.9").status_code for _ in range(5)]
    assert known == unknown == [200, 200, 200, 429, 429]  # the answers reveal no account


def test_failed_logins_are_limited_per_address(throttled_app, create_user):
    user = create_user(SHINAGAWA)
    for number in range(30):
        assert attempt(throttled_app, f"guess{number}@example.jp", address="192.0.2.50").status_code == 200
    assert attempt(throttled_app, "guess-next@example.jp", address="192.0.2.50").status_code == 429
    assert attempt(throttled_app, user.email, PASSWORD, address="192.0.2.50").status_code == 429
    assert attempt(throttled_app, user.email, PASSWORD, address="192.0.2.51").status_code == 302


def test_successful_logins_do_not_count_and_start_the_count_again(throttled_app, create_user):
    user = create_user(SAKAI)
    for _ in range(8):
        assert attempt(throttled_app, user.email, PASSWORD).status_code == 302
    for _ in range(3):
        assert attempt(throttled_app, user.email).status_code == 200
    assert attempt(throttled_app, user.email, PASSWORD).status_code == 429  # waiting, even with the right one
    wait_out_the_delay()
    assert attempt(throttled_app, user.email, PASSWORD).status_code == 302
    for _ in range(3):  # the sign-in started the count again
        assert attempt(throttled_app, user.email).status_code == 200


def test_showing_the_login_page_does_not_count(throttled_app, create_user):
    user = create_user(SAKAI)
    browser = new_client(throttled_app)
    for _ in range(40):
        assert browser.get("/login").status_code == 200
    assert attempt(throttled_app, user.email, PASSWORD).status_code == 302


def test_password_reset_requests_are_limited_per_address(throttled_app, create_user, outbox):
    user = create_user(SAKAI)
    browser = new_client(throttled_app)
    for _ in range(10):  # MAIL_FORM_LIMIT_PER_ADDRESS
        assert browser.post("/password/forgot", data={"email": user.email}).status_code == 200
    refused = browser.post("/password/forgot", data={"email": user.email})
    assert refused.status_code == 429 and THROTTLED in refused.get_data(as_text=True)
    assert len(outbox(user.email)) == 3  # ACCOUNT_MAILS_PER_HOUR: the rest were answered the same, and not sent


def test_each_test_starts_with_fresh_counters(throttled_app, create_user):
    # test_unknown_addresses_are_limited_like_known_ones used up this account's attempts: nothing carries over
    assert attempt(throttled_app, "nobody@example.jp", address="203.0.113.0").status_code == 200


def test_the_other_apps_are_left_without_limits(app, client, create_user):
    assert not limiter.enabled
    for number in range(40):  # more than LOGIN_LIMIT_PER_ADDRESS, each account tried once
        assert client.post("/login", data={"email": f"guess{number}@example.jp", "password": "x"}).status_code == 200


@pytest.fixture
def throttled_app_showing_errors(app, database_url, tmp_path) -> Iterator[Flask]:
    """As throttled_app, but an unexpected error is answered with the 500 page, as in production."""
    with limiter_state_preserved():
        second = make_test_app(database_url, tmp_path, RATELIMIT_ENABLED=True, TESTING=False)
        with sharing_test_connection(second, app):
            limiter.reset()
            try:
                yield second
            finally:
                limiter.reset()


def test_server_errors_do_not_count_as_failed_logins(throttled_app_showing_errors, create_user, monkeypatch):
    user = create_user(SAKAI)
    real = services.authenticate

    def failing(email, password):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "authenticate", failing)
    for _ in range(8):
        with throttled_app_showing_errors.app_context():  # a plain client: this one is meant to see the 500 page
            browser = FlaskClient(throttled_app_showing_errors, throttled_app_showing_errors.response_class)
            response = browser.post(
                "/login", data={"email": user.email, "password": PASSWORD}, environ_base={"REMOTE_ADDR": "192.0.2.1"}
            )
        assert response.status_code == 500
    monkeypatch.setattr(services, "authenticate", real)
    assert attempt(throttled_app_showing_errors, user.email, password=PASSWORD).status_code == 302


def test_a_right_password_of_an_account_awaiting_approval_does_not_count(throttled_app, create_user):
    user = create_user(SAKAI, state=UserState.PENDING)
    for _ in range(8):
        response = attempt(throttled_app, user.email, password=PASSWORD)
        assert response.status_code == 200 and "事務局の承認をお待ちください" in response.get_data(as_text=True)
    for _ in range(3):
        assert attempt(throttled_app, user.email).status_code == 200
    assert attempt(throttled_app, user.email).status_code == 429  # wrong passwords still count
