"""`bulletin demo`: the logins it prints work, the 2015 case is public, and running it twice changes nothing."""

from collections import Counter

from sqlalchemy import select

from bulletin.extensions import db
from bulletin.posts.models import Post, PostState
from bulletin.responses.models import Partnership
from tests.factories import count


def test_demo_world_is_believable_and_idempotent(app, client, auth):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "kanko@city.fukui-sakai.lg.jp" in result.output and "kouryu@city.shinagawa.lg.jp" in result.output
    counts = Counter(db.session.scalars(select(Post.state)))
    assert sum(counts.values()) >= 9
    assert {
        PostState.PUBLISHED,
        PostState.PENDING,
        PostState.REJECTED,
        PostState.DRAFT,
        PostState.CLOSED,
        PostState.EXPIRED,
    } <= set(counts)
    assert len({category for category in db.session.scalars(select(Post.category))}) >= 6

    case = db.session.scalar(select(Partnership).where(Partnership.published_at.is_not(None)))
    assert (
        case.venue == "しながわ水族館" and str(case.held_from) == "2015-11-18" and str(case.held_until) == "2015-11-23"
    )
    assert "黄金がに" in client.get("/cases").get_data(as_text=True)

    before = count(Post)
    assert runner.invoke(args=["demo"]).exit_code == 0
    assert count(Post) == before

    for email in ("kanko@city.fukui-sakai.lg.jp", "kouryu@city.shinagawa.lg.jp", "moderator@tokyo23.example.jp"):
        assert auth.login(email, "kogane-gani-2015").status_code == 302
        auth.logout()
