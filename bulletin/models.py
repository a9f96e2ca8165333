"""Every model, imported in one place so the metadata (and Alembic) sees the whole schema."""

from bulletin.accounts.models import Invitation, User
from bulletin.moderation.models import ModerationDecision, Report
from bulletin.notifications.models import OutboxMessage
from bulletin.organizations.models import Agreement, EmailDomain, Organization
from bulletin.posts.models import Attachment, CoProposer, Post, PostRevision

__all__ = [
    "Agreement",
    "Attachment",
    "CoProposer",
    "EmailDomain",
    "Invitation",
    "ModerationDecision",
    "Organization",
    "OutboxMessage",
    "Post",
    "PostRevision",
    "Report",
    "User",
]
