"""The notification centre in real Chromium: a 品川区 officer chooses how to hear of new posts on
/settings/notifications; a 坂井市 officer sees the header badge count a 千代田区 response, finds it on
/notifications, follows it to the conversation (and the badge goes), marks everything read at once, receives the
e-mail for it over SMTP, and stops that kind of mail from the List-Unsubscribe link. axe-core on the settings page,
/notifications and the unsubscribe page (asking, and done).

千代田区 answers here, not 品川区, so that the conversations of test_partnership.py are left alone; every address is
this module's own.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from bulletin.extensions import db
from bulletin.notifications.models import DeliveryMode, NotificationPreference
from bulletin.posts.models import Post
from bulletin.posts.services import PostInput, reject_revision, update_post
from bulletin.responses.models import ResponseKind
from bulletin.responses.services import respond
from tests.browser.pages import (
    assert_accessible,
    assert_accessible_at_both_widths,
    heading,
    logged_in,
    published_proposal,
    user_by_email,
)
from tests.constants import CHIYODA, SAKAI, SHINAGAWA
from tests.factories import SMTPServer

pytestmark = pytest.mark.browser

CHIYODA_NAME = "東京都 千代田区"
RESPONSE_MESSAGE = "千代田区の区民まつりで、坂井市の物産ブースをご用意できます。日程をご相談させてください。"


def sakai_proposal(title: str) -> dict:
    """A 坂井市 proposal's fields."""
    return {
        "title": title,
        "summary": "坂井市の物産と観光を、区の行事や施設で紹介していただける連携先を探しています。",
        "offered": "物産の販売と試食、観光パンフレット、職員の派遣",
        "sought": "会場のご紹介と区報での告知",
        "category": "products",
        "tags": ["物産", "観光PR"],
    }


def notifications_link(page: Page):
    """The header's link to /notifications (its name carries the unread count)."""
    return page.get_by_role("navigation", name="メインメニュー").get_by_role("link", name=re.compile("^お知らせ"))


def unread_badge(page: Page):
    return notifications_link(page).locator(".count-badge")


def expect_unread(page: Page, count: int) -> None:
    """The header shows `count` unread notifications (no badge at all for none)."""
    if count:
        expect(unread_badge(page)).to_have_text(f"{count} 件の未読")
    else:
        expect(notifications_link(page)).to_be_visible()
        expect(unread_badge(page)).to_have_count(0)


def mode_group(page: Page, label: str):
    """The radio group of one kind of notification on the settings page."""
    return page.get_by_role("group", name=label, exact=True)


def expect_mode(page: Page, label: str, mode_label: str) -> None:
    group = mode_group(page, label)
    for choice in ("すぐにメール", "1日1回のまとめ", "メールしない"):
        radio = group.get_by_role("radio", name=choice, exact=True)
        if choice == mode_label:
            expect(radio).to_be_checked()
        else:
            expect(radio).not_to_be_checked()


def test_ward_officer_chooses_notifications_and_follows(new_page, add_user):
    officer = add_user("notify.settings@city.shinagawa.tokyo.jp", code=SHINAGAWA, name="戸越 美咲")
    page = logged_in(new_page, officer)
    expect_unread(page, 0)
    notifications_link(page).click()
    expect(heading(page)).to_have_text("お知らせ")
    expect(page.get_by_role("main")).to_contain_text("お知らせはまだありません。")
    page.get_by_role("link", name="通知の設定").click()
    expect(page).to_have_url(re.compile(r"/settings/notifications$"))
    expect(heading(page)).to_have_text("通知の設定")

    # The defaults: new posts of the other side in the daily digest, and a ward officer follows all of them.
    expect_mode(page, "相手側の新しい投稿（フォロー中）", "1日1回のまとめ")
    expect_mode(page, "応答の受信", "すぐにメール")
    follows = page.get_by_role("group", name="フォローする新しい投稿（相手側の投稿）")
    follow_all = follows.get_by_role("checkbox", name="すべての新しい投稿", exact=True)
    expect(follow_all).to_be_checked()
    categories = follows.get_by_role("group", name="分野", exact=True)
    expect(categories.get_by_role("checkbox", checked=True)).to_have_count(0)
    prefectures = follows.get_by_role("group", name="都道府県（提案した団体の所在地）")
    expect(prefectures.get_by_role("checkbox", checked=True)).to_have_count(0)
    # Moderators' kinds are not offered to an officer.
    expect(mode_group(page, "審査待ちの投稿")).to_have_count(0)
    assert_accessible(page, "notification settings")

    mode_group(page, "相手側の新しい投稿（フォロー中）").get_by_role("radio", name="すぐにメール", exact=True).check()
    follow_all.uncheck()
    categories.get_by_role("checkbox", name="防災・災害支援", exact=True).check()
    prefectures.get_by_role("checkbox", name="福井県", exact=True).check()
    page.get_by_role("button", name="保存する").click()
    expect(page.get_by_role("status")).to_contain_text("通知の設定を保存しました。")

    page.reload()
    expect(heading(page)).to_have_text("通知の設定")
    expect(page.get_by_role("status")).to_have_count(0)
    expect_mode(page, "相手側の新しい投稿（フォロー中）", "すぐにメール")
    expect_mode(page, "応答の受信", "すぐにメール")  # untouched kinds keep their default
    expect_mode(page, "自区が対象の新しい提案", "すぐにメール")
    expect(follow_all).not_to_be_checked()
    expect(categories.get_by_role("checkbox", checked=True)).to_have_count(1)
    expect(categories.get_by_role("checkbox", name="防災・災害支援", exact=True)).to_be_checked()
    expect(prefectures.get_by_role("checkbox", checked=True)).to_have_count(1)
    expect(prefectures.get_by_role("checkbox", name="福井県", exact=True)).to_be_checked()
    assert_accessible(page, "notification settings after saving")


def test_response_shows_in_notification_centre_and_mail(
    new_page, add_user, moderator, live_server, mail_sink: SMTPServer, deliver_mail_and_find_link
):
    title = "坂井市の物産を区民まつりで紹介したい（お知らせの確認）"
    sakai = add_user("notify.response@city.fukui-sakai.lg.jp", code=SAKAI, name="丸岡 春香")
    chiyoda = add_user("notify.response@city.chiyoda.lg.jp", code=CHIYODA, name="神田 直人")
    post_id = published_proposal(live_server, sakai, moderator, **sakai_proposal(title))

    # The approval itself is a notification for the author: the badge counts it, and its item leads to the post.
    city = logged_in(new_page, sakai)
    expect_unread(city, 1)
    notifications_link(city).click()
    expect(heading(city)).to_have_text("お知らせ")
    city.get_by_role("button", name=f"「{title}」が公開されました。").click()
    expect(city).to_have_url(re.compile(rf"/posts/{post_id}$"))
    expect(heading(city)).to_have_text(title)
    expect_unread(city, 0)

    # 千代田区 responds through the form. Its officer follows all new posts (a ward officer's default), so the
    # proposal is already one notification for them; opening the post reads it, and their own response adds none.
    ward = logged_in(new_page, chiyoda)
    expect_unread(ward, 1)
    ward.goto(f"/posts/{post_id}")
    expect(heading(ward)).to_have_text(title)
    expect_unread(ward, 0)
    ward.get_by_role("link", name="この投稿に応答する").click()
    ward.get_by_role("radio", name="具体的に提案します").check()
    ward.get_by_label("メッセージ", exact=True).fill(RESPONSE_MESSAGE)
    ward.get_by_role("button", name="応答を送る").click()
    expect(ward).to_have_url(re.compile(r"/conversations/\d+$"))
    conversation_path = re.search(r"/conversations/\d+$", ward.url).group(0)
    expect_unread(ward, 0)

    # 坂井市 reloads the post page it has open: one unread notification.
    city.reload()
    expect_unread(city, 1)
    expect(notifications_link(city)).to_have_accessible_name("お知らせ 1 件の未読")
    notifications_link(city).click()
    expect(heading(city)).to_have_text("お知らせ")
    text = f"{CHIYODA_NAME} から「{title}」への応答がありました。"
    items = city.get_by_role("main").get_by_role("listitem")
    expect(items).to_have_count(2)
    expect(items.first).to_contain_text(text)  # newest first
    expect(items.first).to_contain_text("未読")
    expect(items.last).not_to_contain_text("未読")
    assert_accessible(city, "notifications with an unread item")

    items.first.get_by_role("button", name=text).click()
    expect(city).to_have_url(re.compile(rf"{conversation_path}$"))
    expect(heading(city)).to_have_text("やりとり")
    expect(city.get_by_role("main")).to_contain_text(RESPONSE_MESSAGE)
    expect_unread(city, 0)
    notifications_link(city).click()
    expect(city.get_by_role("main").get_by_role("listitem").first).not_to_contain_text("未読")
    expect(city.get_by_role("button", name="すべて既読にする")).to_have_count(0)

    # The e-mail went to the 坂井市 officer with the conversation's link and a one-click List-Unsubscribe.
    link = deliver_mail_and_find_link(sakai.email, "/conversations/")
    assert link == live_server.url + conversation_path
    mail = next(m for m in reversed(mail_sink.received_by(sakai.email)) if link in m.body)
    assert mail.subject.endswith(f"{CHIYODA_NAME} から応答がありました: {title}")  # who, then what about
    assert mail.body.startswith(f"{sakai.name} 様")
    assert text in mail.body.splitlines() and RESPONSE_MESSAGE in mail.body.splitlines()  # and what they wrote
    assert mail.email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    found = re.fullmatch(r"<([^>]+)>", re.sub(r"\s+", "", str(mail.email["List-Unsubscribe"])))
    assert found, mail.email["List-Unsubscribe"]
    unsubscribe_url = found.group(1)
    assert unsubscribe_url.startswith(live_server.url + "/unsubscribe/")

    # A damaged link is refused, and says so.
    reader = new_page()
    refused = reader.goto(unsubscribe_url + "x")
    assert refused is not None and refused.status == 400
    expect(reader.get_by_role("alert")).to_contain_text("リンクが正しくありません。")

    # Opening the link (as a mail client or a scanner would, without a session) only asks.
    reader.goto(unsubscribe_url)
    expect(heading(reader)).to_have_text("メールの停止")
    expect(reader.get_by_role("main")).to_contain_text("「応答の受信」のメールを停止しますか。")
    assert_accessible(reader, "unsubscribe page")
    city.goto("/settings/notifications")
    expect_mode(city, "応答の受信", "すぐにメール")

    reader.get_by_role("button", name="メールを停止する").click()
    expect(reader.get_by_role("main")).to_contain_text("「応答の受信」のメールを停止しました。")
    expect(reader.get_by_role("button", name="メールを停止する")).to_have_count(0)
    assert_accessible(reader, "unsubscribe page after stopping")

    city.reload()
    expect_mode(city, "応答の受信", "メールしない")
    expect_mode(city, "やりとりの新着メッセージ", "すぐにメール")  # only that kind stops
    with live_server.app.app_context():
        user_id = user_by_email(sakai.email).id
        preference = db.session.get(NotificationPreference, (user_id, "response_received"))
        assert preference is not None and preference.mode == DeliveryMode.OFF


def test_mark_all_read(new_page, add_user, moderator, live_server):
    title = "坂井市の観光PRを区の施設で行いたい（既読の確認）"
    sakai = add_user("notify.readall@city.fukui-sakai.lg.jp", code=SAKAI, name="春江 大樹")
    chiyoda = add_user("notify.readall@city.chiyoda.lg.jp", code=CHIYODA, name="麹町 由美")
    post_id = published_proposal(live_server, sakai, moderator, **sakai_proposal(title))  # 「…」が公開されました。
    with live_server.app.app_context():  # 千代田区's response, written as the form would: 「…」への応答がありました。
        respond(
            user_by_email(chiyoda.email),
            db.session.get(Post, post_id),
            ResponseKind.INTEREST,
            "関心があります。詳しくお聞かせください。",
        )
        db.session.commit()

    city = logged_in(new_page, sakai)
    expect_unread(city, 2)
    notifications_link(city).click()
    items = city.get_by_role("main").get_by_role("listitem")
    expect(items.get_by_role("button")).to_have_text(
        [f"未読 {CHIYODA_NAME} から「{title}」への応答がありました。", f"未読 「{title}」が公開されました。"]
    )
    city.get_by_role("button", name="すべて既読にする").click()
    expect(city).to_have_url(re.compile(r"/notifications$"))
    expect(city.get_by_role("status")).to_contain_text("すべて既読にしました。")
    expect_unread(city, 0)
    expect(items.get_by_role("button")).to_have_text(
        [f"{CHIYODA_NAME} から「{title}」への応答がありました。", f"「{title}」が公開されました。"]
    )
    expect(city.get_by_role("button", name="すべて既読にする")).to_have_count(0)
    assert_accessible(city, "notifications, all read")


def test_settings_headings_and_a_returned_edit_at_both_widths(new_page, add_user, moderator, live_server):
    """The settings page groups the kinds under headings (the new ones among them); the post's organization reads
    why its last edit was returned beside the post, and in brief under the notice. axe and a screenshot of each at
    1280 and 390 pixels."""
    officer = add_user("notify.returned@city.fukui-sakai.lg.jp", code=SAKAI, name="三国 湊")
    post_id = published_proposal(live_server, officer, moderator, **sakai_proposal("越前がにの試食会"))
    with live_server.app.app_context():
        post = db.session.get(Post, post_id)
        edited = PostInput(kind=post.kind, **(sakai_proposal("越前がにの試食会") | {"summary": "試食会を追加します。"}))
        revision = update_post(user_by_email(officer.email), post, edited)
        assert revision is not None
        reject_revision(user_by_email(moderator.email), revision, revision.version, "試食は保健所への届出が必要です。")
        db.session.commit()
    page = logged_in(new_page, officer)

    page.goto("/settings/notifications")
    main = page.get_by_role("main")
    expect(main.get_by_role("heading", level=2)).to_have_text(
        ["新しい投稿と招待", "自団体の投稿", "応答とやりとり", "連携と事例", "自団体の職員"]
    )
    expect_mode(page, "公開中の投稿の修正の差し戻し", "すぐにメール")
    expect_mode(page, "連携事例の公開への同意", "すぐにメール")
    assert_accessible_at_both_widths(page, "notification settings")

    page.goto(f"/posts/{post_id}")
    note = main.get_by_role("note").filter(has_text="前回の修正は差し戻されました")
    expect(note).to_contain_text("試食は保健所への届出が必要です。")
    expect(note.get_by_role("link", name="修正して再提出する")).to_have_attribute("href", f"/posts/{post_id}/edit")
    assert_accessible_at_both_widths(page, "post with a returned edit")

    page.goto("/notifications")  # the reason, in brief, under the notice
    expect(main.locator(".notification__brief").first).to_have_text("理由: 試食は保健所への届出が必要です。")
    assert_accessible_at_both_widths(page, "notifications with a brief")
