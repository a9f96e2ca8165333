"""Every model, imported in one place so the metadata (and Alembic) sees the whole schema."""

from bulletin.accounts.models import Invitation, User
from bulletin.moderation.models import ModerationDecision
from bulletin.notifications.models import OutboxMessage
from bulletin.organizations.models import Agreement, EmailDomain, Organization

__all__ = ["Agreement", "EmailDomain", "Invitation", "ModerationDecision", "Organization", "OutboxMessage", "User"]
