"""Benchmark the board's pages against the floor page of DESIGN §7, under gunicorn, on 127.0.0.1.

    .venv/bin/python bench/run.py [--duration 10] [--pages all|base|posts|responses|KEY,...] [--posts 10000]
                                  [--conversations 200] [--json bench/results/latest.json]

In a fresh temp dir: the app's SQLite database (`bulletin db upgrade`, `bulletin demo`, production settings, then
10,000 published posts from bench/seed_posts.py and 200 conversations of 坂井市, one of 500 messages, from
bench/seed_conversations.py) and the floor's (10,000 rows). Queries per page are counted in process
(bench/queries.py, Flask test client) with the demo's own posts and conversations and again with the seeded ones,
and each page is timed there too (server time). Then both apps are served by gunicorn with 2 sync workers, and
wrk (or the Python fallback) loads floor and app pages alternately: floor, page, floor, page, ..., floor. Each
page's ratio is its requests per second over the mean of the two floor runs beside it; pages with a DESIGN §7
target pass or fail it; the others are held to the query bar only. `PRAGMA data_version` around each load of an
app page checks that the load wrote nothing. Everything started here is stopped on exit, Ctrl-C included. See
bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from importlib import metadata
from pathlib import Path

import loadgen
from queries import form_fields

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
USER_AGENT = "bulletin-bench/1 (wrk)"  # the same on login and under load: session protection is "strong"
DEMO_EMAIL = "kanko@city.fukui-sakai.lg.jp"  # 坂井市, a municipality: the home page
WARD_EMAIL = "kouryu@city.shinagawa.lg.jp"  # 品川区, a ward: the post pages
DEMO_PASSWORD = "kogane-gani-2015"
MAX_QUERIES = 8
TIMED_REQUESTS = 80  # per page, in process, for the server-time percentiles
WORKERS = 2
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
APP_ENV_PREFIXES = ("BULLETIN_", "FLASK_", "SMTP_", "REDIS_", "MAIL_", "TRUSTED_PROXIES", "DATABASE_URL", "SECRET_KEY")
APP_ENV_PREFIXES += ("BASE_URL", "UPLOAD_DIR", "FLOOR_", "BENCH_")

TARGETS = (
    "post list (20 a page, filters, logged in) >= 0.50x floor rps",
    "post detail with 20 responses >= 0.33x",
    "search over 100,000 posts >= 0.25x, p95 <= 20 ms of server time",
    f"at most {MAX_QUERIES} queries per page whatever the data size; no writes on GET",
)


@dataclass(frozen=True)
class Target:
    """A DESIGN §7 bar: req/s at least `ratio` times the floor's, server p95 at most `server_p95_ms`."""

    name: str
    ratio: float
    server_p95_ms: float | None = None

    @property
    def short(self) -> str:
        return f">={self.ratio:.2f}x" + ("+p95" if self.server_p95_ms else "")


LIST = Target("post list", 0.50)
DETAIL = Target("post detail", 0.33)
SEARCH = Target("search", 0.25, server_p95_ms=20.0)
STATS = Target("statistics", 0.0, server_p95_ms=100.0)  # the record issue: under 100 ms of server time


@dataclass
class Page:
    key: str
    label: str  # {messages} and {conversations} are filled in as the path's fields are
    path: str  # {search} and {detail} from bench/seed_posts.py's report, {conversation} from seed_conversations.py
    user: str | None = None  # the e-mail of the demo user it is loaded as; None: anonymous
    markers: tuple[bytes, ...] = ()  # must be in the body (checked before and after the load)
    target: Target | None = None  # besides the query bar every page has
    group: str = "base"

    @property
    def logged_in(self) -> bool:
        return self.user is not None

    def url_path(self, context: dict[str, str]) -> str:
        return self.path.format(**context)

    def title(self, context: dict[str, str]) -> str:
        return self.label.format(**context)


CARD = b'class="post-card"'
LOGOUT = b'action="/logout"'
POSTS = {"user": WARD_EMAIL, "group": "posts"}
RESPONSES = {"user": DEMO_EMAIL, "group": "responses"}  # 坂井市's conversations, bench/seed_conversations.py
PAGES = (
    Page("login", "login (anonymous GET)", "/login", markers=(b'name="csrf_token"',)),
    Page("home", "home (anonymous)", "/", markers=(b'href="/login"',)),
    Page("home_user", "home (logged in)", "/", user=DEMO_EMAIL, markers=(LOGOUT,)),
    Page("posts_list", "posts: list, page 1", "/posts", **POSTS, markers=(LOGOUT, CARD), target=LIST),
    Page(
        "posts_deadline",
        "posts: products by deadline",
        "/posts?category=products&sort=deadline",
        **POSTS,
        markers=(LOGOUT, CARD),
        target=LIST,
    ),
    Page(
        "posts_search", "posts: search (1% match)", "/posts?q={search}", **POSTS, markers=(LOGOUT, CARD), target=SEARCH
    ),
    Page("posts_page50", "posts: list, page 50", "/posts?page=50", **POSTS, markers=(LOGOUT, CARD), target=LIST),
    Page(
        "stats",
        "statistics by fiscal year",
        "/stats",
        **POSTS,
        markers=(LOGOUT, b'data-table="coverage"'),
        target=STATS,
    ),
    Page(
        "post_detail",
        "post detail (files, wards)",
        "/posts/{detail}",
        **POSTS,
        markers=(LOGOUT, b'id="files-heading"', b'class="attachments"'),
        target=DETAIL,
    ),
    # no ratio target in §7 or the responses issue: their ratio is reported, and the query bar judged
    Page(
        "conversation",
        "conversation ({messages} msgs)",
        "/conversations/{conversation}",
        **RESPONSES,
        markers=(LOGOUT, b'class="messages"', b'id="latest"', b'id="reply-heading"'),
    ),
    Page(
        "post_detail_own",
        "post detail, own ({busy_responses} responses)",
        "/posts/{busy_post}",
        **RESPONSES,
        markers=(LOGOUT, b'id="responses-heading"', b'href="/conversations/'),
        target=DETAIL,
    ),
    Page(
        "dashboard",
        "dashboard ({conversations} convs)",
        "/dashboard",
        **RESPONSES,
        markers=(LOGOUT, b'id="conversations-heading"', b'class="row--unread"'),
    ),
)
GROUPS = {
    "all": PAGES,
    **{group: tuple(p for p in PAGES if p.group == group) for group in ("base", "posts", "responses")},
}


def select_pages(choice: str) -> tuple[Page, ...]:
    """`all`, `base`, `posts` or page keys, comma-separated, in PAGES order."""
    keys = set()
    for name in (part.strip() for part in choice.split(",") if part.strip()):
        if name in GROUPS:
            keys |= {page.key for page in GROUPS[name]}
        elif any(page.key == name for page in PAGES):
            keys.add(name)
        else:
            known = ", ".join([*GROUPS, *(page.key for page in PAGES)])
            raise ValueError(f"unknown page {name!r} (known: {known})")
    return tuple(page for page in PAGES if page.key in keys)


class BenchError(RuntimeError):
    pass


@dataclass
class Server:
    name: str
    command: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path
    process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: the master and its workers stop together
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM to the group this script started (gunicorn's graceful stop: the master stops its workers and
        waits for them), SIGKILL to the group if the master is still there after 10 s."""
        process = self.process
        if process is None:
            return
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            if process.poll() is not None:  # reaped: the group id may no longer be ours to signal
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=wait)
        self.process = None

    def worker_cpu(self) -> tuple[frozenset[int], float]:
        """The worker processes and the CPU seconds (user + system) they have used so far."""
        pids = frozenset(children(self.process.pid)) if self.process else frozenset()
        return pids, sum(process_cpu(pid) or 0.0 for pid in pids)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Measurement:
    page: Page
    url: str
    result: loadgen.LoadResult
    floors: list[loadgen.LoadResult] = field(default_factory=list)  # the floor runs just before and after
    round: int = 1

    @property
    def ratio(self) -> float | None:
        """Requests per second over the floor's."""
        return self.result.rps / statistics.mean(floor.rps for floor in self.floors)

    @property
    def cpu_ratio(self) -> float | None:
        """The floor's worker CPU time per request over the page's: the ratio on an otherwise idle machine."""
        floor_cpu = [floor.cpu_ms for floor in self.floors if floor.cpu_ms]
        if not floor_cpu or not self.result.cpu_ms:
            return None
        return statistics.mean(floor_cpu) / self.result.cpu_ms


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat after the command name: state, ppid, ..., utime (index 11), stime (index 12)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def process_cpu(pid: int) -> float | None:
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS if fields else None


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and fields[1] == str(pid):
                found.append(int(entry.name))
    return found


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def run_command(command: list[str], env: dict[str, str], cwd: Path, timeout: float, input: str | None = None) -> str:
    """Run a preparation step; its output on failure."""
    result = subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, input=input, check=False
    )
    if result.returncode != 0:
        raise BenchError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


def demo_password(output: str, email: str) -> str:
    """A demo user's password as `bulletin demo` printed it (the documented one if it is missing)."""
    for line in output.splitlines():
        if email in line and "/" in line:
            return line.rsplit("/", 1)[1].strip()
    log(f"`bulletin demo` printed no login for {email}; trying the documented password")
    return DEMO_PASSWORD


# --- HTTP on loopback, cookies read from Set-Cookie by hand ---------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


@dataclass
class Reply:
    status: int
    headers: object
    body: bytes


def http(url: str, cookies: dict[str, str] | None = None, data: dict[str, str] | None = None) -> Reply:
    """One request, redirects not followed. Cookies are sent and collected here, not by a cookie jar: the app
    marks its session cookie Secure in production, and a jar (rightly) never sends that over http://."""
    loadgen.check_loopback(url)
    headers = {"User-Agent": USER_AGENT}
    if cookies:
        headers["Cookie"] = cookie_header(cookies)
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers=headers, method="POST" if data is not None else "GET")
    try:
        with _opener.open(request, timeout=30) as response:
            reply = Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:  # 3xx (not followed), 4xx, 5xx
        reply = Reply(error.code, error.headers, error.read())
    if cookies is not None:
        for header in reply.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or (morsel["expires"] and "1970" in morsel["expires"]):
                    cookies.pop(name, None)
                else:
                    cookies[name] = morsel.value
    return reply


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def wait_ready(server: Server, url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            raise BenchError(f"{server.name} exited while starting:\n{server.log_tail()}")
        try:
            if http(url).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise BenchError(f"{server.name} not ready at {url} after {timeout:.0f} s:\n{server.log_tail()}")


def log_in(base: str, email: str, password: str) -> dict[str, str]:
    """GET /login (session cookie + csrf_token), POST the credentials, then GET / once as a browser would
    (it shows the "logged in" flash, which leaves the session); the cookies after that are the ones to load with."""
    cookies: dict[str, str] = {}
    page = http(base + "/login", cookies)
    fields = form_fields(page.body.decode("utf-8", "replace"), "/login")
    if "csrf_token" not in fields:
        raise BenchError("no csrf_token in the login form")
    fields.update(email=email, password=password)
    reply = http(base + "/login", cookies, data=fields)
    if reply.status != 302:
        raise BenchError(f"login as {email} failed: HTTP {reply.status} (expected a redirect)")
    location = reply.headers.get("Location", "/")
    http(base + location if location.startswith("/") else location, cookies)
    return cookies


def check_page(base: str, path: str, page: Page, cookies: dict[str, str] | None) -> Reply:
    reply = http(base + path, dict(cookies) if cookies else None)
    missing = [marker for marker in page.markers if marker not in reply.body]
    if reply.status != 200 or missing:
        raise BenchError(f"{page.label}: GET {path}: HTTP {reply.status}, markers missing: {missing}")
    return reply


# --- the run -------------------------------------------------------------------------------------------------


def gunicorn_command(app: str, port: int, extra: list[str]) -> list[str]:
    command = [str(BIN / "gunicorn"), "-w", str(WORKERS), "-k", "sync", "-b", f"{HOST}:{port}"]
    command += ["--log-level", "warning", "--timeout", "30", *extra]
    help_text = subprocess.run([command[0], "--help"], capture_output=True, text=True, timeout=30).stdout
    if "--no-control-socket" in help_text:  # gunicorn 25+: no shared socket under ~/.gunicorn
        command.append("--no-control-socket")
    return [*command, app]


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {"python": platform.python_version(), "wrk": loadgen.wrk_version()}
    for package in ("gunicorn", "Flask", "Flask-SQLAlchemy", "SQLAlchemy", "Jinja2"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def seed_posts(env: dict[str, str], workdir: Path, count: int) -> dict:
    """bench/seed_posts.py in the app's environment; its report (the detail page's post, the search word, ...)."""
    report = json.loads(
        run_command(
            [sys.executable, str(HERE / "seed_posts.py"), "--count", str(count)], env, workdir, timeout=60 + count / 100
        )
    )
    if count:
        log(
            f"  {report['inserted']:,} posts in {report['seconds']:.1f} s: {report['organizations']} organizations "
            f"of {report['prefectures']} prefectures, {report['target_ward_rows']:,} target wards, "
            f"{report['attachments']} attachments; {report['search_word']} matches {report['search_matches']} "
            f"({report['search_share']:.1%}); detail page: post {report['detail_post_id']}"
        )
    return report


def seed_conversations(env: dict[str, str], workdir: Path, count: int) -> dict:
    """bench/seed_conversations.py in the app's environment; its report (the long conversation, ...)."""
    report = json.loads(
        run_command(
            [sys.executable, str(HERE / "seed_conversations.py"), "--count", str(count)], env, workdir, timeout=120
        )
    )
    if count:
        log(
            f"  {report['inserted']} conversations of {report['organization']} in {report['seconds']:.1f} s "
            f"({report['posts_reused']} posts reused, {report['posts_added']} added), {report['messages']:,} messages, "
            f"{report['partnerships']} partnerships; {report['unread_conversations']} with unread messages; "
            f"conversation page: {report['long_conversation_id']} ({report['long_messages']} messages, "
            f"{report['long_unread']} unread before its first view)"
        )
    if report["inconsistent_conversations"]:
        raise BenchError(f"{report['inconsistent_conversations']} conversations disagree with their messages")
    return report


def page_context(seeded: dict, talk: dict) -> dict[str, str]:
    return {
        "search": urllib.parse.quote(seeded["search_word"]),
        "detail": str(seeded["detail_post_id"]),
        "conversation": str(talk["long_conversation_id"]),
        "messages": str(talk["long_messages"]),
        "conversations": str(talk["inserted"] or talk["conversations"]),
        "busy_post": str(talk["busy_post_id"] or seeded["detail_post_id"]),  # the demo's: 坂井市 may have none
        "busy_responses": str(talk["busy_responses"]),
    }


class DataVersion:
    """SQLite's `PRAGMA data_version` on a read-only connection of our own: it changes when any other connection
    (the gunicorn workers) commits a write, so an unchanged value around a load means the load wrote nothing."""

    def __init__(self, path: Path):
        self.connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)

    def __call__(self) -> int:
        return self.connection.execute("PRAGMA data_version").fetchone()[0]

    def close(self) -> None:
        self.connection.close()


def count_queries(
    env: dict[str, str], workdir: Path, pages: tuple[Page, ...], context: dict, timed: int, check: bool
) -> dict:
    """bench/queries.py: statements per page (and, with `timed`, server time per page), in process."""
    spec = {
        "user_agent": USER_AGENT,
        "timed": timed,
        "floor": bool(timed),
        "pages": [
            {
                "key": page.key,
                "path": page.url_path(context),
                "email": page.user,
                "expect": [marker.decode() for marker in page.markers] if check else [],
            }
            for page in pages
        ],
    }
    output = run_command([sys.executable, str(HERE / "queries.py")], env, workdir, timeout=600, input=json.dumps(spec))
    return json.loads(output)


def bench(args: argparse.Namespace, workdir: Path, servers: list[Server]) -> dict:
    started = datetime.now(UTC)
    load_before = os.getloadavg()  # before anything of ours runs: other work on the machine skews the figures
    pages = args.selected
    app_port, floor_port = free_port(), free_port()
    while floor_port == app_port:
        floor_port = free_port()
    app_base, floor_base = f"http://{HOST}:{app_port}", f"http://{HOST}:{floor_port}"

    # the app as deployed, configured only by what is set here (no Redis, SMTP or proxy settings from outside)
    env = {name: value for name, value in os.environ.items() if not name.startswith(APP_ENV_PREFIXES)}
    env.update(
        BULLETIN_ENV="production",
        SECRET_KEY=secrets.token_hex(32),
        DATABASE_URL=f"sqlite:///{workdir / 'app.sqlite'}",
        BASE_URL=app_base,
        MAIL_FOLDER=str(workdir / "mail"),
        UPLOAD_DIR=str(workdir / "uploads"),
        FLOOR_DATABASE_URL=f"sqlite:///{workdir / 'floor.sqlite'}",
        PYTHONDONTWRITEBYTECODE="1",
    )

    log(f"preparing the app database in {workdir} (bulletin db upgrade, bulletin demo)")
    run_command([str(BIN / "bulletin"), "db", "upgrade"], env, workdir, timeout=300)
    demo_output = run_command([str(BIN / "bulletin"), "demo"], env, workdir, timeout=300)
    passwords = {email: demo_password(demo_output, email) for email in dict.fromkeys(p.user for p in pages if p.user)}
    if len(set(passwords.values())) > 1:
        raise BenchError("the demo users have different passwords; bench/queries.py takes one")
    env_counting = {**env, "BENCH_PASSWORD": next(iter(passwords.values()), DEMO_PASSWORD)}
    log("preparing the floor database (10,000 rows)")
    run_command([sys.executable, str(HERE / "floor.py"), "init"], env, workdir, timeout=300)

    counted_demo = None
    seeded = demo_seed = seed_posts(env, workdir, 0)  # the demo's own posts: the detail page's post before seeding
    talk = demo_talk = seed_conversations(env, workdir, 0)  # and 坂井市's own conversations (the demo's)
    if args.posts or args.conversations:
        log(
            f"counting queries per page with the demo's {seeded['published']} published posts and "
            f"{talk['conversations']} conversations of {talk['organization']} (Flask test client)"
        )
        counted_demo = count_queries(env_counting, workdir, pages, page_context(seeded, talk), timed=0, check=False)
    if args.posts:
        log(f"seeding {args.posts:,} published posts (bench/seed_posts.py)")
        seeded = seed_posts(env, workdir, args.posts)
    if args.conversations:
        log(f"seeding {args.conversations} conversations of {talk['organization']} (bench/seed_conversations.py)")
        talk = seed_conversations(env, workdir, args.conversations)
        # the posts it added (those nobody had answered are reused) count among the published ones
        seeded = {**seeded, "published": talk["published"], "posts": talk["posts"]}
        seeded["search_share"] = seeded["search_matches"] / seeded["published"]
    context = page_context(seeded, talk)
    log(
        f"counting queries and timing each page {TIMED_REQUESTS} times in process, "
        f"{seeded['published']:,} published posts (Flask test client)"
    )
    counted = count_queries(env_counting, workdir, pages, context, timed=TIMED_REQUESTS, check=True)

    app = Server(
        "app",
        gunicorn_command("bulletin:create_app()", app_port, ["-c", str(HERE.parent / "gunicorn.conf.py")]),
        env,
        workdir,
        workdir / "app.log",
    )
    floor = Server(
        "floor",
        gunicorn_command("floor:create_app()", floor_port, ["--pythonpath", str(HERE)]),
        env,
        workdir,
        workdir / "floor.log",
    )
    for server in (app, floor):
        servers.append(server)
        server.start()
    wait_ready(app, app_base + "/readyz")
    wait_ready(floor, floor_base + "/")
    log(f"serving: app on {app_base}, floor on {floor_base} (gunicorn, {WORKERS} sync workers each)")

    cookies = {email: log_in(app_base, email, password) for email, password in passwords.items()}
    floor_page = Page("floor", "floor (20 of 10,000 rows)", "/", markers=(b'class="post-card"',))
    sizes = {"floor": len(check_page(floor_base, "/", floor_page, None).body)}
    for page in pages:
        sizes[page.key] = len(check_page(app_base, page.url_path(context), page, cookies.get(page.user)).body)
    data_version = DataVersion(workdir / "app.sqlite")  # opened after every first view: loads must not write

    tool = args.load_generator
    if tool == "auto":
        tool = "wrk" if loadgen.wrk_path() else "python"
    base_headers = {"User-Agent": USER_AGENT}

    def headers_for(page: Page) -> dict[str, str]:
        if page.user is None:
            return base_headers
        return {**base_headers, "Cookie": cookie_header(cookies[page.user])}

    def load(server: Server, url: str, headers: dict[str, str], seconds: float) -> loadgen.LoadResult:
        version = data_version() if server is app else None
        pids, cpu_before = server.worker_cpu()
        result = loadgen.run_load(tool, url, seconds, args.connections, headers)
        pids_after, cpu_after = server.worker_cpu()
        if pids == pids_after and pids and result.requests:  # no worker restarted on the way
            result.cpu_ms = (cpu_after - cpu_before) * 1000 / result.requests
        if version is not None:
            result.db_changed = data_version() != version
        return result

    if args.warmup > 0:
        log(f"warming up each URL for {args.warmup:g} s with {tool}")
        load(floor, floor_base + "/", base_headers, args.warmup)
        for page in pages:
            load(app, app_base + page.url_path(context), headers_for(page), args.warmup)

    log(f"measuring with {tool}: {args.duration:g} s per run, {args.connections} connections, floor between pages")
    floors: list[loadgen.LoadResult] = []

    def measure_floor() -> loadgen.LoadResult:
        result = load(floor, floor_base + "/", base_headers, args.duration)
        log(f"  floor            {result.rps:9.1f} req/s  {fmt(result.cpu_ms, '.2f')} ms CPU a request")
        floors.append(result)
        return result

    previous = measure_floor()
    measurements: list[Measurement] = []
    for round_number in range(1, args.rounds + 1):
        for page in pages:
            url = app_base + page.url_path(context)
            result = load(app, url, headers_for(page), args.duration)
            log(f"  {page.key:<16} {result.rps:9.1f} req/s  {fmt(result.cpu_ms, '.2f')} ms CPU a request")
            following = measure_floor()
            measurements.append(Measurement(page, url, result, [previous, following], round_number))
            previous = following

    # every logged-in cookie must still be logged in at the end (not silently measuring the login redirect)
    for email in cookies:
        last = [page for page in pages if page.user == email][-1]
        check_page(app_base, last.url_path(context), last, cookies[email])
    data_version.close()  # (on an error, the process's exit closes it)
    seeded = {**seeded, "demo": demo_seed}
    talk = {**talk, "demo": demo_talk}
    return report_data(
        args,
        started,
        load_before,
        tool,
        pages,
        counted,
        counted_demo,
        seeded,
        talk,
        context,
        sizes,
        floors,
        measurements,
    )


def _median(values) -> float | None:
    values = [value for value in values if value is not None]
    return statistics.median(values) if values else None


def judge(row: dict, target: Target | None) -> tuple[str, list[str]]:
    """PASS or FAIL against DESIGN §7: the query bar for every page, and the page's own target if it has one
    (req/s ratio to the floor, server p95), with what failed."""
    failed = []
    if row["queries"] > MAX_QUERIES:
        failed.append(f"{row['queries']} queries (at most {MAX_QUERIES})")
    if row["writes"]:
        failed.append(f"{row['writes']} write(s) on GET")
    if target is not None:
        if row["ratio"] is None or row["ratio"] < target.ratio:
            failed.append(f"req/s ratio {fmt(row['ratio'], '.2f')}x (at least {target.ratio:.2f}x)")
        if target.server_p95_ms is not None and (row["server_p95_ms"] or 0) > target.server_p95_ms:
            failed.append(f"server p95 {row['server_p95_ms']:.1f} ms (at most {target.server_p95_ms:.0f} ms)")
    return ("FAIL" if failed else "PASS"), failed


def report_data(
    args, started, load_before, tool, pages, counted, counted_demo, seeded, talk, context, sizes, floors, measurements
) -> dict:
    """Rows per page: req/s averaged over the rounds, ratio and latency percentiles the median over the rounds."""
    rows = [
        {
            "page": "floor",
            "label": "floor (20 of 10,000 rows)",
            "url": floors[0].url,
            "rps": statistics.mean(result.rps for result in floors),
            "p50_ms": _median(result.p50_ms for result in floors),
            "p95_ms": _median(result.p95_ms for result in floors),
            "p99_ms": _median(result.p99_ms for result in floors),
            "ratio": 1.0,
            "ratios": [],
            "cpu_ms": _median(result.cpu_ms for result in floors),
            "cpu_ratio": 1.0,
            "errors": sum(result.error_count for result in floors),
        }
    ]
    for page in pages:
        items = [item for item in measurements if item.page is page]
        rows.append(
            {
                "page": page.key,
                "label": page.title(context),
                "group": page.group,
                "url": items[0].url,
                "rps": statistics.mean(item.result.rps for item in items),
                "p50_ms": _median(item.result.p50_ms for item in items),
                "p95_ms": _median(item.result.p95_ms for item in items),
                "p99_ms": _median(item.result.p99_ms for item in items),
                "ratio": _median(item.ratio for item in items),
                "ratios": [item.ratio for item in items],
                "cpu_ms": _median(item.result.cpu_ms for item in items),
                "cpu_ratio": _median(item.cpu_ratio for item in items),
                "floor_rps_beside": [[floor.rps for floor in item.floors] for item in items],
                "errors": sum(item.result.error_count for item in items),
                "writes_under_load": any(item.result.db_changed for item in items),
            }
        )
    targets = {page.key: page.target for page in pages}
    for row in rows:
        count = counted["pages"][row["page"]]
        demo = (counted_demo or {}).get("pages", {}).get(row["page"])
        row.update(
            path=count["path"],
            queries=count["queries"],
            queries_demo=demo["queries"] if demo else None,
            queries_stable=count["stable"],
            writes=count["writes"],
            checkouts=count["checkouts"],
            first_writes=count.get("first_writes"),
            first_write_statements=count.get("first_write_statements"),
            statements=count["statements"],
            bytes=sizes[row["page"]],
            sets_cookie=count["sets_cookie"],
            server_p95_ms=count.get("server_cpu_p95_ms"),  # CPU time: see bench/queries.py
            server_cpu_ms=count.get("server_cpu_ms"),
            server_wall_p50_ms=count.get("server_wall_p50_ms"),
            server_wall_p95_ms=count.get("server_wall_p95_ms"),
        )
        if row["page"] != "floor":
            target = targets[row["page"]]
            row["target"] = target.short if target else f"q<={MAX_QUERIES}"
            row["target_cpu"] = judge({**row, "ratio": row["cpu_ratio"]}, target)[0] if target else None
            row["verdict"], row["failed"] = judge(row, target)
    return {
        "date": started.isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_before": [round(value, 2) for value in load_before],
            "load_average_after": [round(value, 2) for value in os.getloadavg()],
        },
        "versions": versions(),
        "settings": {
            "tool": tool,
            "duration_s": args.duration,
            "connections": args.connections,
            "threads": max(1, min(2, args.connections)) if tool == "wrk" else args.connections,
            "warmup_s": args.warmup,
            "rounds": args.rounds,
            "gunicorn_workers": WORKERS,
            "database": "SQLite files (app and floor, each its own)",
            "app_env": "production",
            "posts": seeded["published"],
            "conversations": args.conversations,
            "timed_requests": TIMED_REQUESTS,
        },
        "seed": seeded,
        "conversations": talk,
        "pre_ping": counted["pre_ping"],
        "pages": rows,
        "floor_runs": [result.as_dict() for result in floors],
        "runs": [{"page": item.page.key, "round": item.round, **item.result.as_dict()} for item in measurements],
        "targets": list(TARGETS),
    }


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_responses_notes(data: dict) -> None:
    """The responses pages: their query counts before and after the seed, the first view's write, their size."""
    rows = [row for row in data["pages"] if row.get("group") == "responses"]
    if not rows:
        return
    talk, floor_bytes = data["conversations"], data["pages"][0]["bytes"]
    demo = talk["demo"]
    if all(row.get("queries_demo") is not None for row in rows):
        print(
            f"queries with a {talk['long_messages']}-message conversation and {talk['conversations']} conversations "
            f"(in brackets where it differs with the demo's: {demo['long_messages']} message, "
            f"{demo['conversations']} conversations): "
            + ", ".join(
                f"{row['page']} {row['queries']}"
                + ("" if row["queries"] == row["queries_demo"] else f" ({row['queries_demo']})")
                for row in rows
            )
        )
    for row in rows:
        if row.get("first_writes"):
            kinds = sorted({" ".join(statement.split()[:3]) for statement in row["first_write_statements"]})
            print(
                f"{row['page']}: its first view (in process, before the load) wrote {row['first_writes']} "
                f"statement(s) ({'; '.join(kinds)}): the read marker; the views measured wrote none"
                + ("" if row.get("writes_under_load") else ", nor did the load (PRAGMA data_version unchanged)")
            )
    print(
        "bytes: "
        + ", ".join(
            f"{row['page']} {row['bytes'] / 1000:.0f} KB ({row['bytes'] / floor_bytes:.0f}x the floor's)"
            for row in rows
        )
        + f"; the conversation page shows the newest 50 of its {talk['long_messages']} messages"
    )


def print_report(data: dict) -> None:
    settings, found, machine = data["settings"], data["versions"], data["machine"]
    tool = settings["tool"] + (f" ({found['wrk']})" if settings["tool"] == "wrk" and found["wrk"] else "")
    print()
    print(
        f"bulletin bench  {data['date']}  {machine['cpus']} CPUs  python {found['python']}  "
        f"gunicorn {found['gunicorn']}, {settings['gunicorn_workers']} sync workers per app"
    )
    print(
        f"load generator: {tool}, {settings['connections']} connections, {settings['duration_s']} s a run, "
        f"{settings['rounds']} round(s); load average before start: {machine['load_average_before'][0]:.2f}"
    )
    seed = data["seed"]
    print(
        f"app data: {seed['published']:,} published posts ({seed['posts']:,} in all) of {seed['organizations']} "
        f"organizations in {seed['prefectures']} prefectures; search word {seed['search_word']} matches "
        f"{seed['search_matches']} ({seed['search_share']:.1%}); detail: post {seed['detail_post_id']} "
        f"({seed['detail_attachments']} attachments, {seed['detail_target_wards']} target wards)"
    )
    print()
    columns = (  # title, width, how to show the row's value
        ("page", -26, lambda row: row["label"]),
        ("req/s", 7, lambda row: f"{row['rps']:.0f}"),
        ("p50 ms", 7, lambda row: fmt(row["p50_ms"], ".2f")),
        ("p95 ms", 7, lambda row: fmt(row["p95_ms"], ".2f")),
        ("p99 ms", 7, lambda row: fmt(row["p99_ms"], ".2f")),
        ("ratio", 6, lambda row: fmt(row["ratio"], ".2f") + "x"),
        ("CPU ms", 7, lambda row: fmt(row["cpu_ms"], ".2f")),
        ("CPU ratio", 9, lambda row: fmt(row["cpu_ratio"], ".2f") + "x"),
        ("srv p95", 7, lambda row: fmt(row["server_p95_ms"], ".2f")),
        ("queries", 7, lambda row: str(row["queries"])),
        ("bytes", 7, lambda row: str(row["bytes"])),
        ("target", 10, lambda row: row.get("target", "")),
        ("verdict", 7, lambda row: row.get("verdict", "")),
    )
    header = " ".join(f"{title:{'<' if width < 0 else '>'}{abs(width)}}" for title, width, _ in columns)
    print(header)
    print("-" * len(header))
    for row in data["pages"]:
        print(" ".join(f"{show(row):{'<' if width < 0 else '>'}{abs(width)}}" for _, width, show in columns))
    print()
    floor_rps = [run["rps"] for run in data["floor_runs"]]
    spread = (max(floor_rps) - min(floor_rps)) / statistics.mean(floor_rps) * 100
    print(f"floor runs, in order: {', '.join(f'{rps:.0f}' for rps in floor_rps)} req/s (spread {spread:.0f}%)")
    if settings["rounds"] > 1:
        for row in data["pages"][1:]:
            print(f"  {row['label']}: ratio per round {', '.join(fmt(ratio, '.2f') for ratio in row['ratios'])}")
    print(
        "ratio: the page's req/s over the mean of the two floor runs beside it (median over rounds).\n"
        "CPU ms: user + system time of the 2 gunicorn workers per request; its ratio (floor's over the page's) is\n"
        "  what the req/s ratio would be on an idle machine, and holds when other work shares the CPUs.\n"
        f"latency: seen by the client with {settings['connections']} connections on "
        f"{settings['gunicorn_workers']} workers, so it includes queueing.\n"
        "srv p95: 95th percentile of the server time, in process (Flask test client, one request at a time,\n"
        f"  {settings['timed_requests']} requests, no queueing, no HTTP server), as CPU time: a request waits on no\n"
        "  I/O, so it equals the wall time on an idle machine and is not inflated by other work (wall in the JSON).\n"
        "queries: SQL statements per request, counted in process; BEGIN/COMMIT not included"
        + (", nor the pool's pre-ping (once per checkout)." if data["pre_ping"] else ".")
    )
    demo_counts = [
        row for row in data["pages"][1:] if row.get("queries_demo") is not None and row.get("group") != "responses"
    ]
    if demo_counts:
        same = all(row["queries"] == row["queries_demo"] for row in demo_counts)
        print(
            f"queries with {seed['published']:,} published posts (with the demo's {seed['demo']['published']}): "
            + ", ".join(
                f"{row['page']} {row['queries']}"
                + ("" if row["queries"] == row["queries_demo"] else f" ({row['queries_demo']})")
                for row in demo_counts
            )
            + (
                " -- the same for every page"
                if same
                else ";\n  in brackets where it differs with the demo's posts (an empty page has no rows to eager-load)"
            )
        )
    print_responses_notes(data)
    print()
    print(
        "DESIGN §7 targets: verdict PASS/FAIL on the req/s ratio (median over rounds), the in-process server p95\n"
        f"and the query count ({settings['posts']:,} posts here):"
    )
    for target in data["targets"]:
        print(f"  - {target}")
    keys = {row["page"] for row in data["pages"]}
    if settings["posts"] < 100_000 and "posts_search" in keys:
        print(f"  (search is measured over {settings['posts']:,} posts; `--posts 100000` for the size §7 names)")
    if "post_detail" in keys:
        print("  (post detail: a ward's view of a proposal, without responses; post_detail_own has the 20 responses)")
    if keys & {page.key for page in GROUPS["responses"]}:
        print("  (conversation, dashboard: no ratio target in §7 or the issue: ratio reported, query bar judged)")

    warnings = []
    for row in data["pages"]:
        if row["errors"]:
            warnings.append(f"{row['label']}: {row['errors']} errors or non-2xx/3xx responses under load")
        if row["writes"]:
            warnings.append(f"{row['label']}: {row['writes']} write statement(s) on GET")
        if row.get("writes_under_load"):
            warnings.append(f"{row['label']}: the app's database changed during its load (PRAGMA data_version)")
        if not row.get("queries_stable", True):
            warnings.append(f"{row['label']}: the query count changed between two identical requests")
        if row.get("failed"):
            warnings.append(f"{row['label']}: FAIL: {'; '.join(row['failed'])}")
        if row.get("target_cpu") and row["target_cpu"] != row.get("verdict"):
            warnings.append(
                f"{row['label']}: judged on the CPU ratio ({fmt(row['cpu_ratio'], '.2f')}x) it would "
                f"{row['target_cpu']}: the req/s ratio was moved by other load"
            )
    if spread > 15:
        warnings.append(f"the floor moved {spread:.0f}% during the run: something else used the CPUs, ratios are rough")
    if machine["load_average_before"][0] > 0.5 * (machine["cpus"] or 1):
        warnings.append(
            f"load average {machine['load_average_before'][0]:.2f} before the start: the machine was not idle"
        )
    if warnings:
        print()
        print("WARNINGS:")
        for warning in warnings:
            print(f"  ! {warning}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run (default 10)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections (default 8)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per URL, 0 for none (default 2)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="repeat the floor/page alternation (ratios: median; default 1)"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--load-generator", choices=("auto", "wrk", "python"), default="auto", help="default: wrk if installed"
    )
    parser.add_argument(
        "--pages",
        default="all",
        help="pages to load: all (default), base (login and home), posts, responses (a conversation and the "
        "dashboard), or page keys, comma-separated: " + ", ".join(page.key for page in PAGES),
    )
    parser.add_argument(
        "--posts",
        type=int,
        default=10_000,
        help="published posts to seed (default 10,000; 0: the demo's own only, without the post pages)",
    )
    parser.add_argument(
        "--conversations",
        type=int,
        default=200,
        help="conversations of 坂井市 to seed, one of them 500 messages long (default 200; 0: the demo's only, "
        "without the responses pages)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (databases, server logs)")
    args = parser.parse_args()
    try:
        args.selected = select_pages(args.pages)
    except ValueError as error:
        parser.error(str(error))
    if not (args.posts == 0 or 1_000 <= args.posts <= 200_000):
        parser.error("--posts must be 0 or in [1,000, 200,000] (page 50 needs 1,000)")
    if not 0 <= args.conversations <= 5_000:
        parser.error("--conversations must be in [0, 5,000]")
    if args.posts == 0:
        args.selected = tuple(page for page in args.selected if page.group != "posts")
    if args.conversations == 0:
        args.selected = tuple(page for page in args.selected if page.group != "responses")
    if not args.selected:
        parser.error(
            "no page to load (the post pages need --posts of at least 1,000, the responses pages --conversations)"
        )
    if not (1 <= args.duration <= 600 and 0 <= args.warmup <= 60 and 1 <= args.connections <= 256):
        parser.error("--duration must be in [1, 600], --warmup in [0, 60] and --connections in [1, 256]")
    if not 1 <= args.rounds <= 10:
        parser.error("--rounds must be in [1, 10]")
    if args.load_generator == "wrk" and not loadgen.wrk_path():
        parser.error("wrk is not installed (apt-get install wrk), use --load-generator python")

    def terminate(signum, frame):
        log(f"stopped by signal {signum}")
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)
    workdir = Path(tempfile.mkdtemp(prefix="bulletin-bench-"))
    servers: list[Server] = []
    try:
        data = bench(args, workdir, servers)
    except (BenchError, loadgen.LoadError, subprocess.TimeoutExpired) as error:
        log(f"failed: {error}")
        return 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        for server in servers:
            server.stop()
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print_report(data)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        log(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
