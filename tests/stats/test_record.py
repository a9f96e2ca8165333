"""The record (実績) by fiscal year: cumulative counts as of the reference day, reproduced from the seeded agreements
alone (210 / 236 / 321 / 372); the union counting each municipality once; what happens counted within its fiscal
year (Japan time); a few grouped statements whatever the data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bulletin.core.text import fiscal_year_of, today_in_japan
from bulletin.extensions import db
from bulletin.organizations.models import ExchangeKind, ExchangeRelation
from bulletin.posts.models import PostState
from bulletin.stats.record import build_record, first_counted_year, reference_date
from tests.constants import KUSHIRO_TOWN, SAKAI, SHINAGAWA

AUGUST_1 = (8, 1)
NOW = fiscal_year_of(today_in_japan())  # the fiscal year of what the tests publish
JOINED = first_counted_year(today_in_japan(), AUGUST_1)  # the first year counting the members the tests make
TODAY = reference_date(JOINED, AUGUST_1)  # a day on which the record has that year's column


def covered(reference_day=AUGUST_1, today=TODAY) -> dict[int, int]:
    """Municipalities covered by the agreements, by fiscal year."""
    record = build_record(reference_day, today, full=True)
    return dict(zip(record.years, record.row("agreements.municipalities").values, strict=True))


def test_the_seeded_agreements_give_the_records_row(app):
    counts = covered()
    assert min(counts) == 2016  # the first agreements (2016-04-26) open the record
    assert [counts[year] for year in range(2016, 2021)] == [210, 236, 321, 321, 372]
    assert counts[JOINED] == 372


def test_the_late_2019_agreements_count_from_fy2020_under_the_1_august_rule_and_a_note_says_so(app):
    record = build_record(AUGUST_1, TODAY, full=False)
    notes = {note.year: note.text for note in record.footnotes}
    assert list(notes) == [2016, 2017, 2019]  # every year with agreements concluded after 1 August
    assert "この年度の締結自治体数は236です" in notes[2016]
    assert "千葉県市長会、山梨県町村会" in notes[2019] and "令和元年10月26日（2019-10-26）" in notes[2019]
    assert "この年度の締結自治体数は372です" in notes[2019]
    assert record.row("agreements").values[:5] == (5, 7, 11, 11, 13)


def test_another_reference_day_moves_the_agreements_but_never_the_data(app):
    assert covered((3, 31))[2019] == 372  # counted at the year's end, the late agreements fall in FY2019
    assert covered((3, 31))[2016] == 236  # 千葉県町村会 and 広島県町村会 (January 2017) too
    assert min(covered((4, 1))) == 2017 and covered((4, 1))[2017] == 236  # nothing counted on 1 April 2016


@pytest.mark.parametrize(
    ("day", "year"),
    [
        (date(2019, 8, 1), 2019),
        (date(2019, 8, 2), 2020),
        (date(2019, 3, 31), 2019),  # FY2018 ended after its reference day: counts from FY2019
        (date(2019, 4, 1), 2019),
    ],
)
def test_a_date_counts_from_the_first_reference_day_on_or_after_it(day, year):
    assert first_counted_year(day, AUGUST_1) == year
    assert reference_date(2019, AUGUST_1) == date(2019, 8, 1) and reference_date(2019, (3, 31)) == date(2020, 3, 31)


def test_the_union_counts_a_municipality_once_whatever_ties_it(app, people, organization):
    shinagawa, sakai, kushiro = organization(SHINAGAWA), organization(SAKAI), organization(KUSHIRO_TOWN)
    db.session.add_all(
        [
            ExchangeRelation(
                ward=shinagawa, municipality=sakai, started_on=date(2015, 11, 18), kind=ExchangeKind.OTHER
            ),
            # 釧路町: a member, covered by 北海道町村会's agreement, and a partner twice over
            ExchangeRelation(
                ward=shinagawa, municipality=kushiro, started_on=date(2020, 5, 1), kind=ExchangeKind.FRIENDSHIP
            ),
            ExchangeRelation(
                ward=organization("131016"), municipality=kushiro, started_on=date(2021, 1, 1), kind=ExchangeKind.OTHER
            ),
        ]
    )
    db.session.commit()
    record = build_record(AUGUST_1, TODAY, full=False)
    by_year = {key: dict(zip(record.years, record.row(key).values, strict=True)) for key in (
        "municipalities", "exchange.municipalities", "members.municipalities", "agreements.municipalities"
    )}  # fmt: skip
    assert record.years[0] == 2016  # 2015's relation counts in the first year shown, nothing is lost
    assert by_year["exchange.municipalities"][2016] == 1 and by_year["exchange.municipalities"][2020] == 2
    assert by_year["members.municipalities"][JOINED] == 2  # 坂井市 and 釧路町 became members today
    assert by_year["municipalities"][2016] == 211  # the agreements' 210 and 坂井市
    assert by_year["municipalities"][2020] == 373
    assert by_year["municipalities"][JOINED] == 373  # 釧路町 three times over, counted once


def test_members_are_counted_by_kind_new_and_cumulative(app, people):
    record = build_record(AUGUST_1, TODAY, full=False)
    values = {row.key: dict(zip(record.years, row.values, strict=True)) for row in record.table("members").rows}
    assert values["members.association"][2016] == 5 and values["members.association"][JOINED] == 13
    assert values["members.association.new"][2020] == 2  # the associations of the late-2019 agreements
    assert values["members.city"][JOINED] == 1 and values["members.town"][JOINED] == 1  # 坂井市, 釧路町
    assert values["members.city.new"][JOINED] == 1 and values["members.city.new"][JOINED - 1] == 0
    assert values["members"][JOINED] == 15
    assert not any(row.key.startswith("members.special_ward") for row in record.table("members").rows)


def published_at(post, moment: datetime) -> None:
    post.published_at = post.submitted_at = moment
    db.session.commit()


def test_what_happens_counts_in_its_fiscal_year_in_japan_time(app, people, make_post, respond_as):
    before = make_post(people.sakai)
    on_time = make_post(people.sakai)
    call = make_post(people.shinagawa)
    make_post(people.sakai, PostState.DRAFT)
    # 1 April 2025 begins at 15:00 UTC on 31 March
    published_at(before, datetime(2025, 3, 31, 14, 59, 59, tzinfo=UTC))
    published_at(on_time, datetime(2025, 3, 31, 15, 0, tzinfo=UTC))
    response = respond_as(people.shinagawa, on_time)
    response.created_at = on_time.published_at + timedelta(days=3)
    quick, unanswered = make_post(people.sakai), make_post(people.sakai)
    published_at(quick, datetime(2025, 10, 1, tzinfo=UTC))
    published_at(unanswered, datetime(2025, 10, 1, tzinfo=UTC))
    for hours in (24, 30):  # only the first response counts
        later = respond_as(people.chiyoda if hours == 30 else people.shinagawa, quick)
        later.created_at = quick.published_at + timedelta(hours=hours)
    db.session.commit()
    record = build_record(AUGUST_1, TODAY, full=False)
    values = {row.key: dict(zip(record.years, row.values, strict=True)) for row in record.table("posts").rows}
    assert values["posts.proposal"][2024] == 1 and values["posts.proposal"][2025] == 3
    assert values["posts.call"][NOW] == 1 and values["posts"][NOW] == 1
    assert values["responses"][2025] == 3
    assert values["responses.rate"][2025] == 66.7 and values["responses.rate"][2024] == 0.0  # 2 of 3 answered
    assert values["responses.median_days"][2025] == 2.0  # the middle of 1 and 3 days
    assert values["responses.median_days"][2024] is None
    assert values["responses.rate"][2023] is None  # no post published: no rate
    category = record.row(f"posts.category.{call.category}")
    assert category.values[record.years.index(NOW)] == 1


def test_partnerships_cases_and_decisions_are_counted(app, people, case):
    public = build_record(AUGUST_1, TODAY, full=False)
    full = build_record(AUGUST_1, TODAY, full=True)
    year = public.years.index(NOW)
    assert public.row("partnerships").values[year] == 1 and public.row("cases").values[year] == 1
    assert public.row("decisions.approve_post").values[year] == 1
    assert public.row("decisions.publish_case").values[year] == 1
    assert public.row("decisions.median_days").values[year] is not None
    assert not any(row.key == "decisions.approve_user" for row in public.table("moderation").rows)
    assert full.row("decisions.approve_user").values[year] == 0
    assert full.row("decisions.approve_user").values[year] == 0 and full.row("decisions.retry_mail")


def test_the_record_costs_a_few_statements_whatever_the_data(app, people, make_post, count_queries):
    make_post(people.sakai)
    with count_queries() as counter:
        build_record(AUGUST_1, TODAY, full=True)
    assert counter.count == 5  # grouped statements: none per year, organization or post
