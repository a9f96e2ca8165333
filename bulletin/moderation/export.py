"""The moderation log as CSV, for the secretariat's own records and reports."""

from __future__ import annotations

import csv
import io

from flask_babel import gettext as _

from bulletin.core.templating import request_locale
from bulletin.core.text import JST, fiscal_year_of, format_datetime, format_fiscal_year
from bulletin.moderation.queries import LogLine


def moderation_log_csv(lines: list[LogLine]) -> str:
    """A header row, then one row per decision: date and time in Japan, moderator, action, subject, organizations,
    reason and details, and the fiscal year (年度) of the decision, to group by in a spreadsheet."""
    locale = request_locale()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [_("日時（日本時間）"), _("モデレーター"), _("操作"), _("対象"), _("団体"), _("理由・詳細"), _("年度")]
    )
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
                format_fiscal_year(fiscal_year_of(decision.created_at.astimezone(JST).date()), locale),
            ]
        )
    return out.getvalue()
