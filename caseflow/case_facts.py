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
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, delete, func, insert, inspect, or_, select, update
from sqlalchemy.orm import Session

from caseflow import clock, config, fact_summary, store, store_reports
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
STAGES = store_reports.FACT_STAGES
REJECTED_OUTCOME = "rejected"
DEADLINE_STATES = ("met", "late", "open")
ESCALATION_LEVELS = {"manager": "escalations_manager", "general_manager": "escalations_gm"}
_TEXT_FIELDS = ("department", "customer_code", "customer_name", "product_model", "complaint_type", "kpi_class")
_AMOUNT_FIELDS = ("loss_amount", "delivery_amount", "fee")
_FLAG_FIELDS = ("satisfied", "in_warranty", "chargeable")
#: Data keys and task names of the shipped processes' public contract (PRODUCT.md §2 step 7–10, §5) that
#: the facts read beyond the manifest's ``facts.fields``: the resolution plan's lines (DOMAIN.md §3.8),
#: the tasks that submit and approve a plan, the not-satisfied loop's follow-up task, the repair's end.
DISPOSITION_LINES = "disposition_lines"
PLAN_TASK, MANAGER_APPROVAL, GM_APPROVAL = "resolution_plan", "manager_approve_plan", "gm_approve_plan"
FOLLOW_UP_TASK = "follow_up"
REPAIR_OUTCOME, FEE_DECISION = "repair_outcome", "fee_decision"


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
    return calendar_ops.get_calendar(timezone=config.timezone_name()).working_days_between(start, end)


def _last_done(tasks: list[Mapping[str, Any]], name: str) -> dt.datetime | None:
    done = [_aware(t["completed_at"]) for t in tasks if t["name"] == name and t["state"] == "completed"]
    return max((d for d in done if d is not None), default=None)


def plan_approved(data: Mapping[str, Any], tasks: list[Mapping[str, Any]]) -> bool:
    """Whether the case's current resolution plan is approved: the manager approved it after it was last
    submitted, and the general manager approved it too when asked to after that (none waiting)."""
    submitted, manager = _last_done(tasks, PLAN_TASK), _last_done(tasks, MANAGER_APPROVAL)
    if submitted is None or manager is None or manager < submitted or data.get("manager_decision") != "approve":
        return False
    if any(t["name"] == GM_APPROVAL and t["state"] == "ready" for t in tasks):
        return False
    gm = _last_done(tasks, GM_APPROVAL)
    return gm is None or gm < manager or data.get("gm_plan_decision") == "approve"


def dispositions(data: Mapping[str, Any]) -> dict[str, Any]:
    """The ``disp_<kind>_qty`` / ``disp_<kind>_amount`` columns: the plan lines' sums per disposition kind
    (lines of unknown kinds or without numbers are left out)."""
    out: dict[str, Any] = {}
    lines = data.get(DISPOSITION_LINES)
    for line in lines if isinstance(lines, list) else []:
        if not isinstance(line, dict) or not isinstance(line.get("kind"), str):
            continue
        kind = line["kind"].strip().lower()
        if kind not in store_reports.DISPOSITION_KINDS:
            continue
        quantity, amount = _integer(line.get("quantity")), _number(line.get("amount"))
        out[f"disp_{kind}_qty"] = (out.get(f"disp_{kind}_qty") or 0) + (quantity or 0)
        out[f"disp_{kind}_amount"] = (out.get(f"disp_{kind}_amount") or 0.0) + (amount or 0.0)
    return out


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

    registered = clock.parse_moment(value("registered_at")) if isinstance(value("registered_at"), str) else None
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
    elif status == "completed" and value("outcome") == REJECTED_OUTCOME:
        row["stage"] = "rejected"  # judged not valid: counted as registered, never in the KPI (weight 0)
        row["kpi_weight"] = 0
    elif status == "completed":
        row["stage"] = "resolved"
    else:
        row["stage"] = "follow_up" if ready & set(facts_spec.follow_up_tasks) else "in_progress"

    by_key = {d.key: d for d in deadlines}
    ended = _aware(completed_at)
    for name in store.FACT_DEADLINES:
        key = facts_spec.deadlines.get(name)
        due = clock.parse_moment(data.get(key)) if key else None
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

    approved = dispositions(data) if plan_approved(data, task_list) else {}
    for kind in store_reports.DISPOSITION_KINDS:
        row[f"disp_{kind}_qty"] = approved.get(f"disp_{kind}_qty")
        row[f"disp_{kind}_amount"] = approved.get(f"disp_{kind}_amount")
    row["follow_ups"] = sum(1 for t in task_list if t["name"] == FOLLOW_UP_TASK and t["state"] == "completed")
    row["repair_outcome"] = _text(data.get(REPAIR_OUTCOME), 30)
    row["fee_decision"] = _text(data.get(FEE_DECISION), 20)

    row["turnaround_days"] = None
    if facts_spec.turnaround:
        start, end = (_date(data.get(k)) for k in facts_spec.turnaround)
        if start is not None and end is not None:
            row["turnaround_days"] = working_days(start, end)
    return row


def year_seq(row: Mapping[str, Any]) -> Any:
    """The customer's Nth complaint of the year of ``row`` as an SQL scalar: 1 + the facts rows of the
    same process and customer registered earlier in the same year of the business time zone (ties by
    case id); None without a customer. Part of the row's own UPDATE or INSERT, never a statement more."""
    if not row.get("customer_code"):
        return None
    earlier = _FACTS.alias("earlier")
    registered, iid = row["registered_at"], row["instance_id"]
    year_start = dt.datetime(int(row["registered_month"][:4]), 1, 1, tzinfo=clock.business_zone())
    return (select(func.count() + 1).select_from(earlier)
            .where(earlier.c.process_key == row["process_key"], earlier.c.customer_code == row["customer_code"],
                   earlier.c.registered_at >= year_start, earlier.c.registered_at <= registered,
                   or_(earlier.c.registered_at < registered, earlier.c.instance_id < iid))
            .scalar_subquery())


def upsert(session: Session, row: dict[str, Any]) -> None:
    """Insert or update the facts row of one case (its Nth complaint of the year with it), and move the
    report summaries with it."""
    conn = session.connection()
    before = fact_summary.contribution(conn, row["instance_id"])
    seq = year_seq(row)
    params = {k: v for k, v in row.items() if k not in ("instance_id", "year_seq")}
    if conn.execute(_UPDATE.values(year_seq=seq), dict(params, _id=row["instance_id"])).rowcount == 0:
        conn.execute(_INSERT.values(year_seq=seq), {k: v for k, v in row.items() if k != "year_seq"})
    fact_summary.apply(conn, before, fact_summary.contribution(conn, row["instance_id"]))


def number_years(conn: Any, process_key: str | None = None) -> None:
    """Set every facts row's ``year_seq`` again (of ``process_key`` when given), as :func:`year_seq` counts:
    one ordered read, then the changed values written in batches."""
    stmt = (select(_FACTS.c.instance_id, _FACTS.c.process_key, _FACTS.c.customer_code, _FACTS.c.registered_month,
                   _FACTS.c.year_seq)
            .order_by(_FACTS.c.process_key, _FACTS.c.customer_code, _FACTS.c.registered_at, _FACTS.c.instance_id))
    if process_key:
        stmt = stmt.where(_FACTS.c.process_key == process_key)
    changed: list[dict[str, Any]] = []
    group, n = None, 0
    for iid, key, customer, month, old in conn.execute(stmt).all():
        if customer is None:
            seq = None
        else:
            n = n + 1 if (key, customer, month[:4]) == group else 1
            group, seq = (key, customer, month[:4]), n
        if seq != old:
            changed.append({"_id": iid, "_seq": seq})
    renumber = update(_FACTS).where(_FACTS.c.instance_id == bindparam("_id")).values(year_seq=bindparam("_seq"))
    for start in range(0, len(changed), BATCH * 10):
        conn.execute(renumber, changed[start:start + BATCH * 10])


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
    written, last_id, now, tz = 0, 0, clock.now(), clock.business_zone()
    while True:
        batch = conn.execute(stmt.where(_CASE.c.id > last_id).limit(BATCH)).all()
        if not batch:
            if "year_seq" in present:
                number_years(conn, process_key)
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
