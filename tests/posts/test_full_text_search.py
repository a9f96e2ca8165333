"""Keyword search through its one interface, the same on SQLite (FTS5 trigram, LIKE for one or two characters) and
PostgreSQL (pg_trgm): Japanese in every script and width, several words, phrases, exclusions, readings, relevance
order, counts with the filters, each filter, and matched words marked in the cards without letting a query write
HTML."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from bulletin.core.text import today_in_japan
from bulletin.extensions import db
from bulletin.posts import search
from bulletin.posts.models import Post
from tests.constants import CHIYODA
from tests.factories import in_days, page_of, pdf_upload
from tests.posts.test_views import listed

# --- parsing ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "include", "exclude"),
    [
        ("黄金 がに", ("黄金", "がに"), ()),
        ("黄金\u3000ガニ", ("黄金", "がに"), ()),  # a full-width space separates too
        ('"黄金 がに" 三国', ("黄金がに", "三国"), ()),
        ("＂黄金 がに＂", ("黄金がに",), ()),  # full-width quotes, after NFKC
        ("“黄金 がに”", ("黄金がに",), ()),
        ("かに -毛ガニ", ("かに",), ("毛がに",)),
        ('かに -"毛 ガニ" -ｶﾆ', ("かに",), ("毛がに", "かに")),
        ("ｶﾆ ｶﾆ", ("かに",), ()),
        ("a-b -", ("a-b",), ()),
        ("", (), ()),
    ],
)
def test_a_query_is_parsed_into_folded_parts(q, include, exclude):
    query = search.parse(q)
    assert (query.include, query.exclude) == (include, exclude)


# --- matching --------------------------------------------------------------------------------------------------------


@pytest.fixture
def posts(people, make_post):
    def post(author, title: str, summary: str, body: str = "", **fields):
        return make_post(author, title=title, summary=summary, body=body, tags=[], **fields)

    return {
        "crab": post(people.sakai, "三国港の黄金がにを紹介します", "冬の味覚です。", "漁師のトークもあります。"),
        "canoe": post(people.kushiro, "湿原ツアーのご提案", "カヌーで巡ります。", "黄金色の夕日。"),
        "festival": post(people.shinagawa, "区民まつりの出展者募集", "パンフレットを配ります。"),
        "hairy": post(people.kushiro, "毛ガニの直売", "釧路の毛ガニです。"),
    }


def elements(response, tag: str, **attrs) -> list:
    """The page's elements of this tag with these attribute values."""
    return [e for e in page_of(response).all(tag) if all(e.attrs.get(k) == v for k, v in attrs.items())]


def found(client, **args) -> set[int]:
    response = client.get("/posts", query_string=args)
    return set(listed(response))


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("黄金", {"crab", "canoe"}),  # kanji, two characters
        ("湿原ツアー", {"canoe"}),  # kanji and katakana
        ("しつげんつあー", set()),  # a reading is not a kanji's
        ("つあー", {"canoe"}),  # hiragana finds katakana
        ("カヌー", {"canoe"}),  # katakana
        ("ｶﾇｰ", {"canoe"}),  # half-width katakana
        ("ﾊﾟﾝﾌﾚｯﾄ", {"festival"}),  # half-width with a handakuten
        ("冬", {"crab"}),  # one character
        ("毛", {"hairy"}),
        ("毛ガニ", {"hairy"}),  # three characters
        ("三国港 冬", {"crab"}),  # several words: all of them
        ("三国港 湿原", set()),
        ('"がにを紹介"', {"crab"}),  # a phrase
        ('"紹介 がにを"', set()),  # a phrase keeps its order
        ("黄金 -がに", {"canoe"}),  # an exclusion
        ('黄金 -"黄金色"', {"crab"}),  # an excluded phrase
        ("-がに -ツアー", {"festival"}),  # exclusions alone
        ("かに -毛", {"crab"}),  # the looser search (がに) keeps the exclusion
        ("さかいし", {"crab"}),  # a reading of the organization's name
        ("サカイシ 黄金", {"crab"}),
        ("しながわく まつり", {"festival"}),
        ("漁師のトーク", {"crab"}),  # the body
        ("100%", set()),  # LIKE's wildcards are plain characters
        ("_", set()),
    ],
)
def test_japanese_queries_find_their_posts(client, auth, people, posts, q, expected):
    auth.login(people.chiyoda)
    assert found(client, q=q) == {posts[key].id for key in expected}


def test_the_index_follows_edits_and_deletions(client, auth, people, posts):
    crab = posts["crab"]
    crab.search_text = "ずわいがに"  # the services keep this column; the index follows it
    db.session.commit()
    auth.login(people.chiyoda)
    assert found(client, q="ずわいがに") == {crab.id}
    assert found(client, q="三国港") == set()
    db.session.execute(text("DELETE FROM post_target_ward WHERE post_id = :id"), {"id": crab.id})
    db.session.delete(db.session.get(Post, crab.id))
    db.session.commit()
    assert found(client, q="ずわいがに") == set()


# --- relevance and counts --------------------------------------------------------------------------------------------


def test_relevance_puts_title_and_summary_matches_first_and_the_newest_on_ties(client, auth, people, make_post):
    both = make_post(people.sakai, title="ほたるいか漁", summary="ほたるいかと味覚", body="", tags=[])
    in_body = make_post(people.sakai, title="秋の物産展", summary="各地の名産", body="ほたるいかと味覚の試食", tags=[])
    older = make_post(people.sakai, title="ほたるいかの紹介", summary="春の便り", body="味覚", tags=[])
    newer = make_post(people.kushiro, title="春の便り", summary="ほたるいかの季節", body="味覚", tags=[])
    auth.login(people.chiyoda)
    response = client.get("/posts", query_string={"q": "ほたるいか 味覚", "sort": "relevance"})
    # both words in the title or summary: 2; one: 1, the newer first; none (both in the body): 0
    assert listed(response) == [both.id, newer.id, older.id, in_body.id]
    assert listed(client.get("/posts", query_string={"q": "ほたるいか 味覚"})) == [
        newer.id, older.id, in_body.id, both.id,
    ]  # fmt: skip
    assert "4件の投稿" in response.get_data(as_text=True)


def test_relevance_without_keywords_is_the_newest_first(client, auth, people, posts):
    auth.login(people.chiyoda)
    newest = listed(client.get("/posts"))
    assert listed(client.get("/posts", query_string={"sort": "relevance"})) == newest


def test_counts_follow_keywords_and_filters(client, auth, people, posts):
    auth.login(people.chiyoda)
    page = client.get("/posts", query_string={"q": "がに", "prefecture": "01"}).get_data(as_text=True)
    assert "1件の投稿" in page
    page = client.get("/posts", query_string={"q": "がに"}).get_data(as_text=True)
    assert "2件の投稿" in page


# --- filters ---------------------------------------------------------------------------------------------------------


def test_desired_period_keeps_the_posts_whose_period_overlaps(client, auth, people, make_post):
    early = make_post(people.sakai, desired_from=in_days(10), desired_until=in_days(20))
    late = make_post(people.sakai, desired_from=in_days(50), desired_until=in_days(60))
    open_ended = make_post(people.sakai, desired_from=in_days(30), desired_until=None)
    make_post(people.sakai, desired_from=None, desired_until=None)
    auth.login(people.chiyoda)
    assert found(client, desired_from=in_days(15).isoformat(), desired_to=in_days(35).isoformat()) == {
        early.id, open_ended.id,
    }  # fmt: skip
    assert found(client, desired_from=in_days(55).isoformat()) == {late.id, open_ended.id}
    assert found(client, desired_to=in_days(12).isoformat()) == {early.id}
    assert found(client, desired_from="令和8年") == found(client)  # not a date: no filter, no error


def test_deadline_within_keeps_the_posts_closing_in_those_days(client, auth, people, make_post):
    soon = make_post(people.sakai, deadline=in_days(5))
    fortnight = make_post(people.sakai, deadline=in_days(12))
    make_post(people.sakai, deadline=in_days(45))
    auth.login(people.chiyoda)
    assert found(client, deadline_within=7) == {soon.id}
    assert found(client, deadline_within=14) == {soon.id, fortnight.id}
    assert found(client, deadline_within=9) == found(client)  # not a choice: no filter
    assert today_in_japan() + timedelta(days=5) == soon.deadline


def test_has_attachments_keeps_the_posts_with_files(client, auth, people, make_post):
    with_file = make_post(people.sakai, files=[pdf_upload()])
    make_post(people.sakai)
    auth.login(people.chiyoda)
    assert found(client, has_attachments=1) == {with_file.id}


def test_for_my_ward_keeps_proposals_to_the_viewers_ward_or_to_all(client, auth, people, make_post):
    to_chiyoda = make_post(people.sakai, target_ward_codes=[CHIYODA])
    to_all = make_post(people.kushiro, target_ward_codes=[])
    make_post(people.sakai, target_ward_codes=["131091"])  # 品川区 only
    make_post(people.shinagawa)  # a call
    auth.login(people.chiyoda)
    assert elements(client.get("/posts"), "input", name="for_my_ward")
    assert found(client, for_my_ward=1) == {to_chiyoda.id, to_all.id}


def test_for_my_ward_is_neither_offered_nor_applied_outside_the_wards(client, auth, people, make_post):
    make_post(people.sakai, target_ward_codes=[CHIYODA])
    auth.login(people.kushiro)
    assert not elements(client.get("/posts"), "input", name="for_my_ward")
    assert found(client, for_my_ward=1) == found(client)


def test_paging_links_and_clearing_keep_the_new_filters(client, auth, people, make_post):
    for _ in range(21):
        make_post(people.sakai, deadline=in_days(5))
    auth.login(people.chiyoda)
    args = {"deadline_within": 7, "has_attachments": "", "desired_from": in_days(1).isoformat(), "sort": "relevance"}
    response = client.get("/posts", query_string=args)
    [next_link] = [e.attrs["href"] for e in elements(response, "a", rel="next")]
    assert "deadline_within=7" in next_link and f"desired_from={in_days(1).isoformat()}" in next_link
    assert "sort=relevance" in next_link and "has_attachments" not in next_link and "for_my_ward" not in next_link
    assert [e.attrs["href"] for e in elements(response, "a", **{"class": "filters__clear"})] == ["/posts"]
    assert not elements(client.get("/posts", query_string={"sort": "relevance"}), "a", **{"class": "filters__clear"})


# --- highlighting ----------------------------------------------------------------------------------------------------


def test_matched_words_are_marked_in_the_card(client, auth, people, posts):
    auth.login(people.chiyoda)
    response = client.get("/posts", query_string={"q": "ｶﾇｰ"})
    assert "<mark>カヌー</mark>で巡ります。" in response.get_data(as_text=True)


def test_a_keyword_only_in_the_body_is_shown_in_a_snippet_of_the_body(client, auth, people, posts):
    auth.login(people.chiyoda)
    html = client.get("/posts", query_string={"q": "漁師"}).get_data(as_text=True)
    assert "<mark>漁師</mark>のトークもあります。" in html and "冬の味覚です。" not in html
    html = client.get("/posts", query_string={"q": "漁師 冬"}).get_data(as_text=True)
    assert "<mark>冬</mark>の味覚です。" in html and "トーク" not in html  # the summary holds one: the summary


def test_a_query_cannot_write_html_into_the_page(client, auth, people, make_post):
    post = make_post(people.sakai, title="記号の扱い", summary="A&B <b>太字</b> の <mark>説明</mark>", tags=[])
    auth.login(people.chiyoda)
    for q in ("<b>", "&", "a&b", '"<b>太字</b>"', "<mark>"):
        response = client.get("/posts", query_string={"q": q})
        html = response.get_data(as_text=True)
        assert listed(response) == [post.id], q
        assert "<b>" not in html and "<mark>説明" not in html, q
        assert html.count("<mark>") >= 1, q


def test_a_snippet_starts_near_the_first_match():
    summary = "あ" * 100 + "黄金がに" + "い" * 200
    snippet = search.highlight(summary, ("黄金がに",))
    assert snippet.startswith("…" + "あ" * search.SNIPPET_BEFORE + "<mark>黄金がに</mark>")
    assert snippet.endswith("…")
    assert search.highlight("<b>", ()) == "&lt;b&gt;"


# --- the indexes -----------------------------------------------------------------------------------------------------


def test_an_index_answers_a_japanese_query_of_three_characters(app, people):
    """SQLite reads the FTS5 table; PostgreSQL the trigram index. On PostgreSQL the index is only of use if pg_trgm
    takes Japanese characters as word characters on the database's locale (C.UTF-8 here): it then makes trigrams of
    them (under a plain C locale it makes none, and every row would come back for a recheck). The planner is kept
    off the sequential scan, which it prefers on a table this small."""
    author = people.sakai
    rows = [
        {
            "organization_id": author.organization_id, "kind": "proposal", "state": "draft", "title": f"投稿{n}",
            "category": "other", "search_text": f"一括投稿{n}の本文です\nさかいし", "search_text_unvoiced": "",
        }
        for n in range(3000)
    ]  # fmt: skip
    db.session.execute(Post.__table__.insert(), rows)
    exact, _ = search.conditions(search.parse("黄金ガニ"), db.engine.dialect.name)
    statement = select(Post.id).where(exact)
    compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
    if db.engine.dialect.name == "postgresql":
        trigrams = db.session.execute(text("SELECT show_trgm('黄金がに')")).scalar()
        assert len(trigrams) == 5  # "  黄", " 黄金", "黄金が", "金がに", "がに "
        db.session.execute(text("ANALYZE post"))
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(db.session.execute(text(f"EXPLAIN (ANALYZE) {compiled}")).scalars())
        assert "Bitmap Index Scan on ix_post_search_text_trgm" in plan, plan
        assert "Rows Removed by Index Recheck" not in plan, plan  # the trigrams alone told the rows apart
    else:
        plan = "\n".join(str(row[-1]) for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
        assert "VIRTUAL TABLE INDEX" in plan and "post_fts" in plan, plan
