"""Writing the moderation log: every decision, in the transaction of the change it records."""

from __future__ import annotations

from bulletin.accounts.models import User
from bulletin.extensions import db
from bulletin.moderation.models import ModerationDecision


def log_decision(
    actor: User | None,
    action: str,
    subject_type: str,
    subject_id: int,
    subject_label: str = "",
    reason: str | None = None,
    **details,
) -> ModerationDecision:
    """Append one line to the moderation log."""
    decision = ModerationDecision(
        actor_id=actor.id if actor else None,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        subject_label=subject_label[:300],
        reason=reason,
        details=details,
    )
    db.session.add(decision)
    return decision
