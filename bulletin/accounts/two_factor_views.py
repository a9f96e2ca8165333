"""Two-factor sign-in pages: the code step of a login (/login/two-factor) and the settings (/settings/two-factor:
enrol, enrol a new phone, renew the recovery codes, turn it off); and the rule that sends a moderator without it to
enrolment before any other page."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from bulletin.accounts import sessions, tokens, two_factor
from bulletin.accounts.forms import EnrolmentCodeForm, PasswordCheckForm, TwoFactorCodeForm
from bulletin.accounts.models import User, UserState
from bulletin.core.db import utcnow
from bulletin.core.forms import ConfirmActionForm
from bulletin.core.transaction import carry_out, refusal_shown_on
from bulletin.core.urls import safe_next_path
from bulletin.extensions import db, limiter

bp = Blueprint("two_factor", __name__)

# The half-done login in the signed cookie: who gave the right password, until when the code may come, how many wrong
# codes so far, where to go afterwards, and a fingerprint of the password hash (a password change voids it).
PENDING = "two_factor_login"

# What a moderator who must enrol may still open: the enrolment itself, logging out, the language, the policies.
ALWAYS_OPEN = frozenset(
    {
        "static",
        "accounts.logout",
        "main.set_locale",
        "main.terms",
        "main.accessibility",
        "main.privacy",
        "main.contact",
        "main.guide",
        "main.healthz",
        "main.readyz",
    }
)


@bp.before_app_request
def send_moderators_to_enrolment():
    """A moderator without two-factor sign-in, while MODERATOR_TWO_FACTOR is `required`, opens no other page (and
    changes nothing) until they have enrolled."""
    endpoint = request.endpoint
    if endpoint is None or endpoint in ALWAYS_OPEN or endpoint.startswith(f"{bp.name}."):
        return None
    if current_user.is_authenticated and two_factor.must_enrol(current_user):
        flash(_("モデレーターは2段階認証の設定が必要です。設定が終わるまで、ほかのページは開けません。"), "info")
        return redirect(url_for("two_factor.settings"))
    return None


# --- the code step of a login --------------------------------------------------------------------------------------


def await_code(user: User, next_path: str) -> None:
    """After the right password of a user with two-factor sign-in: remember the half-done login in the signed cookie
    for TWO_FACTOR_LOGIN_MINUTES. No session starts until the code is right."""
    until = utcnow() + timedelta(minutes=current_app.config["TWO_FACTOR_LOGIN_MINUTES"])
    session[PENDING] = {
        "user": user.id,
        "until": int(until.timestamp()),
        "failures": 0,
        "next": next_path,
        "password": tokens.fingerprint(user.password_hash),
    }


def _pending() -> dict | None:
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or not isinstance(pending.get("user"), int):
        return None
    if pending.get("until", 0) < utcnow().timestamp():
        return None
    return pending


def _pending_user(pending: dict) -> User | None:
    user = db.session.get(User, pending["user"])
    if (
        user is None
        or user.state != UserState.ACTIVE
        or not user.has_two_factor
        or not tokens.fingerprint_matches(user.password_hash, str(pending.get("password")))
    ):
        return None
    return user


def _pending_account_key() -> str:
    pending = _pending()
    return f"two-factor-account:{pending['user'] if pending else '-'}"


def _wrong_code(response) -> bool:
    """Only a wrong or reused code counts against the limits: not an empty or malformed field."""
    return bool(g.get("wrong_code"))


@bp.route("/login/two-factor", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["TWO_FACTOR_LIMIT_PER_ADDRESS"],
    methods=["POST"],
    deduct_when=_wrong_code,
    scope="two-factor-address",
)
@limiter.limit(
    lambda: current_app.config["TWO_FACTOR_LIMIT_PER_ACCOUNT"],
    methods=["POST"],
    deduct_when=_wrong_code,
    key_func=_pending_account_key,
    scope="two-factor-account",
)
def login_code():
    """The second step of a login: one field, `code`, for a code from the app or a recovery code."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    pending = _pending()
    user = _pending_user(pending) if pending else None
    if pending is None or user is None:
        session.pop(PENDING, None)
        flash(_("もう一度、メールアドレスとパスワードでログインしてください。"), "info")
        return redirect(url_for("accounts.login"))
    form = TwoFactorCodeForm()
    if form.validate_on_submit():
        try:
            kind = two_factor.check_sign_in_code(user, form.code.data)
        except two_factor.CodeRefused as refused:
            g.wrong_code = True
            pending["failures"] = int(pending.get("failures", 0)) + 1
            session[PENDING] = pending
            if pending["failures"] >= current_app.config["TWO_FACTOR_MAX_FAILURES"]:
                session.pop(PENDING, None)
                flash(_("確認コードを続けて間違えたため、ログインをやり直してください。"), "error")
                return redirect(url_for("accounts.login"))
            if refused.reason == "reused":
                form.code.errors.append(
                    _("この確認コードはすでに使われています。次のコードが表示されるまでお待ちください。")
                )
            else:
                form.code.errors.append(_("確認コードが正しくありません。"))
        else:
            sessions.start_session(user)  # a fresh cookie session: the half-done login goes with the old one
            flash(_("ログインしました。"), "success")
            if kind == "recovery":
                left = two_factor.unused_recovery_codes(user)
                flash(
                    _(
                        "リカバリーコードでログインしました。残りのリカバリーコードは %(count)d 個です。"
                        "少なくなったら、2段階認証の設定から再発行してください。",
                        count=left,
                    ),
                    "info",
                )
            return redirect(safe_next_path(pending.get("next")) or url_for("main.index"))
    return render_template("accounts/login_code.html", form=form)


# --- settings ------------------------------------------------------------------------------------------------------


def _password_form(action: str, form: PasswordCheckForm | None = None) -> PasswordCheckForm:
    """The password field of one of the page's forms, with an id of its own (the field is `password` in each)."""
    form = form or PasswordCheckForm(formdata=None)
    form.password.id = form.password.label.field_id = f"{action}-password"
    return form


def _settings_page(user: User, status: int = 200, **forms):
    pending = user.totp_pending_secret
    qr = None
    if pending:
        label = _("認証アプリに登録するためのQRコード（%(email)s）", email=user.email)
        qr = two_factor.qr_code_svg(two_factor.provisioning_uri(user, pending), label)
    return render_template(
        "accounts/two_factor.html",
        user=user,
        secret=two_factor.grouped(pending) if pending else None,
        qr=qr,
        code_form=forms.get("code_form") or EnrolmentCodeForm(formdata=None),
        start_form=_password_form("start", forms.get("start_form")),
        reenrol_form=_password_form("reenrol", forms.get("reenrol_form")),
        renew_form=_password_form("renew", forms.get("renew_form")),
        off_form=_password_form("off", forms.get("off_form")),
        cancel_form=ConfirmActionForm(formdata=None),
        unused_codes=two_factor.unused_recovery_codes(user) if user.has_two_factor else 0,
        may_turn_off=two_factor.may_turn_off(user),
        must_enrol=two_factor.must_enrol(user),
    ), status


def _recovery_codes_page(codes: list[str], title: str):
    after = url_for("moderation.queue") if current_user.can_moderate() else url_for("two_factor.settings")
    return render_template("accounts/recovery_codes.html", codes=codes, title=title, after=after)


def _settings_account_key() -> str:
    return f"two-factor-settings:{current_user.id if current_user.is_authenticated else '-'}"


def _wrong_password(response) -> bool:
    return bool(g.get("wrong_password"))


# The password typed to change the setting: as few tries as at login, for a browser left signed in.
password_limit = limiter.shared_limit(
    lambda: current_app.config["SETTINGS_PASSWORD_LIMIT"],
    scope="two-factor-password",
    key_func=_settings_account_key,
    deduct_when=_wrong_password,
)


@bp.route("/settings/two-factor", methods=["GET", "POST"])
@login_required
def settings():
    """The state of two-factor sign-in and what can be done with it; the POST confirms an enrolment with `code` and
    shows the recovery codes, once."""
    user = current_user._get_current_object()
    form = EnrolmentCodeForm()
    if request.method == "POST":
        if user.totp_pending_secret is None:
            flash(_("設定の手続きが始まっていません。もう一度「設定を始める」から操作してください。"), "error")
            return redirect(url_for("two_factor.settings"))
        if form.validate_on_submit():
            with refusal_shown_on(form) as outcome:
                codes = two_factor.confirm_enrolment(user, form.code.data)
            if outcome.ok:
                return _recovery_codes_page(codes, _("2段階認証を設定しました"))
        return _settings_page(user, 400, code_form=form)
    return _settings_page(user)


def _with_password(action: str, work, *, needs_two_factor: bool = False):
    """Run a change that needs the password; on a refusal, the settings page with the error on that form."""
    user = current_user._get_current_object()
    if needs_two_factor and not user.has_two_factor:  # a form from an older page: nothing to change
        flash(_("2段階認証は設定されていません。"), "info")
        return redirect(url_for("two_factor.settings"))
    form = _password_form(action, PasswordCheckForm())
    if form.validate_on_submit():
        with refusal_shown_on(form) as outcome:
            result = work(user, form.password.data)
        if outcome.ok:
            return result
        g.wrong_password = bool(form.password.errors)
    return _settings_page(user, 400, **{f"{action}_form": form})


@bp.post("/settings/two-factor/start")
@login_required
@password_limit
def start():
    """Begin enrolment (or the move to a new phone): a new secret, shown on the settings page until confirmed."""

    def begin(user: User, password: str):
        two_factor.start_enrolment(user, password)
        return redirect(url_for("two_factor.settings") + "#enrol")

    action = "reenrol" if current_user.has_two_factor else "start"
    return _with_password(action, begin)


@bp.post("/settings/two-factor/cancel")
@login_required
def cancel():
    """Give up an enrolment that was not confirmed."""
    return carry_out(
        lambda: two_factor.cancel_enrolment(current_user._get_current_object()),
        _("2段階認証の設定をやめました。"),
        url_for("two_factor.settings"),
        form=ConfirmActionForm(),
        incomplete=_("もう一度お試しください。"),
    )


@bp.post("/settings/two-factor/recovery-codes")
@login_required
@password_limit
def renew_codes():
    """New recovery codes, shown once; the old ones stop working."""

    def renew(user: User, password: str):
        codes = two_factor.renew_recovery_codes(user, password)
        return _recovery_codes_page(codes, _("リカバリーコードを再発行しました"))

    return _with_password("renew", renew, needs_two_factor=True)


@bp.post("/settings/two-factor/off")
@login_required
@password_limit
def turn_off():
    """Sign in with the password alone again (not for moderators while the rule requires two factors)."""

    def off(user: User, password: str):
        two_factor.turn_off(user, password)
        flash(_("2段階認証を解除しました。"), "success")
        return redirect(url_for("two_factor.settings"))

    if not two_factor.may_turn_off(current_user):  # the page offers no such form: say why on it
        flash(_("モデレーターは2段階認証を解除できません。新しい端末で設定し直してください。"), "error")
        return redirect(url_for("two_factor.settings"))
    return _with_password("off", off, needs_two_factor=True)
