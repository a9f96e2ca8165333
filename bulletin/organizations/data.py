"""The reference data the board is seeded with: prefectures and municipalities (from japancode) and agreements.

Nothing here touches the database; `seed.py` loads it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources

from flask_babel import lazy_gettext as _l

from bulletin.organizations.codes import association_code, normalise_dataset_code

# Prefectural capitals: a prefecture's position is its capital's (japancode gives none for prefectures).
PREFECTURAL_CAPITALS = {
    "01": "札幌市",
    "02": "青森市",
    "03": "盛岡市",
    "04": "仙台市",
    "05": "秋田市",
    "06": "山形市",
    "07": "福島市",
    "08": "水戸市",
    "09": "宇都宮市",
    "10": "前橋市",
    "11": "さいたま市",
    "12": "千葉市",
    "13": "新宿区",
    "14": "横浜市",
    "15": "新潟市",
    "16": "富山市",
    "17": "金沢市",
    "18": "福井市",
    "19": "甲府市",
    "20": "長野市",
    "21": "岐阜市",
    "22": "静岡市",
    "23": "名古屋市",
    "24": "津市",
    "25": "大津市",
    "26": "京都市",
    "27": "大阪市",
    "28": "神戸市",
    "29": "奈良市",
    "30": "和歌山市",
    "31": "鳥取市",
    "32": "松江市",
    "33": "岡山市",
    "34": "広島市",
    "35": "山口市",
    "36": "徳島市",
    "37": "高松市",
    "38": "松山市",
    "39": "高知市",
    "40": "福岡市",
    "41": "佐賀市",
    "42": "長崎市",
    "43": "熊本市",
    "44": "大分市",
    "45": "宮崎市",
    "46": "鹿児島市",
    "47": "那覇市",
}

# Tokyo's 23 wards by area, the five areas commonly used for the wards (都心・副都心 as the six central wards),
# each area in the official code order.
WARD_AREAS = (
    (_l("都心・副都心"), ("131016", "131024", "131032", "131041", "131059", "131130")),
    (_l("城東"), ("131067", "131075", "131083", "131181", "131211", "131229", "131237")),
    (_l("城南"), ("131091", "131105", "131113", "131121")),
    (_l("城西"), ("131148", "131156", "131202")),
    (_l("城北"), ("131164", "131172", "131199")),
)

# The 47 prefectures by region (the usual eight, with 北海道 and 東北 together), by two-digit prefecture code.
PREFECTURE_REGIONS = tuple(
    (label, tuple(f"{code:02d}" for code in range(first, last + 1)))
    for label, first, last in (
        (_l("北海道・東北"), 1, 7),
        (_l("関東"), 8, 14),
        (_l("中部"), 15, 23),
        (_l("近畿"), 24, 30),
        (_l("中国"), 31, 35),
        (_l("四国"), 36, 39),
        (_l("九州・沖縄"), 40, 47),
    )
)

_KIND_BY_SUFFIX = {"市": "city", "町": "town", "村": "village"}


@dataclass(frozen=True)
class OrganizationRecord:
    """One organization as the seed sees it."""

    code: str
    name: str
    kana: str
    prefecture_code: str
    kind: str
    latitude: float | None
    longitude: float | None


@dataclass(frozen=True)
class AgreementRecord:
    """A broad-area agreement: the association, its date, and which municipalities of its prefecture it covers."""

    name: str
    kana: str
    prefecture_code: str
    concluded_on: date
    covers: tuple[str, ...]  # organization kinds covered

    @property
    def code(self) -> str:
        """The association's code in the project's own scheme."""
        return association_code(self.prefecture_code, "mayors" if "city" in self.covers else "towns")


TOWNS_AND_VILLAGES = ("town", "village")
CITIES = ("city",)

AGREEMENTS = (
    AgreementRecord("北海道町村会", "ほっかいどうちょうそんかい", "01", date(2016, 4, 26), TOWNS_AND_VILLAGES),
    AgreementRecord("京都府市長会", "きょうとふしちょうかい", "26", date(2016, 4, 26), CITIES),
    AgreementRecord("京都府町村会", "きょうとふちょうそんかい", "26", date(2016, 4, 26), TOWNS_AND_VILLAGES),
    AgreementRecord("青森県市長会", "あおもりけんしちょうかい", "02", date(2016, 6, 25), CITIES),
    AgreementRecord("青森県町村会", "あおもりけんちょうそんかい", "02", date(2016, 6, 25), TOWNS_AND_VILLAGES),
    AgreementRecord("千葉県町村会", "ちばけんちょうそんかい", "12", date(2017, 1, 19), TOWNS_AND_VILLAGES),
    AgreementRecord("広島県町村会", "ひろしまけんちょうそんかい", "34", date(2017, 1, 27), TOWNS_AND_VILLAGES),
    AgreementRecord("奈良県町村会", "ならけんちょうそんかい", "29", date(2018, 2, 21), TOWNS_AND_VILLAGES),
    AgreementRecord("群馬県市長会", "ぐんまけんしちょうかい", "10", date(2018, 4, 16), CITIES),
    AgreementRecord("群馬県町村会", "ぐんまけんちょうそんかい", "10", date(2018, 4, 16), TOWNS_AND_VILLAGES),
    AgreementRecord("埼玉県町村会", "さいたまけんちょうそんかい", "11", date(2018, 5, 1), TOWNS_AND_VILLAGES),
    AgreementRecord("千葉県市長会", "ちばけんしちょうかい", "12", date(2019, 10, 26), CITIES),
    AgreementRecord("山梨県町村会", "やまなしけんちょうそんかい", "19", date(2019, 10, 26), TOWNS_AND_VILLAGES),
)

# The project began in FY2014; the wards are its members from the start.
WARDS_MEMBER_SINCE = date(2014, 4, 1)


def _load_json(name: str) -> list[dict]:
    return json.loads(resources.files("japancode").joinpath("data", name).read_text(encoding="utf-8"))


@cache
def prefectures() -> dict[str, tuple[str, str]]:
    """Two-digit prefecture code -> (name, kana)."""
    return {f"{int(row['pid']):02d}": (row["pref"], row["prefkana"]) for row in _load_json("prefectures.json")}


@cache
def prefecture_choices() -> tuple[tuple[str, str], ...]:
    """(code, name) of the 47 prefectures, in code order, for a select."""
    return tuple((code, name) for code, (name, _kana) in prefectures().items())


def prefecture_name(prefecture_code: str) -> str:
    """The name of a prefecture from its two-digit code ('' when unknown)."""
    return prefectures().get(prefecture_code, ("", ""))[0]


@cache
def organization_records() -> tuple[OrganizationRecord, ...]:
    """All 47 prefectures and 1,741 municipalities; designated-city wards (政令市の区) are left out."""
    municipalities = _load_json("municipalities.json")
    positions = {(f"{int(row['pid']):02d}", row["city"]): (row["lat"], row["lng"]) for row in municipalities}
    records: list[OrganizationRecord] = []
    for row in _load_json("prefectures.json"):
        pref = f"{int(row['pid']):02d}"
        lat, lng = positions.get((pref, PREFECTURAL_CAPITALS[pref]), (None, None))
        records.append(
            OrganizationRecord(
                normalise_dataset_code(row["lgcode"]), row["pref"], row["prefkana"], pref, "prefecture", lat, lng
            )
        )
    for row in municipalities:
        name = row["city"]
        if " " in name:  # 札幌市 中央区: a ward of a designated city, not an organization
            continue
        pref = f"{int(row['pid']):02d}"
        kind = "special_ward" if name.endswith("区") and pref == "13" else _KIND_BY_SUFFIX[name[-1]]
        records.append(
            OrganizationRecord(
                normalise_dataset_code(row["lgcode"]), name, row["citykana"], pref, kind, row["lat"], row["lng"]
            )
        )
    return tuple(records)
