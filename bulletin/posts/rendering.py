"""Markdown bodies: CommonMark without raw HTML, then sanitised with nh3 (an allow-list), links made safe."""

from __future__ import annotations

import re
from functools import cache

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "p", "br", "hr", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
ALLOWED_SCHEMES = {"http", "https", "mailto"}


@cache
def _markdown() -> MarkdownIt:
    # html=False: raw HTML in the source is shown as text, never passed through.
    return (
        MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
        .enable("table")
        .enable("strikethrough")
    )


# The body sits under the page's h1 (the title) and an h2 section heading: its own headings start at h3.
_HEADING_LEVELS = {1: 3, 2: 3, 3: 4, 4: 5, 5: 6, 6: 6}
_HEADING_RE = re.compile(r"<(/?)h([1-6])>")


def render_markdown(source: str) -> str:
    """Safe HTML for a post body."""
    html = _markdown().render(source or "")
    html = _HEADING_RE.sub(lambda m: f"<{m.group(1)}h{_HEADING_LEVELS[int(m.group(2))]}>", html)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )
