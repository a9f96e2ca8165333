"""Attachments: recognised by content, images re-encoded without metadata, limits on size and number, no orphan
file after a failed upload, and served only to those who may see the post."""

import io
import struct
import time
import warnings
from pathlib import Path

import pytest
from PIL import Image, ImageFile
from PIL.PngImagePlugin import PngInfo
from sqlalchemy import select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from bulletin.core import uploads
from bulletin.extensions import db
from bulletin.organizations.models import Membership
from bulletin.posts import services
from bulletin.posts.models import Attachment, Post, PostState
from bulletin.posts.services import PostError
from tests.constants import KUSHIRO_TOWN, NOT_ACCEPTED, PDF
from tests.factories import (
    assert_field_error,
    assert_unchanged,
    blank_png,
    database_state,
    file_storage,
    form_data,
    image_bytes,
    post_input,
    uploaded_files,
)

EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200 + b"This program cannot be run"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200
EXTENSIONS = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}
BOMB = (10_900, 10_900)  # 119 million pixels in a 15 KB PNG: accepted before, 4 s and 900 MB to decode
TOO_MANY_IN_TOTAL = (
    "画像が合わせて大きすぎます（一度に合計100,000,000画素まで）。枚数を減らすか、画像を縮小してください。"
)


def jpeg_with_gps() -> bytes:
    """A JPEG carrying a camera make and the GPS position of しながわ水族館 in its EXIF."""
    image = Image.new("RGB", (80, 60), (30, 90, 200))
    exif = Image.Exif()
    exif[0x010F] = "Camera Maker"
    exif[0x0110] = "Model X"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (35.0, 35.0, 51.0), 3: "E", 4: (139.0, 44.0, 3.0)})
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    data = buffer.getvalue()
    with Image.open(io.BytesIO(data)) as check:  # the input really carries the position
        assert check.getexif().get_ifd(0x8825)[2] == (35.0, 35.0, 51.0)
    assert b"Exif" in data
    return data


def too_large(name: str) -> str:
    return (
        f"{name} は画像が大きすぎます（1枚40,000,000画素、縦横それぞれ20,000画素まで）。縮小してから添付してください。"
    )


@pytest.fixture
def decoded(monkeypatch) -> list[tuple[int, int]]:
    """The sizes of the images Pillow decodes during the test: the real decoding, only recorded."""
    sizes: list[tuple[int, int]] = []
    real_load = ImageFile.ImageFile.load

    def load(self):
        if self.tile:  # pixels still to decode (Pillow calls load() again on a loaded image)
            sizes.append(self.size)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return sizes


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims the size but holds no pixel data: decoding it fails, so only a refusal by size, before any
    decoding, gives the "too large" message."""
    return blank_png(width, height, pixels=False)


def jpeg_header(width: int, height: int) -> bytes:
    """A JPEG with only its frame header (SOF0, one component) and no scan."""
    frame = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + frame + b"\xff\xd9"


def webp_header(width: int, height: int) -> bytes:
    """A lossless WebP of 64 x 48 pixels whose header (VP8L) is changed to claim another size."""
    data = bytearray(image_bytes("WEBP", lossless=True))
    at = data.index(b"VP8L") + 9  # after the chunk header and the 0x2f signature byte
    (bits,) = struct.unpack("<I", data[at : at + 4])
    bits = bits & ~0x0FFF_FFFF | (width - 1) | (height - 1) << 14
    data[at : at + 4] = struct.pack("<I", bits)
    return bytes(data)


def assert_no_metadata(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        assert dict(image.getexif()) == {}
        assert "exif" not in image.info
    assert b"Exif" not in data and b"GPS" not in data


# --- the checks, one file at a time ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("企画書.pdf", PDF, "application/pdf"),
        ("会場図.png", image_bytes("PNG"), "image/png"),
        ("写真.jpg", image_bytes("JPEG"), "image/jpeg"),
        ("写真.webp", image_bytes("WEBP"), "image/webp"),
        ("拡張子なし", image_bytes("PNG"), "image/png"),  # the content decides, not the name
    ],
)
def test_pdf_and_images_are_accepted(app, name, data, content_type):
    checked = uploads.check_file(name, data)
    assert checked.content_type == content_type and checked.original_name == name
    if content_type == "application/pdf":
        assert checked.data == data and checked.width is None
    else:
        assert (checked.width, checked.height) == (64, 48)
        with Image.open(io.BytesIO(checked.data)) as image:
            assert image.get_format_mimetype() == content_type


def test_jpeg_exif_and_gps_are_removed(app):
    checked = uploads.check_file("水族館.jpg", jpeg_with_gps())
    assert checked.content_type == "image/jpeg"
    assert_no_metadata(checked.data)


def test_png_text_chunks_are_removed(app):
    info = PngInfo()
    info.add_text("Comment", "撮影地 北緯35度35分")
    data = image_bytes("PNG", pnginfo=info)
    assert "撮影地".encode() in data or b"Comment" in data
    checked = uploads.check_file("会場.png", data)
    assert b"Comment" not in checked.data
    with Image.open(io.BytesIO(checked.data)) as image:
        assert "Comment" not in image.info


def test_exif_orientation_is_applied_before_it_is_dropped(app):
    image = Image.new("RGB", (80, 40), (10, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    checked = uploads.check_file("縦.jpg", buffer.getvalue())
    assert (checked.width, checked.height) == (40, 80)
    assert_no_metadata(checked.data)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("企画書.pdf", EXE, NOT_ACCEPTED),
        ("企画書.pdf", ELF, NOT_ACCEPTED),
        ("写真.png", "これは画像ではありません。\n".encode() * 20, NOT_ACCEPTED),
        ("写真.png", b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'></svg>", NOT_ACCEPTED),
        ("資料.pdf", b"<html><script>alert(1)</script></html>", NOT_ACCEPTED),
        ("資料.pdf", b"PK\x03\x04" + b"\x00" * 100, NOT_ACCEPTED),  # a zip (or docx)
        ("資料.pdf", b"%PDF-1.4\n" + b"0" * 100, "はPDFとして読み取れません。"),  # no %%EOF: cut off
        ("写真.png", image_bytes("PNG")[:60], "は画像として読み取れません。"),  # truncated
        ("空.pdf", b"", "は空のファイルです。"),
    ],
    ids=[
        "exe-as-pdf",
        "elf-as-pdf",
        "text-as-png",
        "svg-as-png",
        "html-as-pdf",
        "zip-as-pdf",
        "cut-pdf",
        "cut-png",
        "empty",
    ],
)
def test_other_content_is_refused(app, name, data, message):
    with pytest.raises(uploads.UploadError) as refused:
        uploads.check_file(name, data)
    assert refused.value.message == f"{name} {message}"


def test_a_file_over_10_mb_is_refused(app):
    data = b"%PDF-1.4\n" + b"0" * (11 * 1024 * 1024) + b"\n%%EOF\n"
    with pytest.raises(uploads.UploadError) as refused:
        uploads.check_file("大きい.pdf", data)
    assert refused.value.message == "大きい.pdf は10MBを超えています。"


def test_file_names_are_cleaned(app):
    checked = uploads.check_file('..\\..\\etc/<企画>:"書".pdf', PDF)
    assert checked.original_name == "企画書.pdf"
    assert uploads.check_file("", PDF).original_name == "file"


# --- decompression bombs: refused by the size in the header, before decoding -----------------------------------------


def test_a_decompression_bomb_is_refused_before_it_is_decoded(app, decoded):
    started = time.perf_counter()
    with pytest.raises(uploads.UploadError) as refused:
        uploads.check_file("ポスター.png", blank_png(*BOMB))
    assert refused.value.message == too_large("ポスター.png")
    assert decoded == []
    assert time.perf_counter() - started < 1  # a sanity bound: decoding it took 4 s
    uploads.check_file("会場図.png", image_bytes("PNG"))
    assert decoded == [(64, 48)]  # the decoding of an ordinary image is seen


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("多すぎ.png", png_header(8_000, 5_001)),  # one row over 40 million pixels
        ("細長い.png", png_header(20_001, 1)),
        ("縦長.png", png_header(1, 20_001)),
        ("巨大.png", png_header(30_000, 30_000)),  # Pillow's own bomb error, at twice its limit
        ("巨大.jpg", jpeg_header(60_000, 60_000)),
        ("巨大.webp", webp_header(16_000, 16_000)),
    ],
    ids=["one-row-over", "too-wide", "too-high", "pillow-bomb-error", "jpeg", "webp"],
)
def test_images_over_the_limits_are_refused_by_their_header(app, decoded, name, data):
    """None of these holds decodable pixels: had they been decoded, the message would be "cannot be read"."""
    with pytest.raises(uploads.UploadError) as refused:
        uploads.check_file(name, data)
    assert refused.value.message == too_large(name)
    assert decoded == []


def test_an_image_at_the_limits_is_accepted(app):
    checked = uploads.check_file("ポスター.png", blank_png(8_000, 5_000))  # exactly 40 million pixels
    assert (checked.content_type, checked.width, checked.height) == ("image/png", 8_000, 5_000)
    checked = uploads.check_file("横断幕.png", blank_png(20_000, 2))
    assert (checked.width, checked.height) == (20_000, 2)


def test_pillows_bomb_warning_is_an_error_inside_the_check_only(app, monkeypatch):
    """Defence in depth: should Pillow warn of a bomb that the header check let through, the image is refused;
    the warning filter is not changed for the rest of the process."""
    filters = list(warnings.filters)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2_000)  # Pillow warns above 2,000 and raises above 4,000
    with pytest.raises(uploads.UploadError) as refused:
        uploads.check_file("会場図.png", image_bytes("PNG"))  # 3,072 pixels
    assert refused.value.message == too_large("会場図.png")
    assert warnings.filters == filters


def test_the_images_of_one_request_have_a_pixel_budget(app, decoded, monkeypatch):
    monkeypatch.setattr(uploads, "MAX_PIXELS_PER_REQUEST", 3 * 64 * 48)
    files = [(f"写真{n}.png", image_bytes("PNG")) for n in range(3)]
    assert len(uploads.check_files([("企画書.pdf", PDF), *files])) == 4  # a PDF costs nothing
    decoded.clear()
    with pytest.raises(uploads.UploadError) as refused:
        uploads.check_files([*files, ("写真3.png", image_bytes("PNG"))])
    assert refused.value.message.startswith("画像が合わせて大きすぎます（一度に合計9,216画素まで）。")
    assert decoded == []  # refused from the headers, before any image was decoded


def test_a_bad_file_is_refused_before_any_image_is_decoded(app, decoded):
    with pytest.raises(uploads.UploadError) as refused:
        uploads.check_files([("会場図.png", image_bytes("PNG")), ("企画書.pdf", EXE)])
    assert refused.value.message == f"企画書.pdf {NOT_ACCEPTED}"
    assert decoded == []


# --- through the pages ----------------------------------------------------------------------------------------


def multipart(fields: dict, files: list[tuple[str, bytes]]) -> dict:
    """Keyword arguments for client.post with the body encoded in memory (the test client would otherwise spool a
    large body to a temporary file it never closes, which filterwarnings=error turns into a failure)."""
    values = MultiDict(fields)
    for name, content in files:
        values.add(
            "attachments", FileStorage(io.BytesIO(content), filename=name, content_type="application/octet-stream")
        )
    boundary, body = encode_multipart(values)
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}


def new_post(client, files, **overrides):
    return client.post("/posts/new", **multipart(form_data(**overrides), files))


def test_four_kinds_of_files_are_attached(app, client, auth, people):
    before = uploaded_files(app)
    auth.login(people.sakai)
    files = [
        ("企画書.pdf", PDF),
        ("会場図.png", image_bytes("PNG")),
        ("水族館.jpg", jpeg_with_gps()),
        ("写真.webp", image_bytes("WEBP")),
    ]
    response = new_post(client, files, title="添付ファイルのある提案")
    assert response.status_code == 302, response.get_data(as_text=True)
    post = db.session.scalar(select(Post).where(Post.title == "添付ファイルのある提案"))
    attachments = post.attachments
    assert [(a.original_name, a.content_type) for a in attachments] == [
        ("企画書.pdf", "application/pdf"),
        ("会場図.png", "image/png"),
        ("水族館.jpg", "image/jpeg"),
        ("写真.webp", "image/webp"),
    ]
    assert all(a.uploaded_by_id == people.sakai.id for a in attachments)
    new_files = uploaded_files(app) - before
    assert new_files == {a.stored_name for a in attachments}
    assert all(not name.startswith(("企画", "会場")) for name in new_files)  # random names, never the user's
    for attachment in attachments:
        stored = uploads.path_of(attachment.stored_name)
        assert stored.suffix == EXTENSIONS[attachment.content_type]
        assert attachment.size == stored.stat().st_size
    jpeg = next(a for a in attachments if a.content_type == "image/jpeg")
    assert_no_metadata(uploads.path_of(jpeg.stored_name).read_bytes())
    assert not str(uploads.path_of(jpeg.stored_name)).startswith(str(Path(app.static_folder)))

    page = client.get(f"/posts/{post.id}").get_data(as_text=True)
    for attachment in attachments:
        assert f"/posts/{post.id}/attachments/{attachment.id}" in page


def refused_upload(app, client, files, field_message):
    before_files = uploaded_files(app)
    before = database_state()
    response = new_post(client, files, title="拒否される添付")
    assert response.status_code == 400
    assert_field_error(response, "attachments", field_message)
    assert_unchanged(before)
    assert uploaded_files(app) == before_files
    return response


@pytest.mark.parametrize(
    ("name", "content"),
    [("企画書.pdf", EXE), ("企画書.pdf", ELF), ("写真.png", b"just some text, not an image\n" * 10)],
    ids=["exe", "elf", "text"],
)
def test_disguised_files_are_refused_on_the_form(app, client, auth, people, name, content):
    auth.login(people.sakai)
    refused_upload(app, client, [(name, content)], f"{name} {NOT_ACCEPTED}")


def test_an_11_mb_file_is_refused_on_the_form(app, client, auth, people):
    auth.login(people.sakai)
    big = b"%PDF-1.4\n" + b"0" * (11 * 1024 * 1024) + b"\n%%EOF\n"
    refused_upload(app, client, [("大きい.pdf", big)], "大きい.pdf は10MBを超えています。")


def test_a_decompression_bomb_is_refused_on_the_form(app, client, auth, people, decoded):
    auth.login(people.sakai)
    started = time.perf_counter()
    refused_upload(app, client, [("企画書.pdf", PDF), ("ポスター.png", blank_png(*BOMB))], too_large("ポスター.png"))
    assert decoded == []
    assert time.perf_counter() - started < 1  # a sanity bound: decoding it took 4 s


def test_images_over_the_budget_together_are_refused_on_the_form(app, client, auth, people, decoded):
    """Three posters of 40 million pixels each: each is allowed, together they are 120 million."""
    auth.login(people.sakai)
    files = [("企画書.pdf", PDF), *((f"ポスター{n}.png", blank_png(8_000, 5_000)) for n in range(3))]
    refused_upload(app, client, files, TOO_MANY_IN_TOTAL)
    assert decoded == []


def test_the_refusal_reads_in_english(app, client, auth, people):
    """The limits are written out in pixels, which read the same in both languages (4000万 would not)."""
    people.sakai.locale = "en"
    db.session.commit()
    auth.login(people.sakai)
    response = new_post(client, [("poster.png", blank_png(*BOMB))])
    assert response.status_code == 400
    assert_field_error(
        response,
        "attachments",
        "poster.png is too large: an image may have up to 40,000,000 pixels and be at most 20,000 pixels wide or high.",
    )


def test_six_files_are_refused(app, client, auth, people):
    auth.login(people.sakai)
    refused_upload(app, client, [(f"資料{n}.pdf", PDF) for n in range(6)], "添付できるファイルは5件までです。")


def test_five_files_are_the_limit_across_edits(app, client, auth, people, make_post):
    post = make_post(people.sakai, PostState.DRAFT, files=[file_storage(PDF, f"既存{n}.pdf") for n in range(3)])
    auth.login(people.sakai)
    before_files = uploaded_files(app)
    before = database_state()
    files = [(f"追加{n}.pdf", PDF) for n in range(3)]
    response = client.post(f"/posts/{post.id}/edit", **multipart(form_data(title=post.title), files))
    assert response.status_code == 400
    assert_field_error(response, "attachments", "添付できるファイルは5件までです。")
    assert_unchanged(before)
    assert uploaded_files(app) == before_files


def test_a_bad_second_file_leaves_no_file_behind(app, client, auth, people):
    auth.login(people.sakai)
    refused_upload(app, client, [("良い.pdf", PDF), ("悪い.pdf", EXE), ("良い.png", image_bytes("PNG"))], NOT_ACCEPTED)


def test_a_failure_after_the_first_file_was_written_removes_it(app, client, auth, people, monkeypatch):
    """The view rolls back; the file already written for the first attachment goes with the transaction."""
    real_store = uploads.store
    written: list[Path] = []

    def store_then_fail(session, checked):
        if written:
            assert written[0].exists()  # the first file really is on disk at this point
            raise PostError("ファイルを保存できませんでした。", field="attachments")
        stored_name = real_store(session, checked)
        written.append(uploads.path_of(stored_name))
        return stored_name

    monkeypatch.setattr(uploads, "store", store_then_fail)
    auth.login(people.sakai)
    refused_upload(
        app, client, [("一つ目.pdf", PDF), ("二つ目.png", image_bytes("PNG"))], "ファイルを保存できませんでした。"
    )
    assert len(written) == 1 and not written[0].exists()


def test_a_rolled_back_transaction_removes_the_files_it_wrote(app, people):
    before = uploaded_files(app)
    post = services.create_post(
        people.sakai, post_input(), [file_storage(PDF, "a.pdf"), file_storage(image_bytes("JPEG"), "b.jpg")]
    )
    assert len(uploaded_files(app) - before) == 2 and len(post.attachments) == 2
    db.session.rollback()
    assert uploaded_files(app) == before


def test_committed_files_stay(app, people):
    before = uploaded_files(app)
    services.create_post(people.sakai, post_input(), [file_storage(PDF, "a.pdf")])
    db.session.commit()
    assert len(uploaded_files(app) - before) == 1


# --- serving the files ----------------------------------------------------------------------------------------


def fetch(client, post, attachment):
    with client.get(f"/posts/{post.id}/attachments/{attachment.id}") as response:
        return response.status_code, dict(response.headers), response.data


def test_attachments_are_served_only_to_those_who_may_see_the_post(app, client, auth, people, make_post, organization):
    post = make_post(people.sakai, PostState.DRAFT, files=[file_storage(PDF, "企画書.pdf")])
    attachment = post.attachments[0]

    status, headers, _ = fetch(client, post, attachment)
    assert status == 302 and "/login" in headers["Location"]
    for outsider in (people.kushiro, people.shinagawa):
        auth.login(outsider)
        assert fetch(client, post, attachment)[0] == 404
        auth.logout()
    for insider in (people.sakai, people.sakai_colleague, people.moderator):
        auth.login(insider)
        assert fetch(client, post, attachment)[0] == 200
        auth.logout()

    services.submit_post(people.sakai, post)
    services.approve_post(people.moderator, post, post.version)
    db.session.commit()
    auth.login(people.kushiro)
    status, headers, body = fetch(client, post, attachment)
    assert status == 200 and body == PDF
    assert headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''%E4%BC%81%E7%94%BB%E6%9B%B8.pdf" in headers["Content-Disposition"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in headers["Cache-Control"]
    auth.logout()

    organization(KUSHIRO_TOWN).membership = Membership.SUSPENDED  # 釧路町 is no longer a member
    db.session.commit()
    auth.login(people.kushiro)
    status, headers, _ = fetch(client, post, attachment)
    assert status == 302 and headers["Location"] == "/organization/suspended"  # all they may read is why


def test_a_hidden_posts_files_are_not_served(app, client, auth, people, make_post):
    post = make_post(people.sakai, files=[file_storage(PDF, "企画書.pdf")])
    attachment = post.attachments[0]
    services.hide_post(people.moderator, post, "利用規約に反する内容があります。")
    db.session.commit()
    auth.login(people.kushiro)
    assert fetch(client, post, attachment)[0] == 404


def test_an_attachment_is_served_only_under_its_own_post(app, client, auth, people, make_post):
    first = make_post(people.sakai, files=[file_storage(PDF, "一.pdf")])
    hidden_draft = make_post(people.sakai, PostState.DRAFT, files=[file_storage(PDF, "下書き.pdf")])
    auth.login(people.kushiro)
    with client.get(f"/posts/{first.id}/attachments/{hidden_draft.attachments[0].id}") as response:
        assert response.status_code == 404


def test_images_are_served_as_downloads_too(app, client, auth, people, make_post):
    post = make_post(people.sakai, files=[file_storage(image_bytes("PNG"), "会場図.png")])
    auth.login(people.kushiro)
    status, headers, body = fetch(client, post, post.attachments[0])
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert headers["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in headers["Content-Security-Policy"]
    assert body.startswith(b"\x89PNG")


# --- removing files ---------------------------------------------------------------------------------------------


def test_removing_an_attachment_from_a_draft_deletes_its_file_after_commit(app, client, auth, people, make_post):
    post = make_post(
        people.sakai, PostState.DRAFT, files=[file_storage(PDF, "消す.pdf"), file_storage(PDF, "残す.pdf")]
    )
    removed, kept = post.attachments
    removed_id = removed.id
    removed_path, kept_path = uploads.path_of(removed.stored_name), uploads.path_of(kept.stored_name)
    assert removed_path.exists() and kept_path.exists()
    auth.login(people.sakai)

    # A refused edit keeps the file and its row.
    data = form_data(title=post.title, deadline="2000-01-01", remove_attachments=str(removed_id))
    assert client.post(f"/posts/{post.id}/edit", data=data).status_code == 400
    assert removed_path.exists()
    assert db.session.get(Attachment, removed_id) is not None

    data = form_data(title=post.title, remove_attachments=str(removed_id))
    assert client.post(f"/posts/{post.id}/edit", data=data).status_code == 302
    db.session.expire_all()
    assert db.session.get(Attachment, removed_id) is None
    assert [a.original_name for a in db.session.get(Post, post.id).attachments] == ["残す.pdf"]
    assert not removed_path.exists() and kept_path.exists()


def test_a_removal_rolled_back_keeps_the_file(app, people, make_post):
    post = make_post(people.sakai, PostState.DRAFT, files=[file_storage(PDF, "残る.pdf")])
    attachment = post.attachments[0]
    path = uploads.path_of(attachment.stored_name)
    services.update_post(people.sakai, post, post_input(title=post.title), remove_attachment_ids=[attachment.id])
    assert path.exists()  # not before the commit
    db.session.rollback()
    assert path.exists()
    db.session.commit()  # a later commit of the same session does not delete it either
    assert path.exists()
