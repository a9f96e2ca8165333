"""The demo world for `bulletin demo`: officers of 坂井市 and 品川区 and a moderator, with confirmed domains."""

from __future__ import annotations

from sqlalchemy import select

from bulletin.accounts.models import OrgRole, User, UserState
from bulletin.accounts.passwords import hash_password
from bulletin.core.db import utcnow
from bulletin.extensions import db
from bulletin.organizations.models import Organization
from bulletin.organizations.services import confirm_domain, make_member
from bulletin.posts.models import Post, PostKind
from bulletin.posts.services import PostInput, approve_post, create_post, today_in_japan

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
    _create_demo_posts(moderator)
    return logins


def _officer(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


DEMO_POSTS = (
    (
        "kanko@city.fukui-sakai.lg.jp",
        PostInput(
            kind=PostKind.PROPOSAL,
            title="三国港の「黄金がに」を区民の皆さまに紹介するPRイベント",
            summary="坂井市三国港で水揚げされる越前がに「黄金がに」の試食と観光PRを、区内の集客施設で行いたいと考えています。",
            offered="黄金がにの試食（約300食）、漁業関係者による解説、観光パンフレットと人員",
            sought="会場（水族館・商業施設など）のご紹介、区報やSNSでの告知",
            body="## ねらい\n\n三国港の冬の味覚を首都圏に届け、坂井市への来訪につなげます。\n\n"
            "## 実施イメージ\n\n- 11月下旬の週末を含む数日間\n- 試食とクイズ、漁師のトーク\n- 観光・移住相談のブース\n",
            category="products",
            tags=["黄金がに", "物産展", "観光PR"],
            venue="区内の集客施設（水族館など）",
            cost_sharing="食材・人員は坂井市が負担。会場費はご相談させてください。",
        ),
        True,
    ),
    (
        "kouryu@city.shinagawa.lg.jp",
        PostInput(
            kind=PostKind.CALL,
            title="しながわ宿場まつりの物産展に出展する自治体を募集します",
            summary="9月末の「しながわ宿場まつり」で、全国の自治体の物産展ブースを設けます。特産品の販売と観光PRにご参加ください。",
            offered="テント・机・電源付きのブース（1自治体1区画）、区の広報での出展自治体紹介",
            sought="特産品の販売と観光PRを行っていただける自治体",
            body="## 日程\n\n9月下旬の土日（2日間）\n\n## 条件\n\n"
            "- 販売品は各自治体でご用意ください\n- 搬入・搬出は各自治体でお願いします\n",
            category="events",
            tags=["祭り", "物産展"],
            venue="旧東海道品川宿周辺",
            cost_sharing="ブース代は区が負担。交通費・販売品は各自治体の負担。",
        ),
        True,
    ),
)


def _create_demo_posts(moderator: User) -> None:
    """A published proposal from 坂井市 and a call from 品川区, once."""
    today = today_in_japan()
    for email, values, publish in DEMO_POSTS:
        if db.session.scalar(select(Post.id).where(Post.title == values.title)) is not None:
            continue
        values.deadline = today.replace(year=today.year + 1)
        post = create_post(_officer(email), values, submit=True)
        if publish:
            approve_post(moderator, post)
