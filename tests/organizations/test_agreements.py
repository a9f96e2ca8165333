"""Broad-area agreements as pages: the 13 seeded ones listed with date and member count, each member linked to its
posts; moderators add an agreement, replace its members by code or from a CSV file, all or nothing, with a report of
every wrong line; the record counts what they record."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from sqlalchemy import select

from bulletin.core.audit import ModerationDecision
from bulletin.extensions import db
from bulletin.organizations.codes import association_code
from bulletin.organizations.models import Agreement, Organization
from bulletin.posts import services as posts
from tests.constants import KUSHIRO_TOWN, SAKAI, SHINAGAWA
from tests.factories import assert_field_error, assert_unchanged, database_state, page_of, text_of
from tests.posts.test_queries import MAX_QUERIES, cost

HOKKAIDO_TOWNS = association_code("01", "towns")
NAGANO_TOWNS = association_code("20", "towns")
NAGANO, MATSUMOTO, UEDA = "202011", "202029", "202037"  # three cities of 長野県


def agreement_of(code: str) -> Agreement:
    """The agreement with the association of this code, as the database has it now."""
    db.session.expire_all()
    return db.session.scalar(select(Agreement).join(Agreement.association).where(Organization.code == code))


def test_the_list_gives_the_13_agreements_with_their_dates_and_member_counts(client, auth, people, count_queries):
    page = page_of(client.get("/agreements"))
    rows = [e for e in page.all("tr") if "data-agreement" in e.attrs]
    assert len(rows) == 13
    first = " ".join(rows[0].text.split())
    assert "北海道町村会" in first and "平成28年4月26日（2016-04-26）" in first and "144市町村" in first
    assert "山梨県町村会" in rows[-1].text and "令和元年10月26日（2019-10-26）" in rows[-1].text
    auth.login(people.moderator)
    assert cost(client, count_queries, "/agreements") <= MAX_QUERIES


def test_an_agreements_members_link_to_their_posts(client, auth, people, make_post):
    make_post(people.kushiro, title="釧路町の湿原ツアー")
    make_post(people.sakai, title="坂井市の黄金がに")
    hokkaido = agreement_of(HOKKAIDO_TOWNS)
    page = page_of(client.get(f"/agreements/{hokkaido.id}"))
    members = [e for e in page.all("li") if "data-code" in e.attrs]
    assert len(members) == 144 and members[0].attrs["data-code"] < members[-1].attrs["data-code"]
    links = [a.attrs["href"] for a in page.all("a") if a.attrs.get("href", "").startswith("/posts?")]
    assert f"/posts?organization={KUSHIRO_TOWN}" in links and len(links) == 144
    auth.login(people.shinagawa)
    listed = text_of(client.get(f"/posts?organization={KUSHIRO_TOWN}"))
    assert "釧路町の湿原ツアー" in listed and "坂井市の黄金がに" not in listed
    assert "北海道 釧路町の投稿（共同提案を含む）に絞り込んでいます。" in listed
    assert "坂井市の黄金がに" in text_of(client.get("/posts?organization=123"))  # not a code: no filter
    assert client.get("/agreements/99999").status_code == 404


def test_a_municipalitys_posts_include_those_it_co_proposes(client, auth, people, make_post, organization):
    joint = make_post(people.sakai, title="坂井市と釧路町の合同物産展")
    invitation = posts.invite_co_proposer(people.sakai, joint, organization(KUSHIRO_TOWN))
    posts.answer_co_proposal(people.kushiro, invitation, accept=True)
    declined = make_post(people.sakai, title="釧路町が断った提案")
    posts.answer_co_proposal(
        people.kushiro, posts.invite_co_proposer(people.sakai, declined, organization(KUSHIRO_TOWN)), accept=False
    )
    db.session.commit()
    auth.login(people.shinagawa)
    listed = text_of(client.get(f"/posts?organization={KUSHIRO_TOWN}"))
    assert "坂井市と釧路町の合同物産展" in listed and "釧路町が断った提案" not in listed


def test_a_moderator_adds_an_agreement_then_its_members(client, auth, people):
    auth.login(people.moderator)
    response = client.post(
        "/agreements", data={"prefecture": "20", "kind": "towns", "name": "", "concluded_on": "2020-01-20"}
    )
    agreement = agreement_of(NAGANO_TOWNS)
    assert response.headers["Location"] == f"/agreements/{agreement.id}"
    assert agreement.association.name == "長野県町村会" and agreement.association.member_since == date(2020, 1, 20)
    assert agreement.members == []
    response = client.post(f"/agreements/{agreement.id}/members", data={"codes": f"{NAGANO}\n20202,松本市\n"})
    assert response.status_code == 302
    assert [member.code for member in agreement_of(NAGANO_TOWNS).members] == [NAGANO, MATSUMOTO]
    actions = db.session.scalars(
        select(ModerationDecision.action).where(ModerationDecision.subject_id == agreement.association_id)
    ).all()
    assert actions == ["add_agreement", "change_agreement_members"]
    record = text_of(client.get("/stats.csv"))
    covered = next(line for line in record.splitlines() if line.startswith("広域連携協定 締結自治体数"))
    assert covered.split(",")[1:6] == ["210", "236", "321", "321", "374"]  # dated after 1 August 2019: from FY2020


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"prefecture": "19", "kind": "towns"}, "kind", "この団体との協定はすでに登録されています。"),
        ({"prefecture": "99", "kind": "towns"}, "prefecture", "都道府県を選んでください。"),
        ({"prefecture": "20", "kind": "wards"}, "kind", "市長会か町村会かを選んでください。"),
        ({"prefecture": "20", "kind": "towns", "concluded_on": ""}, "concluded_on", "締結日を入力してください。"),
        ({"prefecture": "20", "kind": "towns", "concluded_on": "2999-01-01"}, "concluded_on", "今日より後の日付"),
    ],
)
def test_a_wrong_agreement_is_refused_and_changes_nothing(client, auth, people, data, field, message):
    auth.login(people.moderator)
    before = database_state()
    response = client.post("/agreements", data={"name": "", "concluded_on": "2020-01-20", **data})
    assert response.status_code == 400
    assert_field_error(response, field, message)
    assert_unchanged(before)


def problems_of(response) -> list[tuple[str, str, str]]:
    html = text_of(response)
    return [
        (line, code, message)
        for line, code, message in re.findall(
            r'<tr data-line="(\d+)"><td>\d+</td><td>([^<]*)</td><td>([^<]*)</td></tr>', html
        )
    ]


def test_a_member_list_with_wrong_lines_changes_nothing_and_names_each(client, auth, people):
    auth.login(people.moderator)
    yamanashi = agreement_of(association_code("19", "towns"))
    before = database_state()
    codes = "\n".join(
        [
            f"{NAGANO},長野市",
            "999999",
            "",
            SHINAGAWA,
            f"{NAGANO}",
            f"{UEDA},松本市",
            "abc",
            f"{MATSUMOTO},長野県 松本市",
        ]
    )
    response = client.post(f"/agreements/{yamanashi.id}/members", data={"codes": codes})
    assert response.status_code == 400
    assert problems_of(response) == [
        ("2", "999999", "団体コードの形ではありません（6桁、または5桁）。"),
        ("4", SHINAGAWA, "このコードの市町村はありません。"),
        ("5", NAGANO, "1行目と同じ市町村です。"),
        ("6", UEDA, "名前が違います（このコードは長野県 上田市です）。"),
        ("7", "abc", "団体コードの形ではありません（6桁、または5桁）。"),
    ]
    assert_field_error(response, "codes", "5行に誤りがあります。すべての行を直すまで、構成市町村は変わりません。")
    assert_unchanged(before)
    assert len(agreement_of(association_code("19", "towns")).members) == 14


def csv_file(text: str, encoding: str = "utf-8-sig", name: str = "members.csv") -> tuple[io.BytesIO, str]:
    return io.BytesIO(text.encode(encoding)), name


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "cp932"])
def test_a_csv_file_replaces_the_members_in_one_go(client, auth, people, encoding):
    auth.login(people.moderator)
    yamanashi = agreement_of(association_code("19", "towns"))
    upload = csv_file(f"団体コード,団体名\r\n{NAGANO},長野市\r\n{UEDA},上田市\r\n", encoding)
    response = client.post(f"/agreements/{yamanashi.id}/import", data={"file": upload})
    assert response.status_code == 302
    assert [member.code for member in agreement_of(association_code("19", "towns")).members] == [NAGANO, UEDA]


def test_a_csv_file_with_one_bad_line_changes_nothing_and_names_the_line(client, auth, people):
    auth.login(people.moderator)
    yamanashi = agreement_of(association_code("19", "towns"))
    before = database_state()
    upload = csv_file(f"code,name\n{NAGANO},長野市\n{SAKAI}0\n{UEDA},上田市\n")
    response = client.post(f"/agreements/{yamanashi.id}/import", data={"file": upload})
    assert response.status_code == 400
    assert problems_of(response) == [("3", f"{SAKAI}0", "団体コードの形ではありません（6桁、または5桁）。")]
    assert_unchanged(before)
    response = client.post(
        f"/agreements/{yamanashi.id}/import", data={"file": (io.BytesIO(b"\x89PNG\x00\x01"), "a.csv")}
    )
    assert_field_error(response, "file", "ファイルを読み取れません。")
    response = client.post(f"/agreements/{yamanashi.id}/import", data={})
    assert_field_error(response, "file", "CSVファイルを選んでください。")
    assert_unchanged(before)


def test_only_moderators_change_agreements(client, auth, people):
    yamanashi = agreement_of(association_code("19", "towns"))
    auth.login(people.shinagawa)
    assert (
        client.post("/agreements", data={"prefecture": "20", "kind": "towns", "concluded_on": "2020-01-20"}).status_code
        == 404
    )
    assert client.post(f"/agreements/{yamanashi.id}/members", data={"codes": NAGANO}).status_code == 404
    assert client.post(f"/agreements/{yamanashi.id}/import", data={"file": csv_file(NAGANO)}).status_code == 404
    page = text_of(client.get(f"/agreements/{yamanashi.id}"))
    assert "構成市町村を変更する" not in page
    assert len(agreement_of(association_code("19", "towns")).members) == 14
