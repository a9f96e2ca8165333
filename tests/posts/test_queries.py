"""Page cost: the post pages issue a fixed number of queries whatever the number of posts and of the relations each
post has (attachments, target wards, co-proposers), at most 8 a page (DESIGN §7), and never write on GET."""

import secrets
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bulletin.core.db import utcnow
from bulletin.core.text import fold
from bulletin.extensions import db
from bulletin.organizations.services import get_by_code, ward_organizations
from bulletin.posts import services
from bulletin.posts.categories import CATEGORIES
from bulletin.posts.models import Attachment, CoProposer, CoProposerState, Post, PostKind, PostState
from bulletin.posts.rendering import render_markdown
from tests.constants import SAKAI, SHINAGAWA
from tests.factories import in_days, page_of, post_input

MAX_QUERIES = 8
OWNER_CODES = [SAKAI, "012041"]  # 坂井市 (福井県), 旭川市 (北海道)
CO_PROPOSER_CODES = ["182079", "012068"]  # 鯖江市, 釧路市


def add_posts(count: int, author, start: int = 0) -> list[Post]:
    """Published posts built directly in bulk, with attachments, target wards and co-proposers.

    The viewers of these tests (釧路町 and 品川区 staff, the moderator) belong to no organization the posts name,
    and 坂井市 owns its posts on every page compared: an organization already loaded for a post is not loaded again
    for the viewer, and such a saving must not make two counts differ for a reason other than the data's size.
    """
    wards = [ward for ward in ward_organizations() if ward.code != SHINAGAWA]
    owners = [get_by_code(code) for code in OWNER_CODES]
    co_proposers = [get_by_code(code) for code in CO_PROPOSER_CODES]
    categories = list(CATEGORIES)
    now = utcnow()
    posts = []
    for number in range(start, start + count):
        size = number // 2  # how much each post carries varies along the posts of one owner too
        is_call = number % 5 == 4
        owner = wards[number % len(wards)] if is_call else owners[number % 2]
        post = Post(
            organization=owner,
            created_by=author if owner.id == author.organization_id else None,
            kind=PostKind.CALL if is_call else PostKind.PROPOSAL,
            state=PostState.PUBLISHED,
            title=f"一括投稿 {number}",
            summary="件数が増えてもページの費用は変わらない。",
            body="## 内容\n\n- 一\n- 二",
            body_html=render_markdown("## 内容\n\n- 一\n- 二"),
            category=categories[number % len(categories)],
            tags="一括,試験",
            deadline=in_days(10 + number % 30),
            published_at=now - timedelta(minutes=number),
            submitted_at=now - timedelta(minutes=number + 1),
        )
        if not is_call:
            post.target_wards = [] if number % 4 == 1 else wards[size % 3 : size % 3 + 1 + size % 4]
            post.co_proposers = [
                CoProposer(organization=org, state=CoProposerState.ACCEPTED if n < 1 + size % 2 else "invited")
                for n, org in enumerate(co_proposers[: size % 3])
            ]
        post.attachments = [
            Attachment(
                original_name=f"資料{n}.pdf",
                stored_name=f"{secrets.token_hex(16)}.pdf",
                content_type="application/pdf",
                size=1000 + n,
            )
            for n in range(size % 4)
        ]
        post.search_text = fold(f"{post.title}\n{post.summary}\n{post.organization.name}")
        posts.append(post)
    db.session.add_all(posts)
    db.session.commit()
    return posts


def cost(client, count_queries, url: str) -> int:
    """Queries of one GET (after a first request, so nothing about the first request is counted)."""
    assert client.get(url).status_code == 200
    with count_queries() as counter:
        response = client.get(url)
    assert response.status_code == 200
    writes = [s for s in counter.statements if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    assert not writes, writes
    return counter.count


@pytest.mark.parametrize("viewer", ["kushiro", "shinagawa"])
@pytest.mark.parametrize(
    ("url", "few"),
    [
        ("/posts", 3),
        ("/posts?kind=proposal&sort=deadline", 3),
        ("/posts?prefecture=18&category=products", 3),
        ("/posts?ward=131091", 3),
        ("/posts?q=一括", 3),
        ("/posts?q=一括投稿&sort=relevance", 3),  # the index on both databases, and the score
        ('/posts?q="一括 投稿" -坂井 ふ&has_attachments=1&deadline_within=30&desired_from=2026-01-01', 3),
        ("/posts?for_my_ward=1&desired_to=2030-01-01", 3),
        ("/posts?page=2", 23),  # a second page needs more than one page of posts
    ],
)
def test_the_list_costs_the_same_with_few_or_60_posts(client, auth, people, count_queries, viewer, url, few):
    auth.login(getattr(people, viewer))
    add_posts(few, people.sakai)
    small = cost(client, count_queries, url)
    add_posts(60 - few, people.sakai, start=few)
    large = cost(client, count_queries, url)
    assert large == small
    assert large <= MAX_QUERIES


def test_the_list_really_shows_the_relations_it_loads(client, auth, people):
    auth.login(people.kushiro)
    posts = add_posts(25, people.sakai)
    page = client.get("/posts").get_data(as_text=True)
    assert page.count('class="post-card"') == 20
    joint = next(p for p in posts[:20] if p.accepted_co_proposers)
    names = "・".join([joint.organization.display_name, *(o.display_name for o in joint.accepted_co_proposers)])
    assert names in page


@pytest.mark.parametrize("viewer", ["kushiro", "sakai", "moderator", "shinagawa"])
def test_the_detail_page_costs_the_same_whatever_the_post_carries(client, auth, people, count_queries, viewer):
    """The owner's view also looks for a pending revision; each viewer's cost is fixed."""
    auth.login(getattr(people, viewer))
    plain = services.create_post(people.sakai, post_input(title="添付も共同提案者もない投稿"))
    services.submit_post(people.sakai, plain)
    services.approve_post(people.moderator, plain, plain.version)
    db.session.commit()
    add_posts(3, people.sakai)
    small = cost(client, count_queries, f"/posts/{plain.id}")

    posts = add_posts(57, people.sakai, start=3)
    rich = max(
        (p for p in posts if p.organization_id == plain.organization_id),
        key=lambda p: (len(p.attachments), len(p.accepted_co_proposers), len(p.target_wards)),
    )
    assert rich.organization_id == plain.organization_id
    assert len(rich.attachments) == 3 and len(rich.accepted_co_proposers) == 2 and len(rich.target_wards) >= 3
    large = cost(client, count_queries, f"/posts/{rich.id}")
    assert cost(client, count_queries, f"/posts/{plain.id}") == small  # 60 posts in the table change nothing
    assert large == small
    assert large <= MAX_QUERIES


def test_the_detail_page_of_a_post_with_a_pending_revision(client, auth, people, count_queries):
    post = add_posts(1, people.sakai)[0]
    auth.login(people.sakai)
    without = cost(client, count_queries, f"/posts/{post.id}")
    services.update_post(people.sakai, post, post_input(title="修正", deadline=post.deadline))
    db.session.commit()
    assert cost(client, count_queries, f"/posts/{post.id}") == without <= MAX_QUERIES


def test_our_posts_cost_the_same_with_3_or_60_posts(client, auth, people, count_queries):
    auth.login(people.sakai)
    add_posts(3, people.sakai)
    small = cost(client, count_queries, "/posts/ours")
    add_posts(57, people.sakai, start=3)
    large = cost(client, count_queries, "/posts/ours")
    second_page = cost(client, count_queries, "/posts/ours?page=2")
    assert (large, second_page) == (small, small) and small <= MAX_QUERIES


def test_our_posts_come_20_a_page(client, auth, people):
    add_posts(120, people.sakai)
    auth.login(people.sakai)
    ours = select(func.count(Post.id)).where(Post.organization_id == people.sakai.organization_id)
    co_proposed = select(func.count(CoProposer.id)).where(
        CoProposer.organization_id == people.sakai.organization_id, CoProposer.state == CoProposerState.ACCEPTED
    )
    expected = db.session.scalar(ours) + db.session.scalar(co_proposed)
    cards, links, number = [], [], 1
    while True:
        page = page_of(client.get(f"/posts/ours?page={number}"))
        cards.append(len([e for e in page.all("article") if "post-card" in e.attrs.get("class", "")]))
        links.append({a.attrs["rel"] for a in page.all("a") if a.attrs.get("rel") in ("prev", "next")})
        if "next" not in links[-1]:
            break
        number += 1
    assert number >= 3 and sum(cards) == expected
    assert cards[:-1] == [20] * (number - 1) and 1 <= cards[-1] <= 20
    assert links[0] == {"next"} and links[-1] == {"prev"} and all(middle == {"prev", "next"} for middle in links[1:-1])


def test_the_moderation_queue_costs_the_same_with_few_or_many_items(client, auth, people, count_queries, make_post):
    auth.login(people.moderator)
    make_post(people.sakai, PostState.PENDING)
    make_post(people.sakai, PostState.HIDDEN)
    small = cost(client, count_queries, "/moderation")
    for state in [PostState.PENDING, PostState.HIDDEN] * 10:
        make_post(people.kushiro if state == PostState.PENDING else people.sakai, state)
    large = cost(client, count_queries, "/moderation")
    assert large == small
