"""The excerpt that e-mails quote: cut between whole characters as a reader sees them, marked when cut; era dates and
fiscal years at their boundaries."""

from __future__ import annotations

from datetime import date

import pytest

from bulletin.core.text import excerpt, fiscal_year_of, format_era_date, format_fiscal_year


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


@pytest.mark.parametrize(
    ("day", "written"),
    [
        (date(2019, 4, 30), "平成31年4月30日"),  # the last day of Heisei
        (date(2019, 5, 1), "令和元年5月1日"),  # 元年, never 1年
        (date(2019, 10, 26), "令和元年10月26日"),
        (date(2020, 1, 1), "令和2年1月1日"),
        (date(1989, 1, 7), "昭和64年1月7日"),
        (date(1989, 1, 8), "平成元年1月8日"),
    ],
)
def test_the_era_changes_on_its_first_day(day, written):
    assert format_era_date(day) == written


@pytest.mark.parametrize(
    ("day", "fiscal_year", "label"),
    [
        (date(2019, 3, 31), 2018, "平成30年度（2018年度）"),
        (date(2019, 4, 1), 2019, "平成31年度（2019年度）"),  # named by its first day: Heisei 31
        (date(2019, 5, 1), 2019, "平成31年度（2019年度）"),  # Reiwa began within it; the year keeps its name
        (date(2020, 3, 31), 2019, "平成31年度（2019年度）"),
        (date(2020, 4, 1), 2020, "令和2年度（2020年度）"),
    ],
)
def test_the_fiscal_year_begins_on_1_april_and_is_named_in_the_era_of_that_day(day, fiscal_year, label):
    assert fiscal_year_of(day) == fiscal_year
    assert format_fiscal_year(fiscal_year_of(day)) == label
