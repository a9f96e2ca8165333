"""The record (実績): the project's counts by fiscal year, as the secretariat reports them every year.

Two rules, both shown beside the tables:

- what organizations are (members, municipalities covered by the broad-area agreements, exchange partners) is
  counted cumulatively as of a reference day of each fiscal year (`STATS_REFERENCE_DAY`, 1 August as the record
  counts): something dated after that day counts from the next fiscal year;
- what happens (posts published, responses, partnerships, cases, moderation decisions) is counted within the fiscal
  year it happened in, April to March, Japan time.

Everything comes from a few grouped statements (bulletin/stats/queries.py), never one per year or organization.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _

from bulletin.core.audit import DecisionAction
from bulletin.core.text import fiscal_year_of, format_dual_date, format_fiscal_year
from bulletin.organizations.data import WARDS_MEMBER_SINCE
from bulletin.organizations.models import OrganizationKind
from bulletin.posts.categories import CATEGORIES
from bulletin.posts.models import PostKind
from bulletin.stats import queries

# Nothing the board holds is older than the project: earlier dates count in its first fiscal year.
FIRST_FISCAL_YEAR = fiscal_year_of(WARDS_MEMBER_SINCE)
MEMBER_KINDS = (
    OrganizationKind.CITY,
    OrganizationKind.TOWN,
    OrganizationKind.VILLAGE,
    OrganizationKind.PREFECTURE,
    OrganizationKind.ASSOCIATION,
)
MUNICIPAL_KINDS = frozenset({OrganizationKind.CITY, OrganizationKind.TOWN, OrganizationKind.VILLAGE})
# What the public sees of the moderation log: decisions on what members wrote and on the public cases.
PUBLIC_DECISIONS = (
    DecisionAction.APPROVE_POST,
    DecisionAction.REJECT_POST,
    DecisionAction.APPROVE_REVISION,
    DecisionAction.REJECT_REVISION,
    DecisionAction.HIDE_POST,
    DecisionAction.UNHIDE_POST,
    DecisionAction.PUBLISH_CASE,
    DecisionAction.UNPUBLISH_CASE,
)

Value = int | float | None


@dataclass(frozen=True)
class Row:
    """One measure: a label that names it on its own (the CSV's first cell) and a value per fiscal year."""

    key: str
    label: str
    values: tuple[Value, ...]

    @property
    def shown(self) -> tuple[str, ...]:
        """The values as the page shows them: whole numbers plain, a share or a median with one decimal, - for none."""
        return tuple(shown(value) for value in self.values)


@dataclass(frozen=True)
class Table:
    """A table of the record, with the rule it counts by and the rows its chart draws (`bars`, `lines`, or
    `totals`: one horizontal bar per row, all years together)."""

    key: str
    title: str
    rule: str
    rows: tuple[Row, ...]
    chart: str
    plotted: tuple[str, ...]

    def row(self, key: str) -> Row:
        """The row with this key."""
        return next(row for row in self.rows if row.key == key)


@dataclass(frozen=True)
class Footnote:
    """A remark on one fiscal year's figures."""

    year: int
    text: str


@dataclass(frozen=True)
class Record:
    """The tables, the fiscal years they have a column for (oldest first), and the footnotes."""

    years: tuple[int, ...]
    reference_day: tuple[int, int]
    tables: tuple[Table, ...]
    footnotes: tuple[Footnote, ...]
    locale: str = "ja"

    def row(self, key: str) -> Row:
        """The row with this key, in whichever table holds it."""
        return next(row for table in self.tables for row in table.rows if row.key == key)

    def table(self, key: str) -> Table:
        """The table with this key."""
        return next(table for table in self.tables if table.key == key)

    def year_labels(self) -> list[str]:
        """Each fiscal year's name, 平成31年度（2019年度） and the like."""
        return [format_fiscal_year(year, self.locale) for year in self.years]


def shown(value: Value, none: str = "-") -> str:
    """A value written plainly: no separators, one decimal for a share or a median, `none` where there is none."""
    if value is None:
        return none
    return str(value) if isinstance(value, int) else f"{value:.1f}"


def reference_date(year: int, reference_day: tuple[int, int]) -> date:
    """The day of fiscal year `year` its cumulative counts are taken on (a day in January to March is the next
    calendar year's)."""
    month, day = reference_day
    return date(year if month >= 4 else year + 1, month, day)


def first_counted_year(day: date, reference_day: tuple[int, int]) -> int:
    """The first fiscal year whose count as of its reference day includes something dated `day`."""
    year = fiscal_year_of(day)
    return year if day <= reference_date(year, reference_day) else year + 1


def build_record(reference_day: tuple[int, int], today: date, full: bool, locale: str = "ja") -> Record:
    """The record up to the fiscal year of `today`; `full` (moderators) adds what is not public: every kind of
    moderation decision."""
    current = max(fiscal_year_of(today), FIRST_FISCAL_YEAR)
    span = tuple(range(FIRST_FISCAL_YEAR, current + 1))
    organizations = queries.organization_dates()
    agreements = queries.agreement_dates()
    activity = queries.activity_counts(span)
    counted = [first_counted_year(day, reference_day) for _id, _kind, _source, day in organizations]
    counted += [first_counted_year(day, reference_day) for _name, day in agreements]
    first = min([*counted, *(year for *_rest, year, _count in activity)], default=current)
    years = tuple(range(min(max(first, FIRST_FISCAL_YEAR), current), current + 1))
    stock = _Stock(years, reference_day)
    flows = _Flows(years, activity)
    tables = (
        _members_table(stock, organizations),
        _coverage_table(stock, organizations, agreements),
        _posts_table(flows, queries.response_times(years)),
        _categories_table(flows),
        _partnerships_table(flows),
        _moderation_table(flows, queries.decision_times(years), full),
    )
    notes = _late_agreement_notes(stock, organizations, agreements, locale)
    return Record(years, reference_day, tables, notes, locale)


@dataclass(frozen=True)
class _Stock:
    """Cumulative counts as of each year's reference day."""

    years: tuple[int, ...]
    reference_day: tuple[int, int]

    def cumulative(self, days: Iterable[date]) -> tuple[int, ...]:
        """How many of the days each year's reference day has reached (earlier than the first year: in it)."""
        by_year = Counter(first_counted_year(day, self.reference_day) for day in days)
        total = sum(count for year, count in by_year.items() if year < self.years[0])
        values = []
        for year in self.years:
            total += by_year.get(year, 0)
            values.append(total)
        return tuple(values)

    def new(self, days: Iterable[date]) -> tuple[int, ...]:
        """What each year's cumulative count adds to the year before's (the first year's: all it counts)."""
        totals = self.cumulative(days)
        return tuple(total - (totals[index - 1] if index else 0) for index, total in enumerate(totals))


class _Flows:
    """Counts within each fiscal year, from the grouped activity rows."""

    def __init__(self, years: tuple[int, ...], rows: list[tuple[str, str, str, int, int]]):
        self.years = years
        self.counts: Counter[tuple[str, str, str, int]] = Counter()
        for measure, kind, detail, year, count in rows:
            self.counts[(measure, kind, detail, year)] += count

    def values(self, measure: str, kind: str | None = None, detail: str | None = None) -> tuple[int, ...]:
        totals: Counter[int] = Counter()
        for (row_measure, row_kind, row_detail, year), count in self.counts.items():
            if row_measure == measure and kind in (None, row_kind) and detail in (None, row_detail):
                totals[year] += count
        return tuple(totals.get(year, 0) for year in self.years)

    def kinds(self, measure: str) -> set[str]:
        return {kind for (row_measure, kind, _detail, _year) in self.counts if row_measure == measure}


def _rounded(days: float | None) -> float | None:
    return round(days, 1) if days is not None else None


def _reference_rule(reference_day: tuple[int, int]) -> str:
    month, day = reference_day
    return _(
        "各年度の%(month)d月%(day)d日時点の累計です（それより後の日付のものは翌年度から数えます）。",
        month=month,
        day=day,
    )


def _flow_rule() -> str:
    return _("各年度（4月1日〜翌年3月31日、日本時間）に起きた件数です。")


def _members_table(stock: _Stock, organizations: Sequence[tuple[int, OrganizationKind, str, date]]) -> Table:
    members = [(kind, day) for _id, kind, source, day in organizations if source == "member"]
    rows = []
    for kind in MEMBER_KINDS:
        days = [day for member_kind, day in members if member_kind == kind]
        rows.append(Row(f"members.{kind.value}.new", _("会員団体 %(kind)s 新規", kind=kind.label), stock.new(days)))
        rows.append(Row(f"members.{kind.value}", _("会員団体 %(kind)s 累計", kind=kind.label), stock.cumulative(days)))
    all_days = [day for _kind, day in members]
    rows.append(Row("members.new", _("会員団体 合計 新規"), stock.new(all_days)))
    rows.append(Row("members", _("会員団体 合計 累計"), stock.cumulative(all_days)))
    rule = _reference_rule(stock.reference_day) + _("特別区は最初からの会員のため数えません。")
    plotted = tuple(f"members.{kind.value}" for kind in MEMBER_KINDS)
    return Table("members", _("会員団体数"), rule, tuple(rows), "lines", plotted)


def _coverage_table(
    stock: _Stock,
    organizations: Sequence[tuple[int, OrganizationKind, str, date]],
    agreements: Sequence[tuple[str, date]],
) -> Table:
    firsts: dict[str, list[date]] = {"member": [], "agreement": [], "exchange": []}
    earliest: dict[int, date] = {}
    for org_id, kind, source, day in organizations:
        if kind not in MUNICIPAL_KINDS:
            continue
        firsts[source].append(day)
        earliest[org_id] = min(day, earliest.get(org_id, day))
    rows = (
        Row("agreements", _("広域連携協定 協定数"), stock.cumulative(day for _name, day in agreements)),
        Row("agreements.municipalities", _("広域連携協定 締結自治体数"), stock.cumulative(firsts["agreement"])),
        Row("exchange.municipalities", _("交流自治体数"), stock.cumulative(firsts["exchange"])),
        Row("members.municipalities", _("会員の市町村数"), stock.cumulative(firsts["member"])),
        Row("municipalities", _("連携する市町村数（重複なし）"), stock.cumulative(earliest.values())),
    )
    rule = _reference_rule(stock.reference_day) + _(
        "締結自治体数は協定の締結日から、その協定の構成市町村を数えます。交流自治体数は特別区と交流関係にある"
        "市町村の数です。重複なしの数は、会員・協定・交流のどれかに当たる市町村を一度だけ数えます。"
    )
    plotted = ("agreements.municipalities", "exchange.municipalities", "members.municipalities", "municipalities")
    return Table("coverage", _("広域連携協定・交流自治体"), rule, rows, "lines", plotted)


def _posts_table(flows: _Flows, response_times: dict[int, tuple[int, float | None]]) -> Table:
    published = dict(zip(flows.years, flows.values("post"), strict=True))
    rates: list[Value] = []
    medians: list[Value] = []
    for year in flows.years:
        answered, days = response_times.get(year, (0, None))
        rates.append(round(100 * answered / published[year], 1) if published[year] else None)
        medians.append(_rounded(days))
    rows = [
        Row(f"posts.{kind.value}", _("投稿 %(kind)s", kind=kind.label), flows.values("post", kind.value))
        for kind in PostKind
    ]
    rows += [
        Row("posts", _("投稿 合計"), flows.values("post")),
        Row("responses", _("応答"), flows.values("response")),
        Row("responses.rate", _("応答のあった投稿の割合（%）"), tuple(rates)),
        Row("responses.median_days", _("公開から最初の応答までの日数（中央値）"), tuple(medians)),
    ]
    rule = _flow_rule() + _("投稿は公開した日の年度に数え、応答の割合と日数はその年度に公開した投稿について数えます。")
    plotted = tuple(f"posts.{kind.value}" for kind in PostKind)
    return Table("posts", _("投稿と応答"), rule, tuple(rows), "bars", plotted)


def _categories_table(flows: _Flows) -> Table:
    rows = tuple(
        Row(f"posts.category.{key}", _("投稿 分野 %(category)s", category=label), flows.values("post", detail=key))
        for key, label in CATEGORIES.items()
    )
    rule = _flow_rule() + _("公開した投稿を分野ごとに数えます。図は全年度の合計です。")
    return Table("categories", _("分野別の投稿"), rule, rows, "totals", tuple(row.key for row in rows))


def _partnerships_table(flows: _Flows) -> Table:
    rows = (
        Row("partnerships", _("連携"), flows.values("partnership")),
        Row("cases", _("公開された連携事例"), flows.values("case")),
    )
    rule = _flow_rule() + _("連携は成立した日、連携事例は公開した日の年度に数えます。")
    return Table("partnerships", _("連携と連携事例"), rule, rows, "bars", ("partnerships", "cases"))


def _moderation_table(flows: _Flows, decision_times: dict[int, tuple[int, float | None]], full: bool) -> Table:
    actions = list(DecisionAction) if full else list(PUBLIC_DECISIONS)
    rows = [
        Row(f"decisions.{action.value}", _("審査 %(action)s", action=action.label), flows.values("decision", action))
        for action in actions
    ]
    if full:
        known = {action.value for action in DecisionAction}
        rows += [
            Row(f"decisions.{kind}", _("審査 %(action)s", action=kind), flows.values("decision", kind))
            for kind in sorted(flows.kinds("decision") - known)
        ]
    medians = tuple(_rounded(decision_times.get(year, (0, None))[1]) for year in flows.years)
    rows.append(Row("decisions.median_days", _("投稿の提出から審査までの日数（中央値）"), medians))
    rule = _flow_rule() + _(
        "モデレーターの判断を操作ごとに数えます。日数は、公開または差し戻しの判断をした日の年度に数えます。"
    )
    plotted = ("decisions.approve_post", "decisions.reject_post")
    return Table("moderation", _("審査"), rule, tuple(rows), "bars", plotted)


def _late_agreement_notes(
    stock: _Stock,
    organizations: Sequence[tuple[int, OrganizationKind, str, date]],
    agreements: Sequence[tuple[str, date]],
    locale: str,
) -> tuple[Footnote, ...]:
    """A note on each year in which agreements were concluded after the reference day: they count from the next
    year, and the note gives the count the year would have had at its end (31 March)."""
    notes = []
    covered = [day for _id, kind, source, day in organizations if source == "agreement" and kind in MUNICIPAL_KINDS]
    for year in stock.years:
        as_of = reference_date(year, stock.reference_day)
        late = [(name, day) for name, day in agreements if fiscal_year_of(day) == year and day > as_of]
        if not late:
            continue
        year_end = date(year + 1, 3, 31)
        notes.append(
            Footnote(
                year,
                _(
                    "%(year)s: %(names)sとの協定は%(day)sの締結で、基準日（%(as_of)s）より後のため"
                    "翌年度から数えています。年度末（%(year_end)s）時点で数えると、この年度の締結自治体数は%(count)dです。",
                    year=format_fiscal_year(year, locale),
                    names="、".join(name for name, _day in late),
                    day="、".join(format_dual_date(day, locale) for day in sorted({day for _name, day in late})),
                    as_of=format_dual_date(as_of, locale),
                    year_end=format_dual_date(year_end, locale),
                    count=sum(1 for day in covered if day <= year_end),
                ),
            )
        )
    return tuple(notes)
