"""What the engine shows of instances and tasks, read from the tables (no workflow is loaded)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, TypedDict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from caseflow import bundles, store
from caseflow._engine import rows
from caseflow._engine.errors import NotFound
from caseflow._engine.rows import Case

_BPMN_PROCESS = "{http://www.omg.org/spec/BPMN/20100524/MODEL}process"


# The records are JSON-shaped (moments as ISO 8601 strings, in UTC): the CLI prints them as
# they are, the API schemas validate and document them, and templates format them for people.
class TaskRecord(TypedDict):
    """A human task as the engine shows it."""

    id: int
    instance_id: int
    process_key: str
    business_key: str | None
    name: str
    title: str | None
    role: str | None
    lane: str | None
    assignee: str | None
    form: str | None
    state: str
    due_at: str | None
    created_at: str | None
    completed_at: str | None
    completed_by: str | None


class TaskForm(TaskRecord):
    """A human task with what its form needs: schemas, documentation and the case data."""

    schema: dict[str, Any] | None
    ui_schema: dict[str, Any] | None
    documentation: str | None
    documentation_zh: str | None
    data: dict[str, Any]


class AuditRecord(TypedDict):
    """One entry of an instance's history."""

    at: str
    actor: str | None
    kind: str
    task: str | None
    payload: Any


class CaseError(TypedDict):
    """Why an instance stopped: the message and the task that failed."""

    message: str | None
    task: str | None


class CaseRecord(TypedDict, total=False):
    """An instance as the engine shows it (``audit`` only when asked for)."""

    id: int
    process_key: str
    version: int
    definition_id: int
    business_key: str | None
    status: str
    error: CaseError | None
    data: dict[str, Any]
    tasks: list[TaskRecord]
    timers: list[dict[str, Any]]
    started_by: str | None
    created_at: str
    updated_at: str | None
    completed_at: str | None
    audit: list[AuditRecord]


def load_case(session: Session, instance_id: int) -> Case:
    """The instance row (without its state), or NotFound."""
    case = rows.load_case(session, instance_id)
    if case is None:
        raise NotFound(f"no instance {instance_id}")
    return case


def _definition(session: Session, definition_id: int) -> store.ProcessDefinition | None:
    return session.get(store.ProcessDefinition, definition_id)


def _iso(value: dt.datetime | None) -> str | None:
    """A stored moment as ISO 8601 in UTC, however it was read (a row, or the value just written):
    one form for the same task in every answer."""
    if not value:
        return None
    return (value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()


def task_dict(row: Any) -> TaskRecord:
    """The public form of a human task row (a mapping of its columns)."""
    return TaskRecord({
        "id": row["id"], "instance_id": row["instance_id"], "process_key": row["process_key"],
        "business_key": row["business_key"], "name": row["name"], "title": row["title"], "role": row["role"],
        "lane": row["lane"], "assignee": row["assignee"], "form": row["form"], "state": row["state"],
        "due_at": _iso(row["due_at"]), "created_at": _iso(row["created_at"]),
        "completed_at": _iso(row["completed_at"]), "completed_by": row["completed_by"],
    })


def _ready_tasks(instance_id: int | None, role: str | None, roles: Iterable[str] | None, assignee: str | None,
                 process_key: str | None) -> list[Any]:
    """The conditions that select ready human tasks by these filters (None: no filter)."""
    table = store.HumanTask.__table__
    where = [table.c.state == "ready"]
    for column, value in (("instance_id", instance_id), ("role", role), ("assignee", assignee),
                          ("process_key", process_key)):
        if value is not None:
            where.append(table.c[column] == value)
    if roles is not None:
        where.append(table.c.role.in_(list(roles)))
    return where


def list_tasks(session: Session, instance_id: int | None = None, role: str | None = None,
               roles: Iterable[str] | None = None, assignee: str | None = None,
               process_key: str | None = None, limit: int = 500, offset: int = 0) -> list[TaskRecord]:
    """Ready human tasks, soonest deadline first; reads only the task table (one indexed query)."""
    table = store.HumanTask.__table__
    stmt = (select(table).where(*_ready_tasks(instance_id, role, roles, assignee, process_key))
            .order_by(table.c.sort_due, table.c.created_at, table.c.id).limit(limit).offset(offset))
    return [task_dict(r._mapping) for r in session.execute(stmt)]


def count_tasks(session: Session, instance_id: int | None = None, role: str | None = None,
                roles: Iterable[str] | None = None, assignee: str | None = None,
                process_key: str | None = None) -> int:
    """How many ready human tasks the filters of :func:`list_tasks` select (one count on the task table)."""
    table = store.HumanTask.__table__
    return int(session.execute(select(func.count()).select_from(table).where(
        *_ready_tasks(instance_id, role, roles, assignee, process_key))).scalar_one())


def show(session: Session, instance_id: int, audit: bool = True) -> CaseRecord:
    """An instance as stored: status, data, ready tasks, timers, error and (optionally) history."""
    case = load_case(session, instance_id)
    return case_view(session, case, rows.tasks_by_id(session, case.ready_tasks or []), audit)


def case_view(session: Session, case: Case, ready_rows: list[dict], audit: bool) -> CaseRecord:
    """The public form of a case, given its ready task rows."""
    rows = sorted(ready_rows, key=lambda r: (r["sort_due"], r["created_at"]))
    out: CaseRecord = {
        "id": case.id or 0,
        "process_key": case.process_key,
        "version": case.definition.version,
        "definition_id": case.definition_id,
        "business_key": case.business_key,
        "status": case.status,
        "error": {"message": case.error, "task": case.error_task} if case.status == "error" else None,
        "data": case.data,
        "tasks": [task_dict(r) for r in rows],
        "timers": list(case.timers or []),
        "started_by": case.started_by,
        "created_at": case.created_at.isoformat(),
        "updated_at": _iso(case.updated_at),
        "completed_at": _iso(case.completed_at),
    }
    if audit and case.id is not None:
        out["audit"] = audit_log(session, case.id)
    return out


def audit_log(session: Session, instance_id: int) -> list[AuditRecord]:
    """The instance's history, oldest first."""
    return [
        AuditRecord(at=e.at.isoformat(), actor=e.actor, kind=e.kind, task=e.task, payload=e.payload)
        for e in session.scalars(select(store.AuditEvent).where(store.AuditEvent.instance_id == instance_id)
                                 .order_by(store.AuditEvent.id))
    ]


def instance_tasks(session: Session, instance_id: int) -> list[TaskRecord]:
    """Every human task the instance has had (ready, completed, cancelled), oldest first."""
    table = store.HumanTask.__table__
    stmt = select(table).where(table.c.instance_id == instance_id).order_by(table.c.created_at)
    return [task_dict(r._mapping) for r in session.execute(stmt)]


def completed_elements(session: Session, instance_id: int) -> list[str]:
    """BPMN ids of the instance's own diagram elements completed so far (to mark the diagram)."""
    return list(load_case(session, instance_id).trail or [])



def diagram(session: Session, definition_id: int) -> dict[str, str]:
    """The BPMN files of a deployed version (file name -> XML)."""
    definition = _definition(session, definition_id)
    if definition is None:
        raise NotFound(f"no process version {definition_id}")
    return {n: t for n, t in definition.files.items() if n.endswith(".bpmn")}


def diagram_xml(session: Session, definition_id: int) -> str:
    """The BPMN file of a deployed version that defines its process (for drawing it)."""
    definition = _definition(session, definition_id)
    if definition is None:
        raise NotFound(f"no process version {definition_id}")
    files = diagram(session, definition_id)
    for name in sorted(files):
        root = bundles.parse_xml(name, files[name]).getroot()
        if any(p.get("id") == definition.key for p in root.iter(_BPMN_PROCESS)):
            return files[name]
    raise NotFound(f"no BPMN file of version {definition_id} defines {definition.key!r}")
