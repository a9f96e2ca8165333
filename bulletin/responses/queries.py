"""Read side of responses: a conversation with its messages, an organization's dashboard, partnerships, cases.

Each page costs a fixed number of queries however many messages or conversations there are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import abort
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import ColumnElement, Select, and_, bindparam, case, func, or_, select
from sqlalchemy.orm import aliased, joinedload, selectinload

from bulletin.accounts.models import OrgRole, User, UserState
from bulletin.core.confirm import confirm_attributes
from bulletin.core.templating import request_locale
from bulletin.core.text import format_datetime
from bulletin.extensions import db
from bulletin.organizations.models import Organization, OrganizationKind
from bulletin.posts.models import Post
from bulletin.responses.models import (
    Conversation,
    ConversationRead,
    Message,
    MessageAttachment,
    Partnership,
    Response,
    ResponseKind,
    ResponseState,
)
from bulletin.responses.services import can_respond

DASHBOARD_LIMIT = 200
AWAITING_SHOWN = 20
CASES_PER_PAGE = 20
MESSAGES_PER_PAGE = 50
CONVERSATIONS_PER_PAGE = 20

# The organizations a line names, as the desk's queries join them: made once, as building an alias and its columns
# costs more than the query that uses them.
_OtherOrganization = aliased(Organization)
_PostOrganization = aliased(Organization)
_PartnerOrganization = aliased(Organization)


def _name_columns(organization: type[Organization]) -> tuple[Any, Any, Any]:
    """The three columns an organization's display name is made of (`Organization.display_name_of`)."""
    return (organization.kind, organization.prefecture_code, organization.name)


@dataclass(frozen=True)
class ResponseLabels:
    """What the responses' pages name in the reader's language: the kinds and states of responses, the two sides of
    a conversation, and the dialogs that confirm accepting or declining a response."""

    kinds: dict[ResponseKind, str]
    states: dict[ResponseState, str]
    post_side: str
    response_side: str
    accept_dialog: Markup
    decline_dialog: Markup


_LABELS: dict[str, ResponseLabels] = {}


def response_labels() -> ResponseLabels:
    """The labels in the locale in force, translated once per locale and kept: each text cost a catalogue lookup
    every time a page named it, and they never change while the board runs."""
    locale = request_locale()
    labels = _LABELS.get(locale)
    if labels is None:
        labels = _LABELS[locale] = ResponseLabels(
            kinds={kind: str(kind.label) for kind in ResponseKind},
            states={state: str(state.label) for state in ResponseState},
            post_side=str(_l("投稿した団体")),
            response_side=str(_l("応答した団体")),
            accept_dialog=confirm_attributes("accept_response"),
            decline_dialog=confirm_attributes("decline_response"),
        )
    return labels


def get_conversation(conversation_id: int) -> Conversation | None:
    """A conversation with its post, both organizations, its response and the officers who wrote the two (the
    contacts of its page). The post's and the response's organizations are the conversation's two, which the
    session then holds: they are not joined again."""
    return db.session.scalar(_CONVERSATION, {"conversation_id": conversation_id})


# The statements of the conversation page and the desk are built once, with their values as parameters: building a
# statement with its joins and options cost more than running it.
# What the page shows of them: the post's title and owner, the organizations' names, who to call, the partnership's
# link; the rest (a post's texts, an officer's sign-in records) is read only if something asks for it.
_NAMED_ORGANIZATION = (Organization.id, *_name_columns(Organization))
_CONTACT_PERSON = (User.id, User.name, User.department, User.phone, User.email, User.organization_id, User.state)
_CONVERSATION = (
    select(Conversation)
    .where(Conversation.id == bindparam("conversation_id"))
    .options(
        joinedload(Conversation.post)
        .load_only(Post.id, Post.title, Post.organization_id, Post.created_by_id, Post.state)
        .joinedload(Post.created_by)
        .load_only(*_CONTACT_PERSON),
        joinedload(Conversation.post_organization).load_only(*_NAMED_ORGANIZATION),
        joinedload(Conversation.partner_organization).load_only(*_NAMED_ORGANIZATION),
        joinedload(Conversation.response).joinedload(Response.partnership).load_only(Partnership.id),
        joinedload(Conversation.response).joinedload(Response.author).load_only(*_CONTACT_PERSON),
    )
)


def visible_conversation_or_404(conversation_id: int, user: User) -> Conversation:
    """The conversation, if the user may see it (its two organizations and moderators); anything else is 404."""
    conversation = get_conversation(conversation_id)
    if conversation is None or not conversation.can_view(user):
        abort(404)
    return conversation


@dataclass(frozen=True, slots=True)
class FileLine:
    """A file of a message as the conversation lists it: its link and its size."""

    id: int
    original_name: str
    size: int


@dataclass(slots=True)  # not frozen: a frozen dataclass sets each of its fields through object.__setattr__
class MessageLine:
    """A message as the conversation shows it, read as plain columns: a page of 50 builds no ORM objects (building
    the messages with their authors and organizations cost more than querying them). The author's and the
    organization's names are None when there is none (an officer deleted, a moderator's message)."""

    id: int
    author_id: int | None
    organization_id: int | None
    author_name: str | None
    organization_name: str | None
    body: str
    created_at_iso: str
    created_at_text: str  # in Japan time
    is_hidden: bool
    attachments: tuple[FileLine, ...]


@dataclass
class MessagePage:
    """One page of a conversation: up to 50 messages in order, and the id to read older ones before (None when
    these are the first)."""

    messages: list[MessageLine]
    older_before: int | None


_MESSAGE_COLUMNS = (
    Message.id, Message.author_id, Message.organization_id, Message.body, Message.created_at, Message.hidden_at,
    User.name, *_name_columns(Organization),
)  # fmt: skip
_MESSAGES = (
    select(*_MESSAGE_COLUMNS)
    .outerjoin(User, User.id == Message.author_id)
    .outerjoin(Organization, Organization.id == Message.organization_id)
    .where(Message.conversation_id == bindparam("conversation_id"))
    .order_by(Message.id.desc())
)


def _with_files(messages: Select) -> Select:
    """The messages the statement selects, newest first, each with its files: a row for each file, or one row
    without any (a page's messages and their files in one query)."""
    page = messages.limit(MESSAGES_PER_PAGE + 1).subquery()
    return (
        select(page, MessageAttachment.id, MessageAttachment.original_name, MessageAttachment.size)
        .outerjoin(MessageAttachment, MessageAttachment.message_id == page.c.id)
        .order_by(page.c.id.desc(), MessageAttachment.id)
    )


_NEWEST_MESSAGES = _with_files(_MESSAGES)
_MESSAGES_BEFORE = _with_files(_MESSAGES.where(Message.id < bindparam("before")))


def message_page(conversation: Conversation, before: int | None = None) -> MessagePage:
    """The newest messages (before a message id, for older pages), with author, organization and files: one query
    through the (conversation, id) index, whatever the conversation's length."""
    if before is None:
        rows: list[Any] = list(db.session.execute(_NEWEST_MESSAGES, {"conversation_id": conversation.id}))
    else:
        rows = list(db.session.execute(_MESSAGES_BEFORE, {"conversation_id": conversation.id, "before": before}))
    newest_first: list[Any] = []
    files: dict[int, list[FileLine]] = {}
    for row in rows:
        message_files = files.get(row[0])
        if message_files is None:
            message_files = files[row[0]] = []
            newest_first.append(row)
        if row[10] is not None:
            message_files.append(FileLine(row[10], row[11], row[12]))
    shown = newest_first[:MESSAGES_PER_PAGE]
    older = shown[-1][0] if len(newest_first) > MESSAGES_PER_PAGE else None
    names: dict[int | None, str | None] = {None: None}  # the two organizations' names, made once a page
    lines = []
    for (message_id, author_id, organization_id, body, created_at, hidden_at, author_name, kind, prefecture_code, name,
         *_file) in reversed(shown):  # fmt: skip
        organization_name = names.get(organization_id)
        if organization_name is None and organization_id is not None:
            organization_name = names[organization_id] = Organization.display_name_of(kind, prefecture_code, name)
        lines.append(
            MessageLine(
                message_id,
                author_id,
                organization_id,
                author_name if author_id is not None else None,
                organization_name,
                body,
                created_at.isoformat(),
                format_datetime(created_at),
                hidden_at is not None,
                tuple(files[message_id]),
            )
        )
    return MessagePage(lines, older)


def first_message_of(conversation: Conversation, organization_id: int) -> Message | None:
    """The first message an organization wrote in the conversation."""
    return db.session.scalar(
        select(Message)
        .where(Message.conversation_id == conversation.id, Message.organization_id == organization_id)
        .order_by(Message.id)
        .limit(1)
    )


def last_read_id(user: User, conversation: Conversation) -> int:
    """The last message the user has read in the conversation (0 for none)."""
    value = db.session.scalar(_LAST_READ, {"conversation_id": conversation.id, "user_id": user.id})
    return value or 0


_LAST_READ = select(ConversationRead.last_read_message_id).where(
    ConversationRead.conversation_id == bindparam("conversation_id"), ConversationRead.user_id == bindparam("user_id")
)


@dataclass(frozen=True, slots=True)
class ConversationRow:
    """A line of the desk's conversations, read as plain columns: the conversation, its post's title, the other
    organization, its latest message's time and how many of its messages the user has not read."""

    id: int
    post_title: str
    other_organization_name: str
    last_message_at: datetime
    unread: int


@dataclass
class ConversationPage:
    """One page of the desk's conversations, 20 a page."""

    rows: list[ConversationRow]
    page: int
    has_next: bool


def organization_conversations(user: User, page: int = 1) -> ConversationPage:
    """A page of the conversations of the user's organization, latest activity first, with unread counts: one query
    for the page, and one counting the unread messages of its conversations only."""
    rows: list[Any] = list(
        db.session.execute(
            _ORGANIZATION_CONVERSATIONS,
            {"organization_id": user.organization_id, "offset": (page - 1) * CONVERSATIONS_PER_PAGE},
        )
    )
    shown = rows[:CONVERSATIONS_PER_PAGE]
    unread = _unread_counts(user, [row[0] for row in shown])
    display_name = Organization.display_name_of
    return ConversationPage(
        [
            ConversationRow(
                conversation_id,
                title,
                display_name(kind, prefecture_code, name),
                last_message_at,
                unread.get(conversation_id, 0),
            )
            for conversation_id, last_message_at, title, kind, prefecture_code, name in shown
        ],
        page,
        len(rows) > CONVERSATIONS_PER_PAGE,
    )


_ORGANIZATION_CONVERSATIONS = (
    select(Conversation.id, Conversation.last_message_at, Post.title, *_name_columns(_OtherOrganization))
    .join(Post, Post.id == Conversation.post_id)
    .join(
        _OtherOrganization,
        _OtherOrganization.id
        == case(
            (Conversation.post_organization_id == bindparam("organization_id"), Conversation.partner_organization_id),
            else_=Conversation.post_organization_id,
        ),
    )
    .where(
        or_(
            Conversation.post_organization_id == bindparam("organization_id"),
            Conversation.partner_organization_id == bindparam("organization_id"),
        )
    )
    .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
    .offset(bindparam("offset"))
    .limit(CONVERSATIONS_PER_PAGE + 1)
)


def _unread_counts(user: User, conversation_ids: list[int]) -> dict[int, int]:
    """How many messages of each conversation come after the user's read marker (conversations without unread
    messages are left out). Always one query, through the (conversation, id) index."""
    counts = db.session.execute(_UNREAD_COUNTS, {"user_id": user.id, "conversation_ids": conversation_ids})
    return {conversation_id: count for conversation_id, count in counts}


_UNREAD_COUNTS = (
    select(Message.conversation_id, func.count(Message.id))
    .outerjoin(
        ConversationRead,
        and_(
            ConversationRead.conversation_id == Message.conversation_id,
            ConversationRead.user_id == bindparam("user_id"),
        ),
    )
    .where(
        Message.conversation_id.in_(bindparam("conversation_ids", expanding=True)),
        Message.id > func.coalesce(ConversationRead.last_read_message_id, 0),
    )
    .group_by(Message.conversation_id)
)


@dataclass(frozen=True, slots=True)
class AwaitingRow:
    """A response awaiting an answer, as the desk lists it: who responded and how (the kind's label in the reader's
    language), to which post, when, and its conversation."""

    conversation_id: int
    organization_name: str
    kind_label: str
    post_title: str
    created_at: datetime


def responses_awaiting_answer(user: User) -> list[AwaitingRow]:
    """The 20 oldest open responses to the posts of the user's organization, and the 21st if there is one (the desk
    then says "20 or more"; every one of them is also among its conversations)."""
    rows: list[Any] = list(db.session.execute(_AWAITING_ANSWER, {"organization_id": user.organization_id}))
    labels = response_labels().kinds
    display_name = Organization.display_name_of
    return [
        AwaitingRow(conversation_id, display_name(org_kind, prefecture_code, name), labels[kind], title, created_at)
        for conversation_id, org_kind, prefecture_code, name, kind, title, created_at in rows
    ]


_AWAITING_ANSWER = (
    select(Conversation.id, *_name_columns(Organization), Response.kind, Post.title, Response.created_at)
    .select_from(Response)
    .join(Post, Post.id == Response.post_id)
    .join(Organization, Organization.id == Response.organization_id)
    .join(Conversation, Conversation.response_id == Response.id)
    .where(Post.organization_id == bindparam("organization_id"), Response.state == ResponseState.OPEN)
    .order_by(Response.created_at)
    .limit(AWAITING_SHOWN + 1)
)


def responses_to(post: Post) -> list[Response]:
    """Every response to a post, with the answering organization and conversation."""
    return list(
        db.session.scalars(
            select(Response)
            .where(Response.post_id == post.id)
            .options(
                joinedload(Response.organization),
                joinedload(Response.conversation),
                joinedload(Response.partnership),
            )
            .order_by(Response.created_at)
        )
    )


@dataclass(frozen=True, slots=True)
class ResponseLine:
    """A response as the post's page lists it for its organizations and moderators, read as plain columns: who
    responded, how and when, where it stands (labels in the reader's language), its conversation and the partnership
    it may have become."""

    organization_name: str
    kind_label: str
    created_at_text: str  # in Japan time
    state_label: str
    conversation_id: int
    partnership_id: int | None


def response_lines(post: Post) -> list[ResponseLine]:
    """Every response to a post, oldest first, as the post's page lists them: one query."""
    rows: list[Any] = list(db.session.execute(_RESPONSE_LINES, {"post_id": post.id}))
    labels = response_labels()
    kinds, states = labels.kinds, labels.states
    display_name = Organization.display_name_of
    return [
        ResponseLine(
            display_name(org_kind, prefecture_code, name), kinds[kind], format_datetime(created_at), states[state],
            conversation_id, partnership_id,
        )
        for org_kind, prefecture_code, name, kind, created_at, state, conversation_id, partnership_id in rows
    ]  # fmt: skip


_RESPONSE_LINES = (
    select(
        *_name_columns(Organization),
        Response.kind,
        Response.created_at,
        Response.state,
        Conversation.id,
        Partnership.id,
    )
    .select_from(Response)
    .join(Organization, Organization.id == Response.organization_id)
    .join(Conversation, Conversation.response_id == Response.id)
    .outerjoin(Partnership, Partnership.response_id == Response.id)
    .where(Response.post_id == bindparam("post_id"))
    .order_by(Response.created_at)
)


def _own_response(post: Post, organization_id: int) -> Response | None:
    """The organization's response to the post, with its conversation and the partnership it may have become."""
    return db.session.scalar(
        select(Response)
        .where(Response.post_id == post.id, Response.organization_id == organization_id)
        .options(joinedload(Response.conversation), joinedload(Response.partnership))
    )


@dataclass
class Contact:
    """Who to call on one side: the officer who wrote the post or the response; when they no longer use the board
    (left, suspended or deleted), the organization's administrator, or nobody."""

    side: str
    organization: Organization
    person: User | None
    author_left: bool = False


def contact_of(side: str, organization: Organization, author: User | None) -> Contact:
    """The side's contact: its author while active in the organization, else its first active administrator."""
    if author is not None and author.state == UserState.ACTIVE and author.organization_id == organization.id:
        return Contact(side, organization, author)
    administrator = db.session.scalar(_FIRST_ADMINISTRATOR, {"organization_id": organization.id})
    return Contact(side, organization, administrator, author_left=True)


_FIRST_ADMINISTRATOR = (
    select(User)
    .where(
        User.organization_id == bindparam("organization_id"), User.role == OrgRole.ADMIN, User.state == UserState.ACTIVE
    )
    .order_by(User.id)
    .limit(1)
)


def post_side_contact(post: Post) -> Contact:
    """The post's side: the officer who wrote it."""
    return contact_of(response_labels().post_side, post.organization, post.created_by)


def response_side_contact(response: Response) -> Contact:
    """The responding side: the officer who wrote the response."""
    return contact_of(response_labels().response_side, response.organization, response.author)


def conversation_contacts(conversation: Conversation) -> list[Contact]:
    """Both sides of a conversation; the page is only ever shown to its two organizations and moderators."""
    return [post_side_contact(conversation.post), response_side_contact(conversation.response)]


@dataclass
class ResponsesPanel:
    """What the post page shows of responses: the way to respond, the viewer's own response, or all of them; and
    who to call, for the post's organization, an organization that responded, and moderators only."""

    can_respond: bool = False
    own: Response | None = None
    all: list[ResponseLine] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)


def responses_panel(user: User, post: Post) -> ResponsesPanel:
    """The other side may respond, or open the conversation of its response; the post's organizations and the
    moderators see every response, as the conversations are theirs."""
    if not user.is_authenticated:
        return ResponsesPanel()
    own = _own_response(post, user.organization_id) if user.organization_id and not post.belongs_to(user) else None
    sees_all = post.is_owned_by(user) or user.is_moderator
    contacts = []
    if sees_all or own is not None:
        contacts.append(post_side_contact(post))
    if own is not None:
        contacts.append(response_side_contact(own))
    return ResponsesPanel(
        can_respond=own is None and can_respond(user, post),
        own=own,
        all=response_lines(post) if sees_all else [],
        contacts=contacts,
    )


@dataclass(frozen=True, slots=True)
class PartnershipRow:
    """A partnership as the desk lists it, read as plain columns."""

    id: int
    title: str
    post_organization_name: str
    partner_organization_name: str
    agreed_on: date
    is_case: bool


def organization_partnerships(user: User) -> list[PartnershipRow]:
    """The partnerships of the user's organization, newest first."""
    display_name = Organization.display_name_of
    return [
        PartnershipRow(
            row[0], row[1], display_name(row[4], row[5], row[6]), display_name(row[7], row[8], row[9]), row[2],
            row[3] is not None,
        )
        for row in db.session.execute(_ORGANIZATION_PARTNERSHIPS, {"organization_id": user.organization_id})
    ]  # fmt: skip


_ORGANIZATION_PARTNERSHIPS = (
    select(
        Partnership.id,
        Partnership.title,
        Partnership.agreed_on,
        Partnership.published_at,
        *_name_columns(_PostOrganization),
        *_name_columns(_PartnerOrganization),
    )
    .join(_PostOrganization, _PostOrganization.id == Partnership.post_organization_id)
    .join(_PartnerOrganization, _PartnerOrganization.id == Partnership.partner_organization_id)
    .where(
        or_(
            Partnership.post_organization_id == bindparam("organization_id"),
            Partnership.partner_organization_id == bindparam("organization_id"),
        )
    )
    .order_by(Partnership.created_at.desc())
    .limit(DASHBOARD_LIMIT)
)


def get_partnership(partnership_id: int) -> Partnership | None:
    """A partnership with its organizations, post and photos."""
    return db.session.scalar(
        select(Partnership)
        .where(Partnership.id == partnership_id)
        .options(
            joinedload(Partnership.post_organization),
            joinedload(Partnership.partner_organization),
            joinedload(Partnership.post),
            joinedload(Partnership.response).joinedload(Response.conversation),
            selectinload(Partnership.photos),
        )
    )


@dataclass
class CasePage:
    """One page of public cases."""

    items: list[Partnership]
    page: int
    has_next: bool


def case_prefecture_code(
    post_organization: type[Organization], partner_organization: type[Organization]
) -> ColumnElement[str]:
    """The prefecture a partnership is counted under: the municipality's side (wards are all in 東京都), so the ward's
    partner's prefecture; the two organizations are the partnership's, joined under these names."""
    return case(
        (post_organization.kind == OrganizationKind.SPECIAL_WARD, partner_organization.prefecture_code),
        else_=post_organization.prefecture_code,
    )


def published_cases(page: int = 1, prefecture: str = "") -> CasePage:
    """Published partnerships, newest event first, 20 a page; only those of one prefecture (the municipality's side)
    when given."""
    statement = select(Partnership).where(Partnership.published_at.is_not(None))
    if prefecture:
        post_organization, partner_organization = aliased(Organization), aliased(Organization)
        statement = (
            statement.join(post_organization, Partnership.post_organization_id == post_organization.id)
            .join(partner_organization, Partnership.partner_organization_id == partner_organization.id)
            .where(case_prefecture_code(post_organization, partner_organization) == prefecture)
        )
    statement = (
        statement.options(
            joinedload(Partnership.post_organization),
            joinedload(Partnership.partner_organization),
            selectinload(Partnership.photos),
        )
        .order_by(Partnership.held_from.desc(), Partnership.id.desc())
        .offset((page - 1) * CASES_PER_PAGE)
        .limit(CASES_PER_PAGE + 1)
    )
    items = list(db.session.scalars(statement).unique())
    return CasePage(items[:CASES_PER_PAGE], page, len(items) > CASES_PER_PAGE)


def cases_awaiting_publication() -> list[Partnership]:
    """Partnerships both sides consented to, not yet published (the moderators' queue)."""
    return list(
        db.session.scalars(
            select(Partnership)
            .where(
                and_(
                    Partnership.published_at.is_(None),
                    Partnership.post_organization_consent_at.is_not(None),
                    Partnership.partner_organization_consent_at.is_not(None),
                )
            )
            .options(joinedload(Partnership.post_organization), joinedload(Partnership.partner_organization))
            .order_by(Partnership.outcome_updated_at)
        )
    )
