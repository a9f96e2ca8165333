"""The bulletin test suite.

tests/conftest.py imports tests.factories before pytest loads it as a plugin: registering it here first lets pytest
rewrite the asserts of its helpers (and spares the "already imported" warning that filterwarnings turns into an
error)."""

import pytest

pytest.register_assert_rewrite("tests.factories", "tests.browser.pages")
