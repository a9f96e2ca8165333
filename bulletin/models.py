"""Every model, imported in one place so the metadata (and Alembic) sees the whole schema."""

from bulletin.accounts.models import EmailChange, Invitation, RecoveryCode, StaffReview, User, UserSession
from bulletin.core.audit import ModerationDecision
from bulletin.core.security_events import SecurityEvent
from bulletin.moderation.models import Report
from bulletin.notifications.models import Notification, NotificationPreference, OutboxMessage
from bulletin.organizations.models import Agreement, EmailDomain, Organization
from bulletin.posts.models import Attachment, CoProposer, Post, PostRevision, StagedAttachment
from bulletin.responses.models import (
    Conversation,
    ConversationRead,
    Message,
    Partnership,
    PartnershipPhoto,
    Response,
)
from bulletin.saved_searches.models import SavedSearch, SavedSearchMatch

__all__ = [
    "Agreement",
    "Attachment",
    "CoProposer",
    "Conversation",
    "ConversationRead",
    "EmailChange",
    "EmailDomain",
    "Invitation",
    "Message",
    "ModerationDecision",
    "Notification",
    "NotificationPreference",
    "Organization",
    "OutboxMessage",
    "Partnership",
    "PartnershipPhoto",
    "Post",
    "PostRevision",
    "RecoveryCode",
    "Report",
    "Response",
    "SavedSearch",
    "SavedSearchMatch",
    "SecurityEvent",
    "StaffReview",
    "StagedAttachment",
    "User",
    "UserSession",
]
