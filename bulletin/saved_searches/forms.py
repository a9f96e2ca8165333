"""The forms of saved searches: saving the list's search by name, and renaming one with its delivery."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, StringField
from wtforms.validators import DataRequired, Length

from bulletin.core.forms import NoControlCharacters, strip_line
from bulletin.notifications.models import DeliveryMode


def _name_field():
    return StringField(
        _l("検索の名前"),
        filters=[strip_line],
        validators=[
            DataRequired(_l("入力してください。")),
            Length(max=100, message=_l("%(max)d文字以内で入力してください。")),
            NoControlCharacters(),
        ],
    )


class SaveSearchForm(FlaskForm):
    """「この条件を保存」 on the post list: a name; the filters come from the list's query string."""

    name = _name_field()


class SavedSearchForm(FlaskForm):
    """A saved search's name and how its new posts are told (e-mail now, in the daily digest, or only in the app)."""

    name = _name_field()
    delivery = RadioField(
        _l("新しい投稿のお知らせ"),
        choices=[SelectChoice(mode.value, mode.label) for mode in DeliveryMode],
        validators=[DataRequired(_l("選択肢から選んでください。"))],
    )
