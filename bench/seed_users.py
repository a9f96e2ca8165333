"""Give bench/load.py its users: one officer per organization, half of them special wards, half the other side.

load.py runs it after `bulletin demo` and bench/seed_posts.py, with the app's environment, and reads one JSON object
from stdout:

    DATABASE_URL=sqlite:///PATH python bench/seed_users.py [--clients 20]

    {"clients": [{"email": "kouryu@city.shinagawa.lg.jp", "side": "ward", "organization": "品川区", ...}, ...],
     "proposals": [...], "calls": [...], "users_added": 9, "search_words": [...], "categories": [...], ...}

- Wards (`(clients + 1) // 2`): the demo's wards with their officers first (品川区, 板橋区, 墨田区, 世田谷区), then
  the other special wards in code order, each made a member and given one officer.
- The other side (`clients // 2`): the demo's municipalities and association with their officers first (坂井市, ...),
  then the member organizations with the most published proposals (bench/seed_posts.py's), each given one officer.
- New officers are `load-<code>@bench.example.jp`, active, with the demo password (one argon2 hash for all).
- `proposals` and `calls` are the published posts of those organizations: what the other side's clients answer, so
  that every response and message notifies (and mails) a client.
- On PostgreSQL the id sequences are moved past the largest ids: bench/seed_posts.py inserts posts with their ids.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, date, datetime

import seed_posts  # the search words (bench/ is on sys.path when this runs as a script)
from sqlalchemy import func, select, text

DEMO_PASSWORD = "kogane-gani-2015"
POOL_LIMIT = 1_000  # posts of each side handed to the clients
MEMBER_SINCE = date(2015, 4, 1)


def log(message: str) -> None:
    """A progress line on stderr (stdout carries the JSON)."""
    print(f"[seed_users] {message}", file=sys.stderr, flush=True)


def reset_sequences(db) -> int:
    """PostgreSQL: every `id` sequence set to the table's largest id; the number of sequences moved."""
    moved = 0
    for table in db.metadata.sorted_tables:
        if "id" not in table.c or not table.c.id.primary_key:
            continue
        quoted = '"' + table.name.replace('"', '""') + '"'
        sequence = db.session.scalar(text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": quoted})
        if sequence:
            db.session.execute(
                text(f"SELECT setval(:sequence, COALESCE((SELECT MAX(id) FROM {quoted}), 0) + 1, false)"),
                {"sequence": sequence},
            )
            moved += 1
    return moved


def seed(clients: int) -> dict:
    """Pick the organizations, add the officers they lack, and report the clients and the posts they answer."""
    import bulletin
    from bulletin.accounts.models import OrgRole, User, UserState
    from bulletin.accounts.passwords import hash_password
    from bulletin.extensions import db
    from bulletin.organizations.models import Membership, Organization, OrganizationKind
    from bulletin.organizations.services import make_member
    from bulletin.posts.categories import CATEGORIES
    from bulletin.posts.models import Post, PostKind, PostState

    app = bulletin.create_app()
    started = time.perf_counter()
    with app.app_context():
        officers: dict[int, User] = {}
        for user in db.session.scalars(
            select(User)
            .where(User.state == UserState.ACTIVE, User.organization_id.is_not(None), User.is_moderator.is_(False))
            .order_by(User.id)
        ):
            officers.setdefault(user.organization_id, user)
        ward = OrganizationKind.SPECIAL_WARD
        wards = list(db.session.scalars(select(Organization).where(Organization.kind == ward)))
        wards.sort(key=lambda organization: (organization.id not in officers, organization.code))
        proposals = (
            select(Post.organization_id, func.count().label("posts"))
            .where(Post.kind == PostKind.PROPOSAL, Post.state == PostState.PUBLISHED)
            .group_by(Post.organization_id)
            .subquery()
        )
        others = db.session.execute(
            select(Organization, func.coalesce(proposals.c.posts, 0))
            .outerjoin(proposals, proposals.c.organization_id == Organization.id)
            .where(Organization.kind != ward, Organization.membership == Membership.MEMBER)
        ).all()
        others.sort(key=lambda row: (row[0].id not in officers, -row[1], row[0].code))
        chosen = [("ward", organization) for organization in wards[: (clients + 1) // 2]]
        chosen += [("municipality", row[0]) for row in others[: clients // 2]]
        if len(chosen) < clients:
            raise SystemExit(f"only {len(chosen)} organizations for {clients} clients: seed more posts")

        password_hash = None
        added = 0
        for _side, organization in chosen:
            make_member(organization, MEMBER_SINCE)
            if organization.id in officers:
                continue
            password_hash = password_hash or hash_password(DEMO_PASSWORD)
            now = datetime.now(UTC)
            user = User(
                email=f"load-{organization.code}@bench.example.jp",
                password_hash=password_hash,
                name=f"{organization.name} 連携担当",
                department="企画課",
                organization=organization,
                role=OrgRole.STAFF,
                state=UserState.ACTIVE,
                confirmed_at=now,
                approved_at=now,
            )
            db.session.add(user)
            officers[organization.id] = user
            added += 1
        db.session.flush()

        def pool(side: str, kind: PostKind) -> list[int]:
            ids = [organization.id for chosen_side, organization in chosen if chosen_side == side]
            return list(
                db.session.scalars(
                    select(Post.id)
                    .where(Post.organization_id.in_(ids), Post.kind == kind, Post.state == PostState.PUBLISHED)
                    .order_by(Post.id.desc())
                    .limit(POOL_LIMIT)
                )
            )

        report = {
            "clients": [
                {
                    "email": officers[organization.id].email,
                    "side": side,
                    "organization": organization.name,
                    "code": organization.code,
                    "prefecture": organization.prefecture_code,
                }
                for side, organization in chosen
            ],
            "proposals": pool("municipality", PostKind.PROPOSAL),
            "calls": pool("ward", PostKind.CALL),
            "users_added": added,
            "categories": list(CATEGORIES),
            "search_words": [seed_posts.SEARCH_WORD, *seed_posts.PRODUCTS[:12], "物産展", "防災", "区民まつり"],
            "sequences_reset": reset_sequences(db) if db.engine.dialect.name == "postgresql" else 0,
        }
        db.session.commit()
    report["seconds"] = round(time.perf_counter() - started, 2)
    log(
        f"{len(report['clients'])} clients ({added} officers added); {len(report['proposals'])} proposals and "
        f"{len(report['calls'])} calls of theirs to answer"
    )
    return report


def main() -> None:
    """Parse the arguments, seed, print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20, help="officers to provide (default 20)")
    args = parser.parse_args()
    if not 2 <= args.clients <= 40:
        parser.error("--clients must be in [2, 40]")
    json.dump(seed(args.clients), sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
