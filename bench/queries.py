"""Count the SQL statements each benchmarked page issues, and time it, in process, with the Flask test client.

run.py starts this in the benchmark's temp dir with the environment of the app under gunicorn (DATABASE_URL,
BULLETIN_ENV=production, ...), the floor's FLOOR_DATABASE_URL and the demo password in BENCH_PASSWORD, writes the
pages to stdin and reads one JSON object from stdout:

    stdin:  {"user_agent": "...", "timed": 80, "floor": true,
             "pages": [{"key": "login", "path": "/login", "email": null, "expect": ["csrf_token"]},
                       {"key": "posts", "path": "/posts", "email": "kouryu@city.shinagawa.lg.jp", "expect": []}]}
    stdout: {"pages": {"login": {"queries": 0, "writes": 0, "checkouts": 0, "statements": [...],
                                 "server_p95_ms": 2.4, ...}, ...},
             "pre_ping": true}

Pages with an `email` are requested by a test client logged in as that user (in the order given, one client
per user); the others by an anonymous one. Every statement that reaches the database through the engine is seen
by a `before_cursor_execute` listener on `db.engine`; "queries" leaves out transaction control (BEGIN, COMMIT, ...),
which is counted apart. A page is requested once to warm up, then counted twice (the counts must agree); the
warm-up's write statements are reported apart as `first_writes` (a conversation's first view moves the reader's
read marker; the views after it must not write). The
pool's pre-ping (`pool_pre_ping`) is not a statement through the engine, so pool checkouts are counted beside it.

With `timed` > 0 each page is then requested that many times more, one after another, and the CPU time
(`time.process_time`) and wall time (`time.perf_counter`) of each request are kept: `server_cpu_p95_ms` and
`server_wall_p95_ms` are the time spent in the app with no queueing and no HTTP server in front, the closest this
benchmark gets to DESIGN §7's "p95 of server time". A request here never waits on I/O (SQLite in the OS page
cache, no network), so on an idle machine the two agree; on a shared one the wall time also counts the time the
process waited for a CPU, and the CPU time is the figure to trust.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import sys
import time
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


def _percentile(ordered: list[float], percent: float) -> float:
    """Nearest-rank percentile of a sorted list."""
    rank = max(0, min(len(ordered) - 1, round(percent / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def measure(client, counter: Counter, path: str, expect=(), timed: int = 0) -> dict:
    """Request `path` once to warm up, then twice counted, then `timed` times timed; the counts, the times and the
    last counted response. The warm-up's writes are kept apart: a first view may write once (a conversation's read
    marker), the views after it must not."""
    with counted(counter):
        client.get(path)
    first_writes = [statement for statement in counter.statements if WRITE.match(statement)]
    runs = []
    for _ in range(2):
        with counted(counter):
            response = client.get(path)
        queries = [statement for statement in counter.statements if not CONTROL.match(statement)]
        runs.append((len(queries), counter.checkouts, list(counter.statements), response))
    (queries, checkouts, statements, response), (again, _, _, _) = runs
    if response.status_code != 200:
        raise SystemExit(f"{path}: HTTP {response.status_code} in the test client")
    for marker in expect:
        if marker.encode() not in response.data:
            raise SystemExit(f"{path}: the counted page does not contain {marker!r}")
    result = {
        "path": path,
        "status": response.status_code,
        "bytes": len(response.data),
        "queries": queries,
        "transaction_statements": sum(1 for statement in statements if CONTROL.match(statement)),
        "stable": queries == again,
        "writes": sum(1 for statement in statements if WRITE.match(statement)),
        "first_writes": len(first_writes),
        "first_write_statements": first_writes,
        "checkouts": checkouts,
        "statements": statements,
        "sets_cookie": "Set-Cookie" in response.headers,
    }
    if timed:
        walls, cpus = [], []
        for _ in range(timed):
            wall, cpu = time.perf_counter(), time.process_time()
            client.get(path)
            cpus.append(time.process_time() - cpu)
            walls.append(time.perf_counter() - wall)
        walls.sort()
        result.update(
            timed=timed,
            server_cpu_ms=round(statistics.mean(cpus) * 1000, 3),
            server_cpu_p50_ms=round(_percentile(sorted(cpus), 50) * 1000, 3),
            server_cpu_p95_ms=round(_percentile(sorted(cpus), 95) * 1000, 3),
            server_wall_p50_ms=round(_percentile(walls, 50) * 1000, 3),
            server_wall_p95_ms=round(_percentile(walls, 95) * 1000, 3),
        )
    return result


def app_pages(pages: list[dict], password: str, user_agent: str, timed: int) -> tuple[dict, bool]:
    import bulletin
    from bulletin.extensions import db

    app = bulletin.create_app()
    with app.app_context():
        counter = Counter(db.engine)
    environ = {"REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": user_agent}
    results = {}
    for email in dict.fromkeys(page["email"] for page in pages):  # anonymous (None) and each user, in order
        with app.test_client() as client:
            client.environ_base.update(environ)
            if email is not None:
                fields = form_fields(client.get("/login").get_data(as_text=True), "/login")
                fields.update(email=email, password=password)
                response = client.post("/login", data=fields)
                if response.status_code != 302:
                    raise SystemExit(f"test-client login as {email} failed: HTTP {response.status_code}")
                client.get("/")  # shows (and so drops) the "logged in" flash, as a browser would
            for page in pages:
                if page["email"] == email:
                    results[page["key"]] = measure(client, counter, page["path"], page.get("expect", ()), timed)
    return results, bool(app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("pool_pre_ping"))


def floor_page(timed: int) -> dict:
    sys.path.insert(0, str(HERE))
    import floor

    app = floor.create_app()
    with app.app_context():
        counter = Counter(floor.db.engine)
    with app.test_client() as client:
        return measure(client, counter, "/", timed=timed)


def main() -> None:
    spec = json.load(sys.stdin)
    timed = int(spec.get("timed", 0))
    pages, pre_ping = app_pages(spec["pages"], os.environ["BENCH_PASSWORD"], spec["user_agent"], timed)
    if spec.get("floor", True):
        pages["floor"] = floor_page(timed)
    json.dump({"pages": pages, "pre_ping": pre_ping}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
