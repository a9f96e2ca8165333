"""The proposal's path through the real pages: draft with a PDF, submit, return for revision, resubmit, publish,
found by a ward officer."""

import io

from sqlalchemy import select

from bulletin.core.audit import ModerationDecision
from bulletin.extensions import db
from bulletin.posts.models import Post, PostState
from tests.constants import PDF, SAKAI, SHINAGAWA
from tests.factories import form_data, hidden_value, text_of

BODY = "## 内容\n\n- 試食\n- 漁師のトーク\n\n[坂井市](https://www.city.fukui-sakai.lg.jp/)"


def test_proposal_from_draft_to_publication(client, auth, create_user, moderator):
    officer = create_user(SAKAI)
    ward_officer = create_user(SHINAGAWA)
    auth.login(officer)
    data = form_data(body=BODY)
    data["attachments"] = (io.BytesIO(PDF), "企画書.pdf")
    response = client.post("/posts/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    post = db.session.scalar(select(Post).where(Post.title == data["title"]))
    assert post.state == PostState.DRAFT and len(post.attachments) == 1
    assert "<h3>内容</h3>" in post.body_html and 'rel="noopener noreferrer nofollow"' in post.body_html

    assert client.post(f"/posts/{post.id}/submit").status_code == 302
    db.session.refresh(post)
    assert post.state == PostState.PENDING
    auth.logout()

    auth.login(ward_officer)
    assert client.get(f"/posts/{post.id}").status_code == 404  # not yet public
    auth.logout()

    auth.login(moderator)
    queue = client.get("/moderation").get_data(as_text=True)
    assert data["title"] in queue
    reject = f"/moderation/posts/{post.id}/reject"
    returned = hidden_value(client.get(f"/moderation/posts/{post.id}"), reject, "version")
    response = client.post(reject, data={"reason": "日程を具体的に書いてください。", "version": returned})
    assert response.status_code == 302
    auth.logout()

    auth.login(officer)
    page = client.get(f"/posts/{post.id}/edit").get_data(as_text=True)
    assert "日程を具体的に書いてください。" in page
    response = client.post(
        f"/posts/{post.id}/edit",
        data=form_data(body=BODY, summary="11月18日から23日、しながわ水族館で。", action="submit"),
    )
    assert response.status_code == 302
    db.session.refresh(post)
    assert post.state == PostState.PENDING
    auth.logout()

    auth.login(moderator)
    review = client.get(f"/moderation/posts/{post.id}")
    assert "<ins>" in text_of(review) and "<del>" in text_of(review)
    approve = f"/moderation/posts/{post.id}/approve"
    approved = hidden_value(review, approve, "version")
    assert int(approved) > int(returned)  # the author's edit after the return is a new version
    assert client.post(approve, data={"version": approved}).status_code == 302
    db.session.refresh(post)
    assert post.state == PostState.PUBLISHED and post.published_at is not None
    actions = list(
        db.session.scalars(
            select(ModerationDecision.action).where(
                ModerationDecision.subject_id == post.id, ModerationDecision.subject_type == "post"
            )
        )
    )
    assert actions == ["reject_post", "approve_post"]
    auth.logout()

    auth.login(ward_officer)
    listing = client.get("/posts?q=ｵｳｺﾞﾝ").get_data(as_text=True)  # half-width katakana query
    assert data["title"] not in listing  # 黄金 is kanji: no reading search, the kanji works
    listing = client.get("/posts?q=黄金がに").get_data(as_text=True)
    assert data["title"] in listing
    page = client.get(f"/posts/{post.id}")
    assert page.status_code == 200 and "企画書.pdf" in page.get_data(as_text=True)
    attachment = post.attachments[0]
    with client.get(f"/posts/{post.id}/attachments/{attachment.id}") as response:
        assert response.status_code == 200 and response.data == PDF
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Disposition"].startswith("attachment")
