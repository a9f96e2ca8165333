"""Fixtures of the responses tests: the people and the post factory of the posts tests, a published proposal of
坂井市 and 品川区's answer to it, and helpers that take a partnership through its steps with the real verbs."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date

import pytest
from PIL import Image
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from bulletin.extensions import db
from bulletin.posts.models import Post
from bulletin.responses import services
from bulletin.responses.models import Message, Partnership, Response, ResponseKind
from bulletin.responses.services import OutcomeInput
from tests.posts import conftest as posts_fixtures
from tests.posts.conftest import PDF, People

people = posts_fixtures.people  # the fixtures of the posts tests serve here too
make_post = posts_fixtures.make_post

FIRST_MESSAGE = "しながわ水族館でPRイベントを開けます。"


def outcome(**overrides) -> OutcomeInput:
    """The outcome of the model case, which any test may change."""
    values = {
        "title": "しながわ水族館で黄金がにPR",
        "held_from": date(2015, 11, 18),
        "held_until": date(2015, 11, 23),
        "venue": "しながわ水族館",
        "summary": "坂井市の黄金がにを区民に紹介した。",
    }
    values.update(overrides)
    return OutcomeInput(**values)


def image_upload(name: str = "kani.jpg", fmt: str = "JPEG", size: tuple[int, int] = (40, 30)) -> FileStorage:
    """An image as the browser sends it."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 120, 30)).save(buffer, format=fmt)
    buffer.seek(0)
    return FileStorage(stream=buffer, filename=name)


def pdf_upload(name: str = "報告書.pdf") -> FileStorage:
    """A PDF as the browser sends it."""
    return FileStorage(stream=io.BytesIO(PDF), filename=name)


def count(model) -> int:
    """Rows of a table, as the database has them now."""
    return db.session.scalar(select(func.count()).select_from(model))


def messages_in(conversation_id: int) -> list[str]:
    """The bodies of a conversation's messages, in order."""
    statement = select(Message.body).where(Message.conversation_id == conversation_id).order_by(Message.id)
    return list(db.session.scalars(statement))


@pytest.fixture
def proposal(people: People, make_post) -> Post:
    """坂井市's published proposal."""
    return make_post(people.sakai, title="黄金がにのPRイベント")


@pytest.fixture
def answer(people: People, proposal: Post) -> Response:
    """品川区's answer to the proposal, committed."""
    response = services.respond(people.shinagawa, proposal, ResponseKind.INTEREST, FIRST_MESSAGE)
    db.session.commit()
    return response


@pytest.fixture
def partnership(people: People, answer: Response) -> Partnership:
    """坂井市 accepted 品川区's answer; no outcome yet."""
    record = services.accept_response(people.sakai, answer)
    db.session.commit()
    return record


@pytest.fixture
def with_outcome(people: People, partnership: Partnership) -> Partnership:
    """The partnership with its outcome recorded by 品川区."""
    services.update_outcome(people.shinagawa, partnership, outcome())
    db.session.commit()
    return partnership


@pytest.fixture
def consented(people: People, with_outcome: Partnership) -> Partnership:
    """The partnership with both sides' consent to publication."""
    services.consent_to_publication(people.sakai, with_outcome)
    services.consent_to_publication(people.shinagawa, with_outcome)
    db.session.commit()
    return with_outcome


@pytest.fixture
def case(people: People, consented: Partnership) -> Partnership:
    """The partnership published as a public case."""
    services.publish_case(people.moderator, consented)
    db.session.commit()
    return consented


@pytest.fixture
def respond_as() -> Callable[..., Response]:
    """Factory: a committed answer of the actor to the post."""

    def respond(actor, post: Post, message: str = FIRST_MESSAGE, kind: ResponseKind = ResponseKind.INTEREST):
        response = services.respond(actor, post, kind, message)
        db.session.commit()
        return response

    return respond
