"""The demo world for `bulletin demo`: officers of 坂井市 and 品川区 and a moderator, with confirmed domains."""

from __future__ import annotations

from sqlalchemy import select

from bulletin.accounts.models import OrgRole, User, UserState
from bulletin.accounts.passwords import hash_password
from bulletin.core.db import utcnow
from bulletin.extensions import db
from bulletin.organizations.models import Organization
from bulletin.organizations.services import confirm_domain, make_member

DEMO_PASSWORD = "kogane-gani-2015"

DEMO_OFFICERS = (
    # role label, org code, e-mail, name, department, extra domains to confirm
    (
        "坂井市 職員 (municipality)",
        "182109",
        "kanko@city.fukui-sakai.lg.jp",
        "坂井 花子",
        "観光交流課",
        ("city.fukui-sakai.lg.jp",),
    ),
    (
        "品川区 職員 (ward)",
        "131091",
        "kouryu@city.shinagawa.lg.jp",
        "品川 太郎",
        "地域活動課",
        ("city.shinagawa.lg.jp", "city.shinagawa.tokyo.jp"),
    ),
)
DEMO_MODERATOR = ("事務局 (moderator)", "moderator@tokyo23.example.jp", "特別区長会事務局 モデレーター")


def _ensure_user(email: str, **values) -> User:
    user = db.session.scalar(select(User).where(User.email == email))
    now = utcnow()
    if user is None:
        user = User(
            email=email, password_hash=hash_password(DEMO_PASSWORD), confirmed_at=now, approved_at=now, **values
        )
        db.session.add(user)
    return user


def create_demo_world() -> list[tuple[str, str, str]]:
    """Create the demo accounts (idempotent); returns (role, e-mail, password) for each login."""
    logins = []
    moderator = _ensure_user(DEMO_MODERATOR[1], name=DEMO_MODERATOR[2], is_moderator=True, state=UserState.ACTIVE)
    db.session.flush()
    logins.append((DEMO_MODERATOR[0], DEMO_MODERATOR[1], DEMO_PASSWORD))
    for label, code, email, name, department, domains in DEMO_OFFICERS:
        organization = db.session.scalar(select(Organization).where(Organization.code == code))
        make_member(organization, utcnow().date())
        for domain in domains:
            confirm_domain(organization, domain, moderator.id)
        _ensure_user(
            email,
            name=name,
            department=department,
            organization=organization,
            role=OrgRole.ADMIN,
            state=UserState.ACTIVE,
            phone="",
        )
        logins.append((label, email, DEMO_PASSWORD))
    db.session.flush()
    return logins
