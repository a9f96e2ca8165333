"""Form helpers shared by every domain: text cleaning and the validators bad input meets first."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import ValidationError

from bulletin.core.text import clean_line, has_control_characters


def strip_line(value):
    """Filter: NFC and trim a one-line field."""
    return clean_line(value) if isinstance(value, str) else value


class NoControlCharacters:
    """Refuse control, bidi-override and zero-width characters (newlines only where allowed)."""

    def __init__(self, allow_newlines: bool = False):
        self.allow_newlines = allow_newlines

    def __call__(self, form, field):
        if isinstance(field.data, str) and has_control_characters(field.data, self.allow_newlines):
            raise ValidationError(_l("使用できない制御文字が含まれています。"))
