"""Notification fan-out and mail delivery, measured in process.

- Publishing a post that concerns 1 officer and one that concerns 1,000: statements used and time, as a ratio
  (DESIGN §7 / the notifications issue: the fan-out must be a constant number of statements).
- The worker's messages per second to a local SMTP server (aiosmtpd on 127.0.0.1).

Run: .venv/bin/python bench/notifications.py [--followers 1000] [--messages 2000] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from sqlalchemy import event, insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bulletin import create_app  # noqa: E402
from bulletin.accounts.models import OrgRole, User, UserState  # noqa: E402
from bulletin.accounts.passwords import hash_password  # noqa: E402
from bulletin.core.db import utcnow  # noqa: E402
from bulletin.extensions import db  # noqa: E402
from bulletin.notifications.delivery import deliver_due  # noqa: E402
from bulletin.notifications.mail import queue_email  # noqa: E402
from bulletin.notifications.models import DeliveryMode, NotificationPreference  # noqa: E402
from bulletin.organizations.models import Organization, OrganizationKind  # noqa: E402
from bulletin.organizations.services import get_by_code, make_member, seed_organizations  # noqa: E402
from bulletin.posts.models import PostKind  # noqa: E402
from bulletin.posts.services import PostInput, approve_post, create_post  # noqa: E402


class Sink:
    """An SMTP server that only counts what it receives."""

    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        return "250 OK"


def counted(fn):
    statements = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    started = time.perf_counter()
    try:
        fn()
    finally:
        elapsed = time.perf_counter() - started
        event.remove(db.engine, "before_cursor_execute", listener)
    return len(statements), elapsed


def ward_officers(count: int, immediate: bool) -> None:
    """`count` active ward officers (they follow every new proposal by default), inserted in bulk."""
    wards = list(db.session.scalars(select(Organization).where(Organization.kind == OrganizationKind.SPECIAL_WARD)))
    password = hash_password("bench-password-long")
    now = utcnow()
    start = db.session.scalar(select(db.func.coalesce(db.func.max(User.id), 0))) + 1
    rows = [
        {
            "email": f"officer{start + n}@ward{n % len(wards)}.bench.jp",
            "password_hash": password,
            "name": f"職員{n}",
            "department": "",
            "phone": "",
            "organization_id": wards[n % len(wards)].id,
            "role": OrgRole.STAFF,
            "is_moderator": False,
            "state": UserState.ACTIVE,
            "locale": "ja",
            "session_version": 1,
            "created_at": now,
            "confirmed_at": now,
            "approved_at": now,
        }
        for n in range(count)
    ]
    db.session.execute(insert(User), rows)
    if immediate:
        db.session.execute(db.delete(NotificationPreference))
        ids = db.session.scalars(select(User.id).where(User.email.like("officer%@ward%.bench.jp")))
        db.session.execute(
            insert(NotificationPreference),
            [{"user_id": user_id, "kind": "post_published", "mode": DeliveryMode.IMMEDIATE} for user_id in ids],
        )
    db.session.commit()


def publish_to(author: User, moderator: User, title: str):
    post = create_post(
        author, PostInput(kind=PostKind.PROPOSAL, title=title, summary="ベンチ", category="events"), submit=True
    )
    db.session.commit()
    return counted(lambda: (approve_post(moderator, post, post.version), db.session.commit()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--json")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        sink = Sink()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        controller = Controller(sink, hostname="127.0.0.1", port=port)
        controller.start()
        app = create_app(
            {
                "ENV_NAME": "testing",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite",
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": port,
                "MAIL_FOLDER": f"{tmp}/mail",
                "UPLOAD_DIR": f"{tmp}/uploads",
                "ARGON2_TIME_COST": 1,
                "ARGON2_MEMORY_COST": 1024,
            }
        )
        os.chdir(tmp)
        with app.app_context():
            from flask_migrate import upgrade

            upgrade(directory=str(ROOT / "migrations"))
            seed_organizations()
            sakai = get_by_code("182109")
            make_member(sakai, utcnow().date())
            author = User(
                email="author@bench.jp",
                password_hash="x",
                name="著者",
                organization=sakai,
                state=UserState.ACTIVE,
                confirmed_at=utcnow(),
                approved_at=utcnow(),
            )
            moderator = User(
                email="mod@bench.jp",
                password_hash="x",
                name="事務局",
                is_moderator=True,
                state=UserState.ACTIVE,
                confirmed_at=utcnow(),
                approved_at=utcnow(),
            )
            db.session.add_all([author, moderator])
            db.session.commit()
            for mode in ("digest", "immediate"):
                ward_officers(1, immediate=mode == "immediate")
                one = publish_to(author, moderator, f"1人に届く投稿 {mode}")
                ward_officers(args.followers - 1, immediate=mode == "immediate")
                many = publish_to(author, moderator, f"{args.followers}人に届く投稿 {mode}")
                results[f"fanout_{mode}"] = {
                    "statements_1": one[0],
                    "statements_many": many[0],
                    "seconds_1": round(one[1], 4),
                    "seconds_many": round(many[1], 4),
                    "time_ratio": round(many[1] / one[1], 1),
                }
                db.session.execute(db.delete(NotificationPreference))
                db.session.execute(db.delete(User).where(User.email.like("officer%@ward%.bench.jp")))
                db.session.commit()
            # The worker's throughput: drain what the fan-out queued plus enough to reach --messages.
            for _ in range(args.messages):
                queue_email(moderator, "bench", "ベンチ", "password_changed", forgot_url="https://bench.jp/")
            db.session.commit()
            queued = sink.count
            started = time.perf_counter()
            report = deliver_due(include_waiting=True)
            elapsed = time.perf_counter() - started
            results["worker"] = {
                "sent": report.sent,
                "received": sink.count - queued,
                "seconds": round(elapsed, 2),
                "messages_per_second": round(report.sent / elapsed, 1),
            }
        controller.stop()
    for name, values in results.items():
        print(name, json.dumps(values, ensure_ascii=False))
    if args.json:
        Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
