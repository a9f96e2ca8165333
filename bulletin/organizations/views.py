"""Organization search for the registration form (HTML without JavaScript, JSON for the enhancement); the broad-area
agreements (広域連携協定) and exchange relations (交流自治体), which everyone may read and moderators record."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms import SelectChoice

from bulletin.core.transaction import refusal_shown_on
from bulletin.extensions import db
from bulletin.organizations import agreements, queries
from bulletin.organizations.data import prefectures
from bulletin.organizations.forms import AgreementForm, ExchangeRelationForm, MembersForm, MembersImportForm
from bulletin.organizations.models import Agreement, ExchangeKind
from bulletin.organizations.services import search_organizations, ward_choices

bp = Blueprint("organizations", __name__)


@bp.get("/organizations/search.json")
def search_json():
    """Up to 20 organizations matching `q` by code, name or reading."""
    query = request.args.get("q", "")[:50]
    results = search_organizations(query) if query.strip() else []
    return jsonify(
        [
            {
                "code": org.code,
                "name": org.name,
                "display_name": org.display_name,
                "kana": org.kana,
                "kind": org.kind.value,
            }
            for org in results
        ]
    )


def _moderators_only() -> None:
    """Recording is for moderators; others get 404, as on every moderator page."""
    if not current_user.can_moderate():
        abort(404)


def _exchange_form(formdata=...) -> ExchangeRelationForm:
    form = ExchangeRelationForm() if formdata is ... else ExchangeRelationForm(formdata=formdata)
    form.ward.choices = [SelectChoice(code, name) for code, name in ward_choices()]
    return form


def _exchange_page(form: ExchangeRelationForm, status: int = 200):
    return render_template(
        "organizations/exchange_relations.html", relations=queries.exchange_relations(), form=form
    ), status


@bp.get("/exchange-relations")
def exchange_relations():
    """交流自治体: each ward's standing relationships with municipalities; moderators see the form to add one."""
    return _exchange_page(_exchange_form(None))


@bp.post("/exchange-relations")
@login_required
def add_exchange_relation():
    """Record an exchange relation (moderators)."""
    _moderators_only()
    form = _exchange_form()
    if form.validate_on_submit():
        with refusal_shown_on(form) as outcome:
            agreements.add_exchange_relation(
                current_user,
                form.ward.data,
                form.municipality_code.data,
                form.started_on.data,
                ExchangeKind(form.kind.data),
            )
        if outcome.ok:
            flash(_("交流自治体を登録しました。"), "success")
            return redirect(url_for("organizations.exchange_relations"))
    return _exchange_page(form, status=400)


def _agreements_page(form: AgreementForm, status: int = 200):
    return render_template("organizations/agreements.html", lines=queries.agreements(), form=form), status


def _agreement_form(formdata=...) -> AgreementForm:
    form = AgreementForm() if formdata is ... else AgreementForm(formdata=formdata)
    form.prefecture.choices = [SelectChoice(code, name) for code, (name, _kana) in prefectures().items()]
    return form


@bp.get("/agreements")
def agreements_index():
    """広域連携協定: the agreements with their dates and member counts; moderators see the form to add one."""
    return _agreements_page(_agreement_form(None))


@bp.post("/agreements")
@login_required
def add_agreement():
    """Record a new agreement (moderators); its members are then set on its page."""
    _moderators_only()
    form = _agreement_form()
    if form.validate_on_submit():
        with refusal_shown_on(form) as outcome:
            added = agreements.add_agreement(
                current_user, form.prefecture.data, form.kind.data, form.name.data or "", form.concluded_on.data
            )
        if outcome.ok:
            flash(_("広域連携協定を登録しました。構成市町村を登録してください。"), "success")
            return redirect(url_for("organizations.agreement_page", agreement_id=added.id))
    return _agreements_page(form, status=400)


def _agreement_or_404(agreement_id: int) -> Agreement:
    found = queries.agreement(agreement_id)
    if found is None:
        abort(404)
    return found


def _agreement_page(
    agreement: Agreement,
    members_form: MembersForm | None = None,
    import_form: MembersImportForm | None = None,
    problems: list[agreements.Problem] | None = None,
    status: int = 200,
):
    listed = "\n".join(f"{member.code},{member.name}" for member in agreement.members)
    return render_template(
        "organizations/agreement.html",
        agreement=agreement,
        members_form=members_form or MembersForm(formdata=None, codes=listed),
        import_form=import_form or MembersImportForm(formdata=None),
        problems=problems or [],
    ), status


@bp.get("/agreements/<int:agreement_id>")
def agreement_page(agreement_id: int):
    """One agreement: its association, date and member municipalities, each linked to its posts."""
    return _agreement_page(_agreement_or_404(agreement_id))


@bp.post("/agreements/<int:agreement_id>/members")
@login_required
def agreement_members(agreement_id: int):
    """Replace the members with the list typed (moderators): all lines right, or nothing changes."""
    _moderators_only()
    agreement = _agreement_or_404(agreement_id)
    form = MembersForm()
    return _set_members(agreement, form, lambda: form.codes.data or "", "codes", members_form=form)


@bp.post("/agreements/<int:agreement_id>/import")
@login_required
def import_agreement_members(agreement_id: int):
    """Replace the members with a CSV file's list (moderators): all lines right, or nothing changes."""
    _moderators_only()
    agreement = _agreement_or_404(agreement_id)
    form = MembersImportForm()
    return _set_members(agreement, form, lambda: agreements.member_list_text(form.file.data.read()), "file",
                        import_form=form)  # fmt: skip


def _set_members(agreement: Agreement, form, text: Callable[[], str], field: str, **forms):
    if form.validate_on_submit():
        with refusal_shown_on(form) as outcome:
            added, removed = agreements.set_agreement_members(current_user, agreement, text(), field)
        if outcome.ok:
            flash(_("構成市町村を更新しました（追加 %(added)d、削除 %(removed)d）。", added=added, removed=removed),
                  "success")  # fmt: skip
            return redirect(url_for("organizations.agreement_page", agreement_id=agreement.id))
        refused = outcome.refused
        problems = refused.problems if isinstance(refused, agreements.MemberListError) else None
        db.session.refresh(agreement)
        return _agreement_page(agreement, problems=problems, status=400, **forms)
    return _agreement_page(agreement, status=400, **forms)
