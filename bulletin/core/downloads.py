"""Files the board writes for the secretariat to take away (the moderation log, the record)."""

from __future__ import annotations

from flask import Response


def csv_download(text: str, filename: str) -> Response:
    """CSV as an attachment, UTF-8 with a BOM so that Excel reads the Japanese ungarbled."""
    return Response(
        text.encode("utf-8-sig"),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
