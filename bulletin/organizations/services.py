"""Organization look-ups, the idempotent seed, and domain confirmation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from flask import current_app
from sqlalchemy import func, insert, or_, select
from sqlalchemy.orm import selectinload

from bulletin.core.db import utcnow
from bulletin.core.forms import ChoiceGroup, group_choices
from bulletin.core.text import fold
from bulletin.extensions import db
from bulletin.organizations.codes import is_valid_code
from bulletin.organizations.data import (
    AGREEMENTS,
    PREFECTURE_REGIONS,
    WARD_AREAS,
    WARDS_MEMBER_SINCE,
    organization_records,
    prefectures,
)
from bulletin.organizations.domains import ascii_domain
from bulletin.organizations.models import Agreement, EmailDomain, Membership, Organization, OrganizationKind


def search_key(name: str, kana: str, prefecture_name: str = "") -> str:
    """What organization search matches against: folded name, kana and prefecture."""
    return "|".join(fold(part) for part in (name, kana, prefecture_name) if part)


def get_by_code(code: str) -> Organization | None:
    """The organization with this six-digit code, if any."""
    if not is_valid_code(code or ""):
        return None
    return db.session.scalar(select(Organization).where(Organization.code == code))


def search_organizations(query: str, limit: int = 20) -> list[Organization]:
    """Organizations whose code, name or reading matches the query (kanji, hiragana, katakana, any width)."""
    folded = fold(query)
    if not folded:
        return []
    digits = re.sub(r"\D", "", folded)
    conditions = [Organization.search_key.contains(folded, autoescape=True)]
    if digits and len(digits) == len(folded):
        conditions.append(Organization.code.startswith(digits, autoescape=True))
    statement = (
        select(Organization)
        .where(or_(*conditions))
        .order_by(func.length(Organization.name), Organization.code)
        .limit(limit)
    )
    return list(db.session.scalars(statement))


def ward_choices() -> tuple[tuple[str, str], ...]:
    """(code, name) of the 23 wards, read once per app: reference data that never changes while the board runs,
    shown in every list's filter and every proposal's form."""
    cache = current_app.extensions.setdefault("bulletin.ward_choices", {})
    if "wards" not in cache:
        cache["wards"] = tuple((ward.code, ward.name) for ward in ward_organizations())
    return cache["wards"]


def ward_groups() -> list[ChoiceGroup]:
    """The 23 wards as checkbox groups by area (都心・副都心, 城東, 城南, 城西, 城北)."""
    return group_choices(ward_choices(), WARD_AREAS)


def prefecture_groups() -> list[ChoiceGroup]:
    """The 47 prefectures as checkbox groups by region (北海道・東北 … 九州・沖縄)."""
    return group_choices(((code, name) for code, (name, _kana) in prefectures().items()), PREFECTURE_REGIONS)


def ward_organizations() -> list[Organization]:
    """Tokyo's 23 special wards in code order."""
    return list(
        db.session.scalars(
            select(Organization).where(Organization.kind == OrganizationKind.SPECIAL_WARD).order_by(Organization.code)
        )
    )


@dataclass
class SeedReport:
    """What a seed run changed."""

    created: int = 0
    updated: int = 0
    agreements_created: int = 0


def seed_organizations() -> SeedReport:
    """Load prefectures, municipalities, wards and agreements; running it again changes nothing."""
    report = SeedReport()
    pref_names = {code: name for code, (name, _kana) in prefectures().items()}
    existing = {org.code: org for org in db.session.scalars(select(Organization))}
    new_rows = []
    for record in organization_records():
        values = {
            "name": record.name,
            "kana": record.kana,
            "search_key": search_key(record.name, record.kana, pref_names[record.prefecture_code]),
            "prefecture_code": record.prefecture_code,
            "kind": OrganizationKind(record.kind),
            "latitude": record.latitude,
            "longitude": record.longitude,
        }
        org = existing.get(record.code)
        if org is None:
            membership = {}
            if record.kind == "special_ward":
                membership = {"membership": Membership.MEMBER, "member_since": WARDS_MEMBER_SINCE}
            new_rows.append({"code": record.code, "created_at": utcnow(), **values, **membership})
        elif any(getattr(org, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(org, key, value)
            report.updated += 1
    if new_rows:
        db.session.execute(insert(Organization), new_rows)
        report.created += len(new_rows)
    report.created += _seed_agreements(report)
    db.session.flush()
    return report


def _seed_agreements(report: SeedReport) -> int:
    created = 0
    by_pref_kind: dict[tuple[str, str], list[Organization]] = {}
    for org in db.session.scalars(select(Organization).where(Organization.kind != OrganizationKind.ASSOCIATION)):
        by_pref_kind.setdefault((org.prefecture_code, org.kind.value), []).append(org)
    associations = {
        org.code: org
        for org in db.session.scalars(
            select(Organization)
            .where(Organization.kind == OrganizationKind.ASSOCIATION)
            .options(selectinload(Organization.agreement).selectinload(Agreement.members))
        )
    }
    for record in AGREEMENTS:
        association = associations.get(record.code)
        if association is None:
            association = Organization(
                code=record.code,
                name=record.name,
                kana=record.kana,
                search_key=search_key(record.name, record.kana),
                prefecture_code=record.prefecture_code,
                kind=OrganizationKind.ASSOCIATION,
                membership=Membership.MEMBER,
                member_since=record.concluded_on,
            )
            db.session.add(association)
            created += 1
        if association.agreement is None:
            covered = sorted(
                (org for kind in record.covers for org in by_pref_kind.get((record.prefecture_code, kind), [])),
                key=lambda org: org.code,
            )
            association.agreement = Agreement(concluded_on=record.concluded_on, members=covered)
            report.agreements_created += 1
        # An agreement the board already holds is the moderators' to keep up to date (/agreements/<id>): a merger of
        # municipalities, a member list corrected; the seed never undoes their changes.
    return created


def normalise_domain(domain: str) -> str:
    """A domain as it is stored: lower case, IDNA, no surrounding dots or spaces."""
    return ascii_domain(domain)


class DomainOfAnotherOrganization(ValueError):
    """The domain is recorded for another organization (`owner`)."""

    def __init__(self, domain: str, owner: Organization):
        super().__init__(f"{domain} belongs to {owner.code}")
        self.owner = owner


def confirm_domain(organization: Organization, domain: str, moderator_id: int | None) -> EmailDomain:
    """Record the domain as a confirmed one of the organization (creating it if needed); the caller commits.

    Raises DomainOfAnotherOrganization when the domain is recorded for another organization. Two confirmations of one
    new domain at the same instant: the second waits for the first and fails on the unique domain (IntegrityError).
    """
    domain = normalise_domain(domain)
    record = db.session.scalar(select(EmailDomain).where(EmailDomain.domain == domain))
    if record is None:
        record = EmailDomain(organization=organization, domain=domain)
        db.session.add(record)
    elif record.organization_id != organization.id:
        raise DomainOfAnotherOrganization(domain, record.organization)
    if not record.is_confirmed:
        record.is_confirmed = True
        record.confirmed_at = utcnow()
        record.confirmed_by_id = moderator_id
    return record


def domain_owners(domains: set[str]) -> dict[str, EmailDomain]:
    """The recorded EmailDomain rows for these domains, by domain, in one query."""
    if not domains:
        return {}
    rows = db.session.scalars(select(EmailDomain).where(EmailDomain.domain.in_(domains)))
    return {row.domain: row for row in rows}


def make_member(organization: Organization, since: date) -> None:
    """The organization becomes a member of the board (on its first approved officer); a suspended one stays
    suspended, and is a member once reinstated."""
    if organization.membership == Membership.SUSPENDED:
        organization.membership_before_suspension = Membership.MEMBER
        organization.member_since = organization.member_since or since
    elif organization.membership != Membership.MEMBER:
        organization.membership = Membership.MEMBER
        organization.member_since = since
