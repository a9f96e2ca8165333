"""Post pages: the list, one post, writing and editing, the organization's own posts, files, co-proposers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup
from wtforms import SelectChoice

from bulletin.core import uploads
from bulletin.core.forms import ConfirmActionForm, ReasonForm
from bulletin.core.templating import choices_in_locale, request_locale
from bulletin.core.transaction import carry_out, refusal_shown_on, write_separately
from bulletin.extensions import db
from bulletin.organizations.data import prefecture_choices
from bulletin.organizations.services import get_by_code, ward_choices, ward_groups
from bulletin.posts import queries, search, services
from bulletin.posts.categories import CATEGORIES
from bulletin.posts.forms import CloseForm, CoProposerForm, PostForm
from bulletin.posts.models import CoProposer, Post, PostKind, PostState, RevisionState
from bulletin.posts.rendering import render_markdown
from bulletin.responses import queries as response_queries

bp = Blueprint("posts", __name__)


@bp.before_request
@login_required
def require_login():
    """Posts are for members; the public pages are the cases (a later part of the board)."""


@bp.app_context_processor
def post_permissions() -> dict:
    """The header offers 新規投稿 to those who may write a post."""
    return {"can_create_post": services.can_create_post}


@bp.get("/posts")
def index():
    """Published posts with filters, 20 a page."""
    filters = queries.PostFilters.from_args(request.args)
    page = queries.list_posts(filters, viewer=current_user)
    return render_template(
        "posts/index.html",
        page=page,
        filters=filters,
        is_ward_staff=current_user.organization is not None and current_user.organization.is_ward,
        **filter_choices(),
        can_create=services.can_create_post(current_user),
        organization=get_by_code(filters.organization) if filters.organization else None,
    )


def _post_form(post: Post | None = None) -> PostForm:
    form = PostForm(obj=None) if post is None else PostForm()
    form.target_wards.choices = [SelectChoice(code, name) for code, name in ward_choices()]
    if post is not None:
        form.remove_attachments.choices = [SelectChoice(a.id, a.original_name) for a in post.attachments]
    return form


def _fill_from(form: PostForm, content: dict, kind: PostKind) -> None:
    form.kind.data = kind.value
    for name in ("title", "summary", "offered", "sought", "body", "category", "venue", "cost_sharing"):
        getattr(form, name).data = content[name]
    form.tags.data = ", ".join(tag for tag in (content["tags"] or "").split(",") if tag)
    for name in ("desired_from", "desired_until", "deadline"):
        value = content[name]
        getattr(form, name).data = date.fromisoformat(value) if isinstance(value, str) else value
    form.target_wards.data = list(content["target_ward_codes"] or [])


@dataclass(frozen=True)
class KeptFile:
    """A staged file as the form lists it."""

    token: str
    name: str
    size: int


def _held(form: PostForm) -> services.HeldFiles:
    return services.held_files(current_user, form.staged_attachments.data or [], form.remove_staged.data or [])


def _keep_files(form: PostForm, post: Post | None) -> list[KeptFile]:
    """After a preview or a refusal, the files of the form held as staged files (the new ones checked and added,
    those ticked for removal gone), in a transaction of their own: the request itself is rolled back. A file that
    cannot be kept is said on the form, never dropped without a word."""
    kept: list[KeptFile] = []
    refusals: list[str] = []
    new_files = [] if form.attachments.errors else request.files.getlist("attachments")

    def work() -> None:
        held = _held(form)
        try:
            services.stage_files(current_user, held, new_files, existing=len(post.attachments) if post else 0)
        except services.PostError as error:
            refusals.append(str(error.message))
        kept[:] = [KeptFile(staged.token, staged.original_name, staged.size) for staged in held.kept]

    if not write_separately(work):
        refusals.append(_("添付ファイルを一時保存できませんでした。もう一度選んでください。"))
    if refusals:
        form.attachments.errors = [*form.attachments.errors, *refusals]
    return kept


def _form_page(form: PostForm, post: Post | None, kind: PostKind, preview: str | None):
    """The post form again (first shown, previewed, or refused), with the target wards in their groups and the files
    chosen so far kept."""
    takes_files = post is None or post.state != PostState.PUBLISHED
    kept = _keep_files(form, post) if request.method == "POST" and takes_files else []
    status = 400 if request.method == "POST" and (form.errors or form.form_errors) else 200
    chosen = set(form.target_wards.data or [])
    return render_template(
        "posts/form.html",
        form=form,
        post=post,
        kind=kind,
        preview=preview,
        kept_files=kept,
        ward_groups=ward_groups(),
        chosen_wards=[name for code, name in ward_choices() if code in chosen],
    ), status


@bp.route("/posts/new", methods=["GET", "POST"])
def new():
    """Write a proposal (municipalities) or a call (wards): save as draft, preview, or send to review."""
    if not services.can_create_post(current_user):
        abort(403)
    form = _post_form()
    kind = services.kind_for(current_user.organization)
    if request.method == "GET":
        form.kind.data = kind.value
        form.category.data = "other"
    preview = None
    if form.validate_on_submit():
        if form.action.data == "preview":
            preview = render_markdown(form.body.data or "")
        else:
            with refusal_shown_on(form) as outcome:
                post = services.create_post(
                    current_user,
                    form.to_input(),
                    request.files.getlist("attachments"),
                    submit=form.action.data == "submit",
                    held=_held(form),
                )
            if outcome.ok:
                flash(
                    _("審査に出しました。事務局の確認後に公開されます。")
                    if post.state == PostState.PENDING
                    else _("下書きを保存しました。"),
                    "success",
                )
                return redirect(url_for("posts.show", post_id=post.id))
    return _form_page(form, None, kind, preview)


@bp.get("/posts/<int:post_id>")
def show(post_id: int):
    """One post: organization, period, deadline, attachments, what the viewer may do with it, and its responses."""
    post = queries.visible_post_or_404(post_id, current_user)
    edit = queries.revision_told_to_owners(post) if post.belongs_to(current_user) else None
    return render_template(
        "posts/show.html",
        post=post,
        revision=edit if edit is not None and edit.state == RevisionState.PENDING else None,
        refused_revision=edit if edit is not None and edit.state == RevisionState.REJECTED else None,
        panel=response_queries.responses_panel(current_user, post),
        action_form=ConfirmActionForm(),
        close_form=CloseForm(formdata=None),
        report_form=ReasonForm(formdata=None),
        co_form=CoProposerForm(formdata=None),
    )


@bp.route("/posts/<int:post_id>/edit", methods=["GET", "POST"])
def edit(post_id: int):
    """Edit a post; a published one becomes a pending revision while the published text stays up."""
    post = queries.visible_post_or_404(post_id, current_user)
    if not post.can_edit(current_user):
        abort(403)
    form = _post_form(post)
    revision = queries.pending_revision(post) if post.state == PostState.PUBLISHED else None
    if request.method == "GET":
        _fill_from(form, revision.content if revision else post.content(), post.kind)
    preview = None
    if form.validate_on_submit():
        if form.action.data == "preview":
            preview = render_markdown(form.body.data or "")
        else:
            with refusal_shown_on(form) as outcome:
                proposed = services.update_post(
                    current_user,
                    post,
                    form.to_input(),
                    request.files.getlist("attachments"),
                    form.remove_attachments.data or [],
                    held=_held(form),
                )
                if (
                    form.action.data == "submit"
                    and proposed is None
                    and post.state in (PostState.DRAFT, PostState.REJECTED)
                ):
                    services.submit_post(current_user, post)
            if outcome.ok:
                if proposed is not None:
                    flash(_("修正を審査に出しました。承認されるまで、公開中の内容が表示されます。"), "success")
                elif post.state == PostState.PENDING:
                    flash(_("審査に出しました。事務局の確認後に公開されます。"), "success")
                else:
                    flash(_("保存しました。"), "success")
                return redirect(url_for("posts.show", post_id=post.id))
    return _form_page(form, post, post.kind, preview)


def _simple_action(post_id: int, verb, success: str):
    post = queries.visible_post_or_404(post_id, current_user)
    if not ConfirmActionForm().validate_on_submit():
        abort(400)
    return carry_out(lambda: verb(current_user, post), success, url_for("posts.show", post_id=post.id))


@bp.post("/posts/<int:post_id>/submit")
def submit(post_id: int):
    """Send a draft or returned post to review."""
    return _simple_action(post_id, services.submit_post, _("審査に出しました。事務局の確認後に公開されます。"))


@bp.post("/posts/<int:post_id>/withdraw")
def withdraw(post_id: int):
    """Withdraw the post."""
    return _simple_action(post_id, services.withdraw_post, _("投稿を取り下げました。"))


@bp.post("/posts/<int:post_id>/close")
def close(post_id: int):
    """Close a published post (partnered or no longer seeking)."""
    post = queries.visible_post_or_404(post_id, current_user)
    form = CloseForm()
    return carry_out(
        lambda: services.close_post(current_user, post, form.reason.data),
        _("投稿の募集を終了しました。"),
        url_for("posts.show", post_id=post.id),
        form=form,
        incomplete=_("終了の理由を選んでください。"),
    )


@bp.post("/posts/<int:post_id>/co-proposers")
def invite_co_proposer(post_id: int):
    """Invite another member organization to join the post."""
    post = queries.visible_post_or_404(post_id, current_user)
    form = CoProposerForm()
    return carry_out(
        lambda: services.invite_co_proposer(current_user, post, get_by_code(form.organization_code.data)),
        _("共同提案者として招待しました。"),
        url_for("posts.show", post_id=post.id),
        form=form,
        incomplete=_("団体コードを入力してください。"),
    )


@bp.post("/co-proposals/<int:co_id>/<any(accept, decline):answer>")
def answer_co_proposal(co_id: int, answer: str):
    """The invited organization accepts or declines."""
    co_proposer = db.session.get(CoProposer, co_id)
    if co_proposer is None or co_proposer.organization_id != current_user.organization_id:
        abort(404)
    if not ConfirmActionForm().validate_on_submit():
        abort(400)
    return carry_out(
        lambda: services.answer_co_proposal(current_user, co_proposer, accept=answer == "accept"),
        _("共同提案者になりました。") if answer == "accept" else _("招待をお断りしました。"),
        url_for("posts.ours"),
    )


@bp.get("/posts/<int:post_id>/attachments/<int:attachment_id>")
def attachment(post_id: int, attachment_id: int):
    """A file of a post, only to those who may see the post, never sniffed, always as a download."""
    post = queries.visible_post_or_404(post_id, current_user)
    item = next((a for a in post.attachments if a.id == attachment_id), None)
    if item is None:
        abort(404)
    return uploads.serve_stored_file(item, public=False, as_attachment=True)


@bp.get("/posts/ours")
def ours():
    """Our posts: the organization's own in every state, and invitations to co-propose."""
    if current_user.organization_id is None:
        abort(404)
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), 10_000)
    return render_template(
        "posts/ours.html",
        posts=queries.organization_posts(current_user, page),
        invitations=queries.co_proposal_invitations(current_user),
        action_form=ConfirmActionForm(),
        can_create=services.can_create_post(current_user),
    )


@bp.app_template_global()
def search_snippet(post: Post, parts: tuple[str, ...], ignore_voicing: bool = False) -> Markup:
    """The card's summary with the keywords marked, or a snippet of the body where they are (bulletin.posts.search);
    only on a list searched by keywords, which loads the bodies."""
    return search.snippet(post.summary, post.body, parts, ignore_voicing)


def filter_choices() -> dict[str, tuple[tuple[str, str], ...]]:
    """The choices of the list's filters, their labels in the reader's language (kept per locale)."""
    return {
        "kinds": choices_in_locale("post_kinds", _kind_labels),
        "categories": choices_in_locale("post_categories", CATEGORIES.items),
        "prefectures": prefecture_choices(),
        "wards": ward_choices(),
        "deadline_choices": choices_in_locale(
            "deadline_within", lambda: ((days, _("%(n)d日以内", n=days)) for days in queries.DEADLINE_WITHIN)
        ),
    }


_CARD_LABELS: dict[str, dict[str, dict[str, str]]] = {}


@bp.app_template_global()
def post_card_labels() -> dict[str, dict[str, str]]:
    """The kinds' and categories' labels every post card shows, in the reader's language (kept per locale; a global,
    so that imported macros see it)."""
    locale = request_locale()
    labels = _CARD_LABELS.get(locale)
    if labels is None:
        labels = _CARD_LABELS[locale] = {
            "kinds": dict(choices_in_locale("post_kinds", _kind_labels)),
            "categories": dict(choices_in_locale("post_categories", CATEGORIES.items)),
        }
    return labels


def _kind_labels():
    return ((kind.value, kind.label) for kind in PostKind)
