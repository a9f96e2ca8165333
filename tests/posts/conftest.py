"""Fixtures of the posts tests: the people of a small world, and a factory that brings a post to any state through
the real service verbs (so every post a test sees was made the way the application makes them)."""

from __future__ import annotations

import io
import itertools
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage

from bulletin.accounts.models import User
from bulletin.core.text import today_in_japan
from bulletin.extensions import db
from bulletin.posts import services
from bulletin.posts.models import Post, PostKind, PostState
from bulletin.posts.services import PostInput
from tests.conftest import KUSHIRO_TOWN, SAKAI, SHINAGAWA

CHIYODA = "131016"  # 千代田区, a special ward
SAKAI_OSAKA = "271403"  # 堺市, a city of Osaka (not 坂井市)

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

STATE_LABELS = {
    PostState.DRAFT: "下書き",
    PostState.PENDING: "審査待ち",
    PostState.PUBLISHED: "公開中",
    PostState.REJECTED: "差し戻し",
    PostState.CLOSED: "終了",
    PostState.WITHDRAWN: "取り下げ",
    PostState.EXPIRED: "期限切れ",
    PostState.HIDDEN: "非公開（事務局）",
}


def in_days(days: int) -> date:
    """A date relative to today in Japan."""
    return today_in_japan() + timedelta(days=days)


def post_input(kind: PostKind = PostKind.PROPOSAL, **overrides) -> PostInput:
    """What an author writes, with sensible values that any test may override."""
    values = {
        "kind": kind,
        "title": "黄金がにのPRイベントを開きませんか",
        "summary": "坂井市三国港の黄金がにを区民の皆さまに紹介したい。",
        "body": "## 内容\n\n- 試食\n- 漁師のトーク",
        "category": "products",
        "tags": ["黄金がに", "物産展"],
        "desired_from": in_days(30),
        "desired_until": in_days(40),
        "deadline": in_days(20),
    }
    values.update(overrides)
    return PostInput(**values)


def form_data(**overrides) -> dict:
    """The fields of /posts/new and /posts/<id>/edit as a browser sends them; None leaves a field out."""
    data = {
        "kind": "proposal",
        "title": "黄金がにのPRイベントを開きませんか",
        "summary": "坂井市三国港の黄金がにを区民の皆さまに紹介したい。",
        "body": "## 内容\n\n- 試食\n- 漁師のトーク",
        "category": "products",
        "tags": "黄金がに, 物産展",
        "desired_from": in_days(30).isoformat(),
        "desired_until": in_days(40).isoformat(),
        "deadline": in_days(20).isoformat(),
        "action": "draft",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def image_bytes(fmt: str, size: tuple[int, int] = (64, 48), **save_options) -> bytes:
    """A real image of the given Pillow format, made in memory."""
    image = Image.new("RGB", size, (200, 40, 30))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save_options)
    return buffer.getvalue()


@cache
def blank_png(width: int, height: int, *, pixels: bool = True) -> bytes:
    """A valid black 1-bit PNG of any size, written chunk by chunk: a 10,900 x 10,900 image (a decompression bomb of
    119 million pixels) is 15 KB and takes milliseconds to make, where Pillow would first allocate every pixel.
    Without `pixels`, the image data is empty: the header is read, decoding fails."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # bit depth 1, greyscale, no interlace
    rows = (b"\x00" * (1 + (width + 7) // 8)) * height if pixels else b""  # per row: filter "none", then its bits
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def file_storage(data: bytes, filename: str) -> FileStorage:
    """An uploaded file as the services receive it."""
    return FileStorage(stream=io.BytesIO(data), filename=filename)


@dataclass
class People:
    """Staff of both sides and a moderator; every organization here is a member."""

    sakai: User  # 坂井市 staff: proposals
    sakai_colleague: User  # 坂井市 staff
    kushiro: User  # 釧路町 staff: proposals
    shinagawa: User  # 品川区 staff: calls
    chiyoda: User  # 千代田区 staff: calls
    moderator: User


@pytest.fixture
def people(create_user, moderator) -> People:
    """The People of one test."""
    return People(
        sakai=create_user(SAKAI, email="staff@city.fukui-sakai.lg.jp", name="坂井 職員"),
        sakai_colleague=create_user(SAKAI, email="colleague@city.fukui-sakai.lg.jp", name="坂井 同僚"),
        kushiro=create_user(KUSHIRO_TOWN, email="staff@town.kushiro.lg.jp", name="釧路町 職員"),
        shinagawa=create_user(SHINAGAWA, email="staff@city.shinagawa.tokyo.jp", name="品川 職員"),
        chiyoda=create_user(CHIYODA, email="staff@city.chiyoda.lg.jp", name="千代田 職員"),
        moderator=moderator,
    )


@pytest.fixture
def make_post(moderator) -> Callable[..., Post]:
    """Factory: a post of the author's organization brought to `state` through the service verbs, committed."""
    numbers = itertools.count(1)

    def make(author: User, state: PostState = PostState.PUBLISHED, *, files=(), **fields) -> Post:
        fields.setdefault("title", f"投稿 {next(numbers)} 黄金がにのPR")
        post = services.create_post(author, post_input(services.kind_for(author.organization), **fields), files)
        if state in (PostState.PENDING, PostState.PUBLISHED, PostState.REJECTED) or state in _AFTER_PUBLICATION:
            services.submit_post(author, post)
        if state == PostState.REJECTED:
            services.reject_post(moderator, post, "日程を具体的に書いてください。")
        if state == PostState.PUBLISHED or state in _AFTER_PUBLICATION:
            services.approve_post(moderator, post)
        if state == PostState.CLOSED:
            services.close_post(author, post, "partnered")
        elif state == PostState.EXPIRED:
            services.transition(post, "expire")
        elif state == PostState.HIDDEN:
            services.hide_post(moderator, post, "利用規約に反する内容があります。")
        elif state == PostState.WITHDRAWN:
            services.withdraw_post(author, post)
        db.session.commit()
        assert post.state == state
        return post

    return make


_AFTER_PUBLICATION = (PostState.CLOSED, PostState.EXPIRED, PostState.HIDDEN)
