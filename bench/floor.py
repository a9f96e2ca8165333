"""The floor page of DESIGN §7: a minimal Flask-SQLAlchemy page listing 20 rows of a 10,000-row table.

It is what a page of this kind costs with nothing but Flask, Flask-SQLAlchemy and Jinja: one indexed query
for 20 rows, rendered through a ~6 KB layout (templates/floor/layout.html). No session, no CSRF, no login,
no extensions. The benchmark reports the app's pages as ratios to it.

    FLOOR_DATABASE_URL=sqlite:////tmp/floor.sqlite python bench/floor.py init   # create and fill the table
    FLOOR_DATABASE_URL=sqlite:////tmp/floor.sqlite gunicorn --pythonpath bench "floor:create_app()"
"""

from __future__ import annotations

import os
import random
import sys
from datetime import datetime, timedelta
from pathlib import Path

from flask import Flask, render_template
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

HERE = Path(__file__).resolve().parent
ROWS = 10_000
PAGE_SIZE = 20

CATEGORIES = (
    "物産・マルシェ",
    "観光・PR",
    "イベント・祭り",
    "文化・芸術",
    "スポーツ",
    "防災・災害支援",
    "環境・森林・脱炭素",
    "農林水産",
    "人材交流・職員派遣",
    "教育・子ども",
    "関係人口・移住",
    "多文化共生",
    "その他",
)
PLACES = (
    ("坂井市", "福井県"),
    ("釧路町", "北海道"),
    ("遠野市", "岩手県"),
    ("南砺市", "富山県"),
    ("飛騨市", "岐阜県"),
    ("四万十町", "高知県"),
    ("五島市", "長崎県"),
    ("宮古島市", "沖縄県"),
    ("品川区", "東京都"),
    ("杉並区", "東京都"),
)
SUBJECTS = (
    "黄金がに",
    "地酒",
    "和紙",
    "棚田米",
    "ジビエ",
    "藍染め",
    "森林環境譲与税",
    "移住相談",
    "郷土芸能",
    "防災備蓄",
)
FORMS = (
    "のPRイベントを区内で開催しませんか",
    "の物産展への出展者を募集します",
    "を活かした交流事業の提案",
    "の体験ツアーを共同で企画したい",
)


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Item(db.Model):
    """A row shaped like a post card: title, who, where, what kind, when, a summary."""

    __tablename__ = "item"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    organization: Mapped[str] = mapped_column(String(100))
    prefecture: Mapped[str] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(50))
    summary: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(index=True)


def create_app(database_url: str | None = None) -> Flask:
    """The floor app; the database comes from FLOOR_DATABASE_URL unless given."""
    app = Flask(__name__, template_folder=str(HERE / "templates"), static_folder=None)
    app.add_url_rule("/static/<path:filename>", endpoint="static", build_only=True)
    app.jinja_env.trim_blocks = True  # as the app's templating does
    app.jinja_env.lstrip_blocks = True
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url or os.environ["FLOOR_DATABASE_URL"]
    db.init_app(app)

    @app.get("/")
    def index():
        rows = db.session.scalars(db.select(Item).order_by(Item.created_at.desc()).limit(PAGE_SIZE)).all()
        return render_template(
            "floor/list.html",
            rows=rows,
            categories=CATEGORIES,
            user_name="観光 太郎",
            user_org="坂井市",
            csrf_token="floor-page-has-no-session-" + "0" * 40,
        )

    return app


def fill(app: Flask, rows: int = ROWS) -> None:
    """Create the table and insert `rows` deterministic rows (replacing what was there)."""
    rng = random.Random(2015)
    start = datetime(2015, 11, 18, 9, 0)
    with app.app_context():
        db.drop_all()
        db.create_all()
        batch = []
        for number in range(1, rows + 1):
            organization, prefecture = rng.choice(PLACES)
            subject = rng.choice(SUBJECTS)
            batch.append(
                {
                    "id": number,
                    "title": f"{organization}の{subject}{rng.choice(FORMS)}（第{number}号）",
                    "organization": organization,
                    "prefecture": prefecture,
                    "category": rng.choice(CATEGORIES),
                    "summary": f"{organization}の{subject}を、特別区の皆さんと一緒に広めたいと考えています。",
                    "created_at": start + timedelta(hours=number),
                }
            )
        db.session.execute(db.insert(Item), batch)
        db.session.commit()


if __name__ == "__main__":
    if sys.argv[1:] != ["init"]:
        sys.exit("usage: FLOOR_DATABASE_URL=sqlite:///PATH python bench/floor.py init")
    fill(create_app())
