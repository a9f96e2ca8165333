"""The April review (人事異動): before each fiscal year, every member organization confirms who is still on its staff.

Japanese municipalities move their staff every April. From STAFF_REVIEW_OPENS (1 March) an organization's admin goes
through its active staff on one page (/organization/review) and, for each colleague, keeps them, makes them an admin
(the handover of the role), lets their account run until the end of the fiscal year, or deactivates it now. One
submit applies every choice and records that the organization confirmed its staff for the fiscal year that begins on
the next (or the last) 1 April. Organizations that have not confirmed are reminded by e-mail on the day the review
opens and then weekly until STAFF_REVIEW_REMINDERS_UNTIL (30 April), by `bulletin staff-review`, which the daily
`bulletin expire` runs too, and which also deactivates the accounts whose last day has passed.

Dates are Japan dates (`today_in_japan`): the review of fiscal year N opens on 1 March N at 0:00 in Japan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.exc import IntegrityError

from bulletin.accounts.models import OrgRole, StaffReview, User, UserState
from bulletin.accounts.services import AccountError, deactivate_account, deactivate_colleague, hand_over_admin
from bulletin.core import signals
from bulletin.core.db import guarded_update, utcnow
from bulletin.core.enums import LabelledStrEnum
from bulletin.core.text import fiscal_year_start, parse_month_day, today_in_japan
from bulletin.extensions import db
from bulletin.organizations.models import Membership, Organization


class StaffReviewError(AccountError):
    """A review the rules refuse; nothing of it was applied."""


class StaffChoice(LabelledStrEnum):
    """What the review does with one active member of the staff."""

    KEEP = "keep", _l("残す")
    MAKE_ADMIN = "make_admin", _l("管理者にする（引き継ぐ）")
    STEP_DOWN = "step_down", _l("管理者をやめて職員として残る")
    LEAVE_AT_YEAR_END = "leave_at_year_end", _l("3月31日まで使えるようにして、その後無効にする")
    DEACTIVATE = "deactivate", _l("今すぐ無効にする")


# Choices after which the person is still on the staff once the new fiscal year has begun.
STAYING = frozenset({StaffChoice.KEEP, StaffChoice.MAKE_ADMIN, StaffChoice.STEP_DOWN})


@dataclass(frozen=True)
class ReviewPeriod:
    """The review of one fiscal year: when it opens, until when reminders go, and the fiscal year's first day."""

    fiscal_year: int
    opens_on: date
    reminders_until: date

    @property
    def starts_on(self) -> date:
        """1 April: the day the fiscal year under review begins."""
        return fiscal_year_start(self.fiscal_year)

    @property
    def year_end(self) -> date:
        """31 March: the last day of the fiscal year before, which staff who leave at the year's end still work."""
        return self.starts_on - timedelta(days=1)

    def reminds_on(self, today: date) -> bool:
        """Whether reminders go out on this day."""
        return self.opens_on <= today <= self.reminders_until

    def before_fiscal_year(self, today: date) -> bool:
        """Whether the fiscal year under review has not begun yet (so leaving at its eve is still ahead)."""
        return today < self.starts_on


def _month_day(name: str) -> tuple[int, int]:
    return parse_month_day(current_app.config[name])


def period_of(fiscal_year: int) -> ReviewPeriod:
    """The review of a fiscal year, with the configured dates."""
    opens, until = _month_day("STAFF_REVIEW_OPENS"), _month_day("STAFF_REVIEW_REMINDERS_UNTIL")
    return ReviewPeriod(fiscal_year, date(fiscal_year, *opens), date(fiscal_year, *until))


def current_period(today: date | None = None) -> ReviewPeriod:
    """The review that opened most recently: on 28 February 2027 that of FY2026, from 1 March 2027 that of FY2027."""
    today = today or today_in_japan()
    opens = _month_day("STAFF_REVIEW_OPENS")
    return period_of(today.year if today >= date(today.year, *opens) else today.year - 1)


def has_active_admin(organization_id: int) -> bool:
    """Whether the organization has an admin who can act now."""
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    User.organization_id == organization_id,
                    User.role == OrgRole.ADMIN,
                    User.state == UserState.ACTIVE,
                )
            )
        )
    )


def can_review_staff(user: User) -> bool:
    """The organization's admins review its staff; when it has no active admin, any active member of its staff may,
    and becomes its admin by doing so (otherwise nobody could ever act for it again)."""
    if not user.is_active or user.organization_id is None:
        return False
    return user.is_org_admin or not has_active_admin(user.organization_id)


def active_staff(organization_id: int) -> list[User]:
    """The organization's active staff, admins first, then by name."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.organization_id == organization_id, User.state == UserState.ACTIVE)
            .order_by(User.role, func.lower(User.name), User.id)  # 'admin' sorts before 'staff'
        )
    )


def review_of(organization_id: int, fiscal_year: int) -> StaffReview | None:
    """The organization's review row for the fiscal year, if reminders went or it confirmed."""
    return db.session.scalar(
        select(StaffReview).where(
            StaffReview.organization_id == organization_id, StaffReview.fiscal_year == fiscal_year
        )
    )


def choices_for(actor: User, person: User, period: ReviewPeriod, today: date) -> list[StaffChoice]:
    """What the actor may choose for one member of the staff (themself included), in the order the page shows."""
    is_admin = person.role == OrgRole.ADMIN or (person.id == actor.id)  # the actor is (or becomes) an admin
    options = [StaffChoice.KEEP]
    if person.id == actor.id:
        options.append(StaffChoice.STEP_DOWN)
    elif not is_admin:
        options.append(StaffChoice.MAKE_ADMIN)
    if period.before_fiscal_year(today):
        options.append(StaffChoice.LEAVE_AT_YEAR_END)
    options.append(StaffChoice.DEACTIVATE)
    return options


def default_choice(person: User) -> StaffChoice:
    """What the page proposes: a departure already chosen stays chosen; everyone else is kept."""
    return StaffChoice.LEAVE_AT_YEAR_END if person.leaves_after is not None else StaffChoice.KEEP


@dataclass
class ReviewResult:
    """What a confirmed review did."""

    review: StaffReview
    kept: list[User] = field(default_factory=list)
    made_admin: list[User] = field(default_factory=list)
    leaving: list[User] = field(default_factory=list)
    deactivated: list[User] = field(default_factory=list)
    took_admin_role: bool = False  # the organization had no admin: the actor became one
    actor_left: bool = False  # the actor deactivated their own account (their session ended)


def _check_admins_remain(actor: User, staff: list[User], chosen: Mapping[int, StaffChoice]) -> None:
    """At least one active admin stays, now and after the year's end, as long as anyone else does."""

    def admin_after(person: User) -> bool:
        choice = chosen[person.id]
        if choice == StaffChoice.MAKE_ADMIN:
            return True
        if choice == StaffChoice.STEP_DOWN:
            return False
        return person.role == OrgRole.ADMIN or person.id == actor.id

    for remaining in (
        [p for p in staff if chosen[p.id] != StaffChoice.DEACTIVATE],  # until 31 March
        [p for p in staff if chosen[p.id] in STAYING],  # from 1 April
    ):
        if remaining and not any(admin_after(person) for person in remaining):
            raise StaffReviewError(
                _l("管理者がいなくなります。残る職員のうち一人を「管理者にする」にするか、ご自身が残ってください。")
            )


def confirm_staff_list(actor: User, chosen: Mapping[int, StaffChoice], today: date | None = None) -> ReviewResult:
    """Apply the review's choices for every active member of the actor's organization and record that it confirmed
    its staff for the fiscal year under review; all or nothing (the caller's transaction).

    `chosen` maps each active member's id to a choice; one missing, or a choice not offered for that person, refuses
    the whole review. Ids of people no longer active (another admin deactivated them meanwhile) are ignored.
    """
    today = today or today_in_japan()
    if not can_review_staff(actor):
        raise StaffReviewError(_l("職員の確認は団体の管理者が行います。"))
    assert actor.organization_id is not None
    period = current_period(today)
    staff = active_staff(actor.organization_id)
    for person in staff:
        choice = chosen.get(person.id)
        if choice is None:
            raise StaffReviewError(_l("%(name)s さんについて選んでください。", name=person.name))
        if choice not in choices_for(actor, person, period, today):
            raise StaffReviewError(
                _l("%(name)s さんには「%(choice)s」を選べません。", name=person.name, choice=choice.label)
            )
    _check_admins_remain(actor, staff, chosen)

    result = ReviewResult(review=_record_confirmation(actor, period))
    if actor.role != OrgRole.ADMIN:
        actor.role = OrgRole.ADMIN
        result.took_admin_role = True
    others = [person for person in staff if person.id != actor.id]
    for person in others:  # promotions first: the actor may step down below
        if chosen[person.id] == StaffChoice.MAKE_ADMIN:
            hand_over_admin(actor, person, keep_own=True)
            result.made_admin.append(person)
    for person in others:
        choice = chosen[person.id]
        if choice == StaffChoice.DEACTIVATE:
            try:
                deactivate_colleague(actor, person)
            except AccountError as error:  # someone else deactivated them a moment ago
                raise StaffReviewError(
                    _l("職員の状態がほかの操作で変わりました。ページを読み込み直して、もう一度確認してください。")
                ) from error
            result.deactivated.append(person)
        elif choice == StaffChoice.LEAVE_AT_YEAR_END:
            person.leaves_after = period.year_end
            result.leaving.append(person)
        else:
            person.leaves_after = None
            if choice == StaffChoice.KEEP:
                result.kept.append(person)
    _apply_own_choice(actor, chosen[actor.id], period, result)
    db.session.flush()
    return result


def _apply_own_choice(actor: User, choice: StaffChoice, period: ReviewPeriod, result: ReviewResult) -> None:
    if choice == StaffChoice.DEACTIVATE:  # last: the actor's own session ends with it
        deactivate_account(actor, actor, "staff review")
        result.deactivated.append(actor)
        result.actor_left = True
        return
    actor.leaves_after = period.year_end if choice == StaffChoice.LEAVE_AT_YEAR_END else None
    if choice == StaffChoice.STEP_DOWN:
        actor.role = OrgRole.STAFF
    (result.leaving if choice == StaffChoice.LEAVE_AT_YEAR_END else result.kept).append(actor)


def _record_confirmation(actor: User, period: ReviewPeriod) -> StaffReview:
    """The organization's review row for the year, confirmed now by the actor unless it already was."""
    assert actor.organization_id is not None
    now = utcnow()
    review = review_of(actor.organization_id, period.fiscal_year)
    if review is None:
        try:
            with db.session.begin_nested():  # a reminder run may insert the row at the same instant
                review = StaffReview(
                    organization_id=actor.organization_id,
                    fiscal_year=period.fiscal_year,
                    confirmed_at=now,
                    confirmed_by_id=actor.id,
                )
                db.session.add(review)
                db.session.flush()
            return review
        except IntegrityError:
            review = review_of(actor.organization_id, period.fiscal_year)
            assert review is not None
    if review.confirmed_at is None:
        guarded_update(
            db.session, review, StaffReview.confirmed_at.is_(None), confirmed_at=now, confirmed_by_id=actor.id
        )
    return review


# --- the daily run: reminders and departures ----------------------------------------------------------------------


def organizations_under_review() -> Select:
    """Member organizations with at least one active member of staff: those asked to confirm."""
    return select(Organization.id).where(
        Organization.membership == Membership.MEMBER,
        exists().where(User.organization_id == Organization.id, User.state == UserState.ACTIVE),
    )


def send_reminders(today: date | None = None) -> int:
    """Remind each organization that has not confirmed the review that is open: on the day it opens, then every
    STAFF_REVIEW_REMINDER_DAYS days, until STAFF_REVIEW_REMINDERS_UNTIL. Each organization is reminded at most once
    in that interval however often this runs (its row records the day). Returns how many organizations were
    reminded; the caller commits."""
    today = today or today_in_japan()
    period = current_period(today)
    if not period.reminds_on(today):
        return 0
    interval = timedelta(days=current_app.config["STAFF_REVIEW_REMINDER_DAYS"])
    rows = {
        row.organization_id: row
        for row in db.session.scalars(select(StaffReview).where(StaffReview.fiscal_year == period.fiscal_year))
    }

    def needs_reminder(row: StaffReview | None) -> bool:
        if row is None:
            return True
        last = row.last_reminded_on
        return row.confirmed_at is None and (last is None or last <= today - interval)

    due: list[int] = [
        organization_id
        for organization_id in db.session.scalars(organizations_under_review())
        if needs_reminder(rows.get(organization_id))
    ]
    if not due:
        return 0
    staff_by_org: dict[int, list[User]] = {}
    for user in db.session.scalars(
        select(User)
        .where(User.organization_id.in_(due), User.state == UserState.ACTIVE)
        .order_by(User.role, func.lower(User.name), User.id)
    ):
        staff_by_org.setdefault(user.organization_id or 0, []).append(user)
    organizations = {org.id: org for org in db.session.scalars(select(Organization).where(Organization.id.in_(due)))}
    reminded = 0
    for organization_id in due:
        if not _claim_reminder(organization_id, rows.get(organization_id), period, today, interval):
            continue  # another run reminded it, or it confirmed, a moment ago
        staff = staff_by_org.get(organization_id, [])
        admins = [user for user in staff if user.role == OrgRole.ADMIN]
        signals.staff_review_reminder_due.send(
            None,
            organization=organizations[organization_id],
            recipients=admins or staff,
            staff=staff,
            fiscal_year=period.fiscal_year,
            reminders_until=period.reminders_until,
        )
        reminded += 1
    db.session.flush()
    return reminded


def _claim_reminder(
    organization_id: int, row: StaffReview | None, period: ReviewPeriod, today: date, interval: timedelta
) -> bool:
    """Record today's reminder of the organization; False when another run got there first or it confirmed."""
    if row is None:
        try:
            with db.session.begin_nested():
                db.session.add(
                    StaffReview(
                        organization_id=organization_id,
                        fiscal_year=period.fiscal_year,
                        last_reminded_on=today,
                        reminders_sent=1,
                    )
                )
                db.session.flush()
            return True
        except IntegrityError:
            return False
    return guarded_update(
        db.session,
        row,
        StaffReview.confirmed_at.is_(None),
        or_(StaffReview.last_reminded_on.is_(None), StaffReview.last_reminded_on <= today - interval),
        last_reminded_on=today,
        reminders_sent=row.reminders_sent + 1,
    )


def deactivate_leavers(today: date | None = None) -> int:
    """Deactivate the accounts whose last day (chosen in the review) is over; how many. Idempotent."""
    today = today or today_in_japan()
    leavers = list(
        db.session.scalars(
            select(User).where(
                User.leaves_after.is_not(None), User.leaves_after < today, User.state != UserState.DEACTIVATED
            )
        )
    )
    count = 0
    for user in leavers:
        if deactivate_account(user, None, f"left after {user.leaves_after}"):
            count += 1
    db.session.flush()
    return count


@dataclass
class DailyReport:
    """What one run of the review's daily work did."""

    fiscal_year: int
    reminded: int
    deactivated: int


def run_daily(today: date | None = None) -> DailyReport:
    """The review's daily work: the accounts of staff who left go, then the reminders (run by `bulletin expire`)."""
    today = today or today_in_japan()
    deactivated = deactivate_leavers(today)
    reminded = send_reminders(today)
    return DailyReport(current_period(today).fiscal_year, reminded, deactivated)
