"""Case facts: the one writer of ``case_facts``, the flat reporting row of each case.

:func:`derive` makes a case's row from its plain values (data snapshot, status, times and
human task rows), as the process manifest's ``facts`` section says (which data key feeds which
column, which deadline is which, which tasks mean "pending follow-up"); :func:`upsert` writes
it. The engine calls both after each save (:mod:`caseflow._engine.facts`); :func:`rebuild`
derives every stored case's row again (the ``0004_case_facts`` migration, ``caseflow facts
rebuild``). Never a workflow is deserialized: only ``process_instance`` and ``human_task``
rows are read. Below the engine (like :mod:`caseflow.store`), so migrations may use it.
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, delete, insert, inspect, select, update
from sqlalchemy.orm import Session

from caseflow import clock, config, fact_summary, store
from caseflow import manifest as manifests
from service_tasks import calendar_ops

_FACTS: Table = store.CaseFacts.__table__  # type: ignore[assignment]  # declarative tables are Tables
_CASE: Table = store.ProcessInstance.__table__  # type: ignore[assignment]
_TASK: Table = store.HumanTask.__table__  # type: ignore[assignment]
_DEFINITION: Table = store.ProcessDefinition.__table__  # type: ignore[assignment]

_UPDATE = update(_FACTS).where(_FACTS.c.instance_id == bindparam("_id"))
_INSERT = insert(_FACTS)
CASE_TASKS = (select(_TASK.c.instance_id, _TASK.c.name, _TASK.c.state, _TASK.c.completed_at)
              .where(_TASK.c.instance_id.in_(bindparam("ids", expanding=True))))
BATCH = 500  # instances per query when rebuilding

#: Stages (F11's handling progress) and the deadline states a facts row holds.
STAGES = ("in_progress", "follow_up", "resolved", "cancelled")
DEADLINE_STATES = ("met", "late", "open")
ESCALATION_LEVELS = {"manager": "escalations_manager", "general_manager": "escalations_gm"}
_TEXT_FIELDS = ("department", "customer_code", "customer_name", "product_model", "complaint_type", "kpi_class")
_AMOUNT_FIELDS = ("loss_amount", "delivery_amount", "fee")
_FLAG_FIELDS = ("satisfied", "in_warranty", "chargeable")


def parse_due(value: Any) -> dt.datetime | None:
    """A deadline data value (ISO date-time, or a date meaning its end of day) as an aware datetime
    (the engine's reading of deadline values)."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = dt.datetime.combine(dt.date.fromisoformat(value), dt.time(23, 59, 59))
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def business_zone() -> ZoneInfo:
    """The business time zone (``CASEFLOW_TIMEZONE``): months of the reports are local months."""
    return _zone(config.load().timezone)


def _text(value: Any, limit: int) -> str | None:
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = str(value).strip()
    return text[:limit] if text else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _integer(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number.is_integer() and abs(number) < 2**53 else None


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _date(value: Any) -> dt.date | None:
    if isinstance(value, str) and len(value) >= 10:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _deadline_state(due: dt.datetime | None, done_at: dt.datetime | None) -> str | None:
    if due is None:
        return None
    if done_at is None:
        return "open"
    return "met" if done_at <= due else "late"


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def working_days(start: dt.date, end: dt.date) -> int | None:
    """Working days in (start, end] on the business calendar (China's, with make-up days)."""
    if end < start:
        return None
    return calendar_ops.get_calendar(timezone=config.load().timezone).working_days_between(start, end)


def derive(facts_spec: manifests.Facts, deadlines: Sequence[manifests.Deadline], *, instance_id: int,
           process_key: str, status: str, data: Mapping[str, Any], created_at: dt.datetime,
           completed_at: dt.datetime | None, tasks: Iterable[Mapping[str, Any]], now: dt.datetime,
           tz: ZoneInfo) -> dict[str, Any]:
    """The facts row of one case (a dict of ``case_facts`` columns) from its plain values.

    ``tasks`` are its human task rows (``name``, ``state``, ``completed_at``), finished and
    ready. A deadline is done when every task bound to it that the case has had is finished
    (none bound yet: when the case ends), the rule of the case page.
    """
    fields = facts_spec.fields
    task_list = list(tasks)

    def value(column: str) -> Any:
        key = fields.get(column)
        return data.get(key) if key else None

    registered = parse_due(value("registered_at")) if isinstance(value("registered_at"), str) else None
    registered = registered or created_at
    local = registered.astimezone(tz)
    row: dict[str, Any] = dict(instance_id=instance_id, process_key=process_key, registered_at=registered,
                               registered_month=local.strftime("%Y-%m"), registered_day=local.strftime("%Y-%m-%d"),
                               status=status, updated_at=now)
    for column in _TEXT_FIELDS:
        row[column] = _text(value(column), 300 if column == "customer_name" else 200)
    for column in _AMOUNT_FIELDS:
        row[column] = _number(value(column))
    for column in _FLAG_FIELDS:
        row[column] = _flag(value(column))
    row["kpi_weight"] = _integer(value("kpi_weight"))
    satisfaction = _integer(value("satisfaction"))
    row["satisfaction"] = satisfaction if satisfaction is not None and 1 <= satisfaction <= 5 else None

    ready = {t["name"] for t in task_list if t["state"] == "ready"}
    if status == "cancelled":
        row["stage"] = "cancelled"
    elif status == "completed":
        row["stage"] = "resolved"
    else:
        row["stage"] = "follow_up" if ready & set(facts_spec.follow_up_tasks) else "in_progress"

    by_key = {d.key: d for d in deadlines}
    ended = _aware(completed_at)
    for name in store.FACT_DEADLINES:
        key = facts_spec.deadlines.get(name)
        due = parse_due(data.get(key)) if key else None
        done_at: dt.datetime | None = None
        deadline = by_key.get(key) if key else None
        bound = [t for t in task_list if deadline is not None and deadline.binds(t["name"])]
        if bound:
            finished = [_aware(t["completed_at"]) for t in bound if t["state"] != "ready" and t["completed_at"]]
            done_at = max(f for f in finished if f is not None) if len(finished) == len(bound) else None
        else:
            done_at = ended
        row[name] = _deadline_state(due, done_at)
        row[f"{name}_due"] = due

    escalations = value("escalations")
    records = list(escalations.values()) if isinstance(escalations, dict) else []
    row["escalations"] = len(records)
    for level, column in ESCALATION_LEVELS.items():
        row[column] = sum(1 for r in records if isinstance(r, dict) and r.get("level") == level)

    row["turnaround_days"] = None
    if facts_spec.turnaround:
        start, end = (_date(data.get(k)) for k in facts_spec.turnaround)
        if start is not None and end is not None:
            row["turnaround_days"] = working_days(start, end)
    return row


def upsert(session: Session, row: dict[str, Any]) -> None:
    """Insert or update the facts row of one case, and move the report summaries with it."""
    conn = session.connection()
    before = fact_summary.contribution(conn, row["instance_id"])
    params = {k: v for k, v in row.items() if k != "instance_id"}
    if conn.execute(_UPDATE, dict(params, _id=row["instance_id"])).rowcount == 0:
        conn.execute(_INSERT, row)
    fact_summary.apply(conn, before, fact_summary.contribution(conn, row["instance_id"]))


def rebuild(session: Session, process_key: str | None = None) -> int:
    """Derive the facts of every case again (of ``process_key`` when given); returns rows written.

    Reads instance rows (never their workflow state) and task rows in batches of ``BATCH``;
    each batch replaces its cases' rows; then the report summaries are summed again (when the
    database has them: a migration may call this at an older revision, whose columns are written).
    """
    conn = session.connection()
    present = {c["name"] for c in inspect(conn).get_columns("case_facts")}
    manifest_of: dict[int, manifests.Manifest] = {}
    stmt = (select(_CASE.c.id, _CASE.c.definition_id, _CASE.c.process_key, _CASE.c.status, _CASE.c.data,
                   _CASE.c.created_at, _CASE.c.completed_at).order_by(_CASE.c.id))
    if process_key:
        stmt = stmt.where(_CASE.c.process_key == process_key)
    written, last_id, now, tz = 0, 0, clock.now(), business_zone()
    while True:
        batch = conn.execute(stmt.where(_CASE.c.id > last_id).limit(BATCH)).all()
        if not batch:
            if inspect(conn).has_table("case_fact_day"):
                fact_summary.rebuild(conn, process_key)
            return written
        last_id = batch[-1].id
        ids = [r.id for r in batch]
        tasks: dict[int, list[dict]] = {}
        for t in conn.execute(CASE_TASKS, {"ids": ids}):
            tasks.setdefault(t.instance_id, []).append(dict(t._mapping))
        out = []
        for r in batch:
            if r.definition_id not in manifest_of:
                files = conn.execute(select(_DEFINITION.c.files).where(_DEFINITION.c.id == r.definition_id)).scalar()
                manifest_of[r.definition_id] = manifests.load(files or {})
            manifest = manifest_of[r.definition_id]
            if manifest.facts is None:
                continue
            created = _aware(r.created_at) or now
            out.append(derive(manifest.facts, manifest.deadlines, instance_id=r.id, process_key=r.process_key,
                              status=r.status, data=r.data or {}, created_at=created,
                              completed_at=_aware(r.completed_at), tasks=tasks.get(r.id, []), now=now, tz=tz))
        conn.execute(delete(_FACTS).where(_FACTS.c.instance_id.in_(ids)))
        if out:
            conn.execute(_INSERT, [{k: v for k, v in r.items() if k in present} for r in out])
        written += len(out)
