"""The moderators' forms for exchange relations and broad-area agreements."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectChoice, SelectField, StringField, TextAreaField, ValidationError
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from bulletin.core.forms import JapaneseDateField, NoControlCharacters, strip_line
from bulletin.organizations.agreements import ASSOCIATION_KINDS
from bulletin.organizations.models import ExchangeKind


def _code(label, required: str):
    return StringField(
        label,
        filters=[strip_line],
        validators=[
            DataRequired(required),
            Length(max=20, message=_l("%(max)d文字以内で入力してください。")),
            NoControlCharacters(),
        ],
    )


def _day(label, required: str):
    # InputRequired, not DataRequired: a date typed in another form keeps its own message.
    return JapaneseDateField(label, validators=[InputRequired(required)], format="%Y-%m-%d")


class ExchangeRelationForm(FlaskForm):
    """/exchange-relations: a ward's standing relationship with a municipality."""

    ward = SelectField(_l("特別区"), choices=[], validate_choice=False)
    municipality_code = _code(_l("交流先の市町村コード"), _l("市町村コードを入力してください。"))
    kind = SelectField(
        _l("交流の種類"),
        choices=[SelectChoice(kind.value, kind.label) for kind in ExchangeKind],
        validate_choice=False,
    )
    started_on = _day(_l("交流の開始日"), _l("開始日を入力してください。"))

    def validate_kind(self, field):
        if field.data not in {kind.value for kind in ExchangeKind}:
            raise ValidationError(_l("交流の種類を選んでください。"))

    def validate_ward(self, field):
        if field.data not in {choice.value for choice in field.choices}:
            raise ValidationError(_l("特別区を選んでください。"))


class AgreementForm(FlaskForm):
    """/agreements: a new broad-area agreement with a prefecture's association."""

    prefecture = SelectField(_l("都道府県"), choices=[], validate_choice=False)
    kind = SelectField(
        _l("相手の団体"),
        choices=[SelectChoice(key, label) for key, label in ASSOCIATION_KINDS.items()],
        validate_choice=False,
    )
    name = StringField(
        _l("団体名"),
        filters=[strip_line],
        validators=[
            Optional(),
            Length(max=100, message=_l("%(max)d文字以内で入力してください。")),
            NoControlCharacters(),
        ],
    )
    concluded_on = _day(_l("締結日"), _l("締結日を入力してください。"))


class MembersForm(FlaskForm):
    """/agreements/<id>/members: the whole member list, a code per line."""

    codes = TextAreaField(
        _l("構成市町村（1行に1つ）"),
        validators=[
            Length(max=100_000, message=_l("%(max)d文字以内で入力してください。")),
            NoControlCharacters(allow_newlines=True),
        ],
    )


class MembersImportForm(FlaskForm):
    """/agreements/<id>/import: the member list as a CSV file."""

    file = FileField(_l("CSVファイル"), validators=[FileRequired(_l("CSVファイルを選んでください。"))])
