"""The record as CSV (/stats.csv): UTF-8 with a BOM, a header row of fiscal years, one row per measure with plain
numbers; the agreements' row reproduced from the seeded data; the same rows as the page for the same viewer."""

from __future__ import annotations

import csv
import io
import re

from tests.factories import text_of


def rows_of(response) -> list[list[str]]:
    """The CSV's rows, read as Excel would: UTF-8 after its BOM."""
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.data.startswith("\ufeff".encode())
    assert re.fullmatch(r'attachment; filename="bulletin-stats-\d{8}\.csv"', response.headers["Content-Disposition"])
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def by_label(rows: list[list[str]]) -> dict[str, dict[int, str]]:
    years = [int(re.search(r"(\d{4})年度）$", label)[1]) for label in rows[0][1:]]
    return {row[0]: dict(zip(years, row[1:], strict=True)) for row in rows[1:]}


def test_the_agreements_row_is_the_records(client):
    rows = rows_of(client.get("/stats.csv"))
    assert rows[0][0] == "項目" and "平成31年度（2019年度）" in rows[0]
    covered = by_label(rows)["広域連携協定 締結自治体数"]
    assert [covered[year] for year in range(2016, 2021)] == ["210", "236", "321", "321", "372"]


def test_another_reference_day_moves_fy2019(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "STATS_REFERENCE_DAY", "03-31")
    assert by_label(rows_of(client.get("/stats.csv")))["広域連携協定 締結自治体数"][2019] == "372"


def test_numbers_are_plain_and_every_row_is_as_long_as_the_header(client, auth, people, case):
    rows = rows_of(client.get("/stats.csv"))
    assert all(len(row) == len(rows[0]) for row in rows)
    cells = [cell for row in rows[1:] for cell in row[1:]]
    assert all(re.fullmatch(r"\d+(\.\d)?|", cell) for cell in cells)
    assert any(re.fullmatch(r"\d+\.\d", cell) for cell in cells)  # the response share and the medians
    assert len({row[0] for row in rows}) == len(rows)  # each label names its measure alone


def test_the_csv_holds_the_rows_of_the_page_for_the_same_viewer(client, auth, people):
    labels = {}
    for user in (None, people.kushiro, people.moderator):
        if user is not None:
            auth.login(user)
        page_rows = re.findall(r'<tr data-row="[^"]+">\s*<th scope="row">([^<]+)</th>', text_of(client.get("/stats")))
        labels[user] = [row[0] for row in rows_of(client.get("/stats.csv"))[1:]]
        assert labels[user] == page_rows
        auth.logout()
    assert labels[None] == labels[people.kushiro]
    assert "審査 登録を承認" not in labels[None] and "審査 登録を承認" in labels[people.moderator]
