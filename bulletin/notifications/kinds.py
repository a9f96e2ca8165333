"""The kinds of notification: who gets them is decided by the receivers; what they say and their defaults here."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from bulletin.notifications.models import DeliveryMode


@dataclass(frozen=True)
class Kind:
    """A kind of notification: its label on the settings page, its text, and its default e-mail delivery."""

    label: object
    text: object  # a msgid with %(…)s placeholders filled from Notification.params
    default: DeliveryMode = DeliveryMode.IMMEDIATE
    moderators_only: bool = False


KINDS: dict[str, Kind] = {
    "registration_pending": Kind(
        _l("承認待ちの利用登録"), _l("承認待ち: %(org)s の %(name)s さん"), moderators_only=True
    ),
    "email_change_pending": Kind(
        _l("承認待ちのメールアドレス変更"),
        _l("承認待ち: %(org)s の %(name)s さんのメールアドレス変更"),
        moderators_only=True,
    ),
    "member_approved": Kind(_l("職員の利用開始"), _l("%(name)s さん（%(org)s）の利用登録が承認されました。")),
    "member_rejected": Kind(_l("職員の登録の却下"), _l("%(name)s さん（%(org)s）の利用登録は承認されませんでした。")),
    "post_submitted": Kind(_l("審査待ちの投稿"), _l("「%(title)s」が審査に出されました。"), moderators_only=True),
    "report_filed": Kind(_l("通報"), _l("「%(title)s」について通報がありました。"), moderators_only=True),
    "post_approved": Kind(_l("投稿の公開"), _l("「%(title)s」が公開されました。")),
    "post_rejected": Kind(
        _l("投稿の差し戻し"), _l("「%(title)s」が差し戻されました。事務局のコメントをご確認ください。")
    ),
    "post_published": Kind(
        _l("相手側の新しい投稿（フォロー中）"),
        _l("%(org)s の新しい投稿「%(title)s」が公開されました。"),
        default=DeliveryMode.DIGEST,
    ),
    "post_targeted": Kind(
        _l("自区が対象の新しい提案"), _l("%(org)s から、自区を対象にした提案「%(title)s」が届きました。")
    ),
    "deadline_soon": Kind(_l("締切の7日前"), _l("「%(title)s」の締切（%(deadline)s）まであと7日です。")),
    "response_received": Kind(_l("応答の受信"), _l("%(org)s から「%(title)s」への応答がありました。")),
    "message_posted": Kind(
        _l("やりとりの新着メッセージ"), _l("%(org)s から「%(title)s」のやりとりにメッセージがあります。")
    ),
    "response_accepted": Kind(_l("応答の受け入れ"), _l("%(org)s が「%(title)s」への応答を受け入れました。")),
    "response_declined": Kind(_l("応答へのお断り"), _l("%(org)s が「%(title)s」への応答をお断りしました。")),
    "outcome_updated": Kind(_l("連携の結果の記録"), _l("%(org)s が連携「%(title)s」の結果を記録しました。")),
}


def notification_text(kind: str, params: dict) -> str:
    """The notification's sentence in the current language."""
    definition = KINDS.get(kind)
    if definition is None:
        return kind
    if "org" in params and params["org"] is None:  # written by the secretariat: named in the reader's language
        params = {**params, "org": str(_l("事務局"))}
    try:
        return str(definition.text) % params
    except (KeyError, TypeError, ValueError):
        return str(definition.label)


# Outbox kinds that are notifications (withheld from readers who are no longer active), as opposed to account mail.
NOTIFICATION_KINDS = frozenset({*KINDS, "digest"})
