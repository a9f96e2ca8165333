"""Forms of the moderation queue and of the account and organization pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from bulletin.core.forms import NoControlCharacters, strip_line, strip_text


class ApproveUserForm(FlaskForm):
    """/moderation/users/<id>/approve"""

    confirm_domain = BooleanField(_l("このメールドメインを団体のドメインとして確認する"))


class RejectUserForm(FlaskForm):
    """/moderation/users/<id>/reject"""

    reason = TextAreaField(
        _l("却下の理由（申請者に伝えられます）"),
        filters=[strip_text],
        validators=[
            DataRequired(_l("却下の理由を入力してください。")),
            Length(max=2000, message=_l("%(max)d文字以内で入力してください。")),
            NoControlCharacters(allow_newlines=True),
        ],
    )


def _reason(label, required_message):
    return TextAreaField(
        label,
        filters=[strip_text],
        validators=[
            DataRequired(required_message),
            Length(max=2000, message=_l("%(max)d文字以内で入力してください。")),
            NoControlCharacters(allow_newlines=True),
        ],
    )


class SuspendUserForm(FlaskForm):
    """/moderation/users/<id>/suspend"""

    reason = _reason(_l("停止の理由（本人にメールで伝えられます）"), _l("停止の理由を入力してください。"))


class SuspendOrganizationForm(FlaskForm):
    """/moderation/organizations/<code>/suspend"""

    reason = _reason(_l("停止の理由（団体の職員にメールで伝えられます）"), _l("停止の理由を入力してください。"))


class DomainForm(FlaskForm):
    """/moderation/organizations/<code>/domains: a domain confirmed at once as the organization's."""

    domain = StringField(
        _l("メールドメイン"),
        filters=[strip_line],
        validators=[
            DataRequired(_l("ドメインを入力してください。")),
            Length(max=253, message=_l("%(max)d文字以内で入力してください。")),
            NoControlCharacters(),
        ],
    )


class RevokeDomainForm(FlaskForm):
    """/moderation/organizations/<code>/domains/<id>/revoke"""

    reason = _reason(_l("取り消しの理由"), _l("取り消しの理由を入力してください。"))
