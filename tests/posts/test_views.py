"""The post pages: the list with its filters, search and pages; our posts; who sees what; reports; the edit form
of a returned post; preview."""

import re

import pytest
from sqlalchemy import select

from bulletin.core.audit import ModerationDecision
from bulletin.extensions import db
from bulletin.moderation.models import Report, ReportState
from bulletin.organizations.services import get_by_code
from bulletin.posts import services
from bulletin.posts.models import Post, PostRevision, PostState, RevisionState
from tests.constants import CHIYODA, CONFIRMED, KUSHIRO_TOWN, RETURN_COMMENT, SHINAGAWA, STATE_LABELS
from tests.factories import (
    assert_unchanged,
    database_state,
    flashes,
    form_data,
    hidden_value,
    in_days,
    page_of,
    post_input,
    text_of,
)

CARD_ID = re.compile(r"^post-(\d+)-title$")


def listed(response) -> list[int]:
    """The ids of the post cards on a page, in order."""
    assert response.status_code == 200
    ids = []
    for element in page_of(response).elements:
        match = CARD_ID.match(element.attrs.get("id", ""))
        if match:
            ids.append(int(match.group(1)))
    return ids


def ids(*posts) -> list[int]:
    return [post.id for post in posts]


# --- the list ---------------------------------------------------------------------------------------------------


def test_the_list_shows_only_published_posts(client, auth, people, make_post):
    posts = {state: make_post(people.sakai, state) for state in PostState}
    auth.login(people.kushiro)
    assert listed(client.get("/posts")) == [posts[PostState.PUBLISHED].id]
    assert sorted(listed(client.get("/posts?status=closed"))) == sorted(
        ids(posts[PostState.CLOSED], posts[PostState.EXPIRED])
    )


def test_the_list_needs_a_login(client):
    response = client.get("/posts")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.fixture
def catalogue(people, make_post):
    """Published posts of both sides, from three prefectures, in several categories."""
    return {
        "sakai": make_post(people.sakai, title="坂井市の物産展", category="products", deadline=in_days(30)),
        "kushiro": make_post(people.kushiro, title="釧路町の観光PR", category="tourism", deadline=in_days(10)),
        "shinagawa": make_post(people.shinagawa, title="品川区の祭りに出展を", category="events", deadline=None),
        "chiyoda": make_post(people.chiyoda, title="千代田区の物産マルシェ", category="products", deadline=in_days(20)),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kind=proposal", {"sakai", "kushiro"}),
        ("kind=call", {"shinagawa", "chiyoda"}),
        ("category=products", {"sakai", "chiyoda"}),
        ("category=tourism", {"kushiro"}),
        ("prefecture=18", {"sakai"}),
        ("prefecture=01", {"kushiro"}),
        ("prefecture=13", {"shinagawa", "chiyoda"}),
        ("kind=proposal&category=products", {"sakai"}),
        ("kind=call&prefecture=18", set()),
        ("kind=bogus&category=unknown&prefecture=xx&status=whatever&sort=random", None),  # ignored: everything
    ],
)
def test_filters(client, auth, people, catalogue, query, expected):
    auth.login(people.kushiro)
    expected = set(catalogue) if expected is None else expected
    assert set(listed(client.get(f"/posts?{query}"))) == {catalogue[key].id for key in expected}


def test_the_ward_filter_shows_proposals_for_that_ward_or_for_all(client, auth, people, make_post):
    for_shinagawa = make_post(people.sakai, title="品川区向け", target_ward_codes=[SHINAGAWA])
    for_both = make_post(people.kushiro, title="二区向け", target_ward_codes=[SHINAGAWA, CHIYODA])
    for_chiyoda = make_post(people.sakai, title="千代田区向け", target_ward_codes=[CHIYODA])
    for_all = make_post(people.kushiro, title="全区向け")
    make_post(people.shinagawa, title="品川区の募集")
    auth.login(people.shinagawa)
    assert set(listed(client.get(f"/posts?ward={SHINAGAWA}"))) == set(ids(for_shinagawa, for_both, for_all))
    assert set(listed(client.get(f"/posts?ward={CHIYODA}"))) == set(ids(for_both, for_chiyoda, for_all))
    page = client.get(f"/posts/{for_both.id}").get_data(as_text=True)
    assert "千代田区、品川区" in page


def test_sort_by_deadline(client, auth, people, catalogue):
    auth.login(people.kushiro)
    order = listed(client.get("/posts?sort=deadline"))
    # Closest deadline first; a post without a deadline (品川区's) has nothing to approach and is left out.
    assert order == ids(catalogue["kushiro"], catalogue["chiyoda"], catalogue["sakai"])
    newest_first = listed(client.get("/posts"))
    assert newest_first == ids(catalogue["chiyoda"], catalogue["shinagawa"], catalogue["kushiro"], catalogue["sakai"])


def test_twenty_a_page_with_next_and_previous_links(client, auth, people, make_post):
    posts = [make_post(people.sakai, title=f"ページ送りの投稿 {n:02d}") for n in range(25)]
    make_post(people.shinagawa, title="品川区の募集")
    auth.login(people.kushiro)

    first = client.get("/posts?kind=proposal")
    assert listed(first) == ids(*reversed(posts))[:20]
    links = {a.attrs.get("rel"): a.attrs["href"] for a in page_of(first).all("a") if a.attrs.get("rel")}
    assert "prev" not in links and links["next"] == "/posts?kind=proposal&page=2"

    second = client.get(links["next"])
    assert listed(second) == ids(*reversed(posts))[20:]
    links = {a.attrs.get("rel"): a.attrs["href"] for a in page_of(second).all("a") if a.attrs.get("rel")}
    assert "next" not in links and links["prev"] == "/posts?kind=proposal"

    assert listed(client.get("/posts?kind=proposal&page=3")) == []
    assert listed(client.get("/posts?kind=proposal&page=-4")) == listed(first)


@pytest.fixture
def searchable(people, make_post):
    return {
        "pr": make_post(people.sakai, title="ＰＲイベントのご案内", summary="秋に開きます。"),
        "crab": make_post(people.sakai, title="冬の味覚フェア", summary="越前のカニを紹介します。"),
        "body": make_post(people.sakai, title="夏の展示", body="## 会場\n\nしながわ水族館の特設コーナーで展示します。"),
        "tag": make_post(people.sakai, title="返礼品の紹介", tags=["ふるさと納税", "特産品"]),
        "kushiro": make_post(people.kushiro, title="湿原ツアーのご提案"),
        "ward": make_post(people.shinagawa, title="区民まつりの出展者募集", summary="商店街で開催します。"),
    }


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("pr", {"pr"}),
        ("PR", {"pr"}),
        ("ＰＲ", {"pr"}),
        ("ｶﾆ", {"crab"}),  # half-width katakana
        ("カニ", {"crab"}),
        ("かに", {"crab"}),  # hiragana finds katakana
        ("水族館", {"body"}),
        ("ふるさと納税", {"tag"}),
        ("フルサト", {"tag"}),
        ("釧路町", {"kushiro"}),  # the organization's name
        ("品川区", {"ward"}),
        ("越前 カニ", {"crab"}),  # every word must match
        ("越前 水族館", set()),
        ("　カニ　", {"crab"}),  # full-width spaces around the word
        ("存在しない言葉", set()),
        ("%", set()),  # LIKE wildcards are literal
        ("_", set()),
    ],
)
def test_keyword_search(client, auth, people, searchable, q, expected):
    auth.login(people.chiyoda)
    response = client.get("/posts", query_string={"q": q})
    assert set(listed(response)) == {searchable[key].id for key in expected}
    if not expected:
        assert "条件に合う投稿はありません。" in response.get_data(as_text=True)


def test_search_follows_approved_revisions_only(client, auth, people, make_post):
    post = make_post(people.sakai, title="公開中のタイトル")
    revision = services.update_post(people.sakai, post, post_input(title="ホタテの直売会"))
    db.session.commit()
    auth.login(people.kushiro)
    assert listed(client.get("/posts", query_string={"q": "ホタテ"})) == []
    services.approve_revision(people.moderator, revision, revision.version)
    db.session.commit()
    assert listed(client.get("/posts", query_string={"q": "ほたて"})) == [post.id]


# --- our posts ---------------------------------------------------------------------------------------------------


def test_our_posts_show_every_state(client, auth, people, make_post):
    ours = {state: make_post(people.sakai, state) for state in PostState}
    theirs = make_post(people.kushiro, PostState.DRAFT)
    auth.login(people.sakai_colleague)
    response = client.get("/posts/ours")
    assert set(listed(response)) == set(ids(*ours.values()))
    assert theirs.id not in listed(response)
    page = response.get_data(as_text=True)
    for label in STATE_LABELS.values():
        assert label in page


def test_our_posts_include_accepted_co_proposals(client, auth, people, make_post):
    joint = make_post(people.sakai, PostState.DRAFT, title="合同の提案")
    declined = make_post(people.sakai, PostState.DRAFT, title="辞退した提案")
    invited = make_post(people.sakai, PostState.DRAFT, title="招待中の提案")
    for post in (joint, declined, invited):
        services.invite_co_proposer(people.sakai, post, get_by_code(KUSHIRO_TOWN))
    db.session.commit()
    services.answer_co_proposal(people.kushiro, joint.co_proposers[0], accept=True)
    services.answer_co_proposal(people.kushiro, declined.co_proposers[0], accept=False)
    db.session.commit()
    auth.login(people.kushiro)
    response = client.get("/posts/ours")
    assert listed(response) == [joint.id]
    assert "「招待中の提案」への招待" in response.get_data(as_text=True)


def test_invitations_are_answered_from_our_posts(client, auth, people, make_post):
    post = make_post(people.sakai, PostState.DRAFT, title="合同の提案")
    co = services.invite_co_proposer(people.sakai, post, get_by_code(KUSHIRO_TOWN))
    db.session.commit()
    auth.login(people.shinagawa)
    assert client.post(f"/co-proposals/{co.id}/accept").status_code == 404  # not theirs
    auth.logout()
    auth.login(people.kushiro)
    response = client.post(f"/co-proposals/{co.id}/accept", follow_redirects=True)
    assert "共同提案者になりました。" in flashes(response)
    assert listed(response) == [post.id]
    page = client.get(f"/posts/{post.id}").get_data(as_text=True)
    assert "福井県 坂井市・北海道 釧路町" in page


# --- who sees what ---------------------------------------------------------------------------------------------

PRIVATE = [PostState.DRAFT, PostState.PENDING, PostState.REJECTED, PostState.WITHDRAWN, PostState.HIDDEN]
PUBLIC = [PostState.PUBLISHED, PostState.CLOSED, PostState.EXPIRED]


@pytest.mark.parametrize("state", PRIVATE)
def test_unpublished_posts_are_404_to_other_organizations(client, auth, people, make_post, state):
    post = make_post(people.sakai, state)
    response = client.get(f"/posts/{post.id}")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    for outsider in (people.kushiro, people.shinagawa):
        auth.login(outsider)
        assert client.get(f"/posts/{post.id}").status_code == 404
        assert client.get(f"/posts/{post.id}/edit").status_code == 404
        auth.logout()
    for insider in (people.sakai_colleague, people.moderator):
        auth.login(insider)
        assert client.get(f"/posts/{post.id}").status_code == 200
        auth.logout()


@pytest.mark.parametrize("state", PUBLIC)
def test_public_posts_are_seen_by_every_member(client, auth, people, make_post, state):
    post = make_post(people.sakai, state)
    for user in (people.kushiro, people.shinagawa, people.moderator, people.sakai):
        auth.login(user)
        response = client.get(f"/posts/{post.id}")
        assert response.status_code == 200 and post.title in response.get_data(as_text=True)
        auth.logout()


def test_moderators_see_everything(client, auth, people, make_post):
    posts = [make_post(people.sakai, state) for state in PostState]
    auth.login(people.moderator)
    for post in posts:
        assert client.get(f"/posts/{post.id}").status_code == 200
        assert client.get(f"/moderation/posts/{post.id}").status_code == 200


def test_only_owners_may_open_the_edit_form(client, auth, people, make_post):
    post = make_post(people.sakai)
    auth.login(people.kushiro)
    assert client.get(f"/posts/{post.id}/edit").status_code == 403
    auth.logout()
    auth.login(people.sakai_colleague)
    assert client.get(f"/posts/{post.id}/edit").status_code == 200


def test_a_hidden_post_shows_its_reason_to_its_organization(client, auth, people, make_post):
    post = make_post(people.sakai, PostState.HIDDEN)
    auth.login(people.sakai)
    assert "利用規約に反する内容があります。" in client.get(f"/posts/{post.id}").get_data(as_text=True)


# --- reports ---------------------------------------------------------------------------------------------------


def test_report_then_dismiss_then_hide(client, auth, people, make_post):
    post = make_post(people.sakai, title="通報される投稿")
    auth.login(people.kushiro)
    assert "この投稿を事務局に通報する" in client.get(f"/posts/{post.id}").get_data(as_text=True)
    response = client.post(
        f"/posts/{post.id}/report", data={"reason": "連絡先が個人の携帯電話です。"}, follow_redirects=True
    )
    assert "通報しました。事務局が確認します。" in flashes(response)
    again = client.post(f"/posts/{post.id}/report", data={"reason": "もう一度"}, follow_redirects=True)
    assert "この投稿はすでに通報済みです。事務局が確認します。" in flashes(again)
    report = db.session.scalar(select(Report).where(Report.post_id == post.id))
    assert (report.state, report.reporter_id, report.reason) == (
        ReportState.OPEN,
        people.kushiro.id,
        "連絡先が個人の携帯電話です。",
    )
    auth.logout()

    auth.login(people.moderator)
    queue = client.get("/moderation").get_data(as_text=True)
    assert "通報される投稿" in queue and "連絡先が個人の携帯電話です。" in queue
    response = client.post(f"/moderation/reports/{report.id}/dismiss", follow_redirects=True)
    assert "通報を却下しました。" in flashes(response)
    db.session.expire_all()
    assert db.session.get(Report, report.id).state == ReportState.DISMISSED
    assert db.session.get(Post, post.id).state == PostState.PUBLISHED
    assert "連絡先が個人の携帯電話です。" not in client.get("/moderation").get_data(as_text=True)
    auth.logout()

    auth.login(people.shinagawa)
    client.post(f"/posts/{post.id}/report", data={"reason": "事業者の宣伝です。"})
    auth.logout()
    second = db.session.scalar(select(Report).where(Report.post_id == post.id, Report.state == ReportState.OPEN))
    auth.login(people.moderator)
    client.get("/moderation")  # opening the queue reads the notification about the report
    before = database_state()
    response = client.post(f"/moderation/reports/{second.id}/hide", data={"reason": ""}, follow_redirects=True)
    assert "理由を入力してください。" in flashes(response)
    assert_unchanged(before)
    response = client.post(
        f"/moderation/reports/{second.id}/hide",
        data={"reason": "営利目的の宣伝のため。", **CONFIRMED},
        follow_redirects=True,
    )
    assert "投稿を非公開にしました。" in flashes(response)
    db.session.expire_all()
    assert db.session.get(Report, second.id).state == ReportState.ACTIONED
    hidden = db.session.get(Post, post.id)
    assert hidden.state == PostState.HIDDEN and hidden.hidden_reason == "営利目的の宣伝のため。"
    actions = list(
        db.session.scalars(
            select(ModerationDecision.action)
            .where(ModerationDecision.subject_type == "post", ModerationDecision.subject_id == post.id)
            .order_by(ModerationDecision.id)
        )
    )
    assert actions[-2:] == ["dismiss_report", "hide_post"]
    log = client.get("/moderation/log").get_data(as_text=True)
    assert "営利目的の宣伝のため。" in log
    auth.logout()

    auth.login(people.kushiro)
    assert client.get(f"/posts/{post.id}").status_code == 404


def test_owners_cannot_report_their_own_post(client, auth, people, make_post):
    post = make_post(people.sakai)
    auth.login(people.sakai_colleague)
    assert "この投稿を事務局に通報する" not in client.get(f"/posts/{post.id}").get_data(as_text=True)
    before = database_state()
    response = client.post(f"/posts/{post.id}/report", data={"reason": "自作自演"}, follow_redirects=True)
    assert "この投稿は通報できません。" in flashes(response)
    assert_unchanged(before)


def test_a_report_needs_a_reason(client, auth, people, make_post):
    post = make_post(people.sakai)
    auth.login(people.kushiro)
    before = database_state()
    response = client.post(f"/posts/{post.id}/report", data={"reason": "  "}, follow_redirects=True)
    assert "通報の理由を入力してください。" in flashes(response)
    assert_unchanged(before)


# --- the edit form and preview -----------------------------------------------------------------------------------


def test_the_edit_form_of_a_returned_post_shows_the_comment(client, auth, people, make_post):
    post = make_post(people.sakai, PostState.REJECTED)
    auth.login(people.sakai_colleague)
    response = client.get(f"/posts/{post.id}/edit")
    page = page_of(response)
    notes = [e for e in page.elements if e.attrs.get("role") == "note"]
    assert len(notes) == 1 and RETURN_COMMENT in notes[0].text and "事務局からの差し戻しコメント" in notes[0].text
    html = response.get_data(as_text=True)
    assert html.index(RETURN_COMMENT) < html.index('<form method="post" enctype="multipart/form-data"')
    assert page.by_id("title").attrs["value"] == post.title  # the form is filled with the post
    assert RETURN_COMMENT in client.get(f"/posts/{post.id}").get_data(as_text=True)


def test_a_returned_post_is_edited_and_resubmitted(client, auth, people, make_post):
    post = make_post(people.sakai, PostState.REJECTED)
    auth.login(people.sakai)
    response = client.post(
        f"/posts/{post.id}/edit",
        data=form_data(summary="11月18日から23日まで。", action="submit"),
        follow_redirects=True,
    )
    assert "審査に出しました。事務局の確認後に公開されます。" in flashes(response)
    db.session.expire_all()
    post = db.session.get(Post, post.id)
    assert post.state == PostState.PENDING and post.summary == "11月18日から23日まで。"
    auth.logout()
    auth.login(people.moderator)
    review = client.get(f"/moderation/posts/{post.id}").get_data(as_text=True)
    assert "<ins>" in review and "11月18日から23日まで。" in review


def test_preview_renders_without_saving(client, auth, people):
    auth.login(people.sakai)
    before = database_state()
    body = "# 日程\n\n**11月18日**から\n\n<script>alert(1)</script>"
    response = client.post("/posts/new", data=form_data(body=body, action="preview"))
    assert response.status_code == 200
    preview = page_of(response).by_id("preview-heading")
    assert preview is not None
    html = response.get_data(as_text=True)
    assert "<h3>日程</h3>" in html and "<strong>11月18日</strong>" in html
    assert "<script>alert(1)</script>" not in html
    assert page_of(response).by_id("body").text.lstrip("\r\n") == body  # the text stays in the form
    assert_unchanged(before)


def test_preview_of_an_edit_saves_nothing(client, auth, people, make_post):
    post = make_post(people.sakai, body="元の本文")
    auth.login(people.sakai)
    before = database_state()
    response = client.post(f"/posts/{post.id}/edit", data=form_data(body="## 新しい本文", action="preview"))
    assert response.status_code == 200 and "<h3>新しい本文</h3>" in response.get_data(as_text=True)
    assert_unchanged(before)


def test_an_edit_of_a_published_post_through_the_pages(client, auth, people, make_post):
    post = make_post(people.sakai, title="公開中のタイトル")
    auth.login(people.sakai)
    response = client.post(
        f"/posts/{post.id}/edit", data=form_data(title="修正したタイトル", action="submit"), follow_redirects=True
    )
    assert "修正を審査に出しました。承認されるまで、公開中の内容が表示されます。" in flashes(response)
    html = response.get_data(as_text=True)
    assert "公開中のタイトル" in html and "修正が審査待ちです。" in html
    edit_form = page_of(client.get(f"/posts/{post.id}/edit"))
    assert edit_form.by_id("title").attrs["value"] == "修正したタイトル"  # the pending edit, to continue it
    auth.logout()

    auth.login(people.kushiro)
    assert "修正したタイトル" not in client.get(f"/posts/{post.id}").get_data(as_text=True)
    auth.logout()

    auth.login(people.moderator)
    queue = page_of(client.get("/moderation"))
    link = next(a.attrs["href"] for a in queue.all("a") if a.attrs.get("href", "").startswith("/moderation/revisions/"))
    review = client.get(link)
    assert "<ins>修正した</ins>" in text_of(review) and "<del>公開中の</del>" in text_of(review)  # a diff by characters
    seen = hidden_value(review, f"{link}/approve", "version")
    response = client.post(f"{link}/approve", data={"version": seen}, follow_redirects=True)
    assert "修正を反映しました。" in flashes(response)
    db.session.expire_all()
    post = db.session.get(Post, post.id)
    assert post.title == "修正したタイトル"
    revisions = db.session.scalars(select(PostRevision).where(PostRevision.post_id == post.id)).all()
    assert [r.state for r in revisions] == [RevisionState.APPROVED]
