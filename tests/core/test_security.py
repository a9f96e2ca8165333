"""Security properties of every page: headers, no inline script or style (so the CSP can forbid them), only
local assets, CSRF on POST, cookie flags, production configuration and health checks."""

import re
from urllib.parse import urlsplit

import pytest

from bulletin import create_app
from bulletin.accounts.models import Invitation, User, UserState
from bulletin.config import Config, ConfigError
from bulletin.extensions import db
from tests.constants import CSRF_REFUSED, GIFU, KUSHIRO_TOWN, PASSWORD, SAKAI
from tests.factories import (
    Page,
    World,
    build_world,
    count,
    csrf_token_of,
    limiter_state_preserved,
    log_in_with_csrf,
    make_test_app,
    new_client,
    page_of,
    registration_form,
)

URL_ATTRIBUTES = ("src", "href", "action", "formaction", "poster", "data", "srcset", "background", "cite")


@pytest.fixture
def world(create_user, moderator) -> World:
    return build_world(create_user, moderator, with_posts=True, with_responses=True)


# --- headers -----------------------------------------------------------------------------------------------------


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def assert_security_headers(response) -> None:
    csp = response.headers.get("Content-Security-Policy")
    assert csp, f"no CSP on {response.request.path}"
    directives = csp_directives(csp)
    every_source = [source for sources in directives.values() for source in sources]
    assert "'unsafe-inline'" not in every_source and "'unsafe-eval'" not in every_source
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["default-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    for name in ("script-src", "style-src"):
        assert directives.get(name, directives["default-src"]) == ["'self'"], f"{name}: {directives.get(name)}"
    assert not any(source in ("*", "http:", "https:") for source in every_source)
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("Referrer-Policy") in {"same-origin", "no-referrer", "strict-origin-when-cross-origin"}
    assert response.headers.get("X-Frame-Options") == "DENY"


def test_security_headers_on_pages_errors_json_and_assets(client, auth, world):
    responses = [
        client.get("/"),
        client.get("/login"),
        client.get("/register"),
        client.get("/terms"),
        client.get("/no-such-page"),
        client.post("/logout", data={}),
        client.get("/healthz"),
        client.get("/organizations/search.json?q=さかい"),
        client.get("/static/css/site.css"),
        client.get("/static/js/site.js"),
    ]
    auth.login(world.org_admin)
    responses += [
        client.get("/profile"),
        client.get("/organization/members"),
        client.post("/organization/members"),
        client.get(f"/posts/{world.draft.id}"),
    ]
    for response in responses:
        response.close()
        assert response.status_code != 500
        assert_security_headers(response)


def test_attachments_are_downloads_in_a_sandbox(client, auth, world):
    auth.login(world.member_a)
    response = client.get(f"/posts/{world.draft.id}/attachments/{world.attachment.id}")
    response.close()
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response.headers["Cache-Control"]
    directives = csp_directives(response.headers["Content-Security-Policy"])
    assert directives["default-src"] == ["'none'"] and "sandbox" in directives


# --- every page: no inline script or style, only local assets ------------------------------------------------------

# GET endpoints answering JSON or files rather than pages; everything else in the URL map is a page.
NOT_PAGES = {
    "static",
    "main.healthz",
    "main.readyz",
    "organizations.search_json",
    "posts.attachment",
    "responses.photo",
    "moderation.log_csv",
    "stats.record_csv",
    "responses.message_file",
}

# How to reach each page: endpoint -> (who looks at it, path). A page added to the URL map without a line here
# fails test_every_page_is_scanned.
PAGES = {
    "main.index": [(None, "/"), ("org_admin", "/"), ("moderator", "/")],
    "main.terms": [(None, "/terms")],
    "main.accessibility": [(None, "/accessibility")],
    "main.privacy": [(None, "/privacy"), ("member_a", "/privacy")],
    "main.contact": [(None, "/contact")],
    "main.guide": [(None, "/guide"), ("moderator", "/guide")],
    "saved_searches.index": [("member_a", "/searches"), ("ward", "/searches")],
    "accounts.register": [
        (None, "/register"),
        (None, "/register?org_q=さかい"),
        (None, "/register?code=182109"),
        (None, "/register?org_q=存在しない団体"),
    ],
    "accounts.registered": [(None, "/register/sent")],
    "accounts.confirm": [(None, "/confirm/{w.confirm_token}")],
    "accounts.login": [(None, "/login"), (None, "/login?next=/profile")],
    "accounts.forgot_password": [(None, "/password/forgot")],
    "accounts.reset_password": [(None, "/password/reset/{w.reset_token}"), (None, "/password/reset/garbage")],
    "accounts.unlock": [(None, "/login/unlock/garbage")],
    "accounts.accept_invitation": [(None, "/invitations/{w.invitation_token}"), (None, "/invitations/garbage")],
    "accounts.profile": [("member_a", "/profile"), ("moderator", "/profile")],
    "accounts.sessions_page": [("member_a", "/settings/sessions"), ("moderator", "/settings/sessions")],
    "two_factor.settings": [("member_a", "/settings/two-factor"), ("moderator", "/settings/two-factor")],
    "two_factor.login_code": [(None, "/login/two-factor")],
    "accounts.members": [("org_admin", "/organization/members"), ("member_a", "/organization/members")],
    "accounts.change_email": [("member_a", "/profile/email"), ("moderator", "/profile/email")],
    "accounts.confirm_email_change": [
        (None, "/profile/email/confirm/{w.email_change_token}"),
        ("member_a", "/profile/email/confirm/{w.email_change_token}"),
        (None, "/profile/email/confirm/garbage"),
    ],
    "accounts.staff_review_page": [("org_admin", "/organization/review"), ("member_b", "/organization/review")],
    "moderation.staff_review": [
        ("moderator", "/moderation/staff-review"),
        ("moderator", "/moderation/staff-review?year=2020"),
    ],
    "moderation.queue": [("moderator", "/moderation")],
    "moderation.security_log": [
        ("moderator", "/moderation/security"),
        ("moderator", "/moderation/security?kind=nonsense&q=%E3%81%82&date_from=2026-13-45&user=99999999999999999999"),
    ],
    "notifications.unsubscribe": [(None, "/unsubscribe/{w.unsubscribe_token}"), (None, "/unsubscribe/forged")],
    "moderation.mail": [("moderator", "/moderation/mail")],
    "notifications.index": [("member_a", "/notifications"), ("moderator", "/notifications")],
    "notifications.settings": [("member_a", "/settings/notifications"), ("moderator", "/settings/notifications")],
    "moderation.log": [("moderator", "/moderation/log"), ("moderator", "/moderation/log?organization=坂井&page=2")],
    "moderation.user_page": [
        ("moderator", "/moderation/users/{w.member_a.id}"),
        ("moderator", "/moderation/users/{w.suspended.id}"),
        ("moderator", "/moderation/users/{w.moderator.id}"),
    ],
    "moderation.organizations": [
        ("moderator", "/moderation/organizations"),
        ("moderator", "/moderation/organizations?q=さかい"),
    ],
    "moderation.organization_page": [
        ("moderator", f"/moderation/organizations/{SAKAI}"),
        ("moderator", f"/moderation/organizations/{GIFU}"),
        ("moderator", f"/moderation/organizations/{KUSHIRO_TOWN}"),
    ],
    "accounts.organization_suspended": [("kept_out", "/organization/suspended")],
    "moderation.reject_user": [("moderator", "/moderation/users/{w.applicant.id}/reject")],
    "moderation.review_post": [("moderator", "/moderation/posts/{w.pending.id}")],
    "moderation.review_revision": [("moderator", "/moderation/revisions/{w.revision.id}")],
    "moderation.hide_post": [("moderator", "/moderation/posts/{w.published.id}/hide")],
    "posts.index": [("member_b", "/posts"), ("member_b", "/posts?q=黄金がに&sort=deadline"), ("moderator", "/posts")],
    "posts.show": [
        ("member_a", "/posts/{w.draft.id}"),
        ("member_a", "/posts/{w.published.id}"),
        ("member_a", "/posts/{w.hidden.id}"),
        ("ward", "/posts/{w.published.id}"),
        ("moderator", "/posts/{w.pending.id}"),
    ],
    "posts.edit": [("member_a", "/posts/{w.draft.id}/edit"), ("member_a", "/posts/{w.published.id}/edit")],
    "posts.new": [("member_a", "/posts/new"), ("ward", "/posts/new")],
    "posts.ours": [("member_a", "/posts/ours"), ("member_b", "/posts/ours")],
    "responses.respond": [("ward", "/posts/{w.unanswered.id}/respond"), ("member_b", "/posts/{w.call.id}/respond")],
    "responses.conversation": [
        ("member_a", "/conversations/{w.conversation.id}"),
        ("ward", "/conversations/{w.conversation.id}"),
        ("moderator", "/conversations/{w.conversation.id}"),
    ],
    "responses.partnership": [
        ("member_a", "/partnerships/{w.partnership.id}"),
        ("ward", "/partnerships/{w.consented.id}"),
        ("member_a", "/partnerships/{w.case.id}"),
        ("moderator", "/partnerships/{w.partnership.id}"),
        ("moderator", "/partnerships/{w.consented.id}"),
        ("moderator", "/partnerships/{w.case.id}"),
    ],
    "responses.accept": [("member_a", "/responses/{w.open_response.id}/accept")],
    "responses.decline": [("member_a", "/responses/{w.open_response.id}/decline")],
    "responses.publish": [("moderator", "/partnerships/{w.consented.id}/publish")],
    "responses.dashboard": [("member_a", "/dashboard"), ("ward", "/dashboard"), ("member_b", "/dashboard")],
    "responses.cases": [
        (None, "/cases"),
        (None, "/cases?page=2"),
        ("member_b", "/cases"),
        (None, "/cases?prefecture=18"),
    ],
    "stats.record": [(None, "/stats"), ("member_a", "/stats"), ("moderator", "/stats")],
    "organizations.exchange_relations": [(None, "/exchange-relations"), ("moderator", "/exchange-relations")],
    "organizations.agreements_index": [(None, "/agreements"), ("moderator", "/agreements")],
    "organizations.agreement_page": [(None, "/agreements/{w.agreement}"), ("moderator", "/agreements/{w.agreement}")],
    "stats.prefecture_map": [("member_b", "/map"), ("member_b", "/map?show=cases"), ("moderator", "/map")],
    "responses.case": [(None, "/cases/{w.case.id}")],
}

# Pages that only appear after a POST: form errors, refusals, confirmations, error pages.
POSTED = [
    (None, "/register", {"email": "x", "organization_code": "182108", "name": "\x00"}),
    (None, "/login", {"email": "staff@city.fukui-sakai.lg.jp", "password": "wrong-password"}),
    (None, "/password/forgot", {"email": "staff@city.fukui-sakai.lg.jp"}),
    (None, "/password/reset/{w.reset_token}", {"password": "short", "password_confirm": "x"}),
    (None, "/confirm/{w.confirm_token}", {}),
    (None, "/confirm/garbage", {}),
    ("member_a", "/profile", {"name": ""}),
    ("member_a", "/searches/{w.saved_search.id}", {"s{w.saved_search.id}-name": ""}),
    ("member_a", "/profile/password", {"current_password": "wrong"}),
    ("member_a", "/settings/two-factor/start", {"password": "wrong"}),
    ("member_a", "/settings/two-factor/start", {"password": PASSWORD}),  # the QR code and the key
    ("member_a", "/settings/two-factor", {"code": "12"}),
    ("member_a", "/organization/members", {"email": "x@example.jp"}),
    ("org_admin", "/organization/members", {"email": "not-an-address"}),
    ("member_a", "/profile/email", {"new_email": "not-an-address", "current_password": ""}),
    ("member_a", "/profile/email", {"new_email": "moved@city.fukui-sakai.lg.jp", "current_password": "wrong"}),
    ("member_a", "/profile/email", {"new_email": "moved@city.fukui-sakai.lg.jp", "current_password": PASSWORD}),
    (None, "/profile/email/confirm/{w.email_change_token}", {}),
    (None, "/profile/email/confirm/garbage", {}),
    ("org_admin", "/organization/review", {}),
    ("org_admin", "/organization/review", {"choice-{w.org_admin.id}": "deactivate"}),
    ("moderator", "/moderation/users/{w.applicant.id}/reject", {"reason": ""}),
    ("moderator", "/moderation/users/{w.colleague.id}/suspend", {"reason": ""}),
    ("moderator", f"/moderation/organizations/{SAKAI}/suspend", {"reason": "\x00"}),
    ("moderator", f"/moderation/organizations/{SAKAI}/domains", {"domain": "lg.jp"}),
    ("moderator", "/exchange-relations", {"ward": "131091", "municipality_code": "999999", "started_on": "x"}),
    ("moderator", "/agreements", {"prefecture": "19", "kind": "towns", "concluded_on": "x"}),
    ("moderator", "/agreements/{w.agreement}/members", {"codes": "999999\n131091\n202011,松本市"}),
    ("moderator", f"/moderation/organizations/{KUSHIRO_TOWN}/domains/{{w.domain.id}}/revoke", {"reason": ""}),
    ("member_a", "/posts/new", {"kind": "proposal", "title": "", "action": "draft"}),
    (
        "member_a",
        "/posts/new",
        {
            "kind": "proposal",
            "title": "見出し",
            "summary": "概要",
            "body": "# 見出し\n\n<script>alert(1)</script> [リンク](javascript:alert(1)) <img src=x onerror=alert(1)>",
            "category": "other",
            "action": "preview",
        },
    ),
    ("member_a", "/posts/{w.draft.id}/edit", {"kind": "proposal", "title": "", "action": "draft"}),
    ("ward", "/posts/{w.published.id}/report", {"reason": ""}),
    ("moderator", "/moderation/posts/{w.pending.id}/reject", {"reason": ""}),
    ("moderator", "/moderation/revisions/{w.revision.id}/reject", {"reason": ""}),
    ("ward", "/posts/{w.unanswered.id}/respond", {"kind": "", "message": "  "}),
    ("member_b", "/posts/{w.call.id}/respond", {"kind": "offer", "message": "<script>alert(1)</script>\x07"}),
    ("ward", "/conversations/{w.conversation.id}", {"message": ""}),
    ("member_a", "/conversations/{w.conversation.id}/messages/{w.ward_message.id}/report", {"reason": ""}),
    ("member_a", "/partnerships/{w.partnership.id}", {"title": "", "held_from": "2015-11-23", "held_until": "x"}),
    ("ward", "/partnerships/{w.partnership.id}", {"title": "題", "held_from": "2015-11-23", "held_until": "2015-11-1"}),
    ("moderator", "/partnerships/{w.case.id}/unpublish", {"reason": ""}),
]


def rendered_pages(app, world: World) -> list[tuple[str, object]]:
    browsers = {}

    def browser_of(role):
        if role not in browsers:
            browsers[role] = new_client(app, getattr(world, role) if role else None)
        return browsers[role]

    pages = []
    for _endpoint, visits in PAGES.items():
        for role, path in visits:
            path = path.format(w=world)
            pages.append((f"{role or 'anonymous'} GET {path}", browser_of(role).get(path, follow_redirects=True)))
    for role, path, data in POSTED:
        path = path.format(w=world)
        data = {name.format(w=world): value for name, value in data.items()}  # fields named by id: choice-{w…id}
        page = browser_of(role).post(path, data=data, follow_redirects=True)
        pages.append((f"{role or 'anonymous'} POST {path}", page))
    pages.append(("404", browser_of(None).get("/no-such-page")))
    pages.append(("405", browser_of(None).get("/logout")))
    pages.append(("403", browser_of("moderator").get("/posts/new")))
    return pages


def test_every_page_is_scanned(app):
    pages = {
        rule.endpoint for rule in app.url_map.iter_rules() if "GET" in rule.methods and rule.endpoint not in NOT_PAGES
    }
    assert pages == set(PAGES), f"add the new pages to PAGES: {sorted(pages - set(PAGES))}"


def inline_code(page: Page) -> list[str]:
    """Everything on the page that a CSP without 'unsafe-inline' would block."""
    found = []
    for element in page.elements:
        if element.tag == "script" and (not element.attrs.get("src") or element.text.strip()):
            found.append(f"inline <script>: {element.text.strip()[:60]!r}")
        if element.tag == "style":
            found.append("<style> block")
        for name, value in element.attrs.items():
            if name == "style":
                found.append(f"style attribute on <{element.tag}>: {value!r}")
            if name.startswith("on"):
                found.append(f"event handler {name} on <{element.tag}>")
            if name in URL_ATTRIBUTES and value.strip().lower().startswith("javascript:"):
                found.append(f"javascript: URL in {name} of <{element.tag}>")
    return found


def outside_references(page: Page) -> list[str]:
    """URLs on the page that point to another host (mailto: and tel: links are not fetched)."""
    found = []
    for element in page.elements:
        for name in URL_ATTRIBUTES:
            for value in element.attrs.get(name, "").split(",") if name == "srcset" else [element.attrs.get(name)]:
                if not value:
                    continue
                value = value.strip().split()[0] if name == "srcset" else value.strip()
                parts = urlsplit(value)
                if element.tag == "a" and parts.scheme in ("mailto", "tel"):
                    continue
                if parts.netloc not in ("", "localhost") or parts.scheme not in ("", "http", "https"):
                    found.append(f"<{element.tag} {name}={value!r}>")
    return found


def test_pages_have_no_inline_script_or_style_and_only_local_references(app, world):
    problems = []
    assets = set()
    for label, response in rendered_pages(app, world):
        assert response.status_code != 500, label
        assert response.mimetype == "text/html", label
        assert_security_headers(response)
        page = page_of(response)
        problems += [f"{label}: {problem}" for problem in inline_code(page) + outside_references(page)]
        for element in page.elements:
            if element.tag in ("script", "img") and element.attrs.get("src"):
                assets.add(element.attrs["src"])
            if element.tag == "link" and element.attrs.get("href"):
                assets.add(element.attrs["href"])
    assert not problems, "\n".join(problems)
    assert assets
    member = new_client(app, world.member_a)
    for asset in assets:
        response = member.get(asset)
        response.close()
        assert response.status_code == 200, asset


def test_stylesheets_and_scripts_load_nothing_from_elsewhere(client):
    page = page_of(client.get("/"))
    for element in page.elements:
        if element.tag in ("link", "script") and (element.attrs.get("href") or element.attrs.get("src", "")).startswith(
            "/static/"
        ):
            response = client.get(element.attrs.get("href") or element.attrs["src"])
            body = response.get_data(as_text=True)
            response.close()
            assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", body), element.attrs
            assert not re.search(r"fetch\(\s*['\"]https?://|https?://[^\s\"')]+\.(js|css|woff2?)", body), element.attrs


def test_print_stylesheet_is_linked_for_print_only(client, auth, world):
    auth.login(world.org_admin)
    for path in ("/", "/profile", "/posts", f"/posts/{world.published.id}", "/organization/members"):
        response = client.get(path)
        assert response.status_code == 200, path
        stylesheets = [e for e in page_of(response).all("link") if "stylesheet" in e.attrs.get("rel", "").split()]
        printing = [e for e in stylesheets if e.attrs["href"].endswith("/print.css")]
        screen = [e for e in stylesheets if e.attrs["href"].endswith("/site.css")]
        assert len(printing) == 1 and printing[0].attrs.get("media") == "print", path
        assert len(screen) == 1 and screen[0].attrs.get("media", "all") in ("all", "screen"), path


# --- CSRF ------------------------------------------------------------------------------------------------------------


def refused_for_csrf(response) -> bool:
    return response.status_code == 400 and CSRF_REFUSED in response.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(client, csrf, world):
    assert refused_for_csrf(client.post("/login", data={"email": world.member_a.email, "password": PASSWORD}))
    assert client.get("/profile").status_code == 302
    assert refused_for_csrf(
        client.post("/login", data={"email": world.member_a.email, "password": PASSWORD, "csrf_token": "forged"})
    )
    token = csrf_token_of(client.get("/login"))
    response = client.post("/login", data={"email": world.member_a.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302 and client.get("/profile").status_code == 200


def test_register_without_csrf_token_is_refused(client, csrf):
    users = count(User)
    data = registration_form()
    assert refused_for_csrf(client.post("/register", data=data))
    assert count(User) == users
    token = csrf_token_of(client.get("/register"))
    assert client.post("/register", data={**data, "csrf_token": token}).status_code == 302
    assert count(User) == users + 1


def test_token_of_another_session_is_refused(app, client, csrf, world):
    stranger = new_client(app)
    token = csrf_token_of(stranger.get("/login"))
    data = {"email": world.member_a.email, "password": PASSWORD, "csrf_token": token}
    assert refused_for_csrf(client.post("/login", data=data))


def test_a_kept_form_token_is_the_sessions_own_and_is_signed_again_after_a_minute(
    app, client, csrf, world, monkeypatch
):
    from bulletin.core import templating

    clock, wall = templating.time.monotonic(), templating.time.time()
    log_in_with_csrf(client, world.member_a)
    token = csrf_token_of(client.get("/guide"))  # the layout's forms (logout, language)
    monkeypatch.setattr(templating.time, "time", lambda: wall + 5)  # a signature made now would differ
    monkeypatch.setattr(templating.time, "monotonic", lambda: clock + 30)
    assert csrf_token_of(client.get("/guide")) == token  # kept within the minute
    page = page_of(client.get("/profile"))  # the page's own forms (WTForms) take it too
    tokens = {e.attrs["value"] for e in page.all("input") if e.attrs.get("name") == "csrf_token"}
    assert tokens == {token}
    stranger = new_client(app)
    log_in_with_csrf(stranger, world.member_b)
    assert csrf_token_of(stranger.get("/guide")) != token  # another session never gets this one
    assert refused_for_csrf(stranger.post("/logout", data={"csrf_token": token}))
    monkeypatch.setattr(templating.time, "monotonic", lambda: clock + templating.SIGNED_TOKEN_REUSE_SECONDS + 31)
    renewed = csrf_token_of(client.get("/guide"))
    assert renewed != token  # signed again
    assert client.post("/logout", data={"csrf_token": renewed}).status_code == 302


def test_logout_without_csrf_token_is_refused(client, csrf, world):
    token = log_in_with_csrf(client, world.member_a)
    assert refused_for_csrf(client.post("/logout"))
    assert client.get("/profile").status_code == 200  # still logged in
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/profile").status_code == 302


def test_moderation_without_csrf_token_is_refused(client, csrf, world, outbox):
    token = log_in_with_csrf(client, world.moderator)
    assert refused_for_csrf(client.post(f"/moderation/users/{world.applicant.id}/approve"))
    assert refused_for_csrf(client.post(f"/moderation/users/{world.applicant.id}/reject", data={"reason": "x"}))
    db.session.refresh(world.applicant)
    assert world.applicant.state == UserState.PENDING
    assert outbox(world.applicant.email) == []
    seen = world.applicant.registration_fingerprint
    response = client.post(
        f"/moderation/users/{world.applicant.id}/approve", data={"csrf_token": token, "fingerprint": seen}
    )
    assert response.status_code == 302
    db.session.refresh(world.applicant)
    assert world.applicant.state == UserState.ACTIVE


def test_org_admin_actions_without_csrf_token_are_refused(client, csrf, world):
    token = log_in_with_csrf(client, world.org_admin)
    invitations = count(Invitation)
    assert refused_for_csrf(client.post(f"/organization/members/{world.colleague.id}/deactivate"))
    assert refused_for_csrf(client.post("/organization/members", data={"email": "x@city.fukui-sakai.lg.jp"}))
    db.session.refresh(world.colleague)
    assert world.colleague.state == UserState.ACTIVE
    assert count(Invitation) == invitations
    response = client.post(f"/organization/members/{world.colleague.id}/deactivate", data={"csrf_token": token})
    assert response.status_code == 302
    db.session.refresh(world.colleague)
    assert world.colleague.state == UserState.DEACTIVATED


# --- cookies and configuration ----------------------------------------------------------------------------------------


def session_cookie(response) -> str:
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("bulletin_session=")]
    return cookie


def cookie_flags(cookie: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}


def test_session_cookie_flags(client, auth, world):
    cookie = session_cookie(auth.login(world.member_a))
    flags = cookie_flags(cookie)
    assert "httponly" in flags
    assert re.search(r";\s*SameSite=Lax", cookie)
    assert "secure" not in flags  # plain http in tests; production sets it (below)


@pytest.fixture
def production_environment(monkeypatch):
    for name in ("DATABASE_URL", "REDIS_URL", "BASE_URL", "SMTP_HOST", "TRUSTED_PROXIES", "BULLETIN_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    monkeypatch.setenv("SECRET_KEY", "a-production-secret-of-sufficient-length")
    with limiter_state_preserved():
        yield


def test_production_cookies_are_secure(production_environment):
    app = create_app("production")
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    assert app.config["SESSION_COOKIE_HTTPONLY"] and app.config["REMEMBER_COOKIE_HTTPONLY"]
    assert app.config["SESSION_COOKIE_SAMESITE"] == app.config["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    assert app.config["SECRET_KEY"] == "a-production-secret-of-sufficient-length"
    assert not app.testing and app.config["RATELIMIT_ENABLED"] and app.config["WTF_CSRF_ENABLED"] is not False
    response = app.test_client().get("/login")
    flags = cookie_flags(session_cookie(response))
    assert {"secure", "httponly"} <= flags
    assert_security_headers(response)


def test_production_refuses_to_start_without_secret_key(production_environment, monkeypatch):
    monkeypatch.delenv("SECRET_KEY")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app("production")
    monkeypatch.setenv("BULLETIN_ENV", "production")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()


def test_production_refuses_the_development_secret_key(production_environment, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", Config.SECRET_KEY)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app("production")


# --- health checks -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_checks(client, path):
    response = client.get(path)
    assert response.status_code == 200 and response.is_json
    assert response.get_json() == {"status": "ok"}


def test_readyz_reports_an_unreachable_database(tmp_path):
    with limiter_state_preserved():
        app = make_test_app(f"sqlite:///{tmp_path / 'missing' / 'nowhere.sqlite'}", tmp_path)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503 and response.get_json()["status"] == "unavailable"
    assert app.test_client().get("/healthz").status_code == 200
    with app.app_context():
        db.engine.dispose()


# --- caching -------------------------------------------------------------------------------------------------------

PUBLIC_PAGES = {
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


def test_private_pages_are_never_stored_and_public_ones_only_by_the_browser(app, world):
    browsers: dict = {}
    checked = 0
    for endpoint, visits in PAGES.items():
        for role, path in visits:
            if role not in browsers:
                browsers[role] = new_client(app, getattr(world, role) if role else None)
            response = browsers[role].get(path.format(w=world))
            if response.status_code >= 300:
                continue
            expected = "private, no-cache" if role is None and endpoint in PUBLIC_PAGES else "no-store"
            assert response.headers.get("Cache-Control") == expected, (role, path)
            checked += 1
    assert checked > 40
    conversation = f"/conversations/{world.conversation.id}"
    for private in ("/dashboard", "/notifications", "/settings/notifications", conversation):
        assert browsers["member_a"].get(private).headers["Cache-Control"] == "no-store"
    assert browsers["member_a"].get("/cases").headers["Cache-Control"] == "no-store"  # it shows who is signed in
    assert browsers[None].get("/no-such-page").headers["Cache-Control"] == "no-store"


def test_a_download_keeps_the_caching_its_view_chose(app, world):
    attachment = world.attachment
    response = new_client(app, world.member_a).get(f"/posts/{attachment.post_id}/attachments/{attachment.id}")
    response.close()
    assert response.status_code == 200 and response.headers["Cache-Control"] == "private, no-store"


# --- a NUL in the path ----------------------------------------------------------------------------------------------


def test_a_nul_in_any_path_is_a_400_even_for_a_user_with_unread_notifications(app, world):
    """PostgreSQL can neither store nor compare a NUL: the page-read hook compared the path with the notifications'
    addresses and failed with a 500."""
    browser = new_client(app, world.ward)
    user = db.session.get(User, world.ward.id)
    assert user.unread_notifications > 0
    paths = {"/%00", "/posts/%00", "/posts/1%00", "/conversations/%00", "/confirm/%00", "/notifications%00"}
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments:
            paths.add(rule.rule.rstrip("/") + "/%00")
    for path in sorted(paths):
        response = browser.get(path)
        assert response.status_code == 400, path
        assert "使用できない文字が含まれているため、受け付けられません。" in response.get_data(as_text=True)
