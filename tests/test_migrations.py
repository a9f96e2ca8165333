"""The migrations build exactly the models' schema on an empty database, plus the moderation log's triggers that the
models cannot describe, and take it all down again.

Each test gets a database of its own: a new SQLite file, or a new PostgreSQL database when TEST_DATABASE_URL is
set, and an app of its own on it (the shared test database is built by the same migrations in conftest.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import MetaData, Table, insert, inspect
from sqlalchemy.exc import IntegrityError

from bulletin.cli import main as bulletin_cli
from bulletin.core.audit import ModerationDecision
from bulletin.extensions import db
from bulletin.posts.search import SEARCH_INDEX_TABLES, include_object
from tests.constants import ON_POSTGRESQL, TEST_DATABASE_URL
from tests.factories import limiter_state_preserved, make_test_app, postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_app(request, tmp_path) -> Iterator[Flask]:
    """An app on a new, empty database."""
    if request.param == "postgresql" and not ON_POSTGRESQL:
        pytest.skip("PostgreSQL: set TEST_DATABASE_URL")
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
        else:
            url = stack.enter_context(postgres_database(TEST_DATABASE_URL))
        with limiter_state_preserved():
            app = make_test_app(url, tmp_path)
        with app.app_context():
            yield app
            db.session.remove()
            db.engine.dispose()


def schema_differences() -> list:
    """What autogenerate would write: the differences between the database and the models."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": include_object})
        return compare_metadata(context, db.metadata)


def table_names() -> set[str]:
    """The tables, but for the search index's (SQLite's FTS5 table and its shadow tables)."""
    return set(inspect(db.engine).get_table_names()) - SEARCH_INDEX_TABLES


def test_upgrade_builds_exactly_the_models_schema(fresh_app):
    assert table_names() == set()
    upgrade()
    assert table_names() == {*db.metadata.tables, "alembic_version"}
    assert schema_differences() == []


def test_downgrade_to_base_leaves_only_the_version_table(fresh_app):
    upgrade()
    downgrade(revision="base")
    assert table_names() == {"alembic_version"}
    with db.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() is None
    upgrade()  # and back up again, from where the downgrade left it
    assert schema_differences() == []


APPEND_ONLY_REVISION = "5c9266ae8c3a"  # the migration that adds the moderation log's triggers
LOG_TRIGGERS = {
    "sqlite": {"moderation_decision_no_update", "moderation_decision_no_delete"},
    "postgresql": {"moderation_decision_no_update_or_delete", "moderation_decision_no_truncate"},
}


def log_triggers() -> set[str]:
    """The names of the triggers on the moderation log (autogenerate does not compare triggers)."""
    with db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            statement = (
                "SELECT tgname FROM pg_trigger JOIN pg_class ON pg_class.oid = tgrelid"
                " WHERE relname = 'moderation_decision' AND NOT tgisinternal"
            )
        else:
            statement = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'moderation_decision'"
        return set(connection.exec_driver_sql(statement).scalars())


def change_the_log() -> None:
    """Change every line of the moderation log behind the ORM's back."""
    with db.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE moderation_decision SET reason = 'changed'")


def test_the_moderation_log_triggers_come_and_go_with_their_revision(fresh_app):
    upgrade()
    assert log_triggers() == LOG_TRIGGERS[db.engine.dialect.name]  # at head: a later migration did not drop them
    with db.engine.begin() as connection:
        connection.execute(
            insert(ModerationDecision.__table__).values(action="approve_post", subject_type="post", subject_id=1)
        )
    with pytest.raises(IntegrityError, match="the moderation log is append-only"):
        change_the_log()
    downgrade(revision=f"{APPEND_ONLY_REVISION}-1")
    assert log_triggers() == set()
    change_the_log()
    upgrade()  # on PostgreSQL this also shows the downgrade dropped the function: CREATE FUNCTION would fail
    assert log_triggers() == LOG_TRIGGERS[db.engine.dialect.name]
    with pytest.raises(IntegrityError, match="the moderation log is append-only"):
        change_the_log()
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT reason FROM moderation_decision").scalars().all() == ["changed"]


def test_bulletin_db_check_finds_nothing_to_generate(fresh_app, monkeypatch):
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "")  # FlaskGroup sets it; put it back afterwards
    runner = fresh_app.test_cli_runner()
    upgrade()
    result = runner.invoke(bulletin_cli, ["db", "check"])
    assert result.exit_code == 0, result.output


def test_bulletin_db_check_notices_a_schema_that_drifted(fresh_app, monkeypatch):
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "")
    upgrade()
    with db.engine.begin() as connection:
        connection.exec_driver_sql("DROP INDEX ix_user_state")
    assert [difference[0] for difference in schema_differences()] == ["add_index"]
    result = fresh_app.test_cli_runner().invoke(bulletin_cli, ["db", "check"])
    assert result.exit_code != 0


# --- upgrading a board in use --------------------------------------------------------------------------------------

# The last revision that a running board may hold; every migration after it must keep the board's rows as they are.
LANDED = "d41f7a2c9e10"


def _dummy(column):
    python_type = column.type.python_type
    if python_type is bool:
        return False
    if python_type is int:
        return 1
    if python_type is float:
        return 0.0
    if python_type is datetime:
        return datetime(2026, 4, 1, 9, 0)
    if python_type is date:
        return date(2026, 4, 1)
    if python_type is dict:
        return {}
    return "x"


def insert_row(connection, table_name: str, **values) -> int:
    """Insert a row as the schema of the moment has it: the given values, a plain value in every other required
    column without a default."""
    table = Table(table_name, MetaData(), autoload_with=connection)
    row = dict(values)
    for column in table.columns:
        if column.name not in row and not column.nullable and column.server_default is None and not column.primary_key:
            row[column.name] = _dummy(column)
    return connection.execute(table.insert().values(**row)).inserted_primary_key[0]


def rows_of(connection, table_name: str) -> list[tuple]:
    table = Table(table_name, MetaData(), autoload_with=connection)
    key = [c for c in table.columns if c.primary_key]
    return [tuple(r) for r in connection.execute(table.select().order_by(*key))]


KEPT = ("organization", "user", "moderation_decision", "notification", "post")


def test_upgrading_a_board_in_use_keeps_every_row(fresh_app):
    upgrade(revision=LANDED)
    with db.engine.begin() as connection:
        org = insert_row(
            connection, "organization", code="182109", name="坂井市", prefecture_code="18", kind="city",
            membership="member", member_since=date(2015, 4, 1),
        )  # fmt: skip
        moderator = insert_row(
            connection, "user", email="mod@example.lg.jp", password_hash="h", name="事務局", is_moderator=True,
            state="active", confirmed_at=datetime(2026, 4, 1), role="staff",
        )  # fmt: skip
        officer = insert_row(
            connection, "user", email="officer@city.fukui-sakai.lg.jp", password_hash="h", name="坂井 花子",
            organization_id=org, state="active", confirmed_at=datetime(2026, 4, 1), role="admin",
        )  # fmt: skip
        insert_row(
            connection, "moderation_decision", actor_id=moderator, action="approve_user", subject_type="user",
            subject_id=officer, details={},
        )  # fmt: skip
        insert_row(connection, "notification", user_id=officer, kind="member_approved", params={})
        insert_row(
            connection, "post", organization_id=org, created_by_id=officer, kind="proposal", state="published",
            title="黄金がに", category="tourism", published_at=datetime(2015, 10, 1),
        )  # fmt: skip
        before = {name: rows_of(connection, name) for name in KEPT}
    upgrade()
    with db.engine.connect() as connection:
        after = {name: rows_of(connection, name) for name in KEPT}
    for name in KEPT:
        assert len(after[name]) == len(before[name]) >= 1, name
    assert after["post"][0][:3] == before["post"][0][:3]
    author_column = [c.name for c in Table("post", MetaData(), autoload_with=db.engine).columns].index("created_by_id")
    assert after["post"][0][author_column] == officer  # not set to NULL by a copy of the user table
    assert after["moderation_decision"] == before["moderation_decision"]
    assert schema_differences() == []
