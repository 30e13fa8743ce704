"""Row sync: after each engine action, the workflow is saved and the read tables follow it.

:func:`snapshot` walks the task tree once; :func:`save` writes the instance (version-checked),
the workflow's task rows that changed (:mod:`state_rows`), the human tasks that changed, the
timers the worker polls and the action's audit events, all through :mod:`rows`, the one writer
of these tables.
"""
from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import compress
from operator import attrgetter, countOf
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.task import TaskState
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from caseflow import clock, store
from caseflow._engine import adapters, facts, outbox, rows, specs, state_rows, task_state, tree_walks, workflows
from caseflow._engine.errors import Conflict
from caseflow._engine.rows import Case
from caseflow._engine.values import plain

_STATE = attrgetter("_state")
_CHANGED_AT = attrgetter("last_state_change")
_DATA_STATES = TaskState.COMPLETED | TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


@dataclass
class _Snapshot:
    """What the tables keep of a workflow, gathered in one walk of its task tree."""

    data: dict
    status: str
    ready: dict[str, Any]  # task id -> ready human task
    timers: list[dict]  # pending timers, soonest first
    trail: list[str]  # BPMN ids of completed elements of the version's own diagram


@dataclass
class _Replayed:
    """The case data as replayed by a save, kept with the live workflow for its next save.

    A task that finished does not change unless its state does, so the next save replays only the
    tasks whose state changed after ``upto`` onto ``merged``, provided the tasks before it are still
    what was replayed: as many finished ones (none went back or away), and the unfinished ones still
    writing nothing (an unfinished task's writes are replayed where its state last changed, so one
    that writes must be replayed whole).
    """

    upto: float  # the latest state change replayed
    merged: dict  # the replayed data (owned: the snapshot's data is a plain copy)
    trail: set[str]
    completed: int  # finished (completed) tasks replayed
    open: list  # the tasks then ready, waiting, started or failed


_REPLAYED: weakref.WeakKeyDictionary[BpmnWorkflow, _Replayed] = weakref.WeakKeyDictionary()


def replay_whole(wf: BpmnWorkflow) -> None:
    """Make the next save of ``wf`` replay its data whole: call it after writing a task's data by hand
    (a finished task's data changes only with its state otherwise)."""
    _REPLAYED.pop(wf, None)


def snapshot(wf: BpmnWorkflow, loaded: specs.LoadedSpec) -> _Snapshot:
    """Collect the snapshot from every task of the tree (called processes included).

    SpiffWorkflow's depth-first walk of a long case costs far more than reading its task
    mappings, so the mappings are read when that gives the same result: a tree too small to
    reach the walk's depth limit, at most one ready task and one timer (whose order is the
    walk's), and no two tasks with data changed at the same instant (replayed in walk order).
    Read that way, the data is replayed from the last save's (:class:`_Replayed`) when it can be.
    """
    parts = [wf, *wf.subprocesses.values()]
    since = _REPLAYED.pop(wf, None)
    if sum(len(w.tasks) for w in parts) <= tree_walks.WALK_DEPTH:
        def every() -> Iterable[Any]:
            return (task for w in parts for task in w.tasks.values())

        snap = _collect(_since(parts, since), loaded, wf, False, since) if since is not None else None
        if snap is not None and tree_walks.VERIFY:
            whole = _collect(every(), loaded, wf, False, None)
            if whole is None or _compared(whole) != _compared(snap):
                raise AssertionError("the snapshot taken on from the last save differs from a whole one")
        if snap is None:
            snap = _collect(every(), loaded, wf, False, None)
        if snap is not None:
            return snap
    snap = _collect(wf.get_tasks(), loaded, wf, True, None)
    assert snap is not None
    return snap


def _compared(snap: _Snapshot) -> tuple:
    return snap.data, snap.trail, snap.status, list(snap.ready), snap.timers


def _since(parts: list[Any], since: _Replayed) -> tuple[list[Any], int]:
    """The tasks a save replaying from ``since`` looks at, and how many tasks finished before it.

    Those are the tasks whose state changed after ``since.upto`` and the ones then open (ready,
    waiting, started or failed) still in the tree: a task whose state did not change since is in
    the state it was then, and the completed ones are only counted (in C, without a loop here).
    """
    upto = since.upto
    changed = [task for w in parts for task in compress(w.tasks.values(), map(upto.__lt__, map(_CHANGED_AT,
                                                                                            w.tasks.values())))]
    completed = sum(countOf(map(_STATE, w.tasks.values()), TaskState.COMPLETED) for w in parts)
    completed -= countOf(map(_STATE, changed), TaskState.COMPLETED)
    workflows_now = set(map(id, parts))
    seen = set(map(id, changed))
    still = [task for task in since.open if id(task) not in seen and id(task.workflow) in workflows_now
             and task.workflow.tasks.get(task.id) is task]
    return changed + still, completed


def _collect(tasks: Iterable[Any] | tuple[list[Any], int], loaded: specs.LoadedSpec, wf: BpmnWorkflow,
             exact_order: bool, since: _Replayed | None) -> _Snapshot | None:
    """The snapshot of ``tasks`` (or of the tasks and count of those finished before, from
    :func:`_since`); None when they are not in walk order (``exact_order``) and the order matters,
    or when the replay cannot go on from ``since`` (then it is done whole)."""
    ready: dict[str, Any] = {}
    timers: list[dict] = []
    trail: set[str] = set(since.trail) if since is not None else set()
    upto = since.upto if since is not None else float("-inf")
    with_data: list[Any] = []  # the tasks to replay: those changed after `upto`
    visited, completed_before = tasks if isinstance(tasks, tuple) else (tasks, 0)
    open_before: list[Any] = []
    open_now: list[Any] = []
    latest = upto
    for task in visited:
        state, spec, changed_at = task._state, task.task_spec, task.last_state_change
        if changed_at > latest:
            latest = changed_at
        if state & _DATA_STATES:
            if state != TaskState.COMPLETED:
                open_now.append(task)
            if changed_at > upto:
                with_data.append(task)
            elif state == TaskState.COMPLETED:
                completed_before += 1
                continue
            else:
                open_before.append(task)
        if state == TaskState.COMPLETED:
            if spec.bpmn_id and loaded.process_files.get(specs.spec_process(spec), loaded.files) is loaded.files:
                trail.add(spec.bpmn_id)
        elif state == TaskState.READY:
            if spec.manual:
                ready[str(task.id)] = task
        elif state == TaskState.WAITING:
            if isinstance(getattr(spec, "event_definition", None), TimerEventDefinition):
                due = timer_due(task)
                if due is not None:
                    timers.append({"task": spec.bpmn_name or spec.bpmn_id or spec.name, "task_id": str(task.id),
                                   "due_at": due.isoformat()})
    if since is not None and (completed_before != since.completed or any(_writes(t) for t in open_before)):
        return None
    with_data.sort(key=lambda t: t.last_state_change)
    if not exact_order and (len(ready) > 1 or len(timers) > 1 or any(
            a.last_state_change == b.last_state_change for a, b in zip(with_data, with_data[1:], strict=False))):
        return None
    merged = replay_writes(with_data, dict(since.merged) if since is not None else None)
    if not exact_order and not any(_writes(t) for t in with_data if t._state != TaskState.COMPLETED):
        finished = completed_before + sum(1 for t in with_data if t._state == TaskState.COMPLETED)
        _REPLAYED[wf] = _Replayed(latest, merged, trail, finished, open_now)
    # SpiffWorkflow's is_completed walks the tree to its first unfinished task (the deepest, in
    # a long case); a top-level task not finished answers it without the walk.
    unfinished = not exact_order and not wf.completed and any(
        state & TaskState.NOT_FINISHED_MASK for state in set(map(_STATE, wf.tasks.values())))
    completed = False if unfinished else wf.is_completed()
    return _Snapshot(
        data=plain(merged),
        status="completed" if completed else "running" if ready else "waiting",
        ready=ready,
        timers=[] if completed else sorted(timers, key=lambda t: t["due_at"]),
        trail=sorted(trail),
    )


def _writes(task: Any) -> bool:
    """Whether a task that has not finished holds data of its own (a value its parent's data lacks or differs in)."""
    parent = task.parent
    if parent is None:
        return bool(task.data)
    base = parent.data
    return any(key not in base or base[key] != value for key, value in task.data.items())


def replay_writes(tasks: list[Any], merged: dict | None = None) -> dict:
    """The case data as people see it: every task's own writes, replayed in time order.

    Each SpiffWorkflow task holds a copy of the data; with parallel paths (a non-interrupting
    escalation beside the main path, a call activity) the copies diverge, and no single task
    has the whole truth. A task's writes are what differs from its parent's data, so applying
    them oldest first gives "the latest write of each key wins" across all paths. ``merged``: the
    replay so far (updated in place; by default, nothing), for tasks that all changed after it.
    """
    merged = {} if merged is None else merged
    for task in sorted(tasks, key=lambda t: t.last_state_change):
        parent = task.parent
        if parent is None:
            merged.update(task.data)
            continue
        # Only a task that ran can have deleted a key: a waiting join (e.g. the end of a
        # non-interrupting event subprocess) holds no data yet, which deletes nothing.
        _apply_writes(merged, parent.data, task.data, task.state == TaskState.COMPLETED)
    return merged


def _apply_writes(merged: dict, base: dict, data: dict, deletes: bool) -> None:
    """Apply to ``merged`` what ``data`` writes over ``base`` (its parent's): changed and new keys and,
    when ``deletes``, dropped ones. A mapping written over a mapping (or new on this path while another
    path wrote one) is applied entry by entry, so two paths that each add an entry (an escalation on
    each of two parallel branches) both keep theirs."""
    for key, value in data.items():
        if key in base and base[key] == value:
            continue
        was, now = base.get(key, {}), merged.get(key)  # a mapping new on this path adds to one of another
        if isinstance(value, dict) and isinstance(was, dict) and isinstance(now, dict):
            inner = dict(now)  # a copy: the merged values may be a task's own
            _apply_writes(inner, was, value, deletes)
            merged[key] = inner
        else:
            merged[key] = value
    if deletes:
        for key in base:
            if key not in data:
                merged.pop(key, None)



def timer_due(task: Any) -> dt.datetime | None:
    value = task._get_internal_data("event_value")
    if isinstance(value, dict):  # cycle timer
        value = value.get("next")
    if not value:
        return None
    try:
        return TimerEventDefinition.get_datetime(str(value))
    except Exception:
        return None



def save(session: Session, case: Case, wf: BpmnWorkflow, loaded: specs.LoadedSpec, actor: str,
          events: list[dict], completed: dict[str, str] | None = None) -> list[dict]:
    """Save the workflow and bring human tasks, timers and the audit log in step with it.

    The case keeps the ids of its ready tasks and its pending timers, so only what changed
    is written: usually the instance row (insert or version-checked update), the finished
    task, the next task and the action's audit events. ``events`` (from :func:`_event`)
    are appended in order. Returns the case's ready task rows.
    """
    now = clock.now()
    completed = completed or {}
    snap = snapshot(wf, loaded)
    data = snap.data
    previous_status = case.status
    new_case = case.id is None
    state = task_state.state_changes(wf, None if new_case else workflows.stored_of(wf))
    case.state = state.skeleton  # the instance part of the state; None when unchanged
    case.serializer_version = adapters.SERIALIZER_VERSION
    case.data = data
    if case.status not in ("error", "cancelled"):
        case.status = snap.status
    case.updated_at = now
    business_key_changed = False
    if loaded.business_key_field and data.get(loaded.business_key_field):
        new_key = str(data[loaded.business_key_field])
        business_key_changed = new_key != case.business_key
        case.business_key = new_key
    if case.status in ("completed", "cancelled") and case.completed_at is None:
        case.completed_at = now
    if case.status == "completed" and previous_status != "completed":
        events.append(rows.event(actor, "completed", None, {}))

    ready = snap.ready
    case.trail = snap.trail
    before = set(case.ready_tasks or [])
    case.ready_tasks = sorted(ready)
    timers = [] if case.status in ("completed", "cancelled") else snap.timers
    timers_changed = timers != (case.timers or [])
    case.timers = timers
    try:
        saved = rows.save_case(session, case)
    except OperationalError as err:
        if "locked" in str(err).lower():
            raise Conflict("the case is being changed by someone else; try again") from err
        raise
    if not saved:
        raise Conflict("the case was changed by someone else at the same time; reload and try again")
    assert case.id is not None
    state_rows.write(session, case.id, state, existing=not new_case)  # the task rows this action changed
    if state_rows.VERIFY:
        task_state.check_stored(wf, state.stored)

    # Human tasks: finish the ones that left the ready set, insert the new ones.
    kept = before & set(ready)
    changes = [dict(id=t, state="completed", completed_by=completed[t], completed_at=now)
               if t in completed else dict(id=t, state="cancelled", completed_by=actor, completed_at=now)
               for t in sorted(before - set(ready))]
    if business_key_changed:
        changes += [dict(id=t, business_key=case.business_key) for t in sorted(kept)]
    rows.update_tasks(session, changes)
    new_rows = []
    for task_id, task in ready.items():
        if task_id in before:
            continue
        meta = loaded.meta(task.task_spec)
        role = meta.role
        if meta.role_from_data:
            role = specs.role_key(task.data.get(meta.role_from_data)) or role
        due_at = clock.parse_moment(task.data.get(meta.due_key)) if meta.due_key else None
        new_rows.append(dict(
            id=task_id, instance_id=case.id, process_key=case.process_key, spec_ref=meta.ref,
            business_key=case.business_key, name=meta.name, title=meta.title, lane=meta.lane,
            role=role, form=meta.form, state="ready", assignee=None, completed_at=None, completed_by=None,
            due_at=due_at, sort_due=due_at or store.NO_DEADLINE, created_at=now,
        ))
    rows.insert_tasks(session, new_rows)

    # Timers: the table the worker polls follows the instance's pending timers.
    assert case.id is not None and case.row_version is not None  # the save gave both
    if timers_changed:
        rows.replace_timers(session, case.id, [
            dict(task_id=t["task_id"], name=t["task"], due_at=dt.datetime.fromisoformat(t["due_at"]))
            for t in timers])
    outbox.write(session, case, new_rows, events)  # notifications commit with the change (transactional outbox)
    rows.append_audit(session, [dict(e, instance_id=case.id) for e in events])
    facts.write(session, case, loaded.manifest)  # the reporting row follows the saved case
    workflows.saved(case.id, case.row_version, wf, state.stored)
    return new_rows + rows.tasks_by_id(session, sorted(kept))
