"""The one writer (and reader) of ``workflow_task``: a case's workflow state, one task per row.

``process_instance.state`` holds the instance-level part of SpiffWorkflow's serialization and
each task's dict is a row (see :mod:`caseflow.store_state`). :func:`load` reads both and joins
them into the whole serialization; :func:`write` applies a :class:`Changes` (the rows an action
inserted, rewrote and dropped, worked out by :func:`caseflow._engine.adapters.state_changes`).

No SpiffWorkflow here: this module only moves plain values in and out of the table.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from caseflow import store
from caseflow.store_state import WorkflowTask, join_state

_CASE: Table = store.ProcessInstance.__table__  # type: ignore[assignment]  # declarative tables are Tables
_ROW: Table = WorkflowTask.__table__  # type: ignore[assignment]

_SELECT_STATE = select(_CASE.c.state).where(_CASE.c.id == bindparam("case_id"))
_SELECT_ROWS = select(_ROW.c.seq, _ROW.c.workflow, _ROW.c.id, _ROW.c.body).where(
    _ROW.c.instance_id == bindparam("case_id")).order_by(_ROW.c.seq)
_INSERT = insert(_ROW)
# New and changed rows in one statement: an insert that rewrites the body of a row already there.
_UPSERT = {dialect: module.insert(_ROW).on_conflict_do_update(index_elements=[_ROW.c.instance_id, _ROW.c.id],
                                                             set_={"body": module.insert(_ROW).excluded.body})
           for dialect, module in (("sqlite", sqlite), ("postgresql", postgresql))}
# One row per parameter set (an executemany): an expanding IN would be compiled anew for each count.
_DELETE = delete(_ROW).where(_ROW.c.instance_id == bindparam("case_id"), _ROW.c.id == bindparam("task_id"))
_DELETE_ALL = delete(_ROW).where(_ROW.c.instance_id == bindparam("case_id"))

#: Check every save against a whole serialization (tests and diagnosis; it costs the whole serialization).
VERIFY: bool = os.environ.get("CASEFLOW_VERIFY_STATE_ROWS", "") not in ("", "0")


@dataclass(slots=True)
class StoredTask:
    """What the table holds of one task, and how the live task looked when it was written."""

    id: str  # the task's UUID
    seq: int
    workflow: str  # store_state.TOP or the sub-process's id
    body: str  # the row's JSON
    mark: Any = None  # task_state's fingerprint of a settled task as written; None: compare its body
    task: Any = None  # the live task it was written from (once known)


@dataclass
class Stored:
    """The stored form of one live workflow: the instance part and every task row.

    ``tasks`` is keyed by task id as read; once bound to its live workflow, by ``id()`` of the
    live task (each row holds its task, so no key can be reused meanwhile).
    """

    skeleton: str
    tasks: dict[Any, StoredTask] = field(default_factory=dict)
    next_seq: int = 0
    since: float | None = None  # when the last save looked at the live tasks (None: not since it was read)
    open: list[tuple[str, Any]] = field(default_factory=list)  # (workflow, live task) of those not settled then


@dataclass
class Changes:
    """What one save writes: the instance part (None: unchanged) and the task rows it touches
    (``insert`` and ``update`` rows carry every column; ``delete`` holds task ids).

    ``replace_all``: the case's rows are rewritten whole (a new case, a version migration, a
    state stored by another serializer version). ``stored`` is the stored form after the write.
    """

    skeleton: str | None
    insert: list[dict]
    update: list[dict]
    delete: list[str]
    replace_all: bool
    stored: Stored


def load(session: Session, case_id: int) -> tuple[dict, Stored | None]:
    """The case's whole serialization (as a dict) and its stored form (None when it has no task rows)."""
    conn = session.connection()
    skeleton_text = conn.execute(_SELECT_STATE, {"case_id": case_id}).scalar_one()
    found = conn.execute(_SELECT_ROWS, {"case_id": case_id}).all()
    whole = join_state(json.loads(skeleton_text), [(workflow, task_id, body) for _, workflow, task_id, body in found])
    if not found:
        return whole, None
    tasks: dict[Any, StoredTask] = {task_id: StoredTask(task_id, seq, workflow, body)
                                    for seq, workflow, task_id, body in found}
    stored = Stored(skeleton_text, tasks, found[-1][0] + 1)
    return whole, stored


def load_whole(session: Session, case_id: int) -> str:
    """The case's whole serialization as JSON (as SpiffWorkflow's ``serialize_json`` writes it, less the spec)."""
    return json.dumps(load(session, case_id)[0])


def write(session: Session, case_id: int, changes: Changes, existing: bool = True) -> None:
    """Apply ``changes`` to the case's task rows (``existing``: the case had rows before this save)."""
    conn = session.connection()
    if changes.replace_all and existing:
        conn.execute(_DELETE_ALL, {"case_id": case_id})
    elif changes.delete:
        conn.execute(_DELETE, [{"case_id": case_id, "task_id": task_id} for task_id in changes.delete])
    written = [dict(row, instance_id=case_id) for row in (*changes.insert, *changes.update)]
    if written:
        conn.execute(_INSERT if changes.replace_all or not changes.update else _UPSERT[conn.dialect.name], written)
