"""Multi-choice fields as grouped checkboxes: the 23 target wards of a proposal by area, the 47 prefectures an
officer follows by region; each choice a labelled checkbox, so that choosing a second never drops the first; the
chosen wards listed in the preview (without JavaScript, the preview is where they are read back)."""

from collections import defaultdict

from sqlalchemy import select

from bulletin.extensions import db
from bulletin.notifications import services as notifications
from bulletin.posts.models import Post
from tests.constants import CHIYODA, SHINAGAWA
from tests.factories import form_data, page_of

KOTO = "131083"
WARD_AREAS = {
    "都心・副都心": ["千代田区", "中央区", "港区", "新宿区", "文京区", "渋谷区"],
    "城東": ["台東区", "墨田区", "江東区", "荒川区", "足立区", "葛飾区", "江戸川区"],
    "城南": ["品川区", "目黒区", "大田区", "世田谷区"],
    "城西": ["中野区", "杉並区", "練馬区"],
    "城北": ["豊島区", "北区", "板橋区"],
}
REGIONS = {"北海道・東北": 7, "関東": 7, "中部": 9, "近畿": 7, "中国": 5, "四国": 4, "九州・沖縄": 8}


def checkbox_groups(response, name: str) -> dict[str, list[tuple[str, str, bool]]]:
    """{group legend: [(value, label, checked)]} for the checkboxes called `name`, read in page order."""
    page = page_of(response)
    labels = {e.attrs.get("for"): e.text.strip() for e in page.all("label")}
    groups: dict[str, list[tuple[str, str, bool]]] = defaultdict(list)
    legend = ""
    for element in page.elements:
        if element.tag == "legend":
            legend = element.text.strip()
        elif element.tag == "input" and element.attrs.get("name") == name:
            assert element.attrs.get("type") == "checkbox", element
            groups[legend].append((element.attrs["value"], labels[element.attrs["id"]], "checked" in element.attrs))
    return dict(groups)


def chosen(groups: dict[str, list[tuple[str, str, bool]]]) -> list[str]:
    return [label for items in groups.values() for _value, label, checked in items if checked]


def no_multiple_select(response) -> None:
    assert not [e for e in page_of(response).all("select") if "multiple" in e.attrs]


def test_the_23_wards_are_checkboxes_grouped_by_area(client, auth, people):
    auth.login(people.sakai)
    response = client.get("/posts/new")
    groups = checkbox_groups(response, "target_wards")
    assert {legend: [label for _v, label, _c in items] for legend, items in groups.items()} == WARD_AREAS
    assert chosen(groups) == []
    no_multiple_select(response)
    fieldset = page_of(response).by_id("target_wards")
    assert fieldset is not None and fieldset.tag == "fieldset"  # the error summary links to it


def test_two_wards_chosen_are_kept_across_a_preview_and_saved(client, auth, people):
    auth.login(people.sakai)
    data = {**form_data(title="二つの区に届ける提案", action="preview"), "target_wards": [SHINAGAWA, KOTO]}
    response = client.post("/posts/new", data=data)
    assert response.status_code == 200
    assert chosen(checkbox_groups(response, "target_wards")) == ["江東区", "品川区"]
    preview = page_of(response).by_id("preview-wards")
    assert preview is not None and preview.text.split() == ["対象の区:", "江東区、品川区（2区）"]

    response = client.post("/posts/new", data={**data, "action": "draft"})
    assert response.status_code == 302
    post = db.session.scalar(select(Post).where(Post.title == "二つの区に届ける提案"))
    assert post is not None and [ward.name for ward in post.target_wards] == ["江東区", "品川区"]


def test_a_preview_without_wards_says_all_23(client, auth, people):
    auth.login(people.sakai)
    response = client.post("/posts/new", data=form_data(action="preview"))
    preview = page_of(response).by_id("preview-wards")
    assert preview is not None and preview.text.split() == ["対象の区:", "23区すべて"]


def test_the_edit_form_checks_the_wards_of_the_post(client, auth, people, make_post):
    post = make_post(people.sakai, target_ward_codes=[CHIYODA, SHINAGAWA])
    auth.login(people.sakai)
    response = client.get(f"/posts/{post.id}/edit")
    assert chosen(checkbox_groups(response, "target_wards")) == ["千代田区", "品川区"]


def test_followed_prefectures_are_checkboxes_by_region_and_kept(client, auth, people):
    auth.login(people.shinagawa)
    response = client.get("/settings/notifications")
    no_multiple_select(response)
    groups = checkbox_groups(response, "follow_prefecture")
    assert {legend: len(items) for legend, items in groups.items()} == REGIONS
    assert [label for _v, label, _c in groups["九州・沖縄"]][-1] == "沖縄県"
    assert len(checkbox_groups(response, "follow_category")) == 1  # the categories, one group

    modes = {e.attrs["name"]: e.attrs["value"] for e in page_of(response).all("input") if "checked" in e.attrs}
    response = client.post(
        "/settings/notifications",
        data={**modes, "follow_prefecture": ["18", "01"], "follow_category": ["products"]},
    )
    assert response.status_code == 302
    assert notifications.follows_of(people.shinagawa)["prefecture"] == {"01", "18"}
    groups = checkbox_groups(client.get("/settings/notifications"), "follow_prefecture")
    assert chosen(groups) == ["北海道", "福井県"]
