"""The moderation log as CSV, for the secretariat's own records and reports."""

from __future__ import annotations

import csv
import io

from flask_babel import gettext as _

from bulletin.core.text import format_datetime
from bulletin.moderation.queries import LogLine


def moderation_log_csv(lines: list[LogLine]) -> str:
    """A header row, then one row per decision: date and time in Japan, moderator, action, subject, organizations,
    reason and details."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_("日時（日本時間）"), _("モデレーター"), _("操作"), _("対象"), _("団体"), _("理由・詳細")])
    for line in lines:
        decision = line.decision
        writer.writerow(
            [
                format_datetime(decision.created_at),
                decision.actor.name if decision.actor else _("システム"),
                decision.action_label,
                decision.subject_label,
                " / ".join(f"{org.display_name}（{org.code}）" for org in line.organizations),
                " ".join(decision.notes),
            ]
        )
    return out.getvalue()
