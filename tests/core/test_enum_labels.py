"""Every member of a labelled enum has its label in Japanese and in English (forms, templates and mails read it)."""

from __future__ import annotations

import re

import pytest
from flask_babel import force_locale

from bulletin.accounts.models import OrgRole, UserState
from bulletin.core.audit import DecisionAction
from bulletin.core.enums import LabelledStrEnum
from bulletin.moderation.queries import RegistrationFlag
from bulletin.notifications.models import DeliveryMode
from bulletin.organizations.models import OrganizationKind
from bulletin.posts.models import CONTENT_FIELDS, CloseReason, CoProposerState, PostKind, PostState
from bulletin.responses.models import ResponseKind, ResponseState

JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff01-\uff5e]")
KNOWN = {
    OrgRole,
    UserState,
    DecisionAction,
    RegistrationFlag,
    DeliveryMode,
    OrganizationKind,
    CloseReason,
    CoProposerState,
    PostKind,
    PostState,
    ResponseKind,
    ResponseState,
}


def _texts() -> dict[str, object]:
    """Every enum label, and the labels of the post's content fields, by where it comes from."""
    texts: dict[str, object] = {}
    for enum_class in LabelledStrEnum.__subclasses__():
        for member in enum_class:
            texts[f"{enum_class.__name__}.{member.name}"] = member.label
    for name, label in CONTENT_FIELDS.items():
        texts[f"CONTENT_FIELDS[{name!r}]"] = label
    return texts


def test_the_labelled_enums_are_all_found():
    assert KNOWN.issubset(LabelledStrEnum.__subclasses__())


def test_labels_are_japanese(app):
    with force_locale("ja"):
        missing = [where for where, text in _texts().items() if not JAPANESE.search(str(text))]
    assert not missing, missing


def test_labels_are_english(app):
    with force_locale("en"):
        untranslated = [f"{where}: {text}" for where, text in _texts().items() if not _english(str(text))]
    assert not untranslated, untranslated


def _english(text: str) -> bool:
    return bool(text.strip()) and not JAPANESE.search(text)


@pytest.mark.parametrize("value", ["draft", "pending", "published", "rejected"])
def test_a_labelled_enum_is_still_its_stored_value(value):
    state = PostState(value)
    assert state == value and state.value == value and str(state) == value and f"{state}" == value
