"""Seed the benchmark's app database with the conversations of one organization, fast: SQLAlchemy Core bulk inserts.

run.py runs it after `bulletin demo` (and bench/seed_posts.py), with the app's environment, and reads one JSON
object from stdout:

    DATABASE_URL=sqlite:///PATH python bench/seed_conversations.py [--count 200] [--messages 500] [--seed 2015]

    {"inserted": 200, "posts_reused": 59, "posts_added": 141, "messages": 1083, "conversations": 202,
     "unread_conversations": 58, "long_conversation_id": 5, "long_messages": 500, "long_unread": 4, ...}

What it writes, for the demo officer of 坂井市 (182109, kanko@city.fukui-sakai.lg.jp), as the app would have:
- `count` published proposals of 坂井市: its published proposals that nobody has answered yet (bench/seed_posts.py
  gives it a few dozen), newest first, then new ones built from seed_posts.py's templates (search_text as the app
  builds it, body_html rendered once per template).
- One response to each, from the 23 special wards in turn (`response`, unique per post and organization): open
  mostly, some declined, a few accepted with their `partnership` row. Wards without an active user get one
  responder (one argon2 hash for all, the demo password).
- A `conversation` per response (坂井市 ⇄ the ward) and its `message` rows, alternating between the ward's user
  (who writes first, with the response) and the 坂井市 officer; `message_count`, `last_message_at` and
  `last_message_id` agree with them. The first conversation (the oldest post's) has `--messages` messages
  (500) up to recently; the others 1–5 each. Message ids follow their timestamps across conversations, as in the app.
- `conversation_read` rows: every author has read up to their own last message (writing marks read); the 坂井市
  officer has read some conversations to the end and not the ward's latest messages of others. The long
  conversation ends with 4 messages of the ward the officer has not read: the first view of it moves the marker
  (a write), later views are plain reads.

`--count 0` inserts nothing and only reports on the officer's existing conversations (the demo's):
`long_conversation_id` is then the one of them with the most messages, so run.py can count a conversation page's
queries before the seed as well as after.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta

import seed_posts  # the post templates (bench/ is on sys.path when this runs as a script)
from sqlalchemy import func, insert, or_, select, update

ORGANIZATION_CODE = "182109"  # 坂井市
OFFICER_EMAIL = "kanko@city.fukui-sakai.lg.jp"
DEMO_PASSWORD = "kogane-gani-2015"
BUSY_RESPONSES = 20  # the second oldest post is answered by this many wards (the detail page with 20 responses)
LONG_UNREAD = 4  # the long conversation ends with this many messages of the ward, not yet read by the officer
DECLINED_SHARE = 0.10
ACCEPTED_SHARE = 0.05
UNREAD_SHARE = 0.5  # of the conversations whose last message is the ward's

OPENINGS = {
    "interest": "{post}について、{ward}として関心があります。詳しくお話を伺えますでしょうか。",
    "question": "{post}について質問させてください。想定している時期と、区側にお願いしたい役割を教えてください。",
    "offer": "{ward}の{place}を会場としてご提供できそうです。{post}の規模感を教えていただけますか。",
}
WARD_LINES = (
    "ご連絡ありがとうございます。区内で調整し、改めてご連絡します。",
    "{place}の空き状況を確認しました。{season}の週末であれば候補日があります。",
    "区報の締切は掲載月の2か月前です。原稿は区で作成しますので、写真を3点ほどお送りください。",
    "担当課長にも話をしました。前向きに進めたいとのことです。",
    "電源は1区画あたり1.5kWまでです。それ以上必要な場合は発電機の手配をお願いします。",
    "当日の来場者数は、昨年度の実績で1日あたり約3,000人でした。",
    "搬入は前日の17時以降、搬出は最終日の18時以降でお願いします。\n車両は2台まで区の駐車場をご利用いただけます。",
    "区民の皆さまからも、{product}を楽しみにしているという声が届いています。",
    "見積もりの件、区の予算の範囲で対応できそうです。詳細は打ち合わせで確認させてください。",
    "オンラインでの打ち合わせ、来週火曜日の14時からでいかがでしょうか。",
    "資料を拝見しました。ブースの配置図を添付の形で作成しましたので、ご確認ください。",
    "保健所への届出が必要になります。様式をお送りしますので、ご記入をお願いします。",
)
OFFICER_LINES = (
    "ありがとうございます。{product}の生産者とも相談し、出展品目を固めます。",
    "候補日、承知しました。職員2名と生産者3名の5名で伺う予定です。",
    "写真をお送りします。使用については生産者の了解を得ています。",
    "旅費は当市で負担いたします。会場費についてはご相談させてください。",
    "搬入の時間、承知しました。トラック1台で伺います。",
    "火曜日14時、大丈夫です。URLをお送りいただけますと幸いです。",
    "配置図ありがとうございます。試食コーナーを入口側に移すことは可能でしょうか。",
    "届出の様式、記入してお返しします。\n不明な点があればお電話させてください。",
    "市長も当日伺えるかもしれません。決まり次第ご連絡いたします。",
    "観光パンフレットは500部お持ちします。区のラックにも置いていただけると助かります。",
    "昨年の{season}の物産展では{product}が2日で完売しました。今回は多めに用意します。",
    "当市の広報誌でも、{ward}との連携として紹介させていただく予定です。",
)
CLOSINGS = ("", "", "よろしくお願いいたします。", "引き続きよろしくお願いします。", "取り急ぎご連絡まで。")


def log(message: str) -> None:
    print(f"[seed_conversations] {message}", file=sys.stderr, flush=True)


def message_text(rng: random.Random, lines: tuple[str, ...], names: dict[str, str]) -> str:
    """One to three lines of a template set, sometimes a closing line."""
    parts = [line.format(**names) for line in rng.sample(lines, rng.choice((1, 1, 2, 2, 3)))]
    closing = rng.choice(CLOSINGS)
    return "\n".join(parts) + (f"\n\n{closing}" if closing else "")


def new_post_rows(count: int, first_id: int, organization, rng: random.Random, now: datetime, today) -> list[dict]:
    """`count` published proposals of the organization from seed_posts.py's templates, as the app stores them."""
    from bulletin.core.text import fold
    from bulletin.posts.models import PostKind, PostState
    from bulletin.posts.rendering import render_markdown

    bodies = [(body, render_markdown(body), fold(body)) for body in seed_posts.BODIES]
    rows = []
    for n in range(count):
        template = rng.choice(seed_posts.PROPOSALS)
        title, summary, offered, sought, body_index, venue, cost_sharing, categories, tags = template
        body, body_html, folded_body = bodies[body_index]
        names = {
            "name": organization.name,
            "product": rng.choice(seed_posts.PRODUCTS),
            "season": rng.choice(seed_posts.SEASONS),
            "place": rng.choice(seed_posts.PLACES),
        }
        texts = (
            ("title", title),
            ("summary", summary),
            ("offered", offered),
            ("sought", sought),
            ("venue", venue),
            ("cost_sharing", cost_sharing),
        )
        values = {key: text.format(**names) for key, text in texts}
        tag_list = list(dict.fromkeys(tag.format(**names) for tag in tags))
        published_at = now - timedelta(days=rng.uniform(20, 240))
        submitted_at = published_at - timedelta(hours=rng.uniform(1, 72))
        parts = [fold(values[key]) for key in ("title", "summary", "offered", "sought")]
        parts += [folded_body, fold(" ".join(tag_list)), fold(values["venue"]), fold(organization.name)]
        rows.append(
            {
                "id": first_id + n,
                "organization_id": organization.id,
                "created_by_id": None,
                "kind": PostKind.PROPOSAL,
                "state": PostState.PUBLISHED,
                **values,
                "body": body,
                "body_html": body_html,
                "category": rng.choice(categories),
                "tags": ",".join(tag_list),
                "desired_from": None,
                "desired_until": None,
                "deadline": today + timedelta(days=rng.randint(30, 365)),
                "search_text": "\n".join(part for part in parts if part),
                "created_at": submitted_at - timedelta(days=rng.uniform(0, 14)),
                "updated_at": published_at,
                "submitted_at": submitted_at,
                "published_at": published_at,
            }
        )
    return rows


def ensure_ward_users(db, User, wards, password_hash_of, now: datetime) -> tuple[dict[int, int], int]:
    """An active user per ward (the first existing one, else a new responder); {ward id: user id}, users added."""
    from bulletin.accounts.models import OrgRole, UserState

    ward_ids = [ward.id for ward in wards]
    users: dict[int, int] = {}
    for user_id, organization_id in db.session.execute(
        select(User.id, User.organization_id)
        .where(User.organization_id.in_(ward_ids), User.state == UserState.ACTIVE)
        .order_by(User.id)
    ):
        users.setdefault(organization_id, user_id)
    missing = [ward for ward in wards if ward.id not in users]
    if missing:
        password_hash = password_hash_of(DEMO_PASSWORD)  # argon2 once, for every new user
        rows = [
            {
                "email": f"renkei-{ward.code}@ward.bench.example.jp",
                "password_hash": password_hash,
                "name": f"{ward.name[:-1]} 連携",
                "department": "地域交流課",
                "phone": "",
                "organization_id": ward.id,
                "role": OrgRole.STAFF,
                "is_moderator": False,
                "state": UserState.ACTIVE,
                "locale": "ja",
                "session_version": 1,
                "created_at": now - timedelta(days=400),
                "confirmed_at": now - timedelta(days=400),
                "approved_at": now - timedelta(days=399),
            }
            for ward in missing
        ]
        db.session.execute(insert(User.__table__), rows)
        for user_id, organization_id in db.session.execute(
            select(User.id, User.organization_id).where(User.email.in_([row["email"] for row in rows]))
        ):
            users[organization_id] = user_id
    return users, len(missing)


def seed(count: int, long_messages: int, rng: random.Random) -> dict:
    import bulletin
    from bulletin.accounts.models import User
    from bulletin.accounts.passwords import hash_password
    from bulletin.core.text import today_in_japan
    from bulletin.extensions import db
    from bulletin.organizations.models import Organization, OrganizationKind
    from bulletin.posts.models import Post, PostKind, PostState
    from bulletin.responses.models import (
        Conversation,
        ConversationRead,
        Message,
        Partnership,
        Response,
        ResponseKind,
        ResponseState,
    )

    app = bulletin.create_app()
    started = time.perf_counter()
    with app.app_context():
        now = datetime.now(UTC)
        today = today_in_japan()
        organization = db.session.execute(
            select(Organization.id, Organization.name).where(Organization.code == ORGANIZATION_CODE)
        ).one()
        officer_id = db.session.scalar(select(User.id).where(User.email == OFFICER_EMAIL))
        if officer_id is None:
            raise SystemExit(f"no user {OFFICER_EMAIL}: run `bulletin demo` first")
        inserted = {"posts_reused": 0, "posts_added": 0, "users_added": 0, "messages": 0, "partnerships": 0}
        long_id = None
        if count:
            wards = db.session.execute(
                select(Organization.id, Organization.code, Organization.name)
                .where(Organization.kind == OrganizationKind.SPECIAL_WARD)
                .order_by(Organization.code)
            ).all()
            ward_users, inserted["users_added"] = ensure_ward_users(db, User, wards, hash_password, now)

            # the posts: 坂井市's published proposals nobody has answered, newest first, then new ones
            answered = select(Response.id).where(Response.post_id == Post.id).exists()
            posts = db.session.execute(
                select(Post.id, Post.title, Post.published_at)
                .where(
                    Post.organization_id == organization.id,
                    Post.state == PostState.PUBLISHED,
                    Post.kind == PostKind.PROPOSAL,
                    ~answered,
                )
                .order_by(Post.published_at.desc())
                .limit(count)
            ).all()
            inserted["posts_reused"] = len(posts)
            if len(posts) < count:
                first_id = (db.session.scalar(select(func.max(Post.id))) or 0) + 1
                rows = new_post_rows(count - len(posts), first_id, organization, rng, now, today)
                db.session.execute(insert(Post.__table__), rows)
                posts += [(row["id"], row["title"], row["published_at"]) for row in rows]
                inserted["posts_added"] = len(rows)

            first_response = (db.session.scalar(select(func.max(Response.id))) or 0) + 1
            first_conversation = (db.session.scalar(select(func.max(Conversation.id))) or 0) + 1
            first_message = (db.session.scalar(select(func.max(Message.id))) or 0) + 1
            first_partnership = (db.session.scalar(select(func.max(Partnership.id))) or 0) + 1
            ward_order = list(wards)
            rng.shuffle(ward_order)
            responses, conversations, partnerships, messages = [], [], [], []
            talks = []  # per conversation: its messages (dicts) in order, ward author, ward id
            posts.sort(key=lambda post: (post[2].replace(tzinfo=None), post[0]))  # the oldest post has the long talk
            busy_id, busy_title, _ = posts[1] if len(posts) > BUSY_RESPONSES else (None, "", None)
            if busy_id is not None:  # written by the officer, who still works there: the page names them as contact
                db.session.execute(update(Post).where(Post.id == busy_id).values(created_by_id=officer_id))
            for n, (post_id, post_title, published_at) in enumerate(posts):
                busy = busy_id is not None and 1 <= n <= BUSY_RESPONSES  # 20 wards in turn: 20 different ones
                if busy:
                    post_id, post_title = busy_id, busy_title
                ward = ward_order[n % len(ward_order)]
                ward_user = ward_users[ward.id]
                response_id, conversation_id = first_response + n, first_conversation + n
                is_long = n == 0
                # the ward answered after publication; the talk went on for a while (the long one until recently)
                published_at = published_at if published_at.tzinfo else published_at.replace(tzinfo=UTC)
                answered_at = published_at + (now - published_at) * rng.uniform(0.02, 0.3)
                size = long_messages if is_long else rng.randint(1, 5)
                if is_long:
                    last_at = now - timedelta(minutes=rng.uniform(5, 60))
                else:
                    last_at = answered_at + (now - answered_at) * rng.uniform(0.05, 0.98)
                step = (
                    last_at - answered_at
                ) / size  # message k at step * (k + jitter < 0.5): in order, before last_at
                names = {
                    "post": f"「{post_title[:40]}」",
                    "ward": ward.name,
                    "place": rng.choice(seed_posts.PLACES),
                    "season": rng.choice(seed_posts.SEASONS),
                    "product": rng.choice(seed_posts.PRODUCTS),
                }
                kind = rng.choice(list(ResponseKind))
                talk = []
                for k in range(size):
                    by_ward = k % 2 == 0 or (is_long and k >= size - LONG_UNREAD)
                    if k == 0:
                        body = OPENINGS[kind.value].format(**names)
                    else:
                        body = message_text(rng, WARD_LINES if by_ward else OFFICER_LINES, names)
                    talk.append(
                        {
                            "conversation_id": conversation_id,
                            "author_id": ward_user if by_ward else officer_id,
                            "organization_id": ward.id if by_ward else organization.id,
                            "body": body,
                            "created_at": answered_at + step * (k + rng.uniform(0, 0.5) if k else 0),
                            "hidden_at": None,
                            "hidden_reason": None,
                        }
                    )
                draw = rng.random()
                state = ResponseState.OPEN
                if not is_long and not busy and draw < ACCEPTED_SHARE:
                    state = ResponseState.ACCEPTED
                elif not is_long and not busy and draw < ACCEPTED_SHARE + DECLINED_SHARE:
                    state = ResponseState.DECLINED
                decided_at = None if state == ResponseState.OPEN else talk[-1]["created_at"] + timedelta(hours=2)
                if decided_at is not None and decided_at > now:
                    decided_at = now
                responses.append(
                    {
                        "id": response_id,
                        "post_id": post_id,
                        "organization_id": ward.id,
                        "author_id": ward_user,
                        "kind": kind,
                        "state": state,
                        "created_at": answered_at,
                        "decided_at": decided_at,
                        "decided_by_id": officer_id if decided_at else None,
                    }
                )
                if state == ResponseState.ACCEPTED:
                    partnerships.append(
                        {
                            "id": first_partnership + len(partnerships),
                            "post_id": post_id,
                            "response_id": response_id,
                            "post_organization_id": organization.id,
                            "partner_organization_id": ward.id,
                            "agreed_on": decided_at.date(),
                            "created_at": decided_at,
                            "title": post_title,
                            "venue": "",
                            "summary": "",
                        }
                    )
                conversations.append(
                    {
                        "id": conversation_id,
                        "response_id": response_id,
                        "post_id": post_id,
                        "post_organization_id": organization.id,
                        "partner_organization_id": ward.id,
                        "created_at": answered_at,
                    }
                )
                talks.append((talk, ward_user, is_long))
                messages += talk

            # message ids in the order of their timestamps, as the app hands them out
            messages.sort(key=lambda message: message["created_at"])
            for offset, message in enumerate(messages):
                message["id"] = first_message + offset
            reads = []
            for conversation, (talk, ward_user, is_long) in zip(conversations, talks, strict=True):
                last = talk[-1]
                conversation.update(last_message_at=last["created_at"], last_message_id=last["id"])
                conversation["message_count"] = len(talk)
                ward_last = max(message["id"] for message in talk if message["author_id"] == ward_user)
                reads.append(read_row(conversation["id"], ward_user, ward_last, talk))
                own = [message["id"] for message in talk if message["author_id"] == officer_id]
                if last["author_id"] == officer_id or (not is_long and rng.random() >= UNREAD_SHARE):
                    marker = last["id"]  # read to the end
                else:
                    marker = own[-1] if own else None  # the ward's latest messages are unread
                if marker is not None:
                    reads.append(read_row(conversation["id"], officer_id, marker, talk))
            long_id = conversations[0]["id"]

            for table, rows in (
                (Response.__table__, responses),
                (Conversation.__table__, conversations),
                (Message.__table__, messages),
                (ConversationRead.__table__, reads),
                (Partnership.__table__, partnerships),
            ):
                for start in range(0, len(rows), 2000):
                    db.session.execute(insert(table), rows[start : start + 2000])
            inserted.update(messages=len(messages), partnerships=len(partnerships))
            db.session.commit()
            log(
                f"{count} conversations ({inserted['posts_reused']} posts reused, {inserted['posts_added']} added), "
                f"{len(messages)} messages, {len(partnerships)} partnerships, {inserted['users_added']} ward users "
                f"in {time.perf_counter() - started:.1f} s"
            )

        mine = or_(
            Conversation.post_organization_id == organization.id,
            Conversation.partner_organization_id == organization.id,
        )
        # the officer's post with the most responses (the seeded one with 20, else the demo's)
        busy_post = db.session.execute(
            select(Response.post_id, func.count(Response.id).label("responses"))
            .join(Post, Post.id == Response.post_id)
            .where(Post.organization_id == organization.id, Post.state == PostState.PUBLISHED)
            .group_by(Response.post_id)
            .order_by(func.count(Response.id).desc(), Response.post_id)
            .limit(1)
        ).first()
        if long_id is None:  # the demo's: the officer's conversation with the most messages
            long_id = db.session.scalar(
                select(Conversation.id).where(mine).order_by(Conversation.message_count.desc(), Conversation.id)
            )
        read = (
            select(ConversationRead.last_read_message_id)
            .where(ConversationRead.conversation_id == Conversation.id, ConversationRead.user_id == officer_id)
            .scalar_subquery()
        )
        unread = db.session.scalar(
            select(func.count(Conversation.id)).where(mine, Conversation.last_message_id > func.coalesce(read, 0))
        )
        counts = db.session.execute(
            select(func.count(Message.id), func.max(Message.id)).where(Message.conversation_id == long_id)
        ).one()
        long_read = db.session.scalar(
            select(ConversationRead.last_read_message_id).where(
                ConversationRead.conversation_id == long_id, ConversationRead.user_id == officer_id
            )
        )
        long_unread = db.session.scalar(
            select(func.count(Message.id)).where(Message.conversation_id == long_id, Message.id > (long_read or 0))
        )
        consistent = db.session.scalar(
            select(func.count(Conversation.id)).where(
                mine,
                or_(
                    Conversation.message_count
                    != select(func.count(Message.id))
                    .where(Message.conversation_id == Conversation.id)
                    .scalar_subquery(),
                    Conversation.last_message_id
                    != select(func.max(Message.id)).where(Message.conversation_id == Conversation.id).scalar_subquery(),
                ),
            )
        )
        report = {
            "inserted": count,
            **inserted,
            "organization": organization.name,
            "officer": OFFICER_EMAIL,
            "conversations": db.session.scalar(select(func.count(Conversation.id)).where(mine)),
            "open_responses": db.session.scalar(
                select(func.count(Response.id))
                .join(Post, Post.id == Response.post_id)
                .where(Post.organization_id == organization.id, Response.state == ResponseState.OPEN)
            ),
            "unread_conversations": unread,
            "inconsistent_conversations": consistent,
            "long_conversation_id": long_id,
            "long_messages": counts[0] if long_id else 0,
            "long_last_message_id": counts[1],
            "long_unread": long_unread,
            "busy_post_id": busy_post.post_id
            if busy_post
            else db.session.scalar(  # none answered: its newest published post
                select(func.max(Post.id)).where(
                    Post.organization_id == organization.id, Post.state == PostState.PUBLISHED
                )
            ),
            "busy_responses": busy_post.responses if busy_post else 0,
            "published": db.session.scalar(select(func.count(Post.id)).where(Post.state == PostState.PUBLISHED)),
            "posts": db.session.scalar(select(func.count(Post.id))),
            "seconds": round(time.perf_counter() - started, 2),
        }
    return report


def read_row(conversation_id: int, user_id: int, marker: int, talk: list[dict]) -> dict:
    read_at = next(message["created_at"] for message in talk if message["id"] == marker)
    return {
        "conversation_id": conversation_id,
        "user_id": user_id,
        "last_read_message_id": marker,
        "read_at": read_at + timedelta(seconds=1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="conversations to add (default 200; 0: report only)")
    parser.add_argument("--messages", type=int, default=500, help="messages in the long conversation (default 500)")
    parser.add_argument("--seed", type=int, default=2015, help="random seed (the same data every run)")
    args = parser.parse_args()
    if not 0 <= args.count <= 10_000 or not LONG_UNREAD < args.messages <= 100_000:
        parser.error(f"--count must be in [0, 10,000] and --messages in [{LONG_UNREAD + 1}, 100,000]")
    json.dump(seed(args.count, args.messages, random.Random(args.seed)), sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
