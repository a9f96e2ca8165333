"""The moderation log: every decision, who, what, when, why, written in the transaction of the change it records.

It sits in core, below the domains whose decisions it records (posts, responses, moderation), so that each of them
writes its own lines without importing another. Rows are never updated or deleted: the ORM refuses it below, and the
database refuses it to every other client too (triggers added by migration 5c9266ae8c3a, on SQLite and PostgreSQL).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, String, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bulletin.core.db import utcnow
from bulletin.core.enums import LabelledStrEnum
from bulletin.extensions import Model, db

if TYPE_CHECKING:
    from bulletin.accounts.models import User


class DecisionAction(LabelledStrEnum):
    """What a line of the moderation log records (ModerationDecision.action holds the value)."""

    APPROVE_USER = "approve_user", _l("登録を承認")
    REJECT_USER = "reject_user", _l("登録を却下")
    APPROVE_EMAIL_CHANGE = "approve_email_change", _l("メールアドレスの変更を承認")
    REJECT_EMAIL_CHANGE = "reject_email_change", _l("メールアドレスの変更を却下")
    CONFIRM_DOMAIN = "confirm_domain", _l("ドメインを確認")
    REVOKE_DOMAIN = "revoke_domain", _l("ドメインの確認を取り消し")
    SUSPEND_USER = "suspend_user", _l("アカウントを停止")
    REINSTATE_USER = "reinstate_user", _l("アカウントの利用を再開")
    SUSPEND_ORGANIZATION = "suspend_organization", _l("団体を停止")
    REINSTATE_ORGANIZATION = "reinstate_organization", _l("団体の利用を再開")
    APPROVE_POST = "approve_post", _l("投稿を公開")
    REJECT_POST = "reject_post", _l("投稿を差し戻し")
    HIDE_POST = "hide_post", _l("投稿を非公開")
    UNHIDE_POST = "unhide_post", _l("投稿を再公開")
    EXPIRE_POST = "expire_post", _l("投稿の期限切れ")
    APPROVE_REVISION = "approve_revision", _l("修正を反映")
    REJECT_REVISION = "reject_revision", _l("修正を差し戻し")
    DISMISS_REPORT = "dismiss_report", _l("通報を却下")
    HIDE_MESSAGE = "hide_message", _l("メッセージを非表示")
    PUBLISH_CASE = "publish_case", _l("連携事例を公開")
    UNPUBLISH_CASE = "unpublish_case", _l("連携事例の公開を停止")
    RETRY_MAIL = "retry_mail", _l("メールを再送")
    ADD_EXCHANGE_RELATION = "add_exchange_relation", _l("交流自治体を登録")
    ADD_AGREEMENT = "add_agreement", _l("広域連携協定を登録")
    CHANGE_AGREEMENT_MEMBERS = "change_agreement_members", _l("協定の構成市町村を変更")


class ModerationDecision(Model):
    """One line of the moderation log."""

    __tablename__ = "moderation_decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="RESTRICT"), index=True)
    action: Mapped[str] = mapped_column(String(40))
    subject_type: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[int]
    subject_label: Mapped[str] = mapped_column(String(300), default="")
    reason: Mapped[str | None] = mapped_column(db.Text)
    details: Mapped[dict] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship()

    __table_args__ = (db.Index("ix_moderation_decision_subject", "subject_type", "subject_id"),)

    @property
    def action_label(self) -> str:
        """The action as moderators read it; an action this version does not know is shown as recorded."""
        try:
            return str(DecisionAction(self.action).label)
        except ValueError:
            return self.action

    @property
    def notes(self) -> list[str]:
        """The reason and what a reader needs of the details: the version decided, the domain confirmed or revoked."""
        details = self.details or {}
        notes = [self.reason] if self.reason else []
        if details.get("version"):
            notes.append(gettext("第%(n)d版", n=details["version"]))
        if details.get("confirmed_domain"):
            notes.append(gettext("ドメイン確認: %(d)s", d=details["confirmed_domain"]))
        if details.get("domain"):
            notes.append(details["domain"])
        return notes


@event.listens_for(ModerationDecision, "before_update")
@event.listens_for(ModerationDecision, "before_delete")
def _log_is_append_only(mapper, connection, target):
    raise RuntimeError("the moderation log is append-only")


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


def fingerprint(value: object) -> str:
    """A SHA-256 of a JSON value written canonically: what a decision's form and its log line hold of the text or
    details the moderator was shown, so that whoever has a copy can tell whether it is the one decided."""
    canonical = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
