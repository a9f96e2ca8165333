"""English is a complete translation: every msgid in the code has a translation with the same placeholders,
and English readers get English pages (by browser language or by the language switch) and e-mails."""

from __future__ import annotations

import os
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask_babel import refresh

from bulletin.extensions import db

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "translations" / "en" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}  # as scripts/translations: -k _l -k lazy_gettext
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.\d+)?[diouxXeEfFgGcrsa]")
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff01-\uff5e]")


def _directory_filter(path: str) -> bool:
    """Skip hidden directories and caches only; babel's default also skips `templates/_macros`."""
    name = os.path.basename(path)
    return not name.startswith(".") and name != "__pycache__"


@pytest.fixture(scope="module")
def source_messages() -> dict[str, list[str]]:
    """Every msgid marked for translation in bulletin/ and templates/, with where it is used."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as mapping:
        method_map, options_map = parse_mapping_cfg(mapping)
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, KEYWORDS, directory_filter=_directory_filter
    ):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


@pytest.fixture(scope="module")
def english() -> Catalog:
    """The English catalog as it is in the tree."""
    with open(CATALOG, "rb") as po:
        return read_po(po)


def _translated(message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return not message.fuzzy and all(s and s.strip() for s in strings)


def test_extraction_finds_the_messages(source_messages):
    assert len(source_messages) > 100
    assert "ログイン" in source_messages
    assert "入力してください。" in source_messages  # a lazy_gettext (_l) string in Python
    assert "必須" in source_messages  # templates/_macros is searched too


def test_every_msgid_in_the_code_has_an_english_translation(source_messages, english):
    problems = []
    for msgid, places in sorted(source_messages.items()):
        message = english.get(msgid)
        if message is None:
            problems.append(f"missing from messages.po: {msgid!r} ({', '.join(places[:3])})")
        elif not _translated(message):
            problems.append(f"untranslated or fuzzy: {msgid!r} ({', '.join(places[:3])})")
    assert not problems, f"{len(problems)} msgid(s) without English (add them to messages.po and translate):\n" + (
        "\n".join(problems)
    )


def test_no_fuzzy_or_empty_entries_in_the_catalog(english):
    problems = [repr(message.id) for message in english if message.id and not _translated(message)]
    assert not problems, "fuzzy or empty entries in messages.po:\n" + "\n".join(problems)


def test_placeholders_in_translations_match_the_msgid(english):
    problems = []
    for message in english:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = sorted(PLACEHOLDER.findall(ids[0]))
        for string in strings:
            if sorted(PLACEHOLDER.findall(string)) != expected:
                problems.append(f"{ids[0]!r} -> {string!r}: expected {expected}")
    assert not problems, "placeholders differ:\n" + "\n".join(problems)


class _Page(HTMLParser):
    """The bits of a page the language tests look at: <html lang>, the <h1>, the buttons of each form, and
    the visible text outside elements marked lang="ja" (the language switch)."""

    def __init__(self, html: str):
        super().__init__()
        self.lang: str | None = None
        self.h1 = ""
        self.buttons: dict[str, list[str]] = {}
        self.text: list[str] = []
        self._form = ""
        self._in_h1 = self._in_button = False
        self._skip: list[str] = []  # open elements whose text is not page text
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "html":
            self.lang = attributes.get("lang")
        elif tag == "form":
            self._form = attributes.get("action") or ""
        elif tag == "h1":
            self._in_h1 = True
        elif tag == "button":
            self._in_button = True
            self.buttons.setdefault(self._form, []).append("")
        if tag in ("script", "style", "title") or (self._skip or attributes.get("lang") == "ja"):
            self._skip.append(tag)

    def handle_endtag(self, tag):
        if self._skip and self._skip[-1] == tag:
            self._skip.pop()
        if tag == "h1":
            self._in_h1 = False
        elif tag == "button":
            self._in_button = False
        elif tag == "form":
            self._form = ""

    def handle_data(self, data):
        if self._in_h1:
            self.h1 += data
        if self._in_button:
            self.buttons[self._form][-1] += data.strip()
        if not self._skip and data.strip():
            self.text.append(data.strip())


def _get(client, path: str, **headers) -> _Page:
    """GET a page as a new request would. The `app` fixture keeps one app context (and so one `g`) for the whole
    test, and Flask-Babel caches the request's locale on `g`: forget it, as a real new request would."""
    refresh()
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    return _Page(response.get_data(as_text=True))


def _login_page(client, **headers) -> _Page:
    return _get(client, "/login", **headers)


def test_login_page_is_english_for_an_english_browser(client):
    page = _login_page(client, **{"Accept-Language": "en-GB,en;q=0.9"})
    assert page.lang == "en"
    assert page.h1.strip() == "Log in"
    assert page.buttons["/login"] == ["Log in"]
    assert "Email address" in page.text and "Password" in page.text
    assert not [text for text in page.text if JAPANESE.search(text)], page.text


@pytest.mark.parametrize("headers", [{}, {"Accept-Language": "ja"}, {"Accept-Language": "ja,en;q=0.8"}])
def test_login_page_is_japanese_by_default(client, headers):
    page = _login_page(client, **headers)
    assert page.lang == "ja"
    assert page.h1.strip() == "ログイン"
    assert page.buttons["/login"] == ["ログイン"]


def test_form_errors_are_english_for_an_english_browser(client):
    credentials = {"email": "nobody@example.lg.jp", "password": "wrong-password"}
    response = client.post("/login", data=credentials, headers={"Accept-Language": "en"})
    html = response.get_data(as_text=True)
    assert "Incorrect email address or password." in html
    assert "正しくありません" not in html


def test_language_switch_makes_the_following_pages_english(client):
    response = client.post("/locale", data={"locale": "en", "next": "/login"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")

    page = _login_page(client)  # no Accept-Language: the session's choice holds
    assert page.lang == "en"
    assert page.h1.strip() == "Log in"
    assert page.buttons["/login"] == ["Log in"]
    assert _get(client, "/").h1.strip() == "Nationwide Partnership Matching Board"

    client.post("/locale", data={"locale": "ja", "next": "/login"})
    assert _login_page(client, **{"Accept-Language": "en"}).h1.strip() == "ログイン"


def test_language_switch_is_kept_on_the_account(client, auth, create_user):
    user = create_user()
    auth.login(user)
    client.post("/locale", data={"locale": "en", "next": "/"})
    db.session.refresh(user)
    assert user.locale == "en"
    assert _get(client, "/profile").h1.strip() == "Profile"


def test_mail_to_an_english_user_is_english(client, create_user, outbox):
    user = create_user(name="Hanako Sakai")
    user.locale = "en"
    db.session.commit()
    refresh()
    client.post("/password/forgot", data={"email": user.email})
    [mail] = outbox(user.email)
    assert mail.subject.endswith("Reset your password")
    assert mail.body.startswith("Dear Hanako Sakai,\n")
    assert "This email was sent automatically" in mail.body
    assert not JAPANESE.search(mail.body.replace("全国連携マッチング掲示板", ""))


def test_templates_follow_the_locale_in_force_within_one_request(app):
    """Templates look the catalogue up once a request, yet a mail rendered in its reader's language (force_locale)
    and a locale changed mid-request (refresh) are still translated in theirs."""
    from flask import render_template_string
    from flask_babel import force_locale

    template = '{{ _("締切") }}'
    dated = "{{ day|dual_date }}"
    day = date(2026, 4, 1)
    with app.test_request_context("/", headers={"Accept-Language": "ja"}):
        assert render_template_string(template) == "締切"
        japanese_date = render_template_string(dated, day=day)
        with force_locale("en"):
            assert render_template_string(template) == "Deadline"
            english_date = render_template_string(dated, day=day)
        assert render_template_string(template) == "締切"
        assert render_template_string(dated, day=day) == japanese_date != english_date
        assert "令和" in japanese_date and "令和" not in english_date
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        refresh()  # the tests' app context (and g) outlives each request context
        assert render_template_string(template) == "Deadline"
        with force_locale("ja"):
            assert render_template_string(template) == "締切"
        assert render_template_string(template) == "Deadline"
