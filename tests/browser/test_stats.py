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


def test_a_moderator_records_an_exchange_relation_on_an_accessible_form(new_page, moderator):
    page = logged_in(new_page, moderator)
    page.goto("/exchange-relations")
    expect(heading(page)).to_have_text("交流自治体")
    assert_accessible_at_both_widths(page, "exchange relations with the form")
    page.get_by_label("特別区").select_option(label="世田谷区")
    page.get_by_label("交流先の市町村コード").fill("99999")
    page.get_by_label("交流の開始日").fill("2011-04-01")
    page.get_by_role("button", name="登録する").click()
    expect(page.locator("#municipality_code-error")).to_have_text("99999 は市町村の団体コードではありません。")
    assert_accessible_at_both_widths(page, "exchange relation refused")
    page.get_by_label("交流先の市町村コード").fill("20201")  # 長野市, typed without its check digit
    page.get_by_role("button", name="登録する").click()
    expect(page.get_by_role("status")).to_contain_text("交流自治体を登録しました。")
    expect(page.get_by_role("table")).to_contain_text("長野県 長野市")


def test_an_agreements_members_are_replaced_from_an_accessible_form_with_a_report(new_page, moderator):
    page = logged_in(new_page, moderator)
    page.goto("/agreements")
    assert_accessible_at_both_widths(page, "agreements with the form")
    page.get_by_role("link", name="山梨県町村会").click()
    expect(heading(page)).to_have_text("山梨県町村会との協定")
    expect(page.locator("li[data-code]")).to_have_count(14)
    assert_accessible_at_both_widths(page, "an agreement with the moderators' forms")
    page.get_by_label("構成市町村（1行に1つ）").fill("192015\n999999\n131091")
    page.get_by_role("button", name="構成市町村を保存する").click()
    expect(page.locator("tr[data-line]")).to_have_count(2)
    expect(page.locator('tr[data-line="2"]')).to_contain_text("999999")
    assert_accessible_at_both_widths(page, "a member list refused with its report")
    expect(page.locator("li[data-code]")).to_have_count(14)  # nothing changed
