"""Read side of moderation: the queue of pending members and changes of address with their flags, the log, the
April review's progress, the security log, and what moderators see of an account or an organization."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import cast

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import aliased, joinedload, selectinload

from bulletin.accounts.models import EmailChange, EmailChangeState, OrgRole, StaffReview, User, UserSession, UserState
from bulletin.accounts.sessions import absolute_limit, idle_limit
from bulletin.core.audit import ModerationDecision
from bulletin.core.db import utcnow
from bulletin.core.enums import LabelledStrEnum
from bulletin.core.security_events import SecurityEvent
from bulletin.core.text import start_of_japanese_day
from bulletin.extensions import db
from bulletin.moderation.models import Report, ReportState
from bulletin.organizations.codes import is_valid_code
from bulletin.organizations.models import EmailDomain, Membership, Organization
from bulletin.organizations.services import domain_owners
from bulletin.posts.models import Post, PostRevision, PostState, RevisionState
from bulletin.responses.models import Conversation, Message, Partnership


class RegistrationFlag(LabelledStrEnum):
    """Something about a pending registration the moderator should check before approving it."""

    DOMAIN_UNCONFIRMED = "domain_unconfirmed", _l("ドメイン未確認")
    DOMAIN_OF_OTHER_ORGANIZATION = "domain_of_other_organization", _l("別団体のドメイン")
    NOT_LG_JP = "not_lg_jp", _l("lg.jp 以外のドメイン")
    NEW_ORGANIZATION = "new_organization", _l("初めての登録団体")


@dataclass
class PendingMember:
    """A registration awaiting approval, with what the moderator should look at."""

    user: User
    flags: list[RegistrationFlag] = field(default_factory=list)
    domain_confirmed: bool = False


def _domain_flags(item: PendingMember | PendingEmailChange, organization, domain: str, owners: dict) -> None:
    """Flag an address whose domain is not a confirmed one of the organization (or is another organization's)."""
    owner = owners.get(domain)
    if (
        owner is not None
        and owner.organization_id != (organization.id if organization else None)
        and owner.is_confirmed
    ):
        item.flags.append(RegistrationFlag.DOMAIN_OF_OTHER_ORGANIZATION)
    elif owner is None or not owner.is_confirmed:
        item.flags.append(RegistrationFlag.DOMAIN_UNCONFIRMED)
    else:
        item.domain_confirmed = True
    if not domain.endswith(".lg.jp"):
        item.flags.append(RegistrationFlag.NOT_LG_JP)


def pending_members() -> list[PendingMember]:
    """Pending registrations oldest first, each with its flags; three queries whatever the queue's length."""
    users = list(
        db.session.scalars(
            select(User)
            .where(User.state == UserState.PENDING)
            .options(joinedload(User.organization).selectinload(Organization.domains))
            .order_by(User.confirmed_at, User.id)
        ).unique()
    )
    owners = domain_owners({user.email_domain for user in users})
    result = []
    for user in users:
        item = PendingMember(user=user)
        _domain_flags(item, user.organization, user.email_domain, owners)
        if user.organization is not None and user.organization.membership != Membership.MEMBER:
            item.flags.append(RegistrationFlag.NEW_ORGANIZATION)
        result.append(item)
    return result


@dataclass
class PendingEmailChange:
    """A proved change of address to a domain the user's organization has not confirmed, with its flags."""

    change: EmailChange
    flags: list[RegistrationFlag] = field(default_factory=list)
    domain_confirmed: bool = False


def pending_email_changes() -> list[PendingEmailChange]:
    """Changes of address awaiting a moderator, oldest first, with their flags; three queries whatever their number."""
    changes = list(
        db.session.scalars(
            select(EmailChange)
            .where(EmailChange.state == EmailChangeState.PENDING)
            .options(joinedload(EmailChange.user).joinedload(User.organization).selectinload(Organization.domains))
            .order_by(EmailChange.created_at, EmailChange.id)
        ).unique()
    )
    owners = domain_owners({change.new_domain for change in changes})
    result = []
    for change in changes:
        item = PendingEmailChange(change=change)
        _domain_flags(item, change.user.organization, change.new_domain, owners)
        result.append(item)
    return result


def get_email_change(change_id: int) -> EmailChange | None:
    """A change of address with its user and their organization."""
    return db.session.scalar(
        select(EmailChange)
        .where(EmailChange.id == change_id)
        .options(joinedload(EmailChange.user).joinedload(User.organization).selectinload(Organization.domains))
    )


def within_days(column, first: date | None, last: date | None) -> list:
    """Conditions keeping a timestamp within the days from `first` to `last` in Japan, both included (either open)."""
    conditions = []
    if first is not None:
        conditions.append(column >= start_of_japanese_day(first))
    if last is not None:
        conditions.append(column < start_of_japanese_day(last + timedelta(days=1)))
    return conditions


@dataclass(frozen=True)
class ModerationLogQuery:
    """What the moderator filters the moderation log by."""

    action: str = ""
    moderator: str = ""  # a moderator's id, SYSTEM for the lines no one decided (expiry), or "" for everyone
    organization: str = ""  # a 6-digit code, or part of a name or its reading
    date_from: date | None = None
    date_until: date | None = None


SYSTEM = "system"


@dataclass
class LogLine:
    """A line of the moderation log with the organizations its subject belongs to (two for a conversation or a
    partnership)."""

    decision: ModerationDecision
    organizations: list[Organization]


@dataclass
class LogPage:
    """One page of the filtered moderation log, and how many lines match in all."""

    lines: list[LogLine]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        """How many pages the matching lines fill."""
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        """Whether a previous page exists."""
        return self.page > 1

    @property
    def has_next(self) -> bool:
        """Whether a next page exists."""
        return self.page < self.pages


def _subject_organization_ids():
    """The organization a decision's subject belongs to, and the other one for a conversation or a partnership: SQL
    expressions over the log's subject columns (each a lookup by primary key)."""
    decision = ModerationDecision

    def of(column, key):
        return select(column).where(key == decision.subject_id).scalar_subquery()

    first = case(
        (decision.subject_type == "organization", decision.subject_id),
        (decision.subject_type == "user", of(User.organization_id, User.id)),
        (decision.subject_type == "post", of(Post.organization_id, Post.id)),
        (decision.subject_type == "conversation", of(Conversation.post_organization_id, Conversation.id)),
        (decision.subject_type == "partnership", of(Partnership.post_organization_id, Partnership.id)),
    )
    second = case(
        (decision.subject_type == "conversation", of(Conversation.partner_organization_id, Conversation.id)),
        (decision.subject_type == "partnership", of(Partnership.partner_organization_id, Partnership.id)),
    )
    return first, second


def _moderation_log_statement(query: ModerationLogQuery):
    first_id, second_id = _subject_organization_ids()
    first, second = aliased(Organization), aliased(Organization)
    statement = (
        select(ModerationDecision, first, second)
        .select_from(ModerationDecision)
        .outerjoin(first, first.id == first_id)
        .outerjoin(second, second.id == second_id)
    )
    if query.action:
        statement = statement.where(ModerationDecision.action == query.action)
    if query.moderator == SYSTEM:
        statement = statement.where(ModerationDecision.actor_id.is_(None))
    elif query.moderator:
        statement = statement.where(ModerationDecision.actor_id == int(query.moderator))
    if query.organization:
        text = query.organization
        named = [
            or_(org.code == text, org.name.contains(text, autoescape=True), org.kana.contains(text, autoescape=True))
            for org in (first, second)
        ]
        statement = statement.where(or_(*named))
    return statement.where(*within_days(ModerationDecision.created_at, query.date_from, query.date_until))


def _log_lines(statement) -> list[LogLine]:
    rows = db.session.execute(
        statement.options(joinedload(ModerationDecision.actor)).order_by(
            ModerationDecision.created_at.desc(), ModerationDecision.id.desc()
        )
    )
    lines = []
    for decision, first, second in cast(
        Iterable[tuple[ModerationDecision, Organization | None, Organization | None]], rows
    ):
        lines.append(LogLine(decision, [org for org in (first, second) if org is not None]))
    return lines


def moderation_log(query: ModerationLogQuery, page: int, per_page: int = 50) -> LogPage:
    """The moderation log, newest first, filtered and paginated, with each line's moderator and organizations: two
    queries whatever the size of the log."""
    statement = _moderation_log_statement(query)
    counted = statement.with_only_columns(ModerationDecision.id).subquery()
    total = db.session.scalar(select(func.count()).select_from(counted)) or 0
    lines = _log_lines(statement.offset((page - 1) * per_page).limit(per_page))
    return LogPage(lines=lines, page=page, per_page=per_page, total=total)


def moderation_log_export(query: ModerationLogQuery) -> list[LogLine]:
    """Every line of the moderation log the filters match, newest first (for the CSV)."""
    return _log_lines(_moderation_log_statement(query))


def moderator_choices() -> list[tuple[str, str]]:
    """Everyone who has been a moderator or has decided something, by name: the log's moderator filter."""
    deciders = select(ModerationDecision.actor_id).where(ModerationDecision.actor_id.is_not(None)).distinct()
    users = db.session.execute(
        select(User.id, User.name).where(or_(User.is_moderator, User.id.in_(deciders))).order_by(User.name, User.id)
    )
    return [(str(user_id), name) for user_id, name in users]


def get_user(user_id: int) -> User | None:
    """A user with their organization and its domains loaded."""
    return db.session.scalar(
        select(User).where(User.id == user_id).options(joinedload(User.organization).selectinload(Organization.domains))
    )


def pending_posts() -> list[Post]:
    """Posts awaiting review, oldest submission first."""
    return list(
        db.session.scalars(
            select(Post)
            .where(Post.state == PostState.PENDING)
            .options(joinedload(Post.organization))
            .order_by(Post.submitted_at, Post.id)
        )
    )


def pending_revisions() -> list[PostRevision]:
    """Edits of published posts awaiting review, oldest first."""
    return list(
        db.session.scalars(
            select(PostRevision)
            .where(PostRevision.state == RevisionState.PENDING)
            .options(joinedload(PostRevision.post).joinedload(Post.organization))
            .order_by(PostRevision.created_at, PostRevision.id)
        )
    )


def open_reports() -> list[Report]:
    """Reports not yet resolved, oldest first."""
    return list(
        db.session.scalars(
            select(Report)
            .where(Report.state == ReportState.OPEN)
            .options(
                joinedload(Report.post).joinedload(Post.organization),
                joinedload(Report.message).joinedload(Message.conversation).joinedload(Conversation.post),
                joinedload(Report.reporter).joinedload(User.organization),
            )
            .order_by(Report.created_at, Report.id)
        )
    )


def hidden_posts() -> list[Post]:
    """Posts a moderator has hidden, most recent first."""
    return list(
        db.session.scalars(
            select(Post)
            .where(Post.state == PostState.HIDDEN)
            .options(joinedload(Post.organization))
            .order_by(Post.updated_at.desc())
            .limit(100)
        )
    )


@dataclass(frozen=True)
class SecurityLogQuery:
    """What the moderator filters the security log by."""

    kind: str = ""
    text: str = ""  # part of an e-mail address or an IP address
    user_id: int | None = None
    date_from: date | None = None
    date_until: date | None = None


def security_log(query: SecurityLogQuery, page: int, per_page: int = 50):
    """The security log, newest first, filtered and paginated, with the user and actor of each line."""
    statement = select(SecurityEvent).options(joinedload(SecurityEvent.user), joinedload(SecurityEvent.actor))
    if query.kind:
        statement = statement.where(SecurityEvent.kind == query.kind)
    if query.text:
        pattern = "%" + query.text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(
            or_(SecurityEvent.email.like(pattern, escape="\\"), SecurityEvent.ip_address.like(pattern, escape="\\"))
        )
    if query.user_id is not None:
        by_or_about = or_(SecurityEvent.user_id == query.user_id, SecurityEvent.actor_id == query.user_id)
        statement = statement.where(by_or_about)
    statement = statement.where(*within_days(SecurityEvent.created_at, query.date_from, query.date_until))
    statement = statement.order_by(SecurityEvent.created_at.desc(), SecurityEvent.id.desc())
    return db.paginate(statement, page=page, per_page=per_page, error_out=False)


@dataclass
class OrganizationReview:
    """One organization asked to confirm its staff: how many active staff, its active admins, its review row."""

    organization: Organization
    staff_count: int
    admins: list[User] = field(default_factory=list)
    review: StaffReview | None = None

    @property
    def is_confirmed(self) -> bool:
        """Whether it confirmed its staff for the year."""
        return self.review is not None and self.review.confirmed_at is not None


@dataclass
class ReviewOverview:
    """The April review of one fiscal year across the board: who confirmed, who has not yet."""

    fiscal_year: int
    confirmed: list[OrganizationReview]
    waiting: list[OrganizationReview]

    @property
    def total(self) -> int:
        """How many organizations are asked."""
        return len(self.confirmed) + len(self.waiting)


def staff_review_overview(fiscal_year: int) -> ReviewOverview:
    """Every member organization with active staff, split into those that confirmed the year's review (latest first)
    and those that have not (by code), with their admins; four queries whatever their number."""
    staff_count = func.count(User.id).label("staff_count")
    rows = db.session.execute(
        select(Organization, staff_count, StaffReview)
        .join(User, (User.organization_id == Organization.id) & (User.state == UserState.ACTIVE))
        .outerjoin(
            StaffReview,
            (StaffReview.organization_id == Organization.id) & (StaffReview.fiscal_year == fiscal_year),
        )
        .options(selectinload(StaffReview.confirmed_by))
        .where(Organization.membership == Membership.MEMBER)
        .group_by(Organization.id, StaffReview.id)
        .order_by(Organization.code)
    ).all()
    items = [OrganizationReview(organization, count, review=review) for organization, count, review in rows]
    waiting = [item for item in items if not item.is_confirmed]
    if waiting:
        by_org = {item.organization.id: item for item in waiting}
        for admin in db.session.scalars(
            select(User)
            .where(
                User.organization_id.in_(by_org),
                User.role == OrgRole.ADMIN,
                User.state == UserState.ACTIVE,
            )
            .order_by(func.lower(User.name), User.id)
        ):
            by_org[admin.organization_id or 0].admins.append(admin)
    confirmed = sorted(
        (item for item in items if item.is_confirmed),
        key=lambda item: item.review.confirmed_at if item.review and item.review.confirmed_at else 0,
        reverse=True,
    )
    return ReviewOverview(fiscal_year, confirmed, waiting)


# --- accounts and organizations --------------------------------------------------------------------------------------

RECENT = 20


@dataclass
class AccountOverview:
    """What a moderator sees about one account beside its own fields."""

    open_sessions: int
    events: list[SecurityEvent]
    decisions: list[ModerationDecision]


def account_overview(user: User) -> AccountOverview:
    """The account's open sessions (how many), its latest security-log lines and the decisions about it."""
    now = utcnow()
    open_sessions = db.session.scalar(
        select(func.count())
        .select_from(UserSession)
        .where(
            UserSession.user_id == user.id,
            UserSession.last_seen_at > now - idle_limit(),
            UserSession.created_at > now - absolute_limit(),
        )
    )
    events = list(
        db.session.scalars(
            select(SecurityEvent)
            .where(SecurityEvent.user_id == user.id)
            .options(joinedload(SecurityEvent.actor))
            .order_by(SecurityEvent.created_at.desc(), SecurityEvent.id.desc())
            .limit(RECENT)
        )
    )
    return AccountOverview(open_sessions or 0, events, decisions_about("user", user.id))


def decisions_about(subject_type: str, subject_id: int) -> list[ModerationDecision]:
    """The latest lines of the moderation log about one subject, newest first."""
    return list(
        db.session.scalars(
            select(ModerationDecision)
            .where(ModerationDecision.subject_type == subject_type, ModerationDecision.subject_id == subject_id)
            .options(joinedload(ModerationDecision.actor))
            .order_by(ModerationDecision.created_at.desc(), ModerationDecision.id.desc())
            .limit(RECENT)
        )
    )


def organization_by_code(code: str) -> Organization | None:
    """The organization with this code, its e-mail domains and who confirmed each."""
    if not is_valid_code(code or ""):
        return None
    return db.session.scalar(
        select(Organization)
        .where(Organization.code == code)
        .options(selectinload(Organization.domains).joinedload(EmailDomain.confirmed_by))
    )


def staff_of(organization: Organization) -> list[User]:
    """Everyone registered for the organization, in any state: active ones first, then by name."""
    order = case((User.state == UserState.ACTIVE, 0), else_=1)
    return list(
        db.session.scalars(
            select(User).where(User.organization_id == organization.id).order_by(order, func.lower(User.name), User.id)
        )
    )


def suspended_organizations() -> list[Organization]:
    """Organizations under suspension, the most recent first."""
    return list(
        db.session.scalars(
            select(Organization)
            .where(Organization.membership == Membership.SUSPENDED)
            .order_by(Organization.suspended_at.desc(), Organization.id)
        )
    )


def suspended_accounts(limit: int = 200) -> list[User]:
    """Suspended accounts with their organizations, the most recent first."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.state == UserState.SUSPENDED)
            .options(joinedload(User.organization))
            .order_by(User.suspended_at.desc(), User.id.desc())
            .limit(limit)
        )
    )
