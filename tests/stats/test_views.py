"""The record's page (/stats): the rule beside each table, the agreements' row reproduced from the seeded data, the
years named in their era, a chart for each table, a summary for the public that names no post, a fixed cost."""

from __future__ import annotations

import re

import pytest

from bulletin.config import ConfigError
from bulletin.posts.models import PostState
from tests.factories import make_test_app, page_of, text_of
from tests.posts.test_queries import MAX_QUERIES, add_posts, cost


def row_values(html: str, key: str) -> list[str]:
    """The cells of the row with this key, as shown."""
    match = re.search(rf'<tr data-row="{re.escape(key)}">(.*?)</tr>', html, re.S)
    assert match, key
    return re.findall(r'<td class="number">([^<]*)</td>', match[1])


def years_of(html: str, table: str) -> list[int]:
    """The fiscal years of a table's columns."""
    section = html.split(f'data-table="{table}"', 1)[1].split("</thead>", 1)[0]
    return [int(year) for year in re.findall(r'data-year="(\d{4})"', section)]


def by_year(html: str, table: str, key: str) -> dict[int, str]:
    return dict(zip(years_of(html, table), row_values(html, key), strict=True))


def test_the_agreements_row_is_the_records_from_the_seeded_data(client):
    response = client.get("/stats")
    assert response.status_code == 200
    html = text_of(response)
    covered = by_year(html, "coverage", "agreements.municipalities")
    assert [covered[year] for year in range(2016, 2021)] == ["210", "236", "321", "321", "372"]
    assert "各年度の8月1日時点の累計です" in html  # the rule beside the table
    assert '<th scope="row">広域連携協定 締結自治体数</th>' in html


def test_fy2019_has_a_footnote_that_gives_the_year_end_count(client):
    page = page_of(client.get("/stats"))
    note = page.by_id("stats-note-2019")
    assert note is not None
    assert "千葉県市長会、山梨県町村会" in note.text and "基準日（令和元年8月1日（2019-08-01））" in note.text
    assert "この年度の締結自治体数は372です" in note.text
    refs = [a for a in page.all("a") if a.attrs.get("href") == "#stats-note-2019"]
    assert len(refs) == 1 and refs[0].attrs["aria-label"] == "注: 平成31年度（2019年度）"


def test_fiscal_years_are_named_by_the_era_of_their_first_day(client):
    html = text_of(client.get("/stats"))
    assert "平成31年度（2019年度）" in html and "令和2年度（2020年度）" in html and "平成28年度（2016年度）" in html
    assert "令和元年度" not in html


def test_another_reference_day_is_said_and_counted(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "STATS_REFERENCE_DAY", "03-31")
    html = text_of(client.get("/stats"))
    assert by_year(html, "coverage", "agreements.municipalities")[2019] == "372"
    assert "各年度の3月31日時点の累計です" in html


@pytest.mark.parametrize("value", ["02-29", "8/1", "13-01"])
def test_a_reference_day_that_not_every_year_has_is_refused_at_start(tmp_path, value):
    with pytest.raises(ConfigError, match="STATS_REFERENCE_DAY"):
        make_test_app("sqlite://", tmp_path, STATS_REFERENCE_DAY=value)


def test_each_table_has_a_named_chart_beside_it(client):
    page = page_of(client.get("/stats"))
    svgs = page.all("svg")
    tables = [t for t in page.all("table") if "stats-table" in t.classes]
    assert len(svgs) == len(tables) == 6
    for svg in svgs:
        assert svg.attrs["role"] == "img"
        title_id, desc_id = svg.attrs["aria-labelledby"].split()
        assert page.by_id(title_id).text.strip().endswith("の図") and page.by_id(desc_id).text.strip()
    bars = [e for e in page.all("title") if e.text.startswith("平成31年度（2019年度） 広域連携協定 締結自治体数")]
    assert [bar.text for bar in bars] == ["平成31年度（2019年度） 広域連携協定 締結自治体数: 321"]


def test_the_public_sees_a_summary_that_names_no_post(client, auth, people, make_post):
    make_post(people.sakai, PostState.PENDING, title="審査中のひみつの提案")
    make_post(people.sakai, title="公開中の提案")
    public = text_of(client.get("/stats"))
    assert "登録を承認" not in public and "メールを再送" not in public
    assert "審査中のひみつの提案" not in public and "公開中の提案" not in public
    auth.login(people.kushiro)
    member = text_of(client.get("/stats"))
    assert "登録を承認" not in member and "ひみつ" not in member
    auth.logout()
    auth.login(people.moderator)
    moderator = text_of(client.get("/stats"))
    assert "登録を承認" in moderator and "メールを再送" in moderator
    assert "ひみつ" not in moderator  # counts only, for moderators too


def test_the_page_costs_the_same_few_queries_whatever_the_number_of_posts(client, auth, people, count_queries):
    auth.login(people.moderator)
    costs = []
    for start, added in ((0, 3), (3, 57)):
        add_posts(added, people.sakai, start=start)
        costs.append(cost(client, count_queries, "/stats"))
    assert costs[0] == costs[1] <= MAX_QUERIES
    with count_queries() as counter:
        client.get("/stats")
    assert sum("GROUP BY" in statement.upper() for statement in counter.statements) == 4  # and one plain read


def test_the_record_reads_in_english(client):
    html = text_of(client.get("/stats", headers={"Accept-Language": "en"}))
    assert "Statistics by fiscal year" in html and "FY2019 (Heisei 31)" in html and "FY2020 (Reiwa 2)" in html
    assert '<th scope="row">Municipalities covered by broad-area agreements</th>' in html
    assert "concluded on 2019-10-26 (Reiwa 1)" in html
    rows = text_of(client.get("/stats.csv", headers={"Accept-Language": "en"})).splitlines()
    assert rows[0].lstrip("\ufeff").startswith("Measure,FY")
