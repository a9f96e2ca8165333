"""Every request and response: input no database can store is refused up front; security headers (a strict CSP
without 'unsafe-inline', no sniffing, no framing) and caching headers go on every response."""

from flask import Flask, Response, request
from flask_babel import gettext as _
from flask_login import current_user

from bulletin.core.errors import render_error

# Pages anyone may read whose content is the same for every anonymous visitor. Everything else, and every page a
# signed-in user sees, is private and never stored by a cache.
PUBLIC_ENDPOINTS = frozenset(
    {
        "main.index",
        "main.terms",
        "main.accessibility",
        "main.privacy",
        "main.contact",
        "main.guide",
        "responses.cases",
        "responses.case",
        "stats.record",
        "organizations.exchange_relations",
        "organizations.agreements_index",
        "organizations.agreement_page",
    }
)

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def set_security_headers(response: Response) -> Response:
    """Add the headers every page carries."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "geolocation=(), camera=(), microphone=()")
    return response


def refuse_invalid_input():
    """A NUL in the path is a 400 before any hook reads it (PostgreSQL can neither compare nor store one); query
    parameters and form fields deal with it each in its own way (folded away, or refused with a message)."""
    if "\x00" in request.path:
        return render_error(400, _("使用できない文字が含まれているため、受け付けられません。"))
    return None


def set_cache_headers(response: Response) -> Response:
    """Private pages are never stored (`no-store`); public pages may be kept by the browser but are revalidated,
    since every page carries a form token of its visitor's session (so no shared cache may keep them)."""
    if "Cache-Control" in response.headers:  # files: the view decided (private downloads, public case photos)
        return response
    public = request.endpoint in PUBLIC_ENDPOINTS and not current_user.is_authenticated and response.status_code < 400
    response.headers["Cache-Control"] = "private, no-cache" if public else "no-store"
    return response


def init_security(app: Flask) -> None:
    """Register the input check (first of all hooks) and the header hooks."""
    app.before_request(refuse_invalid_input)
    app.after_request(set_cache_headers)
    app.after_request(set_security_headers)
