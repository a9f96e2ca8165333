"""The map (/map): 47 prefectures shaded by published posts or public cases, each a link to its list, with the same
counts in a table and a legend; one grouped query for the counts whatever the number of posts."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from bulletin.core.db import utcnow
from bulletin.extensions import db
from bulletin.organizations.data import prefectures
from bulletin.posts.models import PostState
from bulletin.responses import services as responses
from bulletin.stats.prefecture_map import Step, legend_steps, outlines
from tests.factories import page_of, text_of
from tests.posts.test_queries import MAX_QUERIES, add_posts, cost

FUKUI, HOKKAIDO, TOKYO = "18", "01", "13"


def map_links(page) -> dict[str, tuple[str, str, str]]:
    """Each prefecture of the SVG: its link, the count said in its <title>, and its colour step."""
    links = {}
    anchors = [e for e in page.elements if e.tag == "a" and "map-prefecture" in e.classes]
    paths = [e for e in page.elements if e.tag == "path" and any(c.startswith("map-step-") for c in e.classes)]
    assert len(anchors) == len(paths)
    for anchor, path in zip(anchors, paths, strict=True):
        links[anchor.attrs["data-prefecture"]] = (anchor.attrs["href"], anchor.text.strip(), path.attrs["class"])
    return links


def table_rows(page) -> dict[str, tuple[str, str, str]]:
    """Each row of the table alternative: its link, the prefecture's name and the count."""
    html = page.html.split('<table class="table map-table">', 1)[1]
    rows = re.findall(r'<tr data-prefecture="(\d\d)">\s*<th scope="row"><a href="([^"]+)">([^<]+)</a></th>\s*'
                      r'<td class="map-table__count">([^<]+)</td>', html)  # fmt: skip
    return {code: (href.replace("&amp;", "&"), name, count) for code, href, name, count in rows}


@pytest.fixture
def posts_in_three_prefectures(people, make_post):
    """Three published posts of 坂井市 (福井県), one of 釧路町 (北海道), one call of 品川区 (東京都); a draft and a
    closed post of 坂井市 that the map does not count."""
    for _ in range(3):
        make_post(people.sakai)
    make_post(people.kushiro)
    make_post(people.shinagawa)
    make_post(people.sakai, PostState.DRAFT)
    make_post(people.sakai, PostState.CLOSED)


def test_each_of_the_47_prefectures_links_to_its_published_posts(client, auth, people, posts_in_three_prefectures):
    auth.login(people.kushiro)
    links = map_links(page_of(client.get("/map")))
    assert sorted(links) == sorted(prefectures()) and len(links) == 47
    for code, (href, _title, _step) in links.items():
        url = urlsplit(href)
        assert url.path == "/posts" and parse_qs(url.query) == {"prefecture": [code]}
    listed = text_of(client.get(links[FUKUI][0]))
    assert listed.count('class="post-card"') == 3


def test_the_counts_are_the_published_posts_of_each_prefecture(client, auth, people, posts_in_three_prefectures):
    auth.login(people.shinagawa)
    response = client.get("/map")
    assert response.headers["Cache-Control"] == "no-store"
    page = page_of(response)
    links = map_links(page)
    assert links[FUKUI][1] == "福井県: 3件"
    assert links[HOKKAIDO][1] == "北海道: 1件"
    assert links[TOKYO][1] == "東京都: 1件"
    assert links["47"][1] == "沖縄県: 0件"
    assert links[FUKUI][2] == "map-step-5" and links[TOKYO][2] == "map-step-2" and links["47"][2] == "map-step-0"
    assert "合計 5件" in page.html


def test_the_table_says_what_the_map_shows(client, auth, people, posts_in_three_prefectures):
    auth.login(people.sakai)
    page = page_of(client.get("/map"))
    links, rows = map_links(page), table_rows(page)
    assert list(rows) == list(links)  # one row per prefecture, in code order
    for code, (href, title, _step) in links.items():
        row_href, name, count = rows[code]
        assert row_href == href
        assert title == f"{name}: {count}"


def test_the_legend_gives_each_step_its_range(client, auth, people, posts_in_three_prefectures):
    assert legend_steps(0) == [Step(0, 0, 0)]
    assert legend_steps(100) == [Step(0, 0, 0), *(Step(n, n * 20 - 19, n * 20) for n in range(1, 6))]
    assert legend_steps(3) == [Step(0, 0, 0), Step(2, 1, 1), Step(4, 2, 2), Step(5, 3, 3)]  # steps that hold a count
    auth.login(people.sakai)
    page = page_of(client.get("/map"))
    legend = [e for e in page.elements if e.tag == "li" and e.attrs.get("class") is None and "件" in e.text]
    swatches = [e.attrs["class"] for e in page.elements if "map-swatch" in e.classes]
    assert swatches == [
        "map-swatch map-step-0",
        "map-swatch map-step-2",
        "map-swatch map-step-4",
        "map-swatch map-step-5",
    ]
    assert [e.text.split() for e in legend[-4:]] == [["なし（0件）"], ["1件"], ["2件"], ["3件"]]


def test_the_map_is_described_and_credits_its_data(client, auth, people):
    auth.login(people.sakai)
    page = page_of(client.get("/map"))
    svg = page.all("svg")[0]
    assert svg.attrs["aria-labelledby"] == "map-svg-title" and page.by_id("map-svg-title").text
    assert page.by_id("map-svg-desc").text
    assert "地図データ: @svg-maps/japan 2.0.0" in page.html and "CC BY 4.0" in page.html
    assert outlines().license == "CC-BY-4.0"


def test_the_counts_cost_one_grouped_query_whatever_the_number_of_posts(client, auth, people, count_queries):
    auth.login(people.kushiro)
    costs = []
    for start, added in ((0, 3), (3, 57)):  # 3 posts, then 60
        add_posts(added, people.sakai, start=start)
        costs.append(cost(client, count_queries, "/map"))
    assert costs[0] == costs[1] <= MAX_QUERIES
    with count_queries() as counter:
        client.get("/map")
    assert sum("GROUP BY" in statement.upper() for statement in counter.statements) == 1


def test_partnerships_are_counted_on_the_municipality_side_and_link_to_its_cases(client, auth, people, case):
    auth.login(people.kushiro)
    page = page_of(client.get("/map?show=cases"))
    links = map_links(page)
    assert links[FUKUI][1] == "福井県: 1件"  # 坂井市 and 品川区: counted under 福井県, not 東京都
    assert links[TOKYO][1] == "東京都: 0件"
    assert links[FUKUI][0] == "/cases?prefecture=18"
    assert table_rows(page)[FUKUI][0] == "/cases?prefecture=18"
    assert case.title in text_of(client.get("/cases?prefecture=18"))
    assert case.title not in text_of(client.get("/cases?prefecture=13"))
    assert case.title in text_of(client.get("/cases?prefecture=xx"))  # an unknown prefecture: no filter


def test_a_wards_call_answered_by_a_town_counts_under_the_towns_prefecture(client, auth, people, make_post, respond_as):
    call = make_post(people.shinagawa, title="区のまつりに出店しませんか")
    record = responses.accept_response(people.shinagawa, respond_as(people.kushiro, call))
    record.post_organization_consent_at = record.partner_organization_consent_at = record.published_at = utcnow()
    db.session.commit()
    auth.login(people.sakai)
    links = map_links(page_of(client.get("/map?show=cases")))
    assert links[HOKKAIDO][1] == "北海道: 1件" and links[TOKYO][1] == "東京都: 0件"
    assert record.title in text_of(client.get("/cases?prefecture=01"))
    assert record.title not in text_of(client.get("/cases?prefecture=13"))


def test_the_map_is_for_members(client):
    response = client.get("/map")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
