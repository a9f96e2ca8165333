"""Pages a public service needs: the privacy policy with the board's real retention periods, the secretariat's
contact as configured, and a guide for each role; linked from every page's footer and the header; in both
languages; public and cacheable only by the browser."""

from __future__ import annotations

import pytest

from tests.factories import new_client, page_of, text_of

PAGES = ("/privacy", "/contact", "/guide")


@pytest.fixture
def configured(app):
    """Configuration values the pages must read, set to numbers no default has; restored afterwards."""
    saved = dict(app.config)
    yield app.config
    app.config.clear()
    app.config.update(saved)


def test_the_privacy_policy_states_the_configured_periods(app, configured):
    configured.update(
        SECURITY_LOG_RETENTION_DAYS=123,
        SESSION_IDLE_MINUTES=45,
        SESSION_MAX_HOURS=7,
        INACTIVITY_SUSPEND_MONTHS=9,
        INACTIVITY_WARNING_DAYS=11,
    )
    text = " ".join(text_of(new_client(app).get("/privacy")).split())
    assert "セキュリティの記録は 123日 保存し" in text
    assert "45分 操作がないとき" in text and "7時間 たったとき" in text
    assert "9か月 ログインのないアカウント" in text and "11日 前に" in text
    for heading in ("保存する情報", "利用の目的", "保存する期間", "情報を見られる人", "第三者への提供と外部への送信"):
        assert heading in text
    assert "IPアドレス" in text and "事務局" in text


def test_no_inactivity_suspension_is_not_promised_when_it_is_off(app, configured):
    configured["INACTIVITY_SUSPEND_MONTHS"] = 0
    assert "ログインのないアカウントは利用を停止します" not in text_of(new_client(app).get("/privacy"))


def test_the_contact_page_shows_the_configured_secretariat(app, configured):
    configured.update(
        CONTACT_NAME="特別区長会事務局 調査第2課",
        CONTACT_EMAIL="renkei@tokyo23.example.jp",
        CONTACT_PHONE="03-5210-0000",
        CONTACT_HOURS="平日 8時30分から17時15分まで",
    )
    page = page_of(new_client(app).get("/contact"))
    text = " ".join(page.html.split())
    assert "特別区長会事務局 調査第2課" in text and "平日 8時30分から17時15分まで" in text
    hrefs = {a.attrs.get("href") for a in page.all("a")}
    assert "mailto:renkei@tokyo23.example.jp" in hrefs and "tel:0352100000" in hrefs


def test_the_contact_page_has_sensible_defaults(app, configured):
    configured.update(CONTACT_NAME=None, CONTACT_EMAIL=None, CONTACT_PHONE=None, CONTACT_HOURS=None)
    text = text_of(new_client(app).get("/contact"))
    assert "特別区長会事務局 特別区全国連携プロジェクト担当" in text and "平日 9時から17時まで" in text
    assert "tel:" not in text and "mailto:" not in text and "ただいま準備中です" in text


def test_the_guide_has_a_section_for_each_role(app):
    page = page_of(new_client(app).get("/guide"))
    headings = [h.text.strip() for h in page.all("h2")]
    for role in ("市町村の職員の方へ", "特別区の職員の方へ", "団体の管理者の方へ", "事務局の方へ"):
        assert role in headings


@pytest.mark.parametrize("path", PAGES)
def test_each_page_reads_in_english(app, path):
    browser = new_client(app)
    browser.post("/locale", data={"locale": "en", "next": path})
    page = page_of(browser.get(path))
    assert page.all("h1")[0].text.strip().isascii()
    assert not any("\u3040" <= ch <= "\u30ff" for ch in page.all("main")[0].text), "untranslated kana in the page"


@pytest.mark.parametrize("path", PAGES)
def test_each_page_is_public_and_asks_nothing_from_elsewhere(app, path):
    response = new_client(app).get(path)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "private, no-cache"
    page = page_of(response)
    for element in page.elements:
        for attribute in ("src", "href", "action"):
            value = element.attrs.get(attribute, "")
            assert not value.startswith(("http:", "https:", "//")), (element.tag, value)


def test_footer_and_header_lead_to_the_pages(app, people):
    for viewer in (None, people.sakai, people.moderator):
        page = page_of(new_client(app, viewer).get("/terms"))
        footer = [a.attrs["href"] for a in page.all("a") if a.attrs.get("href") in PAGES]
        assert set(footer) == set(PAGES), viewer
        nav = next(e for e in page.all("nav") if e.attrs.get("aria-label") == "メインメニュー")
        assert "利用の手引き" in nav.text
