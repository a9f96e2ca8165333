"""Confirmation of consequential decisions (accepting or declining a response, publishing a case, hiding a post).

A decision's URL carries it out only when the POST says `confirm=1`. Anything else (a GET of the same URL, or a
POST without the field, which is what the button sends when JavaScript is off) shows a confirm page: what will
happen, a 確定 button that posts again with `confirm=1`, and a 戻る link. With JavaScript, a dialog asks the same
question on the page and adds the field itself (static/js/site.js), so the officer never leaves the page. The
question's words live here once, for both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import render_template, request
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

EXCERPT_LENGTH = 300


@dataclass(frozen=True)
class Question:
    """What a decision asks before it is carried out: a heading and its consequences."""

    heading: str
    consequences: str
    danger: bool = False


QUESTIONS = {
    "accept_response": Question(
        _l("この応答を受け入れて連携しますか"),
        _l("受け入れると連携として記録され、相手の団体に通知されます。受け入れた後は取り消せません。"),
    ),
    "decline_response": Question(
        _l("この応答をお断りしますか"),
        _l("お断りすると相手の団体に通知され、この応答は受け入れられなくなります。やりとりはそのまま読めます。"),
        danger=True,
    ),
    "publish_case": Question(
        _l("連携事例として公開しますか"),
        _l(
            "公開すると連携事例の一覧に載り、ログインしていない人も読めるようになります。"
            "写真と概要もそのまま公開されます。"
        ),
    ),
    "hide_post": Question(
        _l("この投稿を非公開にしますか"),
        _l(
            "非公開にすると、投稿は一覧と検索から消え、応答も受け付けなくなります。"
            "理由は投稿した団体に表示され、モデレーション記録に残ります。"
        ),
        danger=True,
    ),
    "hide_message": Question(
        _l("このメッセージを非表示にしますか"),
        _l(
            "非表示にすると、やりとりの両方の団体には本文と添付ファイルの代わりに、事務局により非表示になったことが"
            "表示されます。理由はモデレーション記録に残ります。"
        ),
        danger=True,
    ),
}


def excerpt(text: str, limit: int = EXCERPT_LENGTH) -> str:
    """The start of a text for a confirm page, cut at `limit` characters with an ellipsis."""
    text = (text or "").strip()
    return text if len(text) <= limit else text[:limit].rstrip() + "…"


def is_confirmed() -> bool:
    """The request carries out the decision: a POST that says confirm=1."""
    return request.method == "POST" and request.form.get("confirm") == "1"


def confirm_attributes(kind: str) -> Markup:
    """The data attributes that make a decision's form ask in a dialog first (read by static/js/site.js)."""
    question = QUESTIONS[kind]
    attributes = {
        "data-confirm-title": question.heading,
        "data-confirm": question.consequences,
        "data-confirm-ok": _l("確定"),
        "data-confirm-cancel": _l("戻る"),
    }
    rendered = " ".join(f'{name}="{escape(str(value))}"' for name, value in attributes.items())
    return Markup(rendered + (" data-confirm-danger" if question.danger else ""))


@dataclass
class Confirmation:
    """What a confirm page shows: the question, the facts it is about, an excerpt, where it posts and goes back to."""

    kind: str
    action: str
    back: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    excerpt: str = ""

    @property
    def question(self) -> Question:
        """The decision's heading and consequences."""
        return QUESTIONS[self.kind]


def confirm_page(confirmation: Confirmation, form, reason_hint: str = ""):
    """The confirm page (a question: nothing changed); `form` gives the CSRF token and, if it has one, the reason
    to confirm along with the decision."""
    return render_template("confirm.html", confirmation=confirmation, form=form, reason_hint=reason_hint)
