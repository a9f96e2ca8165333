"""From a published proposal to a public case in real Chromium: a 品川区 officer responds to a 坂井市 proposal, the
坂井市 officer finds the conversation on the dashboard with an unread count, replies by keyboard alone and accepts;
品川区 records the outcome with a photo, both sides consent, the moderator publishes, and a visitor who is not
logged in reads the case. axe-core on the respond form (empty and with errors), the conversation, the dashboard,
the partnership page, /cases and the case page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Locator, Page, expect

from tests.browser.pages import assert_accessible, heading, logged_in, published_proposal
from tests.constants import SAKAI, SHINAGAWA

pytestmark = pytest.mark.browser

POST_TITLE = "三国の越前がにと坂井市の物産を区内の水族館で紹介したい"
CASE_TITLE = "坂井市・品川区 しながわ水族館 冬の味覚フェア"
VENUE = "しながわ水族館"
SUMMARY = "坂井市の越前がにの試食と観光PRを6日間開催し、延べ4,000人の来場者に坂井市を紹介した。"
FIRST_MESSAGE = "しながわ水族館での開催をご提案します。11月中旬から下旬の6日間で調整できます。"
REPLY = "ありがとうございます。11月18日からの6日間でお願いします。"
MAX_TABS = 100


def jpeg(path: Path) -> Path:
    """A small JPEG photo made with Pillow."""
    Image.new("RGB", (320, 240), (30, 110, 170)).save(path, format="JPEG", quality=90)
    return path


def tab_to(page: Page, target: Locator) -> None:
    """Press Tab until `target` has the focus (from wherever the focus is now)."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"{target} never got the focus in {MAX_TABS} presses of Tab")


def wait_for_image(page: Page, image: Locator) -> None:
    """The <img> has loaded (scrolled into view first: it is lazy)."""
    image.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())


def test_response_becomes_partnership_and_public_case(new_page, add_user, moderator, live_server, tmp_path):
    sakai = add_user("kaori.mikuni@city.fukui-sakai.lg.jp", code=SAKAI, name="三国 香織")
    shinagawa = add_user("ken.oi@city.shinagawa.tokyo.jp", code=SHINAGAWA, name="大井 健")
    post_id = published_proposal(
        live_server,
        sakai,
        moderator,
        title=POST_TITLE,
        summary="坂井市三国港の越前がにの試食と観光PRを、区内の集客施設で行いたいと考えています。",
        offered="越前がにの試食、漁業関係者による解説、観光パンフレットと人員",
        sought="会場のご紹介、区報やSNSでの告知",
        category="products",
        tags=["越前がに", "観光PR"],
    )
    photo = jpeg(tmp_path / "会場のようす.jpg")

    # 品川区 responds: the form is checked empty first, then sent with a kind and a message.
    ward = logged_in(new_page, shinagawa)
    ward.goto(f"/posts/{post_id}")
    expect(heading(ward)).to_have_text(POST_TITLE)
    ward.get_by_role("link", name="この投稿に応答する").click()
    expect(heading(ward)).to_have_text("この投稿に応答する")
    assert_accessible(ward, "respond form")
    ward.get_by_role("button", name="応答を送る").click()
    expect(ward.get_by_role("alert")).to_contain_text("入力内容を確認してください。")
    expect(ward.get_by_role("group", name=re.compile("^応答の種類"))).to_contain_text("応答の種類を選んでください。")
    expect(ward.get_by_label("メッセージ", exact=True)).to_have_attribute("aria-invalid", "true")
    assert_accessible(ward, "respond form with errors")
    ward.get_by_role("radio", name="具体的に提案します").check()
    ward.get_by_label("メッセージ", exact=True).fill(FIRST_MESSAGE)
    ward.get_by_role("button", name="応答を送る").click()
    expect(ward).to_have_url(re.compile(r"/conversations/\d+$"))
    expect(heading(ward)).to_have_text("やりとり")
    expect(ward.get_by_role("status")).to_contain_text("応答を送りました")
    expect(ward.get_by_role("main")).to_contain_text(FIRST_MESSAGE)
    expect(ward.get_by_role("main")).to_contain_text("具体的に提案します")
    assert_accessible(ward, "conversation page")

    # 坂井市 sees it on the dashboard, unread.
    city = logged_in(new_page, sakai)
    city.get_by_role("navigation", name="メインメニュー").get_by_role("link", name="自団体の窓口").click()
    expect(heading(city)).to_contain_text("自団体の窓口")
    awaiting = city.get_by_role("region", name=re.compile("^回答を待っている応答"))
    expect(awaiting).to_contain_text("東京都 品川区: 具体的に提案します")
    row = city.get_by_role("row").filter(has=city.get_by_role("link", name=POST_TITLE))
    expect(row.get_by_role("cell")).to_have_text([POST_TITLE, "東京都 品川区", re.compile(r"\d{4}-\d\d-\d\d"), "1件"])
    assert_accessible(city, "dashboard with an unread conversation")
    row.get_by_role("link", name=POST_TITLE).click()
    expect(heading(city)).to_have_text("やりとり")
    expect(city.get_by_text("ここから未読")).to_be_visible()
    expect(city.locator(".message").filter(has=city.get_by_text("ここから未読"))).to_contain_text(FIRST_MESSAGE)

    # The reply by keyboard alone: Tab to the textarea, type, Tab past the file field to the send button, Enter.
    reply_box = city.get_by_label("メッセージ", exact=True)
    tab_to(city, reply_box)
    city.keyboard.type(REPLY)
    city.keyboard.press("Tab")
    expect(city.get_by_label("添付ファイル")).to_be_focused()  # files are optional: on to the button
    city.keyboard.press("Tab")
    expect(city.get_by_role("button", name="送信する")).to_be_focused()
    city.keyboard.press("Enter")
    expect(city).to_have_url(re.compile(r"/conversations/\d+#latest$"))
    messages = city.get_by_role("region", name="メッセージ（2件）")
    expect(messages.get_by_role("listitem")).to_have_count(2)
    expect(messages.get_by_role("listitem").last).to_contain_text(REPLY)
    expect(city.get_by_text("ここから未読")).to_have_count(0)

    city.get_by_role("button", name="この応答を受け入れて連携する").click()
    dialog = city.get_by_role("dialog", name="この応答を受け入れて連携しますか")
    expect(dialog).to_contain_text("受け入れると連携として記録され、相手の団体に通知されます。")
    dialog.get_by_role("button", name="確定").click()
    expect(city).to_have_url(re.compile(r"/partnerships/\d+$"))
    expect(heading(city)).to_have_text(f"連携: {POST_TITLE}")
    expect(city.get_by_role("status")).to_contain_text("応答を受け入れ、連携を記録しました。")
    partnership_url = city.url
    assert_accessible(city, "partnership page before the outcome")

    # 品川区 finds the reply unread and the partnership on its dashboard, and records the outcome.
    ward.get_by_role("navigation", name="メインメニュー").get_by_role("link", name="自団体の窓口").click()
    ward_row = ward.get_by_role("row").filter(has=ward.get_by_role("link", name=POST_TITLE))
    expect(ward_row.get_by_role("cell").last).to_have_text("1件")
    ward.get_by_role("region", name=re.compile(r"^連携（")).get_by_role("link", name=POST_TITLE).click()
    expect(ward).to_have_url(partnership_url)
    ward.get_by_label("連携の名称").fill(CASE_TITLE)
    ward.get_by_label("実施日（から）").fill("2015-11-18")
    ward.get_by_label("実施日（まで）").fill("2015-11-23")
    ward.get_by_label("会場").fill(VENUE)
    ward.get_by_label("概要").fill(SUMMARY)
    ward.get_by_label("写真", exact=True).set_input_files(str(photo))
    ward.get_by_role("button", name="保存する").click()
    expect(ward.get_by_role("status")).to_contain_text("連携の結果を保存しました。")
    expect(heading(ward)).to_have_text(f"連携: {CASE_TITLE}")
    facts = ward.locator("dl.facts")
    expect(facts).to_contain_text("平成27年11月18日（2015-11-18） 〜 平成27年11月23日（2015-11-23）")
    expect(facts).to_contain_text(VENUE)
    expect(ward.get_by_role("region", name="概要")).to_contain_text(SUMMARY)
    wait_for_image(ward, ward.get_by_role("img", name="会場のようす.jpg"))
    assert_accessible(ward, "partnership page with the outcome")
    ward.get_by_role("button", name="事例としての公開に同意する").click()
    expect(ward.get_by_role("status")).to_contain_text("事例としての公開に同意しました。")
    expect(facts).to_contain_text("品川区: 同意済み")
    expect(facts).to_contain_text("坂井市: 未同意")
    expect(ward.get_by_role("button", name="事例としての公開に同意する")).to_have_count(0)

    city.reload()
    expect(heading(city)).to_have_text(f"連携: {CASE_TITLE}")
    city.get_by_role("button", name="事例としての公開に同意する").click()
    expect(city.get_by_role("status")).to_contain_text("事例としての公開に同意しました。")
    expect(city.locator("dl.facts")).to_contain_text("坂井市: 同意済み")

    # The moderator publishes it from the queue.
    secretariat = logged_in(new_page, moderator)
    secretariat.goto("/moderation")
    waiting = secretariat.get_by_role("region", name=re.compile("^公開を待つ連携事例"))
    expect(waiting).to_contain_text("福井県 坂井市 ⇄ 東京都 品川区")
    waiting.get_by_role("link", name=CASE_TITLE).click()
    expect(secretariat).to_have_url(partnership_url)
    secretariat.get_by_role("button", name="連携事例として公開する").click()
    secretariat.get_by_role("dialog", name="連携事例として公開しますか").get_by_role("button", name="確定").click()
    expect(secretariat.get_by_role("status")).to_contain_text("連携事例として公開しました。")
    expect(secretariat.get_by_role("main")).to_contain_text("連携事例として公開されています。")

    # Anyone reads the case.
    visitor = new_page()
    visitor.goto("/cases")
    expect(heading(visitor)).to_have_text("連携事例")
    expect(visitor.get_by_role("banner")).not_to_contain_text(shinagawa.name)
    card = visitor.get_by_role("article", name=CASE_TITLE)
    expect(card).to_contain_text("福井県 坂井市 ⇄ 東京都 品川区")
    expect(card).to_contain_text(VENUE)
    assert_accessible(visitor, "case list")
    card.get_by_role("link", name=CASE_TITLE).click()
    expect(visitor).to_have_url(re.compile(r"/cases/\d+$"))
    expect(heading(visitor)).to_have_text(CASE_TITLE)
    case = visitor.get_by_role("article", name=CASE_TITLE)
    expect(case).to_contain_text("福井県 坂井市 ⇄ 東京都 品川区")
    expect(case).to_contain_text("平成27年11月18日（2015-11-18） 〜 平成27年11月23日（2015-11-23）")
    expect(case).to_contain_text(VENUE)
    expect(case.get_by_role("region", name="概要")).to_contain_text(SUMMARY)
    image = case.get_by_role("img", name="会場のようす.jpg")
    wait_for_image(visitor, image)
    assert image.evaluate("img => img.naturalWidth") == 320
    assert_accessible(visitor, "case page")
