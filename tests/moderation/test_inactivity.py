"""Accounts unused for 13 months are suspended by `bulletin expire`, after one warning e-mail 30 days before; the
last active moderator never is. Each rule is tried on both sides of its boundary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bulletin.accounts.models import User, UserSession, UserState
from bulletin.core.audit import ModerationDecision
from bulletin.core.security_events import SecurityEvent, SecurityEventKind
from bulletin.extensions import db
from bulletin.moderation.inactivity import (
    apply_inactivity_rules,
    months_before,
    suspend_inactive_accounts,
    warn_inactive_accounts,
)
from tests.constants import PASSWORD, SAKAI
from tests.factories import fresh, new_client, open_sessions

NOW = datetime(2026, 6, 15, 3, 0, tzinfo=UTC)
SUSPEND_CUTOFF = datetime(2025, 5, 15, 3, 0, tzinfo=UTC)  # 13 months before NOW
WARN_CUTOFF = SUSPEND_CUTOFF + timedelta(days=30)  # unused since then: suspended within 30 days, so warned now
SECOND = timedelta(seconds=1)


@pytest.fixture
def idle(create_user):
    """Factory: an active officer whose last sign-in (and approval and creation) was at `last_used`."""

    def make(last_used: datetime | None, *, warned_at: datetime | None = None, **options) -> User:
        user = create_user(options.pop("code", SAKAI), **options)
        oldest = min(moment for moment in (last_used, SUSPEND_CUTOFF - timedelta(days=400)) if moment is not None)
        user.created_at = user.approved_at = user.confirmed_at = oldest
        user.last_login_at = last_used
        user.inactivity_warned_at = warned_at
        db.session.commit()
        return user

    return make


def warnings_to(outbox, user: User) -> int:
    return len([message for message in outbox(user.email) if message.kind == "inactivity_warning"])


@pytest.mark.parametrize(
    ("moment", "months", "earlier"),
    [
        (datetime(2026, 6, 15, 3, tzinfo=UTC), 13, datetime(2025, 5, 15, 3, tzinfo=UTC)),
        (datetime(2026, 3, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2024, 3, 31, tzinfo=UTC), 1, datetime(2024, 2, 29, tzinfo=UTC)),
        (datetime(2026, 1, 31, tzinfo=UTC), 13, datetime(2024, 12, 31, tzinfo=UTC)),
        (datetime(2026, 12, 1, tzinfo=UTC), 12, datetime(2025, 12, 1, tzinfo=UTC)),
    ],
)
def test_months_before_counts_calendar_months(moment, months, earlier):
    assert months_before(moment, months) == earlier


def test_the_warning_goes_once_when_suspension_is_30_days_away(app, idle, outbox):
    due = idle(WARN_CUTOFF)
    not_yet = idle(WARN_CUTOFF + SECOND)
    never_signed_in = idle(None)  # approved long ago and never used: its approval counts

    assert warn_inactive_accounts(NOW) == 2

    assert fresh(due).inactivity_warned_at == NOW and warnings_to(outbox, due) == 1
    assert fresh(never_signed_in).inactivity_warned_at == NOW
    assert fresh(not_yet).inactivity_warned_at is None and warnings_to(outbox, not_yet) == 0
    [mail] = [message for message in outbox(due.email) if message.kind == "inactivity_warning"]
    assert "13か月間" in mail.body and "令和8年7月15日までに" in mail.body and "http://localhost/login" in mail.body
    assert warn_inactive_accounts(NOW) == 0  # once
    assert warnings_to(outbox, due) == 1


def test_suspension_comes_30_days_after_the_warning_and_13_months_after_the_last_use(app, idle, outbox):
    due = idle(SUSPEND_CUTOFF, warned_at=NOW - timedelta(days=30))
    warned_too_recently = idle(SUSPEND_CUTOFF, warned_at=NOW - timedelta(days=30) + SECOND)
    used_too_recently = idle(SUSPEND_CUTOFF + SECOND, warned_at=NOW - timedelta(days=60))
    never_warned = idle(SUSPEND_CUTOFF - timedelta(days=90))

    assert suspend_inactive_accounts(NOW) == 1

    assert fresh(due).state == UserState.SUSPENDED
    for spared in (warned_too_recently, used_too_recently, never_warned):
        assert fresh(spared).state == UserState.ACTIVE
    assert suspend_inactive_accounts(NOW) == 0


def test_an_account_suspended_for_inactivity_is_told_why_and_logged_as_the_boards_decision(app, idle, outbox):
    user = idle(SUSPEND_CUTOFF - timedelta(days=10), warned_at=NOW - timedelta(days=31))
    db.session.add(UserSession(token_hash="0" * 64, user_id=user.id))  # a session still open, somehow: it ends
    db.session.commit()

    report = apply_inactivity_rules(NOW)

    assert (report.suspended, report.warned) == (1, 0)
    stored = fresh(user)
    assert stored.state == UserState.SUSPENDED and stored.suspended_by_id is None
    assert stored.suspension_reason == "13か月間ログインがなかったため"
    assert open_sessions(user) == 0
    [mail] = [message for message in outbox(user.email) if message.kind == "account_suspended"]
    assert "13か月間ログインがなかったため" in mail.body
    [line] = db.session.scalars(select(ModerationDecision).where(ModerationDecision.action == "suspend_user")).all()
    assert line.actor_id is None and line.subject_id == user.id
    [event] = db.session.scalars(
        select(SecurityEvent).where(SecurityEvent.kind == SecurityEventKind.SUSPENDED, SecurityEvent.user_id == user.id)
    ).all()
    assert event.actor_id is None


def test_signing_in_after_the_warning_clears_it_and_restarts_the_clock(app, idle):
    user = idle(SUSPEND_CUTOFF - timedelta(days=10), warned_at=NOW - timedelta(days=31))

    new_client(app, user)  # a sign-in, now (after NOW: the account is recent again)

    assert fresh(user).inactivity_warned_at is None
    assert suspend_inactive_accounts(NOW) == 0
    assert warn_inactive_accounts(NOW) == 0


def test_a_reinstated_account_starts_a_new_clock(app, idle, moderator):
    user = idle(SUSPEND_CUTOFF - timedelta(days=100))
    user.reinstated_at = NOW - timedelta(days=1)
    db.session.commit()

    assert apply_inactivity_rules(NOW).warned == 0


def test_the_last_active_moderator_is_neither_warned_nor_suspended(app, idle, moderator):
    moderator.last_login_at = moderator.approved_at = moderator.created_at = SUSPEND_CUTOFF - timedelta(days=100)
    db.session.commit()

    assert warn_inactive_accounts(NOW) == 0
    moderator.inactivity_warned_at = NOW - timedelta(days=40)  # warned while there was another one
    db.session.commit()
    assert suspend_inactive_accounts(NOW) == 0
    assert fresh(moderator).state == UserState.ACTIVE


def test_of_two_unused_moderators_one_is_suspended_and_one_stays(app, idle, moderator):
    moderator.last_login_at = moderator.approved_at = moderator.created_at = SUSPEND_CUTOFF - timedelta(days=100)
    db.session.commit()
    long_ago = SUSPEND_CUTOFF - timedelta(days=100)
    other = idle(long_ago, code=None, email="second@secretariat.example.jp", is_moderator=True)

    assert warn_inactive_accounts(NOW - timedelta(days=30)) == 2  # both will be due: both are warned
    assert suspend_inactive_accounts(NOW) == 1

    states = sorted(fresh(user).state for user in (moderator, other))
    assert states == [UserState.ACTIVE, UserState.SUSPENDED]


def test_accounts_that_are_not_active_are_left_alone(app, idle):
    pending = idle(SUSPEND_CUTOFF - timedelta(days=100), state=UserState.PENDING)
    suspended = idle(SUSPEND_CUTOFF - timedelta(days=100), state=UserState.SUSPENDED)

    assert apply_inactivity_rules(NOW).warned == 0
    assert fresh(pending).inactivity_warned_at is None and fresh(suspended).inactivity_warned_at is None


def test_the_months_and_days_are_configurable_and_zero_months_turns_it_off(app, idle, monkeypatch):
    monkeypatch.setitem(app.config, "INACTIVITY_SUSPEND_MONTHS", 6)
    monkeypatch.setitem(app.config, "INACTIVITY_WARNING_DAYS", 7)
    six_months = datetime(2025, 12, 15, 3, 0, tzinfo=UTC)
    due = idle(six_months + timedelta(days=7))
    not_yet = idle(six_months + timedelta(days=7) + SECOND)
    assert warn_inactive_accounts(NOW) == 1 and fresh(not_yet).inactivity_warned_at is None
    due.last_login_at = six_months
    db.session.commit()
    assert suspend_inactive_accounts(NOW + timedelta(days=7)) == 1

    monkeypatch.setitem(app.config, "INACTIVITY_SUSPEND_MONTHS", 0)
    assert apply_inactivity_rules(NOW + timedelta(days=700)).warned == 0


def test_the_expire_command_warns_and_suspends(app, idle):
    now = datetime.now(UTC)
    warned_long_ago = idle(months_before(now, 14), warned_at=now - timedelta(days=31))
    due_for_warning = idle(months_before(now, 13))

    result = app.test_cli_runner().invoke(args=["expire"])

    assert result.exit_code == 0, result.output
    assert "warned 1 and suspended 1 unused account(s)" in result.output
    assert fresh(warned_long_ago).state == UserState.SUSPENDED
    assert fresh(due_for_warning).inactivity_warned_at is not None
    login = new_client(app).post("/login", data={"email": warned_long_ago.email, "password": PASSWORD})
    assert "このアカウントは停止されています。" in login.get_data(as_text=True)
