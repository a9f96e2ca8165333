"""The kinds of notification: who gets them is decided by the receivers; what they say and their defaults here."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from bulletin.core.text import format_dual_date, single_line
from bulletin.notifications.models import DeliveryMode
from bulletin.posts.categories import category_label


@dataclass(frozen=True)
class Kind:
    """A kind of notification: its label on the settings page, its sentence (in the app, the mail and the digest),
    its e-mail subject, and its default e-mail delivery. `text` and `subject` are msgids with %(…)s placeholders
    filled from Notification.params; a subject may also name the recipient's organization (%(recipient_org)s)."""

    label: object
    text: object
    subject: object
    group: object = None  # its heading on the settings page
    default: DeliveryMode = DeliveryMode.IMMEDIATE
    moderators_only: bool = False
    wards_only: bool = False  # about proposals addressed to a ward: nobody else ever receives it
    on_settings_page: bool = True  # False: its delivery is chosen elsewhere (each saved search has its own)


# The settings page's headings, in its order; KINDS lists each group's kinds together.
QUEUE = _l("事務局の審査（モデレーター）")
NEW_POSTS = _l("新しい投稿と招待")
OWN_POSTS = _l("自団体の投稿")
CONVERSATIONS = _l("応答とやりとり")
PARTNERSHIPS = _l("連携と事例")
STAFF = _l("自団体の職員")

KINDS: dict[str, Kind] = {
    "registration_pending": Kind(
        _l("承認待ちの利用登録"),
        _l("承認待ち: %(org)s の %(name)s さん"),
        _l("利用登録の承認待ち: %(org)s の %(name)s さん"),
        moderators_only=True,
        group=QUEUE,
    ),
    "email_change_pending": Kind(
        _l("承認待ちのメールアドレス変更"),
        _l("承認待ち: %(org)s の %(name)s さんのメールアドレス変更"),
        _l("メールアドレス変更の承認待ち: %(org)s の %(name)s さん"),
        moderators_only=True,
        group=QUEUE,
    ),
    "post_submitted": Kind(
        _l("審査待ちの投稿"),
        _l("「%(title)s」が審査に出されました。"),
        _l("投稿の審査待ち: %(title)s"),
        moderators_only=True,
        group=QUEUE,
    ),
    "revision_submitted": Kind(
        _l("審査待ちの公開中の投稿の修正"),
        _l("公開中の「%(title)s」の修正が審査に出されました。"),
        _l("公開中の投稿の修正の審査待ち: %(title)s"),
        moderators_only=True,
        group=QUEUE,
    ),
    "report_filed": Kind(
        _l("通報"),
        _l("「%(title)s」について通報がありました。"),
        _l("通報がありました: %(title)s"),
        moderators_only=True,
        group=QUEUE,
    ),
    "case_awaiting_publication": Kind(
        _l("公開を待つ連携事例（両団体が同意）"),
        _l("連携「%(title)s」の事例としての公開に、両方の団体が同意しました。公開を判断してください。"),
        _l("公開を待つ連携事例: %(title)s"),
        moderators_only=True,
        group=QUEUE,
    ),
    "post_targeted": Kind(
        _l("自区が対象の新しい提案"),
        _l("%(org)s から、自区を対象にした提案「%(title)s」が届きました。"),
        _l("%(recipient_org)s 宛ての提案が届きました: %(title)s"),
        group=NEW_POSTS,
        wards_only=True,
    ),
    "post_published": Kind(
        _l("相手側の新しい投稿（フォロー中）"),
        _l("%(org)s の新しい投稿「%(title)s」が公開されました。"),
        _l("%(org)s の新しい投稿: %(title)s"),
        default=DeliveryMode.DIGEST,
        group=NEW_POSTS,
    ),
    "saved_search_matched": Kind(
        _l("保存した検索に合う新しい投稿"),
        _l("保存した検索「%(search)s」に合う投稿「%(title)s」（%(org)s）が公開されました。"),
        _l("保存した検索「%(search)s」に合う新しい投稿: %(title)s"),
        group=NEW_POSTS,
        on_settings_page=False,
    ),
    "co_proposer_invited": Kind(
        _l("共同提案者への招待"),
        _l("%(org)s から「%(title)s」の共同提案者として招待されました。"),
        _l("共同提案者への招待: %(title)s（%(org)s から）"),
        group=NEW_POSTS,
    ),
    "post_approved": Kind(
        _l("投稿の公開"), _l("「%(title)s」が公開されました。"), _l("投稿が公開されました: %(title)s"), group=OWN_POSTS
    ),
    "post_rejected": Kind(
        _l("投稿の差し戻し"),
        _l("「%(title)s」が差し戻されました。事務局のコメントをご確認ください。"),
        _l("投稿が差し戻されました: %(title)s"),
        group=OWN_POSTS,
    ),
    "revision_approved": Kind(
        _l("公開中の投稿の修正の承認"),
        _l("「%(title)s」の修正が承認され、公開中の内容に反映されました。"),
        _l("修正が承認されました: %(title)s"),
        group=OWN_POSTS,
    ),
    "revision_rejected": Kind(
        _l("公開中の投稿の修正の差し戻し"),
        _l("「%(title)s」の修正は差し戻されました。公開中の内容は変わっていません。"),
        _l("修正が差し戻されました: %(title)s"),
        group=OWN_POSTS,
    ),
    "post_hidden": Kind(
        _l("投稿の非公開"),
        _l("「%(title)s」は事務局により非公開になりました。"),
        _l("投稿が非公開になりました: %(title)s"),
        group=OWN_POSTS,
    ),
    "post_unhidden": Kind(
        _l("投稿の非公開の解除"),
        _l("「%(title)s」の非公開が解除されました。"),
        _l("投稿の非公開が解除されました: %(title)s"),
        group=OWN_POSTS,
    ),
    "deadline_soon": Kind(
        _l("締切の7日前"),
        _l("「%(title)s」の締切まであと7日です。締切: %(deadline)s"),
        _l("締切まであと7日: %(title)s"),
        group=OWN_POSTS,
    ),
    "co_proposer_accepted": Kind(
        _l("共同提案者の招待の受諾"),
        _l("%(org)s が「%(title)s」の共同提案者になりました。"),
        _l("%(org)s が共同提案者になりました: %(title)s"),
        group=OWN_POSTS,
    ),
    "co_proposer_declined": Kind(
        _l("共同提案者の招待の辞退"),
        _l("%(org)s が「%(title)s」の共同提案者への招待をお断りしました。"),
        _l("%(org)s が共同提案者への招待をお断りしました: %(title)s"),
        group=OWN_POSTS,
    ),
    "response_received": Kind(
        _l("応答の受信"),
        _l("%(org)s から「%(title)s」への応答がありました。"),
        _l("%(org)s から応答がありました: %(title)s"),
        group=CONVERSATIONS,
    ),
    "message_posted": Kind(
        _l("やりとりの新着メッセージ"),
        _l("%(org)s から「%(title)s」のやりとりにメッセージがあります。"),
        _l("%(org)s からメッセージがあります: %(title)s"),
        group=CONVERSATIONS,
    ),
    "response_accepted": Kind(
        _l("応答の受け入れ"),
        _l("%(org)s が「%(title)s」への応答を受け入れました。"),
        _l("%(org)s が応答を受け入れました: %(title)s"),
        group=CONVERSATIONS,
    ),
    "response_declined": Kind(
        _l("応答へのお断り"),
        _l("%(org)s が「%(title)s」への応答をお断りしました。"),
        _l("%(org)s が応答をお断りしました: %(title)s"),
        group=CONVERSATIONS,
    ),
    "outcome_updated": Kind(
        _l("連携の結果の記録"),
        _l("%(org)s が連携「%(title)s」の結果を記録しました。"),
        _l("%(org)s が連携の結果を記録しました: %(title)s"),
        group=PARTNERSHIPS,
    ),
    "publication_consented": Kind(
        _l("連携事例の公開への同意"),
        _l("%(org)s が連携「%(title)s」の事例としての公開に同意しました。"),
        _l("%(org)s が事例としての公開に同意しました: %(title)s"),
        group=PARTNERSHIPS,
    ),
    "case_published": Kind(
        _l("連携事例の公開"),
        _l("連携「%(title)s」が事例として公開されました。"),
        _l("連携事例として公開されました: %(title)s"),
        group=PARTNERSHIPS,
    ),
    "case_withdrawn": Kind(
        _l("連携事例の公開の取り下げ"),
        _l("連携「%(title)s」の事例としての公開が、事務局により取り下げられました。"),
        _l("連携事例の公開が取り下げられました: %(title)s"),
        group=PARTNERSHIPS,
    ),
    "member_approved": Kind(
        _l("職員の利用開始"),
        _l("%(name)s さん（%(org)s）の利用登録が承認されました。"),
        _l("職員の利用登録が承認されました: %(name)s さん"),
        group=STAFF,
    ),
    "member_rejected": Kind(
        _l("職員の登録の却下"),
        _l("%(name)s さん（%(org)s）の利用登録は承認されませんでした。"),
        _l("職員の利用登録は承認されませんでした: %(name)s さん"),
        group=STAFF,
    ),
}

# Params holding a date (ISO), shown as the app shows dates: 令和9年3月31日（2027-03-31）.
# The pages a notification may be about: opening one reads its notifications. No other page asks whether it has
# any, so `notify` refuses any other endpoint.
SUBJECT_ENDPOINTS = frozenset(
    {
        "accounts.members",
        "moderation.queue",
        "moderation.review_post",
        "moderation.review_revision",
        "posts.edit",
        "posts.ours",
        "posts.show",
        "responses.case",
        "responses.conversation",
        "responses.partnership",
    }
)

DATE_PARAMS = ("deadline", "desired_from", "desired_until")


def _readable(params: dict) -> dict:
    """The params as the reader sees them: the secretariat named in their language, dates in both calendars."""
    locale = str(get_locale() or "ja")
    shown = dict(params)
    if "org" in shown and shown["org"] is None:  # written by the secretariat: named in the reader's language
        shown["org"] = str(_l("事務局"))
    for key in DATE_PARAMS:
        if shown.get(key):
            with contextlib.suppress(TypeError, ValueError):  # a value written before dates were stored as ISO
                shown[key] = format_dual_date(date.fromisoformat(shown[key]), locale)
    return shown


def _fill(msgid: object, params: dict, fallback: object) -> str:
    try:
        return str(msgid) % params
    except (KeyError, TypeError, ValueError):
        return str(fallback)


def notification_text(kind: str, params: dict) -> str:
    """The notification's sentence in the current language."""
    definition = KINDS.get(kind)
    if definition is None:
        return kind
    return _fill(definition.text, _readable(params), definition.label)


def notification_subject(kind: str, params: dict, recipient) -> str:
    """The e-mail subject of a notification for this recipient, in the current language, on one line."""
    definition = KINDS.get(kind)
    if definition is None:
        return kind
    subject, shown = str(definition.subject), _readable(params)
    if "%(recipient_org)s" in subject:  # read only when said: the recipient's organization may not be loaded
        organization = getattr(recipient, "organization", None)
        shown["recipient_org"] = organization.name if organization is not None else ""
    return single_line(_fill(subject, shown, definition.label))


def notification_brief(params: dict) -> str:
    """What the digest says of a notification under its sentence, on one line: the reason given, the start of the
    text written, or a new post's category, deadline and summary ("" when there is nothing more)."""
    shown = _readable(params)
    parts = []
    if shown.get("category"):
        parts.append(str(_l("分野: %(category)s", category=category_label(shown["category"]))))
    if "deadline" in shown and "summary" in shown:  # a new post's
        parts.append(str(_l("締切: %(deadline)s", deadline=shown["deadline"] or _l("指定なし"))))
        if shown.get("desired_from") or shown.get("desired_until"):
            period = f"{shown.get('desired_from') or ''} 〜 {shown.get('desired_until') or ''}"
            parts.append(str(_l("希望時期: %(period)s", period=period)))
    if shown.get("summary"):
        parts.append(shown["summary"])
    if shown.get("reason"):
        parts.append(str(_l("理由: %(reason)s", reason=shown["reason"])))
    if shown.get("excerpt"):
        parts.append(f"「{shown['excerpt']}」")
    return single_line(" / ".join(parts))


# Outbox kinds that are notifications (withheld from readers who are no longer active), as opposed to account mail.
NOTIFICATION_KINDS = frozenset({*KINDS, "digest"})
