"""The map in real Chromium: reached from the header, accessible at a desk's width and a phone's in both views, and
used with the keyboard alone: Tab reaches a prefecture and Enter opens its list."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.pages import assert_accessible_at_both_widths, heading, logged_in, published_proposal
from tests.constants import KUSHIRO_TOWN, SHINAGAWA

pytestmark = pytest.mark.browser

TITLE = "釧路の湿原を区民に紹介するエコツアー"


def test_the_map_is_reached_read_and_followed_by_keyboard(live_server, new_page, add_user, moderator):
    town = add_user("map@town.kushiro.lg.jp", code=KUSHIRO_TOWN, name="釧路町 地図")
    ward = add_user("map@city.shinagawa.tokyo.jp", code=SHINAGAWA, name="品川 地図")
    published_proposal(live_server, town, moderator, title=TITLE, summary="湿原の自然を案内します。", category="events")

    page = logged_in(new_page, ward)
    page.get_by_role("navigation", name="メインメニュー").get_by_role("link", name="地図").click()
    expect(heading(page)).to_have_text("地図")
    hokkaido = page.locator('a.map-prefecture[data-prefecture="01"]')
    expect(hokkaido).to_have_attribute("aria-label", re.compile(r"^北海道: [1-9]\d*件$"))
    expect(page.get_by_role("table")).to_contain_text("北海道")
    assert_accessible_at_both_widths(page, "map of posts")

    page.get_by_role("link", name="連携事例", exact=True).first.click()
    expect(page).to_have_url(re.compile(r"/map\?show=cases$"))
    assert_accessible_at_both_widths(page, "map of cases")

    page.goto("/map")
    page.locator("#map-heading").click()  # start the Tab order just before the map
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('map-prefecture')"):
            break
    assert page.evaluate("document.activeElement.dataset.prefecture") == "01"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/posts\?prefecture=01$"))
    expect(page.get_by_role("link", name=TITLE)).to_be_visible()
