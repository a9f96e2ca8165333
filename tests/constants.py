"""Values the tests share: organization codes, passwords, the backend of the run, a minimal PDF, and the messages
that several test modules expect to see."""

from __future__ import annotations

import os

from bulletin.posts.models import PostState

# --- the run's database ------------------------------------------------------------------------------------------

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRESQL = TEST_DATABASE_URL.startswith("postgres")  # otherwise each run builds a SQLite file of its own

# --- organizations (codes of the seeded data) ----------------------------------------------------------------------

SAKAI = "182109"  # 坂井市 (福井県), a city: proposals
SHINAGAWA = "131091"  # 品川区, a special ward: calls
CHIYODA = "131016"  # 千代田区, a special ward
KUSHIRO_TOWN = "016616"  # 釧路町, a town of Hokkaido
KANAZAWA = "172014"  # 金沢市 (石川県)
GIFU = "212016"  # 岐阜市 (岐阜県): suspended in the World of the route and page tests
SAKAI_OSAKA = "271403"  # 堺市 (大阪府), not 坂井市: its domain city.sakai.lg.jp is often taken for 坂井市's

# --- accounts ------------------------------------------------------------------------------------------------------

PASSWORD = "correct-horse-battery-staple"  # every test user's password
NEW_PASSWORD = "a-new-and-long-passphrase"  # a good password to change to

# --- files ---------------------------------------------------------------------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
CONFIRMED = {"confirm": "1"}  # what the 確定 button of a confirm page (or the dialog) adds to a decision

# --- messages the application shows --------------------------------------------------------------------------------

REQUIRED = "入力してください。"
CONTROL_CHARACTERS = "使用できない制御文字が含まれています。"
BAD_DATE = "日付は 2026-04-01 の形で入力してください。"
CSRF_REFUSED = "フォームの有効期限が切れました。ページを読み込み直してから、もう一度送信してください。"
NOT_ACCEPTED = "は添付できない形式です。PDF、PNG、JPEG、WebP のみ添付できます。"  # after the file's name
MODERATORS_ONLY = "この操作はモデレーターだけが行えます。"
ALREADY_DECIDED = "この応答にはすでに回答しています。"
RETURN_COMMENT = "日程を具体的に書いてください。"  # a moderator's reason for returning a post
HIDE_REASON = "利用規約に反する内容があります。"  # a moderator's reason for hiding a post

STATE_LABELS = {  # what the pages call each state of a post, written out rather than read from the code under test
    PostState.DRAFT: "下書き",
    PostState.PENDING: "審査待ち",
    PostState.PUBLISHED: "公開中",
    PostState.REJECTED: "差し戻し",
    PostState.CLOSED: "終了",
    PostState.WITHDRAWN: "取り下げ",
    PostState.EXPIRED: "期限切れ",
    PostState.HIDDEN: "非公開（事務局）",
}
