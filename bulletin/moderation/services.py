"""Moderation decisions on members and organizations: approval, suspension, confirmed e-mail domains. Each writes its
lines in the moderation log (and the security log) in the same transaction as the change."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from bulletin.accounts.email_change import change_address
from bulletin.accounts.models import EmailChange, EmailChangeState, OrgRole, User, UserState
from bulletin.accounts.services import AccountError
from bulletin.accounts.sessions import end_sessions
from bulletin.core import signals
from bulletin.core.audit import DecisionAction, fingerprint, log_decision
from bulletin.core.db import guarded_update, utcnow
from bulletin.core.errors import DomainError, NotTheVersionShown
from bulletin.core.security_events import SecurityEventKind, record_security_event
from bulletin.core.text import has_control_characters, today_in_japan
from bulletin.extensions import db
from bulletin.notifications.models import OutboxMessage, OutboxState
from bulletin.organizations.domains import clean_domain
from bulletin.organizations.models import EmailDomain, Membership, Organization, OrganizationKind
from bulletin.organizations.services import DomainOfAnotherOrganization, confirm_domain, domain_owners, make_member

MAX_REASON_LENGTH = 2000


class ModerationError(DomainError):
    """A decision the rules refuse; `message` is shown to the moderator."""


def _require_moderator(actor: User) -> None:
    if not actor.can_moderate():
        raise ModerationError(_l("この操作はモデレーターだけが行えます。"))


def _decide_pending(user: User, seen_fingerprint: str | None, state: UserState, **values) -> str:
    """Move a pending registration on, as the moderator was shown it (`seen_fingerprint`); the fingerprint decided.

    Of two decisions at the same instant, the second is refused. So is a decision on details that changed after the
    moderator's page was drawn, or on details nobody can tell: the update holds only while every detail is still the
    one fingerprinted, so a change landing between the check and the decision cannot slip through either.
    """
    already = ModerationError(_l("この登録はすでに処理されています。"))
    changed = NotTheVersionShown(_l("審査中に登録内容が変わりました。最新の内容を確認してから判断してください。"))
    if user.state != UserState.PENDING:
        raise already
    if not seen_fingerprint:
        raise NotTheVersionShown(
            _l("どの登録内容を確認したかが分からないため、判断できません。承認待ちの画面を開き直してください。")
        )
    shown = user.registration_details()
    if fingerprint(shown) != seen_fingerprint:
        raise changed
    unchanged = [getattr(User, name) == value for name, value in shown.items()]
    if not guarded_update(db.session, user, User.state == UserState.PENDING, *unchanged, state=state, **values):
        raise already if user.state != UserState.PENDING else changed
    return seen_fingerprint


def _organization_has_admin(user: User) -> bool:
    return (
        db.session.scalar(
            select(User.id)
            .where(
                User.organization_id == user.organization_id,
                User.role == OrgRole.ADMIN,
                User.state == UserState.ACTIVE,
                User.id != user.id,
            )
            .limit(1)
        )
        is not None
    )


def approve_user(actor: User, user: User, seen_fingerprint: str | None, confirm_user_domain: bool = False) -> None:
    """Approve a pending registration as the moderator was shown it; the organization becomes a member, and the
    first officer its admin."""
    _require_moderator(actor)
    now = utcnow()
    decided = _decide_pending(user, seen_fingerprint, UserState.ACTIVE, approved_at=now)
    organization = user.organization
    details: dict = {"email": user.email, "fingerprint": decided}
    if organization is not None:
        make_member(organization, today_in_japan())
        if not _organization_has_admin(user):
            user.role = OrgRole.ADMIN
            details["made_admin"] = True
        if confirm_user_domain and user.email_domain not in organization.confirmed_domains():
            details["confirmed_domain"] = _confirm_with_decision(actor, organization, user.email_domain)
    log_decision(actor, "approve_user", "user", user.id, _user_label(user), **details)
    db.session.flush()
    signals.user_approved.send(actor, user=user, moderator=actor)


def reject_user(actor: User, user: User, seen_fingerprint: str | None, reason: str) -> None:
    """Reject a pending registration, as the moderator was shown it, with a reason that the applicant is told."""
    _require_moderator(actor)
    reason = reason.strip()
    if not reason:
        raise ModerationError(_l("却下の理由を入力してください。"))
    decided = _decide_pending(user, seen_fingerprint, UserState.REJECTED, rejection_reason=reason)
    log_decision(
        actor, "reject_user", "user", user.id, _user_label(user), reason=reason, email=user.email, fingerprint=decided
    )
    db.session.flush()
    signals.user_rejected.send(actor, user=user, moderator=actor, reason=reason)


def _decide_email_change(actor: User, change: EmailChange, state: EmailChangeState, **values) -> None:
    """Close a change of address waiting for review; of two decisions at the same instant, the second is refused."""
    decided = change.state == EmailChangeState.PENDING and guarded_update(
        db.session,
        change,
        EmailChange.state == EmailChangeState.PENDING,
        state=state,
        decided_at=utcnow(),
        decided_by_id=actor.id,
        **values,
    )
    if not decided:
        raise ModerationError(_l("このメールアドレスの変更はすでに処理されています。"))


def approve_email_change(actor: User, change: EmailChange, confirm_new_domain: bool = False) -> None:
    """Move the account to the address its owner proved, optionally confirming the new domain for the organization
    (so that colleagues moving to it need nobody); the user's sessions end and both addresses are told."""
    _require_moderator(actor)
    user = change.user
    _decide_email_change(actor, change, EmailChangeState.APPROVED)
    if user.state != UserState.ACTIVE or user.email != change.old_email:
        raise ModerationError(_l("この職員のアカウントは変更を申請した時から変わっています。却下してください。"))
    try:
        change_address(user, change.new_email, actor=actor)
    except AccountError as error:
        raise ModerationError(error.message) from error
    details: dict = {"old_email": change.old_email, "new_email": change.new_email}
    if confirm_new_domain and user.organization is not None:
        details["confirmed_domain"] = _confirm_with_decision(actor, user.organization, change.new_domain)
    log_decision(actor, "approve_email_change", "user", user.id, _user_label(user), **details)
    db.session.flush()


def reject_email_change(actor: User, change: EmailChange, reason: str) -> None:
    """Refuse a change of address with a reason; the user keeps the old address and both addresses are told."""
    _require_moderator(actor)
    reason = reason.strip()
    if not reason:
        raise ModerationError(_l("却下の理由を入力してください。"))
    _decide_email_change(actor, change, EmailChangeState.REJECTED, reason=reason)
    log_decision(
        actor,
        "reject_email_change",
        "user",
        change.user_id,
        _user_label(change.user),
        reason=reason,
        old_email=change.old_email,
        new_email=change.new_email,
    )
    db.session.flush()
    signals.email_change_rejected.send(actor, change=change, moderator=actor, reason=reason)


def retry_mail(actor: User, message: OutboxMessage) -> None:
    """Put a message that failed for good back in the queue; the worker sends it on its next round."""
    _require_moderator(actor)
    requeued = message.state == OutboxState.FAILED and guarded_update(
        db.session,
        message,
        OutboxMessage.state == OutboxState.FAILED,
        state=OutboxState.PENDING,
        attempts=0,
        next_attempt_at=utcnow(),
        last_error=None,
    )
    if not requeued:
        raise ModerationError(_l("このメールはすでに送信待ちに戻されています。"))
    log_decision(actor, "retry_mail", "mail", message.id, message.recipient)


def _clean_reason(reason: str | None) -> str:
    """The reason as it is stored and told; refused when empty, too long or holding control characters."""
    reason = (reason or "").strip()
    if not reason:
        raise ModerationError(_l("理由を入力してください。"), field="reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise ModerationError(_l("%(max)d文字以内で入力してください。", max=MAX_REASON_LENGTH), field="reason")
    if has_control_characters(reason, allow_newlines=True):
        raise ModerationError(_l("使用できない制御文字が含まれています。"), field="reason")
    return reason


# --- suspension -----------------------------------------------------------------------------------------------------


def other_active_moderators(user: User) -> list[int]:
    """The ids of the active moderators other than `user`. Every active moderator's row stays locked until the
    transaction ends (PostgreSQL; SQLite writes one transaction at a time anyway), so that two moderators suspending
    each other at the same instant cannot leave the board without one: the second sees the first one's decision."""
    locked = db.session.scalars(
        select(User.id)
        .where(User.is_moderator.is_(True), User.state == UserState.ACTIVE)
        .order_by(User.id)
        .with_for_update()
    )
    return [moderator_id for moderator_id in locked if moderator_id != user.id]


def suspend_user(actor: User | None, user: User, reason: str) -> None:
    """Suspend an active account, with a reason the user is told by e-mail. Every session of theirs ends at once, and
    they cannot sign in until a moderator reinstates them. `actor` None is the board itself (inactivity)."""
    if actor is not None:
        _require_moderator(actor)
        if actor.id == user.id:
            raise ModerationError(_l("自分のアカウントは停止できません。"))
    reason = _clean_reason(reason)
    already = ModerationError(_l("このアカウントはすでに停止されています。"))
    if user.state == UserState.SUSPENDED:
        raise already
    if user.state != UserState.ACTIVE:
        raise ModerationError(
            _l("停止できるのは利用中のアカウントだけです（現在: %(state)s）。", state=user.state.label)
        )
    if user.is_moderator and not other_active_moderators(user):
        raise ModerationError(_l("最後のモデレーターのアカウントは停止できません。"))
    suspended = guarded_update(
        db.session,
        user,
        User.state == UserState.ACTIVE,
        state=UserState.SUSPENDED,
        suspension_reason=reason,
        suspended_at=utcnow(),
        suspended_by_id=actor.id if actor is not None else None,
    )
    if not suspended:
        raise already if user.state == UserState.SUSPENDED else ModerationError(_l("このアカウントは停止できません。"))
    end_sessions(user, actor=actor, why="suspended")
    record_security_event(SecurityEventKind.SUSPENDED, user=user, actor=actor, detail=reason)
    log_decision(
        actor, DecisionAction.SUSPEND_USER, "user", user.id, _user_label(user), reason=reason, email=user.email
    )
    db.session.flush()
    signals.account_suspended.send(actor, user=user, moderator=actor, reason=reason)


def reinstate_user(actor: User, user: User) -> None:
    """Let a suspended account be used again; the user is told by e-mail and signs in anew."""
    _require_moderator(actor)
    not_suspended = ModerationError(_l("このアカウントは停止されていません。"))
    if user.state != UserState.SUSPENDED:
        raise not_suspended
    reinstated = guarded_update(
        db.session,
        user,
        User.state == UserState.SUSPENDED,
        state=UserState.ACTIVE,
        suspension_reason=None,
        suspended_at=None,
        suspended_by_id=None,
        reinstated_at=utcnow(),
        inactivity_warned_at=None,
    )
    if not reinstated:
        raise not_suspended
    record_security_event(SecurityEventKind.REINSTATED, user=user, actor=actor)
    log_decision(actor, DecisionAction.REINSTATE_USER, "user", user.id, _user_label(user), email=user.email)
    db.session.flush()
    signals.account_reinstated.send(actor, user=user, moderator=actor)


def _staff(organization: Organization) -> list[User]:
    return list(db.session.scalars(select(User).where(User.organization_id == organization.id).order_by(User.id)))


def suspend_organization(actor: User, organization: Organization, reason: str) -> None:
    """Suspend an organization: its staff's sessions end, and signed in again they read only why (their posts stay as
    they are). Every active member of its staff is told the reason by e-mail."""
    _require_moderator(actor)
    reason = _clean_reason(reason)
    already = ModerationError(_l("この団体はすでに停止されています。"))
    if organization.membership == Membership.SUSPENDED:
        raise already
    if organization.membership not in (Membership.MEMBER, Membership.PENDING):
        raise ModerationError(_l("停止できるのは会員の団体と登録申請中の団体だけです。"))
    if actor.organization_id == organization.id:
        raise ModerationError(_l("自分の所属する団体は停止できません。"))
    before = organization.membership
    suspended = guarded_update(
        db.session,
        organization,
        Organization.membership == before,
        membership=Membership.SUSPENDED,
        membership_before_suspension=before,
        suspension_reason=reason,
        suspended_at=utcnow(),
    )
    if not suspended:
        raise already
    staff = _staff(organization)
    for member in staff:
        if not member.is_moderator:
            end_sessions(member, actor=actor, why="organization suspended")
    told = [member for member in staff if member.state == UserState.ACTIVE]
    record_security_event(SecurityEventKind.SUSPENDED, actor=actor, organization_id=organization.id, detail=reason)
    log_decision(
        actor,
        DecisionAction.SUSPEND_ORGANIZATION,
        "organization",
        organization.id,
        organization.display_name,
        code=organization.code,
        reason=reason,
        staff_told=len(told),
    )
    db.session.flush()
    signals.organization_suspended.send(actor, organization=organization, moderator=actor, reason=reason, staff=told)


def reinstate_organization(actor: User, organization: Organization) -> None:
    """Give a suspended organization back the membership it had; its active staff are told by e-mail."""
    _require_moderator(actor)
    not_suspended = ModerationError(_l("この団体は停止されていません。"))
    if organization.membership != Membership.SUSPENDED:
        raise not_suspended
    restored = organization.membership_before_suspension or Membership.MEMBER
    values: dict = {}
    if restored == Membership.MEMBER and organization.member_since is None:
        values["member_since"] = today_in_japan()
    reinstated = guarded_update(
        db.session,
        organization,
        Organization.membership == Membership.SUSPENDED,
        membership=restored,
        membership_before_suspension=None,
        suspension_reason=None,
        suspended_at=None,
        **values,
    )
    if not reinstated:
        raise not_suspended
    told = [member for member in _staff(organization) if member.state == UserState.ACTIVE]
    record_security_event(SecurityEventKind.REINSTATED, actor=actor, organization_id=organization.id)
    log_decision(
        actor,
        DecisionAction.REINSTATE_ORGANIZATION,
        "organization",
        organization.id,
        organization.display_name,
        code=organization.code,
        membership=restored.value,
        staff_told=len(told),
    )
    db.session.flush()
    signals.organization_reinstated.send(actor, organization=organization, moderator=actor, staff=told)


# --- confirmed e-mail domains ---------------------------------------------------------------------------------------


def _owned_elsewhere(domain: str, owner: Organization) -> ModerationError:
    return ModerationError(
        _l("%(domain)s は別の団体（%(org)s）のドメインとして登録されています。", domain=domain, org=owner.display_name),
        field="domain",
    )


def _confirm_with_decision(actor: User, organization: Organization, domain: str) -> str:
    """Confirm a domain for the organization as part of a decision on one of its officers (a registration, a change
    of address); refused, naming the owner, when it is another organization's. The domain confirmed."""
    try:
        confirm_domain(organization, domain, actor.id)
    except DomainOfAnotherOrganization as error:
        raise _owned_elsewhere(domain, error.owner) from error
    record_security_event(
        SecurityEventKind.DOMAIN_CONFIRMED, actor=actor, organization_id=organization.id, detail=domain
    )
    return domain


def add_domain(actor: User, organization: Organization, text: str) -> EmailDomain:
    """Confirm a domain as the organization's, at once by this moderator: officers registering with an address at it
    need no moderator's review. Public suffixes (lg.jp, go.jp…), free mail services and another organization's
    domains are refused."""
    _require_moderator(actor)
    domain = clean_domain(text)
    owner = domain_owners({domain}).get(domain)
    if owner is not None and owner.organization_id != organization.id:
        raise _owned_elsewhere(domain, owner.organization)
    already = ModerationError(
        _l("%(domain)s はすでにこの団体のドメインとして確認済みです。", domain=domain), field="domain"
    )
    if owner is not None and owner.is_confirmed:
        raise already
    try:
        with db.session.begin_nested():  # the same domain added at the same instant: the second waits, then fails
            record = confirm_domain(organization, domain, actor.id)
            db.session.flush()
    except IntegrityError as error:
        raise already from error
    record_security_event(
        SecurityEventKind.DOMAIN_CONFIRMED, actor=actor, organization_id=organization.id, detail=domain
    )
    log_decision(
        actor,
        DecisionAction.CONFIRM_DOMAIN,
        "organization",
        organization.id,
        organization.display_name,
        code=organization.code,
        domain=domain,
    )
    return record


def revoke_domain(actor: User, record: EmailDomain, reason: str) -> None:
    """Stop trusting a domain for its organization: a new registration from it waits for a moderator again. The
    accounts already registered from it stay as they are."""
    _require_moderator(actor)
    reason = _clean_reason(reason)
    organization, domain = record.organization, record.domain
    confirmed = {"confirmed_at": record.confirmed_at.isoformat() if record.confirmed_at else None}
    removed = db.session.execute(delete(EmailDomain).where(EmailDomain.id == record.id)).rowcount  # type: ignore[attr-defined]
    if not removed:
        raise ModerationError(_l("%(domain)s の確認はすでに取り消されています。", domain=domain))
    db.session.expire(organization, ["domains"])
    record_security_event(
        SecurityEventKind.DOMAIN_REVOKED, actor=actor, organization_id=organization.id, detail=f"{domain}: {reason}"
    )
    log_decision(
        actor,
        DecisionAction.REVOKE_DOMAIN,
        "organization",
        organization.id,
        organization.display_name,
        code=organization.code,
        reason=reason,
        domain=domain,
        confirmed_by_id=record.confirmed_by_id,
        **confirmed,
    )


def _user_label(user: User) -> str:
    organization = user.organization.name if user.organization else "事務局"
    if user.organization and user.organization.kind != OrganizationKind.PREFECTURE:
        organization = user.organization.display_name
    return f"{user.name}（{organization}）"
