"""The excerpt that e-mails quote: cut between whole characters as a reader sees them, marked when cut."""

from __future__ import annotations

import pytest

from bulletin.core.text import excerpt


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("黄金がにのPR", 7, "黄金がにのPR"),  # as long as the limit: whole, unmarked
        ("黄金がにのPRイベント", 7, "黄金がにのPR…"),
        ("  前後の空白  ", 10, "前後の空白"),
        (None, 10, ""),
        ("かか\u3099に", 2, "か…"),  # が written か + ゛: the mark stays with its kana
        ("葛\U000e0100飾区", 1, "…"),  # an ideographic variation: never a bare base
        ("葛\U000e0100飾区", 2, "葛\U000e0100…"),
        ("ab\U0001f468\u200d\U0001f469cd", 4, "ab…"),  # a joined emoji is not split at its joiner
        ("段落の終わり\n\n次の段落", 8, "段落の終わり…"),  # no dangling line break before the marker
    ],
)
def test_an_excerpt_ends_between_whole_characters_with_a_marker_when_cut(text, limit, expected):
    assert excerpt(text, limit) == expected
