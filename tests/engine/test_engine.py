"""Engine behaviour on SQLite and on a real PostgreSQL server."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import undefer

import engine
from caseflow import store
from caseflow._engine import adapters, specs, workflows
from caseflow._engine import rows as case_rows

DATA = Path(__file__).parent / "data"


def _start(db: store.Database, ref: str = "R-1") -> dict:
    with db.session() as s:
        return engine.start(s, "two_tasks", {"ref": ref}, actor="alice")


def test_run_to_completion_with_roles_business_key_and_audit(db):
    view = _start(db)
    assert view["status"] == "running" and view["business_key"] == "R-1"
    [task] = view["tasks"]
    assert (task["name"], task["role"]) == ("enter", "customer_service")
    with db.session() as s:
        view = engine.complete(s, task["id"], {"amount": 21}, actor=engine.Actor.tool("alice"))
    [task] = view["tasks"]
    assert (task["name"], task["role"]) == ("approve", "manager")  # lane "Manager" normalised
    assert view["data"]["score"] == 42
    with db.session() as s:
        view = engine.complete(s, task["id"], {}, actor=engine.Actor.tool("bob"))
        history = engine.show(s, view["id"])["audit"]
    assert view["status"] == "completed" and view["tasks"] == []
    assert [(e["kind"], e["actor"]) for e in history] == [
        ("started", "alice"), ("task_completed", "alice"), ("task_completed", "bob"), ("completed", "bob")]
    assert history[1]["payload"]["data"] == {"amount": 21}


def test_start_form_and_task_form_are_validated_and_nothing_changes(db):
    with db.session() as s, pytest.raises(engine.InvalidData) as err:
        engine.start(s, "two_tasks", {}, actor="alice")
    assert err.value.fields == {"ref": "this field is required"}
    with db.session() as s:
        assert store.count(s, select(store.ProcessInstance)) == 0
    view = _start(db)
    task_id = view["tasks"][0]["id"]
    with db.session() as s, pytest.raises(engine.InvalidData) as err:
        engine.complete(s, task_id, {"amount": "many"}, actor=engine.Actor.tool("alice"))
    assert "amount" in err.value.fields
    with db.session() as s:
        again = engine.show(s, view["id"])
    assert again["tasks"][0]["id"] == task_id and "amount" not in again["data"]
    assert [e["kind"] for e in again["audit"]] == ["started"]


def test_completing_a_finished_task_is_a_conflict(db):
    view = _start(db)
    task_id = view["tasks"][0]["id"]
    with db.session() as s:
        engine.complete(s, task_id, {"amount": 1}, actor=engine.Actor.tool("alice"))
    with db.session() as s, pytest.raises(engine.Conflict):
        engine.complete(s, task_id, {"amount": 2}, actor=engine.Actor.tool("alice"))


def test_roles_are_enforced_when_the_caller_asks(db):
    view = _start(db)
    task_id = view["tasks"][0]["id"]
    with db.session() as s, pytest.raises(engine.Forbidden):
        engine.complete(s, task_id, {"amount": 1}, actor=engine.Actor.person("mallory", {"manager"}))
    with db.session() as s:
        engine.claim(s, task_id, actor=engine.Actor.person("carol", {"customer_service"}))
    with db.session() as s, pytest.raises(engine.Conflict, match="is claimed by carol"):  # as claiming it would be
        engine.complete(s, task_id, {"amount": 1}, actor=engine.Actor.person("dave", {"customer_service"}))
    with db.session() as s:
        assert engine.list_tasks(s, assignee="carol")[0]["id"] == task_id
        engine.complete(s, task_id, {"amount": 1}, actor=engine.Actor.person("carol", {"customer_service"}))


def test_state_is_stored_without_the_spec_and_round_trips(db):
    view = _start(db)
    with db.session() as s:
        engine.complete(s, view["tasks"][0]["id"], {"amount": 3}, actor=engine.Actor.tool("alice"))
        # state is deferred with raiseload (pages never load it): this test asks for it
        instance = s.get(store.ProcessInstance, view["id"], options=[undefer(store.ProcessInstance.state)])
        state = json.loads(instance.state)
        assert "spec" not in state and "subprocess_specs" not in state
        assert instance.serializer_version == adapters.SERIALIZER_VERSION
        workflows.WORKFLOWS.clear()  # force a real deserialization
        loaded = specs.SPECS.get(s, instance.definition)
        wf = workflows.restore(s, case_rows.load_case(s, instance.id), loaded)
        stored = case_rows.load_state(s, case_rows.load_case(s, instance.id))
        assert json.loads(adapters.serialize(wf)) == json.loads(stored)
        assert wf.last_task.data["score"] == 6


def test_each_instance_stays_on_its_version(db, tmp_path):
    first = _start(db)
    bundle = tmp_path / "v2"
    bundle.mkdir()
    for f in DATA.iterdir():
        if f.is_file():
            (bundle / f.name).write_text(f.read_text().replace("score = amount * 2", "score = amount * 3"))
    with db.session() as s:
        [result] = engine.deploy(s, [bundle], actor="admin")
    assert (result.version, result.status) == (2, "deployed")
    second = _start(db, "R-2")
    assert (first["version"], second["version"]) == (1, 2)
    with db.session() as s:
        a = engine.complete(s, first["tasks"][0]["id"], {"amount": 5}, actor=engine.Actor.tool("x"))
        b = engine.complete(s, second["tasks"][0]["id"], {"amount": 5}, actor=engine.Actor.tool("x"))
    assert (a["data"]["score"], b["data"]["score"]) == (10, 15)


def test_sandbox_blocks_imports_and_dunder_escapes_with_a_clear_error(db, tmp_path):
    bundle = tmp_path / "evil"
    bundle.mkdir()
    for f in DATA.iterdir():
        if f.is_file():
            (bundle / f.name).write_text(
                f.read_text().replace("score = amount * 2", "score = __import__('os').getcwd()"))
    with db.session() as s, pytest.raises(engine.DeployRejected) as refused:
        engine.deploy(s, [bundle], actor="admin")  # the sandbox refuses it before it is stored
    (problem,) = refused.value.problems
    assert problem.element == "score" and "__import__" in problem.message


def test_failed_instance_is_kept_and_can_be_retried_after_the_fix(db):
    view = _start(db)
    with db.session() as s:
        engine.complete(s, view["tasks"][0]["id"], {"amount": 5}, actor=engine.Actor.tool("x"))
    # break the data so the gateway condition raises, then repair it and retry
    with db.session() as s:
        engine.update_data(s, view["id"], {"score": "text"}, actor="admin")
        approve = engine.list_tasks(s, instance_id=view["id"])[0]
        broken = engine.complete(s, approve["id"], {}, actor=engine.Actor.tool("x"))
    assert broken["status"] == "error" and broken["error"]["task"] == "route"
    with db.session() as s:
        engine.update_data(s, view["id"], {"score": 4}, actor="admin")
        fixed = engine.retry(s, view["id"], actor="admin")
        kinds = [e["kind"] for e in engine.audit_log(s, view["id"])]
    assert fixed["status"] == "completed"
    assert "error" in kinds and "retried" in kinds


def test_cancel_removes_tasks(db):
    view = _start(db)
    with db.session() as s:
        view = engine.cancel(s, view["id"], actor="admin", reason="duplicate")
    assert view["status"] == "cancelled" and view["tasks"] == []
    with db.session() as s, pytest.raises(engine.InstanceError):
        engine.cancel(s, view["id"], actor="admin")


def test_inbox_reads_tables_only(db, monkeypatch):
    for i in range(3):
        _start(db, f"R-{i}")
    monkeypatch.setattr(workflows, "restore", lambda *a, **k: pytest.fail("the inbox deserialized a workflow"))
    with db.session() as s:
        tasks = engine.list_tasks(s, role="customer_service")
        assert len(tasks) == 3
        engine.show(s, tasks[0]["instance_id"])


def test_sequence_numbers_are_distinct(db):
    with db.session() as s:
        numbers = [store.next_number(s, "complaint", 2026) for _ in range(3)]
        other_year = store.next_number(s, "complaint", 2027)
    assert numbers == [1, 2, 3] and other_year == 1
    with db.session() as s:
        assert store.next_number(s, "complaint", 2026) == 4
        assert s.scalar(select(func.count()).select_from(store.Sequence)) == 2
