"""The verbs of broad-area agreements (広域連携協定) and exchange relations (交流自治体): moderators record them; each
change is logged and flushed in the caller's transaction, never committed here."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bulletin.core.audit import DecisionAction, log_decision
from bulletin.core.errors import DomainError
from bulletin.core.text import fold, today_in_japan
from bulletin.core.uploads import decode_csv
from bulletin.extensions import db
from bulletin.organizations.codes import association_code, full_code
from bulletin.organizations.data import prefecture_name, prefectures
from bulletin.organizations.models import (
    Agreement,
    ExchangeKind,
    ExchangeRelation,
    Membership,
    Organization,
    OrganizationKind,
)
from bulletin.organizations.services import search_key

if TYPE_CHECKING:
    from bulletin.accounts.models import User

MUNICIPAL_KINDS = frozenset({OrganizationKind.CITY, OrganizationKind.TOWN, OrganizationKind.VILLAGE})


class AgreementError(DomainError):
    """A change to the agreements or exchange relations that the rules refuse."""


def _require_moderator(actor: User) -> None:
    if not actor.can_moderate():
        raise AgreementError(_l("この操作はモデレーターだけが行えます。"))


def municipality_by_code(text: str, field: str) -> Organization:
    """The city, town or village with this code (five digits or six), or a refusal naming the field."""
    code = full_code(text)
    organization = (
        db.session.scalar(select(Organization).where(Organization.code == code)) if code is not None else None
    )
    if organization is None or organization.kind not in MUNICIPAL_KINDS:
        raise AgreementError(_l("%(code)s は市町村の団体コードではありません。", code=text.strip()), field=field)
    return organization


def _not_in_the_future(day: date, field: str) -> None:
    if day > today_in_japan():
        raise AgreementError(_l("今日より後の日付は登録できません。"), field=field)


def add_exchange_relation(
    actor: User, ward_code: str, municipality_code: str, started_on: date, kind: ExchangeKind
) -> ExchangeRelation:
    """Record that a ward has a standing relationship of this kind with a municipality since a day."""
    _require_moderator(actor)
    ward = db.session.scalar(select(Organization).where(Organization.code == ward_code))
    if ward is None or not ward.is_ward:
        raise AgreementError(_l("特別区を選んでください。"), field="ward")
    municipality = municipality_by_code(municipality_code, "municipality_code")
    _not_in_the_future(started_on, "started_on")
    duplicate = AgreementError(
        _l(
            "%(ward)sと%(municipality)sの%(kind)sはすでに登録されています。",
            ward=ward.name,
            municipality=municipality.display_name,
            kind=kind.label,
        ),
        field="municipality_code",
    )
    relation = ExchangeRelation(ward=ward, municipality=municipality, started_on=started_on, kind=kind)
    try:
        with db.session.begin_nested():  # the same relation sent twice at once: the second is refused
            db.session.add(relation)
            db.session.flush()
    except IntegrityError as error:
        raise duplicate from error
    log_decision(
        actor,
        DecisionAction.ADD_EXCHANGE_RELATION,
        "organization",
        municipality.id,
        f"{ward.name} × {municipality.display_name}",
        ward=ward.code,
        code=municipality.code,
        kind=kind.value,
        started_on=started_on.isoformat(),
    )
    db.session.flush()
    return relation


# --- agreements ----------------------------------------------------------------------------------------------------

MAX_MEMBER_LINES = 2000  # more than any association has members (北海道町村会: 144)
ASSOCIATION_KINDS = {"mayors": _l("市長会"), "towns": _l("町村会")}


@dataclass(frozen=True)
class Problem:
    """A line of a member list that cannot be taken: its number, the code as written, what is wrong."""

    line: int
    code: str
    message: str


class MemberListError(AgreementError):
    """A member list with wrong lines: nothing is changed, and every wrong line is reported."""

    def __init__(self, problems: list[Problem], field: str):
        super().__init__(_l("%(n)d行に誤りがあります。すべての行を直すまで、構成市町村は変わりません。",
                            n=len(problems)), field=field)  # fmt: skip
        self.problems = problems


def add_agreement(actor: User, prefecture_code: str, kind: str, name: str, concluded_on: date) -> Agreement:
    """Record a broad-area agreement with a prefecture's association of mayors (市長会) or of towns and villages
    (町村会); the association becomes a member of the board from that day. Its members are added afterwards."""
    _require_moderator(actor)
    if prefecture_code not in prefectures():
        raise AgreementError(_l("都道府県を選んでください。"), field="prefecture")
    if kind not in ASSOCIATION_KINDS:
        raise AgreementError(_l("市長会か町村会かを選んでください。"), field="kind")
    _not_in_the_future(concluded_on, "concluded_on")
    code = association_code(prefecture_code, kind)
    if db.session.scalar(select(Organization.id).where(Organization.code == code)) is not None:
        raise AgreementError(_l("この団体との協定はすでに登録されています。"), field="kind")
    name = name or f"{prefecture_name(prefecture_code)}{ASSOCIATION_KINDS[kind]}"
    association = Organization(
        code=code,
        name=name,
        search_key=search_key(name, ""),
        prefecture_code=prefecture_code,
        kind=OrganizationKind.ASSOCIATION,
        membership=Membership.MEMBER,
        member_since=concluded_on,
    )
    agreement = Agreement(association=association, concluded_on=concluded_on, members=[])
    try:
        with db.session.begin_nested():  # two moderators adding the same association at once: one is refused
            db.session.add(agreement)
            db.session.flush()
    except IntegrityError as error:
        raise AgreementError(_l("この団体との協定はすでに登録されています。"), field="kind") from error
    log_decision(
        actor, DecisionAction.ADD_AGREEMENT, "organization", association.id, name, code=code,
        concluded_on=concluded_on.isoformat(),
    )  # fmt: skip
    db.session.flush()
    return agreement


def set_agreement_members(actor: User, agreement: Agreement, text: str, field: str) -> tuple[int, int]:
    """Make the agreement's members the municipalities listed in `text` (CSV: a code per line, optionally followed
    by the name, a header line allowed), all or nothing: any wrong line refuses the whole list with a report of every
    wrong line. Returns how many municipalities were added and removed."""
    _require_moderator(actor)
    members = _members_listed(text, field)
    before = {organization.id for organization in agreement.members}
    after = {organization.id for organization in members}
    agreement.members = sorted(members, key=lambda organization: organization.code)
    added, removed = len(after - before), len(before - after)
    log_decision(
        actor, DecisionAction.CHANGE_AGREEMENT_MEMBERS, "organization", agreement.association_id,
        agreement.association.name, members=len(after), added=added, removed=removed,
    )  # fmt: skip
    db.session.flush()
    return added, removed


def member_list_text(data: bytes) -> str:
    """The text of an uploaded member list (UTF-8 or Shift_JIS), refused when it is neither."""
    text = decode_csv(data) if b"\x00" not in data else None
    if text is None:
        raise AgreementError(
            _l("ファイルを読み取れません。UTF-8 または Shift_JIS のCSVで保存してください。"), field="file"
        )
    return text


def _members_listed(text: str, field: str) -> list[Organization]:
    rows = [
        (number, row)
        for number, row in enumerate(csv.reader(io.StringIO(text)), start=1)
        if any(c.strip() for c in row)
    ]
    if rows and re.search(r"コード|code", rows[0][1][0], re.IGNORECASE):
        rows = rows[1:]  # a header line (団体コード,団体名)
    if len(rows) > MAX_MEMBER_LINES:
        raise AgreementError(_l("%(n)d行までにしてください。", n=MAX_MEMBER_LINES), field=field)
    codes = {number: full_code(row[0]) for number, row in rows}
    known = {
        organization.code: organization
        for organization in db.session.scalars(
            select(Organization).where(Organization.code.in_({code for code in codes.values() if code}))
        )
    }
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    members: list[Organization] = []
    for number, row in rows:
        written, code = row[0].strip(), codes[number]
        organization = known.get(code) if code else None
        if code is None:
            problems.append(Problem(number, written, str(_l("団体コードの形ではありません（6桁、または5桁）。"))))
        elif organization is None or organization.kind not in MUNICIPAL_KINDS:
            problems.append(Problem(number, written, str(_l("このコードの市町村はありません。"))))
        elif code in seen:
            problems.append(Problem(number, written, str(_l("%(line)d行目と同じ市町村です。", line=seen[code]))))
        elif (
            len(row) > 1
            and row[1].strip()
            and fold(row[1]) not in (fold(organization.name), fold(organization.display_name))
        ):
            problems.append(
                Problem(
                    number,
                    written,
                    str(_l("名前が違います（このコードは%(name)sです）。", name=organization.display_name)),
                )
            )
        else:
            seen[code] = number
            members.append(organization)
    if problems:
        raise MemberListError(problems, field)
    return members
