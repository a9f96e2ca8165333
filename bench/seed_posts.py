"""Seed the benchmark's app database with published posts, fast: SQLAlchemy Core bulk inserts, no ORM objects.

run.py runs it after `bulletin demo`, with the app's environment (DATABASE_URL, ...), and reads one JSON object
from stdout:

    DATABASE_URL=sqlite:///PATH python bench/seed_posts.py [--count 10000] [--seed 2015]

    {"inserted": 10000, "posts": 10011, "published": 10005, "organizations": 312, "prefectures": 47,
     "search_word": "ジビエ", "search_matches": 100, "search_share": 0.01, "detail_post_id": 4834, ...}

("posts" counts every state, "published" and "search_share" the published ones, the demo's included.)

What it writes, as the app itself would have:
- Non-ward organizations of all 47 prefectures (municipalities and the prefectures themselves, a few of each
  prefecture) become members (`membership = 'member'`, `member_since` set), as on their first approved officer.
- `count` published posts: proposals from those organizations (90%) and calls from the 23 wards (10%), in
  every category, with Japanese titles, summaries, offers, needs and Markdown bodies from a few templates,
  published over the last 18 months, most with a deadline within the next year, some with a desired period.
- `body_html` is `bulletin.posts.rendering.render_markdown(body)` (each body template rendered once);
  `search_text` is built as `bulletin.posts.services.refresh_search_text` does (folded title, summary, offer,
  need, body, tags, venue and organization names, `bulletin.core.text.fold`).
- Target wards on about a third of the proposals (table post_target_ward), an accepted co-proposer on a few
  posts (co_proposer), attachment rows on about 3% (attachment; the files themselves are not written: list and
  detail pages only link them).
- Exactly 1% of the posts mention SEARCH_WORD, which nothing else contains: the search page's keyword.

`--count 0` inserts nothing and only reports (the demo's own posts): run.py uses it to count the pages' queries
with the demo's own posts. `detail_post_id` is the newest published post with the most attachments, target
wards and co-proposers, chosen the same way whatever the count.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import bindparam, func, insert, select, update

SEARCH_WORD = "ジビエ"
SEARCH_EVERY = 100  # one post in SEARCH_EVERY mentions SEARCH_WORD: 1%
MUNICIPALITIES_PER_PREFECTURE = 5
CALL_SHARE = 0.10
TARGETED_SHARE = 0.35  # of proposals
CO_PROPOSER_SHARE = 0.02
ATTACHMENT_SHARE = 0.03
NO_DEADLINE_SHARE = 0.15
PERIOD_SHARE = 0.5

# Specialities named in titles and summaries; none contains SEARCH_WORD (folded: じびえ).
PRODUCTS = (
    "りんご", "さくらんぼ", "ほたて", "牡蠣", "和牛", "地酒", "日本茶", "みかん", "梨", "新米", "手打ちそば",
    "干し柿", "メロン", "ぶどう", "白桃", "昆布", "焼き海苔", "原木しいたけ", "木工品", "手すき和紙", "漆器",
    "焼き物", "藍染め", "ワイン", "はちみつ", "チーズ", "柚子", "さつまいも", "栗", "寒ぶり",
)  # fmt: skip
SEASONS = ("春", "初夏", "夏休み", "秋", "冬", "年末", "新年度")
PLACES = ("区役所のロビー", "区民まつりの会場", "商店街の空き店舗", "区立公園", "区民ホール", "駅前広場", "区立小学校")

BODIES = (
    """## ねらい

{place}の魅力を区民の皆さまに直接お伝えし、観光や移住、ふるさと納税など、継続的な関係につなげたいと考えています。
これまでも首都圏で物産展を開いてきましたが、特別区の皆さまと連携することで、より多くの方に届けられると期待しています。

## 実施イメージ

- 期間：2〜3日間（週末を含むと助かります）
- 内容：特産品の販売と試食、観光パンフレットの配布、移住相談
- 体制：当市の職員と生産者あわせて5名程度

## お願いしたいこと

1. 会場のご紹介またはご提供
2. 区報・ホームページ・SNSでの告知
3. 当日の来場者動線についてのご助言

## これまでの実績

| 年度 | 会場 | 来場者数 |
| --- | --- | ---: |
| 令和5年度 | 都内の商業施設 | 約1,200人 |
| 令和6年度 | 都内のアンテナショップ | 約2,000人 |

ご関心をお持ちいただけましたら、まずはお気軽にご連絡ください。""",
    """## 背景

近年、大規模な災害が各地で続いており、平時からの顔の見える関係づくりが重要になっています。
当町では、災害時に相互に支援し合える関係を特別区の皆さまと築きたいと考えています。

## 提案の内容

- 防災担当職員の相互訪問と意見交換（年1回程度）
- 備蓄品・資機材の情報共有
- 区民向け防災イベントでの当町の取り組み紹介

## 期待される効果

災害時の応援職員派遣や物資の受け入れを円滑にするための **手順の確認** ができ、双方の防災力の向上につながります。

詳しい進め方はご相談のうえで決めたいと考えています。""",
    """## 概要

当村の豊かな自然を生かした体験プログラムを、区内の子どもたちとご家族に提供したいと考えています。

### プログラム例

- 田植え・稲刈り体験
- 森林の散策と木工体験
- 星空観察会

### 受け入れ体制

宿泊は村内の民宿・公共の宿を利用できます。移動は最寄り駅から村のバスで送迎します。
保険は当村で加入します。

## スケジュール

1. 参加者の募集（区の広報で告知いただけると助かります）
2. 事前説明会（オンライン）
3. 体験プログラムの実施（1泊2日）

区の教育委員会や子ども関係部署とも連携できれば幸いです。""",
    """## 提案の趣旨

地域の人材不足を背景に、職員の相互派遣や研修の受け入れを通じて、互いの施策を学び合う機会をつくりたいと考えています。

## 想定している内容

- 若手職員の短期派遣（1〜2週間）
- 観光・産業振興分野の合同研修
- オンラインでの定例の情報交換会

## 当方で用意できるもの

- 派遣職員の受け入れ部署の調整
- 研修プログラムの作成
- 宿舎のあっせん

派遣の期間や人数は、区の実情に合わせて柔軟に調整いたします。""",
    """## イベントの概要

当市の伝統芸能と食を紹介するイベントを、区内で開催したいと考えています。
郷土芸能の公演、特産品の販売、観光案内を一体で行うことで、地域の魅力を総合的に発信します。

## 内容

- 郷土芸能の公演（30分×2回）
- 特産品の販売ブース（3〜5区画）
- 観光・移住相談コーナー
- スタンプラリー

## 費用と人員

出演者・販売員の旅費は当市が負担します。会場の使用料や設営については、ご相談させてください。

> 過去の開催では、公演の時間帯に来場者が大きく増えました。

ご検討のほど、よろしくお願いいたします。""",
    """## 取り組みの背景

当市は森林面積が市域の8割を占め、間伐材の活用と脱炭素の取り組みを進めています。
区の公共施設で当市の木材を使っていただくことで、森林整備とCO2の吸収に貢献できます。

## 提案

- 区立施設の内装・家具への当市産木材の活用
- 森林環境譲与税を活用した連携事業
- 区民向けの森林ボランティアツアー

## 実績

他の自治体との連携で、保育園の内装や学校の机・椅子に当市産の木材を使っていただいています。

費用の分担や進め方については、個別にご相談させてください。""",
)

CALL_BODIES = (
    """## 募集の概要

区のイベントで、全国の自治体の物産展ブースを設けます。特産品の販売と観光PRにご参加ください。

## 条件

- 販売品は各自治体でご用意ください
- 搬入・搬出は各自治体でお願いします
- 出展は1自治体1区画です

## 申込方法

この掲示板の「共同提案」または事務局経由でご連絡ください。締切後、出展自治体を決定してご連絡します。""",
    """## 募集の趣旨

区内の小中学校で、全国の自治体と連携した体験学習を行っています。
農業体験、自然体験、伝統文化の体験などを受け入れていただける自治体を募集します。

## 想定している内容

- 5〜6年生の宿泊体験（2泊3日、40〜80名程度）
- 受け入れ先での体験プログラムの実施
- 事前・事後の交流授業（オンライン可）

費用の分担については個別にご相談させてください。""",
)

PROPOSALS = (
    # title, summary, offered, sought, body index, venue, cost sharing, categories, tags
    (
        "{name}の{product}を区民の皆さまに紹介する{season}の物産展",
        "{name}自慢の{product}を中心に、{season}に区内で物産展を開きたいと考えています。試食や観光PRも行います。",
        "{product}などの特産品（販売・試食）、生産者による解説、観光パンフレットと人員",
        "会場（{place}など）のご紹介、区報やSNSでの告知",
        0,
        "{place}",
        "特産品と人員は{name}が負担。会場費はご相談させてください。",
        ("products", "tourism"),
        ("物産展", "{product}", "観光PR"),
    ),
    (
        "災害時の相互応援に向けた{name}との連携のご提案",
        "{name}と特別区の間で、平時からの防災交流と災害時の相互応援の関係を築きたいと考えています。",
        "防災担当職員の派遣、備蓄品の情報提供、防災イベントへの出展",
        "防災部署との意見交換の機会、区民向け防災イベントへの参加枠",
        1,
        "オンライン・相互訪問",
        "それぞれの旅費は各自の負担とします。",
        ("disaster",),
        ("防災", "相互応援"),
    ),
    (
        "{name}での自然体験プログラムに区内の親子を招きたい（{season}）",
        "{name}の自然と{product}づくりを体験できるプログラムを、{season}に区内の子どもたちとご家族に提供します。",
        "体験プログラムの企画・運営、宿泊先のあっせん、現地での送迎",
        "参加者の募集と告知、教育委員会や子ども関係部署とのつなぎ",
        2,
        "{name}内の農園・森林",
        "プログラム費は{name}が負担。交通費は参加者の負担です。",
        ("education", "relocation", "agriculture"),
        ("自然体験", "親子", "{product}"),
    ),
    (
        "職員の相互派遣で学び合う：{name}からのご提案",
        "観光・産業振興分野の職員を相互に派遣し、{name}と区の施策を学び合う機会をつくりたいと考えています。",
        "派遣職員の受け入れ、研修プログラムの作成、宿舎のあっせん",
        "{name}の若手職員の受け入れ（1〜2週間）",
        3,
        "{name}の庁舎・区役所",
        "派遣職員の給与は派遣元、旅費と宿泊費は受け入れ側の負担を想定しています。",
        ("staff_exchange",),
        ("職員派遣", "研修"),
    ),
    (
        "{name}の伝統芸能と{product}を紹介するイベントを区内で",
        "{name}の郷土芸能の公演と{product}の販売を組み合わせたイベントを、{season}に{place}で開きたいと考えています。",
        "郷土芸能の出演者、{product}の販売ブース、観光・移住相談",
        "会場と電源のご提供、区の広報での告知",
        4,
        "{place}",
        "出演者・販売員の旅費は{name}が負担します。",
        ("events", "culture", "tourism"),
        ("伝統芸能", "{product}", "イベント"),
    ),
    (
        "{name}産の木材で区立施設を：森林整備と脱炭素の連携",
        "{name}の間伐材を区立施設の内装や家具に使っていただき、森林整備とCO2の吸収に一緒に取り組みませんか。",
        "木材と加工品の提供、森林ボランティアツアーの受け入れ",
        "区立施設での木材活用の検討、森林環境譲与税を活用した連携",
        5,
        "区立施設・{name}内の森林",
        "木材の加工費はご相談のうえで分担を決めたいと考えています。",
        ("environment", "agriculture"),
        ("木材", "脱炭素", "森林"),
    ),
    (
        "{season}の{product}フェアを区内の商店街で開きませんか",
        "{name}の{product}を使ったメニューやお土産を、区内の商店街の飲食店と一緒に提供するフェアを提案します。",
        "{product}の提供（卸価格）、生産者の派遣、ポスターやのぼり",
        "参加する商店街・飲食店のご紹介",
        0,
        "区内の商店街",
        "食材は卸価格でご提供します。販促物は{name}が負担します。",
        ("products", "tourism"),
        ("フェア", "{product}", "商店街"),
    ),
    (
        "{name}のスポーツ合宿・大会に区のチームを招待します",
        "{name}の体育施設を使ったスポーツ合宿や交流大会に、区内の少年団や学校の部活動を招待したいと考えています。",
        "体育施設の優先予約、宿泊先のあっせん、交流試合の相手チーム",
        "参加チームの募集と告知",
        2,
        "{name}の総合運動公園",
        "施設使用料は{name}が負担。交通費・宿泊費は参加者の負担です。",
        ("sports", "education"),
        ("スポーツ合宿", "交流大会"),
    ),
    (
        "外国人住民との共生に向けた{name}の取り組みの共有",
        "{name}で進めてきた多言語の情報発信や日本語教室の運営について、区の担当部署と情報交換したいと考えています。",
        "多言語の案内資料、日本語教室の運営ノウハウ、担当者の派遣",
        "区の取り組みのご紹介、合同研修の開催",
        3,
        "オンライン",
        "それぞれの費用は各自の負担とします。",
        ("multicultural", "other"),
        ("多文化共生", "日本語教室"),
    ),
)

CALLS = (
    (
        "{name}の{season}のイベントに出展する自治体を募集します",
        "{name}の{season}のイベントで、全国の自治体の物産展ブースを設けます。特産品の販売と観光PRにご参加ください。",
        "テント・机・電源付きのブース（1自治体1区画）、区の広報での出展自治体紹介",
        "特産品の販売と観光PRを行っていただける自治体",
        0,
        "{place}",
        "ブース代は区が負担。交通費・販売品は各自治体の負担。",
        ("events", "products"),
        ("物産展", "出展募集"),
    ),
    (
        "区内の小学生の体験学習を受け入れていただける自治体を募集（{season}）",
        "{name}の小学校の体験学習（宿泊2泊3日）を受け入れていただける自治体を募集します。",
        "参加児童と引率教員の派遣、交流授業の実施",
        "農業・自然・伝統文化の体験プログラムと宿泊先",
        1,
        "受け入れ自治体の施設",
        "費用の分担は個別にご相談させてください。",
        ("education", "agriculture"),
        ("体験学習", "小学生"),
    ),
)

ATTACHMENTS = (
    ("企画書.pdf", "application/pdf", 480_000, None, None),
    ("昨年度の開催報告.pdf", "application/pdf", 1_250_000, None, None),
    ("会場の写真.jpg", "image/jpeg", 820_000, 1600, 1200),
    ("特産品のチラシ.png", "image/png", 640_000, 1200, 1697),
)


def log(message: str) -> None:
    print(f"[seed_posts] {message}", file=sys.stderr, flush=True)


def pick_organizations(db, Organization, OrganizationKind, Membership, rng: random.Random, today: date):
    """A few non-ward organizations per prefecture (the prefecture and some municipalities) made members,
    as on their first approved officer; organizations already members are used as they are."""
    local_kinds = (OrganizationKind.CITY, OrganizationKind.TOWN, OrganizationKind.VILLAGE)
    rows = db.session.execute(
        select(
            Organization.id, Organization.name, Organization.prefecture_code, Organization.kind, Organization.membership
        )
        .where(Organization.kind.in_((*local_kinds, OrganizationKind.PREFECTURE)))
        .order_by(Organization.code)
    ).all()
    by_prefecture: dict[str, list] = {}
    for row in rows:
        by_prefecture.setdefault(row.prefecture_code, []).append(row)
    chosen, newly_members = [], []
    for prefecture in sorted(by_prefecture):
        candidates = by_prefecture[prefecture]
        prefectures = [row for row in candidates if row.kind == OrganizationKind.PREFECTURE]
        locals_ = [row for row in candidates if row.kind != OrganizationKind.PREFECTURE]
        picked = rng.sample(locals_, min(MUNICIPALITIES_PER_PREFECTURE, len(locals_))) + prefectures
        picked += [row for row in locals_ if row.membership == Membership.MEMBER and row not in picked]
        for row in picked:
            if row.membership != Membership.MEMBER:
                newly_members.append({"b_id": row.id, "since": today - timedelta(days=rng.randint(600, 3000))})
            chosen.append(row)
    if newly_members:
        table = Organization.__table__
        db.session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(membership=Membership.MEMBER, member_since=bindparam("since")),
            newly_members,
        )
    return chosen, len(newly_members)


def seed(count: int, rng: random.Random) -> dict:
    import bulletin
    from bulletin.core.text import fold, today_in_japan
    from bulletin.extensions import db
    from bulletin.organizations.models import Membership, Organization, OrganizationKind
    from bulletin.posts.categories import CATEGORIES
    from bulletin.posts.models import (
        Attachment,
        CoProposer,
        CoProposerState,
        Post,
        PostKind,
        PostState,
        post_target_ward,
    )
    from bulletin.posts.rendering import render_markdown

    app = bulletin.create_app()
    started = time.perf_counter()
    with app.app_context():
        now = datetime.now(UTC)
        today = today_in_japan()
        inserted = {"post": 0, "post_target_ward": 0, "co_proposer": 0, "attachment": 0, "members": 0}
        if count:
            wards = db.session.execute(
                select(Organization.id, Organization.name)
                .where(Organization.kind == OrganizationKind.SPECIAL_WARD)
                .order_by(Organization.code)
            ).all()
            posters, inserted["members"] = pick_organizations(
                db, Organization, OrganizationKind, Membership, rng, today
            )
            weights = [rng.uniform(0.2, 3.0) for _ in posters]  # some organizations post much more than others
            bodies = [(body, render_markdown(body), fold(body)) for body in BODIES]
            call_bodies = [(body, render_markdown(body), fold(body)) for body in CALL_BODIES]
            unknown = {c for template in (*PROPOSALS, *CALLS) for c in template[7]} - set(CATEGORIES)
            assert not unknown, unknown
            first_id = (db.session.scalar(select(func.max(Post.id))) or 0) + 1

            posts, targets, co_proposers, attachments = [], [], [], []
            for n in range(count):
                post_id = first_id + n
                is_call = rng.random() < CALL_SHARE
                if is_call:
                    organization = rng.choice(wards)
                    template = rng.choice(CALLS)
                    body, body_html, folded_body = call_bodies[template[4]]
                else:
                    organization = rng.choices(posters, weights)[0]
                    template = rng.choice(PROPOSALS)
                    body, body_html, folded_body = bodies[template[4]]
                product = SEARCH_WORD if n % SEARCH_EVERY == SEARCH_EVERY // 2 else rng.choice(PRODUCTS)
                names = {
                    "name": organization.name,
                    "product": product,
                    "season": rng.choice(SEASONS),
                    "place": rng.choice(PLACES),
                }
                title, summary, offered, sought, _, venue, cost_sharing, categories, tags = template
                values = {
                    key: text.format(**names)
                    for key, text in (
                        ("title", title),
                        ("summary", summary),
                        ("offered", offered),
                        ("sought", sought),
                        ("venue", venue),
                        ("cost_sharing", cost_sharing),
                    )
                }
                if product == SEARCH_WORD and "{product}" not in title + summary:
                    values["summary"] += f"{SEARCH_WORD}料理の試食もご用意します。"
                tag_list = list(dict.fromkeys(tag.format(**names) for tag in tags))
                published_at = now - timedelta(days=rng.uniform(0, 540))
                submitted_at = published_at - timedelta(hours=rng.uniform(1, 72))
                created_at = submitted_at - timedelta(days=rng.uniform(0, 14))
                desired_from = desired_until = None
                if rng.random() < PERIOD_SHARE:
                    desired_from = today + timedelta(days=rng.randint(30, 300))
                    desired_until = desired_from + timedelta(days=rng.randint(0, 60))
                deadline = None if rng.random() < NO_DEADLINE_SHARE else today + timedelta(days=rng.randint(1, 365))

                organization_names = [organization.name]
                if not is_call and rng.random() < CO_PROPOSER_SHARE:
                    partner = rng.choice(posters)
                    if partner.id != organization.id:
                        organization_names.append(partner.name)
                        co_proposers.append(
                            {
                                "post_id": post_id,
                                "organization_id": partner.id,
                                "state": CoProposerState.ACCEPTED,
                                "created_at": created_at,
                                "answered_at": submitted_at,
                            }
                        )
                if not is_call and rng.random() < TARGETED_SHARE:
                    for ward in rng.sample(wards, rng.choice((1, 1, 2, 3, 5))):
                        targets.append({"post_id": post_id, "organization_id": ward.id})
                if rng.random() < ATTACHMENT_SHARE:
                    for name, content_type, size, width, height in rng.sample(ATTACHMENTS, rng.randint(1, 3)):
                        attachments.append(
                            {
                                "post_id": post_id,
                                "original_name": name,
                                "stored_name": f"{uuid.UUID(int=rng.getrandbits(128)).hex}."
                                + {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}[content_type],
                                "content_type": content_type,
                                "size": size + rng.randint(0, 50_000),
                                "width": width,
                                "height": height,
                                "uploaded_by_id": None,
                                "created_at": created_at,
                            }
                        )
                # as services.refresh_search_text: folded parts joined by newlines, empty parts left out
                parts = [
                    fold(values["title"]),
                    fold(values["summary"]),
                    fold(values["offered"]),
                    fold(values["sought"]),
                    folded_body,
                    fold(" ".join(tag_list)),
                    fold(values["venue"]),
                    *(fold(name) for name in organization_names),
                ]
                posts.append(
                    {
                        "id": post_id,
                        "organization_id": organization.id,
                        "created_by_id": None,
                        "kind": PostKind.CALL if is_call else PostKind.PROPOSAL,
                        "state": PostState.PUBLISHED,
                        **values,
                        "body": body,
                        "body_html": body_html,
                        "category": rng.choice(categories),
                        "tags": ",".join(tag_list),
                        "desired_from": desired_from,
                        "desired_until": desired_until,
                        "deadline": deadline,
                        "search_text": "\n".join(part for part in parts if part),
                        "search_head": f"{parts[0]}\n{parts[1]}",  # as services.search_head
                        "created_at": created_at,
                        "updated_at": published_at,
                        "submitted_at": submitted_at,
                        "published_at": published_at,
                    }
                )
            built = time.perf_counter()
            for model_or_table, rows in (
                (Post, posts),
                (post_target_ward, targets),
                (CoProposer, co_proposers),
                (Attachment, attachments),
            ):
                table = getattr(model_or_table, "__table__", model_or_table)
                for start in range(0, len(rows), 2000):
                    db.session.execute(insert(table), rows[start : start + 2000])
                inserted[table.name] = len(rows)
            db.session.commit()
            log(
                f"{count} posts built in {built - started:.1f} s, inserted in {time.perf_counter() - built:.1f} s "
                f"({len(targets)} target wards, {len(co_proposers)} co-proposers, {len(attachments)} attachments)"
            )

        published = Post.state == PostState.PUBLISHED
        attachment_count = select(func.count(Attachment.id)).where(Attachment.post_id == Post.id).scalar_subquery()
        target_count = (
            select(func.count()).select_from(post_target_ward).where(post_target_ward.c.post_id == Post.id)
        ).scalar_subquery()
        co_count = select(func.count(CoProposer.id)).where(CoProposer.post_id == Post.id).scalar_subquery()
        detail_id = db.session.scalar(
            select(Post.id)
            .where(published, Post.kind == PostKind.PROPOSAL)
            .order_by(
                attachment_count.desc(),
                target_count.desc(),
                co_count.desc(),
                Post.published_at.desc(),
            )
            .limit(1)
        )
        matches = db.session.scalar(
            select(func.count(Post.id)).where(published, Post.search_text.contains(fold(SEARCH_WORD)))
        )
        total = db.session.scalar(select(func.count(Post.id)).where(published))
        report = {
            "inserted": count,
            "posts": db.session.scalar(select(func.count(Post.id))),
            "published": total,
            "organizations": db.session.scalar(select(func.count(func.distinct(Post.organization_id)))),
            "prefectures": db.session.scalar(
                select(func.count(func.distinct(Organization.prefecture_code))).join(
                    Post, Post.organization_id == Organization.id
                )
            ),
            "new_members": inserted["members"],
            "target_ward_rows": db.session.scalar(select(func.count()).select_from(post_target_ward)),
            "co_proposers": db.session.scalar(select(func.count(CoProposer.id))),
            "attachments": db.session.scalar(select(func.count(Attachment.id))),
            "search_word": SEARCH_WORD,
            "search_matches": matches,
            "search_share": matches / total if total else 0.0,
            "detail_post_id": detail_id,
            "detail_attachments": db.session.scalar(
                select(func.count(Attachment.id)).where(Attachment.post_id == detail_id)
            ),
            "detail_target_wards": db.session.scalar(
                select(func.count()).select_from(post_target_ward).where(post_target_ward.c.post_id == detail_id)
            ),
            "seconds": round(time.perf_counter() - started, 2),
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="posts to insert (default 10,000; 0: report only)")
    parser.add_argument("--seed", type=int, default=2015, help="random seed (the same data every run)")
    args = parser.parse_args()
    if not 0 <= args.count <= 1_000_000:
        parser.error("--count must be in [0, 1,000,000]")
    json.dump(seed(args.count, random.Random(args.seed)), sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
