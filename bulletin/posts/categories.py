"""The fixed list of post categories: a stable key for URLs and forms, a translatable label."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

CATEGORIES: dict[str, object] = {
    "products": _l("物産・マルシェ"),
    "tourism": _l("観光・PR"),
    "events": _l("イベント・祭り"),
    "culture": _l("文化・芸術"),
    "sports": _l("スポーツ"),
    "disaster": _l("防災・災害支援"),
    "environment": _l("環境・森林・脱炭素"),
    "agriculture": _l("農林水産"),
    "staff_exchange": _l("人材交流・職員派遣"),
    "education": _l("教育・子ども"),
    "relocation": _l("関係人口・移住"),
    "multicultural": _l("多文化共生"),
    "other": _l("その他"),
}


def category_label(key: str) -> str:
    """The label of a category key ('' for an unknown key)."""
    label = CATEGORIES.get(key)
    return str(label) if label is not None else ""
