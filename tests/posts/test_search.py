"""Search finds what officers type: an organization's reading (さかいし for 坂井市) and its prefecture's (ほっかいどう
for the towns of Hokkaido), and, when the exact form finds nothing, the same kana without dakuten or handakuten
(かに for 黄金がに), saying so. An exact match never brings in the looser results."""

import pytest

from bulletin.core.text import fold
from bulletin.extensions import db
from bulletin.organizations.services import get_by_code
from bulletin.posts import services
from tests.constants import KUSHIRO_TOWN
from tests.posts.test_views import listed

LOOSENED = "に一致する投稿がないため、濁点・半濁点を区別せずに検索した結果を表示しています。"


def search(client, q: str, **args):
    response = client.get("/posts", query_string={"q": q, **args})
    return listed(response), response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("text", "folded", "loose"),
    [
        ("黄金ガニ", "黄金がに", "黄金かに"),
        ("ｶﾞﾆ", "がに", "かに"),
        ("パンフレット", "ぱんふれっと", "はんふれっと"),
        ("ヴィーガン", "ゔぃーがん", "うぃーかん"),
        ("いすゞ", "いすゞ", "いすゝ"),
        ("Café ＰＲ", "cafépr", "cafépr"),
    ],
)
def test_folding_with_and_without_voicing(text, folded, loose):
    assert fold(text) == folded
    assert fold(text, ignore_voicing=True) == loose


@pytest.fixture
def posts(people, make_post):
    def post(author, title: str, summary: str):
        return make_post(author, title=title, summary=summary, body="", tags=[])

    return {
        "sakai": post(people.sakai, "三国港の黄金がにを紹介します", "冬の味覚です。"),
        "kushiro": post(people.kushiro, "湿原ツアーのご提案", "カヌーで巡ります。"),
        "ward": post(people.shinagawa, "区民まつりの出展者募集", "パンフレットを配ります。"),
    }


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("さかいし", {"sakai"}),
        ("サカイシ", {"sakai"}),
        ("ｻｶｲｼ", {"sakai"}),
        ("ふくいけん", {"sakai"}),
        ("福井県", {"sakai"}),
        ("ほっかいどう", {"kushiro"}),
        ("北海道", {"kushiro"}),
        ("くしろちょう", {"kushiro"}),
        ("しながわく", {"ward"}),
        ("とうきょうと", {"ward"}),
        ("ほっかいどう 湿原", {"kushiro"}),
        ("ほっかいどう 黄金", set()),
    ],
)
def test_organization_and_prefecture_readings_find_their_posts(client, auth, people, posts, q, expected):
    auth.login(people.chiyoda)
    found, page = search(client, q)
    assert set(found) == {posts[key].id for key in expected}
    assert LOOSENED not in page


def test_kana_without_dakuten_find_voiced_kana_and_the_page_says_so(client, auth, people, posts):
    auth.login(people.chiyoda)
    found, page = search(client, "かに")
    assert found == [posts["sakai"].id]
    assert "「かに」" + LOOSENED in page
    found, page = search(client, "はんふれっと")  # handakuten
    assert found == [posts["ward"].id] and LOOSENED in page
    found, page = search(client, "ガヌー")  # dakuten in the query, none in the post
    assert found == [posts["kushiro"].id] and LOOSENED in page


def test_an_exact_match_does_not_bring_in_the_looser_results(client, auth, people, posts, make_post):
    crab = make_post(people.kushiro, title="毛ガニの直売", summary="釧路のカニです。", body="", tags=[])
    auth.login(people.chiyoda)
    found, page = search(client, "かに")
    assert found == [crab.id] and LOOSENED not in page
    found, page = search(client, "がに")
    assert set(found) == {posts["sakai"].id, crab.id} and LOOSENED not in page


def test_nothing_found_either_way_says_nothing_about_dakuten(client, auth, people, posts):
    auth.login(people.chiyoda)
    found, page = search(client, "かきこおり")
    assert found == [] and LOOSENED not in page and "条件に合う投稿はありません。" in page


def test_a_page_after_the_last_exact_result_does_not_turn_to_the_looser_search(client, auth, people, posts):
    auth.login(people.chiyoda)
    assert search(client, "がに")[0] == [posts["sakai"].id]
    found, page = search(client, "がに", page=2)
    assert found == [] and LOOSENED not in page


def test_the_looser_search_follows_the_other_filters(client, auth, people, posts):
    auth.login(people.chiyoda)
    assert search(client, "かに", prefecture="01")[0] == []
    assert search(client, "かに", prefecture="18")[0] == [posts["sakai"].id]


def test_a_co_proposers_readings_find_the_post(client, auth, people, posts):
    post = posts["sakai"]
    co_proposer = services.invite_co_proposer(people.sakai, post, get_by_code(KUSHIRO_TOWN))
    services.answer_co_proposal(people.kushiro, co_proposer, accept=True)
    db.session.commit()
    auth.login(people.chiyoda)
    assert set(search(client, "ほっかいどう")[0]) == {post.id, posts["kushiro"].id}


def test_the_looser_search_costs_what_an_exact_one_does(client, auth, people, posts, count_queries):
    auth.login(people.chiyoda)
    costs = []
    for q in ("黄金がに", "かに", "かきこおり"):
        assert client.get("/posts", query_string={"q": q}).status_code == 200
        with count_queries() as counter:
            client.get("/posts", query_string={"q": q})
        costs.append(counter.count)
    assert costs[1] == costs[0] and costs[2] <= costs[0]  # no post, no relation to load
