"""Rebuild bulletin/stats/data/japan-prefectures.json from the npm package @svg-maps/japan (CC BY 4.0).

    cd /tmp && npm pack @svg-maps/japan
    python scripts/build_japan_map.py /tmp/svg-maps-japan-2.0.0.tgz

The outlines are the package's, unchanged (relative coordinates: rounding them would open gaps between neighbours);
each is keyed by its two-digit prefecture code (JIS X 0401) instead of the package's romanised id.
"""

from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path
from xml.etree import ElementTree

ROMAN_IDS = (
    "hokkaido",
    "aomori",
    "iwate",
    "miyagi",
    "akita",
    "yamagata",
    "fukushima",
    "ibaraki",
    "tochigi",
    "gunma",
    "saitama",
    "chiba",
    "tokyo",
    "kanagawa",
    "niigata",
    "toyama",
    "ishikawa",
    "fukui",
    "yamanashi",
    "nagano",
    "gifu",
    "shizuoka",
    "aichi",
    "mie",
    "shiga",
    "kyoto",
    "osaka",
    "hyogo",
    "nara",
    "wakayama",
    "tottori",
    "shimane",
    "okayama",
    "hiroshima",
    "yamaguchi",
    "tokushima",
    "kagawa",
    "ehime",
    "kochi",
    "fukuoka",
    "saga",
    "nagasaki",
    "kumamoto",
    "oita",
    "miyazaki",
    "kagoshima",
    "okinawa",
)  # in code order, 01 to 47
TARGET = Path(__file__).resolve().parent.parent / "bulletin" / "stats" / "data" / "japan-prefectures.json"
SVG = "{http://www.w3.org/2000/svg}"


def main(archive: str) -> None:
    """Read japan.svg and the package's version and licence from the tarball, write the outlines by code."""
    with tarfile.open(archive) as tar:
        svg = ElementTree.fromstring(tar.extractfile("package/japan.svg").read())  # type: ignore[union-attr]
        package = json.loads(tar.extractfile("package/package.json").read())  # type: ignore[union-attr]
    paths = {element.get("id"): element.get("d") for element in svg.iter(f"{SVG}path")}
    assert sorted(paths) == sorted(ROMAN_IDS), "the package's prefectures changed"
    data = {
        "source": f"{package['name']} {package['version']} (based on MapSVG, https://mapsvg.com/maps/japan)",
        "license": package["license"],
        "viewBox": svg.get("viewBox"),
        "prefectures": {f"{index:02d}": paths[name] for index, name in enumerate(ROMAN_IDS, start=1)},
    }
    TARGET.write_text(json.dumps(data, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"{TARGET}: {TARGET.stat().st_size:,} bytes")


if __name__ == "__main__":
    main(sys.argv[1])
