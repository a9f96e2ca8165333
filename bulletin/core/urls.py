"""Absolute links from BASE_URL, usable in requests, CLI commands and the worker alike."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import current_app, request

_UNSAFE_RE = re.compile(r"[\x00-\x20\x7f\\]")


def path_for(endpoint: str, **values) -> str:
    """The path of an endpoint, in a request or not (CLI commands, the worker)."""
    return current_app.url_map.bind("localhost", url_scheme="http").build(endpoint, values, force_external=False)


def absolute_url(endpoint: str, **values) -> str:
    """The full https://… address of an endpoint, built from BASE_URL rather than from the request."""
    return current_app.config["BASE_URL"].rstrip("/") + path_for(endpoint, **values)


def safe_next_path(target: str | None) -> str | None:
    """A same-site path to return to, or None: no scheme, no host, no backslash, space or control character
    (browsers drop tabs and newlines, which turns "/\t/evil.example" into "//evil.example")."""
    if not target or _UNSAFE_RE.search(target) or not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def same_site_referrer() -> str | None:
    """The path of the page a form was sent from, when that page is on this site."""
    referrer = request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    if parts.scheme not in ("http", "https") or parts.netloc != request.host:
        return None
    return safe_next_path(parts.path + (f"?{parts.query}" if parts.query else ""))
