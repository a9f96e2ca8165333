"""What the secretariat is told at start-up about running several processes without Redis."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from bulletin.config import shared_state_warning

ROOT = Path(__file__).resolve().parents[1]


def test_the_warning_names_the_workers_and_the_fix():
    assert shared_state_warning(1, None) is None
    assert shared_state_warning(4, "redis://127.0.0.1:6379/0") is None
    warning = shared_state_warning(3, None)
    assert warning is not None and "REDIS_URL" in warning and "3 worker processes" in warning


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gunicorn_log(tmp_path: Path, workers: int, **env: str) -> str:
    """Start gunicorn with the project's gunicorn.conf.py, wait until its workers boot, stop it; its log."""
    environment = {
        **{k: v for k, v in os.environ.items() if k != "REDIS_URL"},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'board.sqlite'}",
        "PYTHONPATH": str(ROOT),
        **env,
    }
    command = [
        sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "--chdir", str(tmp_path),
        "-w", str(workers), "-b", f"127.0.0.1:{free_port()}", "bulletin:create_app()",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=environment, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    deadline = time.monotonic() + 60
    try:
        assert process.stderr is not None
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line:
                break
            lines.append(line)
            if sum("Booting worker" in seen for seen in lines) >= workers:
                break
    finally:
        process.terminate()
        process.communicate(timeout=30)  # reads what is left and closes the pipe
    return "".join(lines)


def test_gunicorn_with_two_workers_and_no_redis_warns(tmp_path):
    log = gunicorn_log(tmp_path, 2)
    assert "REDIS_URL is not set and 2 worker processes will run" in log, log


def test_gunicorn_with_redis_does_not_warn(tmp_path):
    log = gunicorn_log(tmp_path, 2, REDIS_URL="redis://127.0.0.1:6379/0")
    assert "Booting worker" in log and "REDIS_URL is not set" not in log, log


def test_each_worker_freezes_what_the_app_built_at_start():
    """gunicorn.conf.py's post_worker_init leaves the app's long-lived objects out of the collector's passes."""
    import gc
    import runpy

    hooks = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    try:
        hooks["post_worker_init"](None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
