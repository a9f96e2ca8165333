"""Markdown bodies as Japanese officers write them: CommonMark without raw HTML, with line breaks kept, emphasis
next to Japanese brackets and punctuation, bare URLs linked and tables; then sanitised with nh3 (an allow-list),
links made safe."""

from __future__ import annotations

import re
from functools import cache

import nh3
from linkify_it import LinkifyIt
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from mdit_py_cjk_friendly import cjk_friendly

ALLOWED_TAGS = {
    "p", "br", "hr", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
ALLOWED_SCHEMES = {"http", "https", "mailto"}

# Kana, kanji, and full-width brackets and punctuation (「」（）、。): never part of a bare URL.
_JAPANESE_RE = re.compile(r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef\U00020000-\U0002fa1f]")


class _JapaneseLinkify(LinkifyIt):
    """Bare URLs as Japanese is written: a URL ends where Japanese text begins, and starts right after it
    (詳細はhttps://example.jp/をご覧ください, （https://example.jp/）). Japanese characters are read as spaces,
    one for one, so the positions found are those of the original text. Only web and mail links are made."""

    def __init__(self) -> None:
        super().__init__()
        self.add("ftp:", None).add("//", None)

    def pretest(self, text: str) -> bool:
        """Whether the text may hold a link at all (a quick check)."""
        return super().pretest(_JAPANESE_RE.sub(" ", text))

    def test(self, text: str) -> bool:
        """Whether the text holds a link."""
        return super().test(_JAPANESE_RE.sub(" ", text))

    def match(self, text: str):
        """The links in the text, with their positions."""
        return super().match(_JAPANESE_RE.sub(" ", text))

    def match_at_start(self, text: str):
        """The link the text starts with, if any."""
        return super().match_at_start(_JAPANESE_RE.sub(" ", text))


@cache
def _markdown() -> MarkdownIt:
    # html=False: raw HTML in the source is shown as text, never passed through. breaks=True: a line break in
    # the source is one on the page, as officers expect from every other text box.
    md = (
        MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": True, "typographer": False})
        .enable(["table", "strikethrough", "linkify"])
        .use(cjk_friendly)
    )
    # The plugin also joins lines between Japanese characters (for prose wrapped in an editor); here a line
    # break is meant, so it stays one.
    md.add_render_rule("softbreak", RendererHTML.softbreak)
    md.linkify = _JapaneseLinkify()
    return md


# The body sits under the page's h1 (the title) and an h2 section heading: its own headings start at h3.
_HEADING_LEVELS = {1: 3, 2: 3, 3: 4, 4: 5, 5: 6, 6: 6}
_HEADING_RE = re.compile(r"<(/?)h([1-6])>")
# A wide table scrolls sideways in its own box on a phone, not the page; the box takes keyboard focus to scroll.
TABLE_SCROLL_OPEN = '<div class="table-scroll" tabindex="0">'


def render_markdown(source: str | None) -> str:
    """Safe HTML for a post body."""
    html = _markdown().render(source or "")
    html = _HEADING_RE.sub(lambda m: f"<{m.group(1)}h{_HEADING_LEVELS[int(m.group(2))]}>", html)
    html = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )
    # After cleaning, "<table>" can only be a table's own tag: text that reads so has been escaped.
    return html.replace("<table>", f"{TABLE_SCROLL_OPEN}<table>").replace("</table>", "</table></div>")
