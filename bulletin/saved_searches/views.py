"""/searches: a member's saved searches of the post list, to open, rename, choose their delivery and delete."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from bulletin.core.forms import ConfirmActionForm
from bulletin.core.transaction import carry_out, refusal_shown_on
from bulletin.extensions import db
from bulletin.notifications.models import DeliveryMode
from bulletin.organizations.data import prefectures
from bulletin.organizations.services import ward_choices
from bulletin.posts.categories import CATEGORIES
from bulletin.posts.models import PostKind
from bulletin.posts.queries import PostFilters
from bulletin.saved_searches import services
from bulletin.saved_searches.forms import SavedSearchForm, SaveSearchForm
from bulletin.saved_searches.models import SavedSearch

bp = Blueprint("saved_searches", __name__)


@bp.before_request
@login_required
def require_login():
    """Saved searches are a member's own."""


def _own_or_404(search_id: int) -> SavedSearch:
    saved = db.session.get(SavedSearch, search_id)
    if saved is None or not saved.can_manage(current_user):
        abort(404)
    return saved


def _edit_form(saved: SavedSearch) -> SavedSearchForm:
    form = SavedSearchForm(prefix=f"s{saved.id}", obj=None if request.method == "POST" else saved)
    if request.method != "POST":
        form.delivery.data = saved.delivery.value
    return form


def _conditions(filters: PostFilters) -> list[str]:
    """The saved filters in words, for the list of saved searches."""
    wards = dict(ward_choices())
    parts = [
        _("キーワード: %(q)s", q=filters.q) if filters.q else "",
        _("種類: %(kind)s", kind=PostKind(filters.kind).label) if filters.kind else "",
        _("分野: %(category)s", category=CATEGORIES[filters.category]) if filters.category else "",
        _("都道府県: %(name)s", name=prefectures()[filters.prefecture][0])
        if filters.prefecture in prefectures()
        else "",
        _("対象の区: %(name)s", name=wards.get(filters.ward, filters.ward)) if filters.ward else "",
        _("状態: 終了・期限切れ") if filters.status == "closed" else "",
        _("希望時期: %(start)s〜%(end)s", start=filters.desired_from, end=filters.desired_to)
        if filters.desired_from or filters.desired_to
        else "",
        _("締切まで%(n)d日以内", n=filters.deadline_within) if filters.deadline_within else "",
        _("添付資料あり") if filters.has_attachments else "",
        _("自区あての提案") if filters.for_my_ward else "",
    ]
    return [part for part in parts if part] or [_("条件なし（すべての公開中の投稿）")]


def _page(forms: dict[int, SavedSearchForm] | None = None, status: int = 200):
    searches = services.saved_searches_of(current_user)
    forms = forms or {}
    return render_template(
        "saved_searches/index.html",
        searches=[(saved, forms.get(saved.id) or _edit_form(saved), services.filters_of(saved)) for saved in searches],
        conditions=_conditions,
        delete_form=ConfirmActionForm(),
        limit=services.MAX_PER_USER,
    ), status


@bp.get("/searches")
def index():
    """The user's saved searches, each with a link to its results and its settings."""
    return _page()


@bp.post("/searches")
def create():
    """Save the list's current filters (sent with the form) under a name."""
    filters = PostFilters.from_args(request.form)
    back = url_for("posts.index", **filters.as_args())
    form = SaveSearchForm()
    return carry_out(
        lambda: services.save_search(current_user, form.name.data or "", filters),
        _("検索条件を保存しました。保存した検索は「保存した検索」のページで管理できます。"),
        back,
        form=form,
        incomplete=_("保存する検索の名前を100文字以内で入力してください。"),
    )


@bp.post("/searches/<int:search_id>")
def update(search_id: int):
    """Rename a saved search and choose its delivery; a bad name is shown on its form and changes nothing."""
    saved = _own_or_404(search_id)
    form = _edit_form(saved)
    if form.validate_on_submit():
        with refusal_shown_on(form) as outcome:
            services.update_search(current_user, saved, form.name.data, DeliveryMode(form.delivery.data))
        if outcome.ok:
            flash(_("保存した検索を更新しました。"), "success")
            return redirect(url_for("saved_searches.index"))
    return _page({saved.id: form}, 422)


@bp.post("/searches/<int:search_id>/delete")
def delete(search_id: int):
    """Delete a saved search."""
    saved = _own_or_404(search_id)
    return carry_out(
        lambda: services.delete_search(current_user, saved),
        _("保存した検索を削除しました。"),
        url_for("saved_searches.index"),
        form=ConfirmActionForm(),
        incomplete=_("削除できませんでした。もう一度お試しください。"),
    )
