"""The workflow state stored one task per row: an action writes only the tasks it changed, the
rows rebuild the whole serialization exactly, and no process ever serves a stale live workflow."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from SpiffWorkflow.task import Task, TaskState
from sqlalchemy import event, select

import engine
from caseflow import store
from caseflow._engine import adapters, rows, specs, task_state, workflows
from caseflow.store_state import join_state, split_state

ROOT = Path(__file__).resolve().parents[2]
LOOP = ROOT / "bench" / "long_loop"  # one user task in a loop: each round adds tasks, drops predicted ones
ACTOR = engine.Actor.tool("tester")

SUBPROCESS_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs_sub"
    targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="with_sub" name="With a sub-process" isExecutable="true">
    <bpmn:laneSet id="LaneSet_sub">
      <bpmn:lane id="Lane_sub_quality" name="Quality">
        <bpmn:flowNodeRef>s_start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>s_sub</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>s_after</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>s_end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="s_start" />
    <bpmn:subProcess id="s_sub" name="Inner">
      <bpmn:startEvent id="i_start" />
      <bpmn:userTask id="i_task" name="Inner task" />
      <bpmn:scriptTask id="i_script" name="Count"><bpmn:script>inner = 1</bpmn:script></bpmn:scriptTask>
      <bpmn:endEvent id="i_end" />
      <bpmn:sequenceFlow id="i_f1" sourceRef="i_start" targetRef="i_task" />
      <bpmn:sequenceFlow id="i_f2" sourceRef="i_task" targetRef="i_script" />
      <bpmn:sequenceFlow id="i_f3" sourceRef="i_script" targetRef="i_end" />
    </bpmn:subProcess>
    <bpmn:userTask id="s_after" name="After" />
    <bpmn:endEvent id="s_end" />
    <bpmn:sequenceFlow id="s_f1" sourceRef="s_start" targetRef="s_sub" />
    <bpmn:sequenceFlow id="s_f2" sourceRef="s_sub" targetRef="s_after" />
    <bpmn:sequenceFlow id="s_f3" sourceRef="s_after" targetRef="s_end" />
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture
def loop_db(any_database: store.Database) -> store.Database:
    with any_database.session() as s:
        engine.deploy(s, [LOOP], actor="admin")
    return any_database


def _rows(db: store.Database, case_id: int) -> dict[str, str]:
    with db.session() as s:
        return dict(s.execute(select(store.WorkflowTask.id, store.WorkflowTask.body)
                              .where(store.WorkflowTask.instance_id == case_id)).all())


def _whole(db: store.Database, case_id: int) -> dict:
    """The whole serialization of a freshly deserialized workflow (no cached live object)."""
    workflows.WORKFLOWS.clear()
    with db.session() as s:
        case = rows.load_case(s, case_id)
        wf = workflows.restore(s, case, specs.SPECS.get(s, case.definition))
        return json.loads(adapters.serialize(wf))


def _tasks_of(whole: dict) -> dict[str, dict]:
    subs = whole.get("subprocesses", {}).values()
    return {**whole["tasks"], **{k: v for sub in subs for k, v in sub["tasks"].items()}}


def _complete(db: store.Database, view: dict, data: dict | None = None) -> dict:
    with db.session() as s:
        return engine.complete(s, view["tasks"][0]["id"], data or {"done": False}, actor=ACTOR)


def test_the_rows_rebuild_the_whole_serialization_and_an_action_writes_only_what_changed(loop_db):
    with loop_db.session() as s:
        view = engine.start(s, "long_loop", {}, actor="tester")
    case_id = view["id"]
    written: list[int] = []
    for round_ in range(40):
        before = _rows(loop_db, case_id)
        view = _complete(loop_db, view)
        after = _rows(loop_db, case_id)
        with loop_db.session() as s:
            stored = json.loads(rows.load_state(s, rows.load_case(s, case_id)))
        whole = _whole(loop_db, case_id)  # a fresh deserialization serializes to what the rows hold
        assert stored == whole
        tasks = _tasks_of(whole)
        assert set(after) == set(tasks)  # dropped tasks are deleted, new ones inserted
        assert {k: json.loads(v) for k, v in after.items()} == tasks
        changed = {k for k in after.keys() | before.keys() if after.get(k) != before.get(k)}
        written.append(len(changed))
        if round_ % 10 == 9:
            view = _complete(loop_db, view)  # once more after a cache miss: the rows were re-bound
    assert len(_rows(loop_db, case_id)) > 80
    assert max(written) <= 12 and max(written[-5:]) == max(written[:5])  # flat in the length of the case


def test_a_settled_tasks_data_changed_by_hand_is_written(loop_db):
    with loop_db.session() as s:
        view = engine.start(s, "long_loop", {}, actor="tester")
        view = engine.complete(s, view["tasks"][0]["id"], {"done": True}, actor=ACTOR)
    assert view["status"] == "completed"
    with loop_db.session() as s:
        engine.update_data(s, view["id"], {"note": "fixed"}, actor="admin", reason="typo")
    whole = _whole(loop_db, view["id"])
    assert any(t["delta"].get("updates", {}).get("note") == "fixed" or t["data"].get("note") == "fixed"
               for t in _tasks_of(whole).values())
    assert {k: json.loads(v) for k, v in _rows(loop_db, view["id"]).items()} == _tasks_of(whole)


def test_sub_process_tasks_are_rows_of_their_sub_process(any_database, tmp_path):
    (tmp_path / "with_sub.bpmn").write_text(SUBPROCESS_BPMN)
    with any_database.session() as s:
        engine.deploy(s, [tmp_path], actor="admin")
        view = engine.start(s, "with_sub", {}, actor="tester")
    case_id = view["id"]
    whole = _whole(any_database, case_id)
    assert whole["subprocesses"] and all(sub["tasks"] for sub in whole["subprocesses"].values())
    with any_database.session() as s:
        found = s.execute(select(store.WorkflowTask.workflow, sa.func.count()).where(
            store.WorkflowTask.instance_id == case_id).group_by(store.WorkflowTask.workflow)).all()
    assert {w for w, _n in found} == {"", *whole["subprocesses"]}
    view = _complete(any_database, view, {})  # the inner task: the sub-process finishes
    assert view["tasks"][0]["name"] == "s_after"
    whole = _whole(any_database, case_id)
    assert {k: json.loads(v) for k, v in _rows(any_database, case_id).items()} == _tasks_of(whole)
    view = _complete(any_database, view, {})
    assert view["status"] == "completed"
    assert {k: json.loads(v) for k, v in _rows(any_database, case_id).items()} == _tasks_of(
        _whole(any_database, case_id))


def test_another_process_write_is_never_missed_by_the_cached_workflow(loop_db, monkeypatch):
    other = store.Database(loop_db.url)  # a second handle on the same database: "another process"
    try:
        with loop_db.session() as s:
            view = engine.start(s, "long_loop", {}, actor="tester")
        view = _complete(loop_db, view)  # this process now holds the live workflow in its cache
        mine = workflows.WORKFLOWS
        monkeypatch.setattr(workflows, "WORKFLOWS", workflows.WorkflowCache())  # the other process's cache
        view = _complete(other, view, {"done": False})
        view = _complete(other, view, {"done": False})
        monkeypatch.setattr(workflows, "WORKFLOWS", mine)
        with loop_db.session() as s:  # the cached workflow is two saves behind: it must not be used
            case = rows.load_case(s, view["id"])
            assert mine.take(case.id, case.row_version) is None
        view = _complete(loop_db, view)
        assert {k: json.loads(v) for k, v in _rows(loop_db, view["id"]).items()} == _tasks_of(
            _whole(loop_db, view["id"]))
        with loop_db.session() as s:
            done = s.scalar(select(sa.func.count()).select_from(store.AuditEvent).where(
                store.AuditEvent.instance_id == view["id"], store.AuditEvent.kind == "task_completed"))
        assert done == 4
    finally:
        other.dispose()


def test_a_rolled_back_save_leaves_the_rows_and_is_not_served_from_the_cache(loop_db):
    with loop_db.session() as s:
        view = engine.start(s, "long_loop", {}, actor="tester")
    view = _complete(loop_db, view)
    before = _rows(loop_db, view["id"])
    with pytest.raises(RuntimeError, match="rolled back"), loop_db.session() as s:
        engine.complete(s, view["tasks"][0]["id"], {"done": False}, actor=ACTOR)
        raise RuntimeError("rolled back")
    assert _rows(loop_db, view["id"]) == before
    view = _complete(loop_db, view)  # the same task again: the rolled-back save never happened
    assert {k: json.loads(v) for k, v in _rows(loop_db, view["id"]).items()} == _tasks_of(_whole(loop_db, view["id"]))


def test_a_save_writes_a_few_rows_however_long_the_case(loop_db):
    with loop_db.session() as s:
        view = engine.start(s, "long_loop", {}, actor="tester")
    for _ in range(60):
        view = _complete(loop_db, view)
    params: list[int] = []

    def record(_conn, _cursor, statement, parameters, _context, executemany) -> None:
        if "workflow_task" in statement:
            params.append(len(parameters) if executemany else 1)

    event.listen(loop_db.engine, "before_cursor_execute", record)
    try:
        _complete(loop_db, view)
    finally:
        event.remove(loop_db.engine, "before_cursor_execute", record)
    assert 0 < sum(params) <= 12 and len(params) <= 3  # insert, update, delete: a handful of rows


def _started_and_restored(db, process: str, data: dict):
    """A new case of ``process``, its workflow restored from the database (the cache cleared), and the
    stored state the engine keeps beside it."""
    with db.session() as s:
        view = engine.start(s, process, data, actor="tester")
        case = rows.load_case(s, view["id"])
        loaded = specs.SPECS.get(s, case.definition)
        workflows.WORKFLOWS.clear()
        wf = workflows.restore(s, case, loaded)
    stored = workflows.stored_of(wf)
    assert stored is not None
    return view, wf, stored


def test_changes_are_exact_against_the_serializer(loop_db):
    """Every task whose serialized dict differs is written; none that is equal."""
    _view, wf, stored = _started_and_restored(loop_db, "long_loop", {})
    for _ in range(5):
        old = _tasks_of(task_state.stored_state(stored))
        task = wf.get_tasks(state=16, manual=True)[0]  # READY
        task.data.update({"done": False})
        task.run()
        wf.do_engine_steps()
        changes = task_state.state_changes(wf, stored)
        new = _tasks_of(json.loads(adapters.serialize(wf)))
        differ = {k for k in old.keys() & new.keys() if old[k] != new[k]}
        assert {r["id"] for r in changes.update} == differ
        assert {r["id"] for r in changes.insert} == new.keys() - old.keys()
        assert set(changes.delete) == old.keys() - new.keys()
        task_state.check_stored(wf, changes.stored)


def test_split_and_join_are_inverse():
    whole = {"tasks": {"a": {"x": 1}, "b": {"y": [2]}}, "root": "a", "subprocesses": {
        "b": {"tasks": {"c": {"z": None}}, "root": "c"}}, "serializer_version": "1.5"}
    skeleton, tasks = split_state(json.loads(json.dumps(whole)))
    assert skeleton["tasks"] == {} and skeleton["subprocesses"]["b"]["tasks"] == {}
    assert [(w, t) for w, t, _ in tasks] == [("", "a"), ("", "b"), ("b", "c")]
    assert join_state(skeleton, [(w, t, json.dumps(body)) for w, t, body in tasks]) == whole


def _alembic(db: store.Database, conn: sa.Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(store.MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    cfg.attributes["connection"] = conn
    return cfg


def test_the_migration_moves_stored_states_into_task_rows_and_back(loop_db):
    with loop_db.session() as s:
        ids = [engine.start(s, "long_loop", {}, actor="tester")["id"] for _ in range(3)]
    view = None
    for _ in range(3):
        with loop_db.session() as s:
            view = engine.complete(s, engine.list_tasks(s, instance_id=ids[0])[0]["id"], {"done": False}, actor=ACTOR)
    assert view is not None
    expected = {i: _whole(loop_db, i) for i in ids}
    with loop_db.engine.connect() as conn, conn.begin():
        command.downgrade(_alembic(loop_db, conn), "0007")
    with loop_db.engine.connect() as conn:  # the whole state is back in the instance row
        old = {i: json.loads(conn.execute(sa.text("SELECT state FROM process_instance WHERE id = :i"), {"i": i})
                             .scalar_one()) for i in ids}
        assert not sa.inspect(conn).has_table("workflow_task")
    assert {i: _tasks_of(o) for i, o in old.items()} == {i: _tasks_of(e) for i, e in expected.items()}
    with loop_db.engine.connect() as conn, conn.begin():
        command.upgrade(_alembic(loop_db, conn), "heads")
    for i in ids:
        assert {k: json.loads(v) for k, v in _rows(loop_db, i).items()} == _tasks_of(expected[i])
        assert _whole(loop_db, i) == expected[i]
    with loop_db.session() as s:  # the cases go on from the backfilled rows
        engine.complete(s, engine.list_tasks(s, instance_id=ids[0])[0]["id"], {"done": True}, actor=ACTOR)
    assert {k: json.loads(v) for k, v in _rows(loop_db, ids[0]).items()} == _tasks_of(_whole(loop_db, ids[0]))


def test_rows_of_another_serializer_version_are_rewritten_whole(loop_db, monkeypatch):
    with loop_db.session() as s:
        view = engine.start(s, "long_loop", {}, actor="tester")
    view = _complete(loop_db, view)
    with loop_db.session() as s:  # pretend an older serializer wrote it (the format is the same here)
        state = json.loads(s.execute(select(store.ProcessInstance.state).where(
            store.ProcessInstance.id == view["id"])).scalar_one())
        state[adapters.SERIALIZER.VERSION_KEY] = "1.4"
        s.execute(sa.update(store.ProcessInstance).where(store.ProcessInstance.id == view["id"])
                  .values(state=json.dumps(state)))
    workflows.WORKFLOWS.clear()
    migrated: list[str] = []  # SpiffWorkflow's own migrations need the spec in the dict: record the call only
    monkeypatch.setattr(adapters.SERIALIZER, "migrate",
                        lambda dct: migrated.append(dct.pop(adapters.SERIALIZER.VERSION_KEY)))
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(loop_db.engine, "before_cursor_execute", record)
    try:
        view = _complete(loop_db, view)
    finally:
        event.remove(loop_db.engine, "before_cursor_execute", record)
    assert migrated == ["1.4"]
    deleted_all = [st for st in statements if st.startswith("DELETE FROM workflow_task") and " IN " not in st]
    assert len(deleted_all) == 1  # rewritten whole, in the current version
    whole = _whole(loop_db, view["id"])
    assert {k: json.loads(v) for k, v in _rows(loop_db, view["id"]).items()} == _tasks_of(whole)
    with loop_db.session() as s:
        assert json.loads(s.execute(select(store.ProcessInstance.state).where(
            store.ProcessInstance.id == view["id"])).scalar_one())[adapters.SERIALIZER.VERSION_KEY] == \
            adapters.SERIALIZER_VERSION


def test_blank_predicted_tasks_are_not_serialized_again(db, monkeypatch):
    """A task not reached yet, without data under a parent without data, is compared by its fingerprint:
    a save converts it again only when its state, children or parent's data moved."""
    _view, wf, stored = _started_and_restored(db, "two_tasks", {"ref": "R-1"})
    tasks = [t for w in (wf, *wf.subprocesses.values()) for t in w.tasks.values()]
    blank_before = {t.id: t.state for t in tasks if task_state._blank(t)}
    assert len(blank_before) >= 5  # the gateway's branches and the end joins

    task = wf.get_tasks(state=16, manual=True)[0]  # READY: enter
    task.data.update({"amount": 5})
    task.run()
    wf.do_engine_steps()
    converted: list = []
    convert = adapters.SERIALIZER.registry.convert

    def counting(obj):
        if isinstance(obj, Task):
            converted.append(obj.id)
        return convert(obj)

    monkeypatch.setattr(adapters.SERIALIZER.registry, "convert", counting)
    changes = task_state.state_changes(wf, stored)
    monkeypatch.undo()
    still_blank = {t.id for t in tasks if t.id in wf.tasks and task_state._blank(t)
                   and blank_before.get(t.id) == t.state and t is not wf.last_task}
    assert still_blank and not still_blank & set(converted)
    unsettled = {t.id for t in wf.tasks.values() if not t.state & (TaskState.COMPLETED | TaskState.CANCELLED)}
    assert unsettled - still_blank <= set(converted)  # the ready task and what hangs under its data
    task_state.check_stored(wf, changes.stored)  # and the rows are still exact


def test_a_save_looks_only_at_the_tasks_that_can_have_changed(loop_db, monkeypatch):
    """In a long case a save looks at the few tasks at its front, not at its history; the rows stay exact."""
    with loop_db.session() as s:
        view = engine.start(s, "long_loop", {}, actor="tester")
    for _ in range(100):
        view = _complete(loop_db, view)
    looked: list = []
    every: list = []
    visit, look_at_every = task_state._Rewrite.visit, task_state._every

    def counting(self, key, task):
        looked.append(task.id)
        return visit(self, key, task)

    monkeypatch.setattr(task_state._Rewrite, "visit", counting)
    monkeypatch.setattr(task_state, "_every", lambda *args: every.append(1) or look_at_every(*args))
    view = _complete(loop_db, view)
    wf = workflows.WORKFLOWS._items[view["id"]][1]
    assert not every and 0 < len(looked) <= 20 and len(wf.tasks) > 200
    monkeypatch.undo()
    assert {k: json.loads(v) for k, v in _rows(loop_db, view["id"]).items()} == _tasks_of(_whole(loop_db, view["id"]))


def test_a_clock_set_back_or_a_settled_task_gone_makes_a_save_look_at_every_task(loop_db, monkeypatch):
    _view, wf, stored = _started_and_restored(loop_db, "long_loop", {})
    every: list = []
    look_at_every = task_state._every
    monkeypatch.setattr(task_state, "_every", lambda *args: every.append(1) or look_at_every(*args))

    def save_a_round() -> task_state.Changes:
        task = wf.get_tasks(state=16, manual=True)[0]  # READY
        task.data.update({"done": False})
        task.run()
        wf.do_engine_steps()
        changes = task_state.state_changes(wf, stored)
        task_state.check_stored(wf, changes.stored)
        return changes

    save_a_round()
    assert every == [1]  # the first save after a restore
    save_a_round()
    assert every == [1]  # then the front only
    stored.since = time.time() + 3600  # as if the clock was set back an hour since the last save
    save_a_round()
    assert every == [1, 1]
    victim = next(t for t in reversed(list(wf.tasks.values()))
                  if t.state == TaskState.COMPLETED and t.parent is not None and t is not wf.last_task)
    wf._remove_task(victim.id)  # a settled task gone: not among the tasks open at the last save
    changes = task_state.state_changes(wf, stored)
    task_state.check_stored(wf, changes.stored)
    assert every == [1, 1, 1] and str(victim.id) in changes.delete
