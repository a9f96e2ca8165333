"""Benchmark the board's pages against the floor page of DESIGN §7, under gunicorn, on 127.0.0.1.

    .venv/bin/python bench/run.py [--duration 10] [--connections 8] [--json bench/results/latest.json]

In a fresh temp dir: the app's SQLite database (`bulletin db upgrade`, `bulletin demo`, production settings) and
the floor's (10,000 rows). Queries per page are counted in process (bench/queries.py, Flask test client). Then both
apps are served by gunicorn with 2 sync workers, and wrk (or the Python fallback) loads floor and app pages
alternately: floor, page, floor, page, ..., floor. Each page's ratio is its requests per second over the mean of
the two floor runs beside it. Everything started here is stopped on exit, Ctrl-C included. See bench/README.md.
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
DEMO_EMAIL = "kanko@city.fukui-sakai.lg.jp"
DEMO_PASSWORD = "kogane-gani-2015"
WORKERS = 2
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
APP_ENV_PREFIXES = ("BULLETIN_", "FLASK_", "SMTP_", "REDIS_", "MAIL_", "TRUSTED_PROXIES", "DATABASE_URL", "SECRET_KEY")
APP_ENV_PREFIXES += ("BASE_URL", "UPLOAD_DIR", "FLOOR_", "BENCH_")

TARGETS = (
    "post list (20 a page, filters, logged in) >= 0.50x floor rps",
    "post detail with 20 responses >= 0.33x",
    "search over 100,000 posts >= 0.25x, p95 <= 20 ms of server time",
    "at most 8 queries per page whatever the data size; no writes on GET",
)


@dataclass
class Page:
    key: str
    label: str
    path: str
    logged_in: bool = False
    marker: bytes | None = None  # must be in the body (checked before and after the load)


PAGES = (
    Page("login", "login (anonymous GET)", "/login", marker=b'name="csrf_token"'),
    Page("home", "home (anonymous)", "/", marker=b'href="/login"'),
    Page("home_user", "home (logged in)", "/", logged_in=True, marker=b'action="/logout"'),
)


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


def demo_login(output: str) -> tuple[str, str]:
    """The demo user's login as `bulletin demo` printed it (the documented one if it is missing)."""
    for line in output.splitlines():
        if DEMO_EMAIL in line and "/" in line:
            return DEMO_EMAIL, line.rsplit("/", 1)[1].strip()
    log(f"`bulletin demo` printed no login for {DEMO_EMAIL}; trying the documented password")
    return DEMO_EMAIL, DEMO_PASSWORD


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


def check_page(base: str, page: Page, cookies: dict[str, str] | None) -> Reply:
    reply = http(base + page.path, dict(cookies) if cookies else None)
    if reply.status != 200 or (page.marker and page.marker not in reply.body):
        raise BenchError(
            f"{page.label}: HTTP {reply.status}, marker {page.marker!r} present: "
            f"{bool(page.marker and page.marker in reply.body)}"
        )
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


def bench(args: argparse.Namespace, workdir: Path, servers: list[Server]) -> dict:
    started = datetime.now(UTC)
    load_before = os.getloadavg()  # before anything of ours runs: other work on the machine skews the figures
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
    email, password = demo_login(run_command([str(BIN / "bulletin"), "demo"], env, workdir, timeout=300))
    log("preparing the floor database (10,000 rows)")
    run_command([sys.executable, str(HERE / "floor.py"), "init"], env, workdir, timeout=300)

    log("counting queries per page in process (Flask test client)")
    counted = json.loads(
        run_command(
            [sys.executable, str(HERE / "queries.py"), "--email", email, "--user-agent", USER_AGENT],
            {**env, "BENCH_PASSWORD": password},
            workdir,
            timeout=300,
        )
    )

    app = Server("app", gunicorn_command("bulletin:create_app()", app_port, []), env, workdir, workdir / "app.log")
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

    cookies = log_in(app_base, email, password)
    floor_page = Page("floor", "floor (20 of 10,000 rows)", "/", marker=b'class="post-card"')
    sizes = {"floor": len(check_page(floor_base, floor_page, None).body)}
    for page in PAGES:
        sizes[page.key] = len(check_page(app_base, page, cookies if page.logged_in else None).body)

    tool = args.load_generator
    if tool == "auto":
        tool = "wrk" if loadgen.wrk_path() else "python"
    base_headers = {"User-Agent": USER_AGENT}
    user_headers = {**base_headers, "Cookie": cookie_header(cookies)}

    def load(server: Server, url: str, headers: dict[str, str], seconds: float) -> loadgen.LoadResult:
        pids, cpu_before = server.worker_cpu()
        result = loadgen.run_load(tool, url, seconds, args.connections, headers)
        pids_after, cpu_after = server.worker_cpu()
        if pids == pids_after and pids and result.requests:  # no worker restarted on the way
            result.cpu_ms = (cpu_after - cpu_before) * 1000 / result.requests
        return result

    if args.warmup > 0:
        log(f"warming up each URL for {args.warmup:g} s with {tool}")
        load(floor, floor_base + "/", base_headers, args.warmup)
        for page in PAGES:
            load(app, app_base + page.path, user_headers if page.logged_in else base_headers, args.warmup)

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
        for page in PAGES:
            url = app_base + page.path
            result = load(app, url, user_headers if page.logged_in else base_headers, args.duration)
            log(f"  {page.key:<16} {result.rps:9.1f} req/s  {fmt(result.cpu_ms, '.2f')} ms CPU a request")
            following = measure_floor()
            measurements.append(Measurement(page, url, result, [previous, following], round_number))
            previous = following

    # the logged-in cookie must still have been logged in at the end (not silently measuring the anonymous page)
    check_page(app_base, PAGES[-1], cookies)
    return report_data(args, started, load_before, tool, counted, sizes, floors, measurements)


def _median(values) -> float | None:
    values = [value for value in values if value is not None]
    return statistics.median(values) if values else None


def report_data(args, started, load_before, tool, counted, sizes, floors, measurements) -> dict:
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
    for page in PAGES:
        items = [item for item in measurements if item.page is page]
        rows.append(
            {
                "page": page.key,
                "label": page.label,
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
            }
        )
    for row in rows:
        count = counted["pages"][row["page"]]
        row.update(
            queries=count["queries"],
            writes=count["writes"],
            checkouts=count["checkouts"],
            statements=count["statements"],
            bytes=sizes[row["page"]],
            sets_cookie=count["sets_cookie"],
        )
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
        },
        "pre_ping": counted["pre_ping"],
        "pages": rows,
        "floor_runs": [result.as_dict() for result in floors],
        "runs": [{"page": item.page.key, "round": item.round, **item.result.as_dict()} for item in measurements],
        "targets": list(TARGETS),
    }


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


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
        ("queries", 7, lambda row: str(row["queries"])),
        ("bytes", 6, lambda row: str(row["bytes"])),
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
        "queries: SQL statements per request, counted in process; BEGIN/COMMIT not included"
        + (", nor the pool's pre-ping (once per checkout)." if data["pre_ping"] else ".")
    )
    print()
    print("DESIGN §7 targets, for pages this bench does not cover yet (context, not pass/fail):")
    for target in data["targets"]:
        print(f"  - {target}")

    warnings = []
    for row in data["pages"]:
        if row["errors"]:
            warnings.append(f"{row['label']}: {row['errors']} errors or non-2xx/3xx responses under load")
        if row["writes"]:
            warnings.append(f"{row['label']}: {row['writes']} write statement(s) on GET")
        if row["queries"] > 8:
            warnings.append(f"{row['label']}: {row['queries']} queries (DESIGN §7 allows 8)")
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
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (databases, server logs)")
    args = parser.parse_args()
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
