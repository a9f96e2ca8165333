"""Files chosen on the post form survive a preview or a refusal: held as staged files of their uploader, listed on the
form with a way to remove them, attached when the post is saved (and no longer staged), usable by no one else, deleted
a day later by `bulletin expire`, and counted within the limit of five with the post's own and the new ones."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from bulletin.core import uploads
from bulletin.core.db import utcnow
from bulletin.extensions import db
from bulletin.posts import services
from bulletin.posts.models import Post, PostState, StagedAttachment
from tests.constants import NOT_ACCEPTED, PDF, REQUIRED
from tests.factories import (
    assert_field_error,
    file_storage,
    form_data,
    image_bytes,
    page_of,
    post_input,
    uploaded_files,
)
from tests.posts.test_uploads import EXE, multipart

TITLE = "添付を持ち越す提案"


def kept_on_form(response) -> dict[str, str]:
    """{file name: token} of the files the form lists as kept (添付済み（保存前）)."""
    page = page_of(response)
    tokens = [e.attrs["value"] for e in page.all("input") if e.attrs.get("name") == "staged_attachments"]
    names = [e.text.strip() for e in page.with_class("kept-files__name")]
    assert len(tokens) == len(names)
    return dict(zip(names, tokens, strict=True))


def staged_rows() -> list[StagedAttachment]:
    return list(db.session.scalars(select(StagedAttachment).order_by(StagedAttachment.id)))


def post_titled(title: str) -> Post | None:
    return db.session.scalar(select(Post).where(Post.title == title))


def send(client, path, fields, files=()):
    return client.post(path, **multipart(fields, list(files)))


def test_a_file_is_kept_across_a_refusal_and_attached_when_saved(app, client, auth, people):
    auth.login(people.sakai)
    before = uploaded_files(app)
    response = send(client, "/posts/new", form_data(title=""), [("企画書.pdf", PDF)])
    assert response.status_code == 400
    assert_field_error(response, "title", REQUIRED)
    kept = kept_on_form(response)
    assert list(kept) == ["企画書.pdf"]
    assert "添付済み（保存前）" in response.get_data(as_text=True)
    [staged] = staged_rows()
    assert (staged.uploaded_by_id, staged.organization_id, staged.token) == (
        people.sakai.id,
        people.sakai.organization_id,
        kept["企画書.pdf"],
    )
    assert uploaded_files(app) - before == {staged.stored_name}
    stored_name = staged.stored_name

    response = send(client, "/posts/new", form_data(title=TITLE, staged_attachments=[kept["企画書.pdf"]]))
    assert response.status_code == 302, response.get_data(as_text=True)
    post = post_titled(TITLE)
    assert post is not None
    assert [(a.original_name, a.stored_name, a.uploaded_by_id) for a in post.attachments] == [
        ("企画書.pdf", stored_name, people.sakai.id)
    ]
    assert staged_rows() == []
    assert uploads.path_of(stored_name).read_bytes() == PDF


def test_files_are_kept_across_previews_then_submitted(app, client, auth, people):
    auth.login(people.sakai)
    response = send(client, "/posts/new", form_data(title=TITLE, action="preview"), [("企画書.pdf", PDF)])
    assert response.status_code == 200
    first = kept_on_form(response)
    assert list(first) == ["企画書.pdf"]
    response = send(
        client,
        "/posts/new",
        form_data(title=TITLE, action="preview", staged_attachments=list(first.values())),
        [("会場図.png", image_bytes("PNG"))],
    )
    kept = kept_on_form(response)
    assert list(kept) == ["企画書.pdf", "会場図.png"] and kept["企画書.pdf"] == first["企画書.pdf"]

    response = send(
        client, "/posts/new", form_data(title=TITLE, action="submit", staged_attachments=list(kept.values()))
    )
    assert response.status_code == 302
    post = post_titled(TITLE)
    assert post is not None and post.state == PostState.PENDING
    assert [a.original_name for a in post.attachments] == ["企画書.pdf", "会場図.png"]
    assert staged_rows() == []


def test_a_kept_file_can_be_removed(app, client, auth, people):
    auth.login(people.sakai)
    response = send(client, "/posts/new", form_data(action="preview"), [("一つ目.pdf", PDF), ("二つ目.pdf", PDF)])
    kept = kept_on_form(response)
    removed = staged_rows()[0].stored_name
    assert uploads.path_of(removed).exists()

    response = send(
        client,
        "/posts/new",
        form_data(action="preview", staged_attachments=list(kept.values()), remove_staged=[kept["一つ目.pdf"]]),
    )
    assert list(kept_on_form(response)) == ["二つ目.pdf"]
    assert [row.original_name for row in staged_rows()] == ["二つ目.pdf"]
    assert not uploads.path_of(removed).exists()

    remaining = staged_rows()[0].stored_name
    response = send(
        client,
        "/posts/new",
        form_data(title=TITLE, staged_attachments=[kept["二つ目.pdf"]], remove_staged=[kept["二つ目.pdf"]]),
    )
    assert response.status_code == 302
    post = post_titled(TITLE)
    assert post is not None and post.attachments == [] and staged_rows() == []
    assert not uploads.path_of(remaining).exists()


def test_a_token_of_another_user_is_ignored(app, client, auth, people):
    auth.login(people.sakai)
    kept = kept_on_form(send(client, "/posts/new", form_data(action="preview"), [("企画書.pdf", PDF)]))
    token = kept["企画書.pdf"]
    auth.logout()

    auth.login(people.sakai_colleague)  # the same organization, another person
    response = send(client, "/posts/new", form_data(action="preview", staged_attachments=[token]))
    assert kept_on_form(response) == {}
    response = send(client, "/posts/new", form_data(action="preview", remove_staged=[token]))
    assert response.status_code == 200
    response = send(client, "/posts/new", form_data(title=TITLE, staged_attachments=[token], remove_staged=[token]))
    assert response.status_code == 302
    post = post_titled(TITLE)
    assert post is not None and post.attachments == []
    [staged] = staged_rows()
    assert (staged.token, staged.uploaded_by_id) == (token, people.sakai.id)  # still the owner's, unchanged
    assert uploads.path_of(staged.stored_name).exists()


def test_a_refused_file_is_said_and_the_others_stay(app, client, auth, people):
    auth.login(people.sakai)
    kept = kept_on_form(send(client, "/posts/new", form_data(action="preview"), [("企画書.pdf", PDF)]))
    response = send(
        client, "/posts/new", form_data(action="preview", staged_attachments=list(kept.values())), [("悪い.pdf", EXE)]
    )
    assert response.status_code == 400
    assert_field_error(response, "attachments", f"悪い.pdf {NOT_ACCEPTED}")
    assert kept_on_form(response) == kept
    assert [row.original_name for row in staged_rows()] == ["企画書.pdf"]


def test_the_limit_counts_existing_kept_and_new_files(app, client, auth, people, make_post):
    post = make_post(people.sakai, PostState.DRAFT, files=[file_storage(PDF, f"既存{n}.pdf") for n in range(2)])
    auth.login(people.sakai)
    path = f"/posts/{post.id}/edit"
    fields = form_data(title=post.title, action="preview")
    kept = kept_on_form(send(client, path, fields, [("追加1.pdf", PDF), ("追加2.pdf", PDF)]))
    assert list(kept) == ["追加1.pdf", "追加2.pdf"]  # 2 + 2

    response = send(
        client, path, {**fields, "staged_attachments": list(kept.values())}, [("3.pdf", PDF), ("4.pdf", PDF)]
    )
    assert response.status_code == 400
    assert_field_error(response, "attachments", "添付できるファイルは5件までです。")
    assert kept_on_form(response) == kept and len(staged_rows()) == 2

    response = send(
        client,
        path,
        {**fields, "action": "draft", "staged_attachments": list(kept.values())},
        [("3.pdf", PDF), ("4.pdf", PDF)],
    )
    assert response.status_code == 400  # saving counts the same way
    assert_field_error(response, "attachments", "添付できるファイルは5件までです。")

    response = send(
        client, path, {**fields, "action": "draft", "staged_attachments": list(kept.values())}, [("3.pdf", PDF)]
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert [a.original_name for a in db.session.get(Post, post.id).attachments] == [
        "既存0.pdf",
        "既存1.pdf",
        "追加1.pdf",
        "追加2.pdf",
        "3.pdf",
    ]
    assert staged_rows() == []


def test_a_staged_file_is_attached_once(app, people):
    """Two saves with the same staged file at the same instant: the second finds it taken and is refused."""
    held = services.HeldFiles()
    services.stage_files(people.sakai, held, [file_storage(PDF, "企画書.pdf")])
    stale = services.HeldFiles(kept=list(held.kept))
    services.create_post(people.sakai, post_input(title="一つ目"), held=held)
    with pytest.raises(services.PostError) as refused, db.session.begin_nested():
        services.create_post(people.sakai, post_input(title="二つ目"), held=stale)
    assert refused.value.field == "attachments"
    assert [len(p.attachments) for p in db.session.scalars(select(Post).order_by(Post.id))] == [1]


def test_staged_files_expire_after_a_day(app, people):
    held = services.HeldFiles()
    services.stage_files(people.sakai, held, [file_storage(PDF, "古い.pdf"), file_storage(PDF, "新しい.pdf")])
    old, new = held.kept
    old.created_at = utcnow() - timedelta(hours=25)
    old_file, new_file = uploads.path_of(old.stored_name), uploads.path_of(new.stored_name)
    db.session.commit()
    assert services.held_files(people.sakai, [old.token, new.token]).kept == [new]  # an expired token is ignored

    result = app.test_cli_runner().invoke(args=["expire"])
    assert result.exit_code == 0, result.output
    assert "and 1 unsaved file(s)" in result.output
    assert staged_rows() == [new]
    assert not old_file.exists() and new_file.exists()


def test_a_file_removed_twice_at_once_is_removed_once(app, people):
    """A double click on a preview with 削除 ticked, then a save with the same form: nothing fails, one file goes."""
    held = services.HeldFiles()
    services.stage_files(people.sakai, held, [file_storage(PDF, "企画書.pdf")])
    [row] = held.kept
    stored = uploads.path_of(row.stored_name)
    db.session.commit()
    services.stage_files(people.sakai, services.HeldFiles(removed=[row]), [])
    services.stage_files(people.sakai, services.HeldFiles(removed=[row]), [])
    services.create_post(people.sakai, post_input(title=TITLE), held=services.HeldFiles(removed=[row]))
    db.session.commit()
    assert staged_rows() == [] and not stored.exists()
    post = post_titled(TITLE)
    assert post is not None and post.attachments == []
