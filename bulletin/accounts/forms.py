"""Forms of the accounts domain; field names are part of the public contract."""

from __future__ import annotations

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField, TelField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

from bulletin.accounts.passwords import password_problems
from bulletin.accounts.two_factor import looks_like_recovery_code, looks_like_totp, normalise_code
from bulletin.core.forms import NoControlCharacters, strip_line
from bulletin.organizations.codes import is_valid_code


def _email_format(form, field):
    try:
        validate_email(field.data or "", check_deliverability=False)
    except EmailNotValidError as error:
        raise ValidationError(_l("メールアドレスの形式が正しくありません。")) from error


def _strong_password(form, field):
    email = getattr(form, "account_email", "") or (form.email.data if "email" in form else "") or ""
    problems = password_problems(field.data or "", email, current_app.config["PASSWORD_MIN_LENGTH"])
    if problems:
        raise ValidationError(problems[0])


def _code_with_check_digit(form, field):
    code = field.data or ""
    if not re.fullmatch(r"\d{6}", code):
        raise ValidationError(_l("団体コードは6桁の数字で入力してください（例: 182109）。"))
    if not is_valid_code(code):
        raise ValidationError(_l("団体コードの検査数字（6桁目）が正しくありません。"))


def _digits_only(value):
    if not isinstance(value, str):
        return value
    return re.sub(r"[\s\-ー−]", "", strip_line(value)).translate(str.maketrans("０１２３４５６７８９", "0123456789"))


_DASHES = str.maketrans({"ー": "-", "−": "-", "‐": "-", "‑": "-", "–": "-", "—": "-", "―": "-"})


def _normalise_phone(value):
    """Full-width digits, brackets and the hyphens a Japanese IME types become their ASCII forms."""
    if not isinstance(value, str):
        return value
    return unicodedata.normalize("NFKC", strip_line(value)).translate(_DASHES)


def _lower_email(value):
    return strip_line(value).lower() if isinstance(value, str) else value


REQUIRED = _l("入力してください。")
EMAIL_FIELD = dict(
    filters=[_lower_email],
    validators=[
        DataRequired(REQUIRED),
        Length(max=254, message=_l("%(max)d文字以内で入力してください。")),
        NoControlCharacters(),
        _email_format,
    ],
)


def _length(maximum: int) -> Length:
    return Length(max=maximum, message=_l("%(max)d文字以内で入力してください。"))


def _new_password_field(label):
    return PasswordField(
        label,
        validators=[
            DataRequired(REQUIRED),
            Length(max=256, message=_l("%(max)d文字以内で入力してください。")),
            _strong_password,
        ],
    )


def _confirm_field():
    return PasswordField(
        _l("パスワード（確認）"),
        validators=[DataRequired(REQUIRED), EqualTo("password", message=_l("パスワードが一致しません。"))],
    )


class RegistrationForm(FlaskForm):
    """/register"""

    organization_code = StringField(
        _l("団体コード"),
        filters=[_digits_only],
        validators=[DataRequired(REQUIRED), NoControlCharacters(), _code_with_check_digit],
    )
    name = StringField(
        _l("氏名"), filters=[strip_line], validators=[DataRequired(REQUIRED), _length(100), NoControlCharacters()]
    )
    department = StringField(
        _l("所属部署"), filters=[strip_line], validators=[DataRequired(REQUIRED), _length(100), NoControlCharacters()]
    )
    phone = TelField(
        _l("電話番号"), filters=[_normalise_phone], validators=[Optional(), _length(30), NoControlCharacters()]
    )
    email = EmailField(_l("メールアドレス（職場のもの）"), **EMAIL_FIELD)
    password = _new_password_field(_l("パスワード"))
    password_confirm = _confirm_field()
    invitation = HiddenField()
    agree = BooleanField(_l("利用規約に同意します"), validators=[DataRequired(_l("利用規約への同意が必要です。"))])

    def validate_phone(self, field):
        if field.data and not re.fullmatch(r"[0-9()\- +]{6,30}", field.data):
            raise ValidationError(_l("電話番号は数字とハイフンで入力してください。"))


class LoginForm(FlaskForm):
    """/login"""

    email = EmailField(_l("メールアドレス"), **EMAIL_FIELD)
    password = PasswordField(_l("パスワード"), validators=[DataRequired(REQUIRED), _length(256)])
    next = HiddenField()


class ForgotPasswordForm(FlaskForm):
    """/password/forgot"""

    email = EmailField(_l("メールアドレス"), **EMAIL_FIELD)


class UnlockRequestForm(FlaskForm):
    """/login/unlock: the address whose owner gets the unlock link."""

    email = EmailField(_l("メールアドレス"), **EMAIL_FIELD)


class ResetPasswordForm(FlaskForm):
    """/password/reset/<token>"""

    password = _new_password_field(_l("新しいパスワード"))
    password_confirm = _confirm_field()


class ProfileForm(FlaskForm):
    """/profile"""

    name = RegistrationForm.name
    department = RegistrationForm.department
    phone = RegistrationForm.phone
    validate_phone = RegistrationForm.validate_phone


class ChangePasswordForm(FlaskForm):
    """/profile/password"""

    current_password = PasswordField(_l("現在のパスワード"), validators=[DataRequired(REQUIRED), _length(256)])
    password = _new_password_field(_l("新しいパスワード"))
    password_confirm = _confirm_field()


class InviteForm(FlaskForm):
    """/organization/members: invite a colleague."""

    email = EmailField(_l("招待する職員のメールアドレス"), **EMAIL_FIELD)


def _code_format(form, field):
    code = normalise_code(field.data or "")
    if not (looks_like_totp(code) or (form.recovery_code_allowed and looks_like_recovery_code(code))):
        if form.recovery_code_allowed:
            raise ValidationError(_l("認証アプリの6桁の確認コード、またはリカバリーコードを入力してください。"))
        raise ValidationError(_l("認証アプリに表示されている6桁の数字を入力してください。"))


class TwoFactorCodeForm(FlaskForm):
    """/login/two-factor (a code from the app or a recovery code) and /settings/two-factor (a code from the app)."""

    recovery_code_allowed = True
    code = StringField(
        _l("確認コード"),
        filters=[strip_line],
        validators=[DataRequired(REQUIRED), _length(40), NoControlCharacters(), _code_format],
    )


class EnrolmentCodeForm(TwoFactorCodeForm):
    """/settings/two-factor: the first code from the app being enrolled."""

    recovery_code_allowed = False


class PasswordCheckForm(FlaskForm):
    """A change to two-factor sign-in, confirmed with the password."""

    password = PasswordField(_l("現在のパスワード"), validators=[DataRequired(REQUIRED), _length(256)])


class ChangeEmailForm(FlaskForm):
    """/profile/email: move the account to a new address, proving the current password."""

    new_email = EmailField(_l("新しいメールアドレス（職場のもの）"), **EMAIL_FIELD)
    current_password = PasswordField(_l("現在のパスワード"), validators=[DataRequired(REQUIRED), _length(256)])
