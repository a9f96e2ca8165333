"""MODERATOR_TWO_FACTOR = required: a moderator without two-factor sign-in is sent to enrolment from every route of
the URL map (the moderators' pages among them) and changes nothing until they have enrolled; enrolled, they pass.
Members are not concerned."""

from __future__ import annotations

from bulletin.accounts import two_factor
from bulletin.accounts.two_factor_views import ALWAYS_OPEN
from bulletin.extensions import db
from tests.accounts.test_two_factor import CODE_STEP, SETTINGS, password_step, shown_secret
from tests.constants import PASSWORD, SAKAI
from tests.factories import assert_unchanged, build_world, database_state, enrol, flashes_after, new_client, text_of
from tests.test_permissions import ORG_USERS, ROUTES, formatted, refs_of

MUST_ENROL = "モデレーターは2段階認証の設定が必要です。設定が終わるまで、ほかのページは開けません。"

# The routes only moderators may use (the permission table gives every other role 404, 403 or the login page).
MODERATOR_ONLY = sorted(
    {
        route
        for route, cases in ROUTES.items()
        for case in cases
        if all(case.expected[role].status in (403, 404) for role in ORG_USERS)
        and case.expected["moderator"].status not in (403, 404)
    }
)


def open_while_enrolling(endpoint: str) -> bool:
    """Logging out, the language, the policies, static files and the enrolment itself."""
    return endpoint in ALWAYS_OPEN or endpoint.startswith("two_factor.")


def sweep(browser, world, actor) -> dict[tuple[str, str], list[tuple[str, int, str | None]]]:
    """Every case of the permission table but the routes open while enrolling, requested by this browser:
    (path, status, Location) by route."""
    w = refs_of(world)
    answers: dict[tuple[str, str], list[tuple[str, int, str | None]]] = {}
    for (endpoint, method), cases in ROUTES.items():
        if open_while_enrolling(endpoint):
            continue
        for case in cases:
            path = case.path.format(w=w)
            if method == "POST":
                data = case.data(w, actor) if callable(case.data) else formatted(case.data or {}, w)
                response = browser.post(path, data=data)
            else:
                response = browser.get(path)
            response.close()
            answers.setdefault((endpoint, method), []).append(
                (path, response.status_code, response.headers.get("Location"))
            )
    return answers


def test_the_moderator_only_routes_are_found():
    endpoints = {endpoint for endpoint, _ in MODERATOR_ONLY}
    assert {"moderation.queue", "moderation.approve_post", "moderation.retry_mail", "responses.publish"} <= endpoints


def test_a_moderator_without_it_reaches_nothing_but_enrolment_and_changes_nothing(
    app, create_user, moderator, two_factor_required
):
    world = build_world(create_user, moderator, with_posts=True, with_responses=True)
    browser = new_client(app, moderator)  # the password alone opens a session: enrolment needs one
    before = database_state()
    answers = sweep(browser, world, moderator)
    assert_unchanged(before)

    wrong = []
    for (_endpoint, method), results in answers.items():
        for path, status, location in results:
            if (status, location) != (302, SETTINGS):
                wrong.append(f"{method} {path}: {status} {location}")
    assert not wrong, "\n".join(wrong)
    assert all(route in answers for route in MODERATOR_ONLY)
    assert answers[("moderation.queue", "GET")] == [("/moderation", 302, SETTINGS)]

    response = browser.get("/moderation")
    assert MUST_ENROL in flashes_after(browser, response)
    page = browser.get(SETTINGS)
    assert page.status_code == 200 and MUST_ENROL in text_of(page)
    for open_path in ("/terms", "/accessibility", "/static/css/site.css"):
        response = browser.get(open_path)
        response.close()
        assert response.status_code == 200
    assert browser.post("/logout").status_code == 302
    assert browser.get("/profile").headers["Location"].startswith("/login")


def test_an_enrolled_moderator_passes(app, create_user, moderator, two_factor_required, totp_clock):
    world = build_world(create_user, moderator, with_posts=True, with_responses=True)
    secret, _ = enrol(moderator, totp_clock)
    browser = password_step(app, moderator)
    assert browser.post(CODE_STEP, data={"code": totp_clock.code(secret)}).status_code == 302
    w = refs_of(world)
    for endpoint, method in MODERATOR_ONLY:
        if method != "GET":
            continue
        for case in ROUTES[(endpoint, method)]:
            if case.expected["moderator"].status == 200:
                path = case.path.format(w=w)
                assert browser.get(path).status_code == 200, path
    response = browser.post(f"/moderation/users/{world.applicant.id}/approve")
    assert response.status_code == 302 and response.headers["Location"] == "/moderation"


def test_members_are_not_concerned(app, create_user, two_factor_required):
    member = create_user(SAKAI)
    browser = new_client(app, member)
    assert browser.get("/posts").status_code == 200
    assert browser.get("/profile").status_code == 200


def test_a_moderator_signing_in_is_taken_to_enrolment_and_then_to_the_queue(
    app, moderator, two_factor_required, totp_clock
):
    browser = new_client(app)
    response = browser.post("/login", data={"email": moderator.email, "password": PASSWORD})
    assert response.headers["Location"] == "/"
    home = browser.get("/")
    assert home.status_code == 302 and home.headers["Location"] == SETTINGS
    browser.post(f"{SETTINGS}/start", data={"password": PASSWORD})
    secret = shown_secret(browser.get(SETTINGS))
    done = browser.post(SETTINGS, data={"code": totp_clock.code(secret)})
    assert 'href="/moderation"' in text_of(done)  # the recovery codes page leads on to the queue
    assert browser.get("/moderation").status_code == 200
    db.session.expire_all()
    assert two_factor.must_enrol(moderator) is False
