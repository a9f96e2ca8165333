"""Many officers on the board at once: mixed reads and writes under gunicorn, on SQLite and on PostgreSQL.

    .venv/bin/python bench/load.py [--database sqlite|postgresql|both] [--seconds 30] [--clients 20]
                                   [--posts 10000] [--json bench/results/load.json] [--keep]

DESIGN §7: "20 clients of mixed reads and writes for 30 s give 0 responses >= 500 on either database". For each
database: a fresh one (a SQLite file in a temp dir, or a new PostgreSQL database), `bulletin db upgrade`,
`bulletin demo`, bench/seed_posts.py's published posts and bench/seed_users.py's officers (one per client, half of
them special wards); then gunicorn (2 sync workers) and the mail worker (`bulletin worker`) on it, and `--clients`
threads that log in once each and browse, search, open posts, respond, write messages, read the desk and the
notifications for `--seconds`, on 127.0.0.1 only. It reports requests, status classes, every response >= 500 with
its URL and the causes in the gunicorn log, connection errors, latency per kind of request and the mails the worker
delivered, and exits 1 if any response was >= 500 or any connection failed. Everything it started is stopped, the
PostgreSQL database dropped and the temp dir removed on exit, Ctrl-C included. See bench/README.md.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from pathlib import Path

import loadgen
from run import (
    APP_ENV_PREFIXES,
    BIN,
    HOST,
    WORKERS,
    BenchError,
    Server,
    free_port,
    gunicorn_command,
    log,
    run_command,
    seed_posts,
    wait_ready,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEMO_PASSWORD = "kogane-gani-2015"
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REQUEST_TIMEOUT = 30.0  # seconds, as gunicorn's worker timeout
WORKER_INTERVAL = 1.0  # seconds between the mail worker's polls
WORKER_DRAIN = 3.0  # seconds the mail worker runs on after the load, to deliver what the last requests queued
MAX_REQUESTS_PER_SECOND = 200  # per client: a bound on every loop besides the clock
MAX_CONNECTION_ERRORS = 50  # per client: the server is gone, stop
LOGIN_ATTEMPTS = 20
DATABASES = ("sqlite", "postgresql")
SAMPLES = 3  # tracebacks shown from the gunicorn log: those of the first distinct causes
ACTIONS = (  # what a client does next, and how often (weights)
    ("list", 18),
    ("search", 12),
    ("post", 16),
    ("respond", 12),
    ("message", 12),
    ("dashboard", 10),
    ("notifications", 12),
    ("home", 8),
)
MESSAGES = (
    "ご連絡ありがとうございます。区内で調整し、改めてご連絡します。",
    "候補日、承知しました。職員2名で伺う予定です。",
    "会場の図面をお送りします。搬入口は北側です。",
    "オンラインでの打ち合わせ、来週火曜日の14時からでいかがでしょうか。",
    "見積もりの件、予算の範囲で対応できそうです。\n詳細は打ち合わせで確認させてください。",
)
RESPONSE_KINDS = ("interest", "question", "offer")
BAR = "20 clients of mixed reads and writes for 30 s give 0 responses >= 500 on either database"  # DESIGN §7
ACCESS_FORMAT = "%(s)s %(m)s %(D)s"  # gunicorn's access log: status, method, microseconds in the worker
RECORD_START = re.compile(r"(?m)^(?=\[\d{4}-\d\d-\d\d[ T])")
TEMPLATE_IDS = re.compile(r"/\d+(?=/|$)")


class Done(Exception):
    """The client's time or request budget is spent."""


class LoggedOut(Exception):
    """A private page sent the client to the login page."""


@dataclass
class Reply:
    """A response as the client saw it."""

    status: int
    location: str
    body: str


@dataclass
class Sample:
    """One request: its kind, method, path, status (0: the connection failed) and time."""

    kind: str
    method: str
    path: str
    status: int
    ms: float
    error: str = ""


@dataclass
class Plan:
    """What the seed gave the clients: the posts each side answers, search words, categories."""

    proposals: list[int]
    calls: list[int]
    search_words: list[str]
    categories: list[str]


def path_template(path: str) -> str:
    """/conversations/12?x=1 -> /conversations/<id> (the query string dropped)."""
    return TEMPLATE_IDS.sub("/<id>", urllib.parse.urlsplit(path).path)


def kind_of(path: str) -> str:
    """The kind of a page reached by a redirect, from its path."""
    route = path_template(path)
    kinds = {
        "/": "home",
        "/login": "login_form",
        "/posts": "list",
        "/posts/<id>": "post",
        "/conversations/<id>": "conversation",
        "/notifications": "notifications",
        "/dashboard": "dashboard",
    }
    return kinds.get(route, route)


def form_token(html: str, action: str) -> str | None:
    """The csrf_token of the form posting to `action`."""
    match = re.search(rf'<form[^>]*\baction="{re.escape(action)}"[^>]*>(.*?)</form>', html, re.DOTALL)
    if not match:
        return None
    token = re.search(r'<input[^>]*\bname="csrf_token"[^>]*\bvalue="([^"]*)"', match.group(1))
    return token.group(1) if token else None


def ids_in(html: str, pattern: str) -> list[int]:
    """The ids captured by `pattern`, in page order, without repeats."""
    return list(dict.fromkeys(int(found) for found in re.findall(pattern, html)))


class Client:
    """One officer in a browser: logs in once, then reads and writes until the deadline or the request budget."""

    def __init__(
        self,
        number: int,
        user: dict[str, str],
        port: int,
        plan: Plan,
        deadline: float,
        stop: threading.Event,
        think: float,
    ) -> None:
        self.number = number
        self.email = user["email"]
        self.side = user["side"]
        self.port = port
        self.plan = plan
        self.deadline = deadline
        self.stop = stop
        self.think = think
        self.rng = random.Random(f"{number}:{self.email}")
        self.user_agent = f"bulletin-load/1 (client {number})"  # the same all along: session protection is strong
        self.cookies: dict[str, str] = {}
        self.samples: list[Sample] = []
        self.done: collections.Counter[str] = collections.Counter()
        self.seen_posts: list[int] = []
        self.conversations: list[int] = []
        self.max_requests = 0
        self.connection_errors = 0
        self.failure = ""

    # --- HTTP ---------------------------------------------------------------------------------------------

    def request(self, kind: str, method: str, path: str, form: dict[str, str] | None = None) -> Reply | None:
        """One request, redirects not followed; None when the connection failed. Raises Done past the budget."""
        if self.stop.is_set() or time.monotonic() >= self.deadline or len(self.samples) >= self.max_requests:
            raise Done
        headers = {"User-Agent": self.user_agent, "Accept-Language": "ja"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection(HOST, self.port, timeout=REQUEST_TIMEOUT)
        started = time.perf_counter()
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as error:
            elapsed = (time.perf_counter() - started) * 1000
            self.samples.append(Sample(kind, method, path, 0, elapsed, type(error).__name__))
            self.connection_errors += 1
            if self.connection_errors >= MAX_CONNECTION_ERRORS:
                self.failure = f"{self.connection_errors} connection errors, stopped"
                raise Done from error
            time.sleep(0.05)
            return None
        finally:
            connection.close()
        elapsed = (time.perf_counter() - started) * 1000
        self.samples.append(Sample(kind, method, path, response.status, elapsed))
        self.keep_cookies(response.headers.get_all("Set-Cookie") or [])
        reply = Reply(response.status, response.headers.get("Location", ""), text)
        redirected = reply.status in (301, 302, 303) and kind not in ("login", "login_form")
        if redirected and urllib.parse.urlsplit(reply.location).path == "/login":
            raise LoggedOut
        return reply

    def keep_cookies(self, headers: list[str]) -> None:
        """Cookies by hand: the session cookie is Secure in production and a jar would not send it over http."""
        for header in headers:
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or (morsel["expires"] and "1970" in morsel["expires"]):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def get(self, kind: str, path: str) -> Reply | None:
        """GET a page."""
        return self.request(kind, "GET", path)

    def follow(self, reply: Reply | None) -> Reply | None:
        """GET where a redirect points, if it stays on this server."""
        if reply is None or reply.status not in (301, 302, 303) or not reply.location:
            return reply
        target = urllib.parse.urlsplit(reply.location)
        if target.hostname not in (None, HOST) or (target.port not in (None, self.port)):
            return reply
        path = (target.path or "/") + (f"?{target.query}" if target.query else "")
        return self.get(kind_of(path), path)

    # --- what a user does ------------------------------------------------------------------------------------

    def log_in(self) -> None:
        """GET /login for the cookie and the token, POST the credentials, then the page it leads to."""
        for attempt in range(LOGIN_ATTEMPTS):
            self.cookies.clear()
            page = self.get("login_form", "/login")
            token = form_token(page.body, "/login") if page and page.status == 200 else None
            reply = None
            if token is not None:
                form = {"csrf_token": token, "email": self.email, "password": DEMO_PASSWORD, "next": ""}
                reply = self.request("login", "POST", "/login", form)
            if reply is not None and reply.status == 302:
                self.done["logins"] += 1
                self.follow(reply)
                return
            if reply is not None and reply.status < 500 and reply.status != 429:
                self.failure = f"login as {self.email} refused: HTTP {reply.status}"
                raise Done
            # a failure already counted (>= 500, connection) or throttled: try again a little later
            time.sleep(min(0.2 * (attempt + 1), max(0.0, self.deadline - time.monotonic())))
        self.failure = f"no login as {self.email} after {LOGIN_ATTEMPTS} attempts"
        raise Done

    def other_side_posts(self) -> list[int]:
        """The posts this client's organization may answer: proposals for a ward, calls for the others."""
        return self.plan.proposals if self.side == "ward" else self.plan.calls

    def list_posts(self) -> None:
        """The post list with a few filters, as a user narrows it down."""
        query: dict[str, str] = {}
        if self.rng.random() < 0.5:
            query["kind"] = "proposal" if self.side == "ward" else "call"
        if self.rng.random() < 0.3:
            query["category"] = self.rng.choice(self.plan.categories)
        if self.rng.random() < 0.2:
            query["prefecture"] = f"{self.rng.randint(1, 47):02d}"
        if self.rng.random() < 0.3:
            query["sort"] = "deadline"
        if self.rng.random() < 0.05:
            query["status"] = "closed"
        if self.rng.random() < 0.3:
            query["page"] = str(self.rng.randint(2, 5))
        path = "/posts" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        self.remember_posts(self.get("list", path))

    def search(self) -> None:
        """A keyword search, sometimes narrowed to one kind of post."""
        query = {"q": self.rng.choice(self.plan.search_words)}
        if self.rng.random() < 0.3:
            query["kind"] = "proposal" if self.side == "ward" else "call"
        self.remember_posts(self.get("search", f"/posts?{urllib.parse.urlencode(query)}"))

    def remember_posts(self, reply: Reply | None) -> None:
        """Keep the posts a list showed, to open some of them later."""
        if reply is not None and reply.status == 200:
            self.seen_posts = (ids_in(reply.body, r'href="/posts/(\d+)"') + self.seen_posts)[:200]

    def open_post(self) -> None:
        """One post: one the lists showed, or one of the other side's clients."""
        pool = self.seen_posts if self.seen_posts and self.rng.random() < 0.5 else self.other_side_posts()
        if pool:
            self.get("post", f"/posts/{self.rng.choice(pool)}")

    def respond(self) -> None:
        """Open a post of the other side, its response form, and send it (a second time: the conversation)."""
        pool = self.other_side_posts()
        if not pool:
            return
        post_id = self.rng.choice(pool)
        self.get("post", f"/posts/{post_id}")
        page = self.get("respond_form", f"/posts/{post_id}/respond")
        if page is None or page.status != 200:
            self.done["respond_redirected" if page and page.status == 302 else "respond_refused"] += 1
            self.follow(page)
            return
        token = form_token(page.body, f"/posts/{post_id}/respond")
        kind = self.rng.choice(RESPONSE_KINDS)
        message = f"{self.rng.choice(MESSAGES)}（負荷試験 {self.number}）"
        reply = self.request(
            "respond",
            "POST",
            f"/posts/{post_id}/respond",
            {"csrf_token": token or "", "kind": kind, "message": message},
        )
        if reply is not None and reply.status == 302:
            self.done["responses"] += 1
        self.remember_conversation(self.follow(reply))

    def remember_conversation(self, reply: Reply | None) -> None:
        """A conversation page reached: keep its id."""
        if reply is not None and reply.status == 200:
            found = ids_in(reply.body, r'action="/conversations/(\d+)"')
            if found and found[0] not in self.conversations:
                self.conversations.append(found[0])

    def read_desk(self) -> None:
        """The organization's desk; keep the conversations it lists."""
        desk = self.get("dashboard", "/dashboard")
        if desk is not None and desk.status == 200:
            for conversation_id in ids_in(desk.body, r'href="/conversations/(\d+)"'):
                if conversation_id not in self.conversations:
                    self.conversations.append(conversation_id)

    def write_message(self) -> None:
        """From the desk, open a conversation and write in it."""
        self.read_desk()
        if not self.conversations:
            self.respond()
            return
        path = f"/conversations/{self.rng.choice(self.conversations)}"
        page = self.get("conversation", path)
        if page is None or page.status != 200:
            return
        message = f"{self.rng.choice(MESSAGES)}（負荷試験 {self.number}）"
        reply = self.request(
            "message", "POST", path, {"csrf_token": form_token(page.body, path) or "", "message": message}
        )
        if reply is not None and reply.status == 302:
            self.done["messages"] += 1
        self.follow(reply)

    def read_notifications(self) -> None:
        """The notification centre; open an unread one (which reads it), or mark them all read."""
        page = self.get("notifications", "/notifications")
        if page is None or page.status != 200:
            return
        unread = ids_in(page.body, r'notification--unread">\s*<form method="post" action="/notifications/(\d+)/read"')
        if unread and self.rng.random() < 0.7:
            action = f"/notifications/{self.rng.choice(unread)}/read"
            reply = self.request(
                "read_notification", "POST", action, {"csrf_token": form_token(page.body, action) or ""}
            )
            if reply is not None and reply.status == 302:
                self.done["notifications_read"] += 1
            self.follow(reply)
        elif unread and self.rng.random() < 0.5:
            action = "/notifications/read-all"
            reply = self.request("read_all", "POST", action, {"csrf_token": form_token(page.body, action) or ""})
            if reply is not None and reply.status == 302:
                self.done["notifications_read_all"] += 1
            self.follow(reply)

    def run(self) -> None:
        """Log in once, then act until the deadline (log in again only when logged out)."""
        self.max_requests = max(1, round((self.deadline - time.monotonic()) * MAX_REQUESTS_PER_SECOND))
        actions: dict[str, Callable[[], None]] = {
            "list": self.list_posts,
            "search": self.search,
            "post": self.open_post,
            "respond": self.respond,
            "message": self.write_message,
            "dashboard": self.read_desk,
            "notifications": self.read_notifications,
            "home": lambda: self.get("home", "/"),
        }
        names, weights = zip(*ACTIONS, strict=True)
        logged_in = False
        try:
            while True:
                try:
                    if not logged_in:
                        self.log_in()
                        logged_in = True
                    actions[self.rng.choices(names, weights)[0]]()
                except LoggedOut:
                    self.done["logged_out"] += 1
                    logged_in = False
                if self.think:
                    time.sleep(min(self.rng.uniform(0, 2 * self.think), max(0.0, self.deadline - time.monotonic())))
        except Done:
            if not logged_in and not self.failure:
                self.failure = "not logged in at the end: " + ", ".join(
                    f"{sample.method} {sample.path} {sample.status or sample.error}" for sample in self.samples[-3:]
                )
        except Exception as error:  # a bug of the client: reported, never a hung thread
            self.failure = f"{type(error).__name__}: {error}"


# --- the database, the servers ---------------------------------------------------------------------------------


@dataclass
class Database:
    """A fresh database for one run, and how to drop it."""

    kind: str
    url: str
    drop: Callable[[], None] | None = None
    label: str = ""


def create_database(kind: str, workdir: Path, admin_url: str) -> Database:
    """A SQLite file in the temp dir, or a new database on the PostgreSQL server of `admin_url`."""
    if kind == "sqlite":
        return Database(kind, f"sqlite:///{workdir / 'app.sqlite'}", label="SQLite")
    import psycopg

    name = f"bulletin_load_{secrets.token_hex(5)}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
        version = connection.execute("SHOW server_version").fetchone()[0]

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    url = admin_url.rsplit("/", 1)[0] + "/" + name
    return Database(kind, url, drop, label=f"PostgreSQL {version.split()[0]} ({name})")


def query(database: Database, statement: str) -> list[tuple]:
    """Rows of one read-only statement, on a connection of our own."""
    if database.kind == "sqlite":
        path = database.url.removeprefix("sqlite:///")
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            return connection.execute(statement).fetchall()
    import psycopg

    with psycopg.connect(database.url, connect_timeout=10) as connection:
        return connection.execute(statement).fetchall()


def last_outbox_id(database: Database) -> int:
    """The newest outbox message's id (0 if none)."""
    return query(database, "SELECT COALESCE(MAX(id), 0) FROM outbox_message")[0][0]


def outbox_states(database: Database, after_id: int) -> dict[str, int]:
    """The outbox messages queued after `after_id`, by kind and state ("response_received sent": 12, ...)."""
    rows = query(
        database,
        f"SELECT kind, state, COUNT(*) FROM outbox_message WHERE id > {int(after_id)} "
        "GROUP BY kind, state ORDER BY kind, state",
    )
    return {f"{kind} {state}": count for kind, state, count in rows}


def mail_files(folder: Path) -> int:
    """Messages the worker wrote to its mail folder (no SMTP_HOST: the folder transport)."""
    return len(list(folder.glob("*.eml"))) if folder.is_dir() else 0


def traceback_cause(lines: list[str]) -> str:
    """The last exception of a logged traceback (the unindented lines after its frames, a wrapped message joined),
    with the start of the SQL statement SQLAlchemy names, and the path of Flask's "unhandled error on PATH"."""
    start = max(n for n, line in enumerate(lines) if line.startswith("Traceback (most recent call last)"))
    message: list[str] = []
    statement = ""
    for line in lines[start + 1 :]:
        if not line[:1].strip():
            if message:
                break
            continue
        if line.startswith("[SQL: "):
            statement = " ".join(line.removeprefix("[SQL: ").split()[:6])
            break
        if line.startswith(("(Background on this error", "[parameters: ")) or len(message) == 2:
            break
        message.append(line.strip())
    text = " ".join(message)
    text = text.replace(
        " (raised as a result of Query-invoked autoflush; consider using a session.no_autoflush "
        "block if this flush is occurring prematurely)",
        " (autoflush)",
    )
    where = re.search(r"unhandled error on (\S+)", lines[0])
    route = f"{path_template(where.group(1))}: " if where else ""
    return f"{route}{text[:200]}" + (f" [SQL: {statement} ...]" if statement else "")


def compact_traceback(lines: list[str]) -> list[str]:
    """A logged traceback without the library frames: its first line, the frames in this project with their code
    line, and the exception with its SQL."""
    kept = [lines[0]]
    for n, line in enumerate(lines[1:], 1):
        if line.lstrip().startswith("File ") and str(ROOT) in line and "/.venv/" not in line:
            kept += [line, *lines[n + 1 : n + 2]]
        elif line[:1].strip() and not line.startswith(("[parameters: ", "(Background on this error")):
            kept.append(line)
    return kept


def error_causes(text: str) -> tuple[dict[str, int], list[str]]:
    """The causes of the errors in a gunicorn log: per route, each traceback's last exception and its SQL (or the
    record itself for gunicorn's own errors) with its count, and a sample: the first traceback, shortened."""
    causes: collections.Counter[str] = collections.Counter()
    sample: list[str] = []
    for record in RECORD_START.split(text):
        lines = record.rstrip().splitlines()
        if not lines:
            continue
        if any(line.startswith("Traceback (most recent call last)") for line in lines):
            cause = traceback_cause(lines)
            if cause not in causes and len(causes) < SAMPLES:
                sample += compact_traceback(lines)
            causes[cause] += 1
        elif re.search(r"\[(ERROR|CRITICAL)\]|\bERROR in\b", lines[0]):
            causes[re.sub(r"^\[[^\]]*\] (\[\d+\] )?", "", lines[0])[:200]] += 1
    return dict(causes.most_common()), sample


def server_error_time(access_log: Path) -> dict:
    """Server time of the responses >= 500, from gunicorn's access log: how long the worker took to fail."""
    times = []
    for line in access_log.read_text(errors="replace").splitlines() if access_log.exists() else []:
        fields = line.split()
        if len(fields) == 3 and fields[0].isdigit() and int(fields[0]) >= 500 and fields[2].isdigit():
            times.append(int(fields[2]) / 1000)
    times.sort()
    return {
        "requests": len(times),
        "p50_ms": percentile(times, 50),
        "max_ms": times[-1] if times else None,
    }


def percentile(ordered: list[float], percent: float) -> float | None:
    """Nearest-rank percentile of sorted values."""
    if not ordered:
        return None
    rank = max(0, min(len(ordered) - 1, round(percent / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summarise(samples: list[Sample], seconds: float) -> dict:
    """Totals, status classes, the URLs of the errors, and p50/p95 overall and per kind of request."""
    answered = [sample for sample in samples if sample.status]
    classes = collections.Counter(f"{sample.status // 100}xx" for sample in answered)
    statuses = collections.Counter(sample.status for sample in answered)
    server_errors: collections.Counter[str] = collections.Counter()
    client_errors: collections.Counter[str] = collections.Counter()
    connection_errors: collections.Counter[str] = collections.Counter()
    for sample in samples:
        where = f"{sample.method} {path_template(sample.path)}"
        if sample.status == 0:
            connection_errors[f"{where} ({sample.error})"] += 1
        elif sample.status >= 500:
            server_errors[f"{where} {sample.status}"] += 1
        elif sample.status >= 400 and sample.status != 404:
            client_errors[f"{where} {sample.status}"] += 1

    def latency(group: list[Sample]) -> dict:
        ordered = sorted(sample.ms for sample in group)
        return {"requests": len(group), "p50_ms": percentile(ordered, 50), "p95_ms": percentile(ordered, 95)}

    by_kind: dict[str, list[Sample]] = collections.defaultdict(list)
    for sample in answered:
        by_kind[sample.kind].append(sample)
    return {
        "requests": len(samples),
        "answered": len(answered),
        "seconds": round(seconds, 2),
        "rps": len(answered) / seconds if seconds else 0.0,
        "status_classes": dict(sorted(classes.items())),
        "statuses": {str(status): count for status, count in sorted(statuses.items())},
        "server_errors": sum(server_errors.values()),
        "server_error_urls": dict(server_errors.most_common()),
        "client_error_urls": dict(client_errors.most_common()),
        "connection_errors": sum(connection_errors.values()),
        "connection_error_urls": dict(connection_errors.most_common()),
        "latency": latency(answered),
        "latency_by_kind": {kind: latency(group) for kind, group in sorted(by_kind.items())},
    }


def app_environment(database: Database, workdir: Path, port: int) -> dict[str, str]:
    """The app as deployed (production settings), configured only by what is set here, serving this worktree."""
    prefixes = (*APP_ENV_PREFIXES, "MODERATOR_", "RATELIMIT_")
    env = {name: value for name, value in os.environ.items() if not name.startswith(prefixes)}
    env.update(
        BULLETIN_ENV="production",
        SECRET_KEY=secrets.token_hex(32),
        DATABASE_URL=database.url,
        BASE_URL=f"http://{HOST}:{port}",
        MAIL_FOLDER=str(workdir / "mail"),
        UPLOAD_DIR=str(workdir / "uploads"),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONPATH=os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
    )
    return env


def run_clients(users: list[dict], port: int, plan: Plan, seconds: float, think: float) -> tuple[list[Client], float]:
    """Start one thread per client together, wait for all of them (each stops by itself at the deadline)."""
    stop = threading.Event()
    deadline = time.monotonic() + seconds
    clients = [Client(number, user, port, plan, deadline, stop, think) for number, user in enumerate(users, 1)]
    threads = [threading.Thread(target=client.run, name=f"client-{client.number}", daemon=True) for client in clients]
    started = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        give_up = deadline + 2 * REQUEST_TIMEOUT + 10
        for thread in threads:
            while thread.is_alive() and time.monotonic() < give_up:
                thread.join(timeout=0.5)
    finally:
        stop.set()  # on Ctrl-C too: every client stops before its next request
    hung = [thread.name for thread in threads if thread.is_alive()]
    if hung:
        raise BenchError(f"clients still running after the deadline: {', '.join(hung)}")
    return clients, time.monotonic() - started


def run_database(
    kind: str, args: argparse.Namespace, servers: list[Server], cleanups: list[Callable[[], None]]
) -> dict:
    """One database: build it, serve it with the mail worker beside, load it, and gather the figures."""
    workdir = Path(tempfile.mkdtemp(prefix=f"bulletin-load-{kind}-"))
    if args.keep:
        cleanups.append(lambda: log(f"kept {workdir}"))
    else:
        cleanups.append(lambda: shutil.rmtree(workdir, ignore_errors=True))
    database = create_database(kind, workdir, args.postgres_url)
    if database.drop is not None:
        cleanups.append(database.drop)
    port = free_port()
    env = app_environment(database, workdir, port)
    log(f"{database.label}: bulletin db upgrade, bulletin demo in {workdir}")
    run_command([str(BIN / "bulletin"), "db", "upgrade"], env, workdir, timeout=300)
    run_command([str(BIN / "bulletin"), "demo"], env, workdir, timeout=300)
    if args.posts:
        log(f"{database.label}: seeding {args.posts:,} published posts (bench/seed_posts.py)")
        seed_posts(env, workdir, args.posts)
    seeded = json.loads(
        run_command(
            [sys.executable, str(HERE / "seed_users.py"), "--clients", str(args.clients)], env, workdir, timeout=120
        )
    )
    users = seeded["clients"]
    # the demo's own mail (approvals, ...) goes out first, so that what is counted is the load's
    run_command([str(BIN / "bulletin"), "worker", "--once", "--now"], env, workdir, timeout=300)
    mail_folder = workdir / "mail"
    mail_before, outbox_before = mail_files(mail_folder), last_outbox_id(database)
    plan = Plan(seeded["proposals"], seeded["calls"], seeded["search_words"], seeded["categories"])

    access = ["--access-logfile", str(workdir / "access.log"), "--access-logformat", ACCESS_FORMAT]
    app = Server("app", gunicorn_command("bulletin:create_app()", port, access), env, workdir, workdir / "gunicorn.log")
    worker = Server(
        "worker",
        [str(BIN / "bulletin"), "worker", "--interval", str(WORKER_INTERVAL)],
        env,
        workdir,
        workdir / "worker.log",
    )
    for server in (app, worker):
        servers.append(server)
        server.start()
    wait_ready(app, f"http://{HOST}:{port}/readyz")
    if not worker.alive():
        raise BenchError(f"the mail worker exited while starting:\n{worker.log_tail()}")
    sides = collections.Counter(user["side"] for user in users)
    log(
        f"{database.label}: gunicorn ({WORKERS} sync workers) on {HOST}:{port} and the mail worker; "
        f"{len(users)} clients ({sides['ward']} wards, {sides['municipality']} municipalities) for {args.seconds:g} s"
    )
    load_before = os.getloadavg()[0]
    cpu_before = time.process_time()
    clients, elapsed = run_clients(users, port, plan, args.seconds, args.think)
    client_cpu = time.process_time() - cpu_before
    app.stop()
    time.sleep(WORKER_DRAIN)
    worker.stop()

    samples = [sample for client in clients for sample in client.samples]
    summary = summarise(samples, elapsed)
    done: collections.Counter[str] = collections.Counter()
    for client in clients:
        done.update(client.done)
    causes, sample = error_causes(app.log.read_text(errors="replace"))
    worker_log = worker.log.read_text(errors="replace")
    worker_causes, worker_sample = error_causes(worker_log)
    return {
        "database": kind,
        "label": database.label,
        "clients": len(clients),
        "seconds_asked": args.seconds,
        "load_average_before": round(load_before, 2),
        "client_cpu_s": round(client_cpu, 2),
        **summary,
        "server_error_time": server_error_time(workdir / "access.log"),
        "done": dict(sorted(done.items())),
        "client_failures": {f"client {c.number} ({c.email})": c.failure for c in clients if c.failure},
        "gunicorn_error_causes": causes,
        "gunicorn_error_sample": sample,
        "mails_delivered": mail_files(mail_folder) - mail_before,
        "worker_reported_sent": sum(int(n) for n in re.findall(r"^sent (\d+),", worker_log, re.MULTILINE)),
        "worker_error_causes": worker_causes,
        "worker_error_sample": worker_sample,
        "outbox": outbox_states(database, outbox_before),
        "users": [user["email"] for user in users],
    }


# --- the report ----------------------------------------------------------------------------------------------


def fmt_ms(value: float | None) -> str:
    """Milliseconds with one decimal, or '-'."""
    return "-" if value is None else f"{value:.1f}"


def print_result(result: dict) -> None:
    """The figures of one database."""
    print()
    print(
        f"== {result['label']}: {result['clients']} clients, {result['seconds']:.1f} s, gunicorn {WORKERS} sync "
        f"workers + mail worker (load average before: {result['load_average_before']:.2f}; the clients used "
        f"{result['client_cpu_s']:.1f} s of CPU) =="
    )
    classes = "  ".join(f"{name} {count:,}" for name, count in result["status_classes"].items())
    print(
        f"requests: {result['requests']:,} ({result['rps']:.1f} req/s)   {classes}   "
        f"responses >= 500: {result['server_errors']}   connection errors: {result['connection_errors']}"
    )
    statuses = ", ".join(f"{status}: {count:,}" for status, count in result["statuses"].items())
    print(f"statuses: {statuses}")
    done = result["done"]
    print(
        f"done: {done.get('logins', 0)} logins ({done.get('logged_out', 0)} after being logged out), "
        f"{done.get('responses', 0)} responses sent ({done.get('respond_redirected', 0)} already answered: "
        f"the conversation; {done.get('respond_refused', 0)} refused), {done.get('messages', 0)} messages, "
        f"{done.get('notifications_read', 0)} notifications opened from the list, "
        f"{done.get('notifications_read_all', 0)} 'all read'"
    )
    for title, key in (
        ("responses >= 500", "server_error_urls"),
        ("connection errors", "connection_error_urls"),
        ("4xx other than 404", "client_error_urls"),
    ):
        if result[key]:
            late = result["server_error_time"]
            when = (
                f" (time in the worker: p50 {fmt_ms(late['p50_ms'])} ms, max {fmt_ms(late['max_ms'])} ms)"
                if late["requests"]
                else ""
            )
            print(f"{title}{when if key == 'server_error_urls' else ''}:")
            for where, count in list(result[key].items())[:12]:
                print(f"  {count:6,}  {where}")
    if result["gunicorn_error_causes"]:
        print("causes in the gunicorn log (route: the last exception of each traceback [its SQL]):")
        for cause, count in result["gunicorn_error_causes"].items():
            print(f"  {count:6,}  {cause}")
        print("sample from the gunicorn log (the project's frames only):")
        for line in result["gunicorn_error_sample"]:
            print(f"    {line[:160]}")
    if result["client_failures"]:
        print("clients that stopped early:")
        for who, why in result["client_failures"].items():
            print(f"  {who}: {why}")
    print(f"{'latency':<24} {'requests':>9} {'p50 ms':>8} {'p95 ms':>8}")
    overall = result["latency"]
    print(f"{'all':<24} {overall['requests']:>9,} {fmt_ms(overall['p50_ms']):>8} {fmt_ms(overall['p95_ms']):>8}")
    for kind, figures in result["latency_by_kind"].items():
        print(f"  {kind:<22} {figures['requests']:>9,} {fmt_ms(figures['p50_ms']):>8} {fmt_ms(figures['p95_ms']):>8}")
    outbox = ", ".join(f"{key} {count}" for key, count in result["outbox"].items()) or "empty"
    print(
        f"mail: {result['mails_delivered']} delivered by the worker during the load (files in its mail folder); "
        f"the load's outbox at the end: {outbox}"
    )
    if result["worker_error_causes"]:
        print("errors in the worker's log:")
        for cause, count in result["worker_error_causes"].items():
            print(f"  {count:6,}  {cause}")


def print_verdict(results: list[dict]) -> bool:
    """DESIGN §7's bar per database; True when every database passed."""
    print()
    passed = True
    for result in results:
        bad = result["server_errors"] + result["connection_errors"]
        passed = passed and not bad
        verdict = "PASS" if not bad else "FAIL"
        print(
            f"{verdict}  {result['label']}: {result['server_errors']} responses >= 500, "
            f"{result['connection_errors']} connection errors in {result['requests']:,} requests "
            f"(p95 {fmt_ms(result['latency']['p95_ms'])} ms)"
        )
    print(f'DESIGN §7: "{BAR}"')
    return passed


@dataclass
class Cleanup:
    """What to undo on the way out, newest first; servers before the rest."""

    servers: list[Server] = field(default_factory=list)
    steps: list[Callable[[], None]] = field(default_factory=list)

    def __call__(self) -> None:
        for server in self.servers:
            server.stop()
        self.servers.clear()
        while self.steps:
            step = self.steps.pop()
            try:
                step()
            except Exception as error:  # keep cleaning up
                log(f"clean-up step failed: {error}")


def selected(choice: str) -> Iterator[str]:
    """The databases `--database` names, SQLite first."""
    return iter(DATABASES if choice == "both" else (choice,))


def main() -> int:
    """Parse the arguments, run each database in turn, print the figures; 1 if anything >= 500 or failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=(*DATABASES, "both"), default="both", help="default: both")
    parser.add_argument("--seconds", type=float, default=30, help="seconds of load per database (default 30)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients, each its own user (default 20)")
    parser.add_argument("--posts", type=int, default=10_000, help="published posts to seed (default 10,000; 0: none)")
    parser.add_argument("--think", type=float, default=0.0, help="mean pause between a client's actions (default 0)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", POSTGRES_ADMIN_URL),
        help=f"a database on the server to create the run's database on (default {POSTGRES_ADMIN_URL})",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temp dirs (SQLite file, logs, mail)")
    args = parser.parse_args()
    if not 1 <= args.seconds <= 600:
        parser.error("--seconds must be in [1, 600]")
    if not 2 <= args.clients <= 40:
        parser.error("--clients must be in [2, 40]")
    if not (args.posts == 0 or 1_000 <= args.posts <= 200_000):
        parser.error("--posts must be 0 or in [1,000, 200,000]")
    if not 0 <= args.think <= 10:
        parser.error("--think must be in [0, 10]")
    loadgen.check_loopback(f"http://{HOST}/")

    def terminate(signum, frame):
        log(f"stopped by signal {signum}")
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)
    started = datetime.now(UTC)
    results: list[dict] = []
    status = 0
    for kind in selected(args.database):
        cleanup = Cleanup()
        result = None
        try:
            result = run_database(kind, args, cleanup.servers, cleanup.steps)
        except (BenchError, subprocess.TimeoutExpired, OSError) as error:
            log(f"{kind}: failed: {error}")
            status = 1
        except KeyboardInterrupt:
            log("interrupted")
            status = 130
        finally:
            on_interrupt = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up
            cleanup()
            signal.signal(signal.SIGINT, on_interrupt)
        if status == 130:
            break
        if result is not None:
            results.append(result)
            print_result(result)
    if results:
        if not print_verdict(results):
            status = status or 1
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            data = {"date": started.isoformat(timespec="seconds"), "cpus": os.cpu_count(), "runs": results}
            args.json.write_text(json.dumps(data, ensure_ascii=False, indent=2))
            log(f"wrote {args.json}")
    return status


if __name__ == "__main__":
    sys.exit(main())
