"""A moderator's decision holds only for what they were shown.

Each approve and return form of the moderation pages carries what its page showed: the version of a pending post or
revision, or a fingerprint of a registration's details. When the author edits (or the registration changes) while
the moderator reads, a decision on what was shown is refused, nothing changes (no log line, no notification), and
the moderator is shown the current version to decide on. The log names what was decided.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from bulletin.accounts.models import User, UserState
from bulletin.core.audit import ModerationDecision
from bulletin.core.db import utcnow
from bulletin.core.errors import DomainError
from bulletin.extensions import db
from bulletin.posts import services
from bulletin.posts.models import Post, PostRevision, PostState, RevisionState
from tests.constants import SAKAI
from tests.factories import (
    assert_unchanged,
    database_state,
    flashes,
    form_data,
    hidden_value,
    new_client,
    page_of,
    post_input,
    text_of,
)

CHANGED_WHILE_REVIEWED = "審査中に投稿者が内容を更新しました。最新の内容を確認してから判断してください。"
REGISTRATION_CHANGED = "審査中に登録内容が変わりました。最新の内容を確認してから判断してください。"
VERSION_UNKNOWN = "どの版を確認したかが分からないため、判断できません。審査の画面を開き直してください。"
REGISTRATION_UNKNOWN = "どの登録内容を確認したかが分からないため、判断できません。承認待ちの画面を開き直してください。"
EDITED_MEANWHILE = "編集している間に、この投稿は更新されました。最新の内容を確認してから、もう一度編集してください。"
REASON = "日程を具体的に書いてください。"


def log_lines(subject_type: str, subject_id: int) -> list[ModerationDecision]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(ModerationDecision)
            .where(ModerationDecision.subject_type == subject_type, ModerationDecision.subject_id == subject_id)
            .order_by(ModerationDecision.id)
        )
    )


def stored(model, identity):
    db.session.expire_all()
    return db.session.get(model, identity)


def decision_data(decision: str, version: str | None) -> dict:
    data = {"reason": REASON} if decision == "reject" else {}
    if version is not None:
        data["version"] = version
    return data


# --- a pending post ------------------------------------------------------------------------------------------------


@pytest.fixture
def pending(people, make_post) -> Post:
    return make_post(people.sakai, PostState.PENDING, title="審査に出したタイトル", body="審査に出した本文")


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_decision_on_a_pending_post_the_author_edited_since_is_refused(app, people, pending, decision):
    moderator, author = new_client(app, people.moderator), new_client(app, people.sakai)
    review = f"/moderation/posts/{pending.id}"
    seen = hidden_value(moderator.get(review), f"{review}/{decision}", "version")

    edited = author.post(f"/posts/{pending.id}/edit", data=form_data(title="差し替えたタイトル", body="差し替えた本文"))
    assert edited.status_code == 302
    before = database_state()
    response = moderator.post(f"{review}/{decision}", data=decision_data(decision, seen))

    assert_unchanged(before)  # the post, the log, the notifications and the outbox
    post = stored(Post, pending.id)
    assert (post.state, post.title) == (PostState.PENDING, "差し替えたタイトル")
    page = moderator.get(response.headers["Location"]) if response.status_code == 302 else response
    assert response.status_code in (302, 409)
    shown = text_of(page)
    assert CHANGED_WHILE_REVIEWED in shown
    assert "差し替えた本文" in shown  # the new version, to decide on
    current = hidden_value(moderator.get(review), f"{review}/{decision}", "version")
    assert current != seen

    response = moderator.post(f"{review}/{decision}", data=decision_data(decision, current))
    assert response.status_code == 302 and response.headers["Location"] == "/moderation"
    post = stored(Post, pending.id)
    assert post.state == (PostState.PUBLISHED if decision == "approve" else PostState.REJECTED)
    assert post.title == "差し替えたタイトル"
    line = log_lines("post", pending.id)[-1]
    assert line.action == f"{decision}_post"
    assert line.subject_label == "差し替えたタイトル"
    assert line.details["version"] == int(current) == post.version
    assert f"第{current}版" in text_of(moderator.get("/moderation/log"))


def test_the_returned_form_keeps_the_reason_when_the_post_changed(app, people, pending):
    moderator, author = new_client(app, people.moderator), new_client(app, people.sakai)
    review = f"/moderation/posts/{pending.id}"
    seen = hidden_value(moderator.get(review), f"{review}/reject", "version")
    author.post(f"/posts/{pending.id}/edit", data=form_data(title="差し替えたタイトル"))

    response = moderator.post(f"{review}/reject", data={"reason": REASON, "version": seen})

    assert response.status_code == 409
    assert CHANGED_WHILE_REVIEWED in text_of(response)
    assert page_of(response).by_id("reason").text.strip() == REASON
    assert hidden_value(response, f"{review}/reject", "version") == str(stored(Post, pending.id).version)


@pytest.mark.parametrize("decision", ["approve", "reject"])
@pytest.mark.parametrize("version", [None, "", "abc", "-1", "99999999999999999999999"])
def test_a_decision_on_a_post_without_the_version_seen_changes_nothing(
    client, auth, people, pending, decision, version
):
    auth.login(people.moderator)
    before = database_state()
    response = client.post(f"/moderation/posts/{pending.id}/{decision}", data=decision_data(decision, version))
    assert_unchanged(before)
    assert response.status_code in (302, 409)
    page = client.get(response.headers["Location"]) if response.status_code == 302 else response
    assert VERSION_UNKNOWN in text_of(page) or CHANGED_WHILE_REVIEWED in text_of(page)


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


def test_the_services_refuse_a_version_that_is_not_current(people, pending):
    seen = pending.version
    services.update_post(people.sakai, pending, post_input(title="差し替えたタイトル"))
    db.session.commit()
    log_before = len(log_lines("post", pending.id))
    for decide in (
        lambda: services.approve_post(people.moderator, pending, seen),
        lambda: services.reject_post(people.moderator, pending, seen, REASON),
        lambda: services.approve_post(people.moderator, pending, None),
    ):
        with pytest.raises(DomainError) as refused:
            decide()
        assert refused.value.message in (CHANGED_WHILE_REVIEWED, VERSION_UNKNOWN)
        db.session.rollback()
    assert stored(Post, pending.id).state == PostState.PENDING
    assert len(log_lines("post", pending.id)) == log_before


# --- a pending revision of a published post -----------------------------------------------------------------------


@pytest.fixture
def revision(people, make_post) -> PostRevision:
    post = make_post(people.sakai, title="公開中のタイトル", body="公開中の本文")
    proposed = services.update_post(people.sakai, post, post_input(title="修正したタイトル", body="修正した本文"))
    db.session.commit()
    return proposed


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_decision_on_a_revision_the_author_edited_since_is_refused(app, people, revision, decision):
    moderator, author = new_client(app, people.moderator), new_client(app, people.sakai)
    post_id = revision.post_id
    published_version = stored(Post, post_id).version
    review = f"/moderation/revisions/{revision.id}"
    seen = hidden_value(moderator.get(review), f"{review}/{decision}", "version")

    edited = author.post(f"/posts/{post_id}/edit", data=form_data(title="公開中のタイトル", body="二度目の修正"))
    assert edited.status_code == 302
    before = database_state()
    response = moderator.post(f"{review}/{decision}", data=decision_data(decision, seen))

    assert_unchanged(before)
    post = stored(Post, post_id)
    assert (post.title, post.body) == ("公開中のタイトル", "公開中の本文")
    assert stored(PostRevision, revision.id).state == RevisionState.PENDING
    page = moderator.get(response.headers["Location"]) if response.status_code == 302 else response
    assert response.status_code in (302, 409)
    assert CHANGED_WHILE_REVIEWED in text_of(page), text_of(page)
    assert "二度目" in text_of(page)
    current = hidden_value(moderator.get(review), f"{review}/{decision}", "version")
    assert current != seen

    response = moderator.post(f"{review}/{decision}", data=decision_data(decision, current))
    assert response.status_code == 302 and response.headers["Location"] == "/moderation"
    decided = stored(PostRevision, revision.id)
    assert decided.state == (RevisionState.APPROVED if decision == "approve" else RevisionState.REJECTED)
    post = stored(Post, post_id)
    if decision == "approve":  # the published text is a new version of the post
        assert (post.body, post.version) == ("二度目の修正", published_version + 1)
    else:
        assert (post.body, post.version) == ("公開中の本文", published_version)
    line = log_lines("post", post_id)[-1]
    assert line.action == f"{decision}_revision"
    assert (line.details["revision_id"], line.details["version"]) == (revision.id, int(current))
    assert int(current) == decided.version


@pytest.mark.parametrize("decision", ["approve", "reject"])
@pytest.mark.parametrize("version", [None, "", "x1"])
def test_a_decision_on_a_revision_without_the_version_seen_changes_nothing(
    client, auth, people, revision, decision, version
):
    auth.login(people.moderator)
    before = database_state()
    response = client.post(f"/moderation/revisions/{revision.id}/{decision}", data=decision_data(decision, version))
    assert_unchanged(before)
    assert response.status_code in (302, 409)
    page = client.get(response.headers["Location"]) if response.status_code == 302 else response
    assert VERSION_UNKNOWN in text_of(page)


def test_each_edit_of_a_pending_revision_makes_a_new_version(people, revision):
    first = revision.version
    post = stored(Post, revision.post_id)
    again = services.update_post(people.sakai, post, post_input(title="修正したタイトル", body="修正した本文"))
    assert again.id == revision.id and again.version == first  # the same text: the same version
    again = services.update_post(people.sakai, post, post_input(title="修正したタイトル", body="もう一度"))
    assert again.id == revision.id and again.version == first + 1


# --- a registration -----------------------------------------------------------------------------------------------


@pytest.fixture
def applicant(create_user) -> User:
    return create_user(SAKAI, state=UserState.PENDING, email="applicant@city.fukui-sakai.lg.jp", name="坂井 申請")


def change_registration(user_id: int, **values) -> None:
    """Change a registration behind the pages' back: nothing lets a pending applicant do it today."""
    db.session.execute(update(User).where(User.id == user_id).values(**values))
    db.session.commit()


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_decision_on_a_registration_whose_details_changed_is_refused(app, people, applicant, decision):
    moderator = new_client(app, people.moderator)
    action = f"/moderation/users/{applicant.id}/{decision}"
    page = moderator.get("/moderation") if decision == "approve" else moderator.get(action)
    seen = hidden_value(page, action, "fingerprint")

    change_registration(applicant.id, name="別の 名前", department="総務課")
    before = database_state()
    data = {"fingerprint": seen, **({"reason": "確認できませんでした。"} if decision == "reject" else {})}
    response = moderator.post(action, data=data)

    assert_unchanged(before)
    assert stored(User, applicant.id).state == UserState.PENDING
    page = moderator.get(response.headers["Location"]) if response.status_code == 302 else response
    assert REGISTRATION_CHANGED in text_of(page) and "別の 名前" in text_of(page)
    current = hidden_value(
        moderator.get("/moderation") if decision == "approve" else moderator.get(action), action, "fingerprint"
    )
    assert current != seen

    response = moderator.post(action, data={**data, "fingerprint": current})
    assert response.status_code == 302 and response.headers["Location"] == "/moderation"
    assert stored(User, applicant.id).state == (UserState.ACTIVE if decision == "approve" else UserState.REJECTED)
    line = log_lines("user", applicant.id)[-1]
    assert line.action == f"{decision}_user"
    assert line.details["fingerprint"] == current
    assert "別の 名前" in line.subject_label


@pytest.mark.parametrize("field", ["email", "name", "department", "phone"])
def test_every_detail_shown_is_part_of_the_fingerprint(app, people, applicant, field):
    moderator = new_client(app, people.moderator)
    action = f"/moderation/users/{applicant.id}/approve"
    seen = hidden_value(moderator.get("/moderation"), action, "fingerprint")
    change_registration(applicant.id, **{field: "changed@city.fukui-sakai.lg.jp" if field == "email" else "変更"})
    before = database_state()
    response = moderator.post(action, data={"fingerprint": seen})
    assert REGISTRATION_CHANGED in flashes(moderator.get(response.headers["Location"]))
    assert_unchanged(before)


@pytest.mark.parametrize("decision", ["approve", "reject"])
@pytest.mark.parametrize("fingerprint", [None, "", "0" * 64])
def test_a_decision_on_a_registration_without_the_fingerprint_seen_changes_nothing(
    client, auth, people, applicant, decision, fingerprint
):
    auth.login(people.moderator)
    before = database_state()
    data = {} if fingerprint is None else {"fingerprint": fingerprint}
    if decision == "reject":
        data["reason"] = "確認できませんでした。"
    response = client.post(f"/moderation/users/{applicant.id}/{decision}", data=data)
    assert_unchanged(before)
    assert response.status_code in (302, 409)
    page = client.get(response.headers["Location"]) if response.status_code == 302 else response
    assert (REGISTRATION_UNKNOWN if not fingerprint else REGISTRATION_CHANGED) in text_of(page)
