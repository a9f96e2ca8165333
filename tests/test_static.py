"""The stylesheets as browsers read them: a block left open swallows every rule after it into an @media query."""

import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parent.parent / "static"
COMMENT_OR_STRING = re.compile(r"/\*.*?\*/|\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'", re.S)


def depths(css: str) -> list[int]:
    """The nesting depth after each brace, comments and strings left out."""
    depth, seen = 0, []
    for brace in re.findall(r"[{}]", COMMENT_OR_STRING.sub("", css)):
        depth += 1 if brace == "{" else -1
        seen.append(depth)
    return seen


@pytest.mark.parametrize("sheet", sorted(p.name for p in (STATIC / "css").glob("*.css")))
def test_every_block_of_the_stylesheet_is_closed(sheet):
    seen = depths((STATIC / "css" / sheet).read_text(encoding="utf-8"))
    assert seen and min(seen) >= 0 and seen[-1] == 0


def test_an_open_block_is_noticed():
    assert depths("@media (min-width: 48rem) {\n  .a { color: red; }\n\n.b { margin: 0; }\n")[-1] == 1
    assert depths('/* { */ .a::before { content: "}"; }')[-1] == 0
