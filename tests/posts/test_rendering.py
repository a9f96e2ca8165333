"""The Markdown body: CommonMark without raw HTML, sanitised by an allow-list; whatever an author writes, the
page gets no script, no event handler, no foreign frame, no style and no dangerous link."""

import re

import pytest

from bulletin.posts.rendering import ALLOWED_TAGS, render_markdown
from tests.factories import Page

REL = "noopener noreferrer nofollow"
SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):")


def elements(html: str):
    return Page(html).elements


def assert_harmless(html: str) -> None:
    """Only allowed tags; no event handler or style attribute; links only to http(s) and mailto."""
    for element in elements(html):
        if element.tag == "div":  # the renderer's own box around a table, exactly so
            assert element.attrs == {"class": "table-scroll", "tabindex": "0"}, element
            continue
        assert element.tag in ALLOWED_TAGS, element
        for name, value in element.attrs.items():
            assert not name.startswith("on"), element
            assert name not in {"style", "src", "srcdoc", "class", "id"}, element
            if name == "href":  # a scheme, as a browser reads it, is one of the safe ones (or none: relative)
                scheme = SCHEME.match("".join(value.split()).lower())
                assert scheme is None or scheme.group(1) in {"http", "https", "mailto"}, element
    lowered = html.lower()
    for needle in ("<script", "<img", "<iframe", "<style", "<object", "<embed", "<svg", "<form", "<input"):
        assert needle not in lowered, needle


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "前置き <script src=https://evil.example/x.js></script> 後書き",
        "<img src=x onerror=alert(1)>",
        '<img src="x" onerror="alert(document.cookie)">',
        "x <b onclick=alert(1)>太字</b>",
        '<a href="javascript:alert(1)">リンク</a>',
        "[リンク](javascript:alert(1))",
        "[リンク](JaVaScRiPt:alert(1))",
        "[リンク](  javascript:alert(1) )",
        "[リンク](jav&#x09;ascript:alert(1))",
        "[リンク](vbscript:msgbox(1))",
        "[リンク](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[リンク](data:image/png;base64,iVBORw0KGgo=)",
        "[リンク](file:///etc/passwd)",
        "<javascript:alert(1)>",
        "![画像](javascript:alert(1))",
        "![画像](https://tracker.example/pixel.png)",
        '<iframe src="https://evil.example/"></iframe>',
        '<p style="color:red;background:url(javascript:alert(1))">赤</p>',
        '<div class="x" id="main">生のHTML</div>',
        "<style>body{display:none}</style>",
        '<svg onload="alert(1)"></svg>',
        '<form action="https://evil.example/"><input name="password"></form>',
        "| 左 | 右 |\n|:--|--:|\n| a | b |",  # alignment is written as a style attribute by markdown-it
        "<!-- コメント --><object data=x></object><embed src=x>",
    ],
)
def test_dangerous_input_is_neutralised(source):
    assert_harmless(render_markdown(source))


def test_raw_html_is_shown_as_text():
    html = render_markdown('<div class="box">囲み</div>\n\n<script>alert("x")</script>')
    assert "<div" not in html and "&lt;div class=" in html and "囲み" in html
    assert "&lt;script&gt;" in html


def test_code_blocks_keep_html_as_text():
    html = render_markdown("```\n<script>alert(1)</script>\n```\n\n`<b>`")
    assert "<pre><code>&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<code>&lt;b&gt;</code>" in html


def test_javascript_links_are_not_links():
    html = render_markdown("[押してください](javascript:alert(1))")
    assert not Page(html).all("a")


def test_data_links_lose_their_target():
    for source in ("[a](data:text/html,<script>alert(1)</script>)", "[a](data:image/png;base64,iVBORw0KGgo=)"):
        html = render_markdown(source)
        assert all("href" not in a.attrs or not a.attrs["href"].startswith("data:") for a in Page(html).all("a"))


def test_headings_lists_tables_and_emphasis_survive():
    source = "\n".join(
        [
            "### 日程",
            "",
            "- 11月18日 搬入",
            "- 11月19日〜23日 展示",
            "",
            "1. 試食",
            "2. トーク",
            "",
            "| 項目 | 負担 |",
            "| --- | --- |",
            "| 交通費 | 各自 |",
            "",
            "**太字**、*斜体*、`コード`",
            "",
            "> 引用",
            "",
            "---",
        ]
    )
    html = render_markdown(source)
    assert "<h4>日程</h4>" in html
    assert "<ul>\n<li>11月18日 搬入</li>" in html and "<ol>\n<li>試食</li>" in html
    for tag in ("table", "thead", "tbody", "tr", "th", "td"):
        assert f"<{tag}>" in html
    assert "<th>項目</th>" in html and "<td>交通費</td>" in html
    assert "<strong>太字</strong>" in html and "<em>斜体</em>" in html
    assert "<code>コード</code>" in html and "<blockquote>" in html and "<hr>" in html


def test_strikethrough_survives():
    html = render_markdown("日程: ~~11月18日~~ 11月19日")
    assert re.search(r"<(del|s)>11月18日</(del|s)>", html), html


def test_an_ordered_list_keeps_its_start():
    assert '<ol start="3">' in render_markdown("3. 三番目\n4. 四番目")


def test_links_survive_with_a_safe_rel():
    html = render_markdown(
        '[坂井市](https://www.city.fukui-sakai.lg.jp/ "坂井市の公式サイト") と <https://www.city.shinagawa.tokyo.jp/>'
        " と [問い合わせ](mailto:kanko@city.fukui-sakai.lg.jp) と [http](http://example.jp/)"
    )
    links = Page(html).all("a")
    assert [a.attrs["href"] for a in links] == [
        "https://www.city.fukui-sakai.lg.jp/",
        "https://www.city.shinagawa.tokyo.jp/",
        "mailto:kanko@city.fukui-sakai.lg.jp",
        "http://example.jp/",
    ]
    assert all(a.attrs["rel"] == REL for a in links)
    assert links[0].attrs["title"] == "坂井市の公式サイト" and links[0].text == "坂井市"


def test_an_authors_rel_or_target_is_replaced():
    html = render_markdown('[x](https://example.jp/){target="_blank" rel="opener"}')
    for link in Page(html).all("a"):
        assert link.attrs.get("rel") == REL and "target" not in link.attrs


def test_body_headings_never_compete_with_the_page_headings():
    # The page's h1 is the title and its sections are h2; the body's h1 and h2 become h3, the rest move down.
    html = render_markdown("# 大見出し\n\n## 中見出し\n\n### 小見出し\n\n#### 四\n\n##### 五\n\n###### 六")
    assert "<h1" not in html and "<h2" not in html
    assert [(e.tag, e.text) for e in elements(html)] == [
        ("h3", "大見出し"),
        ("h3", "中見出し"),
        ("h4", "小見出し"),
        ("h5", "四"),
        ("h6", "五"),
        ("h6", "六"),
    ]


def test_setext_headings_are_demoted_too():
    html = render_markdown("大見出し\n====\n\n中見出し\n----")
    assert "<h1" not in html and "<h2" not in html and "<h3>大見出し</h3>" in html


def test_empty_body():
    assert render_markdown("") == "" and render_markdown(None) == ""


def test_japanese_text_and_entities_are_escaped_not_lost():
    html = render_markdown("黄金がに & 越前がに < 松葉がに > 紅ずわいがに")
    assert html == "<p>黄金がに &amp; 越前がに &lt; 松葉がに &gt; 紅ずわいがに</p>\n"


# Japanese writing: bold next to brackets and punctuation, line breaks as written, bare URLs, tables on a phone.


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("三国港の**「黄金がに」**を紹介します", "三国港の<strong>「黄金がに」</strong>を紹介します"),
        ("申込みは**11月30日（月）**まで", "申込みは<strong>11月30日（月）</strong>まで"),
        ("**締切厳守**。", "<strong>締切厳守</strong>。"),
        ("会場は*しながわ水族館*、", "会場は<em>しながわ水族館</em>、"),
        ("「**重要**」", "「<strong>重要</strong>」"),
        ("費用は**区の負担（会場費のみ）**です。", "費用は<strong>区の負担（会場費のみ）</strong>です。"),
        ("**太字**、*斜体*", "<strong>太字</strong>、<em>斜体</em>"),
        ("a **bold** word", "a <strong>bold</strong> word"),
        ("snake_case_name と 2 * 3 * 4", "snake_case_name と 2 * 3 * 4"),
    ],
)
def test_bold_and_emphasis_work_next_to_japanese_brackets_and_punctuation(source, expected):
    assert render_markdown(source) == f"<p>{expected}</p>\n"


def test_emphasis_marks_in_code_stay_as_written():
    html = render_markdown("`**「黄金がに」**を`\n\n```\n**「x」**を\n```")
    assert "<code>**「黄金がに」**を</code>" in html and "<pre><code>**「x」**を\n</code></pre>" in html


def test_a_single_line_break_is_kept():
    html = render_markdown("日時: 11月18日（水）〜23日（月）\n会場: しながわ水族館\nTime: 10:00\nPlace: Shinagawa")
    assert html == (
        "<p>日時: 11月18日（水）〜23日（月）<br>\n会場: しながわ水族館<br>\nTime: 10:00<br>\nPlace: Shinagawa</p>\n"
    )


def test_a_blank_line_still_starts_a_paragraph():
    assert render_markdown("一段落目\n\n二段落目") == "<p>一段落目</p>\n<p>二段落目</p>\n"


@pytest.mark.parametrize(
    ("source", "href", "text"),
    [
        ("詳細は https://www.city.fukui-sakai.lg.jp/ をご覧ください", "https://www.city.fukui-sakai.lg.jp/", None),
        ("詳細はhttps://www.city.fukui-sakai.lg.jp/をご覧ください。", "https://www.city.fukui-sakai.lg.jp/", None),
        ("坂井市（https://www.city.fukui-sakai.lg.jp/kanko/）", "https://www.city.fukui-sakai.lg.jp/kanko/", None),
        ("「https://example.jp/kani?id=1」参照", "https://example.jp/kani?id=1", None),
        ("申込: http://example.jp/form、電話でも可", "http://example.jp/form", None),
        ("www.city.shinagawa.tokyo.jp です", "http://www.city.shinagawa.tokyo.jp", "www.city.shinagawa.tokyo.jp"),
        ("問い合わせ: kanko@city.fukui-sakai.lg.jp まで", "mailto:kanko@city.fukui-sakai.lg.jp", None),
    ],
)
def test_bare_urls_become_links_that_end_where_japanese_text_begins(source, href, text):
    [link] = Page(render_markdown(source)).all("a")
    assert link.attrs["href"] == href
    assert link.text == (text or href.removeprefix("mailto:"))
    assert link.attrs["rel"] == REL and "target" not in link.attrs


@pytest.mark.parametrize(
    "source",
    [
        "javascript:alert(1)",
        "詳細はjavascript:alert(1)を",
        "data:text/html;base64,PHNjcmlwdD4=",
        "file:///etc/passwd",
        "vbscript:msgbox(1)",
        "ftp://files.example.jp/a.zip",
    ],
)
def test_bare_links_are_only_made_to_safe_schemes(source):
    html = render_markdown(source)
    assert_harmless(html)
    assert all(a.attrs.get("href", "").startswith(("http", "mailto")) for a in Page(html).all("a"))


def test_code_is_never_linkified():
    html = render_markdown("`https://example.jp/`\n\n    https://example.jp/x")
    assert not Page(html).all("a")


def test_a_table_scrolls_within_its_own_box_on_a_phone():
    html = render_markdown("| 項目 | 負担 |\n| --- | --- |\n| 交通費 | 各自 |")
    assert html.startswith('<div class="table-scroll" tabindex="0"><table>')
    assert html.rstrip().endswith("</table></div>")
    assert "<th>項目</th>" in html and "<td>交通費</td>" in html


def test_a_table_written_as_text_is_not_wrapped():
    assert "table-scroll" not in render_markdown("`<table>` と &lt;table&gt; と <table>")


@pytest.mark.parametrize(
    ("source", "before"),
    [
        (
            "## ねらい\n\n三国港の冬の味覚を首都圏に届け、坂井市への来訪につなげます。\n\n## 実施イメージ\n\n"
            "- 11月下旬の週末を含む数日間\n- 試食とクイズ、漁師のトーク\n- 観光・移住相談のブース\n",
            "<h3>ねらい</h3>\n<p>三国港の冬の味覚を首都圏に届け、坂井市への来訪につなげます。</p>\n<h3>実施イメージ</h3>\n"
            "<ul>\n<li>11月下旬の週末を含む数日間</li>\n<li>試食とクイズ、漁師のトーク</li>\n<li>観光・移住相談のブース</li>\n"
            "</ul>\n",
        ),
        (
            "## 日程\n\n9月下旬の土日（2日間）\n\n## 条件\n\n"
            "- 販売品は各自治体でご用意ください\n- 搬入・搬出は各自治体でお願いします\n",
            "<h3>日程</h3>\n<p>9月下旬の土日（2日間）</p>\n<h3>条件</h3>\n<ul>\n<li>販売品は各自治体でご用意ください</li>\n"
            "<li>搬入・搬出は各自治体でお願いします</li>\n</ul>\n",
        ),
        (
            "## 会場\n\nしながわ水族館の特設コーナーで展示します。",
            "<h3>会場</h3>\n<p>しながわ水族館の特設コーナーで展示します。</p>\n",
        ),
        ("# 日程\n\n**11月18日**から", "<h3>日程</h3>\n<p><strong>11月18日</strong>から</p>\n"),
        ("## 内容\n\n- 一\n- 二", "<h3>内容</h3>\n<ul>\n<li>一</li>\n<li>二</li>\n</ul>\n"),
        (
            "参加費は *無料* です。詳しくは [坂井市](https://www.city.fukui-sakai.lg.jp/) へ。",
            '<p>参加費は <em>無料</em> です。詳しくは <a href="https://www.city.fukui-sakai.lg.jp/" '
            'rel="noopener noreferrer nofollow">坂井市</a> へ。</p>\n',
        ),
        ("```\n**「x」**を\n```", "<pre><code>**「x」**を\n</code></pre>\n"),
    ],
)
def test_existing_bodies_render_as_before(source, before):
    """Bodies written before (the demo's, and those of the tests) come out exactly as they did."""
    assert render_markdown(source) == before
