"""Forms of the moderation queue and of the account and organization pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from bulletin.core.audit import DecisionAction
from bulletin.core.forms import JapaneseDateField, NoControlCharacters, ReasonForm, strip_line, strip_text
from bulletin.core.security_events import SecurityEventKind


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


class LogFilter(FlaskForm):
    """The filters of a log, sent in the query string: a period of days in Japan, and what each log adds."""

    class Meta:
        csrf = False  # a search changes nothing

    date_from = JapaneseDateField(_l("期間の始め"), validators=[Optional()], format="%Y-%m-%d")
    date_until = JapaneseDateField(_l("期間の終わり"), validators=[Optional()], format="%Y-%m-%d")


class SecurityLogFilter(LogFilter):
    """/moderation/security: the filters of the security log."""

    kind = SelectField(
        _l("種類"),
        choices=[SelectChoice("", _l("すべて"))] + [SelectChoice(kind.value, kind.label) for kind in SecurityEventKind],
        validators=[Optional()],
    )
    q = StringField(
        _l("メールアドレスまたはIPアドレス"),
        filters=[strip_line],
        validators=[
            Optional(),
            Length(max=254, message=_l("%(max)d文字以内で入力してください。")),
            NoControlCharacters(),
        ],
    )


class ModerationLogFilter(LogFilter):
    """/moderation/log and /moderation/log.csv: the filters of the moderation log; the moderator's choices are filled
    by the view."""

    action = SelectField(
        _l("操作"),
        choices=[SelectChoice("", _l("すべて"))]
        + [SelectChoice(action.value, action.label) for action in DecisionAction],
        validators=[Optional()],
    )
    moderator = SelectField(_l("モデレーター"), validators=[Optional()])
    organization = StringField(
        _l("団体（コードまたは名前）"),
        filters=[strip_line],
        validators=[
            Optional(),
            Length(max=100, message=_l("%(max)d文字以内で入力してください。")),
            NoControlCharacters(),
        ],
    )


class ApproveEmailChangeForm(FlaskForm):
    """/moderation/email-changes/<id>/approve"""

    confirm_domain = BooleanField(_l("新しいメールドメインを団体のドメインとして確認する"))


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
