"""A workflow's state as task rows: what a save writes, so that an action writes only what it changed.

The rows are SpiffWorkflow's own serialization split up (see :mod:`caseflow.store_state`):
the instance-level part, from SpiffWorkflow's workflow converters with empty ``tasks``, and
each task's dict from its task converter, written with the serializer's JSON encoder. Joined
back, they equal :func:`adapters.serialize` exactly (:func:`check_stored`). The rows are
written by :mod:`state_rows`.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import chain, compress
from operator import attrgetter
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.task import Task, TaskState

from caseflow._engine.adapters import SERIALIZER, SERIALIZER_VERSION, serialize
from caseflow._engine.state_rows import Changes, Stored, StoredTask
from caseflow.store_state import TOP, join_state

_SETTLED = TaskState.COMPLETED | TaskState.CANCELLED
_UNREACHED = TaskState.FUTURE | TaskState.LIKELY | TaskState.MAYBE  # predicted, not reached yet
_CHANGED_AT = attrgetter("last_state_change")
_ENCODE = SERIALIZER._encoder_cls(separators=(",", ":")).encode  # the serializer's own JSON encoder


@contextmanager
def _encoding() -> Iterator[None]:
    """The registry's encoder mode, as ``serialize_json`` uses it (values are converted as they are written)."""
    registry = SERIALIZER.registry
    registry._encoder_mode = True
    try:
        yield
    finally:
        registry._encoder_mode = False


def _parts(wf: BpmnWorkflow) -> list[tuple[str, Any]]:
    """The workflow and its sub-processes, each with its ``workflow`` key in the task rows."""
    return [(TOP, wf), *((str(sp_id), sub) for sp_id, sub in wf.subprocesses.items())]


def _skeleton(wf: BpmnWorkflow) -> str:
    """The instance-level part of the serialization: SpiffWorkflow's own dicts with empty ``tasks``."""
    parts = [w for _key, w in _parts(wf)]
    saved = [w.tasks for w in parts]
    try:
        for w in parts:
            w.tasks = {}
        dct = SERIALIZER.to_dict(wf)
    finally:
        for w, tasks in zip(parts, saved, strict=True):
            w.tasks = tasks
    dct[SERIALIZER.VERSION_KEY] = SERIALIZER_VERSION
    return _ENCODE(dct)


def _blank(task: Task) -> bool:
    """Whether ``task`` is a predicted task (not reached yet) without data under a parent without data.

    Such a task's dict holds no data and an empty delta, so it changes only with its fingerprint.
    """
    if not task._state & _UNREACHED or task.data or task.internal_data:
        return False
    parent = task.parent
    return parent is None or not parent.data


def _mark(task: Task) -> tuple | None:
    """The fingerprint of a settled (completed or cancelled) or blank (:func:`_blank`) task; None for any other.

    A settled task's dict changes only with these fields: its data is no longer written to
    (the case's last task and the children of rewritten tasks are compared whole anyway).
    """
    if not (task._state & _SETTLED or _blank(task)):
        return None
    return task.last_state_change, task._state, task.task_spec.name, task.triggered, list(task._children)


def bind(wf: BpmnWorkflow, stored: Stored) -> Stored | None:
    """Bind ``stored`` (as read, keyed by task id) to the workflow just deserialized from it.

    Returns it, or None when the rows are not the workflow's tasks one for one (then the next
    save writes them whole).
    """
    by_id = stored.tasks
    bound: dict[Any, StoredTask] = {}
    for _key, w in _parts(wf):
        for task_id, task in w.tasks.items():
            row = by_id.get(str(task_id))
            if row is None:
                return None
            row.mark, row.task = _mark(task), task
            bound[id(task)] = row
    if len(bound) != len(by_id):
        return None
    stored.tasks = bound
    return stored


def state_changes(wf: BpmnWorkflow, previous: Stored | None) -> Changes:
    """The rows a save of ``wf`` writes, against ``previous`` (its bound stored form; None: write it whole).

    A task is serialized again when it is new, neither settled nor blank (:func:`_blank`), its
    fingerprint moved, it is the case's last task, or (settled) its parent was serialized again (a
    task's dict holds its data as a delta against its parent's); of those, only the ones whose JSON
    differs are written. Tasks gone from the tree are deleted. ``previous`` is updated in place
    and returned as ``stored``.

    Only the tasks that can have changed are looked at when that is known (:func:`_recent`): in a
    long case, the few at its front rather than its whole history.
    """
    convert = SERIALIZER.registry.convert
    started = time.time()  # every state change from here on is stamped this late or later
    with _encoding():
        skeleton = _skeleton(wf)
        parts = _parts(wf)
        if previous is None:
            stored = Stored(skeleton, since=started)
            rows: list[dict] = []
            for key, w in parts:
                for task_id, task in w.tasks.items():
                    new = StoredTask(str(task_id), stored.next_seq, key, _ENCODE(convert(task)), _mark(task), task)
                    stored.tasks[id(task)] = new
                    rows.append(dict(id=new.id, workflow=key, seq=new.seq, body=new.body))
                    stored.next_seq += 1
                    if not task._state & _SETTLED:
                        stored.open.append((key, task))
            return Changes(skeleton, rows, [], [], True, stored)
        rewrite = _Rewrite(previous, wf.last_task, convert)
        found = None
        if previous.since is not None and started >= previous.since:  # (a clock set back: look at all)
            found = _recent(parts, previous, rewrite)
        still_open, gone = found if found is not None else _every(parts, previous, rewrite)
    changed = skeleton if skeleton != previous.skeleton else None
    previous.skeleton, previous.since, previous.open = skeleton, started, still_open
    return Changes(changed, rewrite.inserted, rewrite.updated, gone, False, previous)


class _Rewrite:
    """One save's rewritten rows: each task looked at is serialized again unless it cannot have changed."""

    def __init__(self, previous: Stored, last: Task | None, convert: Any) -> None:
        self.previous, self.known, self.last, self.convert = previous, previous.tasks, last, convert
        self.inserted: list[dict] = []
        self.updated: list[dict] = []
        self.again: set[int] = set()  # UUID.int of the tasks serialized again (ints hash fast)

    def visit(self, key: str, task: Task) -> bool:
        """Serialize ``task`` (of workflow ``key``) again unless unchanged; whether it was."""
        if task.id.int in self.again:
            return True
        row = self.known.get(id(task))
        mark = row.mark if row is not None else None
        if mark is not None and task.last_state_change == mark[0] and task._state == mark[1] \
                and task._children == mark[4] and task.triggered == mark[3] \
                and task.task_spec.name == mark[2] and task is not self.last:
            if task._state & _SETTLED:
                parent = task._parent
                if parent is None or parent.int not in self.again:
                    return False  # settled and unchanged (the same fields as _mark, without building it)
            elif _blank(task):
                return False  # still blank: its dict cannot differ whatever its parent's did
        self.again.add(task.id.int)
        body = _ENCODE(self.convert(task))
        if row is None:
            previous = self.previous
            row = StoredTask(str(task.id), previous.next_seq, key, body, _mark(task), task)
            self.known[id(task)] = row
            self.inserted.append(dict(id=row.id, workflow=key, seq=row.seq, body=body))
            previous.next_seq += 1
            return True
        row.mark = _mark(task)
        if body != row.body:
            row.body = body
            self.updated.append(dict(id=row.id, workflow=key, seq=row.seq, body=body))
        return True


def _every(parts: list[tuple[str, Any]], previous: Stored, rewrite: _Rewrite) -> tuple[list, list[str]]:
    """Look at every task (parents before children, as the mapping holds them); the tasks not
    settled, and the ids of the rows whose task is gone."""
    still_open: list[tuple[str, Any]] = []
    count = 0
    for key, w in parts:
        count += len(w.tasks)
        for task in w.tasks.values():
            rewrite.visit(key, task)
            if not task._state & _SETTLED:
                still_open.append((key, task))
    known = previous.tasks
    gone: list[str] = []
    if count != len(known):
        current = set(map(id, chain.from_iterable(w.tasks.values() for _key, w in parts)))
        gone = sorted(known.pop(key).id for key in known.keys() - current)
    return still_open, gone


def _recent(parts: list[tuple[str, Any]], previous: Stored, rewrite: _Rewrite) -> tuple[list, list[str]] | None:
    """Look only at the tasks that can have changed since ``previous.since``: the tasks not settled and
    the ids of the rows whose task is gone, or None when that is not known (then :func:`_every`
    looks at them all).

    A task's dict changes with its state (which stamps ``last_state_change``), with its data (only
    while it is not settled, or as the case's last task), with its children (new ones are stamped
    when made; removed ones are found among those not settled at the last save, and a settled one
    gone, told by the count, means a look at all) or with its parent's data (its parent is then
    serialized again, and its children looked at). So the tasks looked at are: those stamped since,
    the parents of the new and the removed ones, those not settled at the last save, the last task,
    and the settled children of any task serialized again.
    """
    known, since = previous.tasks, previous.since
    assert since is not None
    mappings = dict(parts)
    queue: list[tuple[str, Any]] = []
    total = new = 0
    for key, w in parts:
        values = w.tasks.values()
        total += len(values)
        for task in compress(values, map(since.__le__, map(_CHANGED_AT, values))):
            queue.append((key, task))
            if id(task) not in known:
                new += 1
                parent = w.tasks.get(task._parent)
                if parent is not None:
                    queue.append((key, parent))
    removed: list[tuple[str, Any]] = []
    kept: list[tuple[str, Any]] = []
    for key, task in previous.open:
        w = mappings.get(key)
        (kept if w is not None and w.tasks.get(task.id) is task else removed).append((key, task))
    if total != len(known) + new - len(removed):
        return None  # a settled task went away, or a new one is stamped before the last save
    for key, task in removed:  # the parent's children changed (and it may have been removed too)
        w = mappings.get(key)
        parent = w.tasks.get(task._parent) if w is not None else None
        if parent is not None:
            queue.append((key, parent))
    last = rewrite.last
    if last is not None and id(last) in known:
        queue.append((known[id(last)].workflow, last))
    queue += kept
    for key, task in queue:  # grows while it is read: the settled children of tasks serialized again
        if rewrite.visit(key, task):
            tasks = mappings[key].tasks
            for child_id in task._children:
                child = tasks.get(child_id)
                if child is not None and child._state & _SETTLED and child.id.int not in rewrite.again:
                    queue.append((key, child))
    still_open = {id(task): (key, task) for key, task in queue if not task._state & _SETTLED}
    return list(still_open.values()), sorted(known.pop(id(task)).id for _key, task in removed)


def stored_state(stored: Stored) -> dict:
    """The whole serialization that ``stored`` describes (for checking it against :func:`serialize`)."""
    rows = sorted(stored.tasks.values(), key=lambda row: row.seq)
    return join_state(json.loads(stored.skeleton), [(row.workflow, row.id, row.body) for row in rows])


def check_stored(wf: BpmnWorkflow, stored: Stored) -> None:
    """Raise ``RuntimeError`` unless ``stored`` rebuilds exactly the whole serialization of ``wf``."""
    whole = json.loads(serialize(wf))
    rebuilt = stored_state(stored)
    if rebuilt != whole:
        tasks = {**whole.get("tasks", {}), **{k: v for s in whole.get("subprocesses", {}).values()
                                              for k, v in s.get("tasks", {}).items()}}
        kept = {**rebuilt.get("tasks", {}), **{k: v for s in rebuilt.get("subprocesses", {}).values()
                                               for k, v in s.get("tasks", {}).items()}}
        differing = sorted(k for k in tasks.keys() | kept.keys() if tasks.get(k) != kept.get(k))
        raise RuntimeError(f"stored task rows differ from the workflow: tasks {differing[:5]}, "
                           f"instance part {'same' if len(differing) else 'differs'}")
