"""Stored files (post attachments, partnership photos, a conversation's files): PDF, PNG, JPEG and WebP recognised by
their content, images re-encoded so metadata is dropped; for conversations also Word, Excel and PowerPoint files
(recognised by content) and CSV text; the columns their models share; serving them.

An image is sized from its header before it is decoded: one over MAX_IMAGE_PIXELS or MAX_IMAGE_SIDE, or the images
of one request over MAX_PIXELS_PER_REQUEST together, are refused without decoding any (a small PNG can hold a
decompression bomb of a hundred million pixels). Files are written under UPLOAD_DIR with random names only after
every check has passed, and removed again if the transaction that records them is rolled back, so a failed upload
leaves no orphan file.
"""

from __future__ import annotations

import io
import os
import secrets
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import filetype
from flask import Response, abort, current_app, send_file
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import ForeignKey, String, event
from sqlalchemy.orm import Mapped, Session, mapped_column, scoped_session

from bulletin.core.db import utcnow

MAX_BYTES = 10 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000  # an A2 poster scanned at 300 dpi is 35 million; a phone photo 12 to 24 million
MAX_IMAGE_SIDE = 20_000  # a 1 x 40,000,000 strip is as costly as a square
MAX_PIXELS_PER_REQUEST = 100_000_000  # the images of one request together (five photos of 20 million)
PUBLIC_MAX_AGE = 3600  # seconds a browser or proxy may keep a public file (a published case's photo)
ALLOWED_TYPES = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
# A conversation's files may also be office documents: the zip-based formats since 2007 (recognised by their parts),
# the older OLE files as filetype recognises them, and CSV (text, recognised by its name and checked as text).
OFFICE_TYPES = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    "application/msword": "doc",
    "application/vnd.ms-excel": "xls",
    "application/vnd.ms-powerpoint": "ppt",
}
CSV_TYPE = "text/csv"
DOCUMENT_TYPES = {**ALLOWED_TYPES, **OFFICE_TYPES, CSV_TYPE: "csv"}
_OOXML_MAIN_PARTS = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml", "pptx": "ppt/presentation.xml"}
_CSV_ENCODINGS = ("utf-8-sig", "cp932")  # UTF-8 (with or without BOM), or Shift_JIS as Excel writes it
_PILLOW_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
# Pillow's own check, which only warns up to twice its limit: _bombs_refused turns the warning into an error.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS


class StoredFile:
    """The columns of a file stored under UPLOAD_DIR with a random name: a post's attachment, a partnership's photo."""

    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int]
    width: Mapped[int | None]
    height: Mapped[int | None]
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_image(self) -> bool:
        """Images are shown in the page; PDFs are linked."""
        return self.content_type.startswith("image/")


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
    return check_files([(original_name, data)])[0]


def check_files(files: Iterable[tuple[str, bytes]]) -> list[CheckedFile]:
    """Check the (name, content) pairs of one request together: every file and the images' pixels in total, read
    from their headers, before any image is decoded and re-encoded."""
    inspected = [_inspect(original_name, data) for original_name, data in files]
    return _images_reencoded(inspected)


def _images_reencoded(inspected: list[CheckedFile]) -> list[CheckedFile]:
    """The images' pixels of one request checked together, then each image re-encoded; other files as they are."""
    pixels = sum(item.width * item.height for item in inspected if item.width and item.height)
    if pixels > MAX_PIXELS_PER_REQUEST:
        raise UploadError(
            str(
                _l(
                    "画像が合わせて大きすぎます（一度に合計%(pixels)s画素まで）。枚数を減らすか、画像を縮小してください。",
                    pixels=f"{MAX_PIXELS_PER_REQUEST:,}",
                )
            )
        )
    return [_reencode_image(item) if item.content_type in _PILLOW_FORMATS else item for item in inspected]


def check_documents(files: Iterable[tuple[str, bytes]]) -> list[CheckedFile]:
    """Check the files of a conversation's message: what check_files accepts, and Word, Excel and PowerPoint files
    recognised by their content, and CSV text in UTF-8 or Shift_JIS. A name whose extension does not match the
    content gets the content's extension, so a download never opens as something else."""
    inspected = []
    for original_name, data in files:
        name = _clean_name(original_name)
        _check_size(name, data)
        kind = filetype.guess(data)
        content_type = kind.mime if kind else None
        if content_type in OFFICE_TYPES:
            _check_office_file(name, data, OFFICE_TYPES[content_type])
            inspected.append(CheckedFile(_named_as(name, OFFICE_TYPES[content_type]), content_type, data))
        elif content_type is None and name.lower().endswith(".csv"):
            _check_csv(name, data)
            inspected.append(CheckedFile(name, CSV_TYPE, data))
        elif content_type in ALLOWED_TYPES:
            item = _inspect(original_name, data)
            inspected.append(replace(item, original_name=_named_as(item.original_name, ALLOWED_TYPES[content_type])))
        else:
            raise UploadError(
                str(
                    _l(
                        "%(name)s は添付できない形式です。PDF、画像（PNG、JPEG、WebP）、Word、Excel、PowerPoint、CSV "
                        "のみ添付できます。",
                        name=name,
                    )
                )
            )
    return _images_reencoded(inspected)


def _check_size(name: str, data: bytes) -> None:
    if len(data) > MAX_BYTES:
        raise UploadError(str(_l("%(name)s は10MBを超えています。", name=name)))
    if not data:
        raise UploadError(str(_l("%(name)s は空のファイルです。", name=name)))


def _named_as(name: str, extension: str) -> str:
    """The name with the extension of its content (jpg and jpeg are one)."""
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix == extension or {suffix, extension} == {"jpg", "jpeg"}:
        return name
    return f"{name[:190]}.{extension}"


def _check_office_file(name: str, data: bytes, extension: str) -> None:
    """A zip-based office file must open as a zip with its main part and no macros; an OLE file is taken as
    recognised."""
    main_part = _OOXML_MAIN_PARTS.get(extension)
    if main_part is None:
        return
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = set(archive.namelist())  # the central directory only: nothing is decompressed
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise UploadError(str(_l("%(name)s はOfficeのファイルとして読み取れません。", name=name))) from error
    if main_part not in parts or "[Content_Types].xml" not in parts:
        raise UploadError(str(_l("%(name)s はOfficeのファイルとして読み取れません。", name=name)))
    if any(part.lower().endswith("vbaproject.bin") for part in parts):
        raise UploadError(str(_l("%(name)s にはマクロが含まれているため添付できません。", name=name)))


def decode_csv(data: bytes) -> str | None:
    """The text of a CSV file saved as UTF-8 (with or without BOM) or Shift_JIS (CP932), as Excel writes them; None
    when it is neither."""
    for encoding in _CSV_ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _check_csv(name: str, data: bytes) -> None:
    """CSV is text: no NUL byte, and it reads as UTF-8 or Shift_JIS (CP932)."""
    if b"\x00" in data:
        raise UploadError(
            str(_l("%(name)s はCSVとして読み取れません（文字以外のデータが含まれています）。", name=name))
        )
    if decode_csv(data) is not None:
        return
    raise UploadError(
        str(_l("%(name)s の文字コードを読み取れません。UTF-8 または Shift_JIS で保存してください。", name=name))
    )


def _inspect(original_name: str, data: bytes) -> CheckedFile:
    """The file's type from its content; an image's size from its header only, its data still as uploaded."""
    name = _clean_name(original_name)
    _check_size(name, data)
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
    try:
        with _bombs_refused(), _open_image(content_type, data) as image:
            width, height = image.size  # Image.open reads the header; the pixels are decoded by load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise _too_large(name) from error
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise _unreadable(name) from error
    if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE or width * height > MAX_IMAGE_PIXELS:
        raise _too_large(name)
    return CheckedFile(name, content_type, data, width, height)


def _reencode_image(inspected: CheckedFile) -> CheckedFile:
    name, content_type = inspected.original_name, inspected.content_type
    try:
        with _bombs_refused(), _open_image(content_type, inspected.data) as image:
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
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise _too_large(name) from error
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise _unreadable(name) from error
    reencoded = output.getvalue()
    if len(reencoded) > MAX_BYTES:
        raise UploadError(str(_l("%(name)s は10MBを超えています。", name=name)))
    return replace(inspected, data=reencoded, width=width, height=height)


def _open_image(content_type: str, data: bytes) -> Image.Image:
    """The image opened lazily, and only by the Pillow plugin of the type its content was recognised as."""
    return Image.open(io.BytesIO(data), formats=[_PILLOW_FORMATS[content_type]])


@contextmanager
def _bombs_refused() -> Iterator[None]:
    """Pillow's DecompressionBombWarning raised as an error inside the block, not for the rest of the process."""
    # catch_warnings changes process-wide state: safe as the gunicorn workers are processes, not threads.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def _too_large(name: str) -> UploadError:
    return UploadError(
        str(
            _l(
                "%(name)s は画像が大きすぎます（1枚%(pixels)s画素、縦横それぞれ%(side)s画素まで）。"
                "縮小してから添付してください。",
                name=name,
                pixels=f"{MAX_IMAGE_PIXELS:,}",
                side=f"{MAX_IMAGE_SIDE:,}",
            )
        )
    )


def _unreadable(name: str) -> UploadError:
    return UploadError(str(_l("%(name)s は画像として読み取れません。", name=name)))


def upload_dir() -> Path:
    """Where stored files live (outside static/)."""
    path = Path(current_app.config["UPLOAD_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def store(session: Session | scoped_session[Any], checked: CheckedFile) -> str:
    """Write the file under a random name; it is deleted again if the session's transaction rolls back."""
    stored_name = f"{secrets.token_hex(16)}.{DOCUMENT_TYPES[checked.content_type]}"
    path = upload_dir() / stored_name
    with open(path, "xb") as handle:
        handle.write(checked.data)
    session.info.setdefault("written_files", []).append(path)
    return stored_name


def stored_columns(session: Session | scoped_session[Any], checked: CheckedFile) -> dict[str, Any]:
    """Store the checked file (see `store`) and return the StoredFile columns that describe it."""
    return {
        "original_name": checked.original_name,
        "stored_name": store(session, checked),
        "content_type": checked.content_type,
        "size": len(checked.data),
        "width": checked.width,
        "height": checked.height,
    }


def path_of(stored_name: str) -> Path:
    """The stored file's path."""
    return upload_dir() / stored_name


def serve_stored_file(item: StoredFile, *, public: bool, as_attachment: bool) -> Response:
    """The stored file under its original name, never sniffed, sandboxed if opened; cached for an hour when public,
    never stored otherwise. A file missing from the disk is a 404."""
    path = path_of(item.stored_name)
    if not path.is_file():
        abort(404)
    response = send_file(
        path,
        mimetype=item.content_type,
        as_attachment=as_attachment,
        download_name=item.original_name,
        max_age=PUBLIC_MAX_AGE if public else 0,
        conditional=True,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    if not public:
        response.headers["Cache-Control"] = "private, no-store"
    return response


def discard_later(session: Session | scoped_session[Any], stored_name: str) -> None:
    """Delete a stored file once the session's transaction commits (used when an attachment or photo is removed)."""
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
