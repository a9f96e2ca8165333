"""おすすめ (issue 11 item 4): each rule of bulletin/posts/recommendations.py with the reason it gives, the strongest
reason winning, what is never recommended, and a cost that stays at two queries whatever the data."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bulletin.extensions import db
from bulletin.notifications import services as notifications
from bulletin.notifications.models import DeliveryMode
from bulletin.organizations.models import Organization
from bulletin.posts.models import PostState
from bulletin.posts.recommendations import recommendations_for
from bulletin.responses import services as responses
from bulletin.responses.models import ResponseKind
from bulletin.saved_searches.models import SavedSearch
from tests.constants import SHINAGAWA
from tests.factories import in_days, text_of


def reasons(user) -> dict[str, str]:
    """Title -> reason of what the user is recommended."""
    return {item.post.title: str(item.reason) for item in recommendations_for(user)}


def partnered(ward_user, author, make_post, **fields):
    """A proposal of `author` that the ward answered and the author accepted: a past partnership."""
    post = make_post(author, title="過去の連携", **fields)
    answer = responses.respond(ward_user, post, ResponseKind.OFFER, "ぜひ一緒に。")
    responses.accept_response(author, answer)
    db.session.commit()
    return post


def test_a_proposal_targeting_the_ward_says_so(people, make_post):
    make_post(people.sakai, title="品川区へ", target_ward_codes=[SHINAGAWA])
    make_post(people.sakai, title="23区すべてへ")

    assert reasons(people.shinagawa) == {"品川区へ": "品川区を対象にした提案です"}


def test_a_proposal_a_saved_search_matched_names_the_search(people, make_post):
    db.session.add(SavedSearch(user_id=people.shinagawa.id, name="かにの提案", query="q=黄金がに"))
    db.session.commit()

    make_post(people.sakai, title="黄金がにのPR")

    assert reasons(people.shinagawa) == {"黄金がにのPR": "保存した検索『かにの提案』に合います"}


def test_followed_categories_and_prefectures_say_which(people, make_post):
    notifications.set_follows(people.shinagawa, False, {"tourism"}, {"01"})
    db.session.commit()

    make_post(people.sakai, title="観光PR", category="tourism")
    make_post(people.kushiro, title="釧路の物産", category="products")
    make_post(people.sakai, title="坂井の物産", category="products")

    assert reasons(people.shinagawa) == {
        "観光PR": "フォローしている分野（観光・PR）の提案です",
        "釧路の物産": "フォローしている北海道の団体からの提案です",
    }


def test_past_partnerships_recommend_their_prefecture_and_their_category(people, make_post):
    partnered(people.shinagawa, people.kushiro, make_post, category="products")

    make_post(people.kushiro, title="釧路の観光", category="tourism")
    make_post(people.sakai, title="坂井の物産", category="products")
    make_post(people.sakai, title="坂井の観光", category="tourism")

    assert reasons(people.shinagawa) == {
        "釧路の観光": "過去に連携した北海道の団体からの提案です",
        "坂井の物産": "過去の連携と同じ分野（物産・マルシェ）です",
    }


def test_a_partnered_association_recommends_the_members_of_its_agreement(people, make_post, create_user):
    code = db.session.scalar(select(Organization.code).where(Organization.name == "北海道町村会"))
    association = create_user(code, email="staff@hokkaido-choson.example.jp")
    partnered(people.shinagawa, association, make_post, category="sports")

    make_post(people.kushiro, title="釧路の観光", category="tourism")

    assert reasons(people.shinagawa) == {"釧路の観光": "過去に連携した北海道町村会の協定の団体からの提案です"}


def test_the_strongest_reason_is_the_one_given(people, make_post):
    notifications.set_follows(people.shinagawa, False, {"products"}, set())
    db.session.commit()

    make_post(people.sakai, title="品川区へ", category="products", target_ward_codes=[SHINAGAWA])

    assert reasons(people.shinagawa) == {"品川区へ": "品川区を対象にした提案です"}


def test_answered_closed_and_past_deadline_proposals_are_never_recommended(people, make_post):
    answered = make_post(people.sakai, title="応答済み", target_ward_codes=[SHINAGAWA])
    responses.respond(people.shinagawa, answered, ResponseKind.INTEREST, "関心があります。")
    make_post(people.sakai, PostState.CLOSED, title="終了", target_ward_codes=[SHINAGAWA])
    lapsed = make_post(people.sakai, title="締切後", target_ward_codes=[SHINAGAWA])
    lapsed.deadline = in_days(-1)
    db.session.commit()

    assert reasons(people.shinagawa) == {}


def test_a_municipality_is_recommended_calls_in_the_categories_of_its_own_posts(people, make_post):
    make_post(people.sakai, title="坂井の物産", category="products")
    make_post(people.shinagawa, title="マルシェ出店者募集", category="products")
    make_post(people.shinagawa, title="スポーツ大会の参加団体募集", category="sports")

    assert reasons(people.sakai) == {"マルシェ出店者募集": "自団体の投稿と同じ分野（物産・マルシェ）の募集です"}
    assert reasons(people.kushiro) == {}  # no posts of its own: nothing to go by
    assert "坂井の物産" not in reasons(people.chiyoda)  # a ward is never recommended a ward's call, nor its own


def test_at_most_five_in_two_queries_whatever_the_data(people, make_post, count_queries):
    partnered(people.shinagawa, people.kushiro, make_post, category="products")
    db.session.add(SavedSearch(user_id=people.shinagawa.id, name="かに", query="q=黄金がに"))
    notifications.set_follows(people.shinagawa, False, {"products"}, {"18"})
    db.session.commit()
    for number in range(8):
        make_post(people.sakai, title=f"黄金がに {number}", target_ward_codes=[SHINAGAWA] if number % 2 else [])

    assert people.shinagawa.organization.kind  # the signed-in user and their organization, loaded by every request

    with count_queries() as counter:
        recommended = recommendations_for(people.shinagawa)
        shown = [(item.post.organization.display_name, str(item.reason)) for item in recommended]

    assert len(shown) == 5
    assert counter.count <= 2, counter.statements


@pytest.mark.parametrize("reader", ["shinagawa", "sakai"])
def test_the_home_shows_the_recommendations_with_their_reasons(client, auth, people, make_post, reader):
    make_post(people.sakai, title="品川区へ", target_ward_codes=[SHINAGAWA])
    make_post(people.shinagawa, title="マルシェ出店者募集", category="products")
    auth.login(getattr(people, reader))

    page = text_of(client.get("/"))

    assert "おすすめ" in page
    assert ("品川区を対象にした提案です" if reader == "shinagawa" else "自団体の投稿と同じ分野") in page


def test_the_digest_ends_with_the_recommendations_when_there_are_any(app, people, make_post, outbox):
    notifications.set_preferences(people.shinagawa, {"post_published": DeliveryMode.DIGEST})
    db.session.commit()
    make_post(
        people.sakai, title="品川区へ", target_ward_codes=[SHINAGAWA]
    )  # targeted: told at once, not in the digest
    make_post(people.kushiro, title="釧路から全区へ")  # followed (all new posts): in the digest, not recommended

    with app.test_request_context():
        notifications.send_digests()
    db.session.commit()

    (digest,) = [message for message in outbox(people.shinagawa.email) if message.kind == "digest"]
    assert "■ おすすめ" in digest.body
    assert "- 品川区へ（福井県 坂井市）\n  理由: 品川区を対象にした提案です\n" in digest.body
    assert "釧路から全区へ（" not in digest.body
