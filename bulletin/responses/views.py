"""Responding, conversations, accepting or declining, partnerships, the dashboard, and the public cases."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms import SelectChoice

from bulletin.core import uploads
from bulletin.core.confirm import Confirmation, confirm_page, excerpt, is_confirmed
from bulletin.core.forms import ConfirmActionForm, ReasonForm
from bulletin.core.transaction import carry_out, refusal_shown_on, refused_go_to, write_separately
from bulletin.extensions import db
from bulletin.organizations.data import prefecture_name
from bulletin.posts.queries import visible_post_or_404
from bulletin.responses import queries, services
from bulletin.responses.forms import MessageForm, OutcomeForm, RespondForm
from bulletin.responses.models import MessageAttachment, Response, ResponseKind

bp = Blueprint("responses", __name__)


@bp.route("/posts/<int:post_id>/respond", methods=["GET", "POST"])
@login_required
def respond(post_id: int):
    """The other side answers a post; its conversation opens."""
    post = visible_post_or_404(post_id, current_user)
    existing = services.existing_response(post, current_user.organization_id) if current_user.organization_id else None
    if existing is not None:
        flash(_("この投稿にはすでに応答しています。続きはこちらに書いてください。"), "info")
        return redirect(url_for("responses.conversation", conversation_id=existing.conversation.id))
    if not services.can_respond(current_user, post):
        abort(403)
    form = RespondForm()
    if form.validate_on_submit():
        with refusal_shown_on(form) as outcome:
            response = services.respond(current_user, post, ResponseKind(form.kind.data), form.message.data)
        if outcome.ok:
            flash(_("応答を送りました。やりとりはこのページで続けられます。"), "success")
            return redirect(url_for("responses.conversation", conversation_id=response.conversation.id))
    status = 400 if request.method == "POST" else 200
    return render_template("responses/respond.html", post=post, form=form), status


@bp.route("/conversations/<int:conversation_id>", methods=["GET", "POST"])
@login_required
def conversation(conversation_id: int):
    """The conversation between the two organizations: its newest 50 messages in order (older ones a page back each),
    unread ones marked, a reply form.

    Reading moves the user's read marker up to the newest message shown: a write on GET, made only when there is
    something new to mark.
    """
    conversation = queries.visible_conversation_or_404(conversation_id, current_user)
    form = MessageForm()
    if form.validate_on_submit():
        with refusal_shown_on(form) as outcome:
            services.post_message(
                current_user, conversation, form.message.data, request.files.getlist(form.attachments.name)
            )
        if outcome.ok:
            return redirect(url_for("responses.conversation", conversation_id=conversation.id, _anchor="latest"))
    before = request.args.get("before", type=int) if request.method == "GET" else None
    shown = queries.message_page(conversation, before)
    messages = shown.messages
    last_read = queries.last_read_id(current_user, conversation)
    first_unread_id = next((m.id for m in messages if m.id > last_read and m.author_id != current_user.id), None)
    page = render_template(
        "responses/conversation.html",
        conversation=conversation,
        messages=messages,
        older_before=shown.older_before,
        is_latest=before is None,
        first_unread_id=first_unread_id,
        contacts=queries.conversation_contacts(conversation),
        labels=queries.response_labels(),
        form=form,
    )
    # Only a plain read moves the marker (a refused reply changes nothing), and only after rendering: the marker's
    # own transaction ends the one the page was read in. It never passes the newest message shown.
    if request.method == "GET" and messages and messages[-1].id > last_read and not current_user.is_moderator:
        user_id, newest_id = current_user.id, messages[-1].id
        write_separately(lambda: services.mark_read(user_id, conversation_id, newest_id))
    return page, 400 if request.method == "POST" else 200


@bp.get("/conversations/<int:conversation_id>/messages/<int:message_id>/files/<int:attachment_id>")
def message_file(conversation_id: int, message_id: int, attachment_id: int):
    """A file sent with a message: for the two organizations and moderators only (404 for anyone else, and for
    everyone but moderators once the message is hidden); always a download under its own name."""
    conversation = queries.visible_conversation_or_404(conversation_id, current_user)
    item = db.session.get(MessageAttachment, attachment_id)
    if item is None or item.message_id != message_id or item.message.conversation_id != conversation.id:
        abort(404)
    if item.message.hidden_at is not None and not current_user.is_moderator:
        abort(404)
    return uploads.serve_stored_file(item, public=False, as_attachment=True)


def _response_or_404(response_id: int) -> Response:
    response = db.session.get(Response, response_id)
    if response is None or not response.conversation.can_view(current_user):
        abort(404)
    return response


def _decision_confirmation(response: Response, decision: str):
    """The confirm page of accepting or declining a response: its organization, its first message, what follows."""
    conversation = response.conversation
    refused_go_to(url_for("responses.conversation", conversation_id=conversation.id))
    services.check_can_decide(current_user, response)
    first = queries.first_message_of(conversation, response.organization_id)
    return confirm_page(
        Confirmation(
            kind=f"{decision}_response",
            action=url_for(f"responses.{decision}", response_id=response.id),
            back=url_for("responses.conversation", conversation_id=conversation.id),
            facts=[
                (_("投稿"), response.post.title),
                (_("応答した団体"), response.organization.display_name),
                (_("応答の種類"), str(response.kind.label)),
            ],
            excerpt=excerpt(first.body if first else ""),
        ),
        ConfirmActionForm(),
    )


@bp.route("/responses/<int:response_id>/accept", methods=["GET", "POST"])
@login_required
def accept(response_id: int):
    """The post's organization accepts a response: a partnership is recorded. Asks for confirmation first."""
    response = _response_or_404(response_id)
    if not is_confirmed():
        return _decision_confirmation(response, "accept")
    if not ConfirmActionForm().validate_on_submit():
        abort(400)
    refused_go_to(url_for("responses.conversation", conversation_id=response.conversation.id))
    partnership = services.accept_response(current_user, response)
    flash(_("応答を受け入れ、連携を記録しました。"), "success")
    return redirect(url_for("responses.partnership", partnership_id=partnership.id))


@bp.route("/responses/<int:response_id>/decline", methods=["GET", "POST"])
@login_required
def decline(response_id: int):
    """The post's organization declines a response; the conversation stays. Asks for confirmation first."""
    response = _response_or_404(response_id)
    if not is_confirmed():
        return _decision_confirmation(response, "decline")
    if not ConfirmActionForm().validate_on_submit():
        abort(400)
    return carry_out(
        lambda: services.decline_response(current_user, response),
        _("応答をお断りしました。"),
        url_for("responses.conversation", conversation_id=response.conversation.id),
    )


def _partnership_or_404(partnership_id: int):
    partnership = queries.get_partnership(partnership_id)
    if partnership is None or not partnership.can_view(current_user):
        abort(404)
    return partnership


@bp.route("/partnerships/<int:partnership_id>", methods=["GET", "POST"])
@login_required
def partnership(partnership_id: int):
    """The partnership: both organizations, the post, the agreed date, the outcome and the consents."""
    partnership = _partnership_or_404(partnership_id)
    form = OutcomeForm(obj=partnership if request.method == "GET" else None)
    form.remove_photos.choices = [SelectChoice(photo.id, photo.original_name) for photo in partnership.photos]
    if request.method == "POST":
        if not partnership.can_edit_outcome(current_user):
            abort(403)
        if form.validate_on_submit():
            values = services.OutcomeInput(
                form.title.data,
                form.held_from.data,
                form.held_until.data,
                form.venue.data or "",
                form.summary.data or "",
            )
            with refusal_shown_on(form) as outcome:
                services.update_outcome(
                    current_user, partnership, values, request.files.getlist("photos"), form.remove_photos.data or []
                )
            if outcome.ok:
                flash(_("連携の結果を保存しました。"), "success")
                return redirect(url_for("responses.partnership", partnership_id=partnership.id))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "responses/partnership.html",
        partnership=partnership,
        form=form,
        action_form=ConfirmActionForm(),
        reason_form=ReasonForm(formdata=None),
    ), status


@bp.post("/partnerships/<int:partnership_id>/consent")
@login_required
def consent(partnership_id: int):
    """The user's organization agrees to publish the partnership as a case."""
    partnership = _partnership_or_404(partnership_id)
    if not ConfirmActionForm().validate_on_submit():
        abort(400)
    return carry_out(
        lambda: services.consent_to_publication(current_user, partnership),
        _("事例としての公開に同意しました。"),
        url_for("responses.partnership", partnership_id=partnership.id),
    )


@bp.route("/partnerships/<int:partnership_id>/<any(publish, unpublish):decision>", methods=["GET", "POST"])
@login_required
def publish(partnership_id: int, decision: str):
    """A moderator publishes a consented partnership as a case (after confirming), or takes it down with a reason.
    Only publishing has a confirm page (GET); taking down is a POST of its reason."""
    if not current_user.can_moderate():
        abort(404)
    if decision == "unpublish" and request.method == "GET":
        abort(405)
    partnership = _partnership_or_404(partnership_id)
    back = url_for("responses.partnership", partnership_id=partnership.id)
    if decision == "publish" and not is_confirmed():
        refused_go_to(back)
        services.check_publishable(current_user, partnership)
        return confirm_page(
            Confirmation(
                kind="publish_case",
                action=url_for("responses.publish", partnership_id=partnership.id, decision="publish"),
                back=back,
                facts=[
                    (_("連携の名称"), partnership.title),
                    (
                        _("団体"),
                        f"{partnership.post_organization.display_name} ⇄ "
                        f"{partnership.partner_organization.display_name}",
                    ),
                ],
                excerpt=excerpt(partnership.summary),
            ),
            ConfirmActionForm(),
        )
    form = ConfirmActionForm() if decision == "publish" else ReasonForm()
    if not form.validate_on_submit():
        flash(_("理由を入力してください。"), "error")
        return redirect(back)
    if decision == "publish":
        return carry_out(
            lambda: services.publish_case(current_user, partnership), _("連携事例として公開しました。"), back
        )
    return carry_out(
        lambda: services.unpublish_case(current_user, partnership, form.reason.data),
        _("連携事例の公開をやめました。"),
        back,
    )


@bp.get("/partnerships/<int:partnership_id>/photos/<int:photo_id>")
def photo(partnership_id: int, photo_id: int):
    """A photo of a partnership: public once it is a case, otherwise for its two organizations and moderators."""
    partnership = queries.get_partnership(partnership_id)
    if partnership is None or not (partnership.is_case() or partnership.can_view(current_user)):
        abort(404)
    item = next((p for p in partnership.photos if p.id == photo_id), None)
    if item is None:
        abort(404)
    return uploads.serve_stored_file(item, public=partnership.is_case(), as_attachment=False)


@bp.get("/dashboard")
@login_required
def dashboard():
    """The organization's desk: open conversations with unread counts, responses awaiting an answer, partnerships."""
    if current_user.organization_id is None:
        abort(404)
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), 10_000)
    return render_template(
        "responses/dashboard.html",
        conversations=queries.organization_conversations(current_user, page),
        awaiting=queries.responses_awaiting_answer(current_user),
        awaiting_shown=queries.AWAITING_SHOWN,
        partnerships=queries.organization_partnerships(current_user),
    )


@bp.get("/cases")
def cases():
    """連携事例: published partnerships, readable without logging in."""
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), 10_000)
    prefecture = request.args.get("prefecture", "")
    prefecture = prefecture if prefecture_name(prefecture) else ""
    return render_template(
        "responses/cases.html",
        page=queries.published_cases(page, prefecture),
        prefecture=prefecture,
        prefecture_label=prefecture_name(prefecture),
    )


@bp.get("/cases/<int:partnership_id>")
def case(partnership_id: int):
    """One public case."""
    partnership = queries.get_partnership(partnership_id)
    if partnership is None or not partnership.is_case():
        abort(404)
    return render_template("responses/case.html", partnership=partnership)
