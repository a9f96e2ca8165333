"""The text of every notification e-mail, in Japanese and English, compared with the saved expected text: the
substance an officer decides from (the reasons given, the text written, a new post's facts) and a subject that
reads naturally to its recipient.

One story, told through the service verbs, writes a mail of every kind; each test compares one of them. Run with
UPDATE_EXPECTED=1 to rewrite the saved files after an intended change, then read the diff.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from bulletin.accounts.models import UserState
from bulletin.core import signals
from bulletin.core.audit import fingerprint
from bulletin.extensions import db
from bulletin.moderation import services as moderation
from bulletin.moderation.reports import report_post
from bulletin.notifications import services as notifications
from bulletin.notifications.kinds import KINDS
from bulletin.notifications.models import DeliveryMode, OutboxMessage
from bulletin.posts import services as posts
from bulletin.posts.queries import PostFilters
from bulletin.posts.services import PostInput
from bulletin.responses import services as responses
from bulletin.responses.models import ResponseKind
from bulletin.saved_searches import services as saved_searches
from tests.constants import KANAZAWA, SAKAI, SHINAGAWA
from tests.factories import People, office_upload, outcome, pdf_upload
from tests.notifications.test_email_text import assert_saved_text

PROPOSAL = {
    "title": "黄金がにのPR",
    "summary": "坂井市三国港の黄金がにを、区民まつりの物産展で紹介したい。",
    "body": "試食と漁師のトークを予定しています。",
    "category": "products",
    "desired_from": date(2031, 11, 1),
    "desired_until": date(2031, 11, 30),
    "deadline": date(2031, 9, 30),
    "target_ward_codes": [SHINAGAWA],
}
RETURN_COMMENT = "開催時期を具体的に書いてください。\n費用の分担も書き添えてください。"
SHORTENED = "詳細はご相談のうえ決めたいと考えています。" * 60  # over 1,000 characters: quoted in part
LONG_RESPONSE = "しながわ水族館の多目的ホールで、PRイベントを開けます。" + SHORTENED
REVISION_REFUSED = "試食は保健所への届出が必要です。届出の予定を書いてください。"

# (kind, whose mail is compared): each is the first mail of the kind to that person.
MAILS = {
    "post_submitted": "moderator",
    "post_rejected": "sakai",
    "post_approved": "sakai",
    "post_targeted": "shinagawa",
    "post_published": "chiyoda",
    "saved_search_matched": "chiyoda",
    "co_proposer_invited": "kushiro",
    "co_proposer_accepted": "sakai",
    "co_proposer_declined": "sakai",
    "report_filed": "moderator",
    "revision_submitted": "moderator",
    "revision_rejected": "sakai",
    "revision_approved": "sakai",
    "response_received": "sakai",
    "message_posted": "shinagawa",
    "response_accepted": "shinagawa",
    "response_declined": "chiyoda",
    "outcome_updated": "sakai",
    "publication_consented": "sakai",
    "case_awaiting_publication": "moderator",
    "case_published": "sakai",
    "case_withdrawn": "sakai",
    "post_hidden": "sakai",
    "post_unhidden": "sakai",
    "member_approved": "sakai",
    "member_rejected": "sakai",
    "deadline_soon": "sakai",
}
# Their own tests, with the account mail (tests/notifications/test_email_text.py).
TOLD_ELSEWHERE = {"registration_pending", "email_change_pending"}


def test_every_kind_has_its_saved_mail():
    assert set(MAILS) | TOLD_ELSEWHERE == set(KINDS)


def _story(people: People, kanazawa, applicants) -> None:
    """坂井市's proposal to 品川区 from draft to a public case taken down, with every turn a mail is written for."""
    sakai, shinagawa, chiyoda, moderator = people.sakai, people.shinagawa, people.chiyoda, people.moderator
    notifications.set_preferences(chiyoda, {"post_published": DeliveryMode.IMMEDIATE})
    saved_searches.save_search(chiyoda, "かにの物産", PostFilters(q="黄金がに", category="products"))
    post = posts.create_post(sakai, PostInput(kind=posts.kind_for(sakai.organization), **PROPOSAL))
    posts.answer_co_proposal(people.kushiro, posts.invite_co_proposer(sakai, post, people.kushiro.organization), True)
    posts.answer_co_proposal(kanazawa, posts.invite_co_proposer(sakai, post, kanazawa.organization), False)
    posts.submit_post(sakai, post)
    posts.reject_post(moderator, post, post.version, RETURN_COMMENT)
    posts.submit_post(sakai, post)
    posts.approve_post(moderator, post, post.version)
    signals.deadline_approaching.send(None, post=post)
    report_post(chiyoda, post, "連絡先が書かれていません。")
    revised = PostInput(kind=post.kind, **(PROPOSAL | {"summary": "試食会の日程を追記しました。"}))
    revision = posts.update_post(sakai, post, revised)
    assert revision is not None
    posts.reject_revision(moderator, revision, revision.version, REVISION_REFUSED)
    revision = posts.update_post(sakai, post, PostInput(kind=post.kind, **(PROPOSAL | {"summary": "届出済みです。"})))
    assert revision is not None
    posts.approve_revision(moderator, revision, revision.version)
    answer = responses.respond(shinagawa, post, ResponseKind.OFFER, LONG_RESPONSE)
    other = responses.respond(chiyoda, post, ResponseKind.INTEREST, "関心があります。")
    responses.post_message(sakai, answer.conversation, "ありがとうございます。11月の週末はいかがでしょうか。")
    responses.post_message(
        people.sakai_colleague,
        answer.conversation,
        "会場の図面をお送りいただけますか。見積を添付します。",
        [office_upload("見積.xlsx", "xlsx"), pdf_upload("企画書.pdf")],
    )
    partnership = responses.accept_response(sakai, answer)
    responses.decline_response(sakai, other)
    responses.update_outcome(shinagawa, partnership, outcome())
    responses.consent_to_publication(shinagawa, partnership)
    responses.consent_to_publication(sakai, partnership)
    responses.publish_case(moderator, partnership)
    responses.unpublish_case(moderator, partnership, "写真に写っている方の了承を確認するため、いったん取り下げます。")
    posts.hide_post(moderator, post, "問い合わせ先の電話番号が誤っているため。")
    posts.unhide_post(moderator, post, "電話番号が訂正されました。")
    joining, refused = applicants
    moderation.approve_user(moderator, joining, fingerprint(joining.registration_details()))
    moderation.reject_user(
        moderator, refused, fingerprint(refused.registration_details()), "所属を確認できませんでした。"
    )


def _normalise(text: str) -> str:
    """Ids in links depend on the database: written as N."""
    return re.sub(r"/\d+(?=/|$|\s)", "/N", text, flags=re.MULTILINE)


@pytest.fixture
def story_mail(app, people, create_user, outbox, monkeypatch):
    """Tell the story with everyone reading in `locale`; the first mail of a kind to a person of the story."""
    monkeypatch.setitem(app.config, "MAIL_COALESCE_SECONDS", 300)

    def first_mail(kind: str, locale: str, digest_for: str | None = None) -> OutboxMessage:
        kanazawa = create_user(KANAZAWA, email="staff@city.kanazawa.lg.jp", name="金沢 職員")
        applicants = [
            create_user(SAKAI, email=f"{name}@city.fukui-sakai.lg.jp", name=label, state=UserState.PENDING)
            for name, label in (("new", "坂井 新人"), ("unknown", "坂井 不明"))
        ]
        everyone = [people.sakai, people.sakai_colleague, people.kushiro, people.shinagawa, people.chiyoda, kanazawa]
        for person in [*everyone, people.moderator]:
            person.locale = locale
        if digest_for is not None:
            notifications.set_preferences(getattr(people, digest_for), dict.fromkeys(KINDS, DeliveryMode.DIGEST))
        db.session.commit()
        with app.test_request_context():
            _story(people, kanazawa, applicants)
            notifications.send_digests()
        db.session.commit()
        recipient = getattr(people, digest_for or MAILS[kind])
        return db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == kind, OutboxMessage.recipient == recipient.email)
            .order_by(OutboxMessage.id)
        ).first()

    return first_mail


@pytest.mark.parametrize("locale", ["ja", "en"])
@pytest.mark.parametrize("kind", sorted(MAILS))
def test_notification_email_text_matches_the_saved_text(story_mail, kind, locale):
    message = story_mail(kind, locale)
    assert message is not None, f"the story wrote no {kind} mail"
    assert_saved_text(message, f"{kind}.{locale}", _normalise)


@pytest.mark.parametrize("locale", ["ja", "en"])
@pytest.mark.parametrize(("reader", "name"), [("sakai", "digest"), ("shinagawa", "digest_new_post")])
def test_the_digest_gives_the_same_substance_in_brief(story_mail, locale, reader, name):
    message = story_mail("digest", locale, digest_for=reader)
    assert_saved_text(message, f"{name}.{locale}", _normalise)
