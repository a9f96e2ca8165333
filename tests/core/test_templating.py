"""Templates are compiled once per locale with their constant texts translated: the same template gives each reader
their language, in any order of requests, and `_()` keeps Jinja's newstyle rules (variables escaped, "%%" is "%")."""

from __future__ import annotations

import pytest
from flask import render_template
from jinja2 import ChoiceLoader, DictLoader

from bulletin.core.templating import LocalizedEnvironment

NO_MATCH = "「%(q)s」に一致する投稿がないため、濁点・半濁点を区別せずに検索した結果を表示しています。"
TEMPLATES = {
    "probe.html": (
        '<p>{{ _("全国連携マッチング掲示板") }}</p>'
        '<p>{{ _("%(n)d件の投稿", n=count) }}</p>'
        f'<p>{{{{ _("{NO_MATCH}", q=query) }}}}</p>'
        '<p>{{ _(dynamic) }}</p><p>{{ _("100%%") }}</p>{% include "probe_part.html" %}'
    ),
    "probe_part.html": '<p class="part">{{ _("投稿一覧") }}</p>',
    "probe.txt": f'{{{{ _("{NO_MATCH}", q=query) }}}}',
}


@pytest.fixture
def probe_app(app):
    app.jinja_env.loader = ChoiceLoader([DictLoader(TEMPLATES), app.jinja_env.loader])
    return app


def _render(app, language: str, name: str = "probe.html", **context) -> str:
    values = {"count": 3, "query": "<b>蟹</b>", "dynamic": "投稿一覧", **context}
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": language}):  # a request's own g
        return render_template(name, **values)


def test_the_app_compiles_its_templates_per_locale(app):
    assert isinstance(app.jinja_env, LocalizedEnvironment)


def test_each_reader_gets_their_language_from_the_same_template_in_any_order(probe_app):
    for language in ("en", "ja", "en", "ja"):
        page = _render(probe_app, language)
        if language == "en":
            assert "<p>Nationwide Partnership Matching Board</p>" in page
            assert "<p>3 posts</p>" in page
            assert "全国連携" not in page and "件の投稿" not in page
        else:
            assert "<p>全国連携マッチング掲示板</p>" in page
            assert "<p>3件の投稿</p>" in page
            assert "Nationwide" not in page


def test_included_templates_follow_the_locale_of_the_page(probe_app):
    assert '<p class="part">投稿一覧</p>' in _render(probe_app, "ja")
    assert '<p class="part">投稿一覧</p>' not in _render(probe_app, "en")


def test_variables_are_escaped_in_html_and_the_percent_sign_is_unescaped(probe_app):
    page = _render(probe_app, "en")
    assert "&lt;b&gt;蟹&lt;/b&gt;" in page and "<b>蟹</b>" not in page
    assert "<p>100%</p>" in page
    japanese = _render(probe_app, "ja")
    assert "「&lt;b&gt;蟹&lt;/b&gt;」に一致する投稿がないため" in japanese


def test_a_text_template_formats_without_escaping(probe_app):
    assert _render(probe_app, "en", "probe.txt").startswith("Nothing matched “<b>蟹</b>” exactly")


def test_a_call_with_a_variable_text_is_still_translated_when_the_page_renders(probe_app):
    assert "<p>Posts</p>" in _render(probe_app, "en")
    assert "<p>投稿一覧</p>" in _render(probe_app, "ja")


def test_a_string_template_is_compiled_as_jinja_does(app):
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "en"}):
        rendered = app.jinja_env.from_string('{{ _("全国連携マッチング掲示板") }}').render()
    assert rendered == "Nationwide Partnership Matching Board"


def test_select_options_marks_the_selected_value_and_escapes():
    from bulletin.core.templating import select_options

    html = str(select_options((("7", "7日以内"), ("a&b", "<x>")), 7))
    assert html == '<option value="7" selected>7日以内</option><option value="a&amp;b">&lt;x&gt;</option>'
    assert " selected" not in str(select_options((("7", "7日以内"),), None))


def test_choices_are_translated_per_locale_and_kept(app):
    from bulletin.core.templating import choices_in_locale
    from bulletin.posts.models import PostKind

    built = []

    def kinds():
        built.append(1)
        return ((kind.value, kind.label) for kind in PostKind)

    for language, label in (("ja", "提案"), ("en", "Proposal"), ("ja", "提案"), ("en", "Proposal")):
        with app.app_context(), app.test_request_context("/", headers={"Accept-Language": language}):
            assert dict(choices_in_locale("test_kinds", kinds))["proposal"] == label
    assert len(built) == 2  # once per locale


def test_kept_urls_follow_the_script_root(app):
    from bulletin.core.templating import url_for_template

    for root in ("", "/board", ""):
        with app.test_request_context("/", base_url=f"http://localhost{root}/"):
            assert url_for_template("posts.index") == f"{root}/posts"
            assert url_for_template("static", filename="css/site.css") == f"{root}/static/css/site.css"
            assert url_for_template("posts.show", post_id=7) == f"{root}/posts/7"
