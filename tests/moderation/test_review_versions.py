"""A moderator's decision holds only for what they were shown.

An author who edits what a moderator reviews makes a new version of it: of a pending post, or of the pending
revision of a published post.
"""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value

from bulletin.core.db import utcnow
from bulletin.extensions import db
from bulletin.posts import services
from bulletin.posts.models import Post, PostRevision, PostState
from tests.factories import post_input

EDITED_MEANWHILE = "編集している間に、この投稿は更新されました。最新の内容を確認してから、もう一度編集してください。"


def stored(model, identity):
    db.session.expire_all()
    return db.session.get(model, identity)


# --- a pending post ------------------------------------------------------------------------------------------------


@pytest.fixture
def pending(people, make_post) -> Post:
    return make_post(people.sakai, PostState.PENDING, title="審査に出したタイトル", body="審査に出した本文")


def test_an_edit_makes_a_new_version_and_saving_the_same_text_does_not(people, pending):
    first = pending.version
    services.update_post(people.sakai, pending, post_input(title="審査に出したタイトル", body="審査に出した本文"))
    assert pending.version == first  # nothing the moderator reads changed
    services.update_post(people.sakai, pending, post_input(title="審査に出したタイトル", body="直した本文"))
    assert pending.version == first + 1


def test_an_edit_of_a_post_decided_since_it_was_read_is_refused(people, pending):
    db.session.execute(
        update(Post).where(Post.id == pending.id).values(state=PostState.PUBLISHED, published_at=utcnow())
    )
    db.session.commit()
    set_committed_value(pending, "state", PostState.PENDING)  # as the author's request read it, before the decision
    with pytest.raises(services.PostError) as refused:
        services.update_post(people.sakai, pending, post_input(title="公開の後に届いた修正"))
    assert refused.value.message == EDITED_MEANWHILE
    db.session.rollback()
    post = stored(Post, pending.id)
    assert (post.state, post.title) == (PostState.PUBLISHED, "審査に出したタイトル")


# --- a pending revision of a published post -----------------------------------------------------------------------


@pytest.fixture
def revision(people, make_post) -> PostRevision:
    post = make_post(people.sakai, title="公開中のタイトル", body="公開中の本文")
    proposed = services.update_post(people.sakai, post, post_input(title="修正したタイトル", body="修正した本文"))
    db.session.commit()
    return proposed


def test_each_edit_of_a_pending_revision_makes_a_new_version(people, revision):
    first = revision.version
    post = stored(Post, revision.post_id)
    again = services.update_post(people.sakai, post, post_input(title="修正したタイトル", body="修正した本文"))
    assert again.id == revision.id and again.version == first  # the same text: the same version
    again = services.update_post(people.sakai, post, post_input(title="修正したタイトル", body="もう一度"))
    assert again.id == revision.id and again.version == first + 1
