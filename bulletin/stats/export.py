"""The record as CSV for the annual report: a header row of fiscal years, then one row per measure."""

from __future__ import annotations

import csv
import io

from flask_babel import gettext as _

from bulletin.stats.record import Record, shown


def record_csv(record: Record) -> str:
    """Every table of the record, one row per measure (its label first) and a column per fiscal year; numbers
    written plain (no separators), a percentage or a median with one decimal, an empty cell where there is none."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_("項目"), *record.year_labels()])
    for table in record.tables:
        for row in table.rows:
            writer.writerow([row.label, *(shown(value, none="") for value in row.values)])
    return out.getvalue()
