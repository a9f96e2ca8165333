"""Fixtures of the core tests: the translations compiled from the catalog in the tree, once per run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", autouse=True)
def compiled_translations() -> None:
    """Compile translations/*.po into the .mo files the app reads, so the tests see the catalog as it is now."""
    pybabel = Path(sys.executable).parent / "pybabel"
    result = subprocess.run(
        [str(pybabel), "compile", "-d", "translations"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"pybabel compile failed:\n{result.stdout}{result.stderr}"
