"""Charts of the record drawn on the server as SVG: the geometry here, the markup in templates/stats/_chart.html.

Each chart is an image with an accessible name and the table beside it holding the same numbers; series are told
apart by colour and by shape (line dashes and marker forms), never by colour alone. No script and no inline style: the
classes are in static/css/site.css.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bulletin.stats.record import Record, Table, shown

WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 36  # room for the value axis, the year axis below
TOTALS_ROW = 22  # height of one bar of a totals chart
TOTALS_LEFT = 190  # room for a category's name


@dataclass(frozen=True)
class Bar:
    """A rectangle and what it says."""

    x: float
    y: float
    width: float
    height: float
    series: int
    title: str


@dataclass(frozen=True)
class Line:
    """A series drawn as a polyline with a marker on each year."""

    series: int
    points: str
    markers: tuple[tuple[float, float, str], ...]


@dataclass(frozen=True)
class Tick:
    """A gridline of the value axis, or a label of the category axis."""

    position: float
    label: str


@dataclass(frozen=True)
class Chart:
    """One chart: its kind (bars, lines, totals), size, shapes, axes and legend."""

    key: str
    kind: str
    width: int
    height: int
    bars: tuple[Bar, ...]
    lines: tuple[Line, ...]
    value_ticks: tuple[Tick, ...]
    category_ticks: tuple[Tick, ...]
    legend: tuple[str, ...]
    plot: tuple[float, float, float, float]  # left, top, right, bottom


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10ⁿ not below value (1 for nothing to show), so that gridlines fall on round
    numbers."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def _value_ticks(top_value: float, to_position, count: int = 4) -> tuple[Tick, ...]:
    ticks = []
    for number in range(count + 1):
        value = top_value * number / count
        label = f"{value:g}" if value != int(value) else str(int(value))
        ticks.append(Tick(round(to_position(value), 1), label))
    return tuple(ticks)


def charts_of(record: Record) -> dict[str, Chart]:
    """A chart for each table of the record, by the table's key."""
    return {table.key: chart_of(record, table) for table in record.tables}


def chart_of(record: Record, table: Table) -> Chart:
    """The chart of one table: bars or lines by fiscal year, or one horizontal bar per row for totals."""
    if table.chart == "totals":
        return _totals_chart(table)
    series = [table.row(key) for key in table.plotted]
    values = [[float(value or 0) for value in row.values] for row in series]
    top_value = nice_ceiling(max((value for row in values for value in row), default=0))
    left, top, right, bottom = LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM
    slot = (right - left) / max(len(record.years), 1)

    def y_of(value: float) -> float:
        return bottom - (bottom - top) * value / top_value

    year_names = record.year_labels()
    bars: list[Bar] = []
    lines: list[Line] = []
    if table.chart == "bars":
        width = slot * 0.8 / max(len(series), 1)
        for index, row in enumerate(series):
            for position, value in enumerate(values[index]):
                x = left + slot * position + slot * 0.1 + width * index
                title = f"{year_names[position]} {row.label}: {shown(row.values[position])}"
                bars.append(
                    Bar(
                        round(x, 1),
                        round(y_of(value), 1),
                        round(width, 1),
                        round(bottom - y_of(value), 1),
                        index,
                        title,
                    )
                )
    else:
        for index, row in enumerate(series):
            points = [(round(left + slot * (p + 0.5), 1), round(y_of(v), 1)) for p, v in enumerate(values[index])]
            markers = tuple(
                (x, y, f"{year_names[p]} {row.label}: {shown(row.values[p])}") for p, (x, y) in enumerate(points)
            )
            lines.append(Line(index, " ".join(f"{x},{y}" for x, y in points), markers))
    category_ticks = tuple(
        Tick(round(left + slot * (position + 0.5), 1), str(year)) for position, year in enumerate(record.years)
    )
    return Chart(
        table.key,
        table.chart,
        WIDTH,
        HEIGHT,
        tuple(bars),
        tuple(lines),
        _value_ticks(top_value, y_of),
        category_ticks,
        tuple(row.label for row in series),
        (left, top, right, bottom),
    )


def _totals_chart(table: Table) -> Chart:
    rows = [table.row(key) for key in table.plotted]
    totals = [sum(value or 0 for value in row.values) for row in rows]
    top_value = nice_ceiling(max(totals, default=0))
    height = TOP + TOTALS_ROW * len(rows) + BOTTOM
    left, top, right, bottom = TOTALS_LEFT, TOP, WIDTH - RIGHT, height - BOTTOM

    def x_of(value: float) -> float:
        return left + (right - left) * value / top_value

    bars = tuple(
        Bar(
            left, top + TOTALS_ROW * index + 3, round(x_of(total) - left, 1), TOTALS_ROW - 6, 0, f"{row.label}: {total}"
        )
        for index, (row, total) in enumerate(zip(rows, totals, strict=True))
    )
    category_ticks = tuple(
        Tick(top + TOTALS_ROW * index + TOTALS_ROW / 2, _category_name(row.label)) for index, row in enumerate(rows)
    )
    return Chart(
        table.key,
        "totals",
        WIDTH,
        height,
        bars,
        (),
        _value_ticks(top_value, x_of),
        category_ticks,
        (),
        (left, top, right, bottom),
    )


def _category_name(label: str) -> str:
    """The category of a row labelled 投稿 分野 観光・PR: the part after the last space."""
    return label.rsplit(" ", 1)[-1]
