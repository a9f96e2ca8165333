"""Attachments: PDF, PNG, JPEG and WebP recognised by their content; images re-encoded so metadata is dropped.

Files are written under UPLOAD_DIR with random names only after every check has passed, and removed again if
the transaction that records them is rolled back, so a failed upload leaves no orphan file.
"""

from __future__ import annotations

import io
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import filetype
from flask import current_app
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import event
from sqlalchemy.orm import Session

MAX_ATTACHMENTS = 5
MAX_BYTES = 10 * 1024 * 1024
ALLOWED_TYPES = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
_PILLOW_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
Image.MAX_IMAGE_PIXELS = 60_000_000  # refuse decompression bombs


class UploadError(Exception):
    """A file that cannot be accepted; `message` is shown on the form."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class CheckedFile:
    """A file that passed the checks, ready to be stored."""

    original_name: str
    content_type: str
    data: bytes
    width: int | None = None
    height: int | None = None


def _clean_name(name: str) -> str:
    name = os.path.basename((name or "").replace("\\", "/")).strip()
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '<>:"/\\|?*')
    return name[:200] or "file"


def check_file(original_name: str, data: bytes) -> CheckedFile:
    """Accept a PDF or image by its content (never by its name); re-encode images without their metadata."""
    name = _clean_name(original_name)
    if len(data) > MAX_BYTES:
        raise UploadError(str(_l("%(name)s は10MBを超えています。", name=name)))
    if not data:
        raise UploadError(str(_l("%(name)s は空のファイルです。", name=name)))
    kind = filetype.guess(data)
    content_type = kind.mime if kind else None
    if content_type not in ALLOWED_TYPES:
        raise UploadError(
            str(_l("%(name)s は添付できない形式です。PDF、PNG、JPEG、WebP のみ添付できます。", name=name))
        )
    if content_type == "application/pdf":
        if not data.startswith(b"%PDF-") or b"%%EOF" not in data[-2048:]:
            raise UploadError(str(_l("%(name)s はPDFとして読み取れません。", name=name)))
        return CheckedFile(name, content_type, data)
    return _reencode_image(name, content_type, data)


def _reencode_image(name: str, content_type: str, data: bytes) -> CheckedFile:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            if content_type == "image/jpeg" and image.mode not in ("RGB", "L"):
                image = image.convert("RGB")
            output = io.BytesIO()
            # A fresh save without exif=/pnginfo= writes no EXIF, GPS, XMP or text chunks.
            image.save(
                output,
                format=_PILLOW_FORMATS[content_type],
                **({"quality": 88} if content_type != "image/png" else {"optimize": True}),
            )
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise UploadError(str(_l("%(name)s は画像として読み取れません。", name=name))) from error
    reencoded = output.getvalue()
    if len(reencoded) > MAX_BYTES:
        raise UploadError(str(_l("%(name)s は10MBを超えています。", name=name)))
    return CheckedFile(name, content_type, reencoded, width, height)


def upload_dir() -> Path:
    """Where attachments live (outside static/)."""
    path = Path(current_app.config["UPLOAD_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def store(session: Session, checked: CheckedFile) -> str:
    """Write the file under a random name; it is deleted again if the session's transaction rolls back."""
    stored_name = f"{secrets.token_hex(16)}.{ALLOWED_TYPES[checked.content_type]}"
    path = upload_dir() / stored_name
    with open(path, "xb") as handle:
        handle.write(checked.data)
    session.info.setdefault("written_files", []).append(path)
    return stored_name


def path_of(stored_name: str) -> Path:
    """The stored file's path."""
    return upload_dir() / stored_name


def discard_later(session: Session, stored_name: str) -> None:
    """Delete a stored file once the session's transaction commits (used when an attachment is removed)."""
    session.info.setdefault("files_to_delete", []).append(upload_dir() / stored_name)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    session.info.pop("written_files", None)
    for path in session.info.pop("files_to_delete", []):
        path.unlink(missing_ok=True)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction) -> None:
    session.info.pop("files_to_delete", None)
    for path in session.info.pop("written_files", []):
        path.unlink(missing_ok=True)
