"""The case data snapshot replays each task's own writes; tasks that have not run delete nothing."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.task import TaskState

from caseflow._engine.sync import replay_writes


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
