"""Seeded cases for the KPI report tests, and the figures recounted from the instance data and
task rows (never from ``case_facts``): the independent check of every figure."""
from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

from sqlalchemy import select

import engine
from bench import seed
from caseflow import clock, store

TZ = ZoneInfo("Asia/Shanghai")
KINDS = ("return", "exchange", "repair", "discount", "compensation", "make_up_shipment", "claim", "recall")
# The complaint manifest's deadlines (processes/complaint/manifest.json) with the tasks that finish them.
DEADLINES = {"reaction": ("react_by", ("confirm_grade", "d1_describe")),
             "containment": ("containment_by", ("d2_contain",)),
             "closure": ("close_by", ()), "repair_reply": ("review_due", ("review_application",)),
             "repair_cycle": ("repair_due", ("repair_device",))}


def seed_cases(database, complaints: int = 16, repairs: int = 8, months: int = 3) -> None:
    """Deploy the complaint and repair processes and seed cases through the engine (bench/seed.py);
    the clock is left at 2025-06-01."""
    with database.session() as s:
        engine.deploy(s, seed.BUNDLES, actor="admin")
    counts = seed.seed(database.session, complaints=complaints, repairs=repairs, months=months, rng_seed=11,
                       start=dt.datetime(2025, 1, 6, 9, 0, tzinfo=TZ))
    assert counts == {"complaint": complaints, "repair": repairs}
    clock.set(dt.datetime(2025, 6, 1, 9, 0, tzinfo=TZ))


def _moment(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    moment = dt.datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def complaints_with_tasks(database) -> tuple[list, dict[int, list]]:
    """Every complaint's row (id, business key, status, data, created and completed), and the task rows
    (name, state, completed) per instance."""
    with database.session() as s:
        cases = s.execute(select(store.ProcessInstance.id, store.ProcessInstance.business_key,
                                 store.ProcessInstance.status, store.ProcessInstance.data,
                                 store.ProcessInstance.created_at, store.ProcessInstance.completed_at)
                          .where(store.ProcessInstance.process_key == "complaint")).all()
        tasks: dict[int, list] = {}
        for t in s.execute(select(store.HumanTask.instance_id, store.HumanTask.name, store.HumanTask.state,
                                  store.HumanTask.completed_at)):
            tasks.setdefault(t.instance_id, []).append(t)
    return list(cases), tasks


def recount(database, start: dt.date, end: dt.date, department: str | None = None,
            customer: str | None = None) -> dict:
    """The figures recomputed from the instance data and task rows (never from case_facts)."""
    now = clock.now()
    cases, tasks = complaints_with_tasks(database)
    nth = _nth_of_year(cases)
    out: dict = {"cost": {k: Counter() for k in KINDS}, "sat_first": 0, "sat_after": 0, "nth": Counter(),
                 "n": 0, "weight": 0, "classes": Counter(), "loss": 0.0, "delivery": 0.0, "sat": Counter(),
                 "stages": Counter(), "months": Counter(), "deadlines": {k: Counter() for k in DEADLINES},
                 "customers": Counter(), "models": Counter(), "types": Counter(),
                 "open_age": {k: Counter() for k in ("in_progress", "follow_up")}, "oldest": []}
    today = now.astimezone(TZ).date()
    for c in cases:
        data = c.data
        registered = _moment(data.get("received_at")) or c.created_at
        if not start <= registered.astimezone(TZ).date() <= end:
            continue
        if department and data.get("responsible_dept") != department:
            continue
        if customer and data.get("customer_code") != customer:
            continue
        out["n"] += 1
        rejected = c.status == "completed" and data.get("outcome") == "rejected"  # not valid: weighs nothing
        out["weight"] += 0 if rejected else data.get("kpi_weight") or 0
        out["classes"][data.get("kpi_class") or "ungraded"] += 1
        out["months"][registered.astimezone(TZ).strftime("%Y-%m")] += 1
        out["customers"][data.get("customer_code")] += 1
        out["models"][data.get("product_model")] += 1
        out["types"][data.get("complaint_type")] += 1
        if data.get("loss_amount") is not None and data.get("delivery_amount"):
            out["loss"] += data["loss_amount"]
            out["delivery"] += data["delivery_amount"]
        if data.get("satisfaction"):
            out["sat"][str(data["satisfaction"])] += 1
        mine = tasks.get(c.id, [])
        if data.get("satisfied") is True:
            follow_ups = [t for t in mine if t.name == "follow_up" and t.state == "completed"]
            out["sat_after" if follow_ups else "sat_first"] += 1
        if _approved(data, mine):
            for line in data.get("disposition_lines") or []:
                out["cost"][line["kind"]]["quantity"] += line["quantity"]
                out["cost"][line["kind"]]["amount"] += line["amount"]
            for kind in {line["kind"] for line in data.get("disposition_lines") or []}:
                out["cost"][kind]["cases"] += 1
        if c.id in nth:
            out["nth"][min(nth[c.id], 4)] += 1
        ready = {t.name for t in tasks.get(c.id, []) if t.state == "ready"}
        stage = "rejected" if rejected else {"completed": "resolved", "cancelled": "cancelled"}.get(c.status) or (
            "follow_up" if ready & {"customer_feedback", "follow_up"} else "in_progress")
        out["stages"][stage] += 1
        if stage in out["open_age"]:
            age = (today - registered.astimezone(TZ).date()).days
            band = "le_7d" if age <= 7 else "8_30d" if age <= 30 else "31_90d" if age <= 90 else "gt_90d"
            out["open_age"][stage][band] += 1
            out["oldest"].append((registered, c.id))
        for name, (key, bound_names) in DEADLINES.items():
            due = _moment(data.get(key))
            if due is None:
                continue
            bound = [t for t in tasks.get(c.id, []) if t.name in bound_names]
            if bound:
                done = [t.completed_at for t in bound if t.state != "ready"]
                done_at = max(done) if len(done) == len(bound) else None
            else:
                done_at = c.completed_at
            state = "open" if done_at is None else "met" if done_at <= due else "late"
            out["deadlines"][name][state] += 1
            if state == "open" and due < now:
                out["deadlines"][name]["overdue"] += 1
    return out


def _last(tasks: list, name: str):
    return max((t.completed_at for t in tasks if t.name == name and t.state == "completed"), default=None)


def _approved(data: dict, tasks: list) -> bool:
    """The plan in the data was approved: by the manager after it was last submitted, and by the GM when
    the GM was asked after that."""
    plan, manager, gm = _last(tasks, "resolution_plan"), _last(tasks, "manager_approve_plan"), _last(
        tasks, "gm_approve_plan")
    if plan is None or manager is None or manager < plan or data.get("manager_decision") != "approve":
        return False
    if any(t.name == "gm_approve_plan" and t.state == "ready" for t in tasks):
        return False
    return gm is None or gm < manager or data.get("gm_plan_decision") == "approve"


def _nth_of_year(cases) -> dict[int, int]:
    """Each complaint's rank among its customer's complaints of the same (local) year, by receipt time."""
    by_customer: dict[tuple, list] = {}
    for c in cases:
        if not c.data.get("customer_code"):
            continue
        registered = _moment(c.data.get("received_at")) or c.created_at
        by_customer.setdefault((c.data["customer_code"], registered.astimezone(TZ).year), []).append((registered, c.id))
    return {iid: rank for found in by_customer.values() for rank, (_at, iid) in enumerate(sorted(found), start=1)}


def recount_repairs(database, start: dt.date, end: dt.date) -> dict:
    """The repair figures recomputed from the repair instances' data (never from case_facts)."""
    with database.session() as s:
        cases = s.execute(select(store.ProcessInstance.data, store.ProcessInstance.created_at)
                          .where(store.ProcessInstance.process_key == "repair")).all()
    out: dict = {"applications": 0, "in": 0, "out": 0, "chargeable": 0, "free": 0, "fee": 0.0, "declined": 0,
                 "returned_unrepaired": 0, "abandoned": 0}
    for data, created in cases:
        registered = _moment(data.get("application_received_at")) or created
        if not start <= registered.astimezone(TZ).date() <= end:
            continue
        out["applications"] += 1
        out["in"] += data.get("in_warranty") is True
        out["out"] += data.get("in_warranty") is False
        out["chargeable"] += data.get("chargeable") is True
        out["free"] += data.get("chargeable") is False
        out["fee"] += float(data.get("fee_amount") or 0)
        out["declined"] += data.get("fee_decision") == "declined"
        out["returned_unrepaired"] += data.get("repair_outcome") == "returned_unrepaired"
        out["abandoned"] += data.get("repair_outcome") == "abandoned"
    return out

