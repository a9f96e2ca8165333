"""Characters that have no place in a form field: every one-line field refuses line and paragraph separators,
controls and invisible formatting characters; multi-line fields allow line breaks and tabs and refuse the rest."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from flask import Flask
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField, TextAreaField

import bulletin
from bulletin.core.forms import NoControlCharacters
from bulletin.core.text import has_control_characters, single_line

# What a one-line value never holds, and a multi-line one neither (line breaks and tabs aside).
REFUSED_EVERYWHERE = {
    "NUL": "\x00",
    "BEL": "\x07",
    "vertical tab": "\x0b",
    "form feed": "\x0c",
    "escape": "\x1b",
    "file separator": "\x1c",
    "record separator": "\x1e",
    "DEL": "\x7f",
    "next line (U+0085)": "\x85",
    "C1 CSI (U+009B)": "\x9b",
    "APC (U+009F)": "\x9f",
    "line separator (U+2028)": "\u2028",
    "paragraph separator (U+2029)": "\u2029",
    "left-to-right embedding": "\u202a",
    "right-to-left override": "\u202e",
    "left-to-right isolate": "\u2066",
    "right-to-left isolate": "\u2067",
    "pop directional isolate": "\u2069",
    "left-to-right mark": "\u200e",
    "right-to-left mark": "\u200f",
    "arabic letter mark": "\u061c",
    "zero-width space": "\u200b",
    "zero-width joiner": "\u200d",
    "byte order mark": "\ufeff",
}
LINE_BREAKS_AND_TABS = {"LF": "\n", "CR LF": "\r\n", "tab": "\t"}


def _text(character: str) -> str:
    return f"黄金がに{character}PR"


@pytest.mark.parametrize("character", REFUSED_EVERYWHERE.values(), ids=REFUSED_EVERYWHERE.keys())
def test_a_control_or_separator_is_refused_in_both_kinds_of_field(character):
    assert has_control_characters(_text(character))
    assert has_control_characters(_text(character), allow_newlines=True)


@pytest.mark.parametrize("character", LINE_BREAKS_AND_TABS.values(), ids=LINE_BREAKS_AND_TABS.keys())
def test_line_breaks_and_tabs_are_for_multi_line_fields_only(character):
    assert has_control_characters(_text(character))
    assert not has_control_characters(_text(character), allow_newlines=True)


@pytest.mark.parametrize("text", ["黄金がに PR", "坂井市（福井県）", "Ａ－１　ｶﾆ", "café", "〒910-0000"])
def test_ordinary_text_is_accepted(text):
    assert not has_control_characters(text)


@pytest.mark.parametrize(
    "character", [*REFUSED_EVERYWHERE.values(), *LINE_BREAKS_AND_TABS.values()],
    ids=[*REFUSED_EVERYWHERE, *LINE_BREAKS_AND_TABS],
)  # fmt: skip
def test_single_line_makes_a_space_of_every_break_and_control(character):
    assert single_line(_text(character)) == "黄金がに PR"


def test_single_line_keeps_ordinary_text_and_makes_one_space_of_a_run():
    assert single_line("黄金がに\r\n\u2028\x85PR　秋") == "黄金がに PR　秋"
    assert single_line("[全国連携マッチング掲示板] 新着: 黄金がにPR") == "[全国連携マッチング掲示板] 新着: 黄金がにPR"


def _every_form_class() -> list[type[FlaskForm]]:
    for module in pkgutil.walk_packages(bulletin.__path__, "bulletin."):
        if module.name.endswith(".forms"):
            importlib.import_module(module.name)
    found, pending = [], list(FlaskForm.__subclasses__())
    while pending:
        form_class = pending.pop()
        pending.extend(form_class.__subclasses__())
        if form_class.__module__.startswith("bulletin."):
            found.append(form_class)
    return sorted(found, key=lambda form_class: form_class.__qualname__)


FORM_CLASSES = _every_form_class()


def test_the_forms_are_found():
    names = {form_class.__name__ for form_class in FORM_CLASSES}
    assert {"RegistrationForm", "ProfileForm", "PostForm", "OutcomeForm", "MessageForm", "RejectUserForm"} <= names


@pytest.mark.parametrize("form_class", FORM_CLASSES, ids=lambda form_class: form_class.__name__)
def test_every_text_field_of_every_form_refuses_controls(app: Flask, form_class):
    """A one-line field (a name, a title, a code) refuses line breaks too; a text area allows them. Passwords are
    never shown nor mailed, and hidden fields are checked where they are used."""
    with app.test_request_context("/"):
        form = form_class(meta={"csrf": False})
        for field in form:
            if not isinstance(field, StringField) or isinstance(field, PasswordField | HiddenField):
                continue
            guards = [validator for validator in field.validators if isinstance(validator, NoControlCharacters)]
            assert guards, f"{form_class.__name__}.{field.name} does not refuse control characters"
            if not isinstance(field, TextAreaField):
                assert not any(guard.allow_newlines for guard in guards), f"{form_class.__name__}.{field.name}"
