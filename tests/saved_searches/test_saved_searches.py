"""Saved searches (/searches, issue 11 item 3): a member saves the post list's search by name, renames it, chooses how
its new posts are told and deletes it; only its owner ever sees it. A newly published post that matches is told to
the owner exactly once per saved search, by the saved search's delivery, and only if the owner may read it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bulletin.core import signals
from bulletin.extensions import db
from bulletin.notifications import services as notifications
from bulletin.notifications.models import DeliveryMode, Notification, OutboxMessage
from bulletin.organizations.models import Membership
from bulletin.posts import services as posts
from bulletin.saved_searches import services as saved_searches
from bulletin.saved_searches.models import SavedSearch, SavedSearchMatch
from tests.factories import count, flashes_after, post_input, text_of

KIND = "saved_search_matched"


def saved(user, name: str = "かにの提案", query: str = "q=黄金がに", delivery=DeliveryMode.IMMEDIATE) -> SavedSearch:
    search = SavedSearch(user_id=user.id, name=name, query=query, delivery=delivery)
    db.session.add(search)
    db.session.commit()
    return search


def told(user) -> tuple[list[Notification], list[OutboxMessage]]:
    """The user's notices of saved searches in the app, and the mails of them."""
    notices = list(
        db.session.scalars(select(Notification).where(Notification.user_id == user.id, Notification.kind == KIND))
    )
    mails = list(
        db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.recipient == user.email, OutboxMessage.kind == KIND)
        )
    )
    return notices, mails


# --- the pages --------------------------------------------------------------------------------------------------------


def test_the_list_saves_its_current_filters_by_name(client, auth, people):
    auth.login(people.shinagawa)
    page = client.get("/posts?q=黄金がに&category=products&sort=deadline&page=2")
    assert "この条件を保存" in text_of(page)

    response = client.post(
        "/searches",
        data={"name": "かにの物産", "q": "黄金がに", "category": "products", "sort": "deadline", "page": "2"},
    )

    assert response.status_code == 302
    assert "/posts?" in response.location
    search = db.session.scalar(select(SavedSearch).where(SavedSearch.user_id == people.shinagawa.id))
    assert (search.name, search.delivery) == ("かにの物産", DeliveryMode.IMMEDIATE)
    assert saved_searches.filters_of(search).as_args() == {"q": "黄金がに", "category": "products"}
    listed = text_of(client.get("/searches"))
    assert "かにの物産" in listed and "キーワード: 黄金がに" in listed


def test_the_period_deadline_attachment_and_ward_filters_are_kept_and_told_in_words(client, auth, people):
    auth.login(people.shinagawa)
    args = {
        "desired_from": "2026-11-01", "desired_to": "2026-11-30", "deadline_within": "14", "has_attachments": "1",
        "for_my_ward": "1",
    }  # fmt: skip

    client.post("/searches", data={"name": "11月の催し"} | args)

    search = db.session.scalar(select(SavedSearch))
    kept = saved_searches.filters_of(search)
    assert (kept.desired_from, kept.desired_to, kept.deadline_within) == ("2026-11-01", "2026-11-30", 14)
    assert kept.has_attachments and kept.for_my_ward
    listed = text_of(client.get("/searches"))
    for words in ("希望時期: 2026-11-01〜2026-11-30", "締切まで14日以内", "添付資料あり", "自区あての提案"):
        assert words in listed


def test_control_characters_in_the_keywords_are_not_kept(client, auth, people):
    auth.login(people.shinagawa)

    client.post("/searches", data={"name": "かに", "q": "黄金\x00がに\u200b"})

    assert db.session.scalar(select(SavedSearch.query)) == "q=%E9%BB%84%E9%87%91%E3%81%8C%E3%81%AB"


@pytest.mark.parametrize(("name", "message"), [("", "名前"), ("かにの物産", "同じ名前")])
def test_a_missing_or_taken_name_is_refused_and_saves_nothing(client, auth, people, name, message):
    saved(people.shinagawa, name="かにの物産")
    auth.login(people.shinagawa)

    response = client.post("/searches", data={"name": name, "q": "黄金がに"})

    assert any(message in line for line in flashes_after(client, response))
    assert count(SavedSearch) == 1


def test_a_member_keeps_at_most_twenty_saved_searches(client, auth, people):
    for number in range(saved_searches.MAX_PER_USER):
        saved(people.shinagawa, name=f"検索 {number}")
    auth.login(people.shinagawa)

    response = client.post("/searches", data={"name": "もう一つ", "q": "かに"})

    assert any("20件まで" in line for line in flashes_after(client, response))
    assert count(SavedSearch) == saved_searches.MAX_PER_USER


def test_the_owner_renames_a_saved_search_and_chooses_its_delivery(client, auth, people):
    search = saved(people.shinagawa)
    auth.login(people.shinagawa)

    response = client.post(
        f"/searches/{search.id}", data={f"s{search.id}-name": "新しい名前", f"s{search.id}-delivery": "digest"}
    )

    assert response.status_code == 302
    db.session.refresh(search)
    assert (search.name, search.delivery) == ("新しい名前", DeliveryMode.DIGEST)


def test_a_bad_rename_is_shown_on_its_form_and_changes_nothing(client, auth, people):
    search = saved(people.shinagawa)
    saved(people.shinagawa, name="ほかの検索")
    auth.login(people.shinagawa)

    response = client.post(
        f"/searches/{search.id}", data={f"s{search.id}-name": "ほかの検索", f"s{search.id}-delivery": "off"}
    )

    assert response.status_code == 422
    assert "同じ名前" in text_of(response)
    db.session.refresh(search)
    assert (search.name, search.delivery) == ("かにの提案", DeliveryMode.IMMEDIATE)


def test_the_owner_deletes_a_saved_search(client, auth, people):
    search = saved(people.shinagawa)
    auth.login(people.shinagawa)

    response = client.post(f"/searches/{search.id}/delete")

    assert response.status_code == 302
    assert count(SavedSearch) == 0


@pytest.mark.parametrize("path", ["/searches/{id}", "/searches/{id}/delete"])
def test_another_members_saved_search_is_not_found(client, auth, people, path):
    search = saved(people.chiyoda, name="千代田の検索")
    auth.login(people.shinagawa)

    response = client.post(
        path.format(id=search.id), data={f"s{search.id}-name": "乗っ取り", f"s{search.id}-delivery": "off"}
    )

    assert response.status_code == 404
    assert "千代田の検索" not in text_of(client.get("/searches"))
    db.session.refresh(search)
    assert search.name == "千代田の検索"


# --- the notices ------------------------------------------------------------------------------------------------------


def test_a_matching_new_post_is_told_once_by_mail(app, people, make_post):
    saved(people.shinagawa)

    post = make_post(people.sakai, title="黄金がにのPR")

    notices, mails = told(people.shinagawa)
    assert len(notices) == 1 and len(mails) == 1
    assert notices[0].params["search"] == "かにの提案" and not notices[0].digest_pending
    assert "保存した検索「かにの提案」に合う" in mails[0].subject
    assert "/searches" in mails[0].body
    assert db.session.scalar(select(SavedSearchMatch.post_id)) == post.id


def test_publishing_again_or_approving_a_revision_never_tells_twice(app, people, make_post):
    saved(people.shinagawa)
    post = make_post(people.sakai, title="黄金がにのPR")

    signals.post_approved.send(people.moderator, post=post, moderator=people.moderator)  # a retry of the event
    revision = posts.update_post(people.sakai, post, post_input(title="黄金がにのPR（日程追記）"))
    posts.approve_revision(people.moderator, revision, revision.version)
    db.session.commit()

    notices, mails = told(people.shinagawa)
    assert (len(notices), len(mails)) == (1, 1)
    assert count(SavedSearchMatch) == 1


@pytest.mark.parametrize(("delivery", "in_digest"), [(DeliveryMode.DIGEST, True), (DeliveryMode.OFF, False)])
def test_a_saved_search_tells_by_its_own_delivery(app, people, make_post, delivery, in_digest):
    saved(people.shinagawa, delivery=delivery)

    make_post(people.sakai, title="黄金がにのPR")

    notices, mails = told(people.shinagawa)
    assert len(notices) == 1 and notices[0].digest_pending is in_digest
    assert mails == []


def test_the_unsubscribe_link_of_its_mail_stops_the_mail_until_e_mail_is_chosen_again(app, people, make_post):
    search = saved(people.shinagawa)
    notifications.set_preferences(people.shinagawa, {KIND: DeliveryMode.OFF})  # what the mail's link does
    db.session.commit()

    make_post(people.sakai, title="黄金がにのPR")

    notices, mails = told(people.shinagawa)
    assert len(notices) == 1 and not notices[0].digest_pending
    assert mails == []

    saved_searches.update_search(people.shinagawa, search, search.name, DeliveryMode.IMMEDIATE)  # at /searches
    db.session.commit()
    make_post(people.sakai, title="黄金がにの試食会")

    assert len(told(people.shinagawa)[1]) == 1


def test_only_posts_that_match_every_filter_are_told(app, people, make_post):
    saved(people.shinagawa, name="観光", query="q=黄金がに&category=tourism")
    saved(people.chiyoda, name="ガニ", query="q=ｶﾞﾆ")

    make_post(people.sakai, title="黄金がにのPR", category="products")

    assert told(people.shinagawa) == ([], [])
    assert len(told(people.chiyoda)[0]) == 1  # folded like the list: half-width ｶﾞﾆ finds 黄金がに


def test_a_post_its_owner_may_not_read_never_matches(app, people, make_post):
    saved(people.chiyoda)
    saved(people.sakai_colleague, name="自団体")  # the post's own organization is not told of its own post
    people.chiyoda.organization.membership = Membership.SUSPENDED
    db.session.commit()

    make_post(people.sakai, title="黄金がにのPR")

    assert told(people.chiyoda) == ([], [])
    assert told(people.sakai_colleague) == ([], [])
    assert count(SavedSearchMatch) == 0
