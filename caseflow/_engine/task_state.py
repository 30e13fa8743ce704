"""A workflow's state as task rows: what a save writes, so that an action writes only what it changed.

The rows are SpiffWorkflow's own serialization split up (see :mod:`caseflow.store_state`):
the instance-level part, from SpiffWorkflow's workflow converters with empty ``tasks``, and
each task's dict from its task converter, written with the serializer's JSON encoder. Joined
back, they equal :func:`adapters.serialize` exactly (:func:`check_stored`). The rows are
written by :mod:`state_rows`.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import chain
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.task import Task, TaskState

from caseflow._engine.adapters import SERIALIZER, SERIALIZER_VERSION, serialize
from caseflow._engine.state_rows import Changes, Stored, StoredTask
from caseflow.store_state import TOP, join_state

_SETTLED = TaskState.COMPLETED | TaskState.CANCELLED
_UNREACHED = TaskState.FUTURE | TaskState.LIKELY | TaskState.MAYBE  # predicted, not reached yet
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
    """
    convert = SERIALIZER.registry.convert
    with _encoding():
        skeleton = _skeleton(wf)
        if previous is None:
            stored = Stored(skeleton)
            rows: list[dict] = []
            for key, w in _parts(wf):
                for task_id, task in w.tasks.items():
                    new = StoredTask(str(task_id), stored.next_seq, key, _ENCODE(convert(task)), _mark(task), task)
                    stored.tasks[id(task)] = new
                    rows.append(dict(id=new.id, workflow=key, seq=new.seq, body=new.body))
                    stored.next_seq += 1
            return Changes(skeleton, rows, [], [], True, stored)
        inserted: list[dict] = []
        updated: list[dict] = []
        known = previous.tasks
        count = 0
        last = wf.last_task
        parts = _parts(wf)
        for key, w in parts:
            again: set[int] = set()  # UUID.int of the tasks serialized again (ints hash fast)
            count += len(w.tasks)
            for task in w.tasks.values():
                row = known.get(id(task))
                mark = row.mark if row is not None else None
                if mark is not None and task.last_state_change == mark[0] and task._state == mark[1] \
                        and task._children == mark[4] and task.triggered == mark[3] \
                        and task.task_spec.name == mark[2] and task is not last:
                    if task._state & _SETTLED:
                        parent = task._parent
                        if parent is None or parent.int not in again:
                            continue  # settled and unchanged (the same fields as _mark, without building it)
                    elif _blank(task):
                        continue  # still blank: its dict cannot differ whatever its parent's did
                mark = _mark(task)
                again.add(task.id.int)
                body = _ENCODE(convert(task))
                if row is None:
                    row = StoredTask(str(task.id), previous.next_seq, key, body, mark, task)
                    known[id(task)] = row
                    inserted.append(dict(id=row.id, workflow=key, seq=row.seq, body=body))
                    previous.next_seq += 1
                    continue
                row.mark = mark
                if body != row.body:
                    row.body = body
                    updated.append(dict(id=row.id, workflow=key, seq=row.seq, body=body))
    gone: list[str] = []
    if count != len(known):
        current = set(map(id, chain.from_iterable(w.tasks.values() for _key, w in parts)))
        gone = sorted(known.pop(key).id for key in known.keys() - current)
    changed = skeleton if skeleton != previous.skeleton else None
    previous.skeleton = skeleton
    return Changes(changed, inserted, updated, gone, False, previous)


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
