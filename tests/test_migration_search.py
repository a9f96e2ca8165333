"""The migration that adds search by readings and without dakuten fills the posts a board already has, and renders
their bodies as the board now does (fresh SQLite and PostgreSQL databases, as in test_migrations)."""

from __future__ import annotations

from datetime import date, datetime

from flask_migrate import downgrade, upgrade
from sqlalchemy import MetaData, Table, select

from bulletin.extensions import db
from bulletin.posts import search
from bulletin.posts.models import Post
from tests.test_migrations import fresh_app, insert_row, schema_differences  # noqa: F401 (fresh_app: a fixture)

BEFORE = "5714d5b23d6a"
REVISION = "411ddb963a9f"


def insert_member(connection, code: str, name: str, kana: str, prefecture_code: str, kind: str) -> int:
    """A member organization, as the schema of the moment has it."""
    return insert_row(
        connection, "organization", code=code, name=name, kana=kana, prefecture_code=prefecture_code, kind=kind,
        membership="member", member_since=date(2015, 4, 1),
    )  # fmt: skip


def test_existing_posts_get_readings_unvoiced_text_and_bodies_rendered_again(fresh_app):  # noqa: F811
    upgrade(revision=BEFORE)
    with db.engine.begin() as connection:
        sakai = insert_member(connection, "182109", "坂井市", "さかいし", "18", "city")
        kushiro = insert_member(connection, "016616", "釧路町", "くしろちょう", "01", "town")
        post = insert_row(
            connection, "post", organization_id=sakai, kind="proposal", state="published", title="黄金がにのPR",
            summary="三国港から", offered="", sought="", body="**「黄金がに」**を\n紹介します", body_html="<p>古い</p>",
            tags="物産展", venue="", category="products", search_text="古い", published_at=datetime(2015, 10, 1),
        )  # fmt: skip
        insert_row(connection, "co_proposer", post_id=post, organization_id=kushiro, state="accepted")
    upgrade()
    table = Table("post", MetaData(), autoload_with=db.engine)
    with db.engine.connect() as connection:
        row = connection.execute(table.select()).one()
    assert row.search_text.split("\n") == [
        "黄金がにのpr", "三国港から", "**「黄金がに」**を紹介します", "物産展",
        "坂井市", "さかいし", "福井県", "ふくいけん", "釧路町", "くしろちょう", "北海道", "ほっかいどう",
    ]  # fmt: skip
    assert row.search_text_unvoiced.startswith("黄金かにのpr\n") and "ほっかいとう" in row.search_text_unvoiced
    assert row.body_html == "<p><strong>「黄金がに」</strong>を<br>\n紹介します</p>\n"
    assert schema_differences() == []

    downgrade(revision=BEFORE)
    with db.engine.connect() as connection:
        assert "search_text_unvoiced" not in Table("post", MetaData(), autoload_with=connection).columns
    upgrade(revision=REVISION)


INDEX_BEFORE = "c3e1a7d52b90"


def test_existing_posts_get_their_folded_head_and_are_found_through_the_new_index(fresh_app):  # noqa: F811
    upgrade(revision=INDEX_BEFORE)
    with db.engine.begin() as connection:
        sakai = insert_member(connection, "182109", "坂井市", "さかいし", "18", "city")
        insert_row(
            connection, "post", organization_id=sakai, kind="proposal", state="published", title="黄金ガニのPR",
            summary="三国港から", category="products", search_text="黄金がにのpr\n三国港から\nさかいし",
            search_text_unvoiced="黄金かにのpr\n三国港から\nさかいし", published_at=datetime(2015, 10, 1),
        )  # fmt: skip
    upgrade()
    with db.engine.connect() as connection:
        row = connection.execute(Table("post", MetaData(), autoload_with=connection).select()).one()
        assert row.search_head == "黄金がにのpr\n三国港から"
        exact, loose = search.conditions(search.parse("黄金ガニ 三国港"), db.engine.dialect.name)
        assert connection.execute(select(Post.id).where(exact)).scalars().all() == [row.id]
        assert connection.execute(select(Post.id).where(loose)).scalars().all() == [row.id]
    assert schema_differences() == []

    downgrade(revision=INDEX_BEFORE)
    with db.engine.connect() as connection:
        assert "search_head" not in Table("post", MetaData(), autoload_with=connection).columns
    upgrade()
