"""Word-level differences between two versions of a text, for the moderator's review."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

# Japanese has no spaces: compare by characters within runs of kana/kanji, by words elsewhere.
_TOKEN_RE = re.compile(r"\s+|[A-Za-z0-9_]+|.", re.S)


@dataclass
class Segment:
    """A run of text that is unchanged ('equal'), added ('insert') or removed ('delete')."""

    op: str
    text: str


@dataclass
class FieldDiff:
    """The difference in one field."""

    name: str
    label: str
    segments: list[Segment]

    @property
    def changed(self) -> bool:
        """True when the field differs."""
        return any(segment.op != "equal" for segment in self.segments)


def diff_text(old: str, new: str) -> list[Segment]:
    """Segments that turn old into new."""
    old_tokens, new_tokens = _TOKEN_RE.findall(old or ""), _TOKEN_RE.findall(new or "")
    matcher = difflib.SequenceMatcher(a=old_tokens, b=new_tokens, autojunk=False)
    segments: list[Segment] = []
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            segments.append(Segment("equal", "".join(old_tokens[a1:a2])))
            continue
        if op in ("delete", "replace"):
            segments.append(Segment("delete", "".join(old_tokens[a1:a2])))
        if op in ("insert", "replace"):
            segments.append(Segment("insert", "".join(new_tokens[b1:b2])))
    return segments


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return str(value)


def diff_fields(old: dict, new: dict, labels: dict[str, str]) -> list[FieldDiff]:
    """Per-field differences, in the order of `labels`; only fields present in either version."""
    return [
        FieldDiff(name, str(label), diff_text(_as_text(old.get(name)), _as_text(new.get(name))))
        for name, label in labels.items()
        if name in old or name in new
    ]
