"""Acceptance 2: migrating running instances to another version of their process.

100 instances waiting at a user task on v1 move in one action to a v2 that adds a task
after it, and all of them continue through the new task; an unsafe migration (v3 removes
the task they wait on) is refused with the reason and changes nothing.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import undefer

import engine
from caseflow import store
from caseflow._engine import sync, workflows

DATA = Path(__file__).resolve().parents[1] / "api" / "data"


def _deploy(session, folder: str) -> int:
    return engine.deploy(session, [DATA / folder], actor="admin")[0].definition_id


def _start_many(database, n: int) -> list[int]:
    with database.session() as s:
        return [engine.start(s, "svc_demo", {"ref": f"CP-{i:04d}", "customer_name": "ACME"}, actor="alice")["id"]
                for i in range(n)]


def _snapshot(session, ids: list[int]) -> dict:
    """Everything a migration could touch, to prove a refused one changed nothing."""
    instances = {i.id: (i.definition_id, i.state, i.row_version, i.status, tuple(i.ready_tasks or []),
                        repr(i.timers), repr(i.data))
                 for i in session.scalars(select(store.ProcessInstance).where(store.ProcessInstance.id.in_(ids))
                                          .options(undefer(store.ProcessInstance.state)))}
    tasks = sorted((t.id, t.instance_id, t.name, t.state, t.role, t.title) for t in session.scalars(
        select(store.HumanTask).where(store.HumanTask.instance_id.in_(ids))))
    audit = session.scalar(select(func.count()).select_from(store.AuditEvent))
    return {"instances": instances, "tasks": tasks, "audit": audit}


def test_hundred_instances_move_in_one_action_and_continue(database, frozen_clock):
    with database.session() as s:
        v1 = _deploy(s, "v1")
    ids = _start_many(database, 100)
    with database.session() as s:
        v2 = _deploy(s, "v2")
        before = {t.instance_id: (t.id, t.due_at) for t in s.scalars(select(store.HumanTask))}
        report = engine.migrate(s, ids, v2, actor="root")
    assert (report["requested"], report["migrated"], report["refused"]) == (100, 100, 0)
    assert all(e["migrated"] and e["from_version"] == 1 and e["to_version"] == 2 for e in report["instances"])

    with database.session() as s:
        rows = list(s.scalars(select(store.ProcessInstance).where(store.ProcessInstance.id.in_(ids))))
        assert {r.definition_id for r in rows} == {v2} and {r.status for r in rows} == {"running"}
        # The ready review tasks kept their ids (and deadlines): inboxes and links stay valid.
        after = {t.instance_id: (t.id, t.due_at) for t in s.scalars(
            select(store.HumanTask).where(store.HumanTask.state == "ready"))}
        assert after == before
        # One audited action: one "migration" event, one "migrated" event per instance.
        (summary,) = s.scalars(select(store.AuditEvent).where(store.AuditEvent.kind == "migration")).all()
        assert summary.actor == "root" and sorted(summary.payload["migrated"]) == sorted(ids)
        per_instance = s.scalars(select(store.AuditEvent).where(store.AuditEvent.kind == "migrated")).all()
        assert len(per_instance) == 100
        assert {(e.payload["from_version"], e.payload["to_version"], e.payload["migration"])
                for e in per_instance} == {(1, 2, summary.payload["migration"])}

    # Every migrated instance continues through the new approval task (on v2's flow).
    for instance_id in ids:
        with database.session() as s:
            (review,) = engine.list_tasks(s, instance_id=instance_id)
            view = engine.complete(s, review["id"], {"valid": True}, actor=engine.Actor.person("quality", {"quality"}))
            (approve,) = view["tasks"]
            assert (approve["name"], approve["role"], view["version"]) == ("approve", "manager", 2)
            view = engine.complete(s, approve["id"], {"approved": True}, actor=engine.Actor.person("boss", {"manager"}))
            assert view["status"] == "completed"
            assert view["data"]["valid"] is True and view["data"]["approved"] is True
    with database.session() as s:
        assert engine.list_versions(s, "svc_demo")[1]["running_instances"] == 0  # v1
        assert engine.list_versions(s, "svc_demo")[0]["instances"]["completed"] == 100  # v2
        assert v1 != v2


def test_unsafe_migration_is_refused_with_the_reason_and_changes_nothing(database, frozen_clock):
    with database.session() as s:
        _deploy(s, "v1")
    ids = _start_many(database, 5)
    with database.session() as s:
        _deploy(s, "v2")
        v3 = _deploy(s, "v3_unsafe")
        workflows.WORKFLOWS.clear()
    with database.session() as s:
        before = _snapshot(s, ids)
        plan = engine.migration_plan(s, ids, v3)
        assert plan["can_migrate"] == 0 and plan["dry_run"]
        report = engine.migrate(s, ids, v3, actor="root")
    assert (report["migrated"], report["refused"]) == (0, 5)
    for entry in report["instances"]:
        assert not entry["can_migrate"] and not entry["migrated"]
        (reason,) = entry["reasons"]
        assert "'Review complaint' (review)" in reason and "version 3" in reason
        assert entry["tasks"] == [{"task": "review", "title": "Review complaint", "state": "ready"}]
    with database.session() as s:
        assert _snapshot(s, ids) == before
        # ... and they still run on v1 as before.
        (task,) = engine.list_tasks(s, instance_id=ids[0])
        assert engine.complete(s, task["id"], {"valid": True}, actor=engine.Actor.tool("q"))["status"] == "completed"


def test_dry_run_reports_without_changing_anything(database, frozen_clock):
    with database.session() as s:
        _deploy(s, "v1")
    ids = _start_many(database, 3)
    with database.session() as s:
        v2 = _deploy(s, "v2")
        engine.cancel(s, ids[2], actor="admin")
    with database.session() as s:
        before = _snapshot(s, ids)
        report = engine.migrate(s, ids + [424242], v2, actor="root", dry_run=True)
        assert report["dry_run"] and report["migrated"] == 0 and report["can_migrate"] == 2
        by_id = {e["instance_id"]: e for e in report["instances"]}
        assert by_id[ids[0]]["can_migrate"] and by_id[ids[0]]["reasons"] == []
        assert any("review.schema.json" in n for n in by_id[ids[0]]["notes"])  # its form changed
        assert by_id[ids[2]]["reasons"] == ["the instance is cancelled"]
        assert by_id[424242]["reasons"] == ["no instance 424242"]
    with database.session() as s:
        assert _snapshot(s, ids) == before
        # The live workflow cache was left valid: the instance runs on as usual.
        (task,) = engine.list_tasks(s, instance_id=ids[0])
        assert engine.complete(s, task["id"], {"valid": True}, actor=engine.Actor.tool("q"))["status"] == "completed"


def test_each_instance_moves_completely_or_not_at_all(database, frozen_clock, monkeypatch):
    with database.session() as s:
        _deploy(s, "v1")
    ids = _start_many(database, 3)
    with database.session() as s:
        v2 = _deploy(s, "v2")
    real_sync = sync.save

    def failing_sync(session, instance, *args, **kwargs):
        if instance.id == ids[1]:
            raise engine.Conflict("simulated concurrent change")
        return real_sync(session, instance, *args, **kwargs)

    monkeypatch.setattr(sync, "save", failing_sync)
    with database.session() as s:
        report = engine.migrate(s, ids, v2, actor="root")
    monkeypatch.undo()
    by_id = {e["instance_id"]: e for e in report["instances"]}
    assert by_id[ids[0]]["migrated"] and by_id[ids[2]]["migrated"]
    assert not by_id[ids[1]]["migrated"] and "simulated concurrent change" in by_id[ids[1]]["reasons"][0]
    with database.session() as s:
        versions = {i.id: i.definition.version for i in s.scalars(select(store.ProcessInstance))}
        assert versions == {ids[0]: 2, ids[1]: 1, ids[2]: 2}
        assert s.scalar(select(func.count()).select_from(store.AuditEvent).where(
            store.AuditEvent.kind == "migrated", store.AuditEvent.instance_id == ids[1])) == 0
        for instance_id, last in ((ids[1], "completed"), (ids[0], "running")):
            (task,) = engine.list_tasks(s, instance_id=instance_id)
            assert engine.complete(s, task["id"], {"valid": True}, actor=engine.Actor.tool("q"))["status"] == last


def test_timers_keep_their_due_time_across_a_migration(database, frozen_clock):
    with database.session() as s:
        _deploy(s, "timer_v1")
        view = engine.start(s, "timer_demo", {}, actor="alice")
    (timer,) = view["timers"]
    frozen_clock.advance(dt.timedelta(hours=5))
    with database.session() as s:
        v2 = _deploy(s, "timer_v2")
        report = engine.migrate(s, [view["id"]], v2, actor="root")
        assert report["migrated"] == 1
        assert {t["task"] for t in report["instances"][0]["tasks"]} == {"t_review", "t_overdue"}
    with database.session() as s:
        moved = engine.show(s, view["id"])
        assert moved["timers"] == [timer]  # not restarted: still 24 h after the start
        assert [r.due_at for r in s.scalars(select(store.Timer))] == [dt.datetime.fromisoformat(timer["due_at"])]
    frozen_clock.advance(dt.timedelta(hours=19, minutes=1))
    with database.session() as s:
        assert engine.fire_due_timers(s) == 1
        names = sorted(t["name"] for t in engine.show(s, view["id"])["tasks"])
        assert names == ["t_remind", "t_review"]
        review = next(t for t in engine.list_tasks(s, instance_id=view["id"]) if t["name"] == "t_review")
        after = engine.complete(s, review["id"], {}, actor=engine.Actor.tool("q"))
        assert sorted(t["name"] for t in after["tasks"]) == ["t_approve", "t_remind"]  # v2's new task


def test_a_failed_instance_moves_to_a_corrected_version_and_retries(database, frozen_clock):
    with database.session() as s:
        _deploy(s, "v0_broken")
        view = engine.start(s, "svc_demo", {"ref": "CP-1", "customer_name": "ACME"}, actor="alice")
    assert view["status"] == "error" and view["error"]["task"] == "deadline"
    with database.session() as s:
        fixed = _deploy(s, "v1")
        report = engine.migrate(s, [view["id"]], fixed, actor="root")
        (entry,) = report["instances"]
        assert entry["migrated"] and any("a retry runs it as changed" in n for n in entry["notes"])
        assert engine.show(s, view["id"])["status"] == "error"  # moved as it was
        after = engine.retry(s, view["id"], actor="root")
    assert after["status"] == "running" and after["version"] == 2
    assert [t["name"] for t in after["tasks"]] == ["review"] and after["data"]["review_by"]


def test_candidates_and_wrong_targets(session, frozen_clock):
    _deploy(session, "v1")
    a = engine.start(session, "svc_demo", {"ref": "A", "customer_name": "x"}, actor="alice")["id"]
    v2 = _deploy(session, "v2")
    b = engine.start(session, "svc_demo", {"ref": "B", "customer_name": "x"}, actor="alice")["id"]
    assert engine.migration_candidates(session, key="svc_demo") == [a, b]
    assert engine.migration_candidates(session, key="svc_demo", version=1) == [a]
    assert engine.migration_candidates(session, key="svc_demo", exclude_definition_id=v2) == [a]
    timer_def = _deploy(session, "timer_v1")
    plan = engine.migration_plan(session, [a, b], timer_def)
    assert [e["reasons"] for e in plan["instances"]] == [
        ["the instance belongs to process 'svc_demo', the target version to 'timer_demo'"]] * 2
    assert engine.migration_plan(session, [b], v2)["instances"][0]["reasons"] == [
        "the instance already runs on version 2"]
    with pytest.raises(engine.NotFound):
        engine.migrate(session, [a], 999, actor="root")


def test_instances_inside_call_activities_move_and_finish(database, conformance, tmp_path):
    """The conformance file Approvals.bpmn (call activities, parallel sub-process, lanes)."""
    import re

    source = (conformance / "Approvals.bpmn").read_text(encoding="utf-8")
    (tmp_path / "a1").mkdir()
    (tmp_path / "a1" / "Approvals.bpmn").write_text(source, encoding="utf-8")
    renamed = re.sub(r'(<model:(?:userTask|manualTask)\b[^>]*name=")([^"]*)"', r'\1\2 (v2)"', source)
    assert renamed != source
    (tmp_path / "a2").mkdir()
    (tmp_path / "a2" / "Approvals.bpmn").write_text(renamed, encoding="utf-8")
    ids = []
    with database.session() as s:
        engine.deploy(s, [tmp_path / "a1"], actor="admin")
        for steps in range(9):  # one instance at each of the nine human tasks
            view = engine.start(s, "Approvals", {}, actor="t")
            for _ in range(steps):
                view = engine.complete(s, view["tasks"][0]["id"], {}, actor=engine.Actor.tool("t"))
            ids.append(view["id"])
    with database.session() as s:
        target = next(r for r in engine.deploy(s, [tmp_path / "a2"], actor="admin") if r.key == "Approvals")
        report = engine.migrate(s, ids, target.definition_id, actor="root")
    assert report["migrated"] == 9, [e["reasons"] for e in report["instances"]]
    assert all(any("title changed (applied)" in n for n in e["notes"]) for e in report["instances"])
    with database.session() as s:
        titles = {t["title"] for t in engine.list_tasks(s)}
        assert titles and all(t.endswith("(v2)") for t in titles)
        for instance_id, remaining in zip(ids, range(9, 0, -1), strict=True):
            view = engine.show(s, instance_id)
            for _ in range(remaining):
                view = engine.complete(s, view["tasks"][0]["id"], {}, actor=engine.Actor.tool("t"))
            assert view["status"] == "completed" and view["version"] == 2
