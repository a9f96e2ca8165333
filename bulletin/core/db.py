"""Declarative base with a naming convention, and a timezone-aware UTC timestamp type."""

from __future__ import annotations

import enum
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import DateTime, Enum, MetaData, event, inspect, update
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.orm import DeclarativeBase, Session, registry, scoped_session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def str_enum(enum_class: type[enum.Enum], name: str, constraint: bool = True) -> Enum:
    """An enum stored as its string values in a VARCHAR with a CHECK constraint (portable across databases).

    Without `constraint`, for a column added to a table that SQLite could only give a CHECK by copying it whole."""
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=constraint,
        length=max(len(member.value) for member in enum_class),
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    """Base class of every model."""

    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime},
    )


def render_migration_item(type_: str, obj, autogen_context):
    """Alembic hook: write UTCDateTime as a plain timezone-aware DateTime so migrations import only SQLAlchemy."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, connection_record):
    """SQLite: enforce foreign keys, wait for locks, and let SQLAlchemy (not pysqlite) manage transactions."""
    if type(dbapi_connection).__module__.split(".")[0] not in {"sqlite3", "pysqlite2"}:
        return
    dbapi_connection.isolation_level = None  # pysqlite's own BEGIN handling breaks SAVEPOINTs
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA busy_timeout = 30000")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA cache_size = -65536")  # 64 MB: the board's working set, not SQLite's 2 MB default
    cursor.close()


# Whether a transaction begun now may write: in a request, set by its method (core.transaction); the commands that
# write set it for their run (cli.writes). Anything else reads, or writes with a first statement that is a write.
write_intent: ContextVar[bool] = ContextVar("write_intent", default=False)


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(connection):
    """SQLite: a transaction that may write takes the write lock at its start, so that it waits for its turn (busy
    timeout) rather than failing later on a stale read snapshot; reads begin deferred and never wait."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")


def guarded_update(session: Session | scoped_session[Any], instance: Any, *conditions: Any, **values: Any) -> bool:
    """Change the instance's row only while `conditions` still hold in the database, and say whether it did.

    The second of two decisions at the same instant finds the row already changed (PostgreSQL makes it wait for the
    first one's commit, then checks again; on SQLite the first one's write lock keeps it out) and changes nothing:
    no second log line, no second set of notifications. The instance holds the new values, or the winner's.
    """
    session.flush()
    state = inspect(instance)
    if not state.persistent:  # an object never stored has no row to guard: it simply takes the values
        for name, value in values.items():
            setattr(instance, name, value)
        return True
    key = [column == value for column, value in zip(state.mapper.primary_key, state.identity, strict=True)]
    statement = update(type(instance)).where(*key, *conditions).values(**values)
    result = cast(CursorResult[Any], session.execute(statement.execution_options(synchronize_session=False)))
    if result.rowcount != 1:
        session.refresh(instance)
        return False
    for name, value in values.items():
        set_committed_value(instance, name, value)
    return True
