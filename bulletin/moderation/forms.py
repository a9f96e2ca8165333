"""Forms of the moderation queue."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, TextAreaField
from wtforms.validators import DataRequired, Length

from bulletin.core.forms import NoControlCharacters, strip_text


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


class ApproveEmailChangeForm(FlaskForm):
    """/moderation/email-changes/<id>/approve"""

    confirm_domain = BooleanField(_l("新しいメールドメインを団体のドメインとして確認する"))
