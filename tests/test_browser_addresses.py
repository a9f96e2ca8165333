"""The browser tests share one database for the run: each must sign up addresses of its own, or the second test to
add one fails on the unique address, and only when both run."""

import re
from collections import Counter
from pathlib import Path

BROWSER_TESTS = Path(__file__).resolve().parent / "browser"
ADDED = re.compile(r"add_user\(\s*\"([^\"]+)\"")


def test_no_two_browser_tests_add_the_same_address():
    added = Counter(
        address for module in BROWSER_TESTS.glob("test_*.py") for address in ADDED.findall(module.read_text("utf-8"))
    )
    assert added, "the pattern no longer finds the addresses the browser tests add"
    assert [address for address, times in added.items() if times > 1] == []
