"""Who may do what: every route of the URL map × every kind of visitor, with the outcome declared in a table.

The routes are read from the URL map when the tests are collected, so a route added to the app without a line in
ROUTES fails here ("declare who may use it"). Each route is tried by every role in its own savepoint of the test's
transaction: anonymous, staff of two member organizations (坂井市, 釧路町), ward staff (品川区), the 坂井市
org admin, a moderator, a suspended officer (whose login is refused) and an officer suspended after logging in.
The last two must fare exactly like the anonymous visitor.

For routes that change something, `effect` says what the change is, and the table says for whom it happens: the
test checks both the answer and that the change happened for those roles and for no one else.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from bulletin import create_app
from bulletin.accounts.models import (
    EmailChange,
    EmailChangeState,
    Invitation,
    OrgRole,
    RecoveryCode,
    StaffReview,
    User,
    UserState,
)
from bulletin.accounts.passwords import verify_password
from bulletin.extensions import db
from bulletin.moderation.models import Report, ReportState
from bulletin.notifications.kinds import KINDS
from bulletin.notifications.models import Notification, NotificationPreference, OutboxMessage
from bulletin.organizations.models import Agreement, EmailDomain, ExchangeRelation, Membership, Organization
from bulletin.posts.models import CoProposer, CoProposerState, Post, PostRevision, PostState, RevisionState
from bulletin.responses.models import Message, Partnership, Response, ResponseState
from bulletin.saved_searches.models import SavedSearch
from tests.constants import CONFIRMED, GIFU, KUSHIRO_TOWN, NEW_PASSWORD, PASSWORD, SAKAI
from tests.factories import (
    World,
    build_world,
    limiter_state_preserved,
    new_client,
    refuse_login_of_the_current_user_proxy,
)

ANONYMOUS_LIKE = ("anonymous", "suspended", "suspended_after_login")
STAFF = ("member_a", "member_b", "ward")
ORG_USERS = (*STAFF, "org_admin")
SIGNED_IN = (*ORG_USERS, "moderator")
ROLES = (*ANONYMOUS_LIKE, *SIGNED_IN)
GROUPS = {
    **{role: (role,) for role in ROLES},
    "everyone": ROLES,
    "anonymous": ANONYMOUS_LIKE,  # a suspended officer is a stranger to the board
    "signed_in": SIGNED_IN,
    "org_users": ORG_USERS,
    "staff": STAFF,
    "owners": ("member_a", "org_admin"),  # 坂井市, whose posts the world holds
    "others": ("member_b", "ward"),  # members of other organizations
}


@dataclass(frozen=True)
class Outcome:
    """The expected answer: status, where a redirect leads (a regular expression), whether the effect happens."""

    status: int
    location: str | None = None
    changes: bool = False

    def __str__(self) -> str:
        return f"{self.status}{' → ' + self.location if self.location else ''}{' (changes)' if self.changes else ''}"


OK = Outcome(200)
LOGIN = Outcome(302, r"/login\?next=.+")
HOME = Outcome(302, "/")
FORBIDDEN = Outcome(403)
NOT_FOUND = Outcome(404)


def to(location: str, changes: bool = False) -> Outcome:
    return Outcome(302, location, changes)


def done(status_or_location: int | str) -> Outcome:
    if isinstance(status_or_location, int):
        return Outcome(status_or_location, changes=True)
    return Outcome(302, status_or_location, changes=True)


def expect(**by_group: Outcome) -> dict[str, Outcome]:
    """Outcomes by group of roles, later groups overriding earlier ones; every role must end up with one."""
    table: dict[str, Outcome] = {}
    for group, outcome in by_group.items():
        for role in GROUPS[group]:
            table[role] = outcome
    missing = set(ROLES) - set(table)
    assert not missing, f"no outcome for {missing}"
    assert len({table[role] for role in ANONYMOUS_LIKE}) == 1, "suspended users must fare like anonymous ones"
    return table


Refs = SimpleNamespace  # the world as plain values: ids, addresses and tokens, usable in every savepoint


@dataclass
class Case:
    """One request to a route, with the outcome for each role."""

    path: str  # formatted with w=<Refs>
    expected: dict[str, Outcome]
    data: dict | Callable[[Refs, SimpleNamespace | None], dict] | None = None
    effect: Callable[[Refs, SimpleNamespace | None], bool] | None = None
    label: str = ""
    needs_posts: bool = False
    needs_responses: bool = False


# --- effects: did the request change what it is about? ---------------------------------------------------------


def user(user_id: int) -> User:
    return db.session.get(User, user_id)


def post_state(post_id: int) -> PostState:
    return db.session.get(Post, post_id).state


def registered(w, actor) -> bool:
    return db.session.scalar(select(User.id).where(User.email == "new-officer@city.fukui-sakai.lg.jp")) is not None


def actors_name_changed(w, actor) -> bool:
    return actor is not None and user(actor.id).name == "名前を変えた"


def actors_password_changed(w, actor) -> bool:
    return actor is not None and verify_password(user(actor.id).password_hash, NEW_PASSWORD)


def reset_mail_sent(w, actor) -> bool:
    return db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.recipient == w.forgetful.email)) is not None


def unlock_mail_sent(w, actor) -> bool:
    return (
        db.session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.recipient == w.forgetful.email, OutboxMessage.kind == "account_unlock"
            )
        )
        is not None
    )


def invited(w, actor) -> bool:
    return (
        db.session.scalar(select(Invitation.id).where(Invitation.email == "another@city.fukui-sakai.lg.jp")) is not None
    )


def actor_reported(w, actor) -> bool:
    if actor is None:
        return False
    return db.session.scalar(select(Report.id).where(Report.reporter_id == actor.id)) is not None


def kushiro_invited_to_published(w, actor) -> bool:
    return db.session.scalar(select(CoProposer.id).where(CoProposer.post_id == w.published)) is not None


def new_post_written(w, actor) -> bool:
    return db.session.scalar(select(Post.id).where(Post.title == "新しい投稿")) is not None


def new_post_data(w, actor) -> dict:
    is_ward = actor is not None and actor.id == w.ward.id
    kind = "call" if is_ward else "proposal"
    return {"kind": kind, "title": "新しい投稿", "summary": "概要", "category": "other", "action": "draft"}


def as_shown(model, attribute: str, **fields) -> Callable[[Refs, SimpleNamespace | None], dict]:
    """The form of a moderator's decision on the post or revision `attribute`, carrying the version its page shows."""
    return lambda w, actor: {"version": str(db.session.get(model, getattr(w, attribute)).version), **fields}


def registration_as_shown(**fields) -> Callable[[Refs, SimpleNamespace | None], dict]:
    """The form of a moderator's decision on the applicant, carrying the fingerprint of the details shown."""
    return lambda w, actor: {"fingerprint": user(w.applicant.id).registration_fingerprint, **fields}


def state_is(attribute: str, state) -> Callable:
    return lambda w, actor: post_state(getattr(w, attribute)) == state


def responded_to(attribute: str) -> Callable:
    """The actor's organization answered the post."""

    def effect(w, actor) -> bool:
        if actor is None:
            return False
        organization_id = user(actor.id).organization_id
        statement = select(Response.id).where(
            Response.post_id == getattr(w, attribute), Response.organization_id == organization_id
        )
        return db.session.scalar(statement) is not None

    return effect


def message_written(w, actor) -> bool:
    return db.session.scalar(select(Message.id).where(Message.body == "書き込みました。")) is not None


def response_is(state: ResponseState) -> Callable:
    return lambda w, actor: db.session.get(Response, w.open_response).state == state


def partnership(partnership_id: int) -> Partnership:
    return db.session.get(Partnership, partnership_id)


def consented_to(w, actor) -> bool:
    record = partnership(w.partnership)
    return record.post_organization_consent_at is not None or record.partner_organization_consent_at is not None


def published(attribute: str) -> Callable:
    return lambda w, actor: partnership(getattr(w, attribute)).published_at is not None


LOGIN_AS_COLLEAGUE = {"email": "{w.colleague.email}", "password": PASSWORD}
REGISTRATION = {
    "email": "new-officer@city.fukui-sakai.lg.jp",
    "password": PASSWORD,
    "password_confirm": PASSWORD,
    "name": "坂井 新人",
    "department": "観光交流課",
    "organization_code": SAKAI,
    "agree": "y",
}
MEMBERS = r"/organization/members"
TWO_FACTOR = "/settings/two-factor"
POST_PAGE = r"/posts/\d+"
QUEUE = "/moderation"
ACCOUNT = r"/moderation/users/\d+"
ORGANIZATION = r"/moderation/organizations/\d{6}"
CONVERSATION = r"/conversations/\d+"
PARTNERSHIP = r"/partnerships/\d+"
RESPONSE = {"kind": "interest", "message": "ぜひ一緒にやりましょう。"}
OUTCOME = {
    "title": "結果を書いた",
    "held_from": "2015-11-18",
    "held_until": "2015-11-23",
    "venue": "しながわ水族館",
    "summary": "坂井市の黄金がにを紹介した。",
}

# Conversations and partnerships: both organizations' active staff and moderators; every other member gets 404.
BETWEEN_THE_TWO = expect(anonymous=LOGIN, org_users=OK, member_b=NOT_FOUND, moderator=OK)


def between_the_two(owners: Outcome, ward: Outcome, moderator: Outcome) -> dict[str, Outcome]:
    """The answer for 坂井市 (the post's side), 品川区 (the answering side) and moderators; 404 for 釧路町."""
    return expect(anonymous=LOGIN, member_b=NOT_FOUND, owners=owners, ward=ward, moderator=moderator)


# Who may see the moderation pages: nobody but moderators; the pages are not even confirmed to exist (404),
# and a visitor who is not logged in is asked to log in first (a moderator may follow a link from a mail).
MODERATORS_ONLY = expect(anonymous=LOGIN, org_users=NOT_FOUND, moderator=OK)


def moderators_only(outcome: Outcome) -> dict[str, Outcome]:
    return expect(anonymous=LOGIN, org_users=NOT_FOUND, moderator=outcome)


def two_factor_on(w, actor) -> bool:
    return actor is not None and user(actor.id).has_two_factor


def notification_read(w, actor) -> bool:
    return db.session.get(Notification, w.notification).read_at is not None


def saved_search_of_actor(w, actor) -> bool:
    return actor is not None and (
        db.session.scalar(
            select(SavedSearch.id).where(SavedSearch.user_id == actor.id, SavedSearch.name == "新しい検索")
        )
        is not None
    )


def saved_search_renamed(w, actor) -> bool:
    return db.session.get(SavedSearch, w.saved_search).name == "改名した検索"


def saved_search_deleted(w, actor) -> bool:
    return db.session.get(SavedSearch, w.saved_search) is None


def actors_preferences_saved(w, actor) -> bool:
    if actor is None:
        return False
    return (
        db.session.scalar(select(NotificationPreference.kind).where(NotificationPreference.user_id == actor.id))
        is not None
    )


def member_a_unsubscribed(w, actor) -> bool:
    preference = db.session.get(NotificationPreference, (w.member_a.id, "post_approved"))
    return preference is not None and preference.mode == "off"


def exchange_relation_recorded(w, actor) -> bool:
    return db.session.scalar(select(func.count()).select_from(ExchangeRelation)) > 0


def agreement_recorded(w, actor) -> bool:
    return db.session.scalar(select(func.count()).select_from(Agreement)) > 13


def agreement_members_are(*codes: str) -> Callable[[Refs, SimpleNamespace | None], bool]:
    def effect(w, actor) -> bool:
        db.session.expire_all()
        return [member.code for member in db.session.get(Agreement, w.agreement).members] == list(codes)

    return effect


def membership_of(code: str) -> Membership:
    return db.session.scalar(select(Organization.membership).where(Organization.code == code))


def confirmed_domain(domain: str) -> bool:
    return bool(db.session.scalar(select(EmailDomain.is_confirmed).where(EmailDomain.domain == domain)))


def mail_requeued(w, actor) -> bool:
    return db.session.get(OutboxMessage, w.failed_mail).state == "pending"


EVERY_KIND_OFF = {f"mode_{kind}": "off" for kind in KINDS}
REVIEW = "/organization/review"


def confirmation_sent(w, actor) -> bool:
    statement = select(OutboxMessage.id).where(
        OutboxMessage.recipient == "new.address@city.fukui-sakai.lg.jp", OutboxMessage.kind == "email_change_confirm"
    )
    return db.session.scalar(statement) is not None


def colleague_moved(w, actor) -> bool:
    """The colleague's address changed, or (坂井市 has no confirmed domain in the world) the change awaits review."""
    waiting = select(EmailChange.id).where(EmailChange.user_id == w.colleague.id)
    return user(w.colleague.id).email == "moved@city.fukui-sakai.lg.jp" or db.session.scalar(waiting) is not None


def keep_everyone(w, actor) -> dict:
    """The review form of the actor's organization with "keep" chosen for every active member of its staff."""
    if actor is None:
        return {}
    organization_id = user(actor.id).organization_id
    staff = db.session.scalars(select(User.id).where(User.organization_id == organization_id, User.state == "active"))
    return {f"choice-{person_id}": "keep" for person_id in staff}


def actors_staff_confirmed(w, actor) -> bool:
    if actor is None or user(actor.id).organization_id is None:
        return False
    statement = select(StaffReview.id).where(
        StaffReview.organization_id == user(actor.id).organization_id, StaffReview.confirmed_at.is_not(None)
    )
    return db.session.scalar(statement) is not None


def email_change_is(state: EmailChangeState) -> Callable:
    return lambda w, actor: db.session.get(EmailChange, w.email_change).state == state


def response_decision(verb: str, confirmed: Outcome, state: ResponseState) -> dict[tuple[str, str], list[Case]]:
    """Accepting or declining the open response: a GET, and the button without JavaScript (no `confirm`), show the
    confirm page to the post's side and change nothing; confirmed, it is decided. The other side and moderators are
    refused (back to the conversation), a third organization gets 404."""
    path = "/responses/{w.open_response}/" + verb
    refused = {"ward": to(CONVERSATION), "moderator": to(CONVERSATION)}
    asks = Case(path, between_the_two(owners=OK, **refused), effect=response_is(state), needs_responses=True)
    return {
        (f"responses.{verb}", "GET"): [asks],
        (f"responses.{verb}", "POST"): [
            Case(
                path, between_the_two(owners=confirmed, **refused), CONFIRMED, response_is(state), needs_responses=True
            ),
            replace(asks, label="unconfirmed"),
        ],
    }


def hiding(path: str, label: str = "") -> list[Case]:
    """Hiding the published post with a reason: confirmed, it is hidden; the button without JavaScript (no
    `confirm`) shows the confirm page and hides nothing. Moderators only."""
    reason = {"reason": "規約に反する内容のため"}
    hidden = state_is("published", PostState.HIDDEN)
    return [
        Case(path, moderators_only(done(QUEUE)), reason | CONFIRMED, hidden, label + "confirmed", needs_posts=True),
        Case(path, MODERATORS_ONLY, reason, hidden, label + "unconfirmed", needs_posts=True),
    ]


ROUTES: dict[tuple[str, str], list[Case]] = {
    # notifications
    ("notifications.index", "GET"): [Case("/notifications", expect(anonymous=LOGIN, signed_in=OK))],
    ("notifications.read", "POST"): [
        Case(
            "/notifications/{w.notification}/read",
            expect(anonymous=LOGIN, signed_in=NOT_FOUND, member_a=done("/")),
            effect=notification_read,
        )
    ],
    ("notifications.read_all", "POST"): [
        Case("/notifications/read-all", expect(anonymous=LOGIN, signed_in=done("/notifications")))
    ],
    ("notifications.unsubscribe", "GET"): [
        Case("/unsubscribe/{w.unsubscribe_token}", expect(everyone=OK)),
        Case("/unsubscribe/forged", expect(everyone=Outcome(400)), label="forged"),
    ],
    ("notifications.unsubscribe", "POST"): [
        Case(
            "/unsubscribe/{w.unsubscribe_token}",
            expect(everyone=done(200)),
            {"List-Unsubscribe": "One-Click"},
            member_a_unsubscribed,
        ),
    ],
    # saved searches: only their owner ever sees one
    ("saved_searches.index", "GET"): [Case("/searches", expect(anonymous=LOGIN, signed_in=OK))],
    ("saved_searches.create", "POST"): [
        Case(
            "/searches",
            expect(anonymous=LOGIN, signed_in=done(r"/posts\?q=.+")),
            {"name": "新しい検索", "q": "かに", "category": "products"},
            saved_search_of_actor,
        )
    ],
    ("saved_searches.update", "POST"): [
        Case(
            "/searches/{w.saved_search}",
            expect(anonymous=LOGIN, signed_in=NOT_FOUND, member_a=done("/searches")),
            lambda w, actor: {f"s{w.saved_search}-name": "改名した検索", f"s{w.saved_search}-delivery": "off"},
            saved_search_renamed,
        )
    ],
    ("saved_searches.delete", "POST"): [
        Case(
            "/searches/{w.saved_search}/delete",
            expect(anonymous=LOGIN, signed_in=NOT_FOUND, member_a=done("/searches")),
            effect=saved_search_deleted,
        )
    ],
    ("moderation.security_log", "GET"): [
        Case("/moderation/security", MODERATORS_ONLY),
        Case("/moderation/security?kind=login&q=lg.jp&date_from=2026-01-01&user=1", MODERATORS_ONLY, label="filtered"),
    ],
    ("moderation.mail", "GET"): [Case("/moderation/mail", expect(anonymous=LOGIN, org_users=NOT_FOUND, moderator=OK))],
    ("moderation.retry_mail", "POST"): [
        Case(
            "/moderation/mail/{w.failed_mail}/retry",
            expect(anonymous=LOGIN, org_users=NOT_FOUND, moderator=done("/moderation/mail")),
            effect=mail_requeued,
        )
    ],
    ("notifications.settings", "GET"): [Case("/settings/notifications", expect(anonymous=LOGIN, signed_in=OK))],
    ("notifications.settings", "POST"): [
        Case(
            "/settings/notifications",
            expect(anonymous=LOGIN, signed_in=done("/settings/notifications")),
            EVERY_KIND_OFF,
            actors_preferences_saved,
        )
    ],
    # public pages
    ("main.index", "GET"): [Case("/", expect(everyone=OK))],
    ("main.terms", "GET"): [Case("/terms", expect(everyone=OK))],
    ("main.accessibility", "GET"): [Case("/accessibility", expect(everyone=OK))],
    ("main.privacy", "GET"): [Case("/privacy", expect(everyone=OK))],
    ("main.contact", "GET"): [Case("/contact", expect(everyone=OK))],
    ("main.guide", "GET"): [Case("/guide", expect(everyone=OK))],
    ("main.healthz", "GET"): [Case("/healthz", expect(everyone=OK))],
    ("main.readyz", "GET"): [Case("/readyz", expect(everyone=OK))],
    ("static", "GET"): [Case("/static/css/site.css", expect(everyone=OK))],
    ("organizations.search_json", "GET"): [Case("/organizations/search.json?q=さかい", expect(everyone=OK))],
    ("main.set_locale", "POST"): [
        Case("/locale", expect(everyone=to("/terms")), data={"locale": "en", "next": "/terms"})
    ],
    # registration, confirmation, login
    ("accounts.register", "GET"): [Case("/register", expect(anonymous=OK, signed_in=HOME))],
    ("accounts.register", "POST"): [
        Case("/register", expect(anonymous=done("/register/sent"), signed_in=HOME), REGISTRATION, registered)
    ],
    ("accounts.registered", "GET"): [Case("/register/sent", expect(everyone=OK))],
    ("accounts.confirm", "GET"): [Case("/confirm/{w.confirm_token}", expect(everyone=OK))],
    ("accounts.confirm_post", "POST"): [
        Case(
            "/confirm/{w.confirm_token}",
            expect(everyone=done(200)),  # the link itself is the credential
            effect=lambda w, actor: user(w.unconfirmed.id).state != UserState.UNCONFIRMED,
        )
    ],
    ("accounts.login", "GET"): [Case("/login", expect(anonymous=OK, signed_in=HOME))],
    ("accounts.login", "POST"): [
        Case(
            "/login",
            expect(anonymous=done("/"), signed_in=HOME),
            LOGIN_AS_COLLEAGUE,
            lambda w, actor: user(w.colleague.id).last_login_at is not None,
        )
    ],
    ("accounts.logout", "POST"): [Case("/logout", expect(everyone=HOME))],
    ("accounts.forgot_password", "GET"): [Case("/password/forgot", expect(everyone=OK))],
    ("accounts.forgot_password", "POST"): [
        Case("/password/forgot", expect(everyone=done(200)), {"email": "{w.forgetful.email}"}, reset_mail_sent)
    ],
    ("accounts.reset_password", "GET"): [Case("/password/reset/{w.reset_token}", expect(everyone=OK))],
    ("accounts.reset_password", "POST"): [
        Case(
            "/password/reset/{w.reset_token}",
            expect(everyone=done("/login")),  # the link itself is the credential
            {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
            lambda w, actor: verify_password(user(w.forgetful.id).password_hash, NEW_PASSWORD),
        )
    ],
    ("accounts.request_unlock", "POST"): [
        Case("/login/unlock", expect(everyone=done("/login")), {"email": "{w.forgetful.email}"}, unlock_mail_sent)
    ],
    ("accounts.unlock", "GET"): [Case("/login/unlock/forged", expect(everyone=OK))],
    ("accounts.unlock_post", "POST"): [Case("/login/unlock/forged", expect(everyone=Outcome(400)))],
    ("accounts.accept_invitation", "GET"): [
        Case("/invitations/{w.invitation_token}", expect(everyone=to(r"/register\?invitation=.+")))
    ],
    # one's own account
    ("accounts.profile", "GET"): [Case("/profile", expect(anonymous=LOGIN, signed_in=OK))],
    ("accounts.profile", "POST"): [
        Case(
            "/profile",
            expect(anonymous=LOGIN, signed_in=done("/profile")),
            {"name": "名前を変えた", "department": "総務課", "phone": ""},
            actors_name_changed,
        )
    ],
    ("accounts.change_password", "POST"): [
        Case(
            "/profile/password",
            expect(anonymous=LOGIN, signed_in=done("/profile")),
            {"current_password": PASSWORD, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
            actors_password_changed,
        )
    ],
    ("accounts.sessions_page", "GET"): [Case("/settings/sessions", expect(anonymous=LOGIN, signed_in=OK))],
    ("accounts.change_email", "GET"): [Case("/profile/email", expect(anonymous=LOGIN, signed_in=OK))],
    ("accounts.change_email", "POST"): [
        Case(
            "/profile/email",
            expect(anonymous=LOGIN, signed_in=done(200)),
            {"new_email": "new.address@city.fukui-sakai.lg.jp", "current_password": PASSWORD},
            confirmation_sent,
        )
    ],
    ("accounts.confirm_email_change", "GET"): [
        Case("/profile/email/confirm/{w.email_change_token}", expect(everyone=OK)),
        Case("/profile/email/confirm/forged", expect(everyone=Outcome(400)), label="forged"),
    ],
    ("accounts.confirm_email_change_post", "POST"): [
        Case(
            "/profile/email/confirm/{w.email_change_token}",
            expect(everyone=done(200)),  # the link itself is the credential
            effect=colleague_moved,
        )
    ],
    ("accounts.end_session", "POST"): [
        Case("/settings/sessions/999999/end", expect(anonymous=LOGIN, signed_in=to("/settings/sessions")))
    ],
    ("accounts.end_other_sessions", "POST"): [
        Case("/settings/sessions/end-others", expect(anonymous=LOGIN, signed_in=to("/settings/sessions")))
    ],
    # two-factor sign-in: one's own setting, and the code step of a login (only after the right password)
    ("two_factor.settings", "GET"): [Case(TWO_FACTOR, expect(anonymous=LOGIN, signed_in=OK))],
    ("two_factor.settings", "POST"): [
        Case(TWO_FACTOR, expect(anonymous=LOGIN, signed_in=to(TWO_FACTOR)), {"code": "123456"}, two_factor_on)
    ],
    ("two_factor.start", "POST"): [
        Case(
            "/settings/two-factor/start",
            expect(anonymous=LOGIN, signed_in=done(TWO_FACTOR + "#enrol")),
            {"password": PASSWORD},
            lambda w, actor: actor is not None and user(actor.id).totp_pending_secret is not None,
        )
    ],
    ("two_factor.cancel", "POST"): [
        Case("/settings/two-factor/cancel", expect(anonymous=LOGIN, signed_in=to(TWO_FACTOR)), effect=two_factor_on)
    ],
    ("two_factor.renew_codes", "POST"): [
        Case(
            "/settings/two-factor/recovery-codes",
            expect(anonymous=LOGIN, signed_in=to(TWO_FACTOR)),  # nobody in the world has it on: nothing to renew
            {"password": PASSWORD},
            lambda w, actor: db.session.scalar(select(RecoveryCode.id)) is not None,
        )
    ],
    ("two_factor.turn_off", "POST"): [
        Case(
            "/settings/two-factor/off",
            expect(anonymous=LOGIN, signed_in=to(TWO_FACTOR)),
            {"password": PASSWORD},
            two_factor_on,
        )
    ],
    ("two_factor.login_code", "GET"): [Case("/login/two-factor", expect(anonymous=to("/login"), signed_in=HOME))],
    ("two_factor.login_code", "POST"): [
        Case("/login/two-factor", expect(anonymous=to("/login"), signed_in=HOME), {"code": "123456"})
    ],
    # the organization's staff, managed by its admin
    ("accounts.members", "GET"): [
        Case(MEMBERS, expect(anonymous=LOGIN, org_users=OK, moderator=NOT_FOUND)),
    ],
    ("accounts.members", "POST"): [
        Case(
            MEMBERS,
            expect(anonymous=LOGIN, staff=FORBIDDEN, org_admin=done(MEMBERS), moderator=NOT_FOUND),
            {"email": "another@city.fukui-sakai.lg.jp"},
            invited,
        )
    ],
    ("accounts.make_admin", "POST"): [
        Case(
            "/organization/members/{w.colleague.id}/admin",
            expect(
                anonymous=LOGIN, member_a=to(MEMBERS), others=NOT_FOUND, org_admin=done(MEMBERS), moderator=NOT_FOUND
            ),
            effect=lambda w, actor: user(w.colleague.id).role == OrgRole.ADMIN,
        )
    ],
    ("accounts.deactivate", "POST"): [
        Case(
            "/organization/members/{w.colleague.id}/deactivate",
            expect(
                anonymous=LOGIN, member_a=to(MEMBERS), others=NOT_FOUND, org_admin=done(MEMBERS), moderator=NOT_FOUND
            ),
            effect=lambda w, actor: user(w.colleague.id).state == UserState.DEACTIVATED,
        )
    ],
    # the April review: the organization's admin, or anyone of its staff when it has no admin (釧路町, 品川区 here)
    ("accounts.staff_review_page", "GET"): [
        Case(REVIEW, expect(anonymous=LOGIN, org_users=OK, member_a=FORBIDDEN, moderator=NOT_FOUND)),
    ],
    ("accounts.staff_review_page", "POST"): [
        Case(
            REVIEW,
            expect(anonymous=LOGIN, org_users=done(REVIEW), member_a=FORBIDDEN, moderator=NOT_FOUND),
            keep_everyone,
            actors_staff_confirmed,
        )
    ],
    ("moderation.staff_review", "GET"): [
        Case("/moderation/staff-review", MODERATORS_ONLY),
        Case("/moderation/staff-review?year=2020", MODERATORS_ONLY, label="an earlier year"),
    ],
    # moderation of members
    ("moderation.queue", "GET"): [Case(QUEUE, MODERATORS_ONLY, needs_posts=True)],
    ("moderation.approve_email_change", "POST"): [
        Case(
            "/moderation/email-changes/{w.email_change}/approve",
            moderators_only(done(QUEUE)),
            effect=email_change_is(EmailChangeState.APPROVED),
        )
    ],
    ("moderation.reject_email_change", "POST"): [
        Case(
            "/moderation/email-changes/{w.email_change}/reject",
            moderators_only(done(QUEUE)),
            {"reason": "団体のアドレスであることを確認できませんでした。"},
            email_change_is(EmailChangeState.REJECTED),
        )
    ],
    ("moderation.log", "GET"): [
        Case("/moderation/log", MODERATORS_ONLY, needs_posts=True),
        Case("/moderation/log?action=approve_post&organization=坂井&date_from=2015-04-01", MODERATORS_ONLY),
    ],
    ("moderation.log_csv", "GET"): [Case("/moderation/log.csv?organization=坂井", MODERATORS_ONLY, needs_posts=True)],
    ("moderation.approve_user", "POST"): [
        Case(
            "/moderation/users/{w.applicant.id}/approve",
            moderators_only(done(QUEUE)),
            registration_as_shown(),
            lambda w, actor: user(w.applicant.id).state == UserState.ACTIVE,
        )
    ],
    ("moderation.reject_user", "GET"): [Case("/moderation/users/{w.applicant.id}/reject", MODERATORS_ONLY)],
    ("moderation.reject_user", "POST"): [
        Case(
            "/moderation/users/{w.applicant.id}/reject",
            moderators_only(done(QUEUE)),
            registration_as_shown(reason="職員であることを確認できませんでした。"),
            lambda w, actor: user(w.applicant.id).state == UserState.REJECTED,
        )
    ],
    # accounts and organizations: suspension, confirmed e-mail domains
    ("moderation.user_page", "GET"): [Case("/moderation/users/{w.member_a.id}", MODERATORS_ONLY)],
    ("moderation.suspend_user", "POST"): [
        Case(
            "/moderation/users/{w.colleague.id}/suspend",
            moderators_only(done(ACCOUNT)),
            {"reason": "規約に反する投稿を繰り返したため"},
            lambda w, actor: user(w.colleague.id).state == UserState.SUSPENDED,
        )
    ],
    ("moderation.reinstate_user", "POST"): [
        Case(
            "/moderation/users/{w.suspended.id}/reinstate",
            moderators_only(done(ACCOUNT)),
            effect=lambda w, actor: user(w.suspended.id).state == UserState.ACTIVE,
        )
    ],
    ("moderation.organizations", "GET"): [Case("/moderation/organizations?q=さかい", MODERATORS_ONLY)],
    ("moderation.organization_page", "GET"): [Case(f"/moderation/organizations/{SAKAI}", MODERATORS_ONLY)],
    ("moderation.suspend_organization", "POST"): [
        Case(
            f"/moderation/organizations/{KUSHIRO_TOWN}/suspend",
            moderators_only(done(ORGANIZATION)),
            {"reason": "会費の未納のため"},
            lambda w, actor: membership_of(KUSHIRO_TOWN) == Membership.SUSPENDED,
        )
    ],
    ("moderation.reinstate_organization", "POST"): [
        Case(
            f"/moderation/organizations/{GIFU}/reinstate",
            moderators_only(done(ORGANIZATION)),
            effect=lambda w, actor: membership_of(GIFU) == Membership.MEMBER,
        )
    ],
    ("moderation.add_domain", "POST"): [
        Case(
            f"/moderation/organizations/{SAKAI}/domains",
            moderators_only(done(ORGANIZATION)),
            {"domain": "city.fukui-sakai.lg.jp"},
            lambda w, actor: confirmed_domain("city.fukui-sakai.lg.jp"),
        )
    ],
    ("moderation.revoke_domain", "POST"): [
        Case(
            f"/moderation/organizations/{KUSHIRO_TOWN}/domains/{{w.domain}}/revoke",
            moderators_only(done(ORGANIZATION)),
            {"reason": "町の職員でない人も使うドメインのため"},
            lambda w, actor: not confirmed_domain("town.kushiro.lg.jp"),
        )
    ],
    ("accounts.organization_suspended", "GET"): [
        Case("/organization/suspended", expect(anonymous=LOGIN, signed_in=HOME))
    ],
    # moderation of posts
    ("moderation.review_post", "GET"): [Case("/moderation/posts/{w.pending}", MODERATORS_ONLY, needs_posts=True)],
    ("moderation.approve_post", "POST"): [
        Case(
            "/moderation/posts/{w.pending}/approve",
            moderators_only(done(QUEUE)),
            as_shown(Post, "pending"),
            state_is("pending", PostState.PUBLISHED),
            needs_posts=True,
        )
    ],
    ("moderation.reject_post", "POST"): [
        Case(
            "/moderation/posts/{w.pending}/reject",
            moderators_only(done(QUEUE)),
            as_shown(Post, "pending", reason="費用負担を書いてください。"),
            state_is("pending", PostState.REJECTED),
            needs_posts=True,
        )
    ],
    ("moderation.hide_post", "GET"): [Case("/moderation/posts/{w.published}/hide", MODERATORS_ONLY, needs_posts=True)],
    ("moderation.hide_post", "POST"): hiding("/moderation/posts/{w.published}/hide"),
    ("moderation.unhide_post", "POST"): [
        Case(
            "/moderation/posts/{w.hidden}/unhide",
            moderators_only(done(QUEUE)),
            effect=state_is("hidden", PostState.PUBLISHED),
            needs_posts=True,
        )
    ],
    ("moderation.review_revision", "GET"): [
        Case("/moderation/revisions/{w.revision}", MODERATORS_ONLY, needs_posts=True)
    ],
    ("moderation.decide_revision", "POST"): [
        Case(
            "/moderation/revisions/{w.revision}/approve",
            moderators_only(done(QUEUE)),
            as_shown(PostRevision, "revision"),
            lambda w, actor: db.session.get(PostRevision, w.revision).state == RevisionState.APPROVED,
            label="approve",
            needs_posts=True,
        ),
        Case(
            "/moderation/revisions/{w.revision}/reject",
            moderators_only(done(QUEUE)),
            as_shown(PostRevision, "revision", reason="修正の理由を書いてください。"),
            lambda w, actor: db.session.get(PostRevision, w.revision).state == RevisionState.REJECTED,
            label="reject",
            needs_posts=True,
        ),
    ],
    ("moderation.resolve_report", "POST"): [
        Case(
            "/moderation/reports/{w.report}/dismiss",
            moderators_only(done(QUEUE)),
            effect=lambda w, actor: db.session.get(Report, w.report).state == ReportState.DISMISSED,
            label="dismiss",
            needs_posts=True,
        ),
        *hiding("/moderation/reports/{w.report}/hide", "hide "),
    ],
    # posts: for members only; drafts and hidden posts for their organization (and moderators) only
    ("posts.index", "GET"): [Case("/posts", expect(anonymous=LOGIN, signed_in=OK), needs_posts=True)],
    ("posts.ours", "GET"): [
        Case("/posts/ours", expect(anonymous=LOGIN, org_users=OK, moderator=NOT_FOUND), needs_posts=True)
    ],
    ("posts.new", "GET"): [Case("/posts/new", expect(anonymous=LOGIN, org_users=OK, moderator=FORBIDDEN))],
    ("posts.new", "POST"): [
        Case(
            "/posts/new",
            expect(anonymous=LOGIN, org_users=done(POST_PAGE), moderator=FORBIDDEN),
            new_post_data,
            new_post_written,
        )
    ],
    ("posts.show", "GET"): [
        Case(
            "/posts/{w.draft}",
            expect(anonymous=LOGIN, owners=OK, others=NOT_FOUND, moderator=OK),
            label="draft",
            needs_posts=True,
        ),
        Case("/posts/{w.published}", expect(anonymous=LOGIN, signed_in=OK), label="published", needs_posts=True),
        Case(
            "/posts/{w.hidden}",
            expect(anonymous=LOGIN, owners=OK, others=NOT_FOUND, moderator=OK),
            label="hidden",
            needs_posts=True,
        ),
    ],
    ("posts.attachment", "GET"): [
        Case(
            "/posts/{w.draft}/attachments/{w.attachment}",
            expect(anonymous=LOGIN, owners=OK, others=NOT_FOUND, moderator=OK),
            needs_posts=True,
        )
    ],
    ("posts.edit", "GET"): [
        Case(
            "/posts/{w.draft}/edit",
            expect(anonymous=LOGIN, owners=OK, others=NOT_FOUND, moderator=FORBIDDEN),
            needs_posts=True,
        )
    ],
    ("posts.edit", "POST"): [
        Case(
            "/posts/{w.draft}/edit",
            expect(anonymous=LOGIN, owners=done(POST_PAGE), others=NOT_FOUND, moderator=FORBIDDEN),
            {"kind": "proposal", "title": "下書きを直した", "summary": "概要", "category": "other", "action": "draft"},
            lambda w, actor: db.session.get(Post, w.draft).title == "下書きを直した",
            needs_posts=True,
        )
    ],
    ("posts.submit", "POST"): [
        Case(
            "/posts/{w.draft}/submit",
            expect(anonymous=LOGIN, owners=done(POST_PAGE), others=NOT_FOUND, moderator=to(POST_PAGE)),
            effect=state_is("draft", PostState.PENDING),
            needs_posts=True,
        )
    ],
    ("posts.withdraw", "POST"): [
        Case(
            "/posts/{w.published}/withdraw",
            expect(anonymous=LOGIN, signed_in=to(POST_PAGE), owners=done(POST_PAGE)),
            effect=state_is("published", PostState.WITHDRAWN),
            needs_posts=True,
        )
    ],
    ("posts.close", "POST"): [
        Case(
            "/posts/{w.published}/close",
            expect(anonymous=LOGIN, signed_in=to(POST_PAGE), owners=done(POST_PAGE)),
            {"reason": "partnered"},
            state_is("published", PostState.CLOSED),
            needs_posts=True,
        )
    ],
    ("reports.report_post", "POST"): [
        Case(
            "/posts/{w.published}/report",
            # anyone who may see a published post but does not own it may report it, moderators included
            expect(anonymous=LOGIN, signed_in=done(POST_PAGE), owners=to(POST_PAGE)),
            {"reason": "連絡先が書かれていません。"},
            actor_reported,
            needs_posts=True,
        )
    ],
    ("posts.invite_co_proposer", "POST"): [
        Case(
            "/posts/{w.published}/co-proposers",
            expect(anonymous=LOGIN, signed_in=to(POST_PAGE), owners=done(POST_PAGE)),
            {"organization_code": KUSHIRO_TOWN},
            kushiro_invited_to_published,
            needs_posts=True,
        )
    ],
    ("posts.answer_co_proposal", "POST"): [
        Case(
            "/co-proposals/{w.co_proposal}/" + answer,
            expect(anonymous=LOGIN, signed_in=NOT_FOUND, member_b=done("/posts/ours")),  # only the invited org
            effect=lambda w, actor, state=state: db.session.get(CoProposer, w.co_proposal).state == state,
            label=answer,
            needs_posts=True,
        )
        for answer, state in (("accept", CoProposerState.ACCEPTED), ("decline", CoProposerState.DECLINED))
    ],
    # responses: the other side answers; the two organizations talk, partner, record the outcome; cases are public
    ("responses.respond", "GET"): [
        Case(
            "/posts/{w.unanswered}/respond",
            expect(anonymous=LOGIN, signed_in=FORBIDDEN, ward=OK),  # wards answer proposals
            label="proposal",
            needs_responses=True,
        ),
        Case(
            "/posts/{w.call}/respond",
            expect(anonymous=LOGIN, signed_in=OK, ward=FORBIDDEN, moderator=FORBIDDEN),  # the others answer calls
            label="call",
            needs_responses=True,
        ),
    ],
    ("responses.respond", "POST"): [
        Case(
            "/posts/{w.unanswered}/respond",
            expect(anonymous=LOGIN, signed_in=FORBIDDEN, ward=done(CONVERSATION)),
            RESPONSE,
            responded_to("unanswered"),
            label="proposal",
            needs_responses=True,
        ),
        Case(
            "/posts/{w.call}/respond",
            expect(anonymous=LOGIN, org_users=done(CONVERSATION), ward=FORBIDDEN, moderator=FORBIDDEN),
            RESPONSE,
            responded_to("call"),
            label="call",
            needs_responses=True,
        ),
    ],
    ("responses.conversation", "GET"): [Case("/conversations/{w.conversation}", BETWEEN_THE_TWO, needs_responses=True)],
    ("responses.conversation", "POST"): [
        Case(
            "/conversations/{w.conversation}",
            between_the_two(*[done(CONVERSATION + "#latest")] * 3),
            {"message": "書き込みました。"},
            message_written,
            needs_responses=True,
        )
    ],
    ("reports.report_message", "POST"): [
        Case(
            "/conversations/{w.conversation}/messages/{w.ward_message}/report",
            # 坂井市 reports 品川区's message; nobody reports their own organization's, moderators hide instead
            between_the_two(owners=done(CONVERSATION), ward=to(CONVERSATION), moderator=to(CONVERSATION)),
            {"reason": "不適切な表現があります。"},
            actor_reported,
            needs_responses=True,
        )
    ],
    **response_decision("accept", done(PARTNERSHIP), ResponseState.ACCEPTED),
    **response_decision("decline", done(CONVERSATION), ResponseState.DECLINED),
    ("responses.message_file", "GET"): [
        Case(
            "/conversations/{w.conversation}/messages/{w.file_message}/files/{w.message_file}",
            expect(anonymous=NOT_FOUND, org_users=OK, member_b=NOT_FOUND, moderator=OK),
            needs_responses=True,
        ),
        Case(
            "/conversations/{w.conversation}/messages/{w.ward_message}/files/{w.message_file}",  # another message's
            expect(everyone=NOT_FOUND),
            label="tampered",
            needs_responses=True,
        ),
    ],
    ("responses.partnership", "GET"): [
        Case("/partnerships/{w.partnership}", BETWEEN_THE_TWO, label="partnership", needs_responses=True),
        Case("/partnerships/{w.case}", BETWEEN_THE_TWO, label="case", needs_responses=True),
    ],
    ("responses.partnership", "POST"): [
        Case(
            "/partnerships/{w.partnership}",
            between_the_two(owners=done(PARTNERSHIP), ward=done(PARTNERSHIP), moderator=FORBIDDEN),
            OUTCOME,
            lambda w, actor: partnership(w.partnership).title == "結果を書いた",
            label="partnership",
            needs_responses=True,
        ),
        Case(
            "/partnerships/{w.case}",  # a published case is no longer edited
            between_the_two(owners=FORBIDDEN, ward=FORBIDDEN, moderator=FORBIDDEN),
            OUTCOME,
            lambda w, actor: partnership(w.case).title == "結果を書いた",
            label="case",
            needs_responses=True,
        ),
    ],
    ("responses.consent", "POST"): [
        Case(
            "/partnerships/{w.partnership}/consent",
            between_the_two(owners=done(PARTNERSHIP), ward=done(PARTNERSHIP), moderator=to(PARTNERSHIP)),
            effect=consented_to,
            needs_responses=True,
        )
    ],
    ("responses.publish", "GET"): [
        Case(
            "/partnerships/{w.consented}/publish",
            MODERATORS_ONLY,
            effect=published("consented"),
            label="publish",
            needs_responses=True,
        ),
        Case(
            "/partnerships/{w.partnership}/publish",  # without both consents: nothing to confirm
            moderators_only(to(PARTNERSHIP)),
            effect=published("partnership"),
            label="publish without consents",
            needs_responses=True,
        ),
    ],
    ("responses.publish", "POST"): [
        Case(
            "/partnerships/{w.consented}/publish",
            moderators_only(done(PARTNERSHIP)),
            CONFIRMED,
            published("consented"),
            label="publish",
            needs_responses=True,
        ),
        Case(
            "/partnerships/{w.consented}/publish",  # the button without JavaScript: the confirm page only
            MODERATORS_ONLY,
            effect=published("consented"),
            label="unconfirmed",
            needs_responses=True,
        ),
        Case(
            "/partnerships/{w.partnership}/publish",  # without both consents: refused, also for moderators
            moderators_only(to(PARTNERSHIP)),
            CONFIRMED,
            published("partnership"),
            label="publish without consents",
            needs_responses=True,
        ),
        Case(
            "/partnerships/{w.case}/unpublish",
            moderators_only(done(PARTNERSHIP)),
            {"reason": "掲載の取り下げを依頼されたため"},
            lambda w, actor: not published("case")(w, actor),
            label="unpublish",
            needs_responses=True,
        ),
    ],
    ("responses.photo", "GET"): [
        Case("/partnerships/{w.case}/photos/{w.case_photo}", expect(everyone=OK), label="case", needs_responses=True),
        Case(
            "/partnerships/{w.partnership}/photos/{w.partnership_photo}",
            expect(everyone=NOT_FOUND, org_users=OK, member_b=NOT_FOUND, moderator=OK),
            label="partnership",
            needs_responses=True,
        ),
    ],
    ("responses.dashboard", "GET"): [
        Case("/dashboard", expect(anonymous=LOGIN, org_users=OK, moderator=NOT_FOUND), needs_responses=True)
    ],
    ("responses.cases", "GET"): [Case("/cases", expect(everyone=OK), needs_responses=True)],
    # the map: published posts are for members, and so is the map (its cases view shows only public cases)
    # the record: counts only, for everyone (moderators see more rows)
    ("stats.record", "GET"): [Case("/stats", expect(everyone=OK), needs_responses=True)],
    ("stats.record_csv", "GET"): [Case("/stats.csv", expect(everyone=OK), needs_responses=True)],
    # exchange relations: everyone reads them, moderators record them
    ("organizations.exchange_relations", "GET"): [Case("/exchange-relations", expect(everyone=OK))],
    # agreements: everyone reads them, moderators record them and their members
    ("organizations.agreements_index", "GET"): [Case("/agreements", expect(everyone=OK))],
    ("organizations.agreement_page", "GET"): [
        Case("/agreements/{w.agreement}", expect(everyone=OK)),
        Case("/agreements/999999", expect(everyone=NOT_FOUND), label="unknown"),
    ],
    ("organizations.add_agreement", "POST"): [
        Case(
            "/agreements",
            moderators_only(done(r"/agreements/\d+")),
            {"prefecture": "20", "kind": "towns", "name": "", "concluded_on": "2020-01-20"},
            agreement_recorded,
        )
    ],
    ("organizations.agreement_members", "POST"): [
        Case(
            "/agreements/{w.agreement}/members",
            moderators_only(done(r"/agreements/\d+")),
            {"codes": "202011"},
            agreement_members_are("202011"),
        )
    ],
    ("organizations.import_agreement_members", "POST"): [
        Case(
            "/agreements/{w.agreement}/import",
            moderators_only(done(r"/agreements/\d+")),
            lambda w, actor: {"file": (io.BytesIO(b"202029\r\n"), "members.csv")},
            agreement_members_are("202029"),
        )
    ],
    ("organizations.add_exchange_relation", "POST"): [
        Case(
            "/exchange-relations",
            moderators_only(done("/exchange-relations")),
            {"ward": "131091", "municipality_code": SAKAI, "kind": "friendship", "started_on": "2015-11-18"},
            exchange_relation_recorded,
        )
    ],
    ("stats.prefecture_map", "GET"): [
        Case("/map", expect(anonymous=LOGIN, signed_in=OK), needs_posts=True),
        Case("/map?show=cases", expect(anonymous=LOGIN, signed_in=OK), label="cases", needs_responses=True),
    ],
    ("responses.case", "GET"): [
        Case("/cases/{w.case}", expect(everyone=OK), label="published", needs_responses=True),
        Case("/cases/{w.partnership}", expect(everyone=NOT_FOUND), label="unpublished", needs_responses=True),
    ],
}


# --- running the matrix ----------------------------------------------------------------------------------------


def routes_in_url_map() -> list[tuple[str, str]]:
    """(endpoint, method) for every rule of the app, HEAD and OPTIONS aside."""
    with limiter_state_preserved():
        app = create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    return sorted(
        (rule.endpoint, method) for rule in app.url_map.iter_rules() for method in rule.methods - {"HEAD", "OPTIONS"}
    )


def pytest_generate_tests(metafunc):
    if "route" in metafunc.fixturenames:
        params, ids = [], []
        for endpoint, method in routes_in_url_map():
            cases = ROUTES.get((endpoint, method)) or [None]
            for index, case in enumerate(cases):
                params.append((endpoint, method, index))
                ids.append(f"{method} {endpoint}{' ' + case.label if case and case.label else ''}")
        metafunc.parametrize("route", params, ids=ids)


def refs_of(world: World) -> Refs:
    values = {}
    for field in fields(World):
        value = getattr(world, field.name)
        if isinstance(value, User):
            values[field.name] = SimpleNamespace(id=value.id, email=value.email)
        elif value is None or isinstance(value, str):
            values[field.name] = value
        else:
            values[field.name] = value.id
    values["attachment"] = world.attachment.id if world.draft is not None else None
    values["agreement"] = world.agreement
    return SimpleNamespace(**values)


def formatted(value, w: Refs):
    if isinstance(value, dict):
        return {key: formatted(item, w) for key, item in value.items()}
    return value.format(w=w) if isinstance(value, str) else value


def acting_as(app, role: str, w: Refs):
    """A browser for the role, and the user acting (None for the anonymous visitor)."""
    browser = new_client(app)
    if role == "anonymous":
        return browser, None
    actor = w.member_a if role == "suspended_after_login" else getattr(w, role)
    response = browser.post("/login", data={"email": actor.email, "password": PASSWORD})
    if role == "suspended":
        assert response.status_code == 200, "a suspended user must not be able to log in"
        assert browser.get("/profile").status_code == 302
    else:
        assert response.status_code == 302, f"{role} could not log in"
    if role == "suspended_after_login":
        user(actor.id).state = UserState.SUSPENDED
        db.session.commit()
    return browser, actor


def answer_of(app, method: str, case: Case, role: str, w: Refs) -> tuple[int, str | None, bool | None]:
    browser, actor = acting_as(app, role, w)
    path = case.path.format(w=w)
    if method == "POST":
        data = case.data(w, actor) if callable(case.data) else formatted(case.data or {}, w)
        response = browser.post(path, data=data)
    else:
        response = browser.get(path)
    response.close()
    db.session.expire_all()
    changed = case.effect(w, actor) if case.effect else None
    return response.status_code, response.headers.get("Location"), changed


def test_every_route_is_in_the_table():
    in_map = set(routes_in_url_map())
    assert not in_map - set(ROUTES), f"declare who may use these routes: {sorted(in_map - set(ROUTES))}"
    assert not set(ROUTES) - in_map, f"these routes are gone from the app: {sorted(set(ROUTES) - in_map)}"


def test_route(app, create_user, moderator, route, monkeypatch):
    endpoint, method, index = route
    cases = ROUTES.get((endpoint, method))
    if not cases:
        pytest.fail(f"{method} {endpoint} is in the URL map but not in ROUTES: declare who may use it")
    refuse_login_of_the_current_user_proxy(monkeypatch)
    case = cases[index]
    world = build_world(create_user, moderator, with_posts=case.needs_posts, with_responses=case.needs_responses)
    w = refs_of(world)
    connection = db._app_engines[app][None]
    failures = []
    for role in ROLES:
        db.session.remove()  # the test's session holds no savepoint of its own across the role's one
        savepoint = connection.begin_nested()
        try:
            status, location, changed = answer_of(app, method, case, role, w)
        finally:
            db.session.remove()
            savepoint.rollback()
        expected = case.expected[role]
        problems = []
        if status != expected.status:
            problems.append(f"status {status}")
        if expected.location and not (location and re.fullmatch(expected.location, location)):
            problems.append(f"Location {location!r}")
        if changed is not None and changed != expected.changes:
            problems.append("changed it" if changed else "did not change it")
        if problems:
            failures.append(f"  {role:<22} expected {expected}, got {', '.join(problems)}")
    assert not failures, f"{method} {case.path.format(w=w)}:\n" + "\n".join(failures)


def test_suspension_takes_effect_on_the_next_request(app, create_user):
    officer = create_user(SAKAI)
    browser = new_client(app, officer)
    assert browser.get("/profile").status_code == 200
    officer.state = UserState.SUSPENDED
    db.session.commit()
    response = browser.get("/profile")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert browser.get("/posts").status_code == 302
    home = browser.get("/").get_data(as_text=True)
    assert officer.name not in home and "ログアウト" not in home


def test_a_suspended_user_cannot_log_in(app, create_user):
    officer = create_user(SAKAI, state=UserState.SUSPENDED)
    browser = new_client(app)
    response = browser.post("/login", data={"email": officer.email, "password": PASSWORD})
    assert response.status_code == 200
    assert "このアカウントは停止されています。" in response.get_data(as_text=True)
    assert browser.get("/profile").status_code == 302


# --- bad input on every route --------------------------------------------------------------------------------------

QUERY_NAMES = ("q", "page", "kind", "category", "prefecture", "status", "sort", "ward", "org_q", "code", "next")


def with_nul(value):
    """The value with a NUL in every string it holds."""
    if isinstance(value, str):
        return value + "\x00" if value else "\x00"
    if isinstance(value, list):
        return [with_nul(item) for item in value]
    return value


def test_a_nul_in_every_field_and_query_parameter_is_never_a_500(app, create_user, moderator, route, monkeypatch):
    """PostgreSQL refuses a NUL in text: every form field and query parameter must refuse it or fold it away."""
    endpoint, method, index = route
    case = ROUTES[(endpoint, method)][index]
    refuse_login_of_the_current_user_proxy(monkeypatch)
    world = build_world(create_user, moderator, with_posts=case.needs_posts, with_responses=case.needs_responses)
    w = refs_of(world)
    allowed = [role for role in SIGNED_IN if case.expected[role].changes or case.expected[role].status == 200]
    connection = db._app_engines[app][None]
    failures = []
    for role in (allowed or ["member_a"])[:2]:
        db.session.remove()
        savepoint = connection.begin_nested()
        try:
            browser, actor = acting_as(app, role, w)
            path = case.path.format(w=w)
            if method == "POST":
                data = case.data(w, actor) if callable(case.data) else formatted(case.data or {}, w)
                data = {name: with_nul(value) for name, value in data.items() if name != "csrf_token"}
                data["unexpected\x00"] = "\x00"
                response = browser.post(path, data=data)
            else:
                separator = "&" if "?" in path else "?"
                response = browser.get(path + separator + "&".join(f"{name}=%00" for name in QUERY_NAMES))
            response.close()
            if response.status_code >= 500:
                failures.append(f"{role}: {response.status_code}")
        finally:
            db.session.remove()
            savepoint.rollback()
    assert not failures, f"{method} {case.path}: {failures}"
