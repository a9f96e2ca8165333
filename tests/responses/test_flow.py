"""From a published proposal to a public case through the real pages: 品川区 responds, 坂井市 replies and
accepts, 品川区 records the outcome, both consent, the moderator publishes, a visitor reads the case."""

import io

from sqlalchemy import select

from bulletin.extensions import db
from bulletin.posts.models import PostState
from bulletin.posts.services import PostInput, approve_post, create_post
from bulletin.responses.models import Message, Partnership, Response, ResponseState
from tests.constants import CONFIRMED, SAKAI, SHINAGAWA
from tests.factories import count, image_bytes, new_client


def test_from_response_to_public_case(app, client, auth, create_user, moderator):
    sakai = create_user(SAKAI, name="坂井 花子")
    shinagawa = create_user(SHINAGAWA, name="品川 太郎")
    post = create_post(
        sakai, PostInput(kind="proposal", title="黄金がにのPR", summary="試食とPR", category="products"), submit=True
    )
    approve_post(moderator, post, post.version)
    db.session.commit()

    auth.login(shinagawa)
    assert "この投稿に応答する" in client.get(f"/posts/{post.id}").get_data(as_text=True)
    response = client.post(
        f"/posts/{post.id}/respond", data={"kind": "interest", "message": "しながわ水族館でいかがでしょう。"}
    )
    assert response.status_code == 302
    answer = db.session.scalar(select(Response).where(Response.post_id == post.id))
    conversation = answer.conversation
    assert response.headers["Location"].endswith(f"/conversations/{conversation.id}")
    again = client.post(f"/posts/{post.id}/respond", data={"kind": "question", "message": "もう一度"})
    assert again.status_code == 302  # sent to the existing conversation, nothing new
    assert count(Response) == 1
    auth.logout()

    auth.login(sakai)
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert "黄金がにのPR" in dashboard and "1件" in dashboard  # one unread message
    page = client.get(f"/conversations/{conversation.id}").get_data(as_text=True)
    assert "しながわ水族館でいかがでしょう。" in page and "ここから未読" in page
    assert "ここから未読" not in client.get(f"/conversations/{conversation.id}").get_data(as_text=True)
    client.post(f"/conversations/{conversation.id}", data={"message": "ぜひお願いします。"})
    assert client.post(f"/conversations/{conversation.id}", data={"message": "   "}).status_code == 400
    assert count(Message) == 2
    assert client.post(f"/responses/{answer.id}/accept", data=CONFIRMED).status_code == 302
    assert client.post(f"/responses/{answer.id}/accept", data=CONFIRMED).status_code == 302  # a double click
    assert count(Partnership) == 1
    partnership = db.session.scalar(select(Partnership))
    db.session.refresh(answer)
    assert answer.state == ResponseState.ACCEPTED
    auth.logout()

    stranger = new_client(app)
    assert stranger.get(f"/conversations/{conversation.id}").status_code == 302  # to login
    assert stranger.get(f"/partnerships/{partnership.id}").status_code == 302
    assert stranger.get(f"/cases/{partnership.id}").status_code == 404

    auth.login(shinagawa)
    outcome = {
        "title": "しながわ水族館で黄金がにPR",
        "held_from": "2015-11-18",
        "held_until": "2015-11-23",
        "venue": "しながわ水族館",
        "summary": "坂井市の黄金がにを紹介した。",
        "photos": (io.BytesIO(image_bytes("JPEG")), "水槽.jpg"),
    }
    response = client.post(f"/partnerships/{partnership.id}", data=outcome, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    assert client.post(f"/partnerships/{partnership.id}/consent").status_code == 302
    auth.logout()
    auth.login(sakai)
    assert client.post(f"/partnerships/{partnership.id}/consent").status_code == 302
    auth.logout()
    db.session.refresh(partnership)
    assert partnership.has_both_consents and partnership.published_at is None

    auth.login(moderator)
    assert "しながわ水族館で黄金がにPR" in client.get("/moderation").get_data(as_text=True)
    assert client.post(f"/partnerships/{partnership.id}/publish", data=CONFIRMED).status_code == 302
    auth.logout()
    db.session.refresh(partnership)
    assert partnership.is_case()

    cases = stranger.get("/cases").get_data(as_text=True)
    assert "しながわ水族館で黄金がにPR" in cases
    case = stranger.get(f"/cases/{partnership.id}").get_data(as_text=True)
    assert "福井県 坂井市" in case and "東京都 品川区" in case and "2015-11-18" in case
    db.session.refresh(partnership)
    with stranger.get(f"/partnerships/{partnership.id}/photos/{partnership.photos[0].id}") as image:
        assert image.status_code == 200 and image.mimetype == "image/jpeg"
    db.session.refresh(conversation)
    assert conversation.message_count == 2
    assert post.state == PostState.PUBLISHED
