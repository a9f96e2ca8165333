"""Forms of responses, conversations and partnerships; field names are part of the public contract."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import RadioField, SelectChoice, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from bulletin.core.forms import JapaneseDateField, NoControlCharacters, StoredFileIdsField, strip_line, strip_text
from bulletin.responses.models import ResponseKind
from bulletin.responses.services import MAX_MESSAGE_LENGTH


def _length(maximum: int) -> Length:
    return Length(max=maximum, message=_l("%(max)d文字以内で入力してください。"))


def _message_field(label):
    return TextAreaField(
        label,
        filters=[strip_text],
        validators=[
            DataRequired(_l("メッセージを入力してください。")),
            _length(MAX_MESSAGE_LENGTH),
            NoControlCharacters(allow_newlines=True),
        ],
    )


class RespondForm(FlaskForm):
    """/posts/<id>/respond"""

    kind = RadioField(
        _l("応答の種類"),
        choices=[SelectChoice(kind.value, kind.label) for kind in ResponseKind],
        validators=[DataRequired(_l("応答の種類を選んでください。"))],
        validate_choice=False,
    )
    message = _message_field(_l("メッセージ"))

    def validate_kind(self, field):
        if field.data not in {kind.value for kind in ResponseKind}:
            raise ValidationError(_l("応答の種類を選んでください。"))


class MessageForm(FlaskForm):
    """/conversations/<id>"""

    message = _message_field(_l("メッセージ"))
    attachments = MultipleFileField(
        _l("添付ファイル"),
        description=_l(
            "Word、Excel、PowerPoint、CSV、PDF、画像。1件10MBまで、5件まで。相手の団体と事務局だけが開けます。"
        ),
    )


class OutcomeForm(FlaskForm):
    """/partnerships/<id>: the outcome either side records."""

    title = StringField(
        _l("連携の名称"),
        filters=[strip_line],
        validators=[
            DataRequired(_l("入力してください。")),
            _length(120),
            NoControlCharacters(),
        ],
    )
    held_from = JapaneseDateField(_l("実施日（から）"), validators=[Optional()], format="%Y-%m-%d")
    held_until = JapaneseDateField(_l("実施日（まで）"), validators=[Optional()], format="%Y-%m-%d")
    venue = StringField(
        _l("会場"),
        filters=[strip_line],
        validators=[
            Optional(),
            _length(200),
            NoControlCharacters(),
        ],
    )
    summary = TextAreaField(
        _l("概要"),
        filters=[strip_text],
        validators=[
            Optional(),
            _length(4000),
            NoControlCharacters(allow_newlines=True),
        ],
    )
    photos = MultipleFileField(_l("写真"), description=_l("PNG、JPEG、WebP。1枚10MBまで、5枚まで。"))
    remove_photos = StoredFileIdsField(_l("削除する写真"), choices=[], validate_choice=False)
