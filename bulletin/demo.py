"""The demo world for `bulletin demo`: a believable board drawn from the project's real history.

The 2015 case of 坂井市 and 品川区 (黄金がに at しながわ水族館) as a published partnership case, and posts and
calls across categories and states: a Hokkaido marche for a ward festival, the ねぎサミット, 宇治茶 with 京都
やましろ, staff exchange for disaster support, a forest partnership funded by the forest environment tax.
Running it twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from bulletin.accounts.models import OrgRole, User, UserState
from bulletin.accounts.passwords import hash_password
from bulletin.core.db import utcnow
from bulletin.core.text import today_in_japan
from bulletin.extensions import db
from bulletin.organizations.services import confirm_domain, get_by_code, make_member
from bulletin.posts.models import Post, PostKind, PostState
from bulletin.posts.services import (
    PostInput,
    approve_post,
    close_post,
    create_post,
    expire_posts,
    reject_post,
)
from bulletin.responses.models import ResponseKind
from bulletin.responses.queries import responses_to
from bulletin.responses.services import (
    OutcomeInput,
    accept_response,
    consent_to_publication,
    publish_case,
    respond,
    update_outcome,
)

DEMO_PASSWORD = "kogane-gani-2015"
MODERATOR_EMAIL = "moderator@tokyo23.example.jp"


@dataclass(frozen=True)
class DemoOfficer:
    """A demo account: organization, address, name, department, and the domains the demo confirms."""

    code: str
    email: str
    name: str
    department: str
    domains: tuple[str, ...] = ()
    label: str = ""  # printed at start when set


OFFICERS = (
    DemoOfficer(
        "182109",
        "kanko@city.fukui-sakai.lg.jp",
        "坂井 花子",
        "観光交流課",
        ("city.fukui-sakai.lg.jp",),
        "坂井市 職員 (municipality)",
    ),
    DemoOfficer(
        "131091",
        "kouryu@city.shinagawa.lg.jp",
        "品川 太郎",
        "地域活動課",
        ("city.shinagawa.lg.jp", "city.shinagawa.tokyo.jp"),
        "品川区 職員 (ward)",
    ),
    DemoOfficer("901024", "renkei@town-assoc.hokkaido.example.jp", "北 広海", "地域振興課"),
    DemoOfficer("112186", "negi@city.fukaya.example.jp", "深谷 葱子", "商工振興課"),
    DemoOfficer("262048", "cha@city.uji.example.jp", "宇治 茶太郎", "観光振興課"),
    DemoOfficer("104442", "mori@vill.kawaba.example.jp", "川場 森夫", "むらづくり振興課"),
    DemoOfficer("042056", "bousai@city.kesennuma.example.jp", "気仙 沼子", "危機管理課"),
    DemoOfficer("032085", "tono@city.tono.example.jp", "遠野 語", "交流推進課"),
    DemoOfficer("131199", "matsuri@city.itabashi.example.jp", "板橋 祭", "産業振興課"),
    DemoOfficer("131075", "kiki@city.sumida.example.jp", "墨田 防", "防災課"),
    DemoOfficer("131121", "kouryu@city.setagaya.example.jp", "世田谷 交", "交流推進課"),
)


def _ensure_user(email: str, **values) -> User:
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        now = utcnow()
        user = User(
            email=email, password_hash=hash_password(DEMO_PASSWORD), confirmed_at=now, approved_at=now, **values
        )
        db.session.add(user)
        db.session.flush()
    return user


def create_demo_world() -> list[tuple[str, str, str]]:
    """Create the demo accounts and posts (idempotent); returns (role, e-mail, password) for the printed logins."""
    moderator = _ensure_user(
        MODERATOR_EMAIL, name="特別区長会事務局 モデレーター", is_moderator=True, state=UserState.ACTIVE
    )
    logins = [("事務局 (moderator)", MODERATOR_EMAIL, DEMO_PASSWORD)]
    officers: dict[str, User] = {}
    for officer in OFFICERS:
        organization = get_by_code(officer.code)
        if organization is None:
            raise RuntimeError(f"run `bulletin seed` first: no organization {officer.code}")
        make_member(organization, date(2015, 4, 1))
        for domain in officer.domains:
            confirm_domain(organization, domain, moderator.id)
        officers[officer.code] = _ensure_user(
            officer.email,
            name=officer.name,
            department=officer.department,
            organization=organization,
            role=OrgRole.ADMIN,
            state=UserState.ACTIVE,
        )
        if officer.label:
            logins.append((officer.label, officer.email, DEMO_PASSWORD))
    if db.session.scalar(select(Post.id).where(Post.title == SAKAI_CASE.values.title)) is None:
        _create_posts(moderator, officers)
    db.session.flush()
    return logins


@dataclass
class DemoPost:
    """A post of the demo world and what happens to it."""

    author: str  # organization code
    values: PostInput
    state: PostState = PostState.PUBLISHED
    responses: list[tuple[str, ResponseKind, str]] = field(default_factory=list)
    comment: str = ""  # for a returned post


def _later(days: int) -> date:
    return today_in_japan() + timedelta(days=days)


SAKAI_CASE = DemoPost(
    "182109",
    PostInput(
        kind=PostKind.PROPOSAL,
        title="三国港の「黄金がに」を区民の皆さまに紹介するPRイベント",
        summary="坂井市三国港で水揚げされる越前がにの中でも、特に大きく身の詰まった「黄金がに」の試食と観光PRを、"
        "区内の集客施設で行いたいと考えています。",
        offered="黄金がにの試食（約300食）、漁業関係者による解説、観光パンフレットと人員",
        sought="会場（水族館・商業施設など）のご紹介、区報やSNSでの告知",
        body="## ねらい\n\n三国港の冬の味覚を首都圏に届け、坂井市への来訪につなげます。\n\n"
        "## 実施イメージ\n\n- 11月下旬の週末を含む数日間\n- 試食とクイズ、漁師のトーク\n- 観光・移住相談のブース\n",
        category="products",
        tags=["黄金がに", "物産展", "観光PR"],
        venue="区内の集客施設（水族館など）",
        cost_sharing="食材・人員は坂井市が負担。会場費はご相談させてください。",
    ),
    responses=[
        (
            "131091",
            ResponseKind.OFFER,
            "しながわ水族館での開催をご提案します。11月18日から23日の6日間で、"
            "館内イベントスペースを使えるよう調整できます。",
        )
    ],
)

POSTS = (
    DemoPost(
        "131091",
        PostInput(
            kind=PostKind.CALL,
            title="しながわ宿場まつりの物産展に出展する自治体を募集します",
            summary="9月末の「しながわ宿場まつり」で、全国の自治体の物産展ブースを設けます。特産品の販売と観光PRに"
            "ご参加ください。",
            offered="テント・机・電源付きのブース（1自治体1区画）、区の広報での出展自治体紹介",
            sought="特産品の販売と観光PRを行っていただける自治体",
            body="## 日程\n\n9月下旬の土日（2日間）\n\n## 条件\n\n"
            "- 販売品は各自治体でご用意ください\n- 搬入・搬出は各自治体でお願いします\n",
            category="events",
            tags=["祭り", "物産展"],
            venue="旧東海道品川宿周辺",
            cost_sharing="ブース代は区が負担。交通費・販売品は各自治体の負担。",
        ),
        responses=[
            ("182109", ResponseKind.INTEREST, "坂井市として出展を希望します。らっきょうと越前織の販売を考えています。")
        ],
    ),
    DemoPost(
        "901024",
        PostInput(
            kind=PostKind.PROPOSAL,
            title="区民まつりに「北海道マルシェ」を出店しませんか",
            summary="北海道町村会の町村が合同で、農産物・水産加工品・スイーツを販売する「北海道マルシェ」を区民まつりに"
            "出店します。複数の町村がまとまって出るので、区の負担は会場の区画だけです。",
            offered="10町村前後による合同販売、観光PR、移住相談",
            sought="区民まつり等での出店区画（テント2〜3張分）",
            category="products",
            tags=["北海道", "マルシェ", "区民まつり"],
            venue="区民まつりの会場",
        ),
        responses=[
            (
                "131199",
                ResponseKind.INTEREST,
                "板橋区民まつり（10月）での出店をご検討いただけますか。区画の大きさを相談させてください。",
            )
        ],
    ),
    DemoPost(
        "112186",
        PostInput(
            kind=PostKind.PROPOSAL,
            title="全国ねぎサミットに区の物産ブースを出展しませんか",
            summary="全国のねぎの産地が集まる「全国ねぎサミット」で、特別区の物産・観光ブースの出展区を募ります。",
            offered="出展ブース（無料）、会場での案内放送",
            sought="区の観光PRや区内の名店の出張販売",
            category="events",
            tags=["ねぎサミット", "深谷ねぎ"],
            venue="深谷市内の会場",
        ),
    ),
    DemoPost(
        "262048",
        PostInput(
            kind=PostKind.PROPOSAL,
            title="宇治茶の淹れ方教室と「京都やましろ」観光PRを区内で",
            summary="宇治茶の産地・京都やましろ地域の市町村と連携し、区内の図書館や地域センターで宇治茶の淹れ方教室と"
            "観光PRを行いたいと考えています。",
            offered="茶師による講座（1回20人程度）、茶葉のお土産、観光パンフレット",
            sought="会場と参加者の募集",
            category="culture",
            tags=["宇治茶", "京都やましろ", "講座"],
            venue="区内の図書館・地域センター",
        ),
        responses=[
            (
                "131121",
                ResponseKind.QUESTION,
                "区内の地域センターで実施する場合、必要な設備（給湯など）を教えてください。",
            )
        ],
    ),
    DemoPost(
        "131075",
        PostInput(
            kind=PostKind.CALL,
            title="災害時の相互応援に向けた職員派遣・研修交流の相手自治体を募集します",
            summary="大規模災害時の相互応援を見据え、平時から職員を派遣し合う研修交流の相手となる自治体を募集します。",
            offered="防災部門への職員受け入れ（1〜2週間）、区の備蓄・避難所運営の視察",
            sought="被災経験のある自治体での研修受け入れ、応援協定の検討",
            category="disaster",
            tags=["防災", "職員派遣", "相互応援"],
            cost_sharing="派遣職員の旅費は派遣元の負担",
        ),
    ),
    DemoPost(
        "104442",
        PostInput(
            kind=PostKind.PROPOSAL,
            title="森林環境譲与税を活用した森づくりと区民の森林体験",
            summary="区の森林環境譲与税を活用して村の森林整備を行い、区民の皆さまに植樹や間伐の体験に来ていただく"
            "連携を提案します。",
            offered="森林整備の実施と報告、年2回の森林体験ツアーの受け入れ",
            sought="森林環境譲与税の活用先としてのご検討、区民への参加呼びかけ",
            category="environment",
            tags=["森林環境譲与税", "脱炭素", "森林体験"],
        ),
        state=PostState.PENDING,
    ),
    DemoPost(
        "042056",
        PostInput(
            kind=PostKind.PROPOSAL,
            title="震災伝承と防災教育の出前授業",
            summary="震災の経験を伝える語り部と市職員が、区内の小中学校で防災教育の出前授業を行います。",
            category="education",
            tags=["防災教育", "震災伝承"],
        ),
        state=PostState.REJECTED,
        comment="対象学年と1回あたりの時間、費用負担の考え方を書き加えてください。",
    ),
    DemoPost(
        "182109",
        PostInput(
            kind=PostKind.PROPOSAL,
            title="東尋坊と丸岡城の観光PRキャラバン（下書き）",
            summary="区内の商店街で、東尋坊・丸岡城の観光PRキャラバンを行いたい。",
            category="tourism",
            tags=["東尋坊", "丸岡城"],
        ),
        state=PostState.DRAFT,
    ),
    DemoPost(
        "131199",
        PostInput(
            kind=PostKind.CALL,
            title="区民向け農業体験の受け入れ自治体を募集します（夏休み）",
            summary="夏休みに区内の親子が参加する農業体験ツアーの受け入れ先を募集しました。",
            category="agriculture",
            tags=["農業体験", "親子"],
        ),
        state=PostState.EXPIRED,
    ),
    DemoPost(
        "032085",
        PostInput(
            kind=PostKind.PROPOSAL,
            title="遠野の物語を体験するワーケーションと関係人口づくり",
            summary="区の職員や区民の方に、遠野での短期滞在型ワーケーションと地域の方との交流を体験していただく"
            "プログラムを提案します。",
            category="relocation",
            tags=["ワーケーション", "関係人口"],
        ),
        state=PostState.CLOSED,
    ),
)


def _create_post(moderator: User, officers: dict[str, User], demo: DemoPost) -> Post:
    author = officers[demo.author]
    values = demo.values
    if demo.state in (PostState.PUBLISHED, PostState.PENDING):
        values.deadline = values.deadline or _later(60)
    post = create_post(author, values, submit=demo.state != PostState.DRAFT)
    if demo.state == PostState.REJECTED:
        reject_post(moderator, post, post.version, demo.comment)
    elif demo.state not in (PostState.DRAFT, PostState.PENDING):
        approve_post(moderator, post, post.version)
    for code, kind, message in demo.responses:
        respond(officers[code], post, kind, message)
    if demo.state == PostState.CLOSED:
        close_post(author, post, "no_longer_seeking")
    if demo.state == PostState.EXPIRED:
        post.deadline = today_in_japan() - timedelta(days=30)
        db.session.flush()
        expire_posts()
    return post


def _create_posts(moderator: User, officers: dict[str, User]) -> None:
    _create_sakai_case(moderator, officers)
    for demo in POSTS:
        _create_post(moderator, officers, demo)


def _create_sakai_case(moderator: User, officers: dict[str, User]) -> None:
    """The 2015 proposal, answered by 品川区, accepted, held at しながわ水族館 and published as a case."""
    sakai, shinagawa = officers["182109"], officers["131091"]
    post = _create_post(moderator, officers, SAKAI_CASE)
    [response] = responses_to(post)
    partnership = accept_response(sakai, response)
    close_post(sakai, post, "partnered")
    update_outcome(
        shinagawa,
        partnership,
        OutcomeInput(
            title="しながわ水族館で坂井市「黄金がに」PRイベント",
            held_from=date(2015, 11, 18),
            held_until=date(2015, 11, 23),
            venue="しながわ水族館",
            summary="坂井市が掲示板に書き込んだ提案に品川区が応え、しながわ水族館で三国港の「黄金がに」の展示と"
            "試食、観光PRを6日間行いました。掲示板から生まれた最初の連携です。",
        ),
    )
    consent_to_publication(shinagawa, partnership)
    consent_to_publication(sakai, partnership)
    publish_case(moderator, partnership)
    # The case happened in 2015 (平成27年): date it so, every date in order (the services stamp today's).
    published = datetime(2015, 10, 1, 1, 0, tzinfo=UTC)
    post.published_at, post.submitted_at, post.created_at = published, published, published
    post.desired_from, post.desired_until, post.deadline = date(2015, 11, 14), date(2015, 11, 29), date(2015, 10, 16)
    response.created_at = published + timedelta(days=5)
    partnership.agreed_on = date(2015, 10, 20)
    partnership.created_at = datetime(2015, 10, 20, 1, 0, tzinfo=UTC)
    post.updated_at = response.decided_at = partnership.created_at
    consented = datetime(2015, 12, 1, 1, 0, tzinfo=UTC)
    partnership.outcome_updated_at = consented
    partnership.post_organization_consent_at = partnership.partner_organization_consent_at = consented
    partnership.published_at = consented + timedelta(days=7)
    db.session.flush()
