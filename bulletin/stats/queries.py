"""Read side of the figures: counts by prefecture, each in one grouped query whatever the number of rows."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from bulletin.extensions import db
from bulletin.organizations.models import Organization
from bulletin.posts.models import Post, PostState
from bulletin.responses.models import Partnership
from bulletin.responses.queries import case_prefecture_code


def published_posts_by_prefecture() -> dict[str, int]:
    """Published (open) posts by the prefecture of the organization that posted them: what /posts lists."""
    statement = (
        select(Organization.prefecture_code, func.count(Post.id))
        .join(Post.organization)
        .where(Post.state == PostState.PUBLISHED)
        .group_by(Organization.prefecture_code)
    )
    return {str(code): int(count) for code, count in db.session.execute(statement)}


def cases_by_prefecture() -> dict[str, int]:
    """Published partnerships (the public cases) by the prefecture of the municipality's side: what /cases lists."""
    post_organization, partner_organization = aliased(Organization), aliased(Organization)
    prefecture = case_prefecture_code(post_organization, partner_organization)
    statement = (
        select(prefecture, func.count(Partnership.id))
        .join(post_organization, Partnership.post_organization_id == post_organization.id)
        .join(partner_organization, Partnership.partner_organization_id == partner_organization.id)
        .where(Partnership.published_at.is_not(None))
        .group_by(prefecture)
    )
    return {str(code): int(count) for code, count in db.session.execute(statement)}
