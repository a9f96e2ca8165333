"""Registration, confirmation, login, password reset, profile and one's e-mail address, the organization's staff page
and its April review."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from bulletin.accounts import email_change, services, sessions, staff_review, tokens
from bulletin.accounts.forms import (
    ChangeEmailForm,
    ChangePasswordForm,
    ForgotPasswordForm,
    InviteForm,
    LoginForm,
    ProfileForm,
    RegistrationForm,
    ResetPasswordForm,
    UnlockRequestForm,
)
from bulletin.accounts.models import User, UserState
from bulletin.accounts.two_factor_views import await_code
from bulletin.core.errors import render_error
from bulletin.core.forms import ConfirmActionForm
from bulletin.core.text import format_fiscal_year, today_in_japan
from bulletin.core.transaction import carry_out, refusal_shown_on
from bulletin.core.urls import safe_next_path
from bulletin.extensions import db, limiter, login_manager
from bulletin.organizations.services import get_by_code, search_organizations

bp = Blueprint("accounts", __name__)


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """The cookie holds the random id of a session row; an ended session signs nobody in."""
    return sessions.load_session_user(session_id)


# What the staff of a suspended organization may still reach: the page that says why, and the ways out.
OPEN_TO_SUSPENDED_ORGANIZATIONS = frozenset(
    {"accounts.organization_suspended", "accounts.logout", "static", "main.set_locale", "main.healthz", "main.readyz"}
)


@bp.before_app_request
def keep_suspended_organizations_out():
    """A signed-in officer of a suspended organization reads nothing but why: every page leads there, and anything
    else (a form sent, a POST) is refused with 403, changing nothing."""
    if request.endpoint in OPEN_TO_SUSPENDED_ORGANIZATIONS or not current_user.is_authenticated:
        return None
    if not current_user.organization_is_suspended:
        return None
    if request.method in ("GET", "HEAD"):
        return redirect(url_for("accounts.organization_suspended"))
    return render_error(403, _("団体の利用が停止されているため、この操作はできません。"))


@bp.get("/organization/suspended")
@login_required
def organization_suspended():
    """What the staff of a suspended organization see when signed in: why, since when, and whom to ask."""
    if not current_user.organization_is_suspended:
        return redirect(url_for("main.index"))
    return render_template(
        "accounts/organization_suspended.html",
        organization=current_user.organization,
        contact=current_app.config["CONTACT_EMAIL"],
    )


LOGIN_MESSAGES = {
    "bad_credentials": _l("メールアドレスまたはパスワードが正しくありません。"),
    "unconfirmed": _l("メールアドレスの確認が済んでいません。届いたメールのリンクを開いてください。"),
    "pending": _l("事務局の承認をお待ちください。承認されるとメールでお知らせします。"),
    "rejected": _l("この登録は承認されませんでした。事務局にお問い合わせください。"),
    "suspended": _l("このアカウントは停止されています。事務局にお問い合わせください。"),
    "deactivated": _l("このアカウントは無効になっています。団体の管理者にお問い合わせください。"),
    "unlock_sent": _l(
        "このアカウントには、ほかの場所からのログインの失敗が続いています。ご本人の確認のため、登録されたメールアドレスに"
        "リンクをお送りしました。リンクを開いて制限を解除してから、もう一度ログインしてください。"
    ),
}

TOKEN_MESSAGES = {
    "invalid": _l("リンクが正しくありません。メールのリンクをそのまま開いてください。"),
    "expired": _l("リンクの有効期限が切れています。"),
    "used": _l("このリンクはすでに使われています。"),
}


def _wrong_password(response) -> bool:
    """Only a wrong address or password counts against the limits: not errors, not throttled or refused states."""
    return bool(g.get("wrong_password"))


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["MAIL_FORM_LIMIT_PER_ADDRESS"], methods=["POST"], scope="register")
def register():
    """The registration form, with an organization search that works without JavaScript."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = RegistrationForm()
    invitation = services.find_invitation(request.values.get("invitation", ""))
    if request.method == "GET" and invitation is not None:
        form.invitation.data = request.args["invitation"]
        form.email.data = invitation.email
        form.organization_code.data = invitation.organization.code
    org_query = request.args.get("org_q", "").strip()[:50]
    org_results = search_organizations(org_query) if org_query else []
    if request.method == "GET" and request.args.get("code"):
        form.organization_code.data = request.args["code"][:6]
    organization = None
    if form.validate_on_submit():
        organization = get_by_code(form.organization_code.data)
        if organization is None:
            form.organization_code.errors.append(_("この団体コードの団体は見つかりません。団体名で検索してください。"))
        elif form.invitation.data and invitation is None:
            form.invitation.errors.append(_("招待リンクの有効期限が切れているか、すでに使われています。"))
        else:
            details = services.Registration(
                email=form.email.data,
                password=form.password.data,
                name=form.name.data,
                department=form.department.data,
                phone=form.phone.data or "",
                organization=organization,
                invitation=invitation,
                locale=str(get_locale() or "ja"),
            )
            with refusal_shown_on(form) as outcome:
                services.register(details)
            if outcome.ok:
                session["registered_email"] = form.email.data
                return redirect(url_for("accounts.registered"))
    elif form.organization_code.data and not form.organization_code.errors:
        organization = get_by_code(form.organization_code.data)
    return render_template(
        "accounts/register.html",
        form=form,
        org_query=org_query,
        org_results=org_results,
        organization=organization,
        invitation=invitation,
    )


@bp.get("/register/sent")
def registered():
    """ "Check your e-mail" — the same page whether or not the address was already registered."""
    return render_template("accounts/registered.html", email=session.get("registered_email", ""))


@bp.get("/confirm/<token>")
def confirm(token: str):
    """Show the confirmation button; the GET changes nothing (mail scanners open links)."""
    form = ConfirmActionForm()
    return render_template("accounts/confirm.html", form=form, token=token)


@bp.post("/confirm/<token>")
def confirm_post(token: str):
    """Confirm the address behind the link."""
    form = ConfirmActionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        user = services.confirm_email(token)
    except tokens.TokenError as error:
        return render_template(
            "accounts/confirm.html", form=form, token=token, error=str(TOKEN_MESSAGES[error.reason])
        ), 400
    return render_template("accounts/confirmed.html", user=user)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"],
    methods=["POST"],
    deduct_when=_wrong_password,
    scope="login-address",
)
def login():
    """Log in with address and password, throttled per account and address (bulletin/accounts/throttle.py); a user
    with two-factor sign-in goes on to the code step, and is signed in only there."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next_path(request.args.get("next")) or ""
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.email.data, form.password.data, request.remote_addr or "")
        except services.LoginRefused as refused:
            g.wrong_password = refused.reason == "bad_credentials"
            if refused.reason == "throttled":
                form.form_errors.append(
                    _(
                        "ログインの失敗が続いたため、この端末からのこのアカウントへのログインは"
                        " %(seconds)d 秒後まで受け付けません。",
                        seconds=refused.wait_seconds,
                    )
                )
                return render_template("accounts/login.html", form=form, offer_unlock=True), 429
            form.form_errors.append(str(LOGIN_MESSAGES[refused.reason]))
            return render_template("accounts/login.html", form=form, offer_unlock=refused.reason == "bad_credentials")
        if user.has_two_factor:
            await_code(user, safe_next_path(form.next.data) or "")
            return redirect(url_for("two_factor.login_code"))
        sessions.start_session(user)
        flash(_("ログインしました。"), "success")
        return redirect(safe_next_path(form.next.data) or url_for("main.index"))
    return render_template("accounts/login.html", form=form)


@bp.post("/login/unlock")
@limiter.limit(lambda: current_app.config["MAIL_FORM_LIMIT_PER_ADDRESS"], scope="unlock-request")
def request_unlock():
    """Ask for an unlock link: it goes to the account's own address, if there is such an account."""
    form = UnlockRequestForm()
    if not form.validate_on_submit():
        flash(_("メールアドレスを入力してください。"), "error")
        return redirect(url_for("accounts.login"))
    services.request_unlock(form.email.data)
    flash(_("このアドレスのアカウントがあれば、制限を解除するリンクをお送りしました。"), "info")
    return redirect(url_for("accounts.login"))


@bp.get("/login/unlock/<token>")
def unlock(token: str):
    """Show the unlock button; the GET changes nothing (mail scanners open links)."""
    return render_template("accounts/unlock.html", form=ConfirmActionForm(), token=token)


@bp.post("/login/unlock/<token>")
def unlock_post(token: str):
    """Open the account to sign-ins again, from every address."""
    form = ConfirmActionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.unlock(token)
    except tokens.TokenError as error:
        return render_template(
            "accounts/unlock.html", form=form, token=token, error=str(TOKEN_MESSAGES[error.reason])
        ), 400
    flash(_("ログインの制限を解除しました。いつものパスワードでログインしてください。"), "success")
    return redirect(url_for("accounts.login"))


@bp.post("/logout")
def logout():
    """Log out (POST only, with CSRF): the session ends on the server, so a copy of its cookie opens nothing."""
    sessions.end_current_session()
    flash(_("ログアウトしました。"), "success")
    return redirect(url_for("main.index"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["MAIL_FORM_LIMIT_PER_ADDRESS"], methods=["POST"], scope="password-forgot")
def forgot_password():
    """Ask for a reset link; the answer never reveals whether the address is registered."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        return render_template("accounts/forgot_sent.html", email=form.email.data)
    return render_template("accounts/forgot.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """Set a new password from a reset link."""
    try:
        user = services.user_for_reset_token(token)
    except tokens.TokenError as error:
        return render_template("accounts/reset_invalid.html", message=str(TOKEN_MESSAGES[error.reason])), 400
    form = ResetPasswordForm()
    form.account_email = user.email
    if form.validate_on_submit():
        services.set_password(user, form.password.data)
        flash(_("パスワードを変更しました。新しいパスワードでログインしてください。"), "success")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/reset.html", form=form, token=token)


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    """A user edits their name, department and phone number."""
    form = ProfileForm(obj=current_user)
    if form.validate_on_submit():
        services.update_profile(current_user, form.name.data, form.department.data, form.phone.data or "")
        flash(_("プロフィールを保存しました。"), "success")
        return redirect(url_for("accounts.profile"))
    return render_template("accounts/profile.html", form=form, password_form=ChangePasswordForm(formdata=None))


@bp.post("/profile/password")
@login_required
def change_password():
    """A user changes their password; other sessions end, this one continues."""
    form = ChangePasswordForm()
    form.account_email = current_user.email
    if form.validate_on_submit():
        with refusal_shown_on(form) as outcome:
            services.change_password(current_user, form.current_password.data, form.password.data)
        if outcome.ok:
            flash(_("パスワードを変更しました。"), "success")
            return redirect(url_for("accounts.profile"))
    return render_template("accounts/profile.html", form=ProfileForm(obj=current_user), password_form=form), 400


@bp.route("/profile/email", methods=["GET", "POST"])
@login_required
@limiter.limit(lambda: current_app.config["MAIL_FORM_LIMIT_PER_ADDRESS"], methods=["POST"], scope="email-change")
def change_email():
    """Ask to move one's account to a new address (with the current password): a link goes to the new address, a
    notice to the current one; nothing changes until the link is opened."""
    form = ChangeEmailForm()
    if form.validate_on_submit():
        with refusal_shown_on(form) as outcome:
            requested = email_change.request_email_change(current_user, form.new_email.data, form.current_password.data)
        if outcome.ok:
            return render_template("accounts/email_change_sent.html", requested=requested)
    return render_template(
        "accounts/change_email.html",
        form=form,
        pending=email_change.pending_change_of(current_user),
        domains=sorted(current_user.organization.confirmed_domains()) if current_user.organization else [],
    ), (400 if request.method == "POST" else 200)


@bp.get("/profile/email/confirm/<token>")
def confirm_email_change(token: str):
    """Show what the link changes and a button; the GET changes nothing (mail scanners open links)."""
    try:
        user, new_email = email_change.user_for_email_change_token(token)
    except tokens.TokenError as error:
        return render_template("accounts/confirm_email_change.html", error=str(TOKEN_MESSAGES[error.reason])), 400
    return render_template(
        "accounts/confirm_email_change.html", form=ConfirmActionForm(), token=token, account=user, new_email=new_email
    )


@bp.post("/profile/email/confirm/<token>")
def confirm_email_change_post(token: str):
    """Move the account to the address the link was sent to, or hand the change to the secretariat."""
    if not ConfirmActionForm().validate_on_submit():
        abort(400)
    signed_in = current_user._get_current_object() if current_user.is_authenticated else None
    try:
        result = email_change.confirm_email_change(token, signed_in)
    except tokens.TokenError as error:
        return render_template("accounts/confirm_email_change.html", error=str(TOKEN_MESSAGES[error.reason])), 400
    except services.AccountError as error:
        return render_template("accounts/confirm_email_change.html", error=error.message), 409
    return render_template("accounts/email_change_done.html", result=result)


@bp.route("/organization/members", methods=["GET", "POST"])
@login_required
@limiter.limit(lambda: current_app.config["MAIL_FORM_LIMIT_PER_ADDRESS"], methods=["POST"], scope="invite")
def members():
    """The organization's staff: everyone sees who is on it; the admin invites, promotes and deactivates."""
    if current_user.organization_id is None:
        abort(404)
    form = InviteForm()
    if request.method == "POST":
        if not current_user.can_invite():
            abort(403)
        if form.validate_on_submit():
            with refusal_shown_on(form) as outcome:
                services.invite_colleague(current_user, form.email.data)
            if outcome.ok:
                flash(_("%(email)s に招待メールを送りました。", email=form.email.data), "success")
                return redirect(url_for("accounts.members"))
    colleagues = services.organization_colleagues(current_user)
    may_review = staff_review.can_review_staff(current_user)
    period = staff_review.current_period()
    review = staff_review.review_of(current_user.organization_id, period.fiscal_year) if may_review else None
    return render_template(
        "accounts/members.html",
        form=form,
        colleagues=colleagues,
        action_form=ConfirmActionForm(),
        UserState=UserState,
        may_review=may_review,
        period=period,
        review=review,
        today=today_in_japan(),
    )


@bp.route("/organization/review", methods=["GET", "POST"])
@login_required
def staff_review_page():
    """The April review: every active member of the staff on one page, a choice for each, one submit for all."""
    if current_user.organization_id is None:
        abort(404)
    if not staff_review.can_review_staff(current_user):
        abort(403)
    today = today_in_japan()
    period = staff_review.current_period(today)
    form = ConfirmActionForm()
    staff = staff_review.active_staff(current_user.organization_id)
    selected = {person.id: staff_review.default_choice(person).value for person in staff}
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        selected = {person.id: request.form.get(f"choice-{person.id}", "")[:40] for person in staff}
        known = {choice.value: choice for choice in staff_review.StaffChoice}
        chosen = {person_id: known[value] for person_id, value in selected.items() if value in known}
        actor = current_user._get_current_object()
        with refusal_shown_on(form) as outcome:
            result = staff_review.confirm_staff_list(actor, chosen, today)
        if outcome.ok:
            flash(_review_summary(result, period.fiscal_year), "success")
            if result.actor_left:
                return redirect(url_for("main.index"))
            return redirect(url_for("accounts.staff_review_page"))
    return render_template(
        "accounts/staff_review.html",
        form=form,
        period=period,
        today=today,
        staff=staff,
        selected=selected,
        choices={person.id: staff_review.choices_for(current_user, person, period, today) for person in staff},
        review=staff_review.review_of(current_user.organization_id, period.fiscal_year),
        takes_admin_role=not current_user.is_org_admin,
    ), (400 if request.method == "POST" else 200)


def _review_summary(result: staff_review.ReviewResult, fiscal_year: int) -> str:
    parts = [_("残す %(n)d名", n=len(result.kept))]
    if result.made_admin:
        parts.append(_("管理者に %(n)d名", n=len(result.made_admin)))
    if result.leaving:
        parts.append(_("3月31日まで %(n)d名", n=len(result.leaving)))
    if result.deactivated:
        parts.append(_("無効 %(n)d名", n=len(result.deactivated)))
    message = _(
        "%(year)s の職員の確認を受け付けました（%(parts)s）。",
        year=format_fiscal_year(fiscal_year, str(get_locale() or "ja")),
        parts=_("・").join(parts),
    )
    if result.took_admin_role:
        message += " " + _("あなたが団体の管理者になりました。")
    if result.actor_left:
        message += " " + _("あなたのアカウントは無効になり、ログアウトしました。")
    return message


def _colleague_or_404(user_id: int) -> User:
    colleague = db.session.get(User, user_id)
    if colleague is None or colleague.organization_id != current_user.organization_id:
        abort(404)
    return colleague


@bp.post("/organization/members/<int:user_id>/admin")
@login_required
def make_admin(user_id: int):
    """Hand the admin role on to a colleague (the current admin becomes staff unless keep is set)."""
    colleague = _colleague_or_404(user_id)
    if not ConfirmActionForm().validate_on_submit():
        abort(400)
    return carry_out(
        lambda: services.hand_over_admin(current_user, colleague, keep_own=request.form.get("keep") == "1"),
        _("%(name)s さんを管理者にしました。", name=colleague.name),
        url_for("accounts.members"),
    )


@bp.post("/organization/members/<int:user_id>/deactivate")
@login_required
def deactivate(user_id: int):
    """Deactivate a colleague who left; their posts and threads stay with the organization."""
    colleague = _colleague_or_404(user_id)
    if not ConfirmActionForm().validate_on_submit():
        abort(400)
    return carry_out(
        lambda: services.deactivate_colleague(current_user, colleague),
        _("%(name)s さんのアカウントを無効にしました。", name=colleague.name),
        url_for("accounts.members"),
    )


@bp.get("/invitations/<token>")
def accept_invitation(token: str):
    """An invitation link leads to the registration form, prefilled."""
    if services.find_invitation(token) is None:
        return render_template(
            "accounts/reset_invalid.html", message=_("招待リンクの有効期限が切れているか、すでに使われています。")
        ), 400
    return redirect(url_for("accounts.register", invitation=token))


@bp.get("/settings/sessions")
@login_required
def sessions_page():
    """The user's signed-in sessions (this one marked), with buttons to end the others, and recent sign-ins."""
    return render_template(
        "accounts/sessions.html",
        open_sessions=sessions.sessions_of(current_user),
        current=current_user.current_session,
        sign_ins=services.recent_sign_ins(current_user),
        form=ConfirmActionForm(),
        describe_browser=sessions.describe_browser,
    )


@bp.post("/settings/sessions/<int:session_id>/end")
@login_required
def end_session(session_id: int):
    """End one of the user's other sessions (a browser left signed in elsewhere)."""
    if not ConfirmActionForm().validate_on_submit():
        abort(400)
    current = current_user.current_session
    if current is not None and current.id == session_id:
        flash(_("この画面のセッションを終えるには、ログアウトしてください。"), "error")
    elif sessions.end_session_of(current_user, session_id):
        flash(_("セッションを終了しました。"), "success")
    else:
        flash(_("このセッションはすでに終了しています。"), "info")
    return redirect(url_for("accounts.sessions_page"))


@bp.post("/settings/sessions/end-others")
@login_required
def end_other_sessions():
    """End every session of the user but this one."""
    if not ConfirmActionForm().validate_on_submit():
        abort(400)
    ended = sessions.end_sessions(current_user, keep=current_user.current_session, why="settings")
    flash(_("ほかのセッションを %(count)d 件終了しました。", count=ended), "success")
    return redirect(url_for("accounts.sessions_page"))
