"""Enums whose members carry their human label: forms, templates and mails all read it from the member."""

from __future__ import annotations

import enum
from typing import Self

from flask_babel import LazyString


class LabelledStrEnum(enum.StrEnum):
    """A string enum declared as `DRAFT = "draft", _l("下書き")`: the value is what is stored, the label what is shown.

    `member.label` is a lazy string, translated into the reader's language when it is rendered.
    """

    label: LazyString

    def __new__(cls, value: str, label: LazyString | None = None) -> Self:
        # Looking a member up by its value (`PostState("draft")`) never comes here: only declaring one does.
        if label is None:
            raise TypeError(f"{cls.__name__}.{value} needs a label")
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member
