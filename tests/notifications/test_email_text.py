"""Every e-mail's text, in Japanese and English, compared with the saved expected text.

Run with UPDATE_EXPECTED=1 to rewrite the saved files after an intended change, then read the diff.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

import pytest

from bulletin.accounts.models import Invitation, UserState
from bulletin.core import signals
from bulletin.core.db import utcnow
from bulletin.extensions import db
from tests.constants import SAKAI

EXPECTED = Path(__file__).parent / "expected"


def _normalise(text: str) -> str:
    return re.sub(r"(/(?:confirm|password/reset|invitations)/)[A-Za-z0-9._-]+", r"\1TOKEN", text)


def _events(user, moderator, invitation):
    return {
        "confirm_email": lambda: signals.user_registered.send(None, user=user, token="t"),
        "already_registered": lambda: signals.registration_attempt_on_existing.send(None, user=user),
        "registration_pending": lambda: signals.user_confirmed.send(None, user=user, awaiting_approval=True),
        "user_approved": lambda: signals.user_approved.send(moderator, user=user, moderator=moderator),
        "user_rejected": lambda: signals.user_rejected.send(
            moderator, user=user, moderator=moderator, reason="所属を確認できませんでした。"
        ),
        "password_reset": lambda: signals.password_reset_requested.send(None, user=user, token="t"),
        "password_changed": lambda: signals.password_changed.send(None, user=user),
        "invitation": lambda: signals.user_invited.send(user, invitation=invitation, token="t"),
        "account_suspended": lambda: signals.account_suspended.send(
            moderator, user=user, moderator=moderator, reason="規約に反する投稿を繰り返したため。"
        ),
        "account_reinstated": lambda: signals.account_reinstated.send(moderator, user=user, moderator=moderator),
        "organization_suspended": lambda: signals.organization_suspended.send(
            moderator, organization=user.organization, moderator=moderator, reason="会費の未納のため。", staff=[user]
        ),
        "organization_reinstated": lambda: signals.organization_reinstated.send(
            moderator, organization=user.organization, moderator=moderator, staff=[user]
        ),
        "inactivity_warning": lambda: signals.inactivity_warning.send(
            None, user=user, months=13, suspend_on=date(2026, 12, 31)
        ),
    }


@pytest.mark.parametrize("locale", ["ja", "en"])
@pytest.mark.parametrize(
    "kind",
    [
        "confirm_email",
        "already_registered",
        "registration_pending",
        "user_approved",
        "user_rejected",
        "password_reset",
        "password_changed",
        "invitation",
        "account_suspended",
        "account_reinstated",
        "organization_suspended",
        "organization_reinstated",
        "inactivity_warning",
    ],
)
def test_email_text_matches_the_saved_text(app, create_user, moderator, outbox, kind, locale):
    user = create_user(SAKAI, email="hanako@city.fukui-sakai.lg.jp", name="坂井 花子", state=UserState.PENDING)
    user.locale = locale
    moderator.locale = locale
    invitation = _invitation(user, locale)
    with app.test_request_context():
        _events(user, moderator, invitation)[kind]()
    db.session.flush()
    [message] = [m for m in outbox() if m.kind == kind]
    actual = f"Subject: {message.subject}\n\n{_normalise(message.body)}"
    path = EXPECTED / f"{kind}.{locale}.txt"
    if os.environ.get("UPDATE_EXPECTED"):
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8")
    for line in message.body.splitlines():
        if "http" in line:
            assert re.fullmatch(r"https?://\S+", line), f"a link must stand alone on its line: {line!r}"


def _invitation(user, locale):
    invitation = Invitation(
        organization_id=user.organization_id,
        email="colleague@city.fukui-sakai.lg.jp",
        token_hash="x" * 64,
        expires_at=utcnow(),
    )
    invitation.organization = user.organization
    return invitation
