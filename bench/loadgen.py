"""Load generators: wrk when it is installed, else a small time-bounded one in Python (processes + http.client).

Both return a LoadResult for one URL on 127.0.0.1. The Python one is only a fallback: it spends far more CPU per
request than wrk, on the same two cores as the servers, so its absolute figures are lower; the ratios to the
floor page (measured the same way in the same run) stay usable.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import queue
import re
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
REPORT_SCRIPT = HERE / "report.lua"
LOOPBACK = {"127.0.0.1"}


class LoadError(RuntimeError):
    """The load generator failed or reported nothing usable."""


@dataclass
class LoadResult:
    url: str
    tool: str
    rps: float
    requests: int
    seconds: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    bytes_read: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    cpu_ms: float | None = None  # CPU time of the server's workers per request (filled in by run.py)
    db_changed: bool | None = None  # the app's database changed during the load (filled in by run.py)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def as_dict(self) -> dict:
        return asdict(self)


def check_loopback(url: str) -> None:
    """The benchmark only ever talks to 127.0.0.1."""
    host = urlsplit(url).hostname
    if host not in LOOPBACK:
        raise ValueError(f"refusing to load {url}: only 127.0.0.1 is measured")


def wrk_path() -> str | None:
    return shutil.which("wrk")


def wrk_version() -> str | None:
    path = wrk_path()
    if not path:
        return None
    result = subprocess.run([path, "-v"], capture_output=True, text=True, timeout=10, check=False)
    first = (result.stdout or result.stderr).splitlines()[:1]
    return first[0].split(" [")[0].strip() if first else "wrk"


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _to_ms(value: str, unit: str) -> float:
    return float(value) * _UNITS[unit]


def parse_wrk_output(url: str, output: str, duration: float) -> LoadResult:
    """Requests/sec and the latency distribution from wrk's report, exact percentiles from report.lua if present."""
    match = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    if not match:
        raise LoadError(f"wrk printed no Requests/sec for {url}:\n{output}")
    rps = float(match.group(1))
    distribution = {
        int(percent): _to_ms(value, unit)
        for percent, value, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    }
    errors: dict[str, int] = {}
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if socket:
        errors.update(zip(("connect", "read", "write", "timeout"), map(int, socket.groups()), strict=True))
    status = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if status:
        errors["status"] = int(status.group(1))
    requests_match = re.search(r"^\s+(\d+) requests in ([\d.]+)(us|ms|s|m)", output, re.MULTILINE)
    requests = int(requests_match.group(1)) if requests_match else round(rps * duration)
    seconds = _to_ms(*requests_match.group(2, 3)) / 1000 if requests_match else duration
    result = LoadResult(
        url=url,
        tool="wrk",
        rps=rps,
        requests=requests,
        seconds=seconds,
        p50_ms=distribution.get(50),
        p95_ms=None,
        p99_ms=distribution.get(99),
        errors={name: count for name, count in errors.items() if count},
    )
    exact = re.search(r"^BENCH_RESULT (\{.*\})$", output, re.MULTILINE)
    if exact:
        data = json.loads(exact.group(1))
        result.p50_ms = data["p50_us"] / 1000
        result.p95_ms = data["p95_us"] / 1000
        result.p99_ms = data["p99_us"] / 1000
        result.bytes_read = data["bytes"]
    return result


def run_wrk(url: str, duration: float, connections: int, headers: dict[str, str]) -> LoadResult:
    """`wrk -t2 -c8 -d10s --latency URL`, with report.lua for p95."""
    check_loopback(url)
    threads = max(1, min(2, connections))
    command = [wrk_path() or "wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency"]
    command += ["--timeout", "10s"]
    if REPORT_SCRIPT.exists():
        command += ["-s", str(REPORT_SCRIPT)]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    result = subprocess.run(command, capture_output=True, text=True, timeout=duration + 30, check=False)
    if result.returncode != 0:
        raise LoadError(f"wrk failed ({result.returncode}) on {url}:\n{result.stdout}\n{result.stderr}")
    return parse_wrk_output(url, result.stdout, duration)


# --- the Python fallback -------------------------------------------------------------------------------------


def _client(url: str, headers: dict[str, str], duration: float, barrier, results) -> None:
    """One connection's worth of load: request after request until the time is up (runs in its own process)."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    latencies: list[float] = []
    errors = {"connect": 0, "read": 0, "status": 0, "timeout": 0}
    received = 0
    connection = None
    barrier.wait(timeout=60)
    started = time.perf_counter()
    deadline = started + duration
    while time.perf_counter() < deadline:
        began = time.perf_counter()
        try:
            if connection is None:
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
        except TimeoutError:
            errors["timeout"] += 1
            connection = None
            continue
        except ConnectionRefusedError:
            errors["connect"] += 1
            connection = None
            time.sleep(0.01)
            continue
        except (OSError, http.client.HTTPException):
            errors["read"] += 1
            connection = None
            continue
        latencies.append((time.perf_counter() - began) * 1000)
        received += len(body)
        if response.status >= 400:
            errors["status"] += 1
        if response.will_close:
            connection.close()
            connection = None
    if connection is not None:
        connection.close()
    results.put({"latencies": latencies, "errors": errors, "bytes": received, "seconds": time.perf_counter() - started})


def _percentile(ordered: list[float], percent: float) -> float | None:
    if not ordered:
        return None
    rank = max(0, min(len(ordered) - 1, round(percent / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def run_python(url: str, duration: float, connections: int, headers: dict[str, str]) -> LoadResult:
    """The fallback: one process per connection, all released together, each bounded by `duration`."""
    check_loopback(url)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(connections + 1)
    results = context.Queue()
    workers = [
        context.Process(target=_client, args=(url, headers, duration, barrier, results), daemon=True)
        for _ in range(connections)
    ]
    for worker in workers:
        worker.start()
    collected = []
    try:
        barrier.wait(timeout=60)
        deadline = time.monotonic() + duration + 30
        while len(collected) < connections:
            try:
                collected.append(results.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                break
    finally:
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.terminate()
                worker.join(timeout=5)
    if len(collected) < connections:
        raise LoadError(f"only {len(collected)} of {connections} load processes reported for {url}")
    latencies = sorted(value for part in collected for value in part["latencies"])
    seconds = max(part["seconds"] for part in collected)
    errors: dict[str, int] = {}
    for part in collected:
        for name, count in part["errors"].items():
            if count:
                errors[name] = errors.get(name, 0) + count
    return LoadResult(
        url=url,
        tool="python",
        rps=len(latencies) / seconds if seconds else 0.0,
        requests=len(latencies),
        seconds=seconds,
        p50_ms=_percentile(latencies, 50),
        p95_ms=_percentile(latencies, 95),
        p99_ms=_percentile(latencies, 99),
        bytes_read=sum(part["bytes"] for part in collected),
        errors=errors,
    )


def run_load(tool: str, url: str, duration: float, connections: int, headers: dict[str, str]) -> LoadResult:
    if tool == "wrk":
        return run_wrk(url, duration, connections, headers)
    return run_python(url, duration, connections, headers)
