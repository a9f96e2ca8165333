"""Keyword search over posts, one interface on both databases.

A query is parsed once (`parse`): words separated by spaces (full-width ones too) must all match, "a quoted phrase"
matches as written, and a leading minus excludes a word or phrase. Every part is folded as the stored text is
(`bulletin.core.text.fold`), so a query matches whatever the width, kana or case.

What a part matches is the same on both databases: the folded text holds it. How it is found differs:

- SQLite: the FTS5 table `post_fts` (trigram tokenizer, external content on `post`, kept in step by triggers) finds
  the posts holding every part of three characters or more; shorter parts are matched with LIKE on those candidates.
- PostgreSQL: `LIKE '%part%'` on the folded columns, which the pg_trgm GIN indexes answer for parts of three
  characters or more.

Relevance (`relevance`) is a score the reader can check: each included part found in the post's title or summary
(`post.search_head`) counts one; the body and the organization's names count nothing more. Ties go to the newest.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from markupsafe import Markup, escape
from sqlalchemy import ColumnElement, Integer, and_, case, column, func, literal_column, select, table, type_coerce

from bulletin.core.text import fold
from bulletin.posts.models import Post

# The FTS5 table of SQLite and its shadow tables, and the trigram indexes of PostgreSQL: made by the migration,
# unknown to the models, left out when the database is compared with them.
FTS_TABLE = "post_fts"
TRIGRAM_INDEXES = frozenset({"ix_post_search_text_trgm", "ix_post_search_text_unvoiced_trgm"})
_FTS_SHADOWS = ("_data", "_idx", "_content", "_docsize", "_config")
SEARCH_INDEX_TABLES = frozenset({FTS_TABLE, *(FTS_TABLE + suffix for suffix in _FTS_SHADOWS)})

TRIGRAM = 3  # the shortest part an index can find
_TOKEN_RE = re.compile(r'(-?)(?:"([^"]*)"?|([^\s"]+))')
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"'})

_fts = table(FTS_TABLE, column("rowid"))

# Kana that a voiced one becomes without its dakuten or handakuten (か, は, う…).
_UNVOICED_FORMS = frozenset(
    fold(chr(code), ignore_voicing=True)
    for code in range(0x3041, 0x30FF)
    if fold(chr(code), ignore_voicing=True) != fold(chr(code))
)


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic hook: the search indexes that the models cannot describe are not part of the comparison."""
    if type_ == "table" and name in SEARCH_INDEX_TABLES:
        return False
    return not (type_ == "index" and name in TRIGRAM_INDEXES)


@dataclass(frozen=True)
class Query:
    """A parsed query: the folded parts that must all match, and those that must not."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.include or self.exclude)

    @property
    def unvoiced(self) -> tuple[str, ...]:
        """The included parts without dakuten and handakuten, when matching them so could find more (else empty):
        only parts holding a kana that has a voiced form (か, は, う…) can."""
        loose = tuple(fold(part, ignore_voicing=True) for part in self.include)
        return loose if _UNVOICED_FORMS.intersection("".join(loose)) else ()


def parse(q: str) -> Query:
    """Words (AND), "phrases" and -exclusions of a query, each folded; duplicates and empty parts dropped."""
    text = unicodedata.normalize("NFKC", q or "").translate(_QUOTES)  # NFKC: full-width spaces and ＂ first
    include: list[str] = []
    exclude: list[str] = []
    for minus, phrase, word in _TOKEN_RE.findall(text):
        part = fold(phrase or word)
        if not part or (word == "-" and not minus):
            continue
        parts = exclude if minus else include
        if part not in parts:
            parts.append(part)
    return Query(tuple(include), tuple(exclude))


def _fts_match(column_name: str, parts: list[str]) -> ColumnElement[bool]:
    """Posts whose indexed column holds every part (of three characters or more), found by the FTS5 table."""
    expression = " AND ".join('"' + part.replace('"', '""') + '"' for part in parts)
    matched = select(_fts.c.rowid).where(literal_column(FTS_TABLE).op("MATCH")(f"{column_name} : ({expression})"))
    return Post.id.in_(matched)


def _holds_all(dialect: str, column_name: str, parts: tuple[str, ...]) -> list[ColumnElement[bool]]:
    searched = getattr(Post, column_name)
    long_parts = [part for part in parts if len(part) >= TRIGRAM]
    if dialect == "sqlite" and long_parts:
        short_parts = [part for part in parts if len(part) < TRIGRAM]
        return [_fts_match(column_name, long_parts), *(searched.contains(p, autoescape=True) for p in short_parts)]
    return [searched.contains(part, autoescape=True) for part in parts]


def conditions(query: Query, dialect: str) -> tuple[ColumnElement[bool] | None, ColumnElement[bool] | None]:
    """The exact condition of the query, and the looser one without dakuten and handakuten (None when it could
    match nothing more). Exclusions hold as typed in both."""
    if not query:
        return None, None
    excluded = [~Post.search_text.contains(part, autoescape=True) for part in query.exclude]
    exact = and_(*_holds_all(dialect, "search_text", query.include), *excluded)
    if not query.unvoiced:
        return exact, None
    return exact, and_(*_holds_all(dialect, "search_text_unvoiced", query.unvoiced), *excluded)


def broad(condition: ColumnElement[bool], query: Query, dialect: str) -> ColumnElement[bool]:
    """The condition, marked on SQLite as holding for nearly every post when the FTS table answers the query: the
    planner then starts from the posts the index finds rather than walking an index on the condition (the state)
    and probing every post it lists (a few milliseconds instead of tens over 100,000 posts)."""
    if dialect == "sqlite" and any(len(part) >= TRIGRAM for part in query.include):
        return func.likelihood(condition, literal_column("0.99"))
    return condition


def relevance(query: Query) -> ColumnElement[int]:
    """How many of the included parts the title or summary holds (0 without any)."""
    if not query.include:
        return type_coerce(literal_column("0"), Integer)
    return sum(
        (case((Post.search_head.contains(part, autoescape=True), 1), else_=0) for part in query.include),
        start=type_coerce(literal_column("0"), Integer),
    )


# --- highlighting ---------------------------------------------------------------------------------------------------

SNIPPET_BEFORE = 30  # characters shown before the first match
SNIPPET_LENGTH = 160


@lru_cache(maxsize=8192)
def _fold_character(character: str, ignore_voicing: bool) -> str:
    return fold(character, ignore_voicing=ignore_voicing)


def _matched_spans(text: str, parts: tuple[str, ...], ignore_voicing: bool) -> list[tuple[int, int]]:
    """Where the parts occur in the text, as ranges of the text as written (merged when they touch)."""
    folded: list[str] = []
    origin: list[int] = []
    for index, character in enumerate(text):
        for folded_character in _fold_character(character, ignore_voicing):
            folded.append(folded_character)
            origin.append(index)
    haystack = "".join(folded)
    spans = []
    for part in parts:
        start = haystack.find(part)
        while start >= 0:
            spans.append((origin[start], origin[start + len(part) - 1] + 1))
            start = haystack.find(part, start + 1)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def snippet(summary: str, body: str | None, parts: tuple[str, ...], ignore_voicing: bool = False) -> Markup:
    """The summary with its keywords marked; if it holds none, a snippet of the body around the first one it holds;
    else the summary as it is."""
    if parts and body and not _matched_spans(summary or "", parts, ignore_voicing):
        found = highlight(body, parts, ignore_voicing)
        if "<mark>" in found:
            return found
    return highlight(summary, parts, ignore_voicing)


def highlight(text: str, parts: tuple[str, ...] = (), ignore_voicing: bool = False) -> Markup:
    """A snippet of the text around its first match, each match in <mark>; everything else escaped. Without a
    match, the text as it is (escaped)."""
    text = text or ""
    spans = _matched_spans(text, parts, ignore_voicing) if parts and text else []
    if not spans:
        return escape(text)
    begin = max(0, spans[0][0] - SNIPPET_BEFORE)
    end = min(len(text), begin + SNIPPET_LENGTH)
    pieces = [Markup("…")] if begin else []
    position = begin
    for start, stop in spans:
        if start >= end:
            break
        pieces += [
            escape(text[position:start]),
            Markup("<mark>"),
            escape(text[start : min(stop, end)]),
            Markup("</mark>"),
        ]
        position = min(stop, end)
    pieces.append(escape(text[position:end]))
    if end < len(text):
        pieces.append(Markup("…"))
    return Markup("").join(pieces)
