"""Forms of the moderation queue."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, TextAreaField
from wtforms.validators import DataRequired, Length

from bulletin.core.forms import NoControlCharacters, ReasonForm, strip_text


class SeenVersionField(HiddenField):
    """The version of the text a moderator was shown, carried by the form of their decision. Anything that is not a
    version number reads as unknown (None), which the services refuse, as they refuse a version no longer current."""

    def process_formdata(self, valuelist):
        value = valuelist[0] if valuelist else ""
        self.data = int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None


class DecisionForm(FlaskForm):
    """/moderation/posts/<id>/approve, /moderation/revisions/<id>/approve: the version approved."""

    version = SeenVersionField()


class ReturnForm(ReasonForm):
    """/moderation/posts/<id>/reject, /moderation/revisions/<id>/reject: the version returned, and why."""

    version = SeenVersionField()


class ApproveUserForm(FlaskForm):
    """/moderation/users/<id>/approve, with the fingerprint of the registration the moderator was shown."""

    confirm_domain = BooleanField(_l("このメールドメインを団体のドメインとして確認する"))
    fingerprint = HiddenField()


class RejectUserForm(FlaskForm):
    """/moderation/users/<id>/reject, with the fingerprint of the registration the moderator was shown."""

    fingerprint = HiddenField()

    reason = TextAreaField(
        _l("却下の理由（申請者に伝えられます）"),
        filters=[strip_text],
        validators=[
            DataRequired(_l("却下の理由を入力してください。")),
            Length(max=2000, message=_l("%(max)d文字以内で入力してください。")),
            NoControlCharacters(allow_newlines=True),
        ],
    )
