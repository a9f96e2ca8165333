"""`bulletin demo`: the logins it prints work, the 2015 case is public, and running it twice changes nothing."""

from collections import Counter

from sqlalchemy import select

from bulletin.core.text import today_in_japan
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


def test_no_demo_post_of_a_past_event_closes_after_it(app, client, auth):
    """A post's deadline falls before the period it asks for and before the event it led to; the 2015 case is dated
    in 2015 (平成27年) throughout, never with a deadline years after the event."""
    assert app.test_cli_runner().invoke(args=["demo"]).exit_code == 0
    today = today_in_japan()
    for post in db.session.scalars(select(Post).where(Post.deadline.is_not(None))):
        if post.desired_from and post.desired_from < today:
            assert post.deadline <= post.desired_from, post.title
        for partnership in db.session.scalars(select(Partnership).where(Partnership.post_id == post.id)):
            if partnership.held_from and partnership.held_from < today:
                assert post.deadline < partnership.held_from, post.title

    case = db.session.scalar(select(Partnership).where(Partnership.published_at.is_not(None)))
    post = case.post
    assert post.deadline.year == post.desired_from.year == post.published_at.year == 2015
    assert post.desired_from <= case.held_from and case.held_until <= post.desired_until
    assert case.published_at.year == 2015 and case.agreed_on.year == 2015
    auth.login("kouryu@city.shinagawa.lg.jp", "kogane-gani-2015")
    for url in (f"/posts/{post.id}", f"/cases/{case.id}"):
        page = client.get(url).get_data(as_text=True)
        assert "令和" not in page and "平成27年" in page, url
