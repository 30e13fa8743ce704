"""The case data snapshot replays each task's own writes; tasks that have not run delete nothing; a save
goes on from the last save's replay only when that gives the whole replay's data."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from SpiffWorkflow.task import TaskState

import engine
from caseflow._engine import specs, sync, tree_walks, workflows
from caseflow._engine.sync import replay_writes

_ACTOR = engine.Actor.tool("tester")


@dataclass
class FakeTask:
    data: dict
    state: int
    last_state_change: float
    parent: Any = field(default=None)


def test_a_waiting_join_without_data_deletes_nothing():
    root = FakeTask({"customer_name": "Beta"}, TaskState.COMPLETED, 1.0)
    watch = FakeTask({"customer_name": "Beta", "containment_by": "x"}, TaskState.COMPLETED, 2.0, root)
    join = FakeTask({}, TaskState.WAITING, 3.0, watch)  # e.g. the end join of an event subprocess
    assert replay_writes([root, watch, join]) == {"customer_name": "Beta", "containment_by": "x"}


def test_a_completed_task_that_dropped_a_key_deletes_it():
    root = FakeTask({"a": 1, "tmp": 2}, TaskState.COMPLETED, 1.0)
    script = FakeTask({"a": 1}, TaskState.COMPLETED, 2.0, root)  # a script ran `del tmp`
    assert replay_writes([root, script]) == {"a": 1}


# --- the replay from the last save ------------------------------------------------------------------

_LOOP = Path(__file__).resolve().parents[2] / "bench" / "long_loop"


def _cached_workflow(case_id: int) -> Any:
    entry = workflows.WORKFLOWS._items.get(case_id)
    assert entry is not None, "the case's workflow is kept for its next action"
    return entry[1]


def test_a_save_replays_only_what_changed_after_the_last_one_and_gets_the_whole_replays_data(database):
    with database.session() as s:
        engine.deploy(s, [_LOOP], actor="admin")
        view = engine.start(s, "long_loop", {"ref": "R-1"}, actor="tester")
    seen = []
    for i in range(12):
        with database.session() as s:
            view = engine.complete(s, view["tasks"][0]["id"], {"done": False, f"k{i % 3}": i}, actor=_ACTOR)
        wf = _cached_workflow(view["id"])
        kept = sync._REPLAYED[wf]
        assert kept.upto == max(t.last_state_change for t in wf.tasks.values())
        seen.append(kept.completed)
        loaded = next(iter(specs.SPECS._specs.values()))
        whole = sync._collect(wf.tasks.values(), loaded, wf, False, None)
        assert whole is not None and view["data"] == whole.data
    assert seen == sorted(seen) and seen[-1] > seen[0]  # each save went on from the last
    assert view["data"] == {"ref": "R-1", "done": False, "k0": 9, "k1": 10, "k2": 11}


def test_a_finished_tasks_data_written_by_hand_is_replayed_whole(database, monkeypatch):
    monkeypatch.setattr(tree_walks, "VERIFY", False)  # the check would catch the mistake below itself
    with database.session() as s:
        engine.deploy(s, [_LOOP], actor="admin")
        view = engine.start(s, "long_loop", {}, actor="tester")
        view = engine.complete(s, view["tasks"][0]["id"], {"done": False}, actor=_ACTOR)
    wf = _cached_workflow(view["id"])
    finished = wf.last_task  # the gateway that led to the ready task
    assert finished.state == TaskState.COMPLETED
    finished.data["note"] = "by hand"  # no state change: a replay from the last save cannot see it
    loaded = next(iter(specs.SPECS._specs.values()))
    assert "note" not in sync.snapshot(wf, loaded).data
    sync.replay_whole(wf)
    assert sync.snapshot(wf, loaded).data["note"] == "by hand"
    with database.session() as s:  # the engine's own hand edit (a data correction) does the same
        view = engine.update_data(s, view["id"], {"fixed": 1}, actor="admin", reason="typo")
    assert view["data"]["fixed"] == 1


def test_an_unfinished_task_with_writes_of_its_own_makes_the_next_save_replay_whole(database):
    with database.session() as s:
        engine.deploy(s, [_LOOP], actor="admin")
        view = engine.start(s, "long_loop", {}, actor="tester")
        view = engine.update_data(s, view["id"], {"draft": "x"}, actor="admin")  # onto the ready task
    wf = _cached_workflow(view["id"])
    assert wf not in sync._REPLAYED
    with database.session() as s:
        view = engine.complete(s, view["tasks"][0]["id"], {"done": False}, actor=_ACTOR)
    assert view["data"]["draft"] == "x"
    assert wf in sync._REPLAYED


def test_a_save_of_a_long_case_looks_at_its_front_only(database, monkeypatch):
    """The snapshot taken on from the last save reads the tasks changed since and the open ones, not
    the case's history; the suite's check (tree_walks.VERIFY) sets each against a whole snapshot."""
    with database.session() as s:
        engine.deploy(s, [_LOOP], actor="admin")
        view = engine.start(s, "long_loop", {}, actor="tester")
    for i in range(40):
        with database.session() as s:
            view = engine.complete(s, view["tasks"][0]["id"], {"done": False, "round": i}, actor=_ACTOR)
    looked: list[int] = []
    since = sync._since

    def counting(parts: list, kept: Any) -> tuple[list, int]:
        found = since(parts, kept)
        looked.append(len(found[0]))
        return found

    monkeypatch.setattr(sync, "_since", counting)
    with database.session() as s:
        view = engine.complete(s, view["tasks"][0]["id"], {"done": False, "round": 40}, actor=_ACTOR)
    wf = _cached_workflow(view["id"])
    assert looked and max(looked) <= 12 and len(wf.tasks) > 80
    assert view["data"]["round"] == 40 and [t["name"] for t in view["tasks"]] == [view["tasks"][0]["name"]]
    assert sync._REPLAYED[wf].completed == sum(t.state == TaskState.COMPLETED for t in wf.tasks.values())


def test_entries_added_to_a_mapping_on_two_paths_are_both_kept():
    """Two escalations, each on its own parallel branch, each adding its entry to ``escalations``."""
    root = FakeTask({"escalations": {"react_by:manager": {"level": "manager"}}}, TaskState.COMPLETED, 1.0)
    left = FakeTask({"escalations": {"react_by:manager": {"level": "manager"},
                                     "react_by:general_manager": {"level": "general_manager"}}},
                    TaskState.COMPLETED, 2.0, root)
    right = FakeTask({"escalations": {"react_by:manager": {"level": "manager"},
                                      "containment_by:manager": {"level": "manager"}}}, TaskState.COMPLETED, 3.0, root)
    merged = replay_writes([root, left, right])
    assert set(merged["escalations"]) == {"react_by:manager", "react_by:general_manager", "containment_by:manager"}
    assert set(root.data["escalations"]) == {"react_by:manager"}  # the tasks' own data is not changed


def test_a_mapping_written_again_on_one_path_replaces_the_old_entries():
    """A check that sends a task back with new problems: the old ones go (the entry-wise replay of one path)."""
    root = FakeTask({"record_problems": {"tested_qty": "too many"}}, TaskState.COMPLETED, 1.0)
    again = FakeTask({"record_problems": {"defective_qty": "more than tested"}}, TaskState.COMPLETED, 2.0, root)
    assert replay_writes([root, again]) == {"record_problems": {"defective_qty": "more than tested"}}
