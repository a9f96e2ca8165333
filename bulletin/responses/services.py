"""Response verbs: respond, write, accept or decline, record the outcome, consent, publish a case.

Races are settled by the database: one response per organization and post, and one partnership per response,
are unique constraints, and state changes are guarded updates, so a double click or two officers at the same
instant end with exactly one row and a clear message for the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage

from bulletin.accounts.models import User
from bulletin.core import signals, uploads
from bulletin.core.audit import log_decision
from bulletin.core.db import guarded_update, utcnow
from bulletin.core.text import today_in_japan
from bulletin.extensions import db
from bulletin.organizations.models import Membership, OrganizationKind
from bulletin.posts.models import Post, PostKind, PostState
from bulletin.posts.services import PostError
from bulletin.responses.models import (
    Conversation,
    ConversationRead,
    Message,
    MessageAttachment,
    Partnership,
    PartnershipPhoto,
    Response,
    ResponseKind,
    ResponseState,
)

MAX_MESSAGE_LENGTH = 10_000
MAX_PHOTOS = 5
MAX_MESSAGE_FILES = 5


class ResponseError(PostError):
    """A request the rules refuse; `message` is shown to the user."""


def is_other_side(user: User, post: Post) -> bool:
    """Wards answer proposals; municipalities and associations answer calls."""
    if user.organization is None:
        return False
    is_ward = user.organization.kind == OrganizationKind.SPECIAL_WARD
    return is_ward if post.kind == PostKind.PROPOSAL else not is_ward


def can_respond(user: User | None, post: Post) -> bool:
    """Active staff of a member organization on the other side may answer a published post."""
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and user.is_active
        and user.organization is not None
        and user.organization.membership == Membership.MEMBER
        and post.state == PostState.PUBLISHED
        and not post.belongs_to(user)
        and is_other_side(user, post)
    )


def _clean_message(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ResponseError(_l("メッセージを入力してください。"), field="message")
    if len(text) > MAX_MESSAGE_LENGTH:
        raise ResponseError(_l("メッセージは%(n)d文字以内にしてください。", n=MAX_MESSAGE_LENGTH), field="message")
    return text


def existing_response(post: Post, organization_id: int) -> Response | None:
    """The organization's response to the post, if it has answered."""
    return db.session.scalar(
        select(Response).where(Response.post_id == post.id, Response.organization_id == organization_id)
    )


def respond(actor: User, post: Post, kind: ResponseKind, text: str) -> Response:
    """Answer a post: the response, its conversation and the first message, in one transaction."""
    if post.state != PostState.PUBLISHED:
        raise ResponseError(_l("この投稿は現在、応答を受け付けていません。"))
    if not can_respond(actor, post):
        raise ResponseError(_l("この投稿に応答できるのは、相手側の会員団体の職員です。"))
    text = _clean_message(text)
    if actor.organization_id is None or existing_response(post, actor.organization_id) is not None:
        raise ResponseError(_l("この投稿にはすでに応答しています。続きはやりとりのページに書いてください。"))
    now = utcnow()
    response = Response(post=post, organization_id=actor.organization_id, author_id=actor.id, kind=kind, created_at=now)
    conversation = Conversation(
        response=response,
        post=post,
        post_organization_id=post.organization_id,
        partner_organization_id=actor.organization_id,
        created_at=now,
        last_message_at=now,
    )
    try:
        with db.session.begin_nested():  # an answer from the same organization at the same instant loses here
            db.session.add_all([response, conversation])
            db.session.flush()
    except IntegrityError as error:
        raise ResponseError(_l("この投稿にはすでに応答しています。続きはやりとりのページに書いてください。")) from error
    _add_message(actor, conversation, text)
    signals.response_received.send(actor, response=response)
    return response


def _add_message(actor: User, conversation: Conversation, text: str) -> Message:
    message = Message(
        conversation_id=conversation.id, author_id=actor.id, organization_id=actor.organization_id, body=text
    )
    db.session.add(message)
    db.session.flush()
    is_newest = func.coalesce(Conversation.last_message_id, 0) < message.id
    db.session.execute(
        update(Conversation)
        .where(Conversation.id == conversation.id)
        .values(
            # Two writers at once: the count adds up, and "last" only ever moves forward.
            message_count=Conversation.message_count + 1,
            last_message_at=case((is_newest, message.created_at), else_=Conversation.last_message_at),
            last_message_id=case((is_newest, message.id), else_=Conversation.last_message_id),
        )
        .execution_options(synchronize_session=False)
    )
    db.session.expire(conversation, ["message_count", "last_message_at", "last_message_id"])
    mark_read(actor.id, conversation.id, message.id)
    return message


def post_message(actor: User, conversation: Conversation, text: str, files: Sequence[FileStorage] = ()) -> Message:
    """Write in a conversation (either organization's staff, or a moderator), with up to five files: documents,
    spreadsheets, slides, CSV, PDF or images, checked by their content."""
    if not conversation.can_write(actor):
        raise ResponseError(_l("このやりとりには書き込めません。"))
    checked = _checked_message_files(files)
    message = _add_message(actor, conversation, _clean_message(text))
    for item in checked:
        message.attachments.append(
            MessageAttachment(**uploads.stored_columns(db.session, item), uploaded_by_id=actor.id)
        )
    db.session.flush()
    signals.message_posted.send(actor, message=message, conversation=conversation)
    return message


def _checked_message_files(files: Sequence[FileStorage]) -> list[uploads.CheckedFile]:
    sent = [f for f in files if f and f.filename]  # a browser sends an empty part for an untouched file input
    if len(sent) > MAX_MESSAGE_FILES:
        raise ResponseError(_l("一度に添付できるファイルは%(n)d件までです。", n=MAX_MESSAGE_FILES), field="attachments")
    try:
        return uploads.check_documents((f.filename or "", f.stream.read(uploads.MAX_BYTES + 1)) for f in sent)
    except uploads.UploadError as error:
        raise ResponseError(error.message, field="attachments") from error


def mark_read(user_id: int, conversation_id: int, last_message_id: int | None) -> None:
    """Record that the user has read the conversation up to a message (never moving backwards)."""
    if not last_message_id:
        return
    marker = db.session.get(ConversationRead, (conversation_id, user_id))
    if marker is None:
        try:
            with db.session.begin_nested():  # two tabs of the same user reading at once
                db.session.add(
                    ConversationRead(
                        conversation_id=conversation_id, user_id=user_id, last_read_message_id=last_message_id
                    )
                )
                db.session.flush()
        except IntegrityError:
            marker = db.session.get(ConversationRead, (conversation_id, user_id), populate_existing=True)
    if marker is not None and marker.last_read_message_id < last_message_id:
        marker.last_read_message_id = last_message_id
        marker.read_at = utcnow()


def check_can_decide(actor: User, response: Response) -> None:
    """Refuse, before asking for confirmation, what accepting or declining would refuse."""
    if not response.post.is_owned_by(actor):
        raise ResponseError(_l("応答に回答できるのは、投稿した団体の職員です。"))
    if response.state != ResponseState.OPEN:
        raise ResponseError(_l("この応答にはすでに回答しています。"))


def _decide(actor: User, response: Response, new_state: ResponseState) -> None:
    check_can_decide(actor, response)
    decided = guarded_update(
        db.session,
        response,
        Response.state == ResponseState.OPEN,
        state=new_state,
        decided_at=utcnow(),
        decided_by_id=actor.id,
    )
    if not decided:
        raise ResponseError(_l("この応答にはすでに回答しています。"))


def accept_response(actor: User, response: Response) -> Partnership:
    """Accept a response: a partnership between the two organizations is recorded (one per response)."""
    if response.post.state not in (PostState.PUBLISHED, PostState.CLOSED):
        raise ResponseError(_l("この投稿の応答は、現在受け入れられません。"))
    _decide(actor, response, ResponseState.ACCEPTED)
    partnership = Partnership(
        post_id=response.post_id,
        response_id=response.id,
        post_organization_id=response.post.organization_id,
        partner_organization_id=response.organization_id,
        agreed_on=today_in_japan(),
        title=response.post.title,
    )
    try:
        with db.session.begin_nested():
            db.session.add(partnership)
            db.session.flush()
    except IntegrityError as error:  # the guarded update makes this unreachable; the constraint makes it certain
        raise ResponseError(_l("この応答にはすでに回答しています。")) from error
    signals.response_decided.send(actor, response=response, partnership=partnership)
    return partnership


def decline_response(actor: User, response: Response) -> None:
    """Decline a response; the conversation stays readable."""
    _decide(actor, response, ResponseState.DECLINED)
    signals.response_decided.send(actor, response=response, partnership=None)


@dataclass
class OutcomeInput:
    """What either side records after the event."""

    title: str
    held_from: date | None
    held_until: date | None
    venue: str
    summary: str


def update_outcome(
    actor: User,
    partnership: Partnership,
    values: OutcomeInput,
    photos: Sequence[FileStorage] = (),
    remove_photo_ids: Sequence[int] = (),
) -> None:
    """Fill in or change the outcome (held on, venue, summary, up to five photos). Consents are kept only while
    nothing changes: an edit after consent asks both sides again."""
    if not partnership.can_edit_outcome(actor):
        raise ResponseError(_l("この連携の結果は編集できません。"))
    _check_outcome_dates(values)
    removed = [p for p in partnership.photos if p.id in set(remove_photo_ids)]
    for photo in removed:
        uploads.discard_later(db.session, photo.stored_name)
        partnership.photos.remove(photo)
    added = [f for f in photos if f and f.filename]  # a browser sends an empty part for an untouched file input
    _add_photos(actor, partnership, added)
    changed = (
        partnership.title,
        partnership.held_from,
        partnership.held_until,
        partnership.venue,
        partnership.summary,
    ) != (values.title, values.held_from, values.held_until, values.venue, values.summary)
    partnership.title = values.title
    partnership.held_from, partnership.held_until = values.held_from, values.held_until
    partnership.venue, partnership.summary = values.venue, values.summary
    partnership.outcome_updated_at = utcnow()
    partnership.outcome_updated_by_id = actor.id
    if changed or removed or added:
        partnership.post_organization_consent_at = None
        partnership.partner_organization_consent_at = None
    db.session.flush()
    signals.outcome_updated.send(actor, partnership=partnership)


def _check_outcome_dates(values: OutcomeInput) -> None:
    """An outcome records what was held: its dates are not in the future (in Japan) and end no earlier than they
    start."""
    today = today_in_japan()
    if values.held_from and values.held_from > today:
        raise ResponseError(
            _l("実施日（から）に未来の日付は入力できません。実施した日を入力してください。"), field="held_from"
        )
    if values.held_until and values.held_until > today:
        raise ResponseError(
            _l("実施日（まで）に未来の日付は入力できません。実施が終わってから記録してください。"), field="held_until"
        )
    if values.held_from and values.held_until and values.held_until < values.held_from:
        raise ResponseError(_l("終了日は開始日と同じか後の日付にしてください。"), field="held_until")


def _add_photos(actor: User, partnership: Partnership, files: list[FileStorage]) -> None:
    if not files:
        return
    if len(partnership.photos) + len(files) > MAX_PHOTOS:
        raise ResponseError(_l("写真は%(n)d枚までです。", n=MAX_PHOTOS), field="photos")
    try:
        checked = uploads.check_files(
            (upload.filename or "", upload.stream.read(uploads.MAX_BYTES + 1)) for upload in files
        )
    except uploads.UploadError as error:
        raise ResponseError(error.message, field="photos") from error
    if not all(item.content_type.startswith("image/") for item in checked):
        raise ResponseError(_l("写真は PNG、JPEG、WebP の画像にしてください。"), field="photos")
    for item in checked:
        partnership.photos.append(PartnershipPhoto(**uploads.stored_columns(db.session, item), uploaded_by_id=actor.id))


def consent_to_publication(actor: User, partnership: Partnership) -> None:
    """The actor's organization agrees that the partnership be published as a case."""
    already = ResponseError(_l("この連携の公開にはすでに同意しています。"))
    if partnership.can_edit_outcome(actor) and partnership.consent_of(actor) is not None:
        raise already
    if not partnership.can_consent(actor):
        raise ResponseError(_l("公開への同意はできません。"))
    if not partnership.has_outcome:
        raise ResponseError(_l("公開に同意する前に、実施日と概要を記入してください。"))
    own = (
        "post_organization_consent_at"
        if actor.organization_id == partnership.post_organization_id
        else "partner_organization_consent_at"
    )
    consented = getattr(partnership, own) is None and guarded_update(
        db.session, partnership, getattr(Partnership, own).is_(None), **{own: utcnow()}
    )
    if not consented:
        raise already
    signals.publication_consented.send(actor, partnership=partnership)


def check_publishable(actor: User, partnership: Partnership) -> None:
    """Refuse, before asking for confirmation, what publishing the case would refuse."""
    if not actor.can_moderate():
        raise ResponseError(_l("この操作はモデレーターだけが行えます。"))
    if partnership.published_at is not None:
        raise ResponseError(_l("この連携はすでに事例として公開されています。"))
    if not partnership.has_both_consents or not partnership.has_outcome:
        raise ResponseError(_l("両方の団体が公開に同意した連携だけを公開できます。"))


def publish_case(actor: User, partnership: Partnership) -> None:
    """A moderator publishes a partnership both sides consented to as a public case."""
    check_publishable(actor, partnership)
    already = ResponseError(_l("この連携はすでに事例として公開されています。"))
    if not guarded_update(
        db.session, partnership, Partnership.published_at.is_(None), published_at=utcnow(), published_by_id=actor.id
    ):
        raise already
    log_decision(actor, "publish_case", "partnership", partnership.id, partnership.title)
    db.session.flush()
    signals.case_published.send(actor, partnership=partnership, moderator=actor)


def unpublish_case(actor: User, partnership: Partnership, reason: str) -> None:
    """Take a case off the public pages, with a reason."""
    if not actor.can_moderate():
        raise ResponseError(_l("この操作はモデレーターだけが行えます。"))
    if partnership.published_at is None:
        raise ResponseError(_l("この連携は公開されていません。"))
    reason = (reason or "").strip()
    if not reason:
        raise ResponseError(_l("理由を入力してください。"), field="reason")
    if not guarded_update(
        db.session, partnership, Partnership.published_at.is_not(None), published_at=None, published_by_id=None
    ):
        raise ResponseError(_l("この連携は公開されていません。"))
    log_decision(actor, "unpublish_case", "partnership", partnership.id, partnership.title, reason=reason)
    db.session.flush()
    signals.case_withdrawn.send(actor, partnership=partnership, moderator=actor, reason=reason)
