"""Post verbs. Every state change goes through `transition`, the one place where the allowed moves are listed.

Services take the acting user explicitly, change models, write the moderation log, send a signal and flush;
the request or command commits.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage

from bulletin.accounts.models import User
from bulletin.core import signals, uploads
from bulletin.core.audit import fingerprint, log_decision
from bulletin.core.db import guarded_update, utcnow
from bulletin.core.errors import DomainError, NotTheVersionShown
from bulletin.core.text import fold, today_in_japan
from bulletin.extensions import db
from bulletin.organizations.data import prefectures
from bulletin.organizations.models import Membership, Organization, OrganizationKind
from bulletin.posts.models import (
    CONTENT_FIELDS,
    Attachment,
    CloseReason,
    CoProposer,
    CoProposerState,
    Post,
    PostKind,
    PostRevision,
    PostState,
    RevisionState,
    StagedAttachment,
)
from bulletin.posts.rendering import render_markdown


class PostError(DomainError):
    """A request the rules refuse; `message` is shown to the user."""


# action -> (states it may start from, state it leads to). None as target: decided by the action itself.
TRANSITIONS: dict[str, tuple[frozenset[PostState], PostState | None]] = {
    "submit": (frozenset({PostState.DRAFT, PostState.REJECTED}), PostState.PENDING),
    "approve": (frozenset({PostState.PENDING}), PostState.PUBLISHED),
    "reject": (frozenset({PostState.PENDING}), PostState.REJECTED),
    "close": (frozenset({PostState.PUBLISHED}), PostState.CLOSED),
    "withdraw": (
        frozenset({PostState.DRAFT, PostState.PENDING, PostState.REJECTED, PostState.PUBLISHED}),
        PostState.WITHDRAWN,
    ),
    "expire": (frozenset({PostState.PUBLISHED}), PostState.EXPIRED),
    "hide": (frozenset({PostState.PUBLISHED, PostState.CLOSED, PostState.EXPIRED}), PostState.HIDDEN),
    "unhide": (frozenset({PostState.HIDDEN}), None),
}

MAX_ATTACHMENTS = 5
STAGED_LIFETIME = timedelta(hours=24)  # how long a file chosen on a form that was not saved is held


def _refuse_in_state(post: Post) -> PostError:
    return PostError(_l("この投稿は「%(state)s」のため、この操作はできません。", state=post.state.label))


def _changed_while_reviewed() -> NotTheVersionShown:
    return NotTheVersionShown(_l("審査中に投稿者が内容を更新しました。最新の内容を確認してから判断してください。"))


def _version_unknown() -> NotTheVersionShown:
    return NotTheVersionShown(
        _l("どの版を確認したかが分からないため、判断できません。審査の画面を開き直してください。")
    )


def _check_version_seen(current: int, seen_version: int | None) -> int:
    """The version a moderator decides on: the one they were shown, which must still be the current one."""
    if seen_version is None:
        raise _version_unknown()
    if seen_version != current:
        raise _changed_while_reviewed()
    return seen_version


def transition(
    post: Post, action: str, target: PostState | None = None, *, version: int | None = None, **values
) -> PostState:
    """Move the post by `action` (with the other columns the new state needs, in `values`), or refuse with a clear
    message if its current state does not allow it. With `version`, the move also needs the post's text to be still
    that version: the one the moderator deciding was shown.

    The move is a guarded update from the state (and version) just checked: of two decisions at the same instant (a
    double click, two moderators), the second finds the post moved and is refused like any other; an author's edit
    landing between the moderator's page and the decision finds the post decided, or makes the decision find a new
    version.
    """
    sources, default_target = TRANSITIONS[action]
    if post.state not in sources:
        raise _refuse_in_state(post)
    if version is not None:
        _check_version_seen(post.version, version)
    new_state = target or default_target
    if new_state is None:
        raise ValueError(f"{action} needs an explicit target state")
    from_state = post.state
    guards = [Post.state == from_state] + ([Post.version == version] if version is not None else [])
    if not guarded_update(db.session, post, *guards, state=new_state, updated_at=utcnow(), **values):
        raise _refuse_in_state(post) if post.state != from_state else _changed_while_reviewed()
    return new_state


@dataclass
class PostInput:
    """What an author writes; validated by the form, checked against the rules here."""

    kind: PostKind
    title: str
    summary: str = ""
    offered: str = ""
    sought: str = ""
    body: str = ""
    category: str = "other"
    tags: list[str] = field(default_factory=list)
    desired_from: date | None = None
    desired_until: date | None = None
    deadline: date | None = None
    venue: str = ""
    cost_sharing: str = ""
    target_ward_codes: list[str] = field(default_factory=list)

    def as_content(self) -> dict:
        """The same values as Post.content()."""
        values = {name: getattr(self, name) for name in CONTENT_FIELDS}
        values["tags"] = ",".join(self.tags)
        for name in ("desired_from", "desired_until", "deadline"):
            values[name] = values[name].isoformat() if values[name] else None
        return values


def kind_for(organization: Organization) -> PostKind:
    """Wards post calls; everyone else posts proposals."""
    return PostKind.CALL if organization.kind == OrganizationKind.SPECIAL_WARD else PostKind.PROPOSAL


def can_create_post(user: User | None) -> bool:
    """Active staff of a member organization may write posts."""
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and user.is_active
        and user.organization is not None
        and user.organization.membership == Membership.MEMBER
    )


def _check_rules(values: PostInput, author_org: Organization) -> None:
    if values.kind != kind_for(author_org):
        if kind_for(author_org) == PostKind.PROPOSAL:
            raise PostError(_l("この団体が投稿できるのは「提案」です。"), field="kind")
        raise PostError(_l("この団体が投稿できるのは「募集」です。"), field="kind")
    if values.deadline and values.deadline < today_in_japan():
        raise PostError(_l("締切は今日以降の日付にしてください。"), field="deadline")
    if values.desired_from and values.desired_until and values.desired_until < values.desired_from:
        raise PostError(_l("希望時期の終わりは始まりと同じか後の日付にしてください。"), field="desired_until")


def _wards_by_code(codes: list[str]) -> list[Organization]:
    if not codes:
        return []
    wards = list(
        db.session.scalars(
            select(Organization).where(Organization.code.in_(codes), Organization.kind == OrganizationKind.SPECIAL_WARD)
        )
    )
    if len(wards) != len(set(codes)):
        raise PostError(_l("対象の区の指定が正しくありません。"), field="target_wards")
    return sorted(wards, key=lambda ward: ward.code)


def _apply_content(post: Post, content: dict) -> None:
    for name in ("title", "summary", "offered", "sought", "body", "category", "tags", "venue", "cost_sharing"):
        setattr(post, name, content[name] or "")
    for name in ("desired_from", "desired_until", "deadline"):
        value = content[name]
        setattr(post, name, date.fromisoformat(value) if isinstance(value, str) else value)
    post.target_wards = (
        _wards_by_code(list(content["target_ward_codes"] or [])) if post.kind == PostKind.PROPOSAL else []
    )
    post.body_html = render_markdown(post.body)
    refresh_search_text(post)


def refresh_search_text(post: Post) -> None:
    """Keep what keyword search matches in step with the post, its organization and its co-proposers."""
    organizations = (post.organization, *post.accepted_co_proposers)
    post.search_text, post.search_text_unvoiced = search_texts(
        [post.title, post.summary, post.offered, post.sought, post.body, post.tags.replace(",", " "), post.venue],
        [(org.name, org.kana, org.prefecture_code) for org in organizations],
    )
    post.search_head = search_head(post.title, post.summary)


def search_head(title: str | None, summary: str | None) -> str:
    """The folded title and summary, where a keyword weighs more."""
    return f"{fold(title or '')}\n{fold(summary or '')}"


def search_texts(texts: Iterable[str | None], organizations: Iterable[tuple[str, str, str]]) -> tuple[str, str]:
    """What keyword search matches in a post, folded: its own texts, and the name and reading of each of its
    organizations (name, reading, prefecture code) and of their prefectures (さかいし, ほっかいどう); as written, and
    without dakuten and handakuten for the looser search. One line a part, so no match spans two."""
    parts = list(texts)
    for name, kana, prefecture_code in organizations:
        parts += [name, kana, *prefectures().get(prefecture_code, ())]
    folded = [fold(part) for part in parts if part]
    return "\n".join(folded), "\n".join(fold(part, ignore_voicing=True) for part in folded)


@dataclass
class HeldFiles:
    """The staged files a post form carries back: those to keep, and those its author ticked to remove."""

    kept: list[StagedAttachment] = field(default_factory=list)
    removed: list[StagedAttachment] = field(default_factory=list)


def held_files(actor: User, tokens: Iterable[str], remove_tokens: Iterable[str] = ()) -> HeldFiles:
    """The actor's own staged files, not expired, among the tokens a form sent back; a token of another user, an
    unknown or an expired one is ignored (it changes nothing)."""
    removed = set(remove_tokens)
    wanted = set(tokens) | removed
    if not wanted:
        return HeldFiles()
    rows = list(
        db.session.scalars(
            select(StagedAttachment)
            .where(
                StagedAttachment.token.in_(wanted),
                StagedAttachment.uploaded_by_id == actor.id,
                StagedAttachment.created_at >= utcnow() - STAGED_LIFETIME,
            )
            .order_by(StagedAttachment.id)
        )
    )
    return HeldFiles([row for row in rows if row.token not in removed], [row for row in rows if row.token in removed])


def _too_many_files() -> PostError:
    return PostError(_l("添付できるファイルは%(n)d件までです。", n=MAX_ATTACHMENTS), field="attachments")


def _checked_files(files: Sequence[FileStorage]) -> list[uploads.CheckedFile]:
    """The uploaded files checked together (read from their start: a refused save may have read them already)."""
    for upload in files:
        upload.stream.seek(0)
    try:
        return uploads.check_files(
            (upload.filename or "", upload.stream.read(uploads.MAX_BYTES + 1)) for upload in files
        )
    except uploads.UploadError as error:
        raise PostError(error.message, field="attachments") from error


def _delete_staged(*conditions) -> int:
    """Delete the staged rows matching, and their stored files once the transaction commits. One statement deletes
    the rows and names their files: of two deletions at the same instant (a double click, the daily purge), only the
    one that removed a row removes its file, and a file a save took meanwhile stays."""
    stored_names = db.session.scalars(
        delete(StagedAttachment).where(*conditions).returning(StagedAttachment.stored_name)
    ).all()
    for stored_name in stored_names:
        uploads.discard_later(db.session, stored_name)
    return len(stored_names)


def _discard_staged(rows: Sequence[StagedAttachment]) -> None:
    if rows:
        _delete_staged(StagedAttachment.id.in_([row.id for row in rows]))


def stage_files(actor: User, held: HeldFiles, uploaded: Sequence[FileStorage], existing: int = 0) -> None:
    """Hold the files chosen on a post form that is not saved (previewed, or refused) for its author: those ticked
    for removal go, the new ones pass the checks attachments pass and join `held.kept`, within the limit on number
    counted over the post's `existing` attachments, the files already held and the new ones together."""
    if actor.organization_id is None:
        raise PostError(_l("投稿できるのは会員団体の職員です。"))
    _discard_staged(held.removed)
    held.removed = []
    files = [f for f in uploaded if f and f.filename]
    if not files:
        return
    if existing + len(held.kept) + len(files) > MAX_ATTACHMENTS:
        raise _too_many_files()
    for item in _checked_files(files):
        staged = StagedAttachment(
            token=secrets.token_urlsafe(32),
            uploaded_by_id=actor.id,
            organization_id=actor.organization_id,
            **uploads.stored_columns(db.session, item),
        )
        db.session.add(staged)
        held.kept.append(staged)
    db.session.flush()


def purge_staged_files(now: datetime | None = None) -> int:
    """Delete the staged files older than STAGED_LIFETIME, rows and stored files (run daily by `bulletin expire`)."""
    return _delete_staged(StagedAttachment.created_at < (now or utcnow()) - STAGED_LIFETIME)


def _add_files(actor: User, post: Post, uploaded: Sequence[FileStorage], held: HeldFiles | None = None) -> None:
    """Attach the new files and the staged ones kept (which stop being staged), and drop the staged ones removed:
    at most MAX_ATTACHMENTS with the post's own, all in the saving transaction."""
    held = held or HeldFiles()
    _discard_staged(held.removed)
    kept = [staged for staged in held.kept if staged.uploaded_by_id == actor.id]
    files = [f for f in uploaded if f and f.filename]
    if not files and not kept:
        return
    if len(post.attachments) + len(kept) + len(files) > MAX_ATTACHMENTS:
        raise _too_many_files()
    checked = _checked_files(files) if files else []
    if kept:
        # A staged file is attached once: of two saves at the same instant, or after its expiry, the second finds it
        # gone and is refused rather than giving two posts one stored file.
        taken = db.session.execute(
            delete(StagedAttachment).where(
                StagedAttachment.id.in_([staged.id for staged in kept]), StagedAttachment.uploaded_by_id == actor.id
            )
        )
        if taken.rowcount != len(kept):  # type: ignore[attr-defined]
            raise PostError(
                _l("保存前の添付ファイルが見つかりません。ファイルをもう一度選んでください。"), field="attachments"
            )
    for staged in kept:
        post.attachments.append(
            Attachment(
                original_name=staged.original_name,
                stored_name=staged.stored_name,
                content_type=staged.content_type,
                size=staged.size,
                width=staged.width,
                height=staged.height,
                uploaded_by_id=actor.id,
            )
        )
    for item in checked:  # only after every file passed
        post.attachments.append(Attachment(**uploads.stored_columns(db.session, item), uploaded_by_id=actor.id))


def create_post(
    actor: User,
    values: PostInput,
    files: Sequence[FileStorage] = (),
    submit: bool = False,
    held: HeldFiles | None = None,
) -> Post:
    """Write a new post as a draft, or send it straight to review, with the new files and the staged ones `held`."""
    if not can_create_post(actor) or actor.organization is None:
        raise PostError(_l("投稿できるのは会員団体の職員です。"))
    _check_rules(values, actor.organization)
    post = Post(
        organization=actor.organization,
        created_by=actor,
        kind=values.kind,
        state=PostState.DRAFT,
        title=values.title,
        category=values.category,
    )
    db.session.add(post)
    _apply_content(post, values.as_content())
    _add_files(actor, post, list(files), held)
    db.session.flush()
    if submit:
        submit_post(actor, post)
    return post


def update_post(
    actor: User,
    post: Post,
    values: PostInput,
    files: Sequence[FileStorage] = (),
    remove_attachment_ids: Sequence[int] = (),
    held: HeldFiles | None = None,
) -> PostRevision | None:
    """Edit a post: directly while it is a draft, pending or returned; as a pending revision once published.
    The new files and the staged ones `held` are attached, within the limit counted with the post's own."""
    if not post.can_edit(actor):
        raise PostError(_l("この投稿は編集できません。"))
    values.kind = post.kind
    _check_rules(values, post.organization)
    if post.state == PostState.PUBLISHED:
        if any(f and f.filename for f in files) or remove_attachment_ids or (held and held.kept):
            raise PostError(_l("公開中の投稿の添付ファイルは変更できません。"), field="attachments")
        return _propose_revision(actor, post, values.as_content())
    reviewed = post.reviewed()
    for attachment in [a for a in post.attachments if a.id in set(remove_attachment_ids)]:
        uploads.discard_later(db.session, attachment.stored_name)
        post.attachments.remove(attachment)
    _apply_content(post, values.as_content())
    _add_files(actor, post, list(files), held)
    if post.reviewed() != reviewed:
        _count_new_version(post)
    post.updated_at = utcnow()
    db.session.flush()
    return None


def _count_new_version(post: Post) -> None:
    """Number an edit of what moderators read as the post's next version, from the state and version it was read in.

    A moderator's decision taken meanwhile moved the post on: the edit is refused rather than changing a post that
    is no longer the one edited (a published post is changed only through a revision).
    """
    read_state, read_version = post.state, post.version
    counted = guarded_update(
        db.session, post, Post.state == read_state, Post.version == read_version, version=read_version + 1
    )
    if not counted:
        raise PostError(
            _l("編集している間に、この投稿は更新されました。最新の内容を確認してから、もう一度編集してください。")
        )


def _propose_revision(actor: User, post: Post, content: dict) -> PostRevision:
    _wards_by_code(list(content["target_ward_codes"] or []))  # validate now, apply on approval
    pending = db.session.scalar(
        select(PostRevision).where(PostRevision.post_id == post.id, PostRevision.state == RevisionState.PENDING)
    )
    # One pending revision at a time: a newer edit replaces it, as its next version. When a moderator decided it
    # meanwhile, the edit becomes a new revision instead of changing one that is no longer pending.
    if pending is not None and (
        pending.content == content
        or guarded_update(
            db.session,
            pending,
            PostRevision.state == RevisionState.PENDING,
            PostRevision.version == pending.version,
            content=content,
            author_id=actor.id,
            created_at=utcnow(),
            version=pending.version + 1,
        )
    ):
        revision = pending
    else:
        revision = PostRevision(post=post, author_id=actor.id, content=content)
        db.session.add(revision)
    db.session.flush()
    signals.revision_submitted.send(actor, revision=revision)
    return revision


def submit_post(actor: User, post: Post) -> None:
    """Send a draft or returned post to the moderators."""
    if not post.can_submit(actor):
        raise PostError(_l("この投稿は審査に出せません。"))
    if post.deadline and post.deadline < today_in_japan():
        raise PostError(_l("締切が過ぎています。締切を変更してから審査に出してください。"), field="deadline")
    transition(post, "submit", submitted_at=utcnow())
    db.session.flush()
    signals.post_submitted.send(actor, post=post)


def _require_moderator(actor: User) -> None:
    if not actor.can_moderate():
        raise PostError(_l("この操作はモデレーターだけが行えます。"))


def _version_decided(post: Post, action: str, seen_version: int | None) -> int:
    """The version a moderator's decision is on. A post the decision no longer applies to is refused as such first
    (another moderator decided it), then a form that does not say which version was shown; `transition` refuses a
    version that is no longer the current one."""
    if post.state not in TRANSITIONS[action][0]:
        raise _refuse_in_state(post)
    if seen_version is None:
        raise _version_unknown()
    return seen_version


def _log_post_decision(actor: User, action: str, post: Post, reason: str | None = None) -> None:
    """The log line of a decision on a pending post, naming the version decided and a fingerprint of its text."""
    log_decision(
        actor,
        action,
        "post",
        post.id,
        post.title,
        reason=reason,
        version=post.version,
        digest=fingerprint(post.reviewed()),
    )


def approve_post(actor: User, post: Post, seen_version: int | None) -> None:
    """Publish a pending post, in the version the moderator was shown."""
    _require_moderator(actor)
    version = _version_decided(post, "approve", seen_version)
    transition(
        post,
        "approve",
        version=version,
        published_at=post.published_at or utcnow(),
        moderator_comment=None,
        returned_snapshot=None,
    )
    _log_post_decision(actor, "approve_post", post)
    db.session.flush()
    signals.post_approved.send(actor, post=post, moderator=actor)


def reject_post(actor: User, post: Post, seen_version: int | None, comment: str) -> None:
    """Return a pending post for revision (差し戻し), in the version the moderator was shown, with comments the
    author sees beside the form."""
    _require_moderator(actor)
    comment = (comment or "").strip()
    if not comment:
        raise PostError(_l("差し戻しの理由を入力してください。"), field="reason")
    version = _version_decided(post, "reject", seen_version)
    transition(post, "reject", version=version, moderator_comment=comment, returned_snapshot=post.content())
    _log_post_decision(actor, "reject_post", post, reason=comment)
    db.session.flush()
    signals.post_rejected.send(actor, post=post, moderator=actor, comment=comment)


def check_can_hide(actor: User, post: Post) -> None:
    """Refuse, before asking for confirmation, what hiding the post would refuse (other than a missing reason)."""
    _require_moderator(actor)
    if post.state not in TRANSITIONS["hide"][0]:
        raise _refuse_in_state(post)


def hide_post(actor: User, post: Post, reason: str) -> None:
    """Take a post off the board with a reason (the organization still sees it, with the reason)."""
    _require_moderator(actor)
    reason = (reason or "").strip()
    if not reason:
        raise PostError(_l("非公開にする理由を入力してください。"), field="reason")
    transition(post, "hide", hidden_from_state=post.state.value, hidden_reason=reason)
    log_decision(actor, "hide_post", "post", post.id, post.title, reason=reason)
    db.session.flush()
    signals.post_hidden.send(actor, post=post, moderator=actor, reason=reason)


def unhide_post(actor: User, post: Post, reason: str = "") -> None:
    """Put a hidden post back in the state it was hidden from."""
    _require_moderator(actor)
    previous = PostState(post.hidden_from_state or PostState.PUBLISHED.value)
    transition(post, "unhide", target=previous, hidden_reason=None, hidden_from_state=None)
    log_decision(actor, "unhide_post", "post", post.id, post.title, reason=reason.strip() or None)
    db.session.flush()
    signals.post_unhidden.send(actor, post=post, moderator=actor, reason=reason.strip())


def close_post(actor: User, post: Post, reason: str) -> None:
    """The organization closes its published post: partnered, or no longer seeking."""
    if not post.can_close(actor):
        raise PostError(_l("この投稿は終了できません。"))
    if reason not in {choice.value for choice in CloseReason}:
        raise PostError(_l("終了の理由を選んでください。"), field="reason")
    transition(post, "close", closed_reason=reason)
    db.session.flush()


def withdraw_post(actor: User, post: Post) -> None:
    """The organization withdraws its post."""
    if not post.can_withdraw(actor):
        raise PostError(_l("この投稿は取り下げられません。"))
    transition(post, "withdraw")
    db.session.execute(
        update(PostRevision)
        .where(PostRevision.post_id == post.id, PostRevision.state == RevisionState.PENDING)
        .values(state=RevisionState.REJECTED, decided_at=utcnow(), comment="withdrawn")
    )
    db.session.flush()


def _decide_revision(
    actor: User, revision: PostRevision, seen_version: int | None, state: RevisionState, **values
) -> None:
    """Decide a pending revision in the version the moderator was shown; of two decisions at the same instant the
    second is refused, and so is a decision on a version the author replaced meanwhile."""
    already = PostError(_l("この修正はすでに処理されています。"))
    if revision.state != RevisionState.PENDING:
        raise already
    version = _check_version_seen(revision.version, seen_version)
    decided = guarded_update(
        db.session,
        revision,
        PostRevision.state == RevisionState.PENDING,
        PostRevision.version == version,
        state=state,
        decided_at=utcnow(),
        decided_by_id=actor.id,
        **values,
    )
    if not decided:
        raise already if revision.state != RevisionState.PENDING else _changed_while_reviewed()


def approve_revision(actor: User, revision: PostRevision, seen_version: int | None) -> None:
    """Apply a pending edit, in the version the moderator was shown, to the published post (a new version of it)."""
    _require_moderator(actor)
    post = revision.post
    if revision.state == RevisionState.PENDING and post.state != PostState.PUBLISHED:
        raise PostError(_l("この投稿は公開中ではないため、修正を反映できません。"))
    _decide_revision(actor, revision, seen_version, RevisionState.APPROVED)
    published_title = post.title
    _apply_content(post, revision.content)
    post.version += 1
    post.updated_at = utcnow()
    log_decision(
        actor,
        "approve_revision",
        "post",
        post.id,
        published_title,
        revision_id=revision.id,
        version=revision.version,
        digest=fingerprint(revision.content),
        new_title=post.title,
    )
    db.session.flush()
    signals.revision_decided.send(actor, revision=revision, moderator=actor)


def reject_revision(actor: User, revision: PostRevision, seen_version: int | None, comment: str) -> None:
    """Refuse a pending edit, in the version the moderator was shown; the published text stays as it is."""
    _require_moderator(actor)
    comment = (comment or "").strip()
    if not comment:
        raise PostError(_l("差し戻しの理由を入力してください。"), field="reason")
    _decide_revision(actor, revision, seen_version, RevisionState.REJECTED, comment=comment)
    log_decision(
        actor,
        "reject_revision",
        "post",
        revision.post_id,
        revision.post.title,
        reason=comment,
        revision_id=revision.id,
        version=revision.version,
        digest=fingerprint(revision.content),
    )
    db.session.flush()
    signals.revision_decided.send(actor, revision=revision, moderator=actor)


def expire_posts(today: date | None = None) -> int:
    """Move published posts whose deadline has passed to `expired`; running it twice changes nothing more."""
    today = today or today_in_japan()
    posts = list(
        db.session.scalars(
            select(Post).where(Post.state == PostState.PUBLISHED, Post.deadline.is_not(None), Post.deadline < today)
        )
    )
    for post in posts:
        transition(post, "expire")
        log_decision(None, "expire_post", "post", post.id, post.title, deadline=str(post.deadline))
    db.session.flush()
    return len(posts)


def invite_co_proposer(actor: User, post: Post, organization: Organization | None) -> CoProposer:
    """Invite another member organization of the same side to join the post."""
    if not post.can_invite_co_proposer(actor):
        raise PostError(_l("共同提案者を招待できません。"))
    if organization is None:
        raise PostError(_l("この団体コードの団体は見つかりません。"), field="organization_code")
    if organization.id == post.organization_id:
        raise PostError(_l("自分の団体は招待できません。"), field="organization_code")
    if organization.membership != Membership.MEMBER:
        raise PostError(_l("招待できるのは会員団体だけです。"), field="organization_code")
    if kind_for(organization) != post.kind:
        raise PostError(_l("共同提案者は同じ側の団体から選んでください。"), field="organization_code")
    already = PostError(_l("この団体はすでに招待されています。"), field="organization_code")
    if any(co.organization_id == organization.id for co in post.co_proposers):
        raise already
    co_proposer = CoProposer(post_id=post.id, organization_id=organization.id, invited_by_id=actor.id)
    try:
        with db.session.begin_nested():  # the same invitation sent twice at the same instant
            db.session.add(co_proposer)
            db.session.flush()
    except IntegrityError as error:
        raise already from error
    db.session.expire(post, ["co_proposers"])
    signals.co_proposer_invited.send(actor, co_proposer=co_proposer)
    return co_proposer


def answer_co_proposal(actor: User, co_proposer: CoProposer, accept: bool) -> None:
    """The invited organization accepts (its staff may then edit the post) or declines."""
    if not actor.is_active or actor.organization_id != co_proposer.organization_id:
        raise PostError(_l("この招待には回答できません。"))
    answered = co_proposer.state == CoProposerState.INVITED and guarded_update(
        db.session,
        co_proposer,
        CoProposer.state == CoProposerState.INVITED,
        state=CoProposerState.ACCEPTED if accept else CoProposerState.DECLINED,
        answered_at=utcnow(),
    )
    if not answered:
        raise PostError(_l("この招待にはすでに回答済みです。"))
    refresh_search_text(co_proposer.post)
    signals.co_proposer_answered.send(actor, co_proposer=co_proposer)


def remind_deadlines(today: date | None = None) -> int:
    """Tell each published post's organization once when its deadline is seven days away (run daily, idempotent)."""
    today = today or today_in_japan()
    posts = list(
        db.session.scalars(
            select(Post).where(
                Post.state == PostState.PUBLISHED,
                Post.deadline.is_not(None),
                Post.deadline <= today + timedelta(days=7),
                Post.deadline >= today,
                Post.deadline_reminded_at.is_(None),
            )
        )
    )
    for post in posts:
        post.deadline_reminded_at = utcnow()
        signals.deadline_approaching.send(None, post=post)
    db.session.flush()
    return len(posts)
