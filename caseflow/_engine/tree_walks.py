"""The workflow class of every case: SpiffWorkflow's, with the task-tree walks it can skip skipped.

SpiffWorkflow finds the tasks to run by walking the whole task tree depth first: twice per round
of engine steps (for ready tasks) and once after every task that finishes (for waiting ones). A
case's tree keeps every task it ever ran, so in a long case (a loop of many rounds) each action
costs as much as the case's history. Most of those walks find one ready task, or no waiting task
at all, and the task mapping answers them without the walk: :class:`CaseWorkflow` does that and
leaves every other walk (two or more matches, whose order is the walk's; sub-processes; a tree
deep enough to reach the walk's depth limit) to the library, so the result is always the walk's.

:data:`VERIFY` (on in the test suite) checks every shortcut against the library's own walk (and
the save's data replayed from the last save against a whole replay, :func:`sync.snapshot`).
"""
from __future__ import annotations

import inspect
import os
from collections import Counter
from operator import attrgetter, countOf
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskIterator, TaskState

#: How deep SpiffWorkflow's task walk looks (no tree of fewer tasks can be deeper).
WALK_DEPTH: int = inspect.signature(TaskIterator.__init__).parameters["max_depth"].default

_STATE = attrgetter("_state")

#: Check every shortcut against what it stands for (the test suite turns it on).
VERIFY: bool = os.environ.get("CASEFLOW_VERIFY_SHORTCUTS", "") not in ("", "0")


class CaseWorkflow(BpmnWorkflow):
    """A ``BpmnWorkflow`` whose state-only task queries skip the tree walk when the answer is known.

    It serializes as ``BpmnWorkflow`` (see :mod:`adapters`): the stored format does not change.
    """

    def get_tasks(self, first_task: Any = None, **kwargs: Any) -> list:
        if first_task is None and len(kwargs) == 1 and "state" in kwargs:
            known = known_matches(self, kwargs["state"])
            if known is not None:
                if VERIFY:
                    _check(known, super().get_tasks(**kwargs), kwargs["state"])
                return known
        return super().get_tasks(first_task, **kwargs)

    def update_waiting_tasks(self) -> None:
        # The library walks this workflow's own tree (not its sub-processes') for waiting tasks and
        # updates each; with none in the mapping there is nothing to find.
        if TaskState.WAITING not in map(_STATE, self.tasks.values()):
            if VERIFY:
                _check([], list(TaskIterator(self.task_tree, state=TaskState.WAITING)), TaskState.WAITING)
            return
        super().update_waiting_tasks()


def known_matches(wf: BpmnWorkflow, state: int) -> list | None:
    """What ``wf.get_tasks(state=state)`` returns, when the task mapping tells it; None otherwise.

    The walk starts at the root and yields, in depth-first order, every task in ``state`` that it
    reaches: down to its depth limit, and below a task only when that task's state is at least
    ``FUTURE`` (for definite states). Without sub-processes (which the walk enters) and with fewer
    tasks than the depth limit, no match and one match are known. The one task is reached: every
    task of the mapping is in the tree, and SpiffWorkflow never puts a reached (definite or
    finished) task below a predicted one (``Task._add_child`` refuses it). Predicted states, whose
    walk descends through everything, are left to the walk.
    """
    if wf.subprocesses or state & TaskState.PREDICTED_MASK or not state & TaskState.DEFINITE_MASK:
        return None
    tasks = wf.tasks
    if len(tasks) > WALK_DEPTH:
        return None
    if state & (state - 1) == 0:  # one state: counted in C without a table
        matching = countOf(map(_STATE, tasks.values()), state)
    else:
        matching = sum(n for task_state, n in Counter(map(_STATE, tasks.values())).items() if task_state & state)
    if matching != 1:
        return [] if matching == 0 else None  # two or more: their order is the walk's
    for task in reversed(tasks.values()):  # newest first: a ready task is mostly among the last made
        if task._state & state:
            return [task]
    raise AssertionError("unreachable: one task matched")


def _check(known: list, walked: list, state: int) -> None:
    if known != walked:
        raise AssertionError(f"tree-walk shortcut for state {state}: {known} != the walk's {walked}")
