"""The end of the flow is not silent (DESIGN §4): consent, a case awaiting publication, published or taken down, an
edit of a published post submitted and decided, a post hidden or no longer hidden, an invitation to co-propose and
its answer. Who is told and who is not (never the acting organization's actor, moderators only of moderators'
kinds), and that a moderator's notice of a queue item stops counting as unread for every moderator once one of them
has decided the item, in the header too."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bulletin.accounts import services as accounts
from bulletin.accounts import tokens
from bulletin.accounts.email_change import confirm_email_change, pending_change_of
from bulletin.accounts.models import UserState
from bulletin.core.audit import fingerprint
from bulletin.extensions import db
from bulletin.moderation import services as moderation
from bulletin.moderation.reports import dismiss_report, hide_reported_post, report_post
from bulletin.notifications import services as notifications
from bulletin.notifications.models import DeliveryMode, Notification, OutboxMessage
from bulletin.posts import services as posts
from bulletin.posts.models import PostState
from bulletin.responses import services as responses
from bulletin.responses.models import Partnership
from tests.constants import SAKAI_OSAKA
from tests.factories import count, outcome, post_input
from tests.notifications.conftest import Cast
from tests.notifications.test_notifications import answered, assert_told, header_count, told, unread_of


def with_outcome(cast: Cast, make_post) -> Partnership:
    """坂井市 accepted 品川区's answer and 品川区 recorded the outcome, committed."""
    partnership = responses.accept_response(cast.people.sakai, answered(cast, make_post))
    responses.update_outcome(cast.people.shinagawa, partnership, outcome())
    db.session.commit()
    return partnership


def consented(cast: Cast, make_post) -> Partnership:
    """The partnership with both organizations' consent, committed."""
    partnership = with_outcome(cast, make_post)
    responses.consent_to_publication(cast.people.sakai, partnership)
    responses.consent_to_publication(cast.people.shinagawa, partnership)
    db.session.commit()
    return partnership


# --- who is told ------------------------------------------------------------------------------------------------


def test_a_consent_tells_the_other_organization_and_the_second_one_the_moderators_too(app, cast, make_post):
    partnership = with_outcome(cast, make_post)

    result = told(lambda: responses.consent_to_publication(cast.people.shinagawa, partnership))
    assert_told(result, "publication_consented", *cast.sakai_staff)  # not the moderators: one side only

    result = told(lambda: responses.consent_to_publication(cast.people.sakai_colleague, partnership))
    assert [row for row in result.app if row[1] == "publication_consented"] == sorted(
        (user.email, "publication_consented") for user in cast.shinagawa_staff
    )
    awaiting = [row for row in result.app if row[1] == "case_awaiting_publication"]
    # sakai_moderator is 坂井市 staff and a moderator: told as a moderator, the consent being a colleague's act
    assert awaiting == sorted((user.email, "case_awaiting_publication") for user in cast.moderators)
    assert sorted(result.mail) == sorted(result.app)


def test_a_published_case_tells_both_organizations_but_not_the_publishing_moderator(app, cast, make_post):
    partnership = consented(cast, make_post)

    result = told(lambda: responses.publish_case(cast.sakai_moderator, partnership))

    both = [cast.people.sakai, cast.people.sakai_colleague, *cast.shinagawa_staff]
    assert_told(result, "case_published", *both)


def test_a_case_taken_down_tells_both_organizations_why(app, cast, make_post, outbox):
    partnership = consented(cast, make_post)
    responses.publish_case(cast.people.moderator, partnership)
    db.session.commit()
    reason = "写真に写っている方の了承を確認するため。"

    result = told(lambda: responses.unpublish_case(cast.people.moderator, partnership, reason))

    assert_told(result, "case_withdrawn", *cast.sakai_staff, *cast.shinagawa_staff)
    [mail] = [m for m in outbox(cast.people.shinagawa.email) if m.kind == "case_withdrawn"]
    assert reason in mail.body.splitlines()


def test_an_edit_of_a_published_post_goes_to_the_moderators_and_its_decision_to_the_posts_organizations(
    app, cast, make_post, outbox
):
    people = cast.people
    post = make_post(people.sakai)
    co_proposer = posts.invite_co_proposer(people.sakai, post, people.kushiro.organization)
    posts.answer_co_proposal(people.kushiro, co_proposer, True)
    db.session.commit()
    edit = post_input(summary="試食会の日程を追記しました。")

    result = told(lambda: posts.update_post(people.kushiro, post, edit))
    assert_told(result, "revision_submitted", *cast.moderators)  # the post's organizations: they wrote it
    revision = posts.update_post(people.sakai, post, post_input(summary="日程を追記しました。"))
    assert revision is not None
    db.session.commit()

    reason = "試食は保健所への届出が必要です。"
    result = told(lambda: posts.reject_revision(people.moderator, revision, revision.version, reason))
    assert_told(result, "revision_rejected", *cast.sakai_staff, *cast.kushiro_staff)
    [mail] = [m for m in outbox(people.sakai.email) if m.kind == "revision_rejected"]
    assert reason in mail.body.splitlines()

    revision = posts.update_post(people.sakai, post, post_input(summary="届出済みです。"))
    assert revision is not None
    db.session.commit()
    result = told(lambda: posts.approve_revision(cast.sakai_moderator, revision, revision.version))
    assert_told(result, "revision_approved", people.sakai, people.sakai_colleague, *cast.kushiro_staff)


def test_a_hidden_post_and_its_return_tell_its_organization_why(app, cast, make_post, outbox):
    post = make_post(cast.people.sakai)

    result = told(lambda: posts.hide_post(cast.people.moderator, post, "電話番号が誤っているため。"))
    assert_told(result, "post_hidden", *cast.sakai_staff)

    result = told(lambda: posts.unhide_post(cast.people.moderator, post, "電話番号が訂正されました。"))
    assert_told(result, "post_unhidden", *cast.sakai_staff)
    assert post.state == PostState.PUBLISHED
    [mail] = [m for m in outbox(cast.people.sakai.email) if m.kind == "post_unhidden"]
    assert "電話番号が訂正されました。" in mail.body.splitlines()


@pytest.mark.parametrize("accept", [True, False])
def test_an_invitation_to_co_propose_tells_the_invited_organization_and_its_answer_the_authors(
    app, cast, make_post, accept
):
    people = cast.people
    post = make_post(people.sakai, PostState.DRAFT)
    invitation = []

    result = told(lambda: invitation.append(posts.invite_co_proposer(people.sakai, post, people.kushiro.organization)))
    assert_told(result, "co_proposer_invited", *cast.kushiro_staff)

    result = told(lambda: posts.answer_co_proposal(cast.kushiro_colleague, invitation[0], accept))
    kind = "co_proposer_accepted" if accept else "co_proposer_declined"
    assert_told(result, kind, *cast.sakai_staff)  # only the author's organization, not the answering one's colleagues


# --- a moderator's notice of a queue item is read once any moderator decides it -------------------------------------


def test_a_decided_post_is_read_for_every_moderator_and_the_header_counts_it_no_more(
    app, cast, auth, client, make_post
):
    post = make_post(cast.people.sakai, PostState.DRAFT)
    other_post = make_post(cast.people.sakai, PostState.DRAFT, title="越前がにのPR")
    posts.submit_post(cast.people.sakai, post)
    posts.submit_post(cast.people.sakai, other_post)
    db.session.commit()
    watcher = cast.moderator2
    assert unread_of(watcher) == 2
    auth.login(watcher)
    assert header_count(client.get("/notifications")) == "2"

    posts.approve_post(cast.people.moderator, post, post.version)
    db.session.commit()

    assert unread_of(watcher) == 1  # the other post still waits
    assert header_count(client.get("/notifications")) == "1"
    notices = db.session.scalars(
        select(Notification).where(Notification.kind == "post_submitted", Notification.url.endswith(f"/{post.id}"))
    ).all()
    assert len(notices) == len(cast.moderators) and all(notice.read_at is not None for notice in notices)
    assert count(Notification, Notification.kind == "post_submitted", Notification.read_at.is_(None)) == len(
        cast.moderators
    )


def test_each_kind_of_queue_item_is_read_for_every_moderator_once_decided(app, cast, create_user, make_post):
    people, deciding = cast.people, cast.people.moderator
    applicant = create_user(SAKAI_OSAKA, email="applicant@city.sakai.lg.jp", state=UserState.UNCONFIRMED)
    accounts.confirm_email(tokens.make_confirmation_token(applicant))
    post = make_post(people.sakai, PostState.PENDING)
    published = make_post(people.sakai, title="越前がにのPR")
    report = report_post(people.chiyoda, published, "連絡先が書かれていません。")
    second_report = report_post(people.shinagawa, published, "内容が不正確です。")
    revision = posts.update_post(people.sakai, published, post_input(summary="日程を追記しました。"))
    assert revision is not None
    partnership = consented(cast, make_post)
    db.session.commit()
    kinds = [
        "registration_pending",
        "post_submitted",
        "report_filed",
        "revision_submitted",
        "case_awaiting_publication",
    ]
    for kind in kinds:
        assert count(Notification, Notification.kind == kind, Notification.read_at.is_(None)) > 0, kind

    moderation.reject_user(deciding, applicant, fingerprint(applicant.registration_details()), "所属が不明です。")
    posts.reject_post(deciding, post, post.version, "日程を書いてください。")
    dismiss_report(deciding, report, "")
    posts.approve_revision(deciding, revision, revision.version)
    responses.publish_case(deciding, partnership)
    db.session.commit()
    assert count(Notification, Notification.kind == "report_filed", Notification.read_at.is_(None)) == 3  # the 2nd
    hide_reported_post(deciding, second_report, "不正確な内容のため。")
    db.session.commit()

    for kind in kinds:
        assert count(Notification, Notification.kind == kind, Notification.read_at.is_(None)) == 0, kind
    for moderator in cast.moderators:
        unread = count(Notification, Notification.user_id == moderator.id, Notification.read_at.is_(None))
        assert unread_of(moderator) == unread


@pytest.mark.parametrize("approve", [True, False])
def test_a_change_of_address_decided_is_read_for_every_moderator(app, cast, approve):
    officer = cast.people.sakai
    waiting = confirm_email_change(tokens.make_email_change_token(officer, "sakai.staff@mail.example.com"))
    assert not waiting.changed  # a domain the organization has not confirmed: a moderator decides
    db.session.commit()
    assert count(Notification, Notification.kind == "email_change_pending", Notification.read_at.is_(None)) == 3
    change = pending_change_of(officer)
    assert change is not None

    if approve:
        moderation.approve_email_change(cast.people.moderator, change)
    else:
        moderation.reject_email_change(cast.people.moderator, change, "団体のアドレスではありません。")
    db.session.commit()

    assert count(Notification, Notification.kind == "email_change_pending", Notification.read_at.is_(None)) == 0
    assert unread_of(cast.moderator2) == 0


def test_a_notice_in_the_digest_is_left_out_once_decided(app, cast, make_post):
    notifications.set_preferences(cast.moderator2, {"post_submitted": DeliveryMode.DIGEST})
    post = make_post(cast.people.sakai, PostState.PENDING)
    assert count(Notification, Notification.user_id == cast.moderator2.id, Notification.digest_pending.is_(True)) == 1

    posts.approve_post(cast.people.moderator, post, post.version)
    db.session.commit()

    assert count(Notification, Notification.digest_pending.is_(True), Notification.kind == "post_submitted") == 0
    notifications.send_digests()
    assert count(OutboxMessage, OutboxMessage.kind == "digest", OutboxMessage.user_id == cast.moderator2.id) == 0


# --- one transaction ------------------------------------------------------------------------------------------------


def test_an_event_and_its_notifications_commit_together_or_not_at_all(app, cast, make_post):
    partnership = consented(cast, make_post)
    notices, mails = count(Notification), count(OutboxMessage)

    responses.publish_case(cast.people.moderator, partnership)
    assert count(Notification) > notices and count(OutboxMessage) > mails  # written in the event's own session
    db.session.rollback()  # the request failed after the event

    db.session.refresh(partnership)
    assert partnership.published_at is None
    assert (count(Notification), count(OutboxMessage)) == (notices, mails)
    unread = count(Notification, Notification.kind == "case_awaiting_publication", Notification.read_at.is_(None))
    assert unread == len(cast.moderators)  # nor is any moderator's notice read

    responses.publish_case(cast.people.moderator, partnership)
    db.session.commit()
    assert partnership.published_at is not None
    assert count(Notification, Notification.kind == "case_published") == len(cast.sakai_staff) + 2


# --- the refused edit's reason on the post page ---------------------------------------------------------------------


def test_the_post_page_shows_its_organization_why_the_last_edit_was_returned(app, cast, auth, client, make_post):
    post = make_post(cast.people.sakai)
    revision = posts.update_post(cast.people.sakai, post, post_input(summary="日程を追記しました。"))
    assert revision is not None
    posts.reject_revision(cast.people.moderator, revision, revision.version, "試食は保健所への届出が必要です。")
    db.session.commit()

    auth.login(cast.people.sakai_colleague)
    text = client.get(f"/posts/{post.id}").get_data(as_text=True)
    assert "前回の修正は差し戻されました" in text and "試食は保健所への届出が必要です。" in text

    auth.logout()
    auth.login(cast.people.shinagawa)  # another organization: never
    assert "試食は保健所への届出が必要です。" not in client.get(f"/posts/{post.id}").get_data(as_text=True)

    auth.logout()
    auth.login(cast.people.sakai)
    posts.update_post(cast.people.sakai, post, post_input(summary="届出済みです。"))
    db.session.commit()
    text = client.get(f"/posts/{post.id}").get_data(as_text=True)  # a new edit waits: that is what the page says
    assert "修正が審査待ちです" in text and "前回の修正は差し戻されました" not in text


# --- the settings page ----------------------------------------------------------------------------------------------

NEW_KINDS = [
    "publication_consented",
    "case_published",
    "case_withdrawn",
    "revision_approved",
    "revision_rejected",
    "post_hidden",
    "post_unhidden",
    "co_proposer_invited",
    "co_proposer_accepted",
    "co_proposer_declined",
]


def test_the_new_kinds_can_be_set_under_their_headings_and_the_queue_only_by_moderators(app, cast, auth, client):
    auth.login(cast.people.sakai)
    page = client.get("/settings/notifications").get_data(as_text=True)
    for kind in NEW_KINDS:
        assert f'name="mode_{kind}" id="mode_{kind}_immediate" value="immediate" checked' in page
    assert "自団体の投稿" in page and "連携と事例" in page
    assert "事務局の審査" not in page and "mode_case_awaiting_publication" not in page
    auth.logout()

    auth.login(cast.moderator2)
    page = client.get("/settings/notifications").get_data(as_text=True)
    queue = page.index("事務局の審査")
    assert queue < page.index("mode_revision_submitted") and queue < page.index("mode_case_awaiting_publication")


def test_an_outcome_changed_after_both_consents_takes_the_case_off_the_moderators_queue(app, cast, make_post):
    partnership = consented(cast, make_post)
    assert unread_of(cast.moderator2) == 1

    responses.update_outcome(cast.people.shinagawa, partnership, outcome(summary="来場者数を追記した。"))
    db.session.commit()

    assert not partnership.has_both_consents  # both sides are asked again; nothing awaits the secretariat
    assert unread_of(cast.moderator2) == 0


def test_the_notification_centre_gives_the_reason_in_brief(app, cast, auth, client, make_post):
    post = make_post(cast.people.sakai)
    posts.hide_post(cast.people.moderator, post, "電話番号が誤っているため。")
    db.session.commit()
    auth.login(cast.people.sakai_colleague)

    page = client.get("/notifications").get_data(as_text=True)

    assert '<p class="notification__brief">理由: 電話番号が誤っているため。</p>' in page
