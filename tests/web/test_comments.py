"""Comments on cases and tasks: the form on the case page, @mentions that notify, edit and delete
within the window (audited), files, and the API under /api/v1/instances/<id>/comments."""
from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from sqlalchemy import select

import engine
from caseflow import accounts, clock, comments, store

REGISTRATION = {
    "channel": "phone", "customer_name": "Huaxin Electronics", "customer_code": "C-0815",
    "product_no": "PN-4711", "ship_date": "2026-02-20", "ship_qty": 1000, "found_stage": "incoming",
    "description": "20 units do not power on at incoming inspection.", "complaint_type": "quality",
    "functional_defect_qty": 20, "cosmetic_defect_qty": 0, "lot_size": 1000,
}


@pytest.fixture
def case(database, deployed, app, frozen_clock) -> int:
    """A complaint waiting at its first task; quality has an e-mail address (mails at once)."""
    with database.session() as s:
        view = engine.start(s, "complaint", REGISTRATION, actor="service")
        quality = s.scalars(select(store.User).where(store.User.username == "quality")).one()
        quality.email, quality.locale = "qa@factory.example", "en"
        return int(view["id"])


def rows(database, model, **where):
    with database.session() as s:
        stmt = select(model)
        for key, value in where.items():
            stmt = stmt.where(getattr(model, key) == value)
        return list(s.scalars(stmt.order_by(model.id)))


def mentions_of(database, username: str) -> list[store.Notification]:
    return rows(database, store.Notification, kind="comment_mention", username=username)


def test_a_comment_with_a_mention_is_in_the_history_and_notifies_in_app_and_by_mail(browser, database, case):
    service = browser("service")
    response = service.post(f"/cases/{case}/comments", {"text": "@quality please check lot 7, thanks."})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/cases/{case}#comments")
    [comment] = rows(database, store.Comment)
    assert (comment.author, comment.body, comment.mentions) == ("service", "@quality please check lot 7, thanks.",
                                                                 ["quality"])
    # One in-app row (delivered by being written) and one e-mail at once, in the same transaction.
    assert {(n.channel, n.recipient, n.status) for n in mentions_of(database, "quality")} == {
        ("in_app", "quality", "sent"), ("email", "qa@factory.example", "pending")}
    [added] = [e for e in engine_audit(database, case) if e["kind"] == "comment_added"]
    assert added["actor"] == "service" and added["payload"]["mentions"] == ["quality"]

    page = service.get(f"/cases/{case}").get_data(as_text=True)
    history = page[page.index('data-testid="timeline"'):]
    assert "please check lot 7" in history
    # Newest first: the comment comes before the case's start.
    assert history.index("please check lot 7") < history.index("Case started")

    quality = browser("quality")
    assert 'data-testid="nav-unread">' in quality.get("/").get_data(as_text=True)
    inbox = quality.get("/notifications").get_data(as_text=True)
    assert "Service mentioned you on CP-" in inbox


def engine_audit(database, instance_id: int) -> list[dict]:
    with database.session() as s:
        return [dict(e) for e in engine.audit_log(s, instance_id)]


def test_the_mention_rule(database, case):
    with database.session() as s:
        accounts.create_user(s, "li.wang", "a-long-password-1", ["quality"])
        gone = accounts.create_user(s, "gone", "a-long-password-1", ["quality"])
        gone.active = False
        s.flush()
        text = "(@li.wang) and @quality, not gone@quality.example nor @gone nor @nobody; again @quality."
        assert comments.resolve_mentions(s, text) == ["li.wang", "quality"]
        assert comments.resolve_mentions(s, "@quality，请看") == ["quality"]  # CJK punctuation ends a name
        assert comments.resolve_mentions(s, "mail me: quality@x") == []
        assert comments.resolve_mentions(s, "@quality2 and @li.wangx") == []  # never inside a Latin name
        accounts.create_user(s, "张三", "a-long-password-1", ["quality"])
        assert comments.resolve_mentions(s, "@张三请看 @li.wang.") == ["张三", "li.wang"]


def test_own_mentions_notify_no_one_and_bad_text_is_refused(browser, database, case):
    quality = browser("quality")
    quality.post(f"/cases/{case}/comments", {"text": "note to @quality self"})
    assert rows(database, store.Comment)[0].mentions == ["quality"] and mentions_of(database, "quality") == []
    for text, message in (("   ", "Write a comment."), ("x" * 10_001, "at most 10000 characters"),
                          ("bell \x07", "control character")):
        response = quality.post(f"/cases/{case}/comments", {"text": text}, follow_redirects=True)
        assert message in response.get_data(as_text=True)
    assert len(rows(database, store.Comment)) == 1
    assert browser("service").post("/cases/999999/comments", {"text": "hello"}).status_code == 404


def test_edit_and_delete_are_the_authors_within_the_window_and_audited(browser, database, case):
    service = browser("service")
    service.post(f"/cases/{case}/comments", {"text": "first text"})
    [comment] = rows(database, store.Comment)
    other = browser("quality")
    response = other.post(f"/comments/{comment.id}/edit", {"text": "hijacked"}, follow_redirects=True)
    assert "Only its author may change a comment." in response.get_data(as_text=True)

    clock.advance(dt.timedelta(minutes=14))
    service.post(f"/comments/{comment.id}/edit", {"text": "second text @quality"})
    [changed] = rows(database, store.Comment)
    assert changed.body == "second text @quality" and changed.edited_at is not None
    assert len(mentions_of(database, "quality")) == 2  # the edit's new mention is notified (in-app + mail)
    [edited] = [e for e in engine_audit(database, case) if e["kind"] == "comment_edited"]
    assert edited["payload"]["old_text"] == "first text" and edited["payload"]["text"] == "second text @quality"

    clock.advance(dt.timedelta(minutes=2))  # 16 minutes after writing: too late
    response = service.post(f"/comments/{comment.id}/delete", follow_redirects=True)
    assert "only within 15 minutes" in response.get_data(as_text=True)
    assert rows(database, store.Comment)[0].deleted_at is None


def test_a_deleted_comment_keeps_its_place_and_its_old_text_in_the_audit(browser, database, case):
    service = browser("service")
    service.post(f"/cases/{case}/comments", {"text": "wrong case, sorry"})
    [comment] = rows(database, store.Comment)
    service.post(f"/comments/{comment.id}/delete")
    [gone] = rows(database, store.Comment)
    assert gone.body == "" and gone.deleted_at is not None
    [deleted] = [e for e in engine_audit(database, case) if e["kind"] == "comment_deleted"]
    assert deleted["payload"]["old_text"] == "wrong case, sorry"
    page = service.get(f"/cases/{case}").get_data(as_text=True)
    assert "Comment deleted" in page and "wrong case, sorry" not in page and "Deleted a comment" in page
    response = service.post(f"/comments/{comment.id}/edit", {"text": "again"}, follow_redirects=True)
    assert "This comment was deleted." in response.get_data(as_text=True)


def test_the_edit_window_is_a_setting(browser, database, case, monkeypatch):
    monkeypatch.setenv("CASEFLOW_COMMENT_EDIT_MINUTES", "1")
    service = browser("service")
    service.post(f"/cases/{case}/comments", {"text": "quick"})
    [comment] = rows(database, store.Comment)
    clock.advance(dt.timedelta(minutes=2))
    response = service.post(f"/comments/{comment.id}/edit", {"text": "late"}, follow_redirects=True)
    assert "only within 1 minutes" in response.get_data(as_text=True)


def test_files_attach_to_a_comment_within_the_upload_limit(browser, database, case):
    service = browser("service")
    service.page_token(f"/cases/{case}")
    data = {"text": "photo attached", "files": [(io.BytesIO(b"jpeg bytes"), "lot7.jpg")]}
    assert service.post(f"/cases/{case}/comments", data, content_type="multipart/form-data").status_code == 302
    [comment] = rows(database, store.Comment)
    [file] = rows(database, store.Attachment)
    assert comment.attachment_ids == [file.id] and file.instance_id == case and file.uploaded_by == "service"
    page = service.get(f"/cases/{case}").get_data(as_text=True)
    assert f'href="/attachments/{file.id}">lot7.jpg<' in page
    assert "10 B · Service" in page and "0.0 KB" not in page  # a small file's size in bytes, its uploader by name

    big = {"text": "too big", "files": [(io.BytesIO(b"x" * 4096), "big.bin")]}  # the tests' limit is 2 KiB
    response = service.post(f"/cases/{case}/comments", big, content_type="multipart/form-data",
                            follow_redirects=True)
    assert "larger than" in response.get_data(as_text=True)
    assert len(rows(database, store.Comment)) == 1 and len(rows(database, store.Attachment)) == 1


def test_a_comment_on_a_task_shows_on_the_task_page(browser, database, case, task_id):
    service = browser("quality")
    with database.session() as s:
        [task] = engine.list_tasks(s, instance_id=case)
    assert task["role"] == "quality"
    page = service.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert 'data-testid="task-comments"' in page
    response = service.post(f"/cases/{case}/comments", {"text": "asked the customer", "task_id": task["id"],
                                                        "next": f"/tasks/{task['id']}"})
    assert response.headers["Location"].endswith(f"/tasks/{task['id']}#comments")
    page = service.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert "asked the customer" in page[page.index('data-testid="task-comments"'):]
    case_page = browser("manager", "zh").get(f"/cases/{case}").get_data(as_text=True)
    timeline = case_page[case_page.index('data-testid="timeline"'):]
    assert "判断投诉成立并确认等级" in timeline  # the task in Chinese
    response = service.post(f"/cases/{case}/comments", {"text": "x", "task_id": "not-a-task"}, follow_redirects=True)
    assert "That task is not a task of this case." in response.get_data(as_text=True)


# --- the API ------------------------------------------------------------------------------------------------


@pytest.fixture
def api(app, database, case):
    with database.session() as s:
        tokens = {name: accounts.create_token(s, name, "tests")[1] for name in ("service", "quality")}
    client = app.test_client()

    def call(method: str, path: str, who: str = "service", **kw):
        return client.open(path, method=method, headers={"Authorization": f"Bearer {tokens[who]}"}, **kw)

    return call


def test_the_api_lists_creates_edits_and_deletes_comments(api, database, case):
    base = f"/api/v1/instances/{case}/comments"
    created = api("POST", base, json={"text": "@quality look at this"})
    assert created.status_code == 201
    body = created.get_json()
    assert body["mentions"] == ["quality"] and body["editable"] is True and body["author"] == "service"
    assert len(mentions_of(database, "quality")) == 2
    listed = api("GET", base, who="quality").get_json()
    assert [c["text"] for c in listed["items"]] == ["@quality look at this"] and not listed["items"][0]["editable"]

    assert api("PATCH", f"{base}/{body['id']}", who="quality", json={"text": "x"}).status_code == 403
    edited = api("PATCH", f"{base}/{body['id']}", json={"text": "look at this"})
    assert edited.status_code == 200 and edited.get_json()["edited_at"]
    clock.advance(dt.timedelta(minutes=20))
    late = api("DELETE", f"{base}/{body['id']}")
    assert late.status_code == 403 and late.get_json()["error"]["code"] == "forbidden"


def test_the_api_refuses_bad_comments_with_field_messages(api, case):
    base = f"/api/v1/instances/{case}/comments"
    assert api("POST", base, json={"text": ""}).get_json()["error"]["fields"]["text"]
    too_long = api("POST", base, json={"text": "y" * 10_001})
    assert too_long.status_code == 422 and "text" in too_long.get_json()["error"]["fields"]
    blank = api("POST", base, json={"text": "   "})
    assert blank.status_code == 422 and blank.get_json()["error"]["fields"] == {"text": "write a comment"}
    assert api("POST", base, json={"text": "ok", "task_id": "nope"}).get_json()["error"]["fields"] == {
        "task_id": "not a task of this case"}
    assert api("POST", "/api/v1/instances/999999/comments", json={"text": "hi"}).status_code == 404
    assert api("DELETE", f"{base}/424242").status_code == 404
    # Ids beyond any database id: 404 for every method of the path (werkzeug alone would say 405).
    assert api("POST", "/api/v1/instances/156002540983/comments", json={"text": "hi"}).status_code == 404
    assert api("DELETE", f"{base}/99999999999").status_code == 404
    assert api("POST", base, data="text", content_type="text/plain").status_code == 415


def test_the_comment_operations_are_in_the_openapi_document(app):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    ops = spec["paths"]["/api/v1/instances/{instance_id}/comments"]
    assert {"get", "post"} <= set(ops)
    assert {"patch", "delete"} <= set(spec["paths"]["/api/v1/instances/{instance_id}/comments/{comment_id}"])
    assert "post" in spec["paths"]["/api/v1/tasks/{task_id}/delegate"]


def test_comments_are_translated(browser, database, case):
    zh = browser("service", language="zh")
    response = zh.post(f"/cases/{case}/comments", {"text": " "}, follow_redirects=True)
    assert re.search("请填写评论", response.get_data(as_text=True))
