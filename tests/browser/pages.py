"""What the browser tests share: the live server and accounts they use, finding things on a page, logging in,
and axe-core checks."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from bulletin.accounts.models import User
from bulletin.extensions import db
from bulletin.posts.models import PostKind
from bulletin.posts.services import PostInput, approve_post, create_post


@dataclass
class LiveServer:
    """The app being served, its address, and the exceptions it raised while handling requests."""

    app: Flask
    url: str
    errors: list[BaseException] = field(default_factory=list)


@dataclass(frozen=True)
class Account:
    """What a person types to log in, and the name the header shows."""

    email: str
    password: str
    name: str


def heading(page: Page):
    """The page's h1."""
    return page.get_by_role("heading", level=1)


def header_user(page: Page):
    """Who the header says is logged in: (name, organization) locators."""
    banner = page.get_by_role("banner")
    return banner.locator(".site-user__name"), banner.locator(".site-user__org")


def log_in(page: Page, account: Account) -> None:
    """Fill and send the login form on the current page (which must be /login)."""
    page.get_by_label("メールアドレス", exact=True).fill(account.email)
    page.get_by_label("パスワード", exact=True).fill(account.password)
    page.get_by_role("main").get_by_role("button", name="ログイン", exact=True).click()


def serious_violations(page: Page) -> list[dict]:
    """axe-core's violations of impact serious or critical on the page as it is now."""
    violations = Axe().run(page).response["violations"]
    return [violation for violation in violations if violation["impact"] in ("serious", "critical")]


def describe(violations: list[dict]) -> str:
    """Readable axe violations: rule, impact, help, and each offending element."""
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} <{violation['helpUrl']}>")
        for node in violation["nodes"]:
            lines.append(f"    {' '.join(map(str, node['target']))}: {node['html']}")
            lines.append("      " + node.get("failureSummary", "").replace("\n", "\n      "))
    return "\n".join(lines)


def assert_accessible(page: Page, what: str) -> None:
    """No serious or critical axe-core violation on the page."""
    violations = serious_violations(page)
    assert not violations, f"axe-core on {what} ({page.url}):\n{describe(violations)}"


WIDTHS = (1280, 390)  # a desk's screen and a phone's


def assert_accessible_at_both_widths(page: Page, what: str) -> None:
    """No serious or critical axe-core violation at a desk's width nor at a phone's; a full-page screenshot of each
    in the folder BULLETIN_SCREENSHOTS names, when it is set, to be looked at."""
    folder = os.environ.get("BULLETIN_SCREENSHOTS")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        assert_accessible(page, f"{what} at {width} px")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            slug = re.sub(r"\W+", "-", what).strip("-")
            page.screenshot(path=str(Path(folder) / f"{slug}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})


def logged_in(new_page: Callable[..., Page], account: Account) -> Page:
    """A fresh browser context, logged in as the account."""
    page = new_page()
    page.goto("/login")
    log_in(page, account)
    expect(page.get_by_role("banner")).to_contain_text(account.name)
    return page


def user_by_email(email: str) -> User:
    """The user with this address (inside the live server's app context)."""
    user = db.session.scalar(select(User).where(User.email == email))
    assert user is not None, email
    return user


def published_proposal(live_server: LiveServer, author: Account, moderator: Account, **fields) -> int:
    """A proposal written, submitted and approved directly in the database; its id."""
    with live_server.app.app_context():
        post = create_post(user_by_email(author.email), PostInput(kind=PostKind.PROPOSAL, **fields), submit=True)
        approve_post(user_by_email(moderator.email), post, post.version)
        db.session.commit()
        return post.id
