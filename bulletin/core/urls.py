"""Absolute links from BASE_URL, usable in requests, CLI commands and the worker alike."""

from __future__ import annotations

from flask import current_app


def absolute_url(endpoint: str, **values) -> str:
    """The full https://… address of an endpoint, built from BASE_URL rather than from the request."""
    adapter = current_app.url_map.bind("localhost", url_scheme="http")
    path = adapter.build(endpoint, values, force_external=False)
    return current_app.config["BASE_URL"].rstrip("/") + path
