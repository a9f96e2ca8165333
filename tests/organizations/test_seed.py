"""The seed: every prefecture and municipality, valid codes, the 13 agreements, and idempotence."""

from collections import Counter

from sqlalchemy import func, select

from bulletin.extensions import db
from bulletin.organizations.codes import is_valid_code
from bulletin.organizations.models import Agreement, Membership, Organization, OrganizationKind
from bulletin.organizations.services import search_organizations, seed_organizations
from tests.factories import count


def test_seed_loads_every_prefecture_and_municipality(app):
    rows = db.session.execute(select(Organization.kind, func.count()).group_by(Organization.kind)).all()
    kinds = Counter({kind: count for kind, count in rows})
    assert kinds[OrganizationKind.PREFECTURE] == 47
    assert kinds[OrganizationKind.CITY] == 792
    assert kinds[OrganizationKind.TOWN] == 743
    assert kinds[OrganizationKind.VILLAGE] == 183
    assert kinds[OrganizationKind.SPECIAL_WARD] == 23
    assert kinds[OrganizationKind.ASSOCIATION] == 13


def test_every_code_has_six_digits_and_a_valid_check_digit(app):
    codes = list(db.session.scalars(select(Organization.code)))
    assert len(codes) == len(set(codes))
    assert all(is_valid_code(code) for code in codes)


def test_known_organizations_and_leading_zero_codes(app, organization):
    sakai = organization("182109")
    assert (sakai.name, sakai.kana, sakai.prefecture_name, sakai.kind) == (
        "坂井市",
        "さかいし",
        "福井県",
        OrganizationKind.CITY,
    )
    assert abs(sakai.latitude - 36.17) < 0.05
    assert organization("011002").name == "札幌市"  # japancode stores it as 11002
    assert organization("010006").name == "北海道"
    assert organization("131091").kind == OrganizationKind.SPECIAL_WARD
    assert organization("131091").membership == Membership.MEMBER
    assert organization("130001").latitude is not None  # prefectures placed at their capital


def test_designated_city_wards_are_not_organizations(app):
    assert count(Organization, Organization.name.contains(" ")) == 0
    names = set(db.session.scalars(select(Organization.name).where(Organization.prefecture_code == "01")))
    assert "中央区" not in names


def test_agreements_cover_372_municipalities(app):
    agreements = list(db.session.scalars(select(Agreement)))
    assert len(agreements) == 13
    assert sum(len(agreement.members) for agreement in agreements) == 372
    by_name = {agreement.association.name: agreement for agreement in agreements}
    hokkaido = by_name["北海道町村会"]
    assert str(hokkaido.concluded_on) == "2016-04-26"
    assert len(hokkaido.members) == 144
    assert {member.kind for member in hokkaido.members} == {OrganizationKind.TOWN, OrganizationKind.VILLAGE}
    assert len(by_name["群馬県市長会"].members) == 12
    assert len(by_name["群馬県町村会"].members) == 23
    assert {member.kind for member in by_name["京都府市長会"].members} == {OrganizationKind.CITY}


def test_seed_is_idempotent(app):
    before = count(Organization)
    report = seed_organizations()
    assert (report.created, report.updated, report.agreements_created) == (0, 0, 0)
    assert count(Organization) == before


def test_seed_repairs_a_changed_name(app, organization):
    organization("182109").name = "坂井町"
    db.session.flush()
    report = seed_organizations()
    assert report.updated == 1
    assert organization("182109").name == "坂井市"


def test_search_by_kanji_kana_katakana_width_and_code(app):
    assert "坂井市" in [org.name for org in search_organizations("坂井")]
    assert "坂井市" in [org.name for org in search_organizations("さかいし")]
    assert "坂井市" in [org.name for org in search_organizations("サカイシ")]
    assert "坂井市" in [org.name for org in search_organizations("ｻｶｲｼ")]
    assert [org.name for org in search_organizations("182109")] == ["坂井市"]
    assert [org.name for org in search_organizations("１８２１０９")] == ["坂井市"]
    assert search_organizations("   ") == []
    assert search_organizations("%") == []


def test_seed_keeps_what_moderators_changed_in_an_agreement(app):
    hokkaido = db.session.scalar(
        select(Agreement).join(Agreement.association).where(Organization.name == "北海道町村会")
    )
    hokkaido.members = hokkaido.members[:10]
    db.session.flush()
    report = seed_organizations()
    assert (report.updated, report.agreements_created) == (0, 0)
    assert len(hokkaido.members) == 10
