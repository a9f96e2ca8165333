"""Forms of the posts domain; field names are part of the public contract."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from bulletin.core.forms import (
    JapaneseDateField,
    NoControlCharacters,
    StoredFileIdsField,
    TokensField,
    strip_line,
    strip_text,
)
from bulletin.posts.categories import CATEGORIES
from bulletin.posts.models import CONTENT_FIELDS, CloseReason, PostKind
from bulletin.posts.services import PostInput

REQUIRED = _l("入力してください。")


def _length(maximum: int) -> Length:
    return Length(max=maximum, message=_l("%(max)d文字以内で入力してください。"))


def _text(label, maximum, required=False, hint=None):
    validators = [DataRequired(REQUIRED)] if required else [Optional()]
    return TextAreaField(
        label,
        filters=[strip_text],
        description=hint or "",
        validators=[*validators, _length(maximum), NoControlCharacters(allow_newlines=True)],
    )


def _line(label, maximum, required=False, hint=None):
    validators = [DataRequired(REQUIRED)] if required else [Optional()]
    return StringField(
        label,
        filters=[strip_line],
        description=hint or "",
        validators=[*validators, _length(maximum), NoControlCharacters()],
    )


def _date(label):
    return JapaneseDateField(label, validators=[Optional()], format="%Y-%m-%d")


class PostForm(FlaskForm):
    """/posts/new and /posts/<id>/edit"""

    kind = SelectField(
        _l("種類"),
        choices=[SelectChoice(kind.value, kind.label) for kind in PostKind],
        validate_choice=False,
    )
    title = _line(CONTENT_FIELDS["title"], 120, required=True)
    summary = _text(CONTENT_FIELDS["summary"], 400, required=True, hint=_l("一覧に表示される短い説明（400文字以内）"))
    offered = _text(CONTENT_FIELDS["offered"], 4000, hint=_l("例: 特産品の出展、観光PRの人員、会場"))
    sought = _text(CONTENT_FIELDS["sought"], 4000, hint=_l("例: イベントでの出展枠、区報での紹介"))
    body = _text(
        CONTENT_FIELDS["body"],
        20000,
        hint=_l("Markdown で書けます（見出し、箇条書き、リンク、表）。HTML は使えません。"),
    )
    category = SelectField(
        CONTENT_FIELDS["category"],
        choices=[SelectChoice(key, label) for key, label in CATEGORIES.items()],
        validate_choice=False,
    )
    tags = _line(CONTENT_FIELDS["tags"], 200, hint=_l("読点またはカンマで区切ります（例: 物産展, 秋）"))
    desired_from = _date(CONTENT_FIELDS["desired_from"])
    desired_until = _date(CONTENT_FIELDS["desired_until"])
    deadline = _date(CONTENT_FIELDS["deadline"])
    venue = _line(CONTENT_FIELDS["venue"], 200, hint=_l("例: 区内商店街、オンライン"))
    cost_sharing = _text(CONTENT_FIELDS["cost_sharing"], 2000, hint=_l("例: 交通費は各自負担、出展料は区が負担"))
    target_wards = SelectMultipleField(
        CONTENT_FIELDS["target_ward_codes"],
        choices=[],
        validate_choice=False,
        description=_l("選ばなければ23区すべてが対象です。"),
    )
    attachments = MultipleFileField(_l("添付ファイル"), description=_l("PDF、PNG、JPEG、WebP。1件10MBまで、5件まで。"))
    remove_attachments = StoredFileIdsField(_l("削除する添付ファイル"), choices=[], validate_choice=False)
    staged_attachments = TokensField(_l("添付済み（保存前）"), choices=[], validate_choice=False)
    remove_staged = TokensField(_l("削除する添付ファイル（保存前）"), choices=[], validate_choice=False)
    action = HiddenField(default="draft")

    def validate_category(self, field):
        if field.data not in CATEGORIES:
            raise ValidationError(_l("分野を一覧から選んでください。"))

    def validate_kind(self, field):
        if field.data not in {kind.value for kind in PostKind}:
            raise ValidationError(_l("種類を選んでください。"))

    def validate_target_wards(self, field):
        allowed = {choice.value for choice in field.choices}
        if any(code not in allowed for code in field.data or []):
            raise ValidationError(_l("対象の区の指定が正しくありません。"))

    def validate_tags(self, field):
        if len(self.tag_list()) > 10:
            raise ValidationError(_l("タグは10個までです。"))
        if any(len(tag) > 30 for tag in self.tag_list()):
            raise ValidationError(_l("タグは1つ30文字以内にしてください。"))

    def tag_list(self) -> list[str]:
        """Tags split on commas (half or full width) and 読点, trimmed, without duplicates."""
        parts = re.split(r"[,、，]", self.tags.data or "")
        seen: list[str] = []
        for part in (p.strip() for p in parts):
            if part and part not in seen:
                seen.append(part)
        return seen

    def to_input(self) -> PostInput:
        """The checked values for the service."""
        return PostInput(
            kind=PostKind(self.kind.data),
            title=self.title.data,
            summary=self.summary.data or "",
            offered=self.offered.data or "",
            sought=self.sought.data or "",
            body=self.body.data or "",
            category=self.category.data,
            tags=self.tag_list(),
            desired_from=self.desired_from.data,
            desired_until=self.desired_until.data,
            deadline=self.deadline.data,
            venue=self.venue.data or "",
            cost_sharing=self.cost_sharing.data or "",
            target_ward_codes=list(self.target_wards.data or []),
        )


class CloseForm(FlaskForm):
    """/posts/<id>/close"""

    reason = RadioField(
        _l("終了の理由"),
        choices=[SelectChoice(reason.value, reason.label) for reason in CloseReason],
        validators=[DataRequired(_l("終了の理由を選んでください。"))],
    )


class CoProposerForm(FlaskForm):
    """Invite a co-proposer by organization code."""

    organization_code = _line(_l("招待する団体の団体コード"), 6, required=True)
