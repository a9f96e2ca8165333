"""Forms and fields shared by every domain: text cleaning, the validators bad input meets first, and the small forms
of buttons and decisions."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectMultipleField, TextAreaField, ValidationError
from wtforms.validators import DataRequired, Length, Optional

from bulletin.core.text import clean_line, has_control_characters


def strip_line(value):
    """Filter: NFC and trim a one-line field."""
    return clean_line(value) if isinstance(value, str) else value


def strip_text(value):
    """Filter: trim a multi-line field."""
    return value.strip() if isinstance(value, str) else value


class NoControlCharacters:
    """Refuse control, bidi-override and zero-width characters (newlines only where allowed)."""

    def __init__(self, allow_newlines: bool = False):
        self.allow_newlines = allow_newlines

    def __call__(self, form, field):
        if isinstance(field.data, str) and has_control_characters(field.data, self.allow_newlines):
            raise ValidationError(_l("使用できない制御文字が含まれています。"))


class JapaneseDateField(DateField):
    """A date typed as YYYY-MM-DD (the browser's date picker sends that form), with a Japanese error."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError(str(_l("日付は 2026-04-01 の形で入力してください。"))) from error


class StoredFileIdsField(SelectMultipleField):
    """Ids of stored files to remove; anything that is not a number is ignored (the services only ever remove the
    files of the post or partnership at hand)."""

    def process_formdata(self, valuelist):
        self.data = [int(value) for value in valuelist if value.isdigit() and len(value) < 10]


@dataclass(frozen=True)
class ChoiceGroup:
    """A labelled group of (value, label) choices: one fieldset of checkboxes in a grouped multi-choice."""

    label: str
    choices: tuple[tuple[str, str], ...]


def group_choices(choices: Iterable[tuple[str, str]], groups: Iterable[tuple[str, Iterable[str]]]) -> list[ChoiceGroup]:
    """The (value, label) choices arranged in `groups` of (label, values), each in the order of its values; choices
    that no group names come last, under その他, so that none is ever left out of the form."""
    by_value = dict(choices)
    arranged = [
        ChoiceGroup(label, tuple((value, by_value[value]) for value in values if value in by_value))
        for label, values in groups
    ]
    named = {value for group in arranged for value, _label in group.choices}
    rest = tuple((value, label) for value, label in by_value.items() if value not in named)
    return [group for group in arranged if group.choices] + ([ChoiceGroup(_l("その他"), rest)] if rest else [])


class TokensField(SelectMultipleField):
    """Random tokens a form carries back (of the files held for it); anything that is not one is ignored, and the
    services only ever accept the tokens of the user at hand."""

    _TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")

    def process_formdata(self, valuelist):
        self.data = list(dict.fromkeys(value for value in valuelist if self._TOKEN.fullmatch(value)))[:20]


class ConfirmActionForm(FlaskForm):
    """A POST button with only its CSRF token."""


class ReasonForm(FlaskForm):
    """A decision that needs a reason: return for revision, hide, report, refuse a revision, take a case down."""

    reason = TextAreaField(
        _l("理由"),
        filters=[strip_text],
        validators=[
            DataRequired(_l("理由を入力してください。")),
            Length(max=2000, message=_l("%(max)d文字以内で入力してください。")),
            NoControlCharacters(allow_newlines=True),
        ],
    )


class NoteForm(FlaskForm):
    """An optional note, e.g. when a report is dismissed."""

    note = TextAreaField(
        _l("メモ"),
        filters=[strip_text],
        validators=[
            Optional(),
            Length(max=2000, message=_l("%(max)d文字以内で入力してください。")),
            NoControlCharacters(allow_newlines=True),
        ],
    )
