"""Exchange relations (交流自治体): everyone reads the list; moderators record a ward's relationship with a
municipality by its code, with a log line; bad input is refused on the form and changes nothing; the record counts
them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bulletin.core.audit import ModerationDecision
from bulletin.extensions import db
from bulletin.organizations.models import ExchangeKind, ExchangeRelation
from tests.constants import BAD_DATE, SAKAI, SHINAGAWA
from tests.factories import assert_field_error, assert_unchanged, count, database_state, text_of

SETAGAYA = "131121"


def relation_form(**overrides) -> dict:
    return {
        "ward": SHINAGAWA,
        "municipality_code": SAKAI,
        "kind": "friendship",
        "started_on": "2015-11-18",
        **overrides,
    }


def test_a_moderator_records_a_relation_that_the_list_and_the_record_show(client, auth, people):
    auth.login(people.moderator)
    response = client.post("/exchange-relations", data=relation_form())
    assert response.status_code == 302 and response.headers["Location"] == "/exchange-relations"
    relation = db.session.scalars(select(ExchangeRelation)).one()
    assert (relation.ward.code, relation.municipality.code, relation.kind) == (
        SHINAGAWA,
        SAKAI,
        ExchangeKind.FRIENDSHIP,
    )
    line = db.session.scalars(
        select(ModerationDecision).where(ModerationDecision.action == "add_exchange_relation")
    ).one()
    assert line.actor_id == people.moderator.id and line.subject_label == "品川区 × 福井県 坂井市"
    assert line.details == {"ward": SHINAGAWA, "code": SAKAI, "kind": "friendship", "started_on": "2015-11-18"}
    auth.logout()
    listed = text_of(client.get("/exchange-relations"))
    assert "福井県 坂井市" in listed and "友好都市" in listed and "平成27年11月18日（2015-11-18）" in listed
    assert "交流自治体を登録する" not in listed  # the form is the moderators'
    record = text_of(client.get("/stats"))
    assert '<tr data-row="exchange.municipalities">' in record


@pytest.mark.parametrize("typed", ["18210", "１８２１０９", " 182109 "])
def test_a_code_may_be_typed_without_its_check_digit_or_in_full_width(client, auth, people, typed):
    auth.login(people.moderator)
    assert client.post("/exchange-relations", data=relation_form(municipality_code=typed)).status_code == 302
    assert db.session.scalars(select(ExchangeRelation)).one().municipality.code == SAKAI


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"municipality_code": "999999"}, "municipality_code", "999999 は市町村の団体コードではありません。"),
        ({"municipality_code": "182108"}, "municipality_code", "は市町村の団体コードではありません。"),  # check digit
        ({"municipality_code": "131121"}, "municipality_code", "は市町村の団体コードではありません。"),  # a ward
        ({"municipality_code": "012025"}, "municipality_code", None),  # 函館市: a real city, accepted
        ({"municipality_code": ""}, "municipality_code", "市町村コードを入力してください。"),
        ({"ward": SAKAI}, "ward", "特別区を選んでください。"),
        ({"kind": "twinned"}, "kind", "交流の種類を選んでください。"),
        ({"started_on": "2015/11/18"}, "started_on", BAD_DATE),
        ({"started_on": "2999-01-01"}, "started_on", "今日より後の日付は登録できません。"),
    ],
)
def test_bad_input_is_refused_on_the_form_and_changes_nothing(client, auth, people, overrides, field, message):
    auth.login(people.moderator)
    before = database_state()
    response = client.post("/exchange-relations", data=relation_form(**overrides))
    if message is None:
        assert response.status_code == 302
        return
    assert response.status_code == 400
    assert_field_error(response, field, message)
    assert_unchanged(before)


def test_the_same_relation_twice_is_refused(client, auth, people):
    auth.login(people.moderator)
    client.post("/exchange-relations", data=relation_form())
    before = database_state()
    response = client.post("/exchange-relations", data=relation_form(started_on="2016-01-01"))
    assert_field_error(response, "municipality_code", "品川区と福井県 坂井市の友好都市はすでに登録されています。")
    assert_unchanged(before)
    assert client.post("/exchange-relations", data=relation_form(kind="disaster_aid")).status_code == 302
    assert client.post("/exchange-relations", data=relation_form(ward=SETAGAYA)).status_code == 302
    assert count(ExchangeRelation) == 3


def test_only_moderators_record(client, auth, people):
    assert client.post("/exchange-relations", data=relation_form()).status_code == 302  # to the login
    auth.login(people.shinagawa)
    assert client.post("/exchange-relations", data=relation_form()).status_code == 404
    assert client.get("/exchange-relations").status_code == 200
    assert count(ExchangeRelation) == 0
