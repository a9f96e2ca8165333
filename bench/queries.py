"""Count the SQL statements each benchmarked page issues, in process, with the Flask test client.

run.py starts this in the benchmark's temp dir with the environment of the app under gunicorn (DATABASE_URL,
BULLETIN_ENV=production, ...), the floor's FLOOR_DATABASE_URL and the demo password in BENCH_PASSWORD, and reads
one JSON object from stdout:

    {"pages": {"login": {"queries": 0, "writes": 0, "checkouts": 0, "statements": [...], ...}, ...},
     "pre_ping": true}

Every statement that reaches the database through the engine is seen by a `before_cursor_execute` listener on
`db.engine`; "queries" leaves out transaction control (BEGIN, COMMIT, ...), which is counted apart. A page is
requested once to warm up, then counted twice (the counts must agree). The pool's pre-ping (`pool_pre_ping`) is
not a statement through the engine, so pool checkouts are counted beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

from sqlalchemy import event

HERE = Path(__file__).resolve().parent
CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.IGNORECASE)


class FormFields(HTMLParser):
    """The hidden inputs of the first form whose action ends with `action`."""

    def __init__(self, action: str):
        super().__init__()
        self.action = action
        self.inside = False
        self.done = False
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "form" and not self.done and (values.get("action") or "").endswith(self.action):
            self.inside = True
        elif tag == "input" and self.inside and values.get("name"):
            self.fields.setdefault(values["name"], values.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside = False
            self.done = True


def form_fields(html: str, action: str) -> dict[str, str]:
    parser = FormFields(action)
    parser.feed(html)
    return parser.fields


class Counter:
    """Statements and pool checkouts on one engine, between reset() calls."""

    def __init__(self, engine):
        self.statements: list[str] = []
        self.checkouts = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "checkout", self._checkout)

    def _statement(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(" ".join(statement.split()))

    def _checkout(self, dbapi_connection, record, proxy):
        self.checkouts += 1

    def reset(self) -> None:
        self.statements = []
        self.checkouts = 0


@contextmanager
def counted(counter: Counter):
    counter.reset()
    yield counter


def measure(client, counter: Counter, path: str, expect: bytes | None = None) -> dict:
    """Request `path` once to warm up, then twice counted; report the counts and the last response."""
    client.get(path)
    runs = []
    for _ in range(2):
        with counted(counter):
            response = client.get(path)
        queries = [statement for statement in counter.statements if not CONTROL.match(statement)]
        runs.append((len(queries), counter.checkouts, list(counter.statements), response))
    (queries, checkouts, statements, response), (again, _, _, _) = runs
    if expect is not None and expect not in response.data:
        raise SystemExit(f"{path}: the counted page does not contain {expect!r}")
    return {
        "status": response.status_code,
        "bytes": len(response.data),
        "queries": queries,
        "transaction_statements": sum(1 for statement in statements if CONTROL.match(statement)),
        "stable": queries == again,
        "writes": sum(1 for statement in statements if WRITE.match(statement)),
        "checkouts": checkouts,
        "statements": statements,
        "sets_cookie": "Set-Cookie" in response.headers,
    }


def app_pages(email: str, password: str, user_agent: str) -> tuple[dict, bool]:
    import bulletin
    from bulletin.extensions import db

    app = bulletin.create_app()
    with app.app_context():
        counter = Counter(db.engine)
    environ = {"REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": user_agent}
    pages = {}
    with app.test_client() as client:
        client.environ_base.update(environ)
        pages["login"] = measure(client, counter, "/login", expect=b'name="csrf_token"')
        pages["home"] = measure(client, counter, "/")
    with app.test_client() as client:
        client.environ_base.update(environ)
        fields = form_fields(client.get("/login").get_data(as_text=True), "/login")
        fields.update(email=email, password=password)
        response = client.post("/login", data=fields)
        if response.status_code != 302:
            raise SystemExit(f"test-client login as {email} failed: HTTP {response.status_code}")
        client.get("/")  # shows (and so drops) the "logged in" flash, as a browser would
        pages["home_user"] = measure(client, counter, "/", expect=b'action="/logout"')
    return pages, bool(app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("pool_pre_ping"))


def floor_page() -> dict:
    sys.path.insert(0, str(HERE))
    import floor

    app = floor.create_app()
    with app.app_context():
        counter = Counter(floor.db.engine)
    with app.test_client() as client:
        return measure(client, counter, "/")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--email", required=True)
    parser.add_argument("--user-agent", required=True)
    args = parser.parse_args()
    pages, pre_ping = app_pages(args.email, os.environ["BENCH_PASSWORD"], args.user_agent)
    pages["floor"] = floor_page()
    json.dump({"pages": pages, "pre_ping": pre_ping}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
