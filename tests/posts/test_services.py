"""Post verbs: the transition table, the rules a post must follow, revisions of published posts, moderation,
expiry and co-proposers. Services flush; these tests commit or roll back where the request or command would."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import Row, insert, select
from sqlalchemy.exc import IntegrityError

from bulletin.accounts.models import UserState
from bulletin.core.audit import ModerationDecision
from bulletin.core.text import fold
from bulletin.extensions import db
from bulletin.moderation import reports
from bulletin.moderation.models import Report, ReportState
from bulletin.organizations.models import Membership, OrganizationKind
from bulletin.organizations.services import get_by_code
from bulletin.posts import services
from bulletin.posts.models import CoProposerState, Post, PostKind, PostRevision, PostState, RevisionState
from bulletin.posts.services import PostError
from tests.constants import (
    HIDE_REASON,
    KUSHIRO_TOWN,
    MODERATORS_ONLY,
    ON_POSTGRESQL,
    PDF,
    RETURN_COMMENT,
    SAKAI,
    SAKAI_OSAKA,
    SHINAGAWA,
    STATE_LABELS,
)
from tests.factories import count, file_storage, in_days, new_client, post_input

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")

# The moves DESIGN §2 describes, written out here rather than read from the code under test.
# None as target: back to the state the post was hidden from.
DESIGNED_TRANSITIONS = {
    "submit": ({PostState.DRAFT, PostState.REJECTED}, PostState.PENDING),
    "approve": ({PostState.PENDING}, PostState.PUBLISHED),
    "reject": ({PostState.PENDING}, PostState.REJECTED),
    "close": ({PostState.PUBLISHED}, PostState.CLOSED),
    "withdraw": ({PostState.DRAFT, PostState.PENDING, PostState.REJECTED, PostState.PUBLISHED}, PostState.WITHDRAWN),
    "expire": ({PostState.PUBLISHED}, PostState.EXPIRED),
    "hide": ({PostState.PUBLISHED, PostState.CLOSED, PostState.EXPIRED}, PostState.HIDDEN),
    "unhide": ({PostState.HIDDEN}, None),
}
ALL_PAIRS = [(action, state) for action in DESIGNED_TRANSITIONS for state in PostState]


def pair_id(pair) -> str:
    action, state = pair
    verdict = "allowed" if state in DESIGNED_TRANSITIONS[action][0] else "refused"
    return f"{action}-{state.value}-{verdict}"


def decisions(post_id: int | None = None) -> list[ModerationDecision]:
    statement = select(ModerationDecision).order_by(ModerationDecision.id)
    if post_id is not None:
        statement = statement.where(ModerationDecision.subject_type == "post", ModerationDecision.subject_id == post_id)
    return list(db.session.scalars(statement))


def stored_state(post: Post) -> PostState:
    """The state as the database holds it (not the object in memory)."""
    db.session.expire_all()
    return db.session.scalar(select(Post.state).where(Post.id == post.id))


# --- the transition table ------------------------------------------------------------------------------------


def test_transition_table_is_the_designed_one():
    assert {action: (set(sources), target) for action, (sources, target) in services.TRANSITIONS.items()} == (
        DESIGNED_TRANSITIONS
    )


@pytest.mark.parametrize(("action", "state"), ALL_PAIRS, ids=[pair_id(p) for p in ALL_PAIRS])
def test_transition_allows_exactly_the_designed_moves(app, action, state):
    sources, target = DESIGNED_TRANSITIONS[action]
    post = Post(state=state, title="t", category="other", kind=PostKind.PROPOSAL)
    if state in sources:
        explicit = PostState.PUBLISHED if target is None else None
        assert services.transition(post, action, target=explicit) == (target or PostState.PUBLISHED)
        assert post.state == (target or PostState.PUBLISHED)
    else:
        with pytest.raises(PostError) as refused:
            services.transition(post, action)
        assert refused.value.message == f"この投稿は「{STATE_LABELS[state]}」のため、この操作はできません。"
        assert post.state == state


def test_unhide_needs_the_state_to_return_to(app):
    post = Post(state=PostState.HIDDEN, title="t", category="other")
    with pytest.raises(ValueError, match="unhide needs an explicit target state"):
        services.transition(post, "unhide")
    assert post.state == PostState.HIDDEN


REFUSALS = {  # the message of each verb when the post's state (or the actor's right) does not allow it
    "submit": "この投稿は審査に出せません。",
    "close": "この投稿は終了できません。",
    "withdraw": "この投稿は取り下げられません。",
}


def run_verb(action, post, people):
    """Call the service verb behind `action` as the actor who would call it; return the expire count."""
    author, moderator = people.sakai, people.moderator
    match action:
        case "submit":
            services.submit_post(author, post)
        case "approve":
            services.approve_post(moderator, post)
        case "reject":
            services.reject_post(moderator, post, RETURN_COMMENT)
        case "close":
            services.close_post(author, post, "no_longer_seeking")
        case "withdraw":
            services.withdraw_post(author, post)
        case "expire":
            return services.expire_posts(today=post.deadline + timedelta(days=1))
        case "hide":
            services.hide_post(moderator, post, HIDE_REASON)
        case "unhide":
            services.unhide_post(moderator, post)
    return None


@pytest.mark.parametrize(("action", "state"), ALL_PAIRS, ids=[pair_id(p) for p in ALL_PAIRS])
def test_service_verbs_follow_the_table(people, make_post, action, state):
    post = make_post(people.sakai, state)
    sources, target = DESIGNED_TRANSITIONS[action]
    log_before = len(decisions(post.id))
    if state in sources:
        expired = run_verb(action, post, people)
        db.session.commit()
        expected = target or PostState.PUBLISHED  # make_post hides published posts
        assert stored_state(post) == expected
        if action == "expire":
            assert expired == 1
    elif action == "expire":  # a batch: what it may not expire, it leaves alone
        assert run_verb(action, post, people) == 0
        assert stored_state(post) == state
    else:
        with pytest.raises(PostError) as refused:
            run_verb(action, post, people)
        expected_message = REFUSALS.get(action) or f"この投稿は「{STATE_LABELS[state]}」のため、この操作はできません。"
        assert refused.value.message == expected_message
        assert JAPANESE.search(refused.value.message)
        db.session.rollback()  # as the view does
        assert stored_state(post) == state
        assert len(decisions(post.id)) == log_before


def test_submit_sets_submitted_at_and_approve_sets_published_at(people, make_post):
    post = make_post(people.sakai, PostState.DRAFT)
    assert post.submitted_at is None and post.published_at is None
    services.submit_post(people.sakai, post)
    assert post.submitted_at is not None and post.published_at is None
    services.approve_post(people.moderator, post)
    db.session.commit()
    assert post.published_at is not None


def test_withdrawing_a_published_post_drops_its_pending_revision(people, make_post):
    post = make_post(people.sakai)
    revision = services.update_post(people.sakai, post, post_input(title="新しいタイトル"))
    services.withdraw_post(people.sakai, post)
    db.session.commit()
    db.session.refresh(revision)
    assert revision.state == RevisionState.REJECTED


def test_close_needs_a_known_reason(people, make_post):
    post = make_post(people.sakai)
    with pytest.raises(PostError) as refused:
        services.close_post(people.sakai, post, "bored")
    assert refused.value.message == "終了の理由を選んでください。" and refused.value.field == "reason"
    db.session.rollback()
    assert stored_state(post) == PostState.PUBLISHED


def test_other_organizations_cannot_move_a_post(people, make_post):
    draft = make_post(people.sakai, PostState.DRAFT)
    published = make_post(people.sakai)
    for actor in (people.kushiro, people.shinagawa):
        with pytest.raises(PostError):
            services.submit_post(actor, draft)
        with pytest.raises(PostError):
            services.withdraw_post(actor, published)
        with pytest.raises(PostError):
            services.close_post(actor, published, "partnered")
        with pytest.raises(PostError):
            services.update_post(actor, draft, post_input(title="乗っ取り"))
    assert stored_state(draft) == PostState.DRAFT and stored_state(published) == PostState.PUBLISHED


def test_a_colleague_acts_for_the_organization(people, make_post):
    post = make_post(people.sakai, PostState.DRAFT)
    services.submit_post(people.sakai_colleague, post)
    db.session.commit()
    assert stored_state(post) == PostState.PENDING


# --- what a post must be ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "kind", "message"),
    [
        ("sakai", PostKind.CALL, "この団体が投稿できるのは「提案」です。"),
        ("kushiro", PostKind.CALL, "この団体が投稿できるのは「提案」です。"),
        ("shinagawa", PostKind.PROPOSAL, "この団体が投稿できるのは「募集」です。"),
    ],
)
def test_wards_post_calls_and_the_others_proposals(people, user, kind, message):
    before = count(Post)
    with pytest.raises(PostError) as refused:
        services.create_post(getattr(people, user), post_input(kind))
    assert refused.value.message == message and refused.value.field == "kind"
    db.session.rollback()
    assert count(Post) == before


@pytest.mark.parametrize(("user", "kind"), [("sakai", PostKind.PROPOSAL), ("shinagawa", PostKind.CALL)])
def test_each_side_writes_its_own_kind(people, user, kind):
    author = getattr(people, user)
    assert services.kind_for(author.organization) == kind
    post = services.create_post(author, post_input(kind))
    assert post.kind == kind and post.state == PostState.DRAFT
    assert post.organization_id == author.organization_id and post.created_by_id == author.id


def test_calls_have_no_target_wards(people):
    post = services.create_post(people.shinagawa, post_input(PostKind.CALL, target_ward_codes=["131016"]))
    assert post.target_wards == []


def test_an_edit_cannot_change_the_kind(people, make_post):
    post = make_post(people.sakai, PostState.DRAFT)
    services.update_post(people.sakai, post, post_input(PostKind.CALL, title="種類を変えたい"))
    assert post.kind == PostKind.PROPOSAL and post.title == "種類を変えたい"


def test_only_member_staff_write_posts(create_user, organization):
    before = count(Post)
    pending = create_user(SAKAI_OSAKA, state=UserState.PENDING)
    with pytest.raises(PostError) as refused:
        services.create_post(pending, post_input())
    assert refused.value.message == "投稿できるのは会員団体の職員です。"
    db.session.rollback()
    member = create_user(KUSHIRO_TOWN)
    organization(KUSHIRO_TOWN).membership = Membership.SUSPENDED
    with pytest.raises(PostError) as refused:
        services.create_post(member, post_input())
    assert refused.value.message == "投稿できるのは会員団体の職員です。"
    db.session.rollback()
    assert count(Post) == before


def test_a_deadline_before_today_is_refused(people):
    with pytest.raises(PostError) as refused:
        services.create_post(people.sakai, post_input(deadline=in_days(-1)))
    assert refused.value.message == "締切は今日以降の日付にしてください。" and refused.value.field == "deadline"


def test_a_deadline_of_today_is_accepted(people):
    assert services.create_post(people.sakai, post_input(deadline=in_days(0))).deadline == in_days(0)


def test_an_edit_cannot_move_the_deadline_into_the_past(people, make_post):
    for state in (PostState.DRAFT, PostState.PUBLISHED):
        post = make_post(people.sakai, state)
        with pytest.raises(PostError) as refused:
            services.update_post(people.sakai, post, post_input(deadline=in_days(-3)))
        assert refused.value.field == "deadline"
        db.session.rollback()
        assert post.deadline == in_days(20)


def test_a_draft_whose_deadline_has_passed_cannot_be_submitted(people, make_post):
    post = make_post(people.sakai, PostState.DRAFT)
    post.deadline = in_days(-1)
    db.session.commit()
    with pytest.raises(PostError) as refused:
        services.submit_post(people.sakai, post)
    assert refused.value.message == "締切が過ぎています。締切を変更してから審査に出してください。"
    db.session.rollback()
    assert stored_state(post) == PostState.DRAFT


def test_a_period_that_ends_before_it_starts_is_refused(people):
    with pytest.raises(PostError) as refused:
        services.create_post(people.sakai, post_input(desired_from=in_days(40), desired_until=in_days(30)))
    assert refused.value.message == "希望時期の終わりは始まりと同じか後の日付にしてください。"
    assert refused.value.field == "desired_until"


@pytest.mark.parametrize(("start", "end"), [(30, 30), (30, None), (None, 30), (None, None)])
def test_one_day_and_open_ended_periods_are_accepted(people, start, end):
    values = post_input(
        desired_from=in_days(start) if start is not None else None,
        desired_until=in_days(end) if end is not None else None,
    )
    post = services.create_post(people.sakai, values)
    db.session.commit()
    assert (post.desired_from, post.desired_until) == (values.desired_from, values.desired_until)


def test_target_wards_must_be_wards(people):
    post = services.create_post(people.sakai, post_input(target_ward_codes=[SHINAGAWA, "131016"]))
    assert post.target_ward_codes == ["131016", SHINAGAWA]
    for codes in (["999999"], [SAKAI], [SHINAGAWA, "131099"]):
        with pytest.raises(PostError) as refused:
            services.create_post(people.sakai, post_input(target_ward_codes=codes))
        assert refused.value.message == "対象の区の指定が正しくありません。" and refused.value.field == "target_wards"


def test_the_body_is_stored_rendered_and_sanitised(people):
    post = services.create_post(people.sakai, post_input(body="# 見出し\n\n<script>alert(1)</script>"))
    assert "<h3>見出し</h3>" in post.body_html
    assert "<script" not in post.body_html and "&lt;script&gt;" in post.body_html


# --- revisions of published posts --------------------------------------------------------------------------------


def pending_revisions(post: Post) -> list[PostRevision]:
    return list(
        db.session.scalars(
            select(PostRevision).where(PostRevision.post_id == post.id, PostRevision.state == RevisionState.PENDING)
        )
    )


def test_an_edit_of_a_published_post_waits_for_approval(people, make_post):
    post = make_post(people.sakai, title="公開中のタイトル", body="公開中の本文")
    published_html = post.body_html
    revision = services.update_post(
        people.sakai, post, post_input(title="修正後のタイトル", body="**修正後**の本文", target_ward_codes=[SHINAGAWA])
    )
    db.session.commit()
    assert revision is not None and revision.state == RevisionState.PENDING
    assert revision.content["title"] == "修正後のタイトル" and revision.author_id == people.sakai.id
    db.session.expire_all()
    post = db.session.get(Post, post.id)
    assert (post.title, post.body, post.body_html, post.target_wards) == (
        "公開中のタイトル",
        "公開中の本文",
        published_html,
        [],
    )
    assert post.state == PostState.PUBLISHED
    assert [r.id for r in pending_revisions(post)] == [revision.id]

    services.approve_revision(people.moderator, revision)
    db.session.commit()
    db.session.expire_all()
    post = db.session.get(Post, post.id)
    assert post.title == "修正後のタイトル" and "<strong>修正後</strong>" in post.body_html
    assert post.target_ward_codes == [SHINAGAWA]
    assert fold("修正後のタイトル") in post.search_text
    revision = db.session.get(PostRevision, revision.id)
    assert revision.state == RevisionState.APPROVED and revision.decided_by_id == people.moderator.id
    assert pending_revisions(post) == []
    assert [d.action for d in decisions(post.id)][-1] == "approve_revision"


def test_a_second_edit_replaces_the_pending_revision(people, make_post):
    post = make_post(people.sakai, title="公開中のタイトル")
    first = services.update_post(people.sakai, post, post_input(title="一度目の修正"))
    db.session.commit()
    second = services.update_post(people.sakai_colleague, post, post_input(title="二度目の修正"))
    db.session.commit()
    assert second.id == first.id
    revisions = pending_revisions(post)
    assert len(revisions) == 1
    assert revisions[0].content["title"] == "二度目の修正" and revisions[0].author_id == people.sakai_colleague.id
    assert count(PostRevision, PostRevision.post_id == post.id) == 1
    db.session.expire_all()
    assert db.session.get(Post, post.id).title == "公開中のタイトル"


def test_reject_revision_keeps_the_published_text(people, make_post):
    post = make_post(people.sakai, title="公開中のタイトル")
    revision = services.update_post(people.sakai, post, post_input(title="不適切な修正"))
    services.reject_revision(people.moderator, revision, "この変更は認められません。")
    db.session.commit()
    db.session.expire_all()
    post = db.session.get(Post, post.id)
    revision = db.session.get(PostRevision, revision.id)
    assert post.title == "公開中のタイトル" and post.state == PostState.PUBLISHED
    assert revision.state == RevisionState.REJECTED and revision.comment == "この変更は認められません。"
    decision = decisions(post.id)[-1]
    assert (decision.action, decision.reason) == ("reject_revision", "この変更は認められません。")
    # A new edit after the refusal is a new pending revision.
    again = services.update_post(people.sakai, post, post_input(title="やり直した修正"))
    assert again.id != revision.id


def test_a_revision_is_decided_once(people, make_post):
    post = make_post(people.sakai)
    revision = services.update_post(people.sakai, post, post_input(title="修正"))
    services.approve_revision(people.moderator, revision)
    for decide in (
        lambda: services.approve_revision(people.moderator, revision),
        lambda: services.reject_revision(people.moderator, revision, "理由"),
    ):
        with pytest.raises(PostError) as refused:
            decide()
        assert refused.value.message == "この修正はすでに処理されています。"


def test_a_revision_of_a_post_no_longer_published_is_not_applied(people, make_post):
    post = make_post(people.sakai, title="公開中のタイトル")
    revision = services.update_post(people.sakai, post, post_input(title="修正"))
    services.hide_post(people.moderator, post, HIDE_REASON)
    with pytest.raises(PostError) as refused:
        services.approve_revision(people.moderator, revision)
    assert refused.value.message == "この投稿は公開中ではないため、修正を反映できません。"
    assert post.title == "公開中のタイトル"


def test_refusing_a_revision_needs_a_reason(people, make_post):
    post = make_post(people.sakai)
    revision = services.update_post(people.sakai, post, post_input(title="修正"))
    with pytest.raises(PostError) as refused:
        services.reject_revision(people.moderator, revision, "  ")
    assert refused.value.field == "reason"
    assert revision.state == RevisionState.PENDING


def test_attachments_of_a_published_post_cannot_change_through_an_edit(people, make_post):
    post = make_post(people.sakai)
    with pytest.raises(PostError) as refused:
        services.update_post(people.sakai, post, post_input(), [file_storage(PDF, "追加.pdf")])
    assert refused.value.message == "公開中の投稿の添付ファイルは変更できません。"
    assert pending_revisions(post) == []


def test_drafts_pending_and_returned_posts_are_edited_directly(people, make_post):
    for state in (PostState.DRAFT, PostState.PENDING, PostState.REJECTED):
        post = make_post(people.sakai, state)
        assert services.update_post(people.sakai, post, post_input(title=f"直接の修正 {state.value}")) is None
        db.session.commit()
        db.session.expire_all()
        post = db.session.get(Post, post.id)
        assert post.title == f"直接の修正 {state.value}" and post.state == state


@pytest.mark.parametrize("state", [PostState.CLOSED, PostState.WITHDRAWN, PostState.EXPIRED, PostState.HIDDEN])
def test_finished_posts_cannot_be_edited(people, make_post, state):
    post = make_post(people.sakai, state)
    with pytest.raises(PostError) as refused:
        services.update_post(people.sakai, post, post_input(title="修正"))
    assert refused.value.message == "この投稿は編集できません。"


# --- moderation ---------------------------------------------------------------------------------------------------


def published_with_revision(people, make_post):
    post = make_post(people.sakai)
    revision = services.update_post(people.sakai, post, post_input(title="修正"))
    db.session.commit()
    return post, revision


def published_with_report(people, make_post):
    post = make_post(people.sakai)
    report = reports.report_post(people.kushiro, post, "連絡先が個人の携帯電話です。")
    db.session.commit()
    return post, report


MODERATOR_VERBS = {
    # name: (state the post starts in, how to set the subject up, the call, the logged action, the logged reason)
    "approve_post": (PostState.PENDING, None, lambda actor, post, _: services.approve_post(actor, post), None),
    "reject_post": (
        PostState.PENDING,
        None,
        lambda actor, post, _: services.reject_post(actor, post, RETURN_COMMENT),
        RETURN_COMMENT,
    ),
    "hide_post": (
        PostState.PUBLISHED,
        None,
        lambda actor, post, _: services.hide_post(actor, post, HIDE_REASON),
        HIDE_REASON,
    ),
    "unhide_post": (PostState.HIDDEN, None, lambda actor, post, _: services.unhide_post(actor, post), None),
    "approve_revision": (
        None,
        published_with_revision,
        lambda actor, post, revision: services.approve_revision(actor, revision),
        None,
    ),
    "reject_revision": (
        None,
        published_with_revision,
        lambda actor, post, revision: services.reject_revision(actor, revision, "認められません。"),
        "認められません。",
    ),
    "dismiss_report": (
        None,
        published_with_report,
        lambda actor, post, report: reports.dismiss_report(actor, report, "問題ありません。"),
        "問題ありません。",
    ),
    "hide_reported_post": (
        None,
        published_with_report,
        lambda actor, post, report: reports.hide_reported_post(actor, report, HIDE_REASON),
        HIDE_REASON,
    ),
}
LOGGED_AS = {"hide_reported_post": "hide_post"}


def set_up(verb, people, make_post):
    state, arrange, _, _ = MODERATOR_VERBS[verb]
    if arrange is not None:
        return arrange(people, make_post)
    return make_post(people.sakai, state), None


@pytest.fixture
def suspended_moderator(create_user):
    return create_user(None, email="former@secretariat.example.jp", is_moderator=True, state=UserState.SUSPENDED)


@pytest.mark.parametrize("actor", ["sakai", "kushiro", "shinagawa", "suspended_moderator"])
@pytest.mark.parametrize("verb", list(MODERATOR_VERBS))
def test_moderator_actions_are_refused_to_others(people, make_post, suspended_moderator, verb, actor):
    post, subject = set_up(verb, people, make_post)
    state = post.state
    user = suspended_moderator if actor == "suspended_moderator" else getattr(people, actor)
    log_before = len(decisions())
    with pytest.raises(PostError) as refused:
        MODERATOR_VERBS[verb][2](user, post, subject)
    assert refused.value.message == MODERATORS_ONLY
    db.session.rollback()
    assert stored_state(post) == state
    assert len(decisions()) == log_before
    if isinstance(subject, PostRevision):
        assert db.session.get(PostRevision, subject.id).state == RevisionState.PENDING
    if isinstance(subject, Report):
        assert db.session.get(Report, subject.id).state == ReportState.OPEN


@pytest.mark.parametrize("verb", list(MODERATOR_VERBS))
def test_every_moderator_decision_is_logged_in_its_own_transaction(people, make_post, verb):
    post, subject = set_up(verb, people, make_post)
    state = post.state
    before_title = post.title
    log_before = len(decisions())
    MODERATOR_VERBS[verb][2](people.moderator, post, subject)
    new = decisions()[log_before:]
    assert len(new) == 1
    decision = new[0]
    assert decision.action == LOGGED_AS.get(verb, verb)
    assert (decision.actor_id, decision.subject_type, decision.subject_id) == (people.moderator.id, "post", post.id)
    assert decision.subject_label == before_title  # the title as it stood when the decision was taken
    assert decision.reason == MODERATOR_VERBS[verb][3]
    # The change and its log line are one unit: undo the transaction and both are gone.
    db.session.rollback()
    assert stored_state(post) == state
    assert len(decisions()) == log_before


def test_a_moderation_log_line_cannot_be_changed_or_deleted(people, make_post):
    post = make_post(people.sakai)
    decision = decisions(post.id)[-1]
    logged = (decision.id, decision.action, decision.reason)
    decision.reason = "書き換え"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(ModerationDecision, decision.id))
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()
    db.session.expire_all()
    assert [(d.id, d.action, d.reason) for d in decisions(post.id)][-1] == logged == (decision.id, "approve_post", None)


def log_rows() -> list[Row]:
    """Every column of every line of the moderation log, as the database holds it."""
    table = ModerationDecision.__table__
    return list(db.session.execute(select(table).order_by(table.c.id)))


BYPASSING_THE_ORM = [
    pytest.param("UPDATE moderation_decision SET reason = 'x'", id="update"),
    pytest.param("DELETE FROM moderation_decision", id="delete"),
    pytest.param(
        "TRUNCATE moderation_decision",
        id="truncate",
        marks=pytest.mark.skipif(not ON_POSTGRESQL, reason="SQLite has no TRUNCATE"),
    ),
]


@pytest.mark.parametrize("statement", BYPASSING_THE_ORM)
def test_the_database_refuses_to_change_or_delete_the_moderation_log(people, make_post, statement):
    """SQL that never meets the ORM's guard meets the database's triggers (added by migration 5c9266ae8c3a)."""
    make_post(people.sakai)
    logged = log_rows()
    assert logged
    connection = db.session.connection()
    # On PostgreSQL a failed statement aborts the transaction it ran in: run it in a savepoint and roll that back.
    with pytest.raises(IntegrityError, match="the moderation log is append-only"), connection.begin_nested():
        connection.exec_driver_sql(statement)
    assert log_rows() == logged


def test_the_database_still_takes_new_lines_of_the_moderation_log(people, make_post):
    """The triggers refuse changes and deletions only: a line written without the ORM is still taken."""
    post = make_post(people.sakai)
    logged = log_rows()
    db.session.connection().execute(
        insert(ModerationDecision.__table__).values(
            actor_id=people.moderator.id, action="hide_post", subject_type="post", subject_id=post.id, reason="x"
        )
    )
    now = log_rows()
    assert now[: len(logged)] == logged
    assert [(row.actor_id, row.action, row.subject_id, row.reason) for row in now[len(logged) :]] == [
        (people.moderator.id, "hide_post", post.id, "x")
    ]


def test_reject_stores_what_was_returned_and_approve_clears_it(people, make_post):
    post = make_post(people.sakai, PostState.PENDING, title="最初のタイトル")
    services.reject_post(people.moderator, post, RETURN_COMMENT)
    db.session.commit()
    db.session.expire_all()
    post = db.session.get(Post, post.id)
    assert post.state == PostState.REJECTED and post.moderator_comment == RETURN_COMMENT
    assert post.returned_snapshot == post.content()
    assert post.returned_snapshot["title"] == "最初のタイトル"

    services.update_post(people.sakai, post, post_input(title="直したタイトル"))
    services.submit_post(people.sakai, post)
    db.session.commit()
    assert post.returned_snapshot["title"] == "最初のタイトル"  # the moderator diffs against it
    assert post.moderator_comment == RETURN_COMMENT

    services.approve_post(people.moderator, post)
    db.session.commit()
    db.session.expire_all()
    post = db.session.get(Post, post.id)
    assert post.returned_snapshot is None and post.moderator_comment is None
    assert post.title == "直したタイトル"


@pytest.mark.parametrize("reason", ["", "   \n"])
def test_reject_and_hide_need_a_reason(people, make_post, reason):
    pending = make_post(people.sakai, PostState.PENDING)
    published = make_post(people.sakai)
    with pytest.raises(PostError) as refused:
        services.reject_post(people.moderator, pending, reason)
    assert refused.value.message == "差し戻しの理由を入力してください。"
    with pytest.raises(PostError) as refused:
        services.hide_post(people.moderator, published, reason)
    assert refused.value.message == "非公開にする理由を入力してください。"
    db.session.rollback()
    assert (stored_state(pending), stored_state(published)) == (PostState.PENDING, PostState.PUBLISHED)


@pytest.mark.parametrize("state", [PostState.PUBLISHED, PostState.CLOSED, PostState.EXPIRED])
def test_unhide_returns_to_the_state_it_was_hidden_from(people, make_post, state):
    post = make_post(people.sakai, state)
    services.hide_post(people.moderator, post, HIDE_REASON)
    db.session.commit()
    assert stored_state(post) == PostState.HIDDEN
    post = db.session.get(Post, post.id)
    assert post.hidden_reason == HIDE_REASON and post.hidden_from_state == state.value
    services.unhide_post(people.moderator, post, "確認しました。")
    db.session.commit()
    assert stored_state(post) == state
    post = db.session.get(Post, post.id)
    assert post.hidden_reason is None and post.hidden_from_state is None
    assert [d.action for d in decisions(post.id)][-2:] == ["hide_post", "unhide_post"]


# --- expiry ---------------------------------------------------------------------------------------------------------


def test_expire_posts_moves_only_published_posts_past_their_deadline(people, make_post):
    due = make_post(people.sakai, deadline=in_days(3))
    due_call = make_post(people.shinagawa, deadline=in_days(5))
    on_the_day = make_post(people.sakai, deadline=in_days(10))
    later = make_post(people.sakai, deadline=in_days(30))
    no_deadline = make_post(people.sakai, deadline=None)
    others = {state: make_post(people.sakai, state, deadline=in_days(3)) for state in PostState if state != "published"}
    today = in_days(10)

    assert services.expire_posts(today=today) == 2
    db.session.commit()
    assert stored_state(due) == PostState.EXPIRED and stored_state(due_call) == PostState.EXPIRED
    for post in (on_the_day, later, no_deadline):
        assert stored_state(post) == PostState.PUBLISHED
    for state, post in others.items():
        assert stored_state(post) == state
    logged = [d for d in decisions() if d.action == "expire_post"]
    assert {d.subject_id for d in logged} == {due.id, due_call.id}
    assert all(d.actor_id is None for d in logged)
    assert {d.details["deadline"] for d in logged} == {in_days(3).isoformat(), in_days(5).isoformat()}

    assert services.expire_posts(today=today) == 0  # idempotent
    db.session.commit()
    assert len([d for d in decisions() if d.action == "expire_post"]) == 2


def test_the_expire_command(app, people, make_post):
    past = make_post(people.sakai)
    past.deadline = in_days(-1)  # the deadline passed since it was published
    current = make_post(people.sakai, deadline=in_days(0))
    db.session.commit()
    runner = app.test_cli_runner()

    result = runner.invoke(args=["expire"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("expired 1 post(s), reminded 1,")  # today's deadline is within seven days
    assert stored_state(past) == PostState.EXPIRED and stored_state(current) == PostState.PUBLISHED

    result = runner.invoke(args=["expire"])
    assert result.exit_code == 0 and result.output.startswith("expired 0 post(s), reminded 0,")


# --- co-proposers ----------------------------------------------------------------------------------------------


def test_invite_a_co_proposer_of_the_same_side(people, make_post):
    post = make_post(people.sakai, PostState.DRAFT)
    kushiro = get_by_code(KUSHIRO_TOWN)
    co = services.invite_co_proposer(people.sakai, post, kushiro)
    db.session.commit()
    assert co.state == CoProposerState.INVITED and co.invited_by_id == people.sakai.id
    assert post.accepted_co_proposers == [] and not post.can_edit(people.kushiro)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (SHINAGAWA, "共同提案者は同じ側の団体から選んでください。"),
        (SAKAI_OSAKA, "招待できるのは会員団体だけです。"),
        (SAKAI, "自分の団体は招待できません。"),
        (None, "この団体コードの団体は見つかりません。"),
    ],
)
def test_co_proposer_invitations_that_are_refused(people, make_post, code, message):
    post = make_post(people.sakai, PostState.DRAFT)
    if code == SAKAI_OSAKA:
        assert get_by_code(SAKAI_OSAKA).membership != Membership.MEMBER
    with pytest.raises(PostError) as refused:
        services.invite_co_proposer(people.sakai, post, get_by_code(code) if code else None)
    assert refused.value.message == message and refused.value.field == "organization_code"
    db.session.rollback()
    assert db.session.get(Post, post.id).co_proposers == []


def test_a_ward_call_takes_wards_as_co_proposers(people, make_post):
    post = make_post(people.shinagawa, PostState.DRAFT)
    chiyoda = get_by_code("131016")
    assert chiyoda.kind == OrganizationKind.SPECIAL_WARD
    services.invite_co_proposer(people.shinagawa, post, chiyoda)
    with pytest.raises(PostError) as refused:
        services.invite_co_proposer(people.shinagawa, post, get_by_code(SAKAI))
    assert refused.value.message == "共同提案者は同じ側の団体から選んでください。"


def test_an_organization_is_invited_once(people, make_post):
    post = make_post(people.sakai, PostState.DRAFT)
    services.invite_co_proposer(people.sakai, post, get_by_code(KUSHIRO_TOWN))
    with pytest.raises(PostError) as refused:
        services.invite_co_proposer(people.sakai, post, get_by_code(KUSHIRO_TOWN))
    assert refused.value.message == "この団体はすでに招待されています。"
    assert len(post.co_proposers) == 1


def test_only_the_owning_organization_invites(people, make_post):
    post = make_post(people.sakai, PostState.DRAFT)
    co = services.invite_co_proposer(people.sakai, post, get_by_code(KUSHIRO_TOWN))
    services.answer_co_proposal(people.kushiro, co, accept=True)
    db.session.commit()
    for actor in (people.kushiro, people.shinagawa, people.moderator):
        with pytest.raises(PostError) as refused:
            services.invite_co_proposer(actor, post, get_by_code("012041"))  # 旭川市
        assert refused.value.message == "共同提案者を招待できません。"
    closed = make_post(people.sakai, PostState.CLOSED)
    with pytest.raises(PostError):
        services.invite_co_proposer(people.sakai, closed, get_by_code(KUSHIRO_TOWN))


def test_an_accepted_co_proposer_edits_the_post_and_is_shown_with_it(app, people, make_post):
    post = make_post(people.sakai, PostState.DRAFT, title="釧路と坂井の合同物産展")
    co = services.invite_co_proposer(people.sakai, post, get_by_code(KUSHIRO_TOWN))
    db.session.commit()
    services.answer_co_proposal(people.kushiro, co, accept=True)
    db.session.commit()
    assert co.state == CoProposerState.ACCEPTED and co.answered_at is not None
    assert post.belongs_to(people.kushiro) and post.can_edit(people.kushiro) and post.can_submit(people.kushiro)
    assert not post.can_invite_co_proposer(people.kushiro)
    assert "釧路町" in post.search_text

    services.update_post(people.kushiro, post, post_input(title="釧路町が直したタイトル"))
    services.submit_post(people.kushiro, post)
    services.approve_post(people.moderator, post)
    db.session.commit()
    assert post.title == "釧路町が直したタイトル"

    client = new_client(app, people.shinagawa)
    page = client.get(f"/posts/{post.id}").get_data(as_text=True)
    assert "福井県 坂井市・北海道 釧路町" in page
    listing = client.get("/posts", query_string={"q": "釧路町"}).get_data(as_text=True)
    assert "釧路町が直したタイトル" in listing


def test_a_declined_invitation_gives_no_rights(people, make_post):
    post = make_post(people.sakai, PostState.DRAFT)
    co = services.invite_co_proposer(people.sakai, post, get_by_code(KUSHIRO_TOWN))
    services.answer_co_proposal(people.kushiro, co, accept=False)
    db.session.commit()
    assert co.state == CoProposerState.DECLINED
    assert not post.can_view(people.kushiro) and not post.can_edit(people.kushiro)
    assert "釧路町" not in post.search_text
    with pytest.raises(PostError) as refused:
        services.answer_co_proposal(people.kushiro, co, accept=True)
    assert refused.value.message == "この招待にはすでに回答済みです。"


def test_only_the_invited_organization_answers(people, make_post):
    post = make_post(people.sakai, PostState.DRAFT)
    co = services.invite_co_proposer(people.sakai, post, get_by_code(KUSHIRO_TOWN))
    for actor in (people.sakai, people.shinagawa, people.moderator):
        with pytest.raises(PostError) as refused:
            services.answer_co_proposal(actor, co, accept=True)
        assert refused.value.message == "この招待には回答できません。"
    assert co.state == CoProposerState.INVITED
