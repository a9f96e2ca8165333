"""Who to call, and the files of a conversation.

The 担当者 box names the officer of each side (the post's author, the response's author; when one no longer uses
the board, the organization's administrator or nobody) to the two organizations and moderators only: never to a
visitor, nor to a third organization, whether a municipality or a ward that has not answered.

A message takes up to five files (Word, Excel, PowerPoint, CSV, PDF, images), recognised by their content; only the
two organizations and moderators download them, always as attachments under their own (Japanese) names.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import select

from bulletin.accounts.models import OrgRole, UserState
from bulletin.core import uploads
from bulletin.extensions import db
from bulletin.moderation import reports
from bulletin.responses.models import Message, MessageAttachment
from bulletin.responses.services import MAX_MESSAGE_FILES
from tests.constants import PDF, SAKAI
from tests.factories import (
    assert_field_error,
    assert_unchanged,
    count,
    database_state,
    office_bytes,
    page_of,
    text_of,
    uploaded_files,
)
from tests.posts.test_uploads import multipart  # the body encoded in memory: a large one is never spooled

POST_SIDE = "staff@city.fukui-sakai.lg.jp"  # 坂井 職員, who wrote the proposal
ANSWERING_SIDE = "staff@city.shinagawa.tokyo.jp"  # 品川 職員, who wrote the answer
NOT_ACCEPTED = "は添付できない形式です。PDF、画像（PNG、JPEG、WebP）、Word、Excel、PowerPoint、CSV のみ添付できます。"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00" + b"\x00" * 200


def contacts_shown(response) -> set[str]:
    """The e-mail addresses of the 担当者 box (empty when there is none), checked to appear nowhere else."""
    boxes = page_of(response).with_class("contacts-box")
    if not boxes:
        return set()
    return {address for address in (POST_SIDE, ANSWERING_SIDE) if address in boxes[0].text}


def emails_anywhere(response) -> set[str]:
    return {address for address in (POST_SIDE, ANSWERING_SIDE) if address in text_of(response)}


# --- who to call ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("viewer", "on_post", "on_conversation"),
    [
        ("sakai", {POST_SIDE}, {POST_SIDE, ANSWERING_SIDE}),  # the post's author
        ("sakai_colleague", {POST_SIDE}, {POST_SIDE, ANSWERING_SIDE}),  # the post's organization
        ("shinagawa", {POST_SIDE, ANSWERING_SIDE}, {POST_SIDE, ANSWERING_SIDE}),  # the answering organization
        ("moderator", {POST_SIDE}, {POST_SIDE, ANSWERING_SIDE}),
        ("chiyoda", set(), None),  # a ward that has not answered: a third organization
        ("kushiro", set(), None),  # a municipality: a third organization
    ],
)
def test_who_to_call_is_shown_to_the_two_organizations_and_moderators_only(
    client, auth, people, proposal, answer, viewer, on_post, on_conversation
):
    auth.login(getattr(people, viewer))
    post_page = client.get(f"/posts/{proposal.id}")
    assert post_page.status_code == 200
    assert contacts_shown(post_page) == on_post
    assert emails_anywhere(post_page) == on_post
    assert ("担当者" in text_of(post_page)) == bool(on_post)
    conversation = client.get(f"/conversations/{answer.conversation.id}")
    if on_conversation is None:
        assert conversation.status_code == 404 and not emails_anywhere(conversation)
    else:
        assert conversation.status_code == 200 and contacts_shown(conversation) == on_conversation
        box = text_of(conversation)
        assert "坂井 職員" in box and "品川 職員" in box and "企画課" in box and 'href="tel:03-1234-5678"' in box


def test_a_visitor_sees_no_officer(client, people, proposal, answer):
    for path in (f"/posts/{proposal.id}", f"/conversations/{answer.conversation.id}"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_a_public_case_names_no_officer(client, people, case):
    response = client.get(f"/cases/{case.id}")
    assert response.status_code == 200 and not emails_anywhere(response) and "担当者" not in text_of(response)


def test_an_author_who_left_is_replaced_by_the_organizations_administrator(
    client, auth, people, create_user, proposal, answer
):
    administrator = create_user(SAKAI, email="admin@city.fukui-sakai.lg.jp", name="坂井 管理者", role=OrgRole.ADMIN)
    people.sakai.state = UserState.DEACTIVATED
    db.session.commit()
    auth.login(people.shinagawa)
    for path in (f"/posts/{proposal.id}", f"/conversations/{answer.conversation.id}"):
        response = client.get(path)
        assert response.status_code == 200
        text = text_of(response)
        assert "担当した職員は現在この掲示板を利用していません。団体の管理者を表示しています。" in text
        assert f"mailto:{administrator.email}" in text and POST_SIDE not in text


def test_an_author_who_left_with_no_administrator_leaves_nobody_to_call(client, auth, people, proposal, answer):
    people.shinagawa.state = UserState.SUSPENDED
    db.session.commit()
    auth.login(people.sakai)
    response = client.get(f"/conversations/{answer.conversation.id}")
    assert response.status_code == 200
    assert "担当した職員は現在この掲示板を利用していません。連絡できる管理者も登録されていません。" in text_of(response)
    assert contacts_shown(response) == {POST_SIDE}


# --- files in a conversation -----------------------------------------------------------------------------------------


def send(client, conversation_id: int, *files: tuple[bytes, str], message: str = "資料を送ります。"):
    """Post a message with files, as the browser posts the reply form."""
    named = [(name, content) for content, name in files]
    return client.post(f"/conversations/{conversation_id}", **multipart({"message": message}, named))


def files_of(conversation_id: int) -> list[MessageAttachment]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(MessageAttachment)
            .join(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(MessageAttachment.id)
        )
    )


OLE_WORD = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + b"\xec\xa5\xc1\x00" + b"\x00" * 512  # Word 97-2003
SHIFT_JIS_CSV = "品目,数量,金額\n黄金がに,20,120000\n".encode("cp932")


@pytest.mark.parametrize(
    ("content", "name", "content_type", "stored_as"),
    [
        (
            office_bytes("docx"),
            "企画書.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "企画書.docx",
        ),
        (
            office_bytes("xlsx"),
            "見積.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "見積.xlsx",
        ),
        (
            office_bytes("pptx"),
            "説明資料.pptx",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "説明資料.pptx",
        ),
        (
            office_bytes("xlsx"),
            "見積.doc",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "見積.doc.xlsx",
        ),
        (SHIFT_JIS_CSV, "見積.csv", "text/csv", "見積.csv"),
        ("\ufeff品目,金額\n黄金がに,120000\n".encode(), "明細.csv", "text/csv", "明細.csv"),
        (OLE_WORD, "旧形式の企画書.doc", "application/msword", "旧形式の企画書.doc"),
        (PDF, "日程.pdf", "application/pdf", "日程.pdf"),
    ],
    ids=["docx", "xlsx", "pptx", "xlsx-named-doc", "csv-shift-jis", "csv-utf8-bom", "legacy-doc", "pdf"],
)
def test_office_files_csv_and_pdf_are_accepted_by_their_content(
    client, auth, people, answer, content, name, content_type, stored_as
):
    auth.login(people.sakai)
    response = send(client, answer.conversation.id, (content, name))
    assert response.status_code == 302, text_of(response)
    [item] = files_of(answer.conversation.id)
    assert (item.content_type, item.original_name, item.size) == (content_type, stored_as, len(content))
    page = text_of(client.get(f"/conversations/{answer.conversation.id}"))
    assert stored_as in page


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (EXE, "企画書.docx", f"企画書.docx {NOT_ACCEPTED}"),
        (EXE, "見積.csv", f"見積.csv {NOT_ACCEPTED}"),
        (
            office_bytes("docx", ("word/vbaProject.bin",)),
            "企画書.docx",
            "企画書.docx にはマクロが含まれているため添付できません。",
        ),
        (
            b"\x00\x01" + "品目".encode(),
            "見積.csv",
            "見積.csv はCSVとして読み取れません（文字以外のデータが含まれています）。",
        ),
        (
            b"\x81 ,1\n",
            "見積.csv",
            "見積.csv の文字コードを読み取れません。UTF-8 または Shift_JIS で保存してください。",
        ),
        (b"plain text", "メモ.txt", f"メモ.txt {NOT_ACCEPTED}"),
        (b"", "空.docx", "空.docx は空のファイルです。"),
        (b"%PDF-" + b"x" * uploads.MAX_BYTES, "大きい.pdf", "大きい.pdf は10MBを超えています。"),
    ],
    ids=["exe-named-docx", "exe-named-csv", "macro", "csv-with-nul", "csv-undecodable", "text", "empty", "too-large"],
)
def test_files_that_are_not_what_they_claim_are_refused_on_the_form(
    app, client, auth, people, answer, content, name, message
):
    auth.login(people.sakai)
    client.get(f"/conversations/{answer.conversation.id}")  # reading moves the read marker first
    before, files = database_state(), uploaded_files(app)
    response = send(client, answer.conversation.id, (content, name))
    assert response.status_code == 400
    assert_field_error(response, "attachments", message)
    assert "資料を送ります。" in text_of(response)  # the message is kept to send again
    assert_unchanged(before)
    assert uploaded_files(app) == files


def test_posts_still_take_only_pdf_and_images():
    """Office files are for the two organizations of a conversation; a post's files stay PDF and images."""
    with pytest.raises(uploads.UploadError) as refused:
        uploads.check_files([("企画書.docx", office_bytes("docx"))])
    assert refused.value.message == "企画書.docx は添付できない形式です。PDF、PNG、JPEG、WebP のみ添付できます。"


def test_at_most_five_files_a_message(app, client, auth, people, answer):
    auth.login(people.sakai)
    client.get(f"/conversations/{answer.conversation.id}")
    before = database_state()
    six = [(PDF, f"資料{n}.pdf") for n in range(MAX_MESSAGE_FILES + 1)]
    response = send(client, answer.conversation.id, *six)
    assert response.status_code == 400
    assert_field_error(response, "attachments", "一度に添付できるファイルは5件までです。")
    assert_unchanged(before)
    assert send(client, answer.conversation.id, *six[:MAX_MESSAGE_FILES]).status_code == 302
    assert len(files_of(answer.conversation.id)) == MAX_MESSAGE_FILES


def test_each_message_lists_its_own_files_in_order_with_their_links(client, auth, people, answer):
    conversation_id = answer.conversation.id
    auth.login(people.shinagawa)
    assert send(client, conversation_id, (PDF, "日程.pdf"), (office_bytes("xlsx"), "見積.xlsx")).status_code == 302
    assert send(client, conversation_id, message="ファイルなし").status_code == 302
    assert send(client, conversation_id, (PDF, "地図.pdf")).status_code == 302
    first, second = files_of(conversation_id)[:2], files_of(conversation_id)[2:]
    auth.logout()
    auth.login(people.sakai)
    page = page_of(client.get(f"/conversations/{conversation_id}"))
    messages = [e for e in page.all("li") if "message" in e.classes]
    shown = [[name for name in ("日程.pdf", "見積.xlsx", "地図.pdf") if name in m.text] for m in messages]
    assert shown[-3:] == [["日程.pdf", "見積.xlsx"], [], ["地図.pdf"]]
    links = [a.attrs["href"] for a in page.all("a") if "/files/" in a.attrs.get("href", "")]
    assert links == [
        f"/conversations/{conversation_id}/messages/{item.message_id}/files/{item.id}" for item in first + second
    ]


def test_files_are_downloaded_by_the_two_organizations_and_moderators_only(client, auth, people, answer):
    auth.login(people.shinagawa)
    send(client, answer.conversation.id, (office_bytes("xlsx"), "黄金がに 見積.xlsx"))
    [item] = files_of(answer.conversation.id)
    path = f"/conversations/{answer.conversation.id}/messages/{item.message_id}/files/{item.id}"
    for reader in (people.sakai, people.sakai_colleague, people.shinagawa, people.moderator):
        auth.logout()
        auth.login(reader)
        with client.get(path) as response:
            assert response.status_code == 200 and response.data == office_bytes("xlsx")
            disposition = response.headers["Content-Disposition"]
            assert disposition.startswith("attachment;")
            assert f"filename*=UTF-8''{quote('黄金がに 見積.xlsx')}" in disposition
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert "no-store" in response.headers["Cache-Control"]
    for stranger in (people.chiyoda, people.kushiro):
        auth.logout()
        auth.login(stranger)
        assert client.get(path).status_code == 404
    auth.logout()
    assert client.get(path).status_code == 404


def test_a_hidden_messages_files_are_for_moderators_only(client, auth, people, answer):
    auth.login(people.shinagawa)
    send(client, answer.conversation.id, (PDF, "日程.pdf"))
    [item] = files_of(answer.conversation.id)
    path = f"/conversations/{answer.conversation.id}/messages/{item.message_id}/files/{item.id}"
    report = reports.report_message(people.sakai, item.message, "個人の連絡先が書かれています。")
    reports.hide_reported_post(people.moderator, report, "個人の連絡先のため")  # hides the reported message
    db.session.commit()
    for member in (people.sakai, people.shinagawa):
        auth.logout()
        auth.login(member)
        assert client.get(path).status_code == 404
        assert "日程.pdf" not in text_of(client.get(f"/conversations/{answer.conversation.id}"))
    auth.logout()
    auth.login(people.moderator)
    with client.get(path) as response:
        assert response.status_code == 200


def test_tampered_file_paths_are_404(client, auth, people, proposal, answer, respond_as):
    other = respond_as(people.chiyoda, proposal, "千代田区です。")
    auth.login(people.sakai)
    send(client, other.conversation.id, (PDF, "千代田あて.pdf"))
    [item] = files_of(other.conversation.id)
    auth.logout()
    auth.login(people.shinagawa)
    own = answer.conversation.id
    first = db.session.scalar(select(Message.id).where(Message.conversation_id == own))
    for path in (
        f"/conversations/{own}/messages/{item.message_id}/files/{item.id}",  # another conversation's file
        f"/conversations/{own}/messages/{first}/files/{item.id}",
        f"/conversations/{own}/messages/{first}/files/999999",
    ):
        assert client.get(path).status_code == 404
    assert count(MessageAttachment) == 1
