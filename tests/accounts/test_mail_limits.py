"""Mail that anyone can have sent to an address (a registration, a password reset, an invitation) is limited twice:
per sender address by the rate limiter, and to at most three such mails an hour to one address, whoever asks and from
wherever, so that nobody can fill an officer's mailbox with the board's name on it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from bulletin.core.db import utcnow
from bulletin.extensions import db, limiter
from bulletin.notifications.models import OutboxMessage
from tests.constants import SAKAI
from tests.factories import (
    limiter_state_preserved,
    make_test_app,
    new_client,
    registration_form,
    sharing_test_connection,
)

KINDS = ("confirm_email", "already_registered", "password_reset", "invitation")


def mails_to(address: str) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.recipient == address, OutboxMessage.kind.in_(KINDS))
    )


def register_as(app: Flask, email: str, number: int):
    return new_client(app).post(
        "/register", data=registration_form(email=email), environ_base={"REMOTE_ADDR": f"198.51.100.{number}"}
    )


def test_twenty_registrations_with_a_victims_address_send_it_at_most_three_mails(app, create_user):
    victim = create_user(SAKAI)
    for number in range(20):
        response = register_as(app, victim.email, number)
        assert (response.status_code, response.headers["Location"]) == (302, "/register/sent")
    assert mails_to(victim.email) == 3


def test_registrations_and_password_resets_share_the_limit_and_it_opens_again_after_an_hour(app, create_user):
    victim = create_user(SAKAI)
    for number in range(2):
        register_as(app, victim.email, number)
    for number in range(5):
        response = new_client(app).post(
            "/password/forgot", data={"email": victim.email}, environ_base={"REMOTE_ADDR": f"203.0.113.{number}"}
        )
        assert response.status_code == 200  # the same answer whether or not a mail went
    assert mails_to(victim.email) == 3
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.recipient == victim.email)
        .values(created_at=utcnow() - timedelta(minutes=61))
    )
    db.session.commit()
    new_client(app).post("/password/forgot", data={"email": victim.email})
    assert mails_to(victim.email) == 4


def test_a_new_registration_still_gets_its_confirmation(app):
    response = register_as(app, "new.officer@city.fukui-sakai.lg.jp", 1)
    assert response.status_code == 302
    assert mails_to("new.officer@city.fukui-sakai.lg.jp") == 1


@pytest.fixture
def limited_app(app, database_url, tmp_path) -> Iterator[Flask]:
    """An app with rate limits on, writing inside the test's rolled-back transaction."""
    with limiter_state_preserved():
        second = make_test_app(database_url, tmp_path, RATELIMIT_ENABLED=True)
        with sharing_test_connection(second, app):
            limiter.reset()
            try:
                yield second
            finally:
                limiter.reset()


@pytest.mark.parametrize("path", ["/register", "/password/forgot"])
def test_one_sender_address_may_ask_for_ten_mails_an_hour(limited_app, path):
    for number in range(10):
        data = registration_form(email=f"someone{number}@city.fukui-sakai.lg.jp")
        response = new_client(limited_app).post(path, data=data, environ_base={"REMOTE_ADDR": "192.0.2.50"})
        assert response.status_code in (200, 302)
    refused = new_client(limited_app).post(path, data=registration_form(), environ_base={"REMOTE_ADDR": "192.0.2.50"})
    assert refused.status_code == 429
    other = new_client(limited_app).post(path, data=registration_form(), environ_base={"REMOTE_ADDR": "192.0.2.51"})
    assert other.status_code in (200, 302)
