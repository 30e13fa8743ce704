"""The one writer of case rows: instances, human tasks, timers and audit events.

Every write of these tables goes through this module, with SQLAlchemy Core statements
built once.

Starting a case or completing a task is the hot path of the whole product: it runs once per
user action and must commit its instance row, task rows, timers and audit events together.
Doing that through the session's connection with pre-built statements keeps the database
cost to a few executions (no unit-of-work flush, no statement construction per call).
Pages keep reading the ORM models of ``store``; after a write here the session forgets its
ORM copies of the touched rows, so it never serves stale values.

No SpiffWorkflow here: this module only moves plain values in and out of tables.
"""
from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, Table, bindparam, delete, func, insert, or_, select, update
from sqlalchemy import event as sqla_event
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from caseflow import clock, store
from caseflow._engine import recipients, state_rows
from caseflow._engine.values import plain

_CASE: Table = store.ProcessInstance.__table__  # type: ignore[assignment]  # declarative tables are Tables
_DEFINITION: Table = store.ProcessDefinition.__table__  # type: ignore[assignment]
_TASK: Table = store.HumanTask.__table__  # type: ignore[assignment]
_TIMER: Table = store.Timer.__table__  # type: ignore[assignment]
_AUDIT: Table = store.AuditEvent.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class DefinitionRef:
    """The identifying columns of a deployed version (its files stay in the database)."""

    id: int
    key: str
    version: int
    content_hash: str
    name: str | None = None
    pinned: bool = False


@dataclass
class Case:
    """An instance row as the engine's write paths use it: plain values, no ORM state."""

    id: int | None  # None until the first save inserts the row
    definition: DefinitionRef
    process_key: str
    business_key: str | None
    status: str
    serializer_version: str
    data: dict
    ready_tasks: list
    timers: list
    trail: list
    error: str | None
    error_task: str | None
    started_by: str
    created_at: dt.datetime
    updated_at: dt.datetime | None
    completed_at: dt.datetime | None
    row_version: str | None  # None until inserted
    state: str | None = None  # the instance part of SpiffWorkflow's JSON to write (None: unchanged)
    stored: dict[str, Any] = field(default_factory=dict, repr=False)  # WRITTEN values as last read or saved
    #: The notification directory's token, read in this transaction with the row (None: not read).
    directory: str | None = field(default=None, repr=False)

    @property
    def definition_id(self) -> int:
        return self.definition.id


# Every instance column but the (large) state, then the version's identifying columns.
_CASE_FIELDS = [c.name for c in _CASE.c if c.name not in ("state", "parent_id", "definition_id")]
_DEFINITION_FIELDS = ["id", "key", "version", "content_hash", "name", "pinned"]
_CASE_COLUMNS = [_CASE.c[name].label(f"c_{name}") for name in _CASE_FIELDS]
_DEFINITION_COLUMNS = [_DEFINITION.c[name].label(f"d_{name}") for name in _DEFINITION_FIELDS]
_TASK_COLUMNS = [c.label(f"t_{c.name}") for c in _TASK.c]

_SELECT_CASE = (select(*_CASE_COLUMNS, *_DEFINITION_COLUMNS)
                .join_from(_CASE, _DEFINITION, _CASE.c.definition_id == _DEFINITION.c.id)
                .where(_CASE.c.id == bindparam("case_id")))
_SELECT_TASK_WITH_CASE = (select(*_TASK_COLUMNS, *_CASE_COLUMNS, *_DEFINITION_COLUMNS, recipients.TOKEN)
                          .join_from(_TASK, _CASE, _TASK.c.instance_id == _CASE.c.id)
                          .join(_DEFINITION, _CASE.c.definition_id == _DEFINITION.c.id)
                          .where(_TASK.c.id == bindparam("task_id")))
_SELECT_STARTABLE = (select(*_DEFINITION_COLUMNS, recipients.TOKEN).where(_DEFINITION.c.key == bindparam("key"))
                     .order_by(_DEFINITION.c.pinned.desc(), _DEFINITION.c.version.desc()).limit(1))
_SELECT_VERSION = select(*_DEFINITION_COLUMNS, recipients.TOKEN).where(_DEFINITION.c.key == bindparam("key"),
                                                     _DEFINITION.c.version == bindparam("version"))
_SELECT_DEFINITION = select(*_DEFINITION_COLUMNS).where(_DEFINITION.c.id == bindparam("definition_id"))
_SELECT_TASKS = select(_TASK).where(_TASK.c.id.in_(bindparam("task_ids", expanding=True)))
_INSERT_CASE = insert(_CASE)
# The SET clause comes from the parameter names; the WHERE is the optimistic version check.
_UPDATE_CASE = update(_CASE).where(_CASE.c.id == bindparam("_id"), _CASE.c.row_version == bindparam("_old"))
_UPDATE_TASK = update(_TASK).where(_TASK.c.id == bindparam("_id"))
# A claim: only a ready task that is free or already the actor's.
_CLAIM_TASK = (update(_TASK).where(_TASK.c.id == bindparam("_id"), _TASK.c.state == "ready",
                                   or_(_TASK.c.assignee.is_(None), _TASK.c.assignee == bindparam("_actor")))
               .values(assignee=bindparam("_actor")))
# A delegation: only a ready task still held by whom the delegator saw holding it (compare and set).
_REASSIGN_TASK = (update(_TASK).where(_TASK.c.id == bindparam("_id"), _TASK.c.state == "ready",
                                      _TASK.c.assignee.is_not_distinct_from(bindparam("_from", type_=String)))
                  .values(assignee=bindparam("_to")))
_INSERT_TASKS = insert(_TASK)
_DELETE_TIMERS = delete(_TIMER).where(_TIMER.c.instance_id == bindparam("case_id"))
_INSERT_TIMERS = insert(_TIMER)
_INSERT_AUDIT = insert(_AUDIT)

# The Case fields one save writes (id, creation columns and the version token aside).
WRITTEN = ("definition_id", "business_key", "status", "state", "serializer_version", "data", "ready_tasks",
           "timers", "trail", "error", "error_task", "updated_at", "completed_at")


def _definition(m: Mapping[Any, Any]) -> DefinitionRef:
    return DefinitionRef(m["d_id"], m["d_key"], m["d_version"], m["d_content_hash"], m["d_name"],
                         bool(m["d_pinned"]))


def _case(m: Mapping[Any, Any]) -> Case:
    values = {name: m[f"c_{name}"] for name in _CASE_FIELDS}
    case = Case(definition=_definition(m), **values, directory=m.get("directory"))
    case.stored = {name: getattr(case, name) for name in WRITTEN if name != "state"}
    return case


def _read_in_transaction(session: Session) -> dict[int, DefinitionRef]:
    """The versions' identifying columns read in the session's current transaction, by id (a case
    read with its version answers the lookup of that version's manifest that follows, unasked)."""
    transaction = session.get_transaction()
    kept = session.info.get("caseflow.definitions")
    if kept is None or kept[0] is not transaction:
        kept = session.info["caseflow.definitions"] = (transaction, {})
    return kept[1]


def _kept(session: Session, case: Case) -> Case:
    _read_in_transaction(session)[case.definition.id] = case.definition
    return case


def load_case(session: Session, case_id: int) -> Case | None:
    """The instance ``case_id`` without its state, or None."""
    found = session.connection().execute(_SELECT_CASE, {"case_id": case_id}).first()
    return _kept(session, _case(found._mapping)) if found is not None else None


def load_task_with_case(session: Session, task_id: str) -> tuple[dict, Case] | None:
    """A human task row (as a dict) and its instance, in one query; None for an unknown task."""
    found = session.connection().execute(_SELECT_TASK_WITH_CASE, {"task_id": task_id}).first()
    if found is None:
        return None
    m = found._mapping
    return {c.name: m[f"t_{c.name}"] for c in _TASK.c}, _kept(session, _case(m))


def load_state(session: Session, case: Case) -> str:
    """The stored SpiffWorkflow JSON of ``case``, whole: its instance part joined with its task rows."""
    assert case.id is not None
    return state_rows.load_whole(session, case.id)


def startable(session: Session, key: str, version: int | None = None) -> tuple[DefinitionRef, str | None] | None:
    """Version ``version`` of ``key``, or when None the one new instances start on (pinned, else
    latest), with the notification directory's token (:attr:`Case.directory`); None when there is none."""
    if version is None:
        found = session.connection().execute(_SELECT_STARTABLE, {"key": key}).first()
    else:
        found = session.connection().execute(_SELECT_VERSION, {"key": key, "version": version}).first()
    return (_definition(found._mapping), found.directory) if found is not None else None


def definition_ref(session: Session, definition_id: int) -> DefinitionRef | None:
    """The identifying columns of version ``definition_id`` (not its files), or None; not read again
    when this transaction read them with a case."""
    kept = _read_in_transaction(session)
    if definition_id in kept:
        return kept[definition_id]
    found = session.connection().execute(_SELECT_DEFINITION, {"definition_id": definition_id}).first()
    return _definition(found._mapping) if found is not None else None


def startable_definition(session: Session, key: str, version: int | None = None) -> DefinitionRef | None:
    """Version ``version`` of ``key``, or when None the one new instances start on (pinned, else latest)."""
    found = startable(session, key, version)
    return found[0] if found is not None else None


def save_case(session: Session, case: Case) -> bool:
    """Insert a new case or update a stored one; False when someone else changed it meanwhile.

    Every save gives the row a fresh random version token; an update matches only the
    token it was loaded with, so of two concurrent writers exactly one succeeds.
    """
    conn = session.connection()
    current = {name: getattr(case, name) for name in WRITTEN}
    if case.state is None:  # unchanged
        del current["state"]
    token = uuid.uuid4().hex
    if case.id is None:
        values = dict(current, process_key=case.process_key, started_by=case.started_by,
                      created_at=case.created_at, row_version=token)
        inserted = conn.execute(_INSERT_CASE, values).inserted_primary_key
        assert inserted is not None
        case.id = inserted[0]
    else:
        # Only changed columns: the indexes on unchanged ones are left alone.
        values = {k: v for k, v in current.items() if k not in case.stored or case.stored[k] != v}
        values.update(_id=case.id, _old=case.row_version, row_version=token)
        if conn.execute(_UPDATE_CASE, values).rowcount != 1:
            return False
        _forget(session, store.ProcessInstance, [case.id])
    current.pop("state", None)
    case.stored = current
    case.row_version = token
    return True


def update_tasks(session: Session, changes: list[dict]) -> None:
    """Apply per-task column changes (each dict has the task ``id`` and the new values)."""
    if not changes:
        return
    conn = session.connection()
    by_columns: dict[tuple[str, ...], list[dict]] = {}
    for change in changes:
        params = {k: v for k, v in change.items() if k != "id"}
        params["_id"] = change["id"]
        by_columns.setdefault(tuple(sorted(params)), []).append(params)
    for rows in by_columns.values():
        conn.execute(_UPDATE_TASK, rows)
    _forget(session, store.HumanTask, [c["id"] for c in changes])


def claim_task(session: Session, task_id: str, actor: str) -> bool:
    """Give a ready, free task to ``actor`` (a conditional update); False when someone else has it."""
    taken = session.connection().execute(_CLAIM_TASK, {"_id": task_id, "_actor": actor}).rowcount == 1
    if taken:
        _forget(session, store.HumanTask, [task_id])
    return taken


def reassign_task(session: Session, task_id: str, holder: str | None, to: str) -> bool:
    """Give a ready task held by ``holder`` (None: by no one) to ``to``; False when it changed meanwhile."""
    moved = session.connection().execute(_REASSIGN_TASK, {"_id": task_id, "_from": holder, "_to": to}).rowcount == 1
    if moved:
        _forget(session, store.HumanTask, [task_id])
    return moved


def insert_tasks(session: Session, rows: list[dict]) -> None:
    """Insert new human task rows."""
    if rows:
        session.connection().execute(_INSERT_TASKS, rows)


def tasks_by_id(session: Session, task_ids: Iterable[str]) -> list[dict]:
    """The human task rows with these ids, as dicts."""
    ids = list(task_ids)
    if not ids:
        return []
    return [dict(r._mapping) for r in session.connection().execute(_SELECT_TASKS, {"task_ids": ids})]


def replace_timers(session: Session, case_id: int, timers: list[dict]) -> None:
    """Make the timer table hold exactly ``timers`` (dicts with task_id, name, due_at) for the case."""
    conn = session.connection()
    conn.execute(_DELETE_TIMERS, {"case_id": case_id})
    if timers:
        conn.execute(_INSERT_TIMERS, [dict(t, instance_id=case_id) for t in timers])
        soonest = min(t["due_at"] for t in timers)
        known = session.info.get(_TIMERS_WRITTEN)
        if known is None or soonest < known:
            session.info[_TIMERS_WRITTEN] = soonest
            if conn.dialect.name == "postgresql":  # other processes hear of it when this commits
                conn.execute(_NOTIFY_TIMER, {"due": soonest.isoformat()})


# --- timer notification: who waits for timers hears of new ones once their transaction commits ---

_TIMERS_WRITTEN = "caseflow_timers_written"  # session.info key: the soonest due time written
TIMER_CHANNEL = "caseflow_timers"  # PostgreSQL NOTIFY channel: the payload is the due time (ISO 8601)
_NOTIFY_TIMER = select(func.pg_notify(TIMER_CHANNEL, bindparam("due", type_=String)))
_TIMER_HOOKS: list[Callable[[dt.datetime], None]] = []


def on_timers_committed(hook: Callable[[dt.datetime], None]) -> Callable[[], None]:
    """Call ``hook(soonest_due_at)`` after each commit that wrote timers; returns the unsubscriber."""
    _TIMER_HOOKS.append(hook)
    return lambda: _TIMER_HOOKS.remove(hook) if hook in _TIMER_HOOKS else None


@sqla_event.listens_for(Session, "after_commit")
def _timers_committed(session: Session) -> None:
    soonest = session.info.pop(_TIMERS_WRITTEN, None)
    if soonest is not None:
        for hook in list(_TIMER_HOOKS):
            try:
                hook(soonest)
            except Exception:  # the commit has happened: a listener's failure must not fail the caller
                logging.getLogger("caseflow.engine").exception("a timer listener failed")


@sqla_event.listens_for(Session, "after_rollback")
def _timers_rolled_back(session: Session) -> None:
    if not session.in_nested_transaction():  # a savepoint's rollback leaves the rest of the transaction
        session.info.pop(_TIMERS_WRITTEN, None)


def due_timer_instances(session: Session, now: dt.datetime, limit: int) -> list[int]:
    """Ids of instances with a timer due at ``now``, soonest first."""
    stmt = select(_TIMER.c.instance_id).where(_TIMER.c.due_at <= now).order_by(_TIMER.c.due_at).limit(limit)
    return list(dict.fromkeys(session.connection().execute(stmt).scalars()))


def claim_due_timers(session: Session, case_id: int, now: dt.datetime) -> list[dict]:
    """The due timer rows of one instance, locked for this transaction on PostgreSQL (rows
    another worker holds are skipped, not waited for)."""
    stmt = select(_TIMER).where(_TIMER.c.instance_id == case_id, _TIMER.c.due_at <= now)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return [dict(r._mapping) for r in session.connection().execute(stmt)]


def append_audit(session: Session, events: list[dict]) -> None:
    """Append audit events (dicts with the AuditEvent columns) in their order."""
    if events:
        session.connection().execute(_INSERT_AUDIT, events)


def event(actor: str, kind: str, task: str | None, payload: dict | None) -> dict:
    """An audit event happening now (its instance is set when it is written)."""
    return dict(at=clock.now(), actor=actor, kind=kind, task=task, payload=plain(payload or {}))


def audit(session: Session, instance_id: int | None, actor: str, kind: str, task: str | None,
          payload: dict | None) -> None:
    """Append one audit event now (actions that save a case pass theirs to ``sync.save``)."""
    append_audit(session, [dict(event(actor, kind, task, payload), instance_id=instance_id)])


def _forget(session: Session, model: type, ids: Iterable[Any]) -> None:
    """Expire the session's ORM copies of rows just written with Core (if it holds any).

    Pages may hold ORM objects of these tables in the same session; ``Session.expire`` is
    SQLAlchemy's way of making them reload on next access.
    """
    identity_map = session.identity_map
    if not len(identity_map):
        return
    for row_id in ids:
        obj = identity_map.get(identity_key(model, row_id))
        if obj is not None:
            session.expire(obj)
