"""The record in real Chromium: reached from the header by anyone, its charts and tables accessible at a desk's width
and a phone's, and printed on A4 with every table's columns on the paper."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.pages import assert_accessible_at_both_widths, heading, logged_in
from tests.constants import KUSHIRO_TOWN

pytestmark = pytest.mark.browser


def test_the_record_is_reached_read_and_printed(new_page, add_user):
    town = add_user("stats@town.kushiro.lg.jp", code=KUSHIRO_TOWN, name="釧路町 統計")
    page = new_page()
    page.goto("/")
    page.get_by_role("navigation", name="メインメニュー").get_by_role("link", name="統計").click()
    expect(heading(page)).to_have_text("統計（年度別）")
    expect(page.get_by_role("img", name="広域連携協定・交流自治体の図")).to_be_visible()
    expect(page.locator('tr[data-row="agreements.municipalities"] td').nth(4)).to_have_text("372")
    assert_accessible_at_both_widths(page, "record, public")

    page = logged_in(new_page, town)
    page.goto("/stats")
    assert_accessible_at_both_widths(page, "record, member")

    page.emulate_media(media="print")
    page.set_viewport_size({"width": 1123, "height": 794})  # A4 sideways at 96 dpi
    overflowing = page.evaluate(
        """() => [...document.querySelectorAll('.stats-table')]
              .filter(table => table.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
              .map(table => table.dataset.table)"""
    )
    assert overflowing == []
    pdf = page.pdf(format="A4", landscape=True, print_background=True)
    assert pdf.startswith(b"%PDF")
