"""The app and its database: one database per run (SQLite by default, PostgreSQL with TEST_DATABASE_URL), migrated
and seeded once; each test runs inside a transaction that is rolled back, even when the code under test commits.

Every other fixture (clients, users, posts, worlds…) lives in tests/factories.py, registered here as a plugin."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask_migrate import upgrade

from bulletin.extensions import db
from bulletin.organizations.services import seed_organizations
from tests.factories import make_test_app, new_database

pytest_plugins = ["tests.factories"]


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    """The run's database: a new SQLite file, or a new PostgreSQL database when TEST_DATABASE_URL is set."""
    with new_database(tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
def base_app(database_url, tmp_path_factory) -> Iterator[Flask]:
    """The app, with the schema built by the migrations and the organizations seeded (once per run)."""
    app = make_test_app(database_url, tmp_path_factory.mktemp("app"))
    with app.app_context():
        upgrade()
        seed_organizations()
        db.session.commit()
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def app(base_app: Flask) -> Iterator[Flask]:
    """The app for one test; everything the test writes, commits included, is rolled back afterwards."""
    with base_app.app_context():
        engines = db._app_engines[base_app]
        engine = engines[None]
        connection = engine.connect()
        outer = connection.begin()
        db.session.remove()
        db.session.configure(join_transaction_mode="create_savepoint")
        engines[None] = connection  # every session of this test binds to the one connection
        try:
            yield base_app
        finally:
            db.session.remove()
            engines[None] = engine
            outer.rollback()
            connection.close()
    base_app.config.update(WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)
