"""Login throttling: failed logins are limited per account (whatever the address they come from) and per
address; successful logins do not count.

Flask-Limiter reads RATELIMIT_ENABLED once, in init_app: with it off (the testing default) the limiter never
installs the hooks that count failed logins, so turning the setting on in the `app` fixture's config does
nothing. These tests build a second app with rate limits on, bound to the `app` fixture's connection so that
everything it writes is rolled back with the test, and put the shared `limiter` back as it was afterwards.
"""

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from bulletin.accounts import services
from bulletin.accounts.models import User, UserState
from bulletin.extensions import db, limiter
from tests.constants import PASSWORD, SAKAI, SHINAGAWA
from tests.factories import limiter_state_preserved, make_test_app, new_client, page_of, sharing_test_connection

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


def attempt(app, email, password="wrong-password-123", address="192.0.2.1"):
    """One login from a new browser at the given address."""
    return new_client(app).post(
        "/login", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def test_limits_are_configured():
    from bulletin.config import Config

    assert Config.LOGIN_LIMIT_PER_ACCOUNT == "5 per 15 minutes"
    assert Config.LOGIN_LIMIT_PER_ADDRESS == "30 per 15 minutes"


def test_failed_logins_are_limited_per_account_from_any_address(throttled_app, create_user):
    user = create_user(SAKAI)
    for number in range(1, 6):
        response = attempt(throttled_app, user.email, address=f"198.51.100.{number}")
        assert response.status_code == 200 and BAD_CREDENTIALS in response.get_data(as_text=True)
    sixth = attempt(throttled_app, user.email, address="198.51.100.6")
    assert sixth.status_code == 429
    assert THROTTLED in page_of(sixth).html
    assert "Content-Security-Policy" in sixth.headers  # the error page is a page like the others
    # the same account in other letters, and even the right password, waits too
    assert attempt(throttled_app, user.email.upper(), address="198.51.100.7").status_code == 429
    assert attempt(throttled_app, user.email, PASSWORD, address="198.51.100.8").status_code == 429
    db.session.expire_all()
    assert db.session.scalar(select(User.last_login_at).where(User.id == user.id)) is None
    # another account from those same addresses is not affected
    other = create_user(SAKAI)
    assert attempt(throttled_app, other.email, PASSWORD, address="198.51.100.1").status_code == 302


def test_unknown_addresses_are_limited_like_known_ones(throttled_app):
    statuses = [attempt(throttled_app, "nobody@example.jp", address=f"203.0.113.{n}").status_code for n in range(7)]
    assert statuses == [200] * 5 + [429] * 2


def test_failed_logins_are_limited_per_address(throttled_app, create_user):
    user = create_user(SHINAGAWA)
    for number in range(30):
        assert attempt(throttled_app, f"guess{number}@example.jp", address="192.0.2.50").status_code == 200
    assert attempt(throttled_app, "guess-next@example.jp", address="192.0.2.50").status_code == 429
    assert attempt(throttled_app, user.email, PASSWORD, address="192.0.2.50").status_code == 429
    assert attempt(throttled_app, user.email, PASSWORD, address="192.0.2.51").status_code == 302


def test_successful_logins_do_not_count(throttled_app, create_user):
    user = create_user(SAKAI)
    for _ in range(8):
        assert attempt(throttled_app, user.email, PASSWORD).status_code == 302
    for _ in range(4):
        assert attempt(throttled_app, user.email).status_code == 200
    assert attempt(throttled_app, user.email, PASSWORD).status_code == 302
    assert attempt(throttled_app, user.email).status_code == 200  # the fifth failure is still answered
    assert attempt(throttled_app, user.email, PASSWORD).status_code == 429


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
    user = create_user(SAKAI)
    for _ in range(10):
        assert client.post("/login", data={"email": user.email, "password": "wrong"}).status_code == 200


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
    for _ in range(5):
        assert attempt(throttled_app, user.email).status_code == 200
    assert attempt(throttled_app, user.email).status_code == 429  # wrong passwords still count
