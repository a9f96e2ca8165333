"""Every e-mail's text, in Japanese and English, compared with the saved expected text.

Run with UPDATE_EXPECTED=1 to rewrite the saved files after an intended change, then read the diff.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from bulletin.accounts.models import EmailChange, Invitation, OrgRole, UserState
from bulletin.core import signals
from bulletin.core.db import utcnow
from bulletin.extensions import db
from tests.constants import SAKAI

EXPECTED = Path(__file__).parent / "expected"


def _normalise(text: str) -> str:
    return re.sub(r"(/(?:confirm|password/reset|invitations)/)[A-Za-z0-9._-]+", r"\1TOKEN", text)


def _events(user, moderator, invitation, colleague):
    change = EmailChange(user_id=user.id, old_email=user.email, new_email="hanako@fukui-sakai.example.jp")
    change.user = user
    review = {"organization": user.organization, "fiscal_year": 2027, "reminders_until": date(2027, 4, 30)}
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
        "two_factor_changed": lambda: signals.two_factor_changed.send(None, user=user, change="enabled"),
        "invitation": lambda: signals.user_invited.send(user, invitation=invitation, token="t"),
        "email_change_confirm": lambda: signals.email_change_requested.send(
            user, user=user, new_email=change.new_email, token="t", needs_review=True
        ),
        "email_change_requested": lambda: signals.email_change_requested.send(
            user, user=user, new_email=change.new_email, token="t", needs_review=True
        ),
        "email_change_address_taken": lambda: signals.email_change_address_taken.send(
            colleague, user=colleague, new_email=user.email, owner=user, needs_review=False
        ),
        "email_changed": lambda: signals.email_changed.send(
            moderator, user=user, old_email="hanako.old@city.fukui-sakai.lg.jp", moderator=moderator
        ),
        "email_change_rejected": lambda: signals.email_change_rejected.send(
            moderator, change=change, moderator=moderator, reason="団体のアドレスであることを確認できませんでした。"
        ),
        "email_change_pending": lambda: signals.email_change_awaiting_review.send(user, change=change),
        "staff_review_reminder": lambda: signals.staff_review_reminder_due.send(
            None, recipients=[user], staff=[user, colleague], **review
        ),
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


# Mail sent to the account's address and to the other one of the change: the text is the same, one is compared.
TO_THE_ACCOUNT = {"email_changed", "email_change_rejected", "email_change_address_taken"}


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
        "two_factor_changed",
        "invitation",
        "email_change_confirm",
        "email_change_requested",
        "email_change_address_taken",
        "email_changed",
        "email_change_rejected",
        "email_change_pending",
        "staff_review_reminder",
        "account_suspended",
        "account_reinstated",
        "organization_suspended",
        "organization_reinstated",
        "inactivity_warning",
    ],
)
def test_email_text_matches_the_saved_text(app, create_user, moderator, outbox, kind, locale):
    user = create_user(SAKAI, email="hanako@city.fukui-sakai.lg.jp", name="坂井 花子", state=UserState.PENDING)
    user.role = OrgRole.ADMIN
    colleague = create_user(SAKAI, email="taro@city.fukui-sakai.lg.jp", name="坂井 太郎")
    colleague.leaves_after = date(2027, 3, 31)
    user.locale = colleague.locale = locale
    moderator.locale = locale
    invitation = _invitation(user, locale)
    with app.test_request_context():
        _events(user, moderator, invitation, colleague)[kind]()
    db.session.flush()
    [message] = [m for m in outbox() if m.kind == kind and (kind not in TO_THE_ACCOUNT or m.recipient == user.email)]
    assert_saved_text(message, f"{kind}.{locale}", _normalise)


def assert_saved_text(message, name: str, normalise: Callable[[str], str]) -> None:
    """The mail is the saved expected/<name>.txt (its subject and body, normalised), with every link alone on its
    line; UPDATE_EXPECTED=1 saves it instead."""
    actual = f"Subject: {message.subject}\n\n{normalise(message.body)}"
    path = EXPECTED / f"{name}.txt"
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
