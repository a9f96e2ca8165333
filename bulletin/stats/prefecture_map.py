"""The map of Japan by prefecture, shaded by a count: outlines shipped with the code, the steps of the shading.

The outlines are the npm package @svg-maps/japan (CC BY 4.0, see data/ATTRIBUTION.md), keyed by prefecture code by
scripts/build_japan_map.py; nothing is fetched at runtime.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from bulletin.organizations.data import prefectures

STEPS = 5  # shaded steps above step 0 (none)


@dataclass(frozen=True)
class Outlines:
    """The drawing's viewBox and each prefecture's SVG path, by two-digit code."""

    view_box: str
    paths: dict[str, str]
    source: str
    license: str


@cache
def outlines() -> Outlines:
    """The prefecture outlines, read once."""
    data = json.loads(resources.files("bulletin.stats").joinpath("data", "japan-prefectures.json").read_text("utf-8"))
    return Outlines(data["viewBox"], data["prefectures"], data["source"], data["license"])


@dataclass(frozen=True)
class Step:
    """One step of the legend: its class number and the counts it covers."""

    number: int
    low: int
    high: int


@dataclass(frozen=True)
class ShadedPrefecture:
    """A prefecture on the map: its outline, its count and the step that count falls in."""

    code: str
    name: str
    path: str
    count: int
    step: int


@dataclass(frozen=True)
class ShadedMap:
    """All 47 prefectures shaded by their counts, with the legend's steps (empty ones left out)."""

    prefectures: list[ShadedPrefecture]
    steps: list[Step]
    view_box: str
    total: int


def legend_steps(highest: int) -> list[Step]:
    """Step 0 is no count; steps 1–5 split 1..highest in five equal ranges (those holding no whole number dropped)."""
    steps = [Step(0, 0, 0)]
    for number in range(1, STEPS + 1):
        low, high = (number - 1) * highest // STEPS + 1, number * highest // STEPS
        if low <= high:
            steps.append(Step(number, low, high))
    return steps


def shaded_map(counts: dict[str, int]) -> ShadedMap:
    """The map with each prefecture in the step of its count (prefectures missing from counts have none)."""
    shapes = outlines()
    steps = legend_steps(max(counts.values(), default=0))
    shaded = []
    for code, (name, _kana) in prefectures().items():
        count = counts.get(code, 0)
        step = next(step.number for step in steps if step.low <= count <= step.high)
        shaded.append(ShadedPrefecture(code, name, shapes.paths[code], count, step))
    return ShadedMap(shaded, steps, shapes.view_box, sum(counts.values()))
