"""The one subscriber to domain signals: turns events into outbox e-mail in the event's own transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bulletin.accounts.models import OrgRole, User
from bulletin.core import signals
from bulletin.core.text import excerpt, format_fiscal_year
from bulletin.core.urls import absolute_url
from bulletin.extensions import db
from bulletin.notifications.mail import asked_too_often, queue_email
from bulletin.notifications.services import moderators, notify, post_audience, resolve_notices, staff_of
from bulletin.responses.models import ConversationRead, Message
from bulletin.saved_searches.services import record_matches


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
#
# The e-mail carries the substance so that an officer can decide from it: the reason given, the text written (its
# first QUOTE_LENGTH characters), a new post's facts. It is rendered at the event and kept in the outbox, so it says
# what was true then. The notification's params keep a brief of the same (BRIEF_LENGTH) for the daily digest.

QUOTE_LENGTH = 1000
BRIEF_LENGTH = 100
QUOTED_MESSAGES = 3  # a coalesced mail quotes at most the latest three messages its reader has not read


def _org_name(organization) -> str:
    return organization.display_name if organization is not None else ""


def _quote(text: str | None) -> dict:
    """A text as a mail quotes it: its first QUOTE_LENGTH characters, and whether there was more."""
    quoted = excerpt(text, QUOTE_LENGTH)
    return {"text": quoted, "cut": quoted != (text or "").strip()}


def _with_reason(params: dict, reason: str | None) -> tuple[dict, dict]:
    """The params with the reason's brief, and the mail's context with the reason in full."""
    reason = (reason or "").strip()
    if not reason:
        return params, {}
    return {**params, "reason": excerpt(reason, BRIEF_LENGTH)}, {"reason": _quote(reason)}


def _resolve(*subjects: str) -> None:
    """The queue items are decided: every moderator's notice of them is read."""
    resolve_notices(subjects)


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
        subject=f"user:{user.id}",
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
        subject=f"email-change:{user.id}",
    )


def on_email_change_decided(sender, user: User | None = None, change=None, **_):
    _resolve(f"email-change:{user.id if user is not None else change.user_id}")


def on_membership_decided(sender, user: User, **kwargs):
    """The organization's staff learn who joined (or was refused, and why); the person is told by the account mail."""
    _resolve(f"user:{user.id}")
    if user.organization_id is None:
        return
    kind = "member_rejected" if "reason" in kwargs else "member_approved"
    params, details = _with_reason({"name": user.name, "org": _org_name(user.organization)}, kwargs.get("reason"))
    colleagues = [colleague for colleague in staff_of([user.organization_id]) if colleague.id != user.id]
    notify(colleagues, kind, params, "accounts.members", actor=sender, email_context=details)


def _queue_notice(sender, kind: str, title: str, subject: str, endpoint: str, **url_values) -> None:
    """Every moderator (but the one who acted) is told of an item for the queue, named by `subject`."""
    notify(moderators(), kind, {"title": title}, endpoint, actor=sender, subject=subject, **url_values)


def on_post_submitted(sender, post, **_):
    _queue_notice(sender, "post_submitted", post.title, f"post:{post.id}", "moderation.review_post", post_id=post.id)


def on_revision_submitted(sender, revision, **_):
    title, subject = revision.post.title, f"revision:{revision.id}"
    _queue_notice(sender, "revision_submitted", title, subject, "moderation.review_revision", revision_id=revision.id)


def on_post_reported(sender, report, **_):
    title = report.post.title if report.post is not None else report.message.conversation.post.title
    _queue_notice(sender, "report_filed", title, f"report:{report.id}", "moderation.queue")


def on_reports_resolved(sender, report_ids: list[int], **_):
    _resolve(*(f"report:{report_id}" for report_id in report_ids))


def _new_post_params(post) -> dict:
    """What the digest says of a new post: its proposer, title, category, deadline, desired period and the start of
    its summary."""
    return {
        "org": _org_name(post.organization),
        "title": post.title,
        "category": post.category,
        "deadline": post.deadline.isoformat() if post.deadline else None,
        "desired_from": post.desired_from.isoformat() if post.desired_from else None,
        "desired_until": post.desired_until.isoformat() if post.desired_until else None,
        "summary": excerpt(post.summary, BRIEF_LENGTH),
    }


def on_post_approved(sender, post, **_):
    _resolve(f"post:{post.id}")
    targeted, followers = post_audience(post)
    params, facts = _new_post_params(post), {"post": post}
    for recipients, kind in ((targeted, "post_targeted"), (followers, "post_published")):
        notify(
            recipients,
            kind,
            params,
            "posts.show",
            actor=sender,
            email_template="new_post",
            email_context=facts,
            post_id=post.id,
        )
    _tell_post_organizations(sender, post, "post_approved", "posts.show")


def on_post_approved_for_saved_searches(sender, post, **_):
    """The owners of the saved searches the new post matches, each once per saved search, by its chosen delivery."""
    for saved in record_matches(post):
        notify(
            [saved.user],
            "saved_search_matched",
            {**_new_post_params(post), "search": saved.name},
            "posts.show",
            email_template="new_post",
            email_context={"post": post, "settings_url": absolute_url("saved_searches.index")},
            mode=saved.delivery,
            post_id=post.id,
        )


def _tell_post_organizations(sender, post, kind: str, endpoint: str, reason: str | None = None) -> None:
    """The staff of the post's organization and of its accepted co-proposers, told of a decision on it."""
    params, details = _with_reason({"title": post.title}, reason)
    notify(
        staff_of(post.organization_ids()), kind, params, endpoint, actor=sender, email_context=details, post_id=post.id
    )


def on_post_rejected(sender, post, comment: str, **_):
    _resolve(f"post:{post.id}")
    _tell_post_organizations(sender, post, "post_rejected", "posts.edit", comment)


def on_post_hidden(sender, post, reason: str, **_):
    _tell_post_organizations(sender, post, "post_hidden", "posts.show", reason)


def on_post_unhidden(sender, post, reason: str, **_):
    _tell_post_organizations(sender, post, "post_unhidden", "posts.show", reason)


def on_revision_decided(sender, revision, **_):
    _resolve(f"revision:{revision.id}")
    refused = revision.state == "rejected"
    kind = "revision_rejected" if refused else "revision_approved"
    _tell_post_organizations(sender, revision.post, kind, "posts.show", revision.comment if refused else None)


def on_co_proposer_invited(sender, co_proposer, **_):
    post = co_proposer.post
    notify(
        staff_of([co_proposer.organization_id]),
        "co_proposer_invited",
        {"org": _org_name(post.organization), "title": post.title},
        "posts.ours",
        actor=sender,
    )


def on_co_proposer_answered(sender, co_proposer, **_):
    post = co_proposer.post
    notify(
        staff_of([post.organization_id]),
        "co_proposer_accepted" if co_proposer.state == "accepted" else "co_proposer_declined",
        {"org": _org_name(co_proposer.organization), "title": post.title},
        "posts.show",
        actor=sender,
        post_id=post.id,
    )


def on_response_received(sender, response, **_):
    post = response.post
    conversation = response.conversation
    first = db.session.scalar(
        select(Message).where(Message.conversation_id == conversation.id).order_by(Message.id).limit(1)
    )
    notify(
        staff_of([post.organization_id]),
        "response_received",
        {
            "org": _org_name(response.organization),
            "title": post.title,
            "excerpt": excerpt(first.body if first else "", BRIEF_LENGTH),
        },
        "responses.conversation",
        actor=sender,
        email_context={
            "quotes": [{"org": _org_name(response.organization), "response_kind": response.kind, **_quote(first.body)}]
            if first is not None
            else []
        },
        conversation_id=conversation.id,
    )


def _unread_messages_for(conversation, latest: list) -> Callable[[User], dict]:
    """For each reader, the latest messages they have not read that their own organization did not write, oldest
    first: the messages a (coalesced) mail quotes."""
    markers = dict(
        db.session.execute(
            select(ConversationRead.user_id, ConversationRead.last_read_message_id).where(
                ConversationRead.conversation_id == conversation.id
            )
        ).all()
    )

    def quotes(user: User) -> dict:
        unread = [
            message
            for message in latest
            if message.id > markers.get(user.id, 0) and message.organization_id != user.organization_id
        ]
        return {
            "quotes": [
                {
                    "org": _org_name(message.organization) or None,
                    "files": [attachment.original_name for attachment in message.attachments],
                    **_quote(message.body),
                }
                for message in reversed(unread)
            ]
        }

    return quotes


def on_message_posted(sender, message, conversation, **_):
    if message.organization_id == conversation.post_organization_id:
        others, author_org = [conversation.partner_organization_id], conversation.post_organization
    elif message.organization_id == conversation.partner_organization_id:
        others, author_org = [conversation.post_organization_id], conversation.partner_organization
    else:  # a moderator wrote: both sides are told
        others, author_org = list(conversation.organization_ids()), None
    name = _org_name(author_org) if author_org is not None else None  # the secretariat: named when read
    latest = list(
        db.session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation.id, Message.hidden_at.is_(None))
            .order_by(Message.id.desc())
            .limit(QUOTED_MESSAGES)
            .options(selectinload(Message.attachments))
        )
    )
    notify(
        staff_of(others),
        "message_posted",
        {"org": name, "title": conversation.post.title, "excerpt": excerpt(message.body, BRIEF_LENGTH)},
        "responses.conversation",
        actor=sender,
        email_context_for=_unread_messages_for(conversation, latest),
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


def _other_organization(partnership, organization_id: int | None) -> int:
    """The organization of the partnership that is not this one."""
    if organization_id == partnership.post_organization_id:
        return partnership.partner_organization_id
    return partnership.post_organization_id


def _tell_the_other_side(sender, partnership, kind: str) -> None:
    """Notify the staff of the partnership's other organization of what the sender's side did."""
    notify(
        staff_of([_other_organization(partnership, sender.organization_id)]),
        kind,
        {"org": _org_name(sender.organization), "title": partnership.title},
        "responses.partnership",
        actor=sender,
        partnership_id=partnership.id,
    )


def on_outcome_updated(sender, partnership, **_):
    if not partnership.has_both_consents:  # an edit asked both sides again: nothing awaits publication any more
        _resolve(f"partnership:{partnership.id}")
    _tell_the_other_side(sender, partnership, "outcome_updated")


def on_publication_consented(sender, partnership, **_):
    _tell_the_other_side(sender, partnership, "publication_consented")
    if partnership.has_both_consents:
        subject = f"partnership:{partnership.id}"
        _queue_notice(
            sender,
            "case_awaiting_publication",
            partnership.title,
            subject,
            "responses.partnership",
            partnership_id=partnership.id,
        )


def on_case_published(sender, partnership, **_):
    _resolve(f"partnership:{partnership.id}")
    notify(
        staff_of(partnership.organization_ids()),
        "case_published",
        {"title": partnership.title},
        "responses.case",
        actor=sender,
        partnership_id=partnership.id,
    )


def on_case_withdrawn(sender, partnership, reason: str, **_):
    params, details = _with_reason({"title": partnership.title}, reason)
    notify(
        staff_of(partnership.organization_ids()),
        "case_withdrawn",
        params,
        "responses.partnership",
        actor=sender,
        email_context=details,
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
        (signals.email_changed, on_email_change_decided),
        (signals.email_change_rejected, on_email_change_decided),
        (signals.user_approved, on_membership_decided),
        (signals.user_rejected, on_membership_decided),
        (signals.post_submitted, on_post_submitted),
        (signals.revision_submitted, on_revision_submitted),
        (signals.post_reported, on_post_reported),
        (signals.reports_resolved, on_reports_resolved),
        (signals.post_approved, on_post_approved),
        (signals.post_approved, on_post_approved_for_saved_searches),
        (signals.post_rejected, on_post_rejected),
        (signals.post_hidden, on_post_hidden),
        (signals.post_unhidden, on_post_unhidden),
        (signals.revision_decided, on_revision_decided),
        (signals.co_proposer_invited, on_co_proposer_invited),
        (signals.co_proposer_answered, on_co_proposer_answered),
        (signals.response_received, on_response_received),
        (signals.message_posted, on_message_posted),
        (signals.response_decided, on_response_decided),
        (signals.outcome_updated, on_outcome_updated),
        (signals.publication_consented, on_publication_consented),
        (signals.case_published, on_case_published),
        (signals.case_withdrawn, on_case_withdrawn),
        (signals.deadline_approaching, on_deadline_approaching),
    )
    for signal, receiver in pairs:
        signal.connect(receiver, weak=False)
