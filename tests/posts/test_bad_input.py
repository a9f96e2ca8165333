"""Bad input on the post and post-moderation pages: a clear Japanese message on the field (or as a flash for a
button), never a 500, and nothing changed in the database."""

import io

import pytest
from sqlalchemy import select

from bulletin.extensions import db
from bulletin.moderation.models import ReportState
from bulletin.moderation.reports import dismiss_report, report_post
from bulletin.posts import services
from bulletin.posts.models import Post, PostState
from tests.constants import BAD_DATE, CONTROL_CHARACTERS, PDF, REQUIRED, SAKAI, SHINAGAWA, STATE_LABELS
from tests.factories import (
    assert_field_error,
    assert_unchanged,
    database_state,
    file_storage,
    flashes,
    form_data,
    form_errors,
    fresh,
    in_days,
    page_of,
    post_input,
)

OTHER_SIDE = "共同提案者は同じ側の団体から選んでください。"
NO_SUCH_ORG = "この団体コードの団体は見つかりません。"


def not_now(state: PostState) -> str:
    """The refusal of a move the post's state does not allow."""
    return f"この投稿は「{STATE_LABELS[state]}」のため、この操作はできません。"


def refused_new_post(client, field, message, **overrides):
    """Post /posts/new; it must come back with the message on the field and nothing written."""
    before = database_state()
    response = client.post("/posts/new", data=form_data(**overrides))
    assert response.status_code == 400
    assert_field_error(response, field, message)
    assert_unchanged(before)
    return response


def refused_edit(client, post, field, message, **overrides):
    """Post the edit form of `post`; the message on the field, the post as it was."""
    before = database_state()
    response = client.post(f"/posts/{post.id}/edit", data=form_data(**overrides))
    assert response.status_code == 400
    assert_field_error(response, field, message)
    assert_unchanged(before)
    return response


@pytest.fixture
def author(auth, people):
    auth.login(people.sakai)
    return people.sakai


# --- the post form ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "message", "overrides"),
    [
        ("title", REQUIRED, {"title": None}),
        ("title", REQUIRED, {"title": "   　 "}),
        ("summary", REQUIRED, {"summary": ""}),
        ("title", "120文字以内で入力してください。", {"title": "が" * 121}),
        ("summary", "400文字以内で入力してください。", {"summary": "あ" * 401}),
        ("body", "20000文字以内で入力してください。", {"body": "本" * 20001}),
        ("title", CONTROL_CHARACTERS, {"title": "黄金がに\x00PR"}),
        ("title", CONTROL_CHARACTERS, {"title": "黄金がに\x07PR"}),
        ("title", CONTROL_CHARACTERS, {"title": "黄金がに\u202ePR"}),  # right-to-left override
        ("title", CONTROL_CHARACTERS, {"title": "黄金\u200bがに"}),  # zero-width space
        ("title", CONTROL_CHARACTERS, {"title": "一行目\n二行目"}),
        ("body", CONTROL_CHARACTERS, {"body": "本文\x1b[31m赤"}),
        ("deadline", "締切は今日以降の日付にしてください。", {"deadline": in_days(-1).isoformat()}),
        (
            "desired_until",
            "希望時期の終わりは始まりと同じか後の日付にしてください。",
            {"desired_until": in_days(29).isoformat()},
        ),
        ("deadline", BAD_DATE, {"deadline": "2026-13-45"}),
        ("deadline", BAD_DATE, {"deadline": "令和8年4月1日"}),
        ("desired_from", BAD_DATE, {"desired_from": "2026/04/01"}),
        ("desired_until", BAD_DATE, {"desired_until": "tomorrow"}),
        ("category", "分野を一覧から選んでください。", {"category": "weapons"}),
        ("category", "分野を一覧から選んでください。", {"category": ""}),
        ("target_wards", "対象の区の指定が正しくありません。", {"target_wards": "999999"}),
        ("target_wards", "対象の区の指定が正しくありません。", {"target_wards": SAKAI}),
        ("target_wards", "対象の区の指定が正しくありません。", {"target_wards": "131091' OR 1=1 --"}),
        ("tags", "タグは10個までです。", {"tags": ", ".join(f"タグ{n}" for n in range(11))}),
        ("tags", "タグは1つ30文字以内にしてください。", {"tags": "長" * 31}),
    ],
    ids=lambda value: None if isinstance(value, dict) else str(value)[:20],
)
def test_bad_fields_of_a_new_post(client, author, field, message, overrides):
    refused_new_post(client, field, message, **overrides)


@pytest.mark.parametrize(
    ("kind", "messages"),
    [
        ("call", {"この団体が投稿できるのは「提案」です。"}),
        ("advert", {"種類を選んでください。", "選択肢が正しくありません。"}),
    ],
)
def test_a_tampered_kind_is_refused(client, author, kind, messages):
    """The kind is a hidden field (the organization decides it): a changed value is refused in the summary."""
    before = database_state()
    response = client.post("/posts/new", data=form_data(kind=kind))
    assert response.status_code == 400
    assert any(message in form_errors(response) for message in messages)
    assert_unchanged(before)


# Line and paragraph separators, C1 controls and bidi controls: a title goes into e-mail subjects, where a line
# separator once stopped the whole mail queue.
SEPARATORS_AND_CONTROLS = {
    "line-separator": "\u2028",
    "paragraph-separator": "\u2029",
    "next-line": "\x85",
    "c1-csi": "\x9b",
    "rl-override": "\u202e",
    "rl-isolate": "\u2067",
    "rl-mark": "\u200f",
    "arabic-letter-mark": "\u061c",
}


@pytest.mark.parametrize("field", ["title", "tags", "venue"])
@pytest.mark.parametrize("character", SEPARATORS_AND_CONTROLS.values(), ids=SEPARATORS_AND_CONTROLS.keys())
def test_a_one_line_field_refuses_separators_and_controls(client, author, field, character):
    refused_new_post(client, field, CONTROL_CHARACTERS, **{field: f"黄金がに{character}PR"})


@pytest.mark.parametrize("character", SEPARATORS_AND_CONTROLS.values(), ids=SEPARATORS_AND_CONTROLS.keys())
def test_a_text_area_refuses_separators_and_controls(client, author, character):
    refused_new_post(client, "body", CONTROL_CHARACTERS, body=f"一段落目{character}二段落目")


def test_a_text_area_keeps_line_breaks_and_tabs(client, author):
    body = "## 内容\r\n\r\n- 試食\t10時から\r\n- 漁師のトーク"
    response = client.post("/posts/new", data=form_data(title="改行とタブ", body=body))
    assert response.status_code == 302
    assert db.session.scalar(select(Post.body).where(Post.title == "改行とタブ")) == body


def test_the_form_keeps_what_was_typed(client, author):
    response = refused_new_post(client, "deadline", BAD_DATE, deadline="2026-13-45", title="残るタイトル")
    page = page_of(response)
    assert page.by_id("title").attrs["value"] == "残るタイトル"
    assert page.by_id("deadline").attrs["value"] == "2026-13-45"
    assert "入力内容を確認してください。" in response.get_data(as_text=True)


def test_120_characters_are_accepted(client, author):
    response = client.post("/posts/new", data=form_data(title="が" * 120))
    assert response.status_code == 302
    assert db.session.scalar(select(Post.title).where(Post.title == "が" * 120))


def test_a_deadline_of_today_and_a_one_day_period_are_accepted(client, author):
    today = in_days(0).isoformat()
    data = form_data(
        title="今日が締切", deadline=today, desired_from=in_days(5).isoformat(), desired_until=in_days(5).isoformat()
    )
    assert client.post("/posts/new", data=data).status_code == 302
    post = db.session.scalar(select(Post).where(Post.title == "今日が締切"))
    assert (post.deadline, post.desired_from, post.desired_until) == (in_days(0), in_days(5), in_days(5))


def test_a_script_in_the_body_is_saved_sanitised(client, author):
    body = '<script>alert("x")</script>\n\n[押す](javascript:alert(1)) <img src=x onerror=alert(1)>'
    response = client.post("/posts/new", data=form_data(title="スクリプト入り", body=body))
    assert response.status_code == 302
    post = db.session.scalar(select(Post).where(Post.title == "スクリプト入り"))
    assert post.body == body  # the source is kept as written
    assert "<script" not in post.body_html and "<img" not in post.body_html and "href" not in post.body_html
    page = client.get(f"/posts/{post.id}").get_data(as_text=True)
    assert '<script>alert("x")' not in page and "&lt;script&gt;" in page
    assert "<img src=x" not in page


def test_html_in_one_line_fields_is_escaped_on_the_page(client, author):
    response = client.post("/posts/new", data=form_data(title="<b>太字</b>", summary="<script>alert(1)</script>"))
    assert response.status_code == 302
    post = db.session.scalar(select(Post).where(Post.title == "<b>太字</b>"))
    page = client.get(f"/posts/{post.id}").get_data(as_text=True)
    assert "<b>太字</b>" not in page and "&lt;b&gt;太字&lt;/b&gt;" in page
    assert "<script>alert(1)" not in page


def test_bad_edits_change_nothing(client, author, people, make_post):
    for state in (PostState.DRAFT, PostState.PUBLISHED):
        post = make_post(people.sakai, state)
        refused_edit(client, post, "title", REQUIRED, title="")
        refused_edit(client, post, "deadline", BAD_DATE, deadline="2026-13-45")
        refused_edit(client, post, "deadline", "締切は今日以降の日付にしてください。", deadline="2001-01-01")
        refused_edit(client, post, "target_wards", "対象の区の指定が正しくありません。", target_wards="000000")
        refused_edit(client, post, "category", "分野を一覧から選んでください。", category="nope")


def test_files_cannot_be_added_to_a_published_post(client, author, people, make_post):
    post = make_post(people.sakai)
    before = database_state()
    data = form_data(title=post.title)
    data["attachments"] = [(io.BytesIO(PDF), "追加.pdf")]
    response = client.post(f"/posts/{post.id}/edit", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "公開中の投稿の添付ファイルは変更できません。" in form_errors(response)  # the form has no file field
    assert_unchanged(before)


def test_removing_an_attachment_of_another_post_does_nothing(client, author, people, make_post):
    other = make_post(people.kushiro, PostState.DRAFT, files=[file_storage(PDF, "他団体.pdf")])
    post = make_post(people.sakai, PostState.DRAFT)
    before = database_state()
    data = form_data(title=post.title, remove_attachments=str(other.attachments[0].id))
    assert client.post(f"/posts/{post.id}/edit", data=data).status_code == 302
    db.session.expire_all()
    assert len(db.session.get(Post, other.id).attachments) == 1
    assert before["attachment"] == database_state()["attachment"]


def test_a_tampered_remove_attachments_value_is_ignored(client, author, people, make_post):
    post = make_post(people.sakai, PostState.DRAFT, files=[file_storage(PDF, "残る.pdf")])
    before = database_state()
    response = client.post(f"/posts/{post.id}/edit", data=form_data(title=post.title, remove_attachments="abc"))
    assert response.status_code == 302
    assert before["attachment"] == database_state()["attachment"]


# --- ids in URLs ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/posts/999999",
        "/posts/999999/edit",
        "/posts/0",
        "/posts/-1",
        "/posts/abc",
        "/posts/1e3",
        "/posts/99999999999999999999999",
    ],
)
def test_unknown_posts_are_404(client, author, url):
    assert client.get(url).status_code == 404


def test_tampered_ids_are_404(client, auth, people, make_post):
    post = make_post(people.sakai)
    auth.login(people.sakai)
    with client.get(f"/posts/{post.id}/attachments/999999") as response:
        assert response.status_code == 404
    with client.get("/posts/999999/attachments/1") as response:
        assert response.status_code == 404
    before = database_state()
    for url in ("/posts/999999/submit", "/posts/999999/withdraw", "/posts/999999/close", "/posts/999999/report"):
        assert client.post(url, data={"reason": "partnered"}).status_code == 404
    assert client.post("/posts/999999/co-proposers", data={"organization_code": "016616"}).status_code == 404
    assert client.post("/co-proposals/999999/accept").status_code == 404
    assert_unchanged(before)
    auth.logout()

    auth.login(people.moderator)
    before = database_state()
    for url in (
        "/moderation/posts/999999",
        "/moderation/revisions/999999",
    ):
        assert client.get(url).status_code == 404
    for url in (
        "/moderation/posts/999999/approve",
        "/moderation/posts/999999/reject",
        "/moderation/posts/999999/hide",
        "/moderation/posts/999999/unhide",
        "/moderation/revisions/999999/approve",
        "/moderation/revisions/999999/reject",
        "/moderation/reports/999999/dismiss",
        "/moderation/reports/999999/hide",
        "/moderation/revisions/1/publish",
    ):
        assert client.post(url, data={"reason": "理由"}).status_code == 404, url
    assert_unchanged(before)


def test_moderation_pages_are_404_to_members(client, auth, people, make_post):
    post = make_post(people.sakai, PostState.PENDING)
    auth.login(people.sakai)
    before = database_state()
    assert client.get("/moderation").status_code == 404
    assert client.get(f"/moderation/posts/{post.id}").status_code == 404
    assert client.post(f"/moderation/posts/{post.id}/approve").status_code == 404
    assert_unchanged(before)


# --- moves the post's state does not allow ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "state", "url", "data", "message"),
    [
        ("sakai", PostState.PUBLISHED, "submit", {}, "この投稿は審査に出せません。"),
        ("sakai", PostState.PENDING, "submit", {}, "この投稿は審査に出せません。"),
        ("sakai", PostState.DRAFT, "close", {"reason": "partnered"}, "この投稿は終了できません。"),
        ("sakai", PostState.CLOSED, "withdraw", {}, "この投稿は取り下げられません。"),
        ("sakai", PostState.PUBLISHED, "close", {"reason": "bored"}, "終了の理由を選んでください。"),
        ("kushiro", PostState.PUBLISHED, "close", {"reason": "partnered"}, "この投稿は終了できません。"),
        ("kushiro", PostState.PUBLISHED, "withdraw", {}, "この投稿は取り下げられません。"),
        ("sakai", PostState.DRAFT, "co-proposers", {"organization_code": SAKAI}, "自分の団体は招待できません。"),
        ("sakai", PostState.DRAFT, "co-proposers", {"organization_code": SHINAGAWA}, OTHER_SIDE),
        ("sakai", PostState.DRAFT, "co-proposers", {"organization_code": "abc"}, NO_SUCH_ORG),
        ("moderator", PostState.DRAFT, "approve", {}, not_now(PostState.DRAFT)),
        ("moderator", PostState.PUBLISHED, "approve", {}, not_now(PostState.PUBLISHED)),
        ("moderator", PostState.PUBLISHED, "reject", {"reason": "理由"}, not_now(PostState.PUBLISHED)),
        ("moderator", PostState.DRAFT, "hide", {"reason": "理由"}, not_now(PostState.DRAFT)),
        ("moderator", PostState.PUBLISHED, "unhide", {}, not_now(PostState.PUBLISHED)),
    ],
)
def test_moves_that_are_not_allowed(client, auth, people, make_post, actor, state, url, data, message):
    post = make_post(people.sakai, state)
    auth.login(getattr(people, actor))
    path = f"/moderation/posts/{post.id}/{url}" if actor == "moderator" else f"/posts/{post.id}/{url}"
    before = database_state()
    response = client.post(path, data=data)
    assert response.status_code == 302
    assert_unchanged(before)  # (reading the page afterwards may mark its notifications read)
    messages = flashes(client.get(response.headers["Location"]))
    assert message in messages


def test_a_moderator_decision_without_its_reason(client, auth, people, make_post):
    post = make_post(people.sakai, PostState.PENDING)
    auth.login(people.moderator)
    before = database_state()
    for decision in ("reject", "hide"):
        response = client.post(f"/moderation/posts/{post.id}/{decision}", data={"reason": "   "})
        assert response.status_code == 400
        assert_field_error(response, "reason", "理由を入力してください。")
    assert_unchanged(before)


def test_a_revision_decided_twice(client, auth, people, make_post):
    post = make_post(people.sakai)
    revision = services.update_post(people.sakai, post, post_input(title="修正"))
    services.approve_revision(people.moderator, revision, revision.version)
    db.session.commit()
    auth.login(people.moderator)
    before = database_state()
    response = client.post(f"/moderation/revisions/{revision.id}/reject", data={"reason": "やはり不可"})
    assert response.status_code == 302
    assert "この修正はすでに処理されています。" in flashes(client.get(response.headers["Location"]))
    assert_unchanged(before)


def test_a_report_resolved_twice(client, auth, people, make_post):
    post = make_post(people.sakai)
    report = report_post(people.kushiro, post, "宣伝です。")
    dismiss_report(people.moderator, report)
    db.session.commit()
    auth.login(people.moderator)
    before = database_state()
    response = client.post(f"/moderation/reports/{report.id}/hide", data={"reason": "やはり非公開"})
    assert_unchanged(before)  # (opening the queue afterwards reads the moderator's notifications about it)
    assert "この通報はすでに処理されています。" in flashes(client.get(response.headers["Location"]))


def test_reporting_a_draft_is_404(client, auth, people, make_post):
    post = make_post(people.sakai, PostState.DRAFT)
    auth.login(people.kushiro)
    before = database_state()
    assert client.post(f"/posts/{post.id}/report", data={"reason": "見えないはず"}).status_code == 404
    assert_unchanged(before)


# --- query strings ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "page=abc",
        "page=0",
        "page=99999999999999999999",
        "page=-1",
        "sort=id;DROP TABLE post",
        "q=" + "あ" * 500,
        "q=%25%5F%5C",
        "prefecture=999",
        "ward=abc",
        "ward=999999",
        "status[]=x",
        "category=%E2%80%AE",
    ],
)
def test_odd_query_strings_on_the_list(client, author, query):
    assert client.get(f"/posts?{query}").status_code == 200


@pytest.mark.parametrize("q", ["%00", "%E9%BB%84%00%E9%87%91"])
def test_a_nul_in_the_keyword_is_not_a_500(client, author, q):
    assert client.get(f"/posts?q={q}").status_code == 200


def test_a_nul_in_the_dismissal_note_is_refused(client, auth, people, make_post):
    post = make_post(people.sakai)
    report = report_post(people.kushiro, post, "宣伝です。")
    db.session.commit()
    auth.login(people.moderator)
    client.get("/moderation")  # opening the queue reads the moderator's notification about the report
    before = database_state()
    response = client.post(f"/moderation/reports/{report.id}/dismiss", data={"note": "確認済み\x00"})
    assert response.status_code == 302 and response.headers["Location"] == "/moderation"
    assert_unchanged(before)
    assert "メモの内容を確認してください。" in flashes(client.get("/moderation"))
    response = client.post(f"/moderation/reports/{report.id}/dismiss", data={"note": "確認済み"})
    assert response.status_code == 302
    assert fresh(report).state == ReportState.DISMISSED
