"""Helpers shared by the views of every domain."""

from __future__ import annotations

from collections.abc import Callable

from flask import flash

from bulletin.core.errors import DomainError
from bulletin.extensions import db


def commit_or_flash(action: Callable[[], object], success: str) -> bool:
    """Run a service call as the request's one transaction: commit and flash `success`, or roll back and flash
    the rule's message. Returns whether it succeeded."""
    try:
        action()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return False
    db.session.commit()
    flash(success, "success")
    return True
