"""Japanese text helpers: search folding, control characters, era (和暦) dates, fiscal years (年度), Japan time and
today's date there."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from zoneinfo import ZoneInfo

import jaconv

JST = ZoneInfo("Asia/Tokyo")

# Never in a field: C0 and C1 controls except tab, LF and CR (U+0085 NEXT LINE among them), the line and paragraph
# separators U+2028/U+2029, bidi controls (embeddings, overrides, isolates, marks) and zero-width characters, which
# break lines where one line is expected (an e-mail subject) or disguise text.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
# Not in a one-line value either.
_BREAK_RE = re.compile(r"[\t\n\r]")
_NOT_ON_ONE_LINE_RE = re.compile(rf"(?:{_CONTROL_RE.pattern}|{_BREAK_RE.pattern})+")


# The combining dakuten and handakuten that Unicode decomposition splits off a voiced kana (が = か + U+3099).
_VOICING_MARKS_RE = re.compile("[\u3099\u309a]")


def fold(text: str, ignore_voicing: bool = False) -> str:
    """Fold text for matching: NFKC (full/half width), katakana to hiragana, lower case, no spaces; with
    ignore_voicing, kana without dakuten or handakuten too (が → か, ぱ → は), the looser match a search falls back to.

    Search keeps its stored text and its queries folded by this one function (whatever the search backend)."""
    text = unicodedata.normalize("NFKC", _CONTROL_RE.sub("", text or ""))  # PostgreSQL refuses NUL in text
    text = jaconv.kata2hira(text)
    if ignore_voicing:
        text = unicodedata.normalize("NFC", _VOICING_MARKS_RE.sub("", unicodedata.normalize("NFD", text)))
    return re.sub(r"\s+", "", text).lower()


def has_control_characters(text: str, allow_newlines: bool = False) -> bool:
    """True when text holds characters that have no place in a form field (tab, LF and CR only in a text area)."""
    if not allow_newlines and _BREAK_RE.search(text):
        return True
    return bool(_CONTROL_RE.search(text))


def single_line(text: str) -> str:
    """The text with each run of line breaks, separators, controls and invisible formatting characters made one
    space: for values that must stay on one line whatever they hold (e-mail headers built from older rows)."""
    return _NOT_ON_ONE_LINE_RE.sub(" ", text)


def clean_line(text: str | None) -> str:
    """NFC-normalise a single-line value and strip surrounding spaces (full-width ones too)."""
    return unicodedata.normalize("NFC", text or "").strip().strip("\u3000").strip()


# (first day, era name) newest first
_ERAS = (
    (date(2019, 5, 1), "令和", "Reiwa"),
    (date(1989, 1, 8), "平成", "Heisei"),
    (date(1926, 12, 25), "昭和", "Showa"),
)


def era_year(day: date, roman: bool = False) -> tuple[str, int]:
    """The Japanese era (in kanji, or romanised) and year number of a date."""
    for start, name, romanised in _ERAS:
        if day >= start:
            return (romanised if roman else name), day.year - start.year + 1
    return "", day.year


def to_local(value: date | datetime) -> date | datetime:
    """A UTC datetime in Japan time; dates pass through."""
    if isinstance(value, datetime):
        return value.astimezone(JST)
    return value


def start_of_japanese_day(day: date) -> datetime:
    """Midnight of the day in Japan, as an aware datetime (to compare with stored UTC timestamps)."""
    return datetime(day.year, day.month, day.day, tzinfo=JST)


def today_in_japan() -> date:
    """The current date in Japan, which decides deadlines and the day a partnership is agreed."""
    return datetime.now(JST).date()


def format_era_date(value: date | datetime | None) -> str:
    """令和7年11月23日 for a date (datetimes are shown in Japan time)."""
    if value is None:
        return ""
    local = to_local(value)
    day = local.date() if isinstance(local, datetime) else local
    era, year = era_year(day)
    year_text = "元" if year == 1 else str(year)
    return f"{era}{year_text}年{day.month}月{day.day}日"


def format_dual_date(value: date | datetime | None, locale: str = "ja") -> str:
    """令和7年11月23日（2025-11-23）: both forms, as officers read and file them; 2025-11-23 (Reiwa 7) in English."""
    if value is None:
        return ""
    local = to_local(value)
    day = local.date() if isinstance(local, datetime) else local
    if locale == "en":
        era, year = era_year(day, roman=True)
        return f"{day.isoformat()} ({era} {year})"
    return f"{format_era_date(day)}（{day.isoformat()}）"


def fiscal_year_of(day: date) -> int:
    """The fiscal year (年度) a date falls in: FY2027 runs from 1 April 2027 to 31 March 2028."""
    return day.year if day.month >= 4 else day.year - 1


def fiscal_year_start(year: int) -> date:
    """1 April of the fiscal year."""
    return date(year, 4, 1)


def format_fiscal_year(year: int, locale: str = "ja") -> str:
    """令和9年度（2027年度）, or FY2027 (Reiwa 9) in English.

    A fiscal year is named in the era of its first day, 1 April: FY2019 began in Heisei 31 and is 平成31年度, as the
    project's record names it (Reiwa began on 1 May 2019, within it); Reiwa's first fiscal year is 令和2年度. The
    first year of an era is 元年 (平成元年度).
    """
    era, number = era_year(fiscal_year_start(year), roman=locale == "en")
    if not era:
        return f"FY{year}" if locale == "en" else f"{year}年度"
    if locale == "en":
        return f"FY{year} ({era} {number})"
    return f"{era}{'元' if number == 1 else number}年度（{year}年度）"


def parse_month_day(value: str) -> tuple[int, int]:
    """(month, day) from "MM-DD", a day that every year has (29 February is refused); ValueError otherwise."""
    match = re.fullmatch(r"(\d{1,2})-(\d{1,2})", value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not a month and day written MM-DD")
    month, day = int(match[1]), int(match[2])
    date(2027, month, day)  # a year without 29 February: raises for 02-29, 04-31 and the like
    return month, day


def format_datetime(value: datetime | None) -> str:
    """2025-11-23 14:05 in Japan time."""
    if value is None:
        return ""
    return value.astimezone(JST).strftime("%Y-%m-%d %H:%M")


ELLIPSIS = "…"
# Characters that belong to the one before them: combining marks, variation selectors, joiners, voiced-sound marks.
_CLINGS_TO_PREVIOUS = re.compile(
    r"[\u0300-\u036f\u1ab0-\u1aff\u20d0-\u20ff\u3099\u309a\ufe00-\ufe0f\u200c\u200d\U000e0100-\U000e01ef\U0001f3fb-\U0001f3ff]"
)


def excerpt(text: str | None, limit: int) -> str:
    """The text's first `limit` characters, ended with an ellipsis (…) when there was more. The cut falls between
    whole characters as a reader sees them: a combining mark, a variation selector or a joiner stays with the
    character before it (が written か + ゛ is never split)."""
    text = (text or "").strip()
    if len(text) <= limit:
        return text
    cut = limit
    while cut > 0 and (_CLINGS_TO_PREVIOUS.match(text, cut) or text[cut - 1] == "\u200d"):
        cut -= 1
    return text[:cut].rstrip() + ELLIPSIS
