"""The April review (人事異動): the dates in Japan time, the one-page review of an organization's staff, the weekly
reminders, the departures at the year's end, and the moderators' overview."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from bulletin import create_app
from bulletin.accounts import staff_review
from bulletin.accounts.models import OrgRole, StaffReview, User, UserState
from bulletin.accounts.staff_review import StaffChoice, StaffReviewError, confirm_staff_list
from bulletin.config import ConfigError
from bulletin.core import text
from bulletin.core.security_events import SecurityEvent, SecurityEventKind
from bulletin.core.text import fiscal_year_of, format_fiscal_year, parse_month_day, today_in_japan
from bulletin.extensions import db
from bulletin.notifications.models import OutboxMessage
from bulletin.organizations.models import Membership
from tests.constants import KUSHIRO_TOWN, PASSWORD, SAKAI, SHINAGAWA
from tests.factories import (
    assert_unchanged,
    database_state,
    flashes_after,
    form_errors,
    fresh,
    limiter_state_preserved,
    new_client,
    open_sessions,
    page_of,
    text_of,
)

MARCH = date(2027, 3, 10)  # the review of FY2027 is open, the fiscal year has not begun
APRIL = date(2027, 4, 10)  # the fiscal year has begun; reminders still go


@pytest.fixture
def on_day(monkeypatch):
    """Make the review's pages and commands see this day as today in Japan."""

    def set_today(day: date) -> None:
        monkeypatch.setattr(staff_review, "today_in_japan", lambda: day)
        monkeypatch.setattr("bulletin.accounts.views.today_in_japan", lambda: day)

    return set_today


@pytest.fixture
def sakai(create_user):
    """坂井市: its admin and three colleagues, all active, plus one suspended and one deactivated."""
    admin = create_user(SAKAI, role=OrgRole.ADMIN, email="admin@city.fukui-sakai.lg.jp", name="坂井 管理者")
    staff = [
        create_user(SAKAI, email=f"{who}@city.fukui-sakai.lg.jp", name=f"坂井 {name}")
        for who, name in (("kanko", "観光"), ("kikaku", "企画"), ("somu", "総務"))
    ]
    create_user(SAKAI, email="away@city.fukui-sakai.lg.jp", name="坂井 停止", state=UserState.SUSPENDED)
    create_user(SAKAI, email="gone@city.fukui-sakai.lg.jp", name="坂井 無効", state=UserState.DEACTIVATED)
    return admin, staff


def everyone(admin: User, staff: list[User], /, **chosen: StaffChoice) -> dict[int, StaffChoice]:
    """KEEP for everybody, but what is named: the admin as `admin`, the colleagues as s0, s1, s2."""
    named = {"admin": admin, **{f"s{index}": person for index, person in enumerate(staff)}}
    choices = {person.id: StaffChoice.KEEP for person in named.values()}
    choices.update({named[key].id: choice for key, choice in chosen.items()})
    return choices


def review_row(organization_id: int, year: int) -> StaffReview | None:
    db.session.expire_all()
    return staff_review.review_of(organization_id, year)


def mails(kind: str) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)))


# --- the dates ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "fiscal_year"),
    [
        (date(2027, 2, 28), 2026),  # the day before the review opens: last year's review
        (date(2027, 3, 1), 2027),
        (date(2028, 2, 28), 2027),  # a leap year: 29 February still belongs to the old review
        (date(2028, 2, 29), 2027),
        (date(2028, 3, 1), 2028),
        (date(2027, 3, 31), 2027),
        (date(2027, 4, 1), 2027),
        (date(2027, 12, 31), 2027),
        (date(2028, 1, 1), 2027),
    ],
)
def test_the_review_under_way_changes_on_1_march(app, day, fiscal_year):
    assert staff_review.current_period(day).fiscal_year == fiscal_year


def test_a_review_period_knows_its_days(app):
    period = staff_review.period_of(2027)
    assert (period.opens_on, period.reminders_until) == (date(2027, 3, 1), date(2027, 4, 30))
    assert (period.starts_on, period.year_end) == (date(2027, 4, 1), date(2027, 3, 31))
    assert not period.reminds_on(date(2027, 2, 28))
    assert period.reminds_on(date(2027, 3, 1)) and period.reminds_on(date(2027, 4, 30))
    assert not period.reminds_on(date(2027, 5, 1))
    assert period.before_fiscal_year(date(2027, 3, 31)) and not period.before_fiscal_year(date(2027, 4, 1))
    assert staff_review.period_of(2028).year_end == date(2028, 3, 31)


@pytest.mark.parametrize(
    ("day", "fiscal_year"),
    [(date(2027, 3, 31), 2026), (date(2027, 4, 1), 2027), (date(2028, 2, 29), 2027), (date(2028, 4, 1), 2028)],
)
def test_the_fiscal_year_begins_on_1_april(day, fiscal_year):
    assert fiscal_year_of(day) == fiscal_year


@pytest.mark.parametrize(
    ("year", "ja", "en"),
    [
        (2027, "令和9年度（2027年度）", "FY2027 (Reiwa 9)"),
        (2019, "平成31年度（2019年度）", "FY2019 (Heisei 31)"),  # began on 1 April 2019, a month before Reiwa
        (2020, "令和2年度（2020年度）", "FY2020 (Reiwa 2)"),  # Reiwa's first fiscal year
        (2018, "平成30年度（2018年度）", "FY2018 (Heisei 30)"),
        (1988, "昭和63年度（1988年度）", "FY1988 (Showa 63)"),  # Heisei began in January 1989: still Showa
        (1989, "平成元年度（1989年度）", "FY1989 (Heisei 1)"),
    ],
)
def test_fiscal_years_are_named_in_their_era(year, ja, en):
    assert format_fiscal_year(year) == ja
    assert format_fiscal_year(year, "en") == en


class FrozenClock(datetime):
    """datetime whose now() is a fixed instant (UTC)."""

    instant = datetime(2027, 2, 28, 15, 0, tzinfo=UTC)

    @classmethod
    def now(cls, tz=None):
        return cls.instant.astimezone(tz) if tz else cls.instant


@pytest.mark.parametrize(
    ("instant", "fiscal_year"),
    [
        (datetime(2027, 2, 28, 14, 59, 59, tzinfo=UTC), 2026),  # 23:59:59 on 28 February in Japan
        (datetime(2027, 2, 28, 15, 0, tzinfo=UTC), 2027),  # midnight of 1 March in Japan, still February in UTC
        (datetime(2028, 2, 29, 14, 59, 59, tzinfo=UTC), 2027),  # a leap year's last day of February
        (datetime(2028, 2, 29, 15, 0, tzinfo=UTC), 2028),
    ],
)
def test_the_review_opens_at_midnight_in_japan(app, monkeypatch, instant, fiscal_year):
    monkeypatch.setattr(FrozenClock, "instant", instant)
    monkeypatch.setattr(text, "datetime", FrozenClock)
    assert staff_review.current_period(today_in_japan()).fiscal_year == fiscal_year


def test_the_year_end_choice_goes_at_midnight_of_1_april_in_japan(app, monkeypatch, sakai):
    admin, staff = sakai
    monkeypatch.setattr(text, "datetime", FrozenClock)
    monkeypatch.setattr(FrozenClock, "instant", datetime(2027, 3, 31, 14, 59, tzinfo=UTC))  # 23:59 on 31 March
    period = staff_review.current_period(today_in_japan())
    assert StaffChoice.LEAVE_AT_YEAR_END in staff_review.choices_for(admin, staff[0], period, today_in_japan())
    monkeypatch.setattr(FrozenClock, "instant", datetime(2027, 3, 31, 15, 0, tzinfo=UTC))  # 0:00 on 1 April
    assert StaffChoice.LEAVE_AT_YEAR_END not in staff_review.choices_for(admin, staff[0], period, today_in_japan())


@pytest.mark.parametrize(
    ("opens", "day", "fiscal_year"),
    [("02-15", date(2027, 2, 14), 2026), ("02-15", date(2027, 2, 15), 2027), ("02-28", date(2028, 2, 29), 2028)],
)
def test_the_opening_day_is_configurable(app, monkeypatch, opens, day, fiscal_year):
    monkeypatch.setitem(app.config, "STAFF_REVIEW_OPENS", opens)
    assert staff_review.current_period(day).fiscal_year == fiscal_year


@pytest.mark.parametrize(
    "overrides",
    [
        {"STAFF_REVIEW_OPENS": "02-29"},  # not every year has it
        {"STAFF_REVIEW_OPENS": "3/1"},
        {"STAFF_REVIEW_OPENS": "13-01"},
        {"STAFF_REVIEW_REMINDERS_UNTIL": "04-31"},
        {"STAFF_REVIEW_OPENS": "03-01", "STAFF_REVIEW_REMINDERS_UNTIL": "02-28"},
        {"STAFF_REVIEW_REMINDER_DAYS": 0},
    ],
)
def test_review_dates_that_make_no_sense_stop_the_app(overrides):
    with limiter_state_preserved(), pytest.raises(ConfigError, match="STAFF_REVIEW"):
        create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": "sqlite://", **overrides})


def test_review_dates_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("STAFF_REVIEW_OPENS", "02-20")
    monkeypatch.setenv("STAFF_REVIEW_REMINDERS_UNTIL", "05-15")
    monkeypatch.setenv("STAFF_REVIEW_REMINDER_DAYS", "3")
    with limiter_state_preserved():
        app = create_app({"ENV_NAME": "development", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert (app.config["STAFF_REVIEW_OPENS"], app.config["STAFF_REVIEW_REMINDERS_UNTIL"]) == ("02-20", "05-15")
    assert app.config["STAFF_REVIEW_REMINDER_DAYS"] == 3
    assert parse_month_day(app.config["STAFF_REVIEW_OPENS"]) == (2, 20)


# --- confirming the staff ------------------------------------------------------------------------------------------


def test_keeping_everyone_records_the_confirmation(app, sakai):
    admin, staff = sakai
    result = confirm_staff_list(admin, everyone(admin, staff), MARCH)
    db.session.commit()
    review = review_row(admin.organization_id, 2027)
    assert review.is_confirmed and review.confirmed_by_id == admin.id
    assert {person.id for person in result.kept} == {admin.id, *(person.id for person in staff)}
    assert all(fresh(person).state == UserState.ACTIVE and person.leaves_after is None for person in staff)


def test_one_submit_applies_every_choice(app, sakai):
    admin, staff = sakai
    browser = new_client(app, staff[2])
    chosen = everyone(
        admin,
        staff,
        s0=StaffChoice.MAKE_ADMIN,
        s1=StaffChoice.LEAVE_AT_YEAR_END,
        s2=StaffChoice.DEACTIVATE,
        admin=StaffChoice.STEP_DOWN,
    )
    confirm_staff_list(admin, chosen, MARCH)
    db.session.commit()
    assert fresh(staff[0]).role == OrgRole.ADMIN
    assert fresh(admin).role == OrgRole.STAFF and fresh(admin).state == UserState.ACTIVE
    assert fresh(staff[1]).leaves_after == date(2027, 3, 31) and fresh(staff[1]).state == UserState.ACTIVE
    assert fresh(staff[2]).state == UserState.DEACTIVATED and open_sessions(staff[2]) == 0
    assert browser.get("/profile").status_code == 302
    [event] = db.session.scalars(select(SecurityEvent).where(SecurityEvent.kind == SecurityEventKind.DEACTIVATED))
    assert (event.user_id, event.actor_id) == (staff[2].id, admin.id)


def test_a_refused_review_changes_nothing(app, sakai):
    admin, staff = sakai
    before = database_state()
    chosen = everyone(admin, staff, s0=StaffChoice.DEACTIVATE, admin=StaffChoice.DEACTIVATE)
    with pytest.raises(StaffReviewError, match="管理者がいなくなります"), db.session.begin_nested():
        confirm_staff_list(admin, chosen, MARCH)
    assert_unchanged(before)


@pytest.mark.parametrize(
    ("chosen", "allowed"),
    [
        ({"admin": StaffChoice.DEACTIVATE}, False),  # no handover: the others would have no admin
        ({"admin": StaffChoice.STEP_DOWN}, False),
        ({"admin": StaffChoice.LEAVE_AT_YEAR_END}, False),  # from 1 April nobody would be admin
        ({"admin": StaffChoice.DEACTIVATE, "s0": StaffChoice.MAKE_ADMIN}, True),
        ({"admin": StaffChoice.LEAVE_AT_YEAR_END, "s1": StaffChoice.MAKE_ADMIN}, True),
        ({"admin": StaffChoice.STEP_DOWN, "s2": StaffChoice.MAKE_ADMIN}, True),
        # a new admin who leaves at the year's end does not count for the year after
        ({"admin": StaffChoice.LEAVE_AT_YEAR_END, "s0": StaffChoice.LEAVE_AT_YEAR_END}, False),
        # everyone goes: nobody is left to need an admin
        (
            {
                "admin": StaffChoice.DEACTIVATE,
                "s0": StaffChoice.DEACTIVATE,
                "s1": StaffChoice.DEACTIVATE,
                "s2": StaffChoice.DEACTIVATE,
            },
            True,
        ),
        # until 31 March the ones leaving then still need an admin
        (
            {
                "admin": StaffChoice.DEACTIVATE,
                "s0": StaffChoice.LEAVE_AT_YEAR_END,
                "s1": StaffChoice.DEACTIVATE,
                "s2": StaffChoice.DEACTIVATE,
            },
            False,
        ),
    ],
)
def test_an_active_admin_always_remains_while_anyone_does(app, sakai, chosen, allowed):
    admin, staff = sakai
    choices = everyone(admin, staff, **chosen)
    if allowed:
        confirm_staff_list(admin, choices, MARCH)
        db.session.commit()
        assert review_row(admin.organization_id, 2027).is_confirmed
    else:
        with pytest.raises(StaffReviewError, match="管理者がいなくなります"):
            confirm_staff_list(admin, choices, MARCH)


def test_the_admin_who_leaves_now_hands_over_and_is_signed_out(app, sakai):
    admin, staff = sakai
    confirm_staff_list(admin, everyone(admin, staff, admin=StaffChoice.DEACTIVATE, s0=StaffChoice.MAKE_ADMIN), APRIL)
    db.session.commit()
    assert fresh(admin).state == UserState.DEACTIVATED and fresh(admin).role == OrgRole.STAFF
    assert fresh(staff[0]).role == OrgRole.ADMIN
    assert review_row(admin.organization_id, 2027).confirmed_by_id == admin.id


@pytest.mark.parametrize(
    ("chosen", "message"),
    [
        ({"s0": None}, "坂井 観光 さんについて選んでください。"),
        ({"admin": StaffChoice.MAKE_ADMIN}, "坂井 管理者 さんには「管理者にする（引き継ぐ）」を選べません。"),
        ({"s0": StaffChoice.STEP_DOWN}, "坂井 観光 さんには「管理者をやめて職員として残る」を選べません。"),
    ],
)
def test_a_missing_or_unknown_choice_refuses_the_whole_review(app, sakai, chosen, message):
    admin, staff = sakai
    choices = everyone(admin, staff)
    named = {"admin": admin, "s0": staff[0]}
    for key, choice in chosen.items():
        if choice is None:
            del choices[named[key].id]
        else:
            choices[named[key].id] = choice
    with pytest.raises(StaffReviewError) as refused:
        confirm_staff_list(admin, choices, MARCH)
    assert refused.value.message == message


def test_leaving_at_the_year_end_is_offered_only_before_1_april(app, sakai):
    admin, staff = sakai
    with pytest.raises(StaffReviewError, match="3月31日まで使えるようにして"):
        confirm_staff_list(admin, everyone(admin, staff, s0=StaffChoice.LEAVE_AT_YEAR_END), APRIL)
    april = staff_review.current_period(APRIL)
    assert StaffChoice.LEAVE_AT_YEAR_END not in staff_review.choices_for(admin, staff[0], april, APRIL)
    assert StaffChoice.LEAVE_AT_YEAR_END in staff_review.choices_for(admin, staff[0], april, date(2027, 3, 31))


def test_staff_do_not_review_while_the_organization_has_an_admin(app, sakai):
    admin, staff = sakai
    assert not staff_review.can_review_staff(staff[0])
    with pytest.raises(StaffReviewError, match="団体の管理者が行います"):
        confirm_staff_list(staff[0], everyone(admin, staff), MARCH)


def test_without_an_admin_the_one_who_reviews_becomes_it(app, create_user):
    first = create_user(KUSHIRO_TOWN, name="釧路町 一")
    second = create_user(KUSHIRO_TOWN, name="釧路町 二")
    assert staff_review.can_review_staff(first) and staff_review.can_review_staff(second)
    result = confirm_staff_list(second, {first.id: StaffChoice.KEEP, second.id: StaffChoice.KEEP}, MARCH)
    db.session.commit()
    assert result.took_admin_role and fresh(second).role == OrgRole.ADMIN and fresh(first).role == OrgRole.STAFF
    assert not staff_review.can_review_staff(fresh(first))


def test_a_second_review_in_the_year_keeps_the_first_confirmation(app, sakai):
    admin, staff = sakai
    confirm_staff_list(admin, everyone(admin, staff, s0=StaffChoice.MAKE_ADMIN), MARCH)
    db.session.commit()
    first = review_row(admin.organization_id, 2027)
    confirm_staff_list(fresh(staff[0]), everyone(admin, staff, s1=StaffChoice.DEACTIVATE), APRIL)
    db.session.commit()
    again = review_row(admin.organization_id, 2027)
    assert (again.id, again.confirmed_at, again.confirmed_by_id) == (first.id, first.confirmed_at, admin.id)
    assert fresh(staff[1]).state == UserState.DEACTIVATED
    assert db.session.scalar(select(StaffReview.id).where(StaffReview.fiscal_year == 2028)) is None


def test_keeping_someone_cancels_their_departure(app, sakai):
    admin, staff = sakai
    confirm_staff_list(admin, everyone(admin, staff, s0=StaffChoice.LEAVE_AT_YEAR_END), MARCH)
    db.session.commit()
    assert staff_review.default_choice(fresh(staff[0])) == StaffChoice.LEAVE_AT_YEAR_END
    confirm_staff_list(admin, everyone(admin, staff), date(2027, 3, 20))
    db.session.commit()
    assert fresh(staff[0]).leaves_after is None
    assert staff_review.deactivate_leavers(date(2027, 4, 1)) == 0


# --- departures at the end of the year ---------------------------------------------------------------------------


def test_accounts_of_staff_who_leave_at_the_year_end_go_on_1_april(app, sakai):
    admin, staff = sakai
    browser = new_client(app, staff[1])
    confirm_staff_list(admin, everyone(admin, staff, s1=StaffChoice.LEAVE_AT_YEAR_END), MARCH)
    db.session.commit()
    assert staff_review.deactivate_leavers(date(2027, 3, 31)) == 0  # their last day: they still work
    db.session.commit()
    assert browser.get("/profile").status_code == 200
    assert staff_review.deactivate_leavers(date(2027, 4, 1)) == 1
    db.session.commit()
    assert fresh(staff[1]).state == UserState.DEACTIVATED and open_sessions(staff[1]) == 0
    assert browser.get("/profile").status_code == 302
    [event] = db.session.scalars(select(SecurityEvent).where(SecurityEvent.kind == SecurityEventKind.DEACTIVATED))
    assert event.user_id == staff[1].id and event.actor_id is None and "2027-03-31" in event.detail
    assert staff_review.deactivate_leavers(date(2027, 4, 2)) == 0  # idempotent


# --- reminders ---------------------------------------------------------------------------------------------------


@pytest.fixture
def three_organizations(create_user, sakai):
    """坂井市 (an admin and staff), 釧路町 (two staff, no admin) and 品川区 (an admin): three organizations asked."""
    admin, staff = sakai
    kushiro = [create_user(KUSHIRO_TOWN, name=f"釧路町 {n}", email=f"s{n}@town.kushiro.lg.jp") for n in (1, 2)]
    shinagawa = create_user(SHINAGAWA, role=OrgRole.ADMIN, email="admin@city.shinagawa.lg.jp", name="品川 管理者")
    return admin, staff, kushiro, shinagawa


def test_no_reminder_before_the_review_opens(app, three_organizations):
    assert staff_review.send_reminders(date(2027, 2, 28)) == 0
    assert mails("staff_review_reminder") == []


def test_reminders_go_to_the_admins_or_to_all_staff_without_one(app, three_organizations):
    admin, staff, kushiro, shinagawa = three_organizations
    assert staff_review.send_reminders(date(2027, 3, 1)) == 3
    db.session.commit()
    recipients = sorted(message.recipient for message in mails("staff_review_reminder"))
    assert recipients == sorted([admin.email, shinagawa.email, *(person.email for person in kushiro)])
    [to_sakai] = [m for m in mails("staff_review_reminder") if m.recipient == admin.email]
    assert to_sakai.subject == "[全国連携マッチング掲示板] 令和9年度（2027年度） 職員確認のお願い（坂井市）"
    assert "http://localhost/organization/review\n" in to_sakai.body
    assert "現在の職員（4名）" in to_sakai.body
    for person in [admin, *staff]:
        assert f"- {person.name}（企画課・" in to_sakai.body
    assert "坂井 停止" not in to_sakai.body and "坂井 無効" not in to_sakai.body
    assert "毎週このメールをお送りします（令和9年4月30日 まで）" in to_sakai.body
    [to_kushiro, _] = [m for m in mails("staff_review_reminder") if m.recipient.endswith("kushiro.lg.jp")]
    assert "管理者がいないため、職員の皆さまにお送りしています" in to_kushiro.body
    assert "管理者がいないため" not in to_sakai.body


def test_reminders_go_once_a_week_however_often_the_command_runs(app, three_organizations):
    admin, *_ = three_organizations
    assert staff_review.send_reminders(date(2027, 3, 1)) == 3
    assert staff_review.send_reminders(date(2027, 3, 1)) == 0  # the command ran twice that day
    db.session.commit()
    for day in range(2, 8):
        assert staff_review.send_reminders(date(2027, 3, day)) == 0
    assert staff_review.send_reminders(date(2027, 3, 8)) == 3
    db.session.commit()
    assert len(mails("staff_review_reminder")) == 8
    review = review_row(admin.organization_id, 2027)
    assert (review.reminders_sent, review.last_reminded_on, review.confirmed_at) == (2, date(2027, 3, 8), None)


def test_confirmed_organizations_are_not_reminded_and_reminders_end_with_april(app, three_organizations):
    admin, staff, _kushiro, _shinagawa = three_organizations
    staff_review.send_reminders(date(2027, 3, 1))
    confirm_staff_list(admin, everyone(admin, staff), date(2027, 3, 3))
    db.session.commit()
    assert staff_review.send_reminders(date(2027, 3, 8)) == 2
    assert staff_review.send_reminders(date(2027, 4, 30)) == 2  # the last day of reminders
    assert staff_review.send_reminders(date(2027, 5, 7)) == 0
    db.session.commit()
    assert review_row(admin.organization_id, 2027).reminders_sent == 1
    assert [m.recipient for m in mails("staff_review_reminder")].count(admin.email) == 1


def test_a_late_first_run_still_reminds_once(app, three_organizations):
    assert staff_review.send_reminders(date(2027, 3, 5)) == 3  # cron did not run from the 1st to the 4th
    assert staff_review.send_reminders(date(2027, 3, 11)) == 0
    assert staff_review.send_reminders(date(2027, 3, 12)) == 3


def test_organizations_without_active_staff_or_membership_are_not_asked(app, create_user, organization):
    create_user(KUSHIRO_TOWN, state=UserState.SUSPENDED)
    lone = create_user(SAKAI)
    sakai = organization(SAKAI)
    sakai.membership = Membership.SUSPENDED
    db.session.commit()
    assert staff_review.send_reminders(date(2027, 3, 1)) == 0
    assert fresh(lone).state == UserState.ACTIVE


def test_the_reminder_interval_is_configurable(app, monkeypatch, three_organizations):
    monkeypatch.setitem(app.config, "STAFF_REVIEW_REMINDER_DAYS", 3)
    assert staff_review.send_reminders(date(2027, 3, 1)) == 3
    assert staff_review.send_reminders(date(2027, 3, 3)) == 0
    assert staff_review.send_reminders(date(2027, 3, 4)) == 3


def test_the_staff_review_and_expire_commands_do_the_daily_work(app, on_day, three_organizations):
    admin, staff, *_ = three_organizations
    confirm_staff_list(admin, everyone(admin, staff, s0=StaffChoice.LEAVE_AT_YEAR_END), MARCH)
    db.session.commit()
    runner = app.test_cli_runner()
    on_day(date(2027, 3, 15))
    result = runner.invoke(args=["staff-review"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "staff review FY2027 (Reiwa 9): reminded 2 organization(s), deactivated 0 account(s) of staff who left"
    )
    assert (
        runner.invoke(args=["staff-review"])
        .output.strip()
        .endswith("reminded 0 organization(s), deactivated 0 account(s) of staff who left")
    )
    on_day(date(2027, 4, 1))
    result = runner.invoke(args=["expire"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "staff review FY2027 (Reiwa 9): reminded 2 organization(s), deactivated 1 account(s) of staff who left"
    )
    assert fresh(staff[0]).state == UserState.DEACTIVATED
    result = runner.invoke(args=["expire"])
    assert result.output.splitlines()[-1].endswith(
        "reminded 0 organization(s), deactivated 0 account(s) of staff who left"
    )


# --- the review page -----------------------------------------------------------------------------------------------


def review_form(admin: User, staff: list[User], /, **chosen: str) -> dict[str, str]:
    named = {"admin": admin, **{f"s{index}": person for index, person in enumerate(staff)}}
    data = {f"choice-{person.id}": "keep" for person in named.values()}
    data.update({f"choice-{named[key].id}": value for key, value in chosen.items()})
    return data


def test_the_review_page_lists_the_active_staff_with_their_choices(app, on_day, sakai):
    admin, staff = sakai
    on_day(MARCH)
    page = page_of(new_client(app, admin).get("/organization/review"))
    assert page.by_id("main").text.count("坂井 ") >= 4
    legends = [element.text.strip() for element in page.all("legend")]
    assert legends == ["坂井 管理者 （あなた）", "坂井 企画", "坂井 総務", "坂井 観光"]
    radios = [e for e in page.all("input") if e.attrs.get("type") == "radio"]
    mine = [e.attrs["value"] for e in radios if e.attrs["name"] == f"choice-{admin.id}"]
    assert mine == ["keep", "step_down", "leave_at_year_end", "deactivate"]
    theirs = [e.attrs["value"] for e in radios if e.attrs["name"] == f"choice-{staff[0].id}"]
    assert theirs == ["keep", "make_admin", "leave_at_year_end", "deactivate"]
    checked = {e.attrs["name"]: e.attrs["value"] for e in radios if "checked" in e.attrs}
    assert checked == {f"choice-{person.id}": "keep" for person in [admin, *staff]}
    assert "令和9年度（2027年度） の確認はまだです。" in page.html
    assert "令和9年4月1日 に自動で無効になります" in page.html
    on_day(APRIL)
    page = page_of(new_client(app, admin).get("/organization/review"))
    radios = [e for e in page.all("input") if e.attrs.get("type") == "radio"]
    assert "leave_at_year_end" not in {e.attrs["value"] for e in radios}


def test_the_review_page_applies_every_choice_in_one_submit(app, on_day, sakai):
    admin, staff = sakai
    on_day(MARCH)
    browser = new_client(app, admin)
    response = browser.post(
        "/organization/review", data=review_form(admin, staff, s0="make_admin", s1="leave_at_year_end", s2="deactivate")
    )
    assert response.headers["Location"] == "/organization/review"
    message = flashes_after(browser, response)[-1]
    assert message == (
        "令和9年度（2027年度） の職員の確認を受け付けました（残す 1名・管理者に 1名・3月31日まで 1名・無効 1名）。"
    )
    assert fresh(staff[0]).role == OrgRole.ADMIN and fresh(staff[2]).state == UserState.DEACTIVATED
    assert fresh(staff[1]).leaves_after == date(2027, 3, 31)
    page = text_of(browser.get("/organization/review"))
    assert "令和9年度（2027年度） の確認は済んでいます" in page and "坂井 管理者 さん" in page
    assert "坂井 総務" not in page  # deactivated: no longer on the list
    members = text_of(browser.get("/organization/members"))
    assert "令和9年3月31日 まで" in members


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "さんについて選んでください。"),
        ({"s0": "fire"}, "坂井 観光 さんについて選んでください。"),
        ({"s0": "keep" * 100}, "坂井 観光 さんについて選んでください。"),
        ({"s0": "keep\x00"}, "坂井 観光 さんについて選んでください。"),
        ({"admin": "make_admin"}, "坂井 管理者 さんには「管理者にする（引き継ぐ）」を選べません。"),
        ({"admin": "deactivate"}, "管理者がいなくなります。"),
    ],
)
def test_bad_input_on_the_review_page_is_shown_and_changes_nothing(app, on_day, sakai, data, message):
    admin, staff = sakai
    on_day(MARCH)
    browser = new_client(app, admin)
    form = review_form(admin, staff, **data) if data else {}
    before = database_state()
    response = browser.post("/organization/review", data=form)
    assert response.status_code == 400
    assert message in form_errors(response)
    assert_unchanged(before)
    if "s0" in data and data["s0"] != "keep":  # what was chosen for the others is shown again as chosen
        checked = [e for e in page_of(response).all("input") if "checked" in e.attrs]
        assert {e.attrs["name"] for e in checked} == {f"choice-{p.id}" for p in [admin, *staff[1:]]}


def test_an_admin_who_leaves_through_the_page_is_signed_out(app, on_day, sakai):
    admin, staff = sakai
    on_day(APRIL)
    browser = new_client(app, admin)
    response = browser.post("/organization/review", data=review_form(admin, staff, admin="deactivate", s0="make_admin"))
    assert response.headers["Location"] == "/"
    assert "あなたのアカウントは無効になり、ログアウトしました。" in flashes_after(browser, response)[-1]
    assert browser.get("/organization/review").status_code == 302
    assert browser.post("/login", data={"email": admin.email, "password": PASSWORD}).status_code == 200


def test_staff_see_the_review_only_when_nobody_administers_the_organization(app, sakai, create_user):
    admin, staff = sakai
    assert new_client(app, staff[0]).get("/organization/review").status_code == 403
    assert new_client(app, staff[0]).post("/organization/review", data=review_form(admin, staff)).status_code == 403
    lone = create_user(KUSHIRO_TOWN, name="釧路町 職員")
    browser = new_client(app, lone)
    page = text_of(browser.get("/organization/review"))
    assert "この確認を送信すると、あなたが団体の管理者になります。" in page
    response = browser.post("/organization/review", data={f"choice-{lone.id}": "keep"})
    assert "あなたが団体の管理者になりました。" in flashes_after(browser, response)[-1]
    assert fresh(lone).role == OrgRole.ADMIN


def test_the_members_page_asks_the_admin_during_the_review(app, on_day, sakai):
    admin, staff = sakai
    on_day(MARCH)
    page = page_of(new_client(app, admin).get("/organization/members"))
    assert "職員の確認をお願いします（令和9年度（2027年度））" in page.html
    assert any(a.attrs.get("href") == "/organization/review" for a in page.all("a"))
    assert "職員の確認をお願いします" not in text_of(new_client(app, staff[0]).get("/organization/members"))
    on_day(date(2027, 6, 1))
    page = text_of(new_client(app, admin).get("/organization/members"))
    assert "職員の確認をお願いします" not in page and "年度替わりの職員の確認" in page


# --- the moderators' overview --------------------------------------------------------------------------------------


def test_moderators_see_who_has_not_confirmed(app, on_day, moderator, three_organizations):
    admin, _staff, _kushiro, shinagawa = three_organizations
    staff_review.send_reminders(date(2027, 3, 1))
    confirm_staff_list(shinagawa, {shinagawa.id: StaffChoice.KEEP}, date(2027, 3, 2))
    db.session.commit()
    on_day(date(2027, 3, 3))
    page = page_of(new_client(app, moderator).get("/moderation/staff-review"))
    assert page.all("h1")[0].text.strip() == "職員確認の状況（令和9年度（2027年度））"
    facts = page.with_class("facts")[0].text
    assert "3団体（職員のいる会員団体）" in facts and "確認済み1団体" in facts and "未確認2団体" in facts
    waiting, confirmed = (table.text for table in page.all("table"))
    assert "福井県 坂井市" in waiting and "坂井 管理者" in waiting and admin.email in waiting
    assert "北海道 釧路町" in waiting and "管理者なし" in waiting and "2名" in waiting
    assert "1回（最後: 令和9年3月1日（2027-03-01））" in waiting
    assert "東京都 品川区" in confirmed and "品川 管理者" in confirmed and "東京都 品川区" not in waiting
    assert any(a.attrs.get("href") == "/moderation/staff-review" for a in page.all("a"))  # in the navigation


@pytest.mark.parametrize("year", ["2026", "abc", "1999", "99999999999999999999", "-1", "%00"])
def test_the_overview_of_another_year_or_a_bad_one(app, on_day, moderator, year):
    on_day(date(2027, 3, 3))
    response = new_client(app, moderator).get(f"/moderation/staff-review?year={year}")
    assert response.status_code == 200
    expected = "令和8年度（2026年度）" if year == "2026" else "令和9年度（2027年度）"
    assert f"職員確認の状況（{expected}）" in text_of(response)


def test_the_overview_costs_the_same_for_few_or_many_organizations(app, on_day, moderator, create_user, count_queries):
    on_day(date(2027, 3, 3))
    browser = new_client(app, moderator)
    create_user(SAKAI, role=OrgRole.ADMIN)

    def cost() -> int:
        with count_queries() as counter:
            assert browser.get("/moderation/staff-review").status_code == 200
        return counter.count

    few = cost()
    for code in ("016616", "131091", "131016", "172014"):
        create_user(code, role=OrgRole.ADMIN)
        create_user(code)
    staff_review.send_reminders(date(2027, 3, 1))
    db.session.commit()
    assert cost() == few <= 8


def test_the_review_does_not_reach_other_organizations(app, sakai, create_user):
    admin, staff = sakai
    other = create_user(KUSHIRO_TOWN, name="釧路町 職員")
    page = text_of(new_client(app, admin).get("/organization/review"))
    assert "釧路町 職員" not in page
    response = new_client(app, admin).post(
        "/organization/review", data={**review_form(admin, staff), f"choice-{other.id}": "deactivate"}
    )
    assert response.status_code == 302  # the choice about someone of another organization is ignored
    assert fresh(other).state == UserState.ACTIVE and fresh(other).role == OrgRole.STAFF
