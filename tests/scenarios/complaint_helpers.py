"""Drivers for complaint scenarios: registration data, task completion by role, stage shortcuts.

Every completion goes through ``engine.complete`` with the role the task must belong to
(``roles={role}``), so a task offered to the wrong role fails with ``engine.Forbidden``.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from story_time import on_the_day

import engine
from caseflow import clock

ROOT = Path(__file__).resolve().parents[2]
COMPLAINT_BUNDLE = ROOT / "processes" / "complaint"
REPAIR_BUNDLE = ROOT / "processes" / "repair"
RETURNED_GOODS_BUNDLE = ROOT / "processes" / "returned_goods"
NEVER = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)

ACTORS = {  # role -> user name used in the scenarios
    "customer_service": "cs1", "quality": "qa1", "logistics": "log1", "marketing": "mkt1",
    "manager": "mgr1", "general_manager": "gm1", "service_center": "svc1", "finance": "fin1",
}


def deploy(session) -> dict[str, Any]:
    """Deploy the complaint bundle with the repair and returned-goods bundles it calls; key -> DeployResult."""
    return {r.key: r for r in engine.deploy(session, [COMPLAINT_BUNDLE, REPAIR_BUNDLE, RETURNED_GOODS_BUNDLE],
                                            actor="admin")}


def quality_registration(**overrides: Any) -> dict:
    """A complete quality complaint: 20 functional defects in a lot of 1000 -> major, serious."""
    data = {
        "channel": "phone", "customer_name": "Huaxin Electronics", "customer_code": "C-0815",
        "customer_contact": "Ms Li, 138 0000 0000", "product_no": "PN-4711", "product_model": "HX-200",
        "order_no": "SO-2026-0042", "ship_date": "2026-02-20", "ship_qty": 1000, "found_stage": "incoming",
        "description": "20 units do not power on at incoming inspection.",
        "customer_request": "Replace the defective units and send an 8D report.",
        "complaint_type": "quality", "functional_defect_qty": 20, "cosmetic_defect_qty": 0, "lot_size": 1000,
    }
    data.update(overrides)
    return data


def general_quality_registration(**overrides: Any) -> dict:
    """12 cosmetic defects, no functional ones: kpi_class general, urgency general."""
    return quality_registration(functional_defect_qty=0, cosmetic_defect_qty=12, **overrides)


def transport_registration(**overrides: Any) -> dict:
    data = {"channel": "email", "customer_code": "C-2001", "complaint_type": "transport",
            "description": "Cartons crushed on arrival; 3 units scratched."}
    data.update(overrides)
    return data


def start(session, data: dict, actor: str = "cs1") -> dict:
    return engine.start(session, "complaint", data, actor=actor)


def view(session, iid: int) -> dict:
    return engine.show(session, iid)


def data(session, iid: int) -> dict:
    return engine.show(session, iid, audit=False)["data"]


def ready(session, iid: int) -> dict[str, dict]:
    """Ready human tasks of the instance by BPMN id (each id at most once)."""
    tasks = engine.list_tasks(session, instance_id=iid)
    names = [t["name"] for t in tasks]
    assert len(names) == len(set(names)), f"duplicate ready tasks: {names}"
    return {t["name"]: t for t in tasks}


def ready_names(session, iid: int) -> set[str]:
    return set(ready(session, iid))


def complete(session, iid: int, name: str, values: dict | None = None, role: str | None = None,
             actor: str | None = None, on_its_day: bool = True) -> dict:
    """Complete the ready task ``name`` as a user holding ``role`` (checked by the engine); with
    ``on_its_day`` a frozen clock first moves to the latest day the values record (story_time)."""
    tasks = ready(session, iid)
    assert name in tasks, f"{name} is not ready; ready: {sorted(tasks)}"
    task = tasks[name]
    role = role or task["role"]
    if on_its_day:
        on_the_day(values)
    return engine.complete(session, task["id"], values or {},
                           actor=engine.Actor.person(actor or ACTORS.get(role, role), {role}))


def fire(session, clock_module, **delta: float) -> int:
    """Advance the clock and run the timer worker once (twice is never needed)."""
    clock_module.advance(dt.timedelta(**delta))
    return engine.fire_due_timers(session)


def audit(session, iid: int, kind: str | None = None) -> list[dict]:
    return [e for e in engine.audit_log(session, iid) if kind is None or e["kind"] == kind]


# ---------------------------------------------------------------- stage shortcuts
def confirm(session, iid: int, role: str = "quality", **values: Any) -> dict:
    values = {"complaint_valid": True, "override_grade": False, **values}
    return complete(session, iid, "confirm_grade", values, role=role)


def d1(session, iid: int, dept: str = "quality", containment_needed: bool = False) -> dict:
    return complete(session, iid, "d1_describe", {"problem_description": "No power-on; PCB solder joint open.",
                                                  "containment_needed": containment_needed}, role=dept)


def d2(session, iid: int, dept: str = "quality") -> dict:
    return complete(session, iid, "d2_contain", {
        "containment_actions": "Stop shipments of lot 2602; 100 % re-test of stock.",
        "shipped_goods_disposition": "Customer stock sorted on site by our team."}, role=dept)


def d3(session, iid: int, responsibility: str = "internal", dept: str = "quality", review: bool = True) -> dict:
    """3D, then (``review``) the quality reviewer approves 2D/3D (F09 审核)."""
    result = complete(session, iid, "d3_root_cause", {"root_cause": "Reflow profile drifted on line 3.",
                                                      "responsibility": responsibility,
                                                      "responsible_person": "Wang (line 3)"}, role=dept)
    return review_d2_d3(session, iid) if review else result


def review_d2_d3(session, iid: int, decision: str = "approve", comment: str | None = None) -> dict:
    values = {"d2_d3_review_decision": decision}
    if comment:
        values["d2_d3_review_comment"] = comment
    return complete(session, iid, "review_d2_d3", values, role="quality")


def d4(session, iid: int, dept: str = "quality") -> dict:
    return complete(session, iid, "d4_actions", {"corrective_actions": "Reflow profile re-qualified.",
                                                 "preventive_actions": "Daily profile check added to PM plan."},
                    role=dept)


def eight_d(session, iid: int, dept: str = "quality", responsibility: str = "internal",
            contain: bool | None = None) -> None:
    """1D (containment_needed = contain or False) [2D when ready] 3D 4D."""
    d1(session, iid, dept, containment_needed=bool(contain))
    if "d2_contain" in ready_names(session, iid):
        d2(session, iid, dept)
    d3(session, iid, responsibility, dept)
    d4(session, iid, dept)


def plan(session, iid: int, lines: list[dict] | None = None, delivery_amount: float = 100000,
         dept: str = "quality") -> dict:
    lines = lines if lines is not None else [
        # Compensation, not an exchange: an exchange line runs the returned-goods process
        # (tests/scenarios/test_returned_goods_calls.py walks that).
        {"kind": "compensation", "quantity": 20, "amount": 5000},
        {"kind": "discount", "quantity": 1, "amount": 1000, "note": "goodwill"}]
    return complete(session, iid, "resolution_plan", {"plan_summary": "Exchange the 20 units, 1,000 RMB discount.",
                                                      "disposition_lines": lines,
                                                      "delivery_amount": delivery_amount}, role=dept)


def manager_decides(session, iid: int, decision: str = "approve", comment: str | None = None) -> dict:
    values = {"manager_decision": decision}
    if comment:
        values["manager_comment"] = comment
    return complete(session, iid, "manager_approve_plan", values, role="manager")


def implement(session, iid: int) -> dict:
    """Stage 10; a returned-goods call of the plan still running (exchange lines) is walked first."""
    from returned_goods_cases import rg_pending, walk_returned_goods  # it imports this module
    if rg_pending(session, iid):
        walk_returned_goods(session, iid)
    today = clock.now().astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()  # not in the future
    return complete(session, iid, "implement_notify", {"implementation_result": "20 units exchanged.",
                                                       "customer_notified_on": today,
                                                       "notification_channel": "phone"}, role="customer_service")


def feedback(session, iid: int, satisfied: bool = True, satisfaction: int = 5) -> dict:
    return complete(session, iid, "customer_feedback", {"customer_feedback": "Fine." if satisfied else "Too slow.",
                                                        "satisfaction": satisfaction, "satisfied": satisfied},
                    role="customer", actor="cs1 for the customer")  # a customer task, here completed for them


def verify_and_close(session, iid: int) -> dict:
    complete(session, iid, "capa_verify", {"capa_effective": True, "verification_notes": "3 lots OK."},
             role="quality")
    return complete(session, iid, "close_summary", {"final_result": "Exchanged; customer satisfied.",
                                                    "lessons_learned": "Profile drift must alarm."}, role="quality")


def acknowledge(session, iid: int, name: str, role: str) -> dict:
    return complete(session, iid, name, {"escalation_acknowledged": True,
                                         "escalation_instruction": "Finish today, report to me."}, role=role)


def repair_form(name: str) -> dict:
    return json.loads((REPAIR_BUNDLE / name).read_text(encoding="utf-8"))
