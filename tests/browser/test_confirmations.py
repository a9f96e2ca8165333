"""Accepting a response asks first, in real Chromium: with JavaScript a dialog on the conversation (戻る leaves
everything as it was, 確定 accepts); without JavaScript the button leads to a confirm page whose 確定 accepts. On the
way: the 担当者 box of both sides, and a spreadsheet sent with a message. axe-core at 1280 and 390 px on the
conversation, the dialog, the confirm pages (accepting, hiding a post) and the post page.

Set BULLETIN_SCREENSHOTS to a folder to keep a screenshot of each page at both widths."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from bulletin.extensions import db
from bulletin.posts.models import Post
from bulletin.responses import services
from bulletin.responses.models import ResponseKind
from tests.browser.pages import (
    assert_accessible_at_both_widths,
    heading,
    log_in,
    logged_in,
    published_proposal,
    user_by_email,
)

pytestmark = pytest.mark.browser

FUKUI = "182010"  # 福井市
MEGURO = "131105"  # 目黒区
TSURUGA = "182028"  # 敦賀市
OTA = "131113"  # 大田区
ANSWER = "目黒区民まつりの物産コーナーでご紹介できます。出展料は不要です。"


def answered(live_server, author, ward, moderator, title: str) -> tuple[int, int]:
    """A published proposal of the author's city, answered by the ward: (post id, conversation id)."""
    post_id = published_proposal(
        live_server,
        author,
        moderator,
        title=title,
        summary="越前がにの試食と観光PRを、区内のまつりで行いたいと考えています。",
        category="products",
        tags=["越前がに"],
    )
    with live_server.app.app_context():
        post = db.session.scalar(select(Post).where(Post.id == post_id))
        response = services.respond(user_by_email(ward.email), post, ResponseKind.OFFER, ANSWER)
        db.session.commit()
        return post_id, response.conversation.id


def spreadsheet(path: Path) -> Path:
    """A small .xlsx as Excel writes one: its content types, then its workbook."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships/>')
        archive.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook/>')
    return path


def test_accepting_asks_in_a_dialog(new_page, add_user, moderator, live_server, tmp_path):
    fukui = add_user("mika.asuwa@city.fukui.lg.jp", code=FUKUI, name="足羽 美香")
    meguro = add_user("jun.himon@city.meguro.tokyo.jp", code=MEGURO, name="碑文谷 潤")
    title = "福井市の越前がにを目黒区のまつりで紹介したい"
    post_id, conversation_id = answered(live_server, fukui, meguro, moderator, title)

    city = logged_in(new_page, fukui)
    city.goto(f"/posts/{post_id}")
    contacts = city.get_by_role("region", name="担当者")
    expect(contacts).to_contain_text("足羽 美香")
    expect(contacts).not_to_contain_text("碑文谷 潤")  # the post page names the viewer's side and its own
    assert_accessible_at_both_widths(city, "post page with its contact")

    city.goto(f"/conversations/{conversation_id}")
    expect(heading(city)).to_have_text("やりとり")
    contacts = city.get_by_role("region", name="担当者")
    expect(contacts).to_contain_text("足羽 美香")
    expect(contacts).to_contain_text("碑文谷 潤")
    expect(contacts.get_by_role("link", name="jun.himon@city.meguro.tokyo.jp")).to_have_attribute(
        "href", "mailto:jun.himon@city.meguro.tokyo.jp"
    )

    # A reply with the estimate attached.
    city.get_by_label("メッセージ", exact=True).fill("見積を添付します。ご確認ください。")
    city.get_by_label("添付ファイル").set_input_files(str(spreadsheet(tmp_path / "見積.xlsx")))
    city.get_by_role("button", name="送信する").click()
    expect(city.get_by_role("link", name="見積.xlsx")).to_be_visible()
    assert_accessible_at_both_widths(city, "conversation with contacts and a file")

    # The dialog: 戻る changes nothing, 確定 accepts.
    city.get_by_role("button", name="この応答を受け入れて連携する").click()
    dialog = city.get_by_role("dialog", name="この応答を受け入れて連携しますか")
    expect(dialog).to_contain_text("受け入れると連携として記録され、相手の団体に通知されます。")
    expect(dialog.get_by_role("button", name="戻る")).to_be_focused()
    assert_accessible_at_both_widths(city, "accept dialog")
    dialog.get_by_role("button", name="戻る").click()
    expect(dialog).to_have_count(0)
    expect(city).to_have_url(re.compile(rf"/conversations/{conversation_id}"))
    expect(city.get_by_role("button", name="この応答を受け入れて連携する")).to_be_focused()

    city.get_by_role("button", name="この応答を受け入れて連携する").click()
    city.get_by_role("dialog").get_by_role("button", name="確定").click()
    expect(city).to_have_url(re.compile(r"/partnerships/\d+$"))
    expect(city.get_by_role("status")).to_contain_text("応答を受け入れ、連携を記録しました。")


def test_accepting_without_javascript_goes_through_a_confirm_page(new_page, add_user, moderator, live_server):
    tsuruga = add_user("ken.kehi@city.tsuruga.lg.jp", code=TSURUGA, name="気比 健")
    ota = add_user("aya.haneda@city.ota.tokyo.jp", code=OTA, name="羽田 彩")
    title = "敦賀市の昆布を大田区の商店街で紹介したい"
    post_id, conversation_id = answered(live_server, tsuruga, ota, moderator, title)

    city = new_page(java_script_enabled=False)
    city.goto("/login")
    log_in(city, tsuruga)
    city.goto(f"/conversations/{conversation_id}")
    city.get_by_role("button", name="この応答を受け入れて連携する").click()
    expect(city).to_have_url(re.compile(r"/responses/\d+/accept$"))
    expect(heading(city)).to_have_text("この応答を受け入れて連携しますか")
    main = city.get_by_role("main")
    expect(main).to_contain_text("受け入れると連携として記録され、相手の団体に通知されます。")
    expect(main).to_contain_text("東京都 大田区")
    expect(main).to_contain_text(ANSWER)
    # axe-core runs as a script, so the same page is checked in a browser with JavaScript (a GET shows it too).
    checked = logged_in(new_page, tsuruga)
    checked.goto(city.url)
    expect(heading(checked)).to_have_text("この応答を受け入れて連携しますか")
    assert_accessible_at_both_widths(checked, "accept confirm page")
    main.get_by_role("link", name="戻る").click()
    expect(city).to_have_url(re.compile(rf"/conversations/{conversation_id}$"))
    city.get_by_role("button", name="この応答を受け入れて連携する").click()
    city.get_by_role("button", name="確定").click()
    expect(city).to_have_url(re.compile(r"/partnerships/\d+$"))
    expect(city.get_by_role("status")).to_contain_text("応答を受け入れ、連携を記録しました。")

    # The moderator's confirm page for hiding the post, also without JavaScript.
    secretariat = new_page(java_script_enabled=False)
    secretariat.goto("/login")
    log_in(secretariat, moderator)
    secretariat.goto(f"/moderation/posts/{post_id}")
    secretariat.get_by_role("textbox", name="理由").fill("規約に反する内容のため")
    secretariat.get_by_role("button", name="非公開にする").click()
    expect(heading(secretariat)).to_have_text("この投稿を非公開にしますか")
    expect(secretariat.get_by_role("textbox", name="理由")).to_have_value("規約に反する内容のため")
    checked = logged_in(new_page, moderator)
    checked.goto(f"/moderation/posts/{post_id}/hide")
    expect(heading(checked)).to_have_text("この投稿を非公開にしますか")
    assert_accessible_at_both_widths(checked, "hide confirm page")
