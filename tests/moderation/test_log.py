"""The moderation log: filtered by kind of decision, moderator, organization (code or name, either side of a
conversation or partnership) and period, paged with the filters kept, exported as CSV with the same filters; for
moderators only, and at a fixed number of queries whatever its length."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from bulletin.core.audit import ModerationDecision, log_decision
from bulletin.core.text import fiscal_year_of, format_fiscal_year, today_in_japan
from bulletin.extensions import db
from bulletin.posts.models import PostState
from bulletin.responses import services as responses
from bulletin.responses.models import ResponseKind
from tests.constants import SAKAI, SHINAGAWA
from tests.factories import new_client, page_of, text_of

BOM = "\ufeff"
ACTIONS = ("投稿を公開", "投稿を差し戻し", "アカウントを停止", "連携事例を公開", "投稿の期限切れ")


def rows(response) -> list[str]:
    """The log's table rows as text (the header row left out)."""
    return [" ".join(cell.text.split()) for cell in page_of(response).all("tr")][1:]


def csv_rows(response) -> list[list[str]]:
    """The CSV's rows, the header first; the BOM checked and taken off."""
    body = response.get_data().decode("utf-8")
    assert body.startswith(BOM)
    return list(csv.reader(io.StringIO(body[len(BOM) :])))


@pytest.fixture
def second_moderator(create_user):
    return create_user(None, is_moderator=True, email="second@secretariat.lg.jp", name="事務局 二人目")


@pytest.fixture
def decided(people, make_post, second_moderator):
    """A post of 坂井市 published (by the moderator), one of 釧路町 returned with a reason, a 品川区 officer's account
    suspended by the second moderator, a partnership of 坂井市 and 品川区 published as a case, an expiry."""
    sakai_post = make_post(people.sakai, title="黄金がにのPRイベント")
    make_post(people.kushiro, PostState.REJECTED, title="釧路の昆布フェア")
    log_decision(second_moderator, "suspend_user", "user", people.shinagawa.id, "品川 職員", reason="異動のため")
    response = responses.respond(people.shinagawa, sakai_post, ResponseKind.OFFER, "しながわ水族館で開催できます。")
    partnership = responses.accept_response(people.sakai, response)
    partnership.title = "しながわ水族館 冬の味覚フェア"
    log_decision(people.moderator, "publish_case", "partnership", partnership.id, partnership.title)
    log_decision(None, "expire_post", "post", sakai_post.id, sakai_post.title)
    db.session.commit()
    return sakai_post


def test_the_log_names_the_organization_of_each_decision(app, people, decided):
    lines = rows(new_client(app, people.moderator).get("/moderation/log"))
    assert len(lines) == 5
    case = next(line for line in lines if "連携事例を公開" in line)
    assert "福井県 坂井市" in case and "東京都 品川区" in case
    assert any("アカウントを停止" in line and "東京都 品川区" in line and "異動のため" in line for line in lines)
    assert any("投稿を差し戻し" in line and "釧路町" in line for line in lines)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("action=approve_post", {"投稿を公開"}),
        ("action=reject_post", {"投稿を差し戻し"}),
        ("organization=" + SAKAI, {"投稿を公開", "連携事例を公開", "投稿の期限切れ"}),
        ("organization=坂井", {"投稿を公開", "連携事例を公開", "投稿の期限切れ"}),
        ("organization=品川", {"アカウントを停止", "連携事例を公開"}),  # the partner side of the partnership too
        ("organization=" + SHINAGAWA + "&action=publish_case", {"連携事例を公開"}),
        ("moderator=system", {"投稿の期限切れ"}),
    ],
)
def test_each_filter_narrows_the_log(app, people, decided, query, expected):
    lines = rows(new_client(app, people.moderator).get(f"/moderation/log?{query}"))
    actions = {
        label
        for line in lines
        for label in expected | {"投稿を公開", "投稿を差し戻し", "アカウントを停止", "連携事例を公開", "投稿の期限切れ"}
        if label in line
    }
    assert actions == expected, lines


def test_the_moderator_filter_lists_the_moderators_and_keeps_to_one(app, people, decided, second_moderator):
    browser = new_client(app, people.moderator)
    options = [o.text.strip() for o in page_of(browser.get("/moderation/log")).all("option")]
    assert "事務局 二人目" in options and "システム（自動）" in options
    lines = rows(browser.get(f"/moderation/log?moderator={second_moderator.id}"))
    assert len(lines) == 1 and "アカウントを停止" in lines[0]
    refused = browser.get(f"/moderation/log?moderator={people.sakai.id}")  # not a moderator: not a choice
    assert refused.status_code == 200 and "field__error" in text_of(refused)


def test_the_period_is_read_in_japan_time(app, people, decided):
    late = log_decision(people.moderator, "hide_post", "post", decided.id, decided.title, reason="重複")
    late.created_at = datetime(2026, 4, 1, 14, 59, tzinfo=UTC)  # 23:59 on 1 April in Japan
    db.session.commit()
    browser = new_client(app, people.moderator)
    on_the_day = rows(browser.get("/moderation/log?date_from=2026-04-01&date_until=2026-04-01"))
    assert len(on_the_day) == 1 and "2026-04-01 23:59" in on_the_day[0]
    assert rows(browser.get("/moderation/log?date_from=2026-04-02&date_until=2026-04-02")) == [
        "該当する記録はありません。"
    ]
    assert len(rows(browser.get("/moderation/log?date_until=2026-04-01"))) == 1


def test_a_bad_date_is_shown_on_the_form_and_changes_nothing(app, people, decided):
    response = new_client(app, people.moderator).get("/moderation/log?date_from=2026-13-45")
    assert response.status_code == 200
    assert "field__error" in text_of(response) and len(rows(response)) == 5


def test_pages_keep_the_filters(app, people, decided):
    for number in range(55):
        log_decision(people.moderator, "approve_post", "post", decided.id, f"一括 {number}")
    db.session.commit()
    browser = new_client(app, people.moderator)
    first = browser.get("/moderation/log?action=approve_post&organization=坂井")
    assert len(rows(first)) == 50
    next_link = next(a.attrs["href"] for a in page_of(first).all("a") if a.attrs.get("rel") == "next")
    assert "action=approve_post" in next_link and "organization=" in next_link and "page=2" in next_link
    second = rows(browser.get(next_link))
    assert len(second) == 6 and all("投稿を公開" in line for line in second)  # 55 and the post's own approval


def test_the_csv_has_a_bom_a_header_and_one_row_per_decision(app, people, decided):
    response = new_client(app, people.moderator).get("/moderation/log.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    header, *lines = csv_rows(response)
    assert header == ["日時（日本時間）", "モデレーター", "操作", "対象", "団体", "理由・詳細", "年度"]
    assert len(lines) == db.session.query(ModerationDecision).count() == 5
    suspended = next(line for line in lines if line[2] == "アカウントを停止")
    assert suspended[1] == "事務局 二人目" and suspended[3] == "品川 職員" and suspended[5] == "異動のため"
    assert suspended[4] == f"東京都 品川区（{SHINAGAWA}）"
    assert datetime.strptime(suspended[0], "%Y-%m-%d %H:%M")  # Japan time, as the page shows it
    assert suspended[6] == format_fiscal_year(fiscal_year_of(today_in_japan()))  # to group by in a spreadsheet
    assert next(line for line in lines if line[2] == "投稿の期限切れ")[1] == "システム"


def test_the_csv_applies_the_filters(app, people, decided):
    browser = new_client(app, people.moderator)
    page = browser.get("/moderation/log?organization=品川&action=publish_case")
    link = next(a.attrs["href"] for a in page_of(page).all("a") if "/moderation/log.csv" in a.attrs.get("href", ""))
    _header, *lines = csv_rows(browser.get(link))
    assert [line[2] for line in lines] == ["連携事例を公開"]
    assert lines[0][4] == f"福井県 坂井市（{SAKAI}） / 東京都 品川区（{SHINAGAWA}）"


def test_the_csv_is_in_english_for_an_english_reader(app, people, decided):
    people.moderator.locale = "en"
    db.session.commit()
    header, *_lines = csv_rows(new_client(app, people.moderator).get("/moderation/log.csv"))
    assert header[0] != "日時（日本時間）" and header[0].isascii()


@pytest.mark.parametrize("path", ["/moderation/log", "/moderation/log.csv", "/moderation/log.csv?action=approve_post"])
def test_only_moderators_read_the_log(app, people, decided, path):
    assert new_client(app).get(path).status_code == 302  # to the login page
    for officer in (people.sakai, people.shinagawa):
        assert new_client(app, officer).get(path).status_code == 404


def test_the_log_costs_the_same_with_few_or_many_lines(app, people, decided, count_queries):
    browser = new_client(app, people.moderator)

    def cost(url: str) -> int:
        assert browser.get(url).status_code == 200
        with count_queries() as counter:
            assert browser.get(url).status_code == 200
        return counter.count

    urls = ["/moderation/log", "/moderation/log?organization=坂井", "/moderation/log.csv"]
    few = [cost(url) for url in urls]
    for number in range(80):
        log_decision(people.moderator, "approve_post", "post", decided.id, f"一括 {number}")
        log_decision(people.moderator, "suspend_user", "user", people.shinagawa.id, "品川 職員", reason="試験")
    db.session.commit()
    assert [cost(url) for url in urls] == few
    assert max(few) <= 8
