"""The request's one transaction boundary (bulletin/core/transaction.py), on routes of a second app made for the test
and sharing the test's rolled-back connection: what a view writes is committed only when it answers below 400 to a
request that may write; refusals, errors and page views write nothing; a page view's own write cannot fail it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask, redirect
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from bulletin.accounts.models import User
from bulletin.core.errors import DomainError
from bulletin.core.transaction import carry_out, refusal_shown_on, refused_go_to, write_separately
from bulletin.extensions import db
from tests.factories import limiter_state_preserved, make_test_app, sharing_test_connection

ORIGINAL = "坂井 花子"
CHANGED = "書き換えられた名前"


class NameForm:
    """The least a view's form needs for refusal_shown_on: fields with errors, and errors of the whole form."""

    class Field:
        errors: list[str]

        def __init__(self):
            self.errors = []

    def __init__(self):
        self.name = self.Field()
        self.form_errors: list[str] = []


def rename(user_id: int) -> None:
    db.session.get(User, user_id).name = CHANGED
    db.session.flush()


@pytest.fixture
def bounded(app, database_url, tmp_path, create_user) -> Iterator[tuple[Flask, int]]:
    """A second app with routes that write and then answer in every way a view can, and the id of the user they
    rename; its commits land in the test's rolled-back transaction."""
    user_id = create_user(name=ORIGINAL).id
    with limiter_state_preserved():
        second = make_test_app(database_url, tmp_path, TESTING=False, WTF_CSRF_ENABLED=False)

    @second.post("/t/ok")
    def write_ok():
        rename(user_id)
        return "renamed"

    @second.post("/t/redirect")
    def write_and_redirect():
        rename(user_id)
        return redirect("/t/landed")

    @second.post("/t/400")
    def write_then_400():
        rename(user_id)
        return "refused", 400

    @second.post("/t/refused")
    def write_then_refused():
        refused_go_to("/t/landed")
        rename(user_id)
        raise DomainError("この操作はできません。")

    @second.post("/t/carry-out")
    def carry_out_refused():
        def refused():
            rename(user_id)
            raise DomainError("この操作はできません。")

        return carry_out(refused, "できました。", "/t/landed")

    @second.post("/t/form")
    def refusal_on_the_form():
        form = NameForm()
        with refusal_shown_on(form) as outcome:
            rename(user_id)
            raise DomainError("名前が正しくありません。", field="name")
        name_now = db.session.get(User, user_id).name  # the form is shown again on the state before the block
        return f"{outcome.ok}|{form.name.errors[0]}|{name_now}", 200

    @second.post("/t/crash")
    def write_then_crash():
        rename(user_id)
        raise RuntimeError("a bug")

    @second.get("/t/read")
    def write_on_a_page_view():
        rename(user_id)
        return "a page"

    @second.get("/t/marker")
    def page_whose_marker_fails():
        def failing_marker():
            raise OperationalError("UPDATE conversation_read", {}, Exception("database is locked"))

        moved = write_separately(failing_marker)
        return f"a page; marker moved: {moved}"

    @second.get("/t/marker-ok")
    def page_whose_marker_moves():
        return f"a page; marker moved: {write_separately(lambda: rename(user_id))}"

    @second.post("/t/refused-nowhere")
    def refused_without_a_place():
        rename(user_id)
        raise DomainError("この操作はできません。")

    with sharing_test_connection(second, app):
        yield second, user_id


def name_of(user_id: int) -> str:
    db.session.expire_all()
    return db.session.scalar(select(User.name).where(User.id == user_id))


def client_of(app: Flask) -> FlaskClient:
    """A plain client: some of these routes answer 500 on purpose."""
    return FlaskClient(app, app.response_class, use_cookies=True)


def request(app: Flask, method: str, path: str, **kwargs):
    with app.app_context():
        return client_of(app).open(path, method=method, **kwargs)


@pytest.mark.parametrize("path", ["/t/ok", "/t/redirect"])
def test_a_request_that_writes_commits_when_its_view_answers_below_400(bounded, path):
    app, user_id = bounded
    assert request(app, "POST", path).status_code in (200, 302)
    assert name_of(user_id) == CHANGED


def test_an_answer_of_400_or_more_rolls_back_what_the_view_wrote(bounded):
    app, user_id = bounded
    assert request(app, "POST", "/t/400").status_code == 400
    assert name_of(user_id) == ORIGINAL


def flashed(browser: FlaskClient) -> list[tuple[str, str]]:
    with browser.session_transaction() as session:
        return list(session.get("_flashes", []))


@pytest.mark.parametrize("path", ["/t/refused", "/t/carry-out"])
def test_a_refusal_rolls_back_and_sends_the_user_where_the_view_said_with_its_message(bounded, path):
    app, user_id = bounded
    with app.app_context():
        browser = client_of(app)
        response = browser.post(path, headers={"Referer": "http://localhost/posts"})
        assert (response.status_code, response.headers["Location"]) == (302, "/t/landed")
        assert flashed(browser) == [("error", "この操作はできません。")]
    assert name_of(user_id) == ORIGINAL


def test_a_refusal_goes_back_to_the_page_the_form_was_on_or_else_is_a_409_page(bounded):
    app, user_id = bounded
    with app.app_context():
        browser = client_of(app)
        back = browser.post("/t/refused-nowhere", headers={"Referer": "http://localhost/posts?page=2"})
        assert (back.status_code, back.headers["Location"]) == (302, "/posts?page=2")
        assert flashed(browser) == [("error", "この操作はできません。")]
        for referrer in ({}, {"Referer": "https://elsewhere.example/posts"}):
            page = client_of(app).post("/t/refused-nowhere", headers=referrer)
            assert page.status_code == 409 and "この操作はできません。" in page.get_data(as_text=True)
    assert name_of(user_id) == ORIGINAL


def test_a_refusal_on_a_form_is_shown_on_its_field_on_the_state_before_the_block(bounded):
    app, user_id = bounded
    response = request(app, "POST", "/t/form")
    assert response.get_data(as_text=True) == f"False|名前が正しくありません。|{ORIGINAL}"
    assert name_of(user_id) == ORIGINAL  # answered 200, yet rolled back: a refusal marks the request


def test_an_error_rolls_back_and_is_a_500(bounded):
    app, user_id = bounded
    assert request(app, "POST", "/t/crash").status_code == 500
    assert name_of(user_id) == ORIGINAL


def test_a_page_view_never_commits(bounded):
    app, user_id = bounded
    assert request(app, "GET", "/t/read").status_code == 200
    assert name_of(user_id) == ORIGINAL


def test_a_page_views_own_write_commits_and_one_that_fails_never_fails_the_page(bounded, caplog):
    app, user_id = bounded
    failing = request(app, "GET", "/t/marker")
    assert (failing.status_code, failing.get_data(as_text=True)) == (200, "a page; marker moved: False")
    assert "a write of a page view failed on /t/marker" in caplog.text
    moving = request(app, "GET", "/t/marker-ok")
    assert (moving.status_code, moving.get_data(as_text=True)) == (200, "a page; marker moved: True")
    assert name_of(user_id) == CHANGED
