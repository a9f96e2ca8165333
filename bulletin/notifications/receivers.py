"""The one subscriber to domain signals: turns events into outbox e-mail in the event's own transaction."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l

from bulletin.accounts.models import OrgRole, User
from bulletin.core import signals
from bulletin.core.text import format_fiscal_year
from bulletin.core.urls import absolute_url
from bulletin.notifications.mail import asked_too_often, queue_email
from bulletin.notifications.services import moderators, notify, post_audience, staff_of


def on_user_registered(sender, user: User, token: str, **_):
    if asked_too_often(user.email):
        return
    queue_email(
        user,
        "confirm_email",
        _l("メールアドレスの確認"),
        "confirm_email",
        confirm_url=absolute_url("accounts.confirm", token=token),
    )


def on_registration_attempt_on_existing(sender, user: User, **_):
    if asked_too_often(user.email):
        return
    queue_email(
        user,
        "already_registered",
        _l("登録の申し込みがありました"),
        "already_registered",
        login_url=absolute_url("accounts.login"),
        reset_url=absolute_url("accounts.forgot_password"),
    )


def on_user_approved(sender, user: User, **_):
    queue_email(
        user, "user_approved", _l("利用登録が承認されました"), "user_approved", login_url=absolute_url("accounts.login")
    )


def on_user_rejected(sender, user: User, reason: str, **_):
    queue_email(user, "user_rejected", _l("利用登録を承認できませんでした"), "user_rejected", reason=reason)


def on_password_reset_requested(sender, user: User, token: str, **_):
    if asked_too_often(user.email):
        return
    queue_email(
        user,
        "password_reset",
        _l("パスワードの再設定"),
        "password_reset",
        reset_url=absolute_url("accounts.reset_password", token=token),
    )


def on_unlock_requested(sender, user: User, token: str, **_):
    if asked_too_often(user.email):
        return
    queue_email(
        user,
        "account_unlock",
        _l("ログイン制限の解除"),
        "account_unlock",
        unlock_url=absolute_url("accounts.unlock", token=token),
        forgot_url=absolute_url("accounts.forgot_password"),
    )


def on_password_changed(sender, user: User, **_):
    queue_email(
        user,
        "password_changed",
        _l("パスワードが変更されました"),
        "password_changed",
        forgot_url=absolute_url("accounts.forgot_password"),
    )


def on_two_factor_changed(sender, user: User, change: str, **_):
    queue_email(
        user,
        "two_factor_changed",
        _l("2段階認証の設定が変更されました"),
        "two_factor_changed",
        change=change,
        settings_url=absolute_url("two_factor.settings"),
        forgot_url=absolute_url("accounts.forgot_password"),
    )


def on_user_invited(sender, invitation, token: str, **_):
    if asked_too_often(invitation.email):
        return
    queue_email(
        invitation.email,
        "invitation",
        _l("掲示板への招待"),
        "invitation",
        locale=sender.locale if sender is not None else "ja",  # colleagues usually share the inviter's language
        inviter=sender,
        invitation=invitation,
        invitation_url=absolute_url("accounts.accept_invitation", token=token),
    )


def _notice_of_change_request(user: User, new_email: str, needs_review: bool) -> None:
    """The account's current address is told of every request to move it (whether or not it can be done)."""
    queue_email(
        user,
        "email_change_requested",
        _l("メールアドレス変更の申し込みがありました"),
        "email_change_requested",
        account=user,
        new_email=new_email,
        needs_review=needs_review,
        profile_url=absolute_url("accounts.profile"),
    )


def on_email_change_requested(sender, user: User, new_email: str, token: str, needs_review: bool, **_):
    if not asked_too_often(new_email):
        queue_email(
            new_email,
            "email_change_confirm",
            _l("メールアドレス変更の確認"),
            "email_change_confirm",
            locale=user.locale,
            account=user,
            new_email=new_email,
            needs_review=needs_review,
            confirm_url=absolute_url("accounts.confirm_email_change", token=token),
        )
    _notice_of_change_request(user, new_email, needs_review)


def on_email_change_address_taken(sender, user: User, new_email: str, owner: User, needs_review: bool, **_):
    if not asked_too_often(owner.email):
        queue_email(
            owner,
            "email_change_address_taken",
            _l("メールアドレス変更の申し込みがありました"),
            "email_change_address_taken",
            account=owner,
            login_url=absolute_url("accounts.login"),
        )
    _notice_of_change_request(user, new_email, needs_review)


def on_email_changed(sender, user: User, old_email: str, moderator: User | None, **_):
    context: dict[str, Any] = {
        "account": user,
        "old_email": old_email,
        "new_email": user.email,
        "by_moderator": moderator is not None,
        "login_url": absolute_url("accounts.login"),
    }
    subject = _l("メールアドレスが変更されました")
    queue_email(user, "email_changed", subject, "email_changed", **context)
    queue_email(old_email, "email_changed", subject, "email_changed", locale=user.locale, **context)


def on_email_change_rejected(sender, change, reason: str, **_):
    user = change.user
    context: dict[str, Any] = {
        "account": user,
        "old_email": change.old_email,
        "new_email": change.new_email,
        "reason": reason,
    }
    subject = _l("メールアドレスの変更は承認されませんでした")
    queue_email(user, "email_change_rejected", subject, "email_change_rejected", **context)
    queue_email(
        change.new_email, "email_change_rejected", subject, "email_change_rejected", locale=user.locale, **context
    )


class _ReviewSubject:
    """令和9年度 職員確認のお願い（坂井市）, in the recipient's language."""

    def __init__(self, fiscal_year: int, organization):
        self.fiscal_year, self.organization = fiscal_year, organization

    def __str__(self) -> str:
        year = format_fiscal_year(self.fiscal_year, str(get_locale() or "ja"))
        return gettext("%(year)s 職員確認のお願い（%(org)s）", year=year, org=self.organization.name)


def on_staff_review_reminder_due(sender, organization, recipients, staff, fiscal_year: int, reminders_until, **_):
    no_admin = not any(person.role == OrgRole.ADMIN for person in staff)
    for recipient in recipients:
        queue_email(
            recipient,
            "staff_review_reminder",
            _ReviewSubject(fiscal_year, organization),
            "staff_review_reminder",
            organization=organization,
            staff=staff,
            fiscal_year=fiscal_year,
            reminders_until=reminders_until,
            no_admin=no_admin,
            review_url=absolute_url("accounts.staff_review_page"),
        )


def on_account_suspended(sender, user: User, reason: str, **_):
    queue_email(
        user,
        "account_suspended",
        _l("アカウントの利用を停止しました"),
        "account_suspended",
        reason=reason,
        contact=current_app.config["CONTACT_EMAIL"],
    )


def on_account_reinstated(sender, user: User, **_):
    queue_email(
        user,
        "account_reinstated",
        _l("アカウントの利用を再開しました"),
        "account_reinstated",
        login_url=absolute_url("accounts.login"),
    )


def on_organization_suspended(sender, organization, reason: str, staff: list[User], **_):
    for member in staff:
        queue_email(
            member,
            "organization_suspended",
            _l("団体の掲示板の利用を停止しました"),
            "organization_suspended",
            organization=organization,
            reason=reason,
            contact=current_app.config["CONTACT_EMAIL"],
            page_url=absolute_url("accounts.organization_suspended"),
        )


def on_organization_reinstated(sender, organization, staff: list[User], **_):
    for member in staff:
        queue_email(
            member,
            "organization_reinstated",
            _l("団体の掲示板の利用を再開しました"),
            "organization_reinstated",
            organization=organization,
            login_url=absolute_url("accounts.login"),
        )


def on_inactivity_warning(sender, user: User, months: int, suspend_on, **_):
    queue_email(
        user,
        "inactivity_warning",
        _l("ログインがないため、アカウントの利用を停止する予定です"),
        "inactivity_warning",
        months=months,
        suspend_on=suspend_on,
        login_url=absolute_url("accounts.login"),
    )


def connect_receivers() -> None:
    """Subscribe every receiver; called once by create_app (weak=False: the functions live for the process)."""
    pairs = (
        (signals.user_registered, on_user_registered),
        (signals.registration_attempt_on_existing, on_registration_attempt_on_existing),
        (signals.user_approved, on_user_approved),
        (signals.user_rejected, on_user_rejected),
        (signals.password_reset_requested, on_password_reset_requested),
        (signals.password_changed, on_password_changed),
        (signals.unlock_requested, on_unlock_requested),
        (signals.two_factor_changed, on_two_factor_changed),
        (signals.user_invited, on_user_invited),
        (signals.email_change_requested, on_email_change_requested),
        (signals.email_change_address_taken, on_email_change_address_taken),
        (signals.email_changed, on_email_changed),
        (signals.email_change_rejected, on_email_change_rejected),
        (signals.staff_review_reminder_due, on_staff_review_reminder_due),
        (signals.account_suspended, on_account_suspended),
        (signals.account_reinstated, on_account_reinstated),
        (signals.organization_suspended, on_organization_suspended),
        (signals.organization_reinstated, on_organization_reinstated),
        (signals.inactivity_warning, on_inactivity_warning),
    )
    for signal, receiver in pairs:
        signal.connect(receiver, weak=False)
    connect_notification_receivers()


# --- in-app notifications (and their e-mail, by preference) for the events of DESIGN §4 ----------------------


def _org_name(organization) -> str:
    return organization.display_name if organization is not None else ""


def on_user_confirmed_notify(sender, user: User, awaiting_approval: bool, **_):
    if not awaiting_approval:
        return
    domain_confirmed = user.organization is not None and user.email_domain in user.organization.confirmed_domains()
    notify(
        moderators(),
        "registration_pending",
        {"org": _org_name(user.organization), "name": user.name},
        "moderation.queue",
        email_template="registration_pending",
        email_context={
            "applicant": user,
            "domain_confirmed": domain_confirmed,
            "queue_url": absolute_url("moderation.queue"),
        },
    )


def on_email_change_awaiting_review(sender, change, **_):
    user = change.user
    notify(
        moderators(),
        "email_change_pending",
        {"org": _org_name(user.organization), "name": user.name},
        "moderation.queue",
        email_template="email_change_pending",
        email_context={"change": change, "queue_url": absolute_url("moderation.queue")},
    )


def on_membership_decided(sender, user: User, **kwargs):
    """The organization's staff learn who joined (or was refused); the person is told by the account mail."""
    if user.organization_id is None:
        return
    kind = "member_rejected" if "reason" in kwargs else "member_approved"
    colleagues = [colleague for colleague in staff_of([user.organization_id]) if colleague.id != user.id]
    notify(colleagues, kind, {"name": user.name, "org": _org_name(user.organization)}, "accounts.members", actor=sender)


def on_post_submitted(sender, post, **_):
    notify(
        moderators(), "post_submitted", {"title": post.title}, "moderation.review_post", actor=sender, post_id=post.id
    )


def on_post_reported(sender, report, **_):
    title = report.post.title if report.post is not None else report.message.conversation.post.title
    notify(moderators(), "report_filed", {"title": title}, "moderation.queue", actor=sender)


def on_post_approved(sender, post, **_):
    targeted, followers = post_audience(post)
    params = {"org": _org_name(post.organization), "title": post.title}
    notify(targeted, "post_targeted", params, "posts.show", actor=sender, post_id=post.id)
    notify(followers, "post_published", params, "posts.show", actor=sender, post_id=post.id)
    notify(
        staff_of(post.organization_ids()),
        "post_approved",
        {"title": post.title},
        "posts.show",
        actor=sender,
        post_id=post.id,
    )


def on_post_rejected(sender, post, **_):
    notify(
        staff_of(post.organization_ids()),
        "post_rejected",
        {"title": post.title},
        "posts.edit",
        actor=sender,
        post_id=post.id,
    )


def on_response_received(sender, response, **_):
    post = response.post
    notify(
        staff_of([post.organization_id]),
        "response_received",
        {"org": _org_name(response.organization), "title": post.title},
        "responses.conversation",
        actor=sender,
        conversation_id=response.conversation.id,
    )


def on_message_posted(sender, message, conversation, **_):
    if message.organization_id == conversation.post_organization_id:
        others, author_org = [conversation.partner_organization_id], conversation.post_organization
    elif message.organization_id == conversation.partner_organization_id:
        others, author_org = [conversation.post_organization_id], conversation.partner_organization
    else:  # a moderator wrote: both sides are told
        others, author_org = list(conversation.organization_ids()), None
    name = _org_name(author_org) if author_org is not None else None  # the secretariat: named when read
    notify(
        staff_of(others),
        "message_posted",
        {"org": name, "title": conversation.post.title},
        "responses.conversation",
        actor=sender,
        coalesce_as=f"conversation:{conversation.id}",
        conversation_id=conversation.id,
    )


def on_response_decided(sender, response, partnership, **_):
    kind = "response_accepted" if partnership is not None else "response_declined"
    notify(
        staff_of([response.organization_id]),
        kind,
        {"org": _org_name(response.post.organization), "title": response.post.title},
        "responses.conversation",
        actor=sender,
        conversation_id=response.conversation.id,
    )


def on_outcome_updated(sender, partnership, **_):
    other = (
        partnership.partner_organization_id
        if sender.organization_id == partnership.post_organization_id
        else partnership.post_organization_id
    )
    notify(
        staff_of([other]),
        "outcome_updated",
        {"org": _org_name(sender.organization), "title": partnership.title},
        "responses.partnership",
        actor=sender,
        partnership_id=partnership.id,
    )


def on_deadline_approaching(sender, post, **_):
    notify(
        staff_of([post.organization_id]),
        "deadline_soon",
        {"title": post.title, "deadline": post.deadline.isoformat()},
        "posts.show",
        post_id=post.id,
    )


def connect_notification_receivers() -> None:
    """Subscribe the in-app notification receivers; called once by create_app."""
    pairs = (
        (signals.user_confirmed, on_user_confirmed_notify),
        (signals.email_change_awaiting_review, on_email_change_awaiting_review),
        (signals.user_approved, on_membership_decided),
        (signals.user_rejected, on_membership_decided),
        (signals.post_submitted, on_post_submitted),
        (signals.post_reported, on_post_reported),
        (signals.post_approved, on_post_approved),
        (signals.post_rejected, on_post_rejected),
        (signals.response_received, on_response_received),
        (signals.message_posted, on_message_posted),
        (signals.response_decided, on_response_decided),
        (signals.outcome_updated, on_outcome_updated),
        (signals.deadline_approaching, on_deadline_approaching),
    )
    for signal, receiver in pairs:
        signal.connect(receiver, weak=False)
