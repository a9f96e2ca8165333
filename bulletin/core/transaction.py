"""The request's one transaction boundary.

A request that may change state (any method but GET, HEAD and OPTIONS) commits once, after its view has returned a
response below 400; a response of 400 or more, a refusal of the rules (`DomainError`) or any other exception rolls
everything back. A read (GET) never commits its transaction: it ends, unwritten, when the request's session is
removed. The few writes a page view makes (read markers) run in short transactions of their own through
`write_separately`, which can never fail the page.

On SQLite, a transaction that may write takes the write lock at its start (`BEGIN IMMEDIATE`): a read snapshot that
later tries to write fails at once when another connection wrote in between, whatever the busy timeout, so a
request that writes waits for its turn up front instead. Reads keep a plain deferred `BEGIN` and never wait.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask, flash, g, redirect, request
from flask.typing import ResponseReturnValue
from flask.wrappers import Response
from werkzeug.wrappers import Response as BaseResponse

from bulletin.core.db import write_intent
from bulletin.core.errors import DomainError, render_error
from bulletin.core.templating import LocalizedEnvironment
from bulletin.core.urls import same_site_referrer
from bulletin.extensions import db

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class TransactionalFlask(Flask):
    """Flask with the board's transaction boundary around every view, and templates compiled per locale."""

    jinja_environment = LocalizedEnvironment

    def full_dispatch_request(self) -> Response:
        token = write_intent.set(request.method not in SAFE_METHODS)
        try:
            return super().full_dispatch_request()
        finally:
            write_intent.reset(token)

    def dispatch_request(self) -> ResponseReturnValue:
        try:
            response = self.make_response(super().dispatch_request())
        except BaseException:
            db.session.rollback()
            raise
        if request.method in SAFE_METHODS:
            # A read ends unwritten when the request's session is removed (teardown), not here: a rollback expires
            # every loaded object, and the after-request hooks would load the signed-in user again.
            return response
        if response.status_code >= 400 or g.get("rollback_only"):
            db.session.rollback()
        else:
            db.session.commit()
        return response


def write_separately(work: Callable[[], object]) -> bool:
    """Run `work` now in a short write transaction of its own and commit it; for the writes a page view makes.

    The request's read transaction ends first (on SQLite a read snapshot cannot become a write). A failure is logged
    and rolled back, never shown: a read marker that could not move must not cost the officer the page.
    """
    session = db.session
    session.rollback()
    token = write_intent.set(True)
    try:
        work()
        session.commit()
    except Exception:
        session.rollback()
        log.exception("a write of a page view failed on %s", request.path if request else "?")
        return False
    finally:
        write_intent.reset(token)
    return True


@dataclass
class Outcome:
    """Whether the work inside `refusal_shown_on` was accepted by the rules."""

    refused: DomainError | None = None

    @property
    def ok(self) -> bool:
        """True when nothing was refused."""
        return self.refused is None


@contextmanager
def refusal_shown_on(form, only: type[DomainError] = DomainError) -> Iterator[Outcome]:
    """Turn a refusal of the rules inside the block into an error on `form` (on its field, else the whole form).

    What the block changed is undone at once (a savepoint), so the form is shown again on the state before it, and
    the request is marked to roll back whatever it answers. With `only`, other refusals leave the block as they are.
    """
    outcome = Outcome()
    try:
        with db.session.begin_nested():
            yield outcome
    except only as error:
        outcome.refused = error
        g.rollback_only = True
        field = getattr(form, error.field, None) if error.field else None
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, error.message] if isinstance(field.errors, list) else [error.message]
        else:
            form.form_errors.append(error.message)


def refused_go_to(location: str) -> None:
    """Where a refusal of the rules in this request sends the user back to, with its message."""
    g.refused_location = location


def refused_location() -> str | None:
    """The location set by `refused_go_to`, if any."""
    return g.get("refused_location")


def carry_out(
    action: Callable[[], object], success: str, then: str, *, form: Any = None, incomplete: str = ""
) -> BaseResponse:
    """Carry out a decision and go to `then` with the success message; when the rules refuse it, the boundary rolls
    the request back and the user lands on `then` with the refusal's message instead. With a `form`, an invalid one
    changes nothing and goes back to `then` saying `incomplete`."""
    if form is not None and not form.validate_on_submit():
        flash(incomplete, "error")
        return redirect(then)
    refused_go_to(then)
    action()
    flash(success, "success")
    return redirect(then)


def init_transactions(app: Flask) -> None:
    """Show a refusal of the rules that leaves a view: roll back (done by the boundary), then say why."""

    @app.errorhandler(DomainError)
    def refused(error: DomainError):
        db.session.rollback()
        if request.path.startswith("/api/"):
            return render_error(422, error.message)
        location = refused_location() or same_site_referrer()
        if location:
            flash(error.message, "error")
            return redirect(location)
        return render_error(409, error.message)
