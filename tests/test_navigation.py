"""Finding one's way: 新規投稿 in the header for those who may post, the organization's private desk named as such,
the conversation and the post leading to the partnership once a response is accepted, and the post list saying how
many posts match, with a way to clear the filters."""

from __future__ import annotations

import pytest

from bulletin.extensions import db
from bulletin.responses import services as responses
from bulletin.responses.models import ResponseKind
from tests.factories import new_client, page_of, text_of


def header_links(response) -> dict[str, str]:
    """The main menu's links: text -> href."""
    page = page_of(response)
    nav = [e for e in page.elements if e.tag == "nav" and e.attrs.get("aria-label") == "メインメニュー"]
    assert len(nav) == 1
    start = page.elements.index(nav[0])
    links = {}
    for element in page.elements[start + 1 :]:
        if element.tag == "a":
            links[" ".join(element.text.split())] = element.attrs["href"]
        if element.tag == "div" and "site-user" in element.classes:
            break
    return links


@pytest.mark.parametrize("who", ["sakai", "shinagawa"])
def test_officers_who_may_post_find_new_post_in_the_header(app, people, who):
    links = header_links(new_client(app, getattr(people, who)).get("/posts"))
    assert links["新規投稿"] == "/posts/new"
    assert links["自団体の窓口"] == "/dashboard"
    assert "団体のページ" not in links


def test_those_who_may_not_post_are_not_offered_it(app, people):
    assert "新規投稿" not in header_links(new_client(app, people.moderator).get("/posts"))
    assert "新規投稿" not in header_links(new_client(app).get("/terms"))


def test_the_kept_menu_follows_each_users_rights_unread_count_and_language(app, people):
    for _ in range(2):  # the second round is drawn from the kept menus
        moderator = header_links(new_client(app, people.moderator).get("/posts"))
        assert "承認待ち" in moderator and "新規投稿" not in moderator
        officer = header_links(new_client(app, people.sakai).get("/posts"))
        assert "新規投稿" in officer and "承認待ち" not in officer
        assert "承認待ち" not in header_links(new_client(app).get("/terms"))
    people.sakai.unread_notifications = 3
    db.session.flush()
    assert "お知らせ 3 件の未読" in header_links(new_client(app, people.sakai).get("/posts"))
    people.sakai.locale = "en"
    db.session.flush()
    page = page_of(new_client(app, people.sakai).get("/posts"))
    assert [e for e in page.elements if e.tag == "nav" and e.attrs.get("aria-label") == "Main menu"]


def test_the_signed_in_header_is_a_menu_that_opens_without_javascript(app, people):
    page = page_of(new_client(app, people.sakai).get("/posts"))
    details = page.with_class("site-menu")
    assert [d.tag for d in details] == ["details"]
    assert [s.text.strip() for s in page.with_class("site-menu__toggle")] == ["メニュー"]
    assert page.with_class("site-menu") and not page_of(new_client(app).get("/terms")).with_class("site-menu")


def test_the_desk_says_what_it_is(app, people):
    page = text_of(new_client(app, people.sakai).get("/dashboard"))
    assert "<h1>自団体の窓口" in page and "団体の職員だけが見られます" in page


def test_an_accepted_response_leads_to_its_partnership(app, people, make_post):
    post = make_post(people.sakai, title="黄金がにのPR")
    response = responses.respond(people.shinagawa, post, ResponseKind.OFFER, "水族館で開催できます。")
    conversation = f"/conversations/{response.conversation.id}"
    db.session.commit()
    for viewer in (people.sakai, people.shinagawa):
        assert "連携として記録されました" not in text_of(new_client(app, viewer).get(conversation))
    partnership = responses.accept_response(people.sakai, response)
    db.session.commit()
    link = f'<a href="/partnerships/{partnership.id}">連携のページ</a>'
    for viewer in (people.sakai, people.shinagawa, people.moderator):
        assert "連携として記録されました → " + link in text_of(new_client(app, viewer).get(conversation))
    own_side = text_of(new_client(app, people.sakai).get(f"/posts/{post.id}"))
    assert "東京都 品川区 との連携として記録されました → " + link in own_side
    other_side = text_of(new_client(app, people.shinagawa).get(f"/posts/{post.id}"))
    assert "連携として記録されました → " + link in other_side


def test_the_list_counts_the_matching_posts_and_clears_the_filters(app, people, make_post):
    for number in range(23):
        make_post(people.sakai, title=f"坂井市の投稿 {number}", category="products" if number % 2 else "tourism")
    make_post(people.kushiro, title="釧路町の投稿", category="products")
    db.session.commit()
    browser = new_client(app, people.shinagawa)

    everything = page_of(browser.get("/posts"))
    assert everything.by_id("results-heading").text.split() == ["検索結果", "24件の投稿"]
    assert not [a for a in everything.all("a") if a.text.strip() == "条件をクリア"]

    second_page = page_of(browser.get("/posts?page=2"))
    assert "24件の投稿" in second_page.by_id("results-heading").text

    products = page_of(browser.get("/posts?category=products"))
    assert "12件の投稿" in products.by_id("results-heading").text  # 11 of 坂井市 and 1 of 釧路町
    clear = [a.attrs["href"] for a in products.all("a") if a.text.strip() == "条件をクリア"]
    assert clear == ["/posts"]

    nothing = page_of(browser.get("/posts?q=存在しない言葉"))
    assert "0件の投稿" in nothing.by_id("results-heading").text
    assert [a.attrs["href"] for a in nothing.all("a") if a.text.strip() == "条件をクリア"] == ["/posts"]


def test_the_count_stops_at_its_cap_and_says_so(app, people, make_post, monkeypatch):
    """Counting stops after COUNT_CAP posts (1,000): a count of every published post would grow with the table."""
    from bulletin.posts import queries as post_queries

    monkeypatch.setattr(post_queries, "COUNT_CAP", 3)
    for number in range(4):
        make_post(people.sakai, title=f"坂井市の投稿 {number}", category="products" if number < 3 else "tourism")
    db.session.commit()
    browser = new_client(app, people.shinagawa)
    assert page_of(browser.get("/posts")).by_id("results-heading").text.split() == ["検索結果", "3件以上の投稿"]
    products = page_of(browser.get("/posts?category=products"))
    assert products.by_id("results-heading").text.split() == ["検索結果", "3件の投稿"]
