"""The Core write path: version tokens, the returned view, and no stale ORM copies in a session."""
from __future__ import annotations

import engine
from caseflow import store
from caseflow._engine import rows as case_rows


def _start(db: store.Database) -> dict:
    with db.session() as s:
        return engine.start(s, "two_tasks", {"ref": "R-1"}, actor="alice")


def test_a_save_with_a_stale_version_token_changes_nothing(db):
    view = _start(db)
    with db.session() as s:
        first = case_rows.load_case(s, view["id"])
        second = case_rows.load_case(s, view["id"])
        first.status = "waiting"
        assert case_rows.save_case(s, first)
        second.status = "error"
        assert not case_rows.save_case(s, second)
        assert second.row_version != first.row_version
    with db.session() as s:
        assert case_rows.load_case(s, view["id"]).status == "waiting"


def test_the_view_returned_by_a_write_equals_a_fresh_read(db):
    view = _start(db)
    with db.session() as s:
        assert engine.show(s, view["id"], audit=False) == view
        written = engine.complete(s, view["tasks"][0]["id"], {"amount": 5}, actor=engine.Actor.tool("alice"))
    with db.session() as s:
        assert engine.show(s, view["id"], audit=False) == written
    assert written["tasks"][0]["name"] == "approve" and written["data"]["amount"] == 5


def test_orm_copies_held_by_the_session_see_the_engine_write(db):
    view = _start(db)
    task_id = view["tasks"][0]["id"]
    with db.session() as s:
        instance = s.get(store.ProcessInstance, view["id"])  # a page loaded it before acting
        task = s.get(store.HumanTask, task_id)
        assert instance.data.get("amount") is None and task.state == "ready"
        engine.complete(s, task_id, {"amount": 5}, actor=engine.Actor.tool("alice"))
        assert s.get(store.ProcessInstance, view["id"]).data["amount"] == 5
        assert s.get(store.HumanTask, task_id).state == "completed"


def test_a_claimed_task_released_in_the_same_session_reads_back_free(db):
    task_id = _start(db)["tasks"][0]["id"]
    with db.session() as s:
        engine.claim(s, task_id, actor=engine.Actor.tool("carol"))
        assert s.get(store.HumanTask, task_id).assignee == "carol"
        assert engine.unclaim(s, task_id, actor=engine.Actor.tool("carol"))["assignee"] is None
        assert s.get(store.HumanTask, task_id).assignee is None
