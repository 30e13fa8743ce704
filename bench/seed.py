"""Seed realistic complaints and repairs through the engine, for the KPI dashboard.

Every case is started and driven with ``engine.start`` / ``engine.complete`` and the timer
worker (``engine.fire_due_timers``) on Caseflow's controllable clock (``caseflow.clock``):
registrations are spread over ``--months`` months (a few per working day), and each case is
taken a random distance along the complaint procedure — some stay at confirmation or in
8D, some wait for the customer's feedback, most are closed with a satisfaction level; some
tasks are done late, so deadlines are met, missed and escalated as in real life. Repairs are
started on their own process and driven likewise: answered remotely, repaired free or paid,
returned unrepaired when the customer declines the fee, abandoned when no device arrives. The same ``--seed`` gives the
same cases.

    .venv/bin/python bench/seed.py [--complaints 2000] [--repairs 500] [--months 12] [--start DAY] [--database URL]

The database (default: ``instance/caseflow.sqlite3`` or ``CASEFLOW_DATABASE_URL``) is migrated
and the complaint and repair processes of ``processes/`` deployed first.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, bench/ comes first on the path, where its modules (engine.py, http.py) would
# shadow the project's and the standard library's: the repository root is searched instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import engine  # noqa: E402  (after the sys.path set-up above)
from caseflow import clock, store  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
BUNDLES = [ROOT / "processes"]  # every shipped process (the complaint calls the returned-goods one)
ACTORS = {"customer_service": "cs1", "quality": "qa1", "logistics": "log1", "marketing": "mkt1",
          "manager": "mgr1", "general_manager": "gm1", "service_center": "svc1", "finance": "fin1"}
CUSTOMERS = [(f"C-{1000 + i}", name) for i, name in enumerate(
    ["Huaxin Electronics", "Dongfang Lighting", "Kaida Auto Parts", "Minghui Appliances", "Ruitai Medical",
     "Shengda Telecom", "Tianyu Solar", "Xinlong Motors", "Yuanhang Instruments", "Zhongke Devices"])]
MODELS = ["HX-200", "HX-300", "LM-10", "LM-20", "PV-5"]
TYPES = ["quality"] * 6 + ["transport", "packaging", "labeling", "quantity", "service"]


class Driver:
    """Completes a case's ready tasks by BPMN id, each as a user holding the task's role."""

    def __init__(self, session: Any):
        self.session = session

    def ready(self, iid: int) -> dict[str, dict]:
        return {t["name"]: t for t in engine.list_tasks(self.session, instance_id=iid)}

    def complete(self, task: dict, values: dict) -> None:
        role = task["role"]
        engine.complete(self.session, task["id"], values, actor=engine.Actor.person(ACTORS.get(role, role), {role}))


def registration(rng: random.Random) -> dict:
    code, name = rng.choice(CUSTOMERS)
    kind = rng.choice(TYPES)
    data: dict[str, Any] = {
        "channel": rng.choice(["phone", "email", "visit", "web"]), "customer_name": name, "customer_code": code,
        "customer_contact": "Ms Li, 138 0000 0000", "product_no": f"PN-{rng.randint(1000, 9999)}",
        "product_model": rng.choice(MODELS), "order_no": f"SO-{rng.randint(10000, 99999)}",
        "ship_date": "2025-01-02", "ship_qty": 1000, "found_stage": rng.choice(["incoming", "in_process"]),
        "description": "Units fail at incoming inspection.", "customer_request": "Replace the defective units.",
        "complaint_type": kind,
    }
    if kind == "quality":
        data.update(lot_size=1000, functional_defect_qty=rng.choice([0, 0, 5, 12, 20, 40]),
                    cosmetic_defect_qty=rng.choice([0, 3, 12, 30]))
    return data


ESCALATION = {"escalation_acknowledged": True, "escalation_instruction": "Finish today, report to me."}


def task_values(name: str, rng: random.Random) -> dict | None:
    """What a user enters in task ``name`` (None: a task the seed does not do)."""
    if name.endswith("_overdue"):
        return ESCALATION
    satisfaction = rng.choices([5, 4, 3, 2, 1], weights=[35, 35, 15, 10, 5])[0]
    today = clock.now().astimezone(TZ).date().isoformat()  # the seed's today: no form takes a later day
    values: dict[str, dict] = {
        # The intake check sends a complaint without defect counts back (VAL-01): the customer gives them.
        "complete_intake": {"lot_size": 1000, "functional_defect_qty": rng.choice([0, 5, 12, 20]),
                            "cosmetic_defect_qty": rng.choice([0, 3, 12])},
        "confirm_grade": {"complaint_valid": True, "override_grade": False} if rng.random() > 0.04 else
        {"complaint_valid": False, "override_grade": False, "invalid_reason": "No defect found."},
        "reply_invalid": {"reply_text": "Not a product defect.", "reply_channel": "email", "replied_on": today},
        "gm_acknowledge_special": {"gm_acknowledged": True},
        "d1_describe": {"problem_description": "Solder joint open.", "containment_needed": rng.random() < 0.4},
        "d2_contain": {"containment_actions": "Stop shipments.", "shipped_goods_disposition": "Sorted on site."},
        "d3_root_cause": {"root_cause": "Reflow profile drifted.", "responsibility": "internal",
                          "responsible_person": "Wang"},
        "review_d2_d3": {"d2_d3_review_decision": "approve"},
        "d4_actions": {"corrective_actions": "Profile re-qualified.", "preventive_actions": "Daily check."},
        "draft_explanation": {"explanation_text": "The cartons were crushed in transit."},
        "gm_approve_explanation": {"gm_explanation_decision": "approve"},
        "send_explanation": {"explanation_sent_on": today, "explanation_channel": "email"},
        "resolution_plan": {
            "plan_summary": "Exchange the units.", "delivery_amount": rng.choice([50000, 100000, 250000]),
            # Kinds the complaint settles itself (a return, exchange or make-up shipment line would call
            # the returned-goods process, whose tasks the seed does not drive).
            "disposition_lines": [{"kind": rng.choice(["discount", "compensation", "claim"]),
                                   "quantity": rng.randint(1, 40), "amount": rng.choice([500, 1000, 2500, 12000])}]},
        "manager_approve_plan": {"manager_decision": "approve"},
        "gm_approve_plan": {"gm_plan_decision": "approve"},
        "implement_notify": {"implementation_result": "Units exchanged.",
                             "customer_notified_on": today,
                             "notification_channel": "phone"},
        "customer_feedback": {"customer_feedback": "OK.", "satisfaction": satisfaction,
                              "satisfied": satisfaction >= 3},
        "follow_up": {"follow_up_measures": "Visited the customer."},
        "capa_verify": {"capa_effective": True, "verification_notes": "3 lots OK."},
        "capa_rework": {"rework_actions": "Profile re-done."},
        "close_summary": {"final_result": "Exchanged.", "lessons_learned": "Alarm on profile drift."},
    }
    return values.get(name)


#: Where a seeded complaint stops (the task left ready), with weights; None: closed.
STOPS = [("confirm_grade", 4), ("d1_describe", 3), ("d3_root_cause", 4), ("resolution_plan", 4),
         ("implement_notify", 3), ("customer_feedback", 6), ("follow_up", 3), ("capa_verify", 3), (None, 70)]


def drive_complaint(d: Driver, iid: int, rng: random.Random, advance: Callable[[float], None]) -> None:
    """Take one complaint a random distance along the procedure, tasks sometimes done late."""
    stop = rng.choices([s for s, _ in STOPS], weights=[w for _, w in STOPS])[0]
    late = rng.random() < 0.2  # this case's team is slow: some deadlines are missed and escalated
    for _ in range(60):
        ready = d.ready(iid)
        if not ready:
            return
        escalations = [n for n in ready if n.endswith("_overdue")]
        name = escalations[0] if escalations else sorted(ready)[0]
        if name == stop:
            return
        values = task_values(name, rng)
        if values is None:
            return
        hours = rng.choice([20, 40, 60]) if late and rng.random() < 0.5 else rng.choice([1, 2, 3, 5])
        advance(hours)
        engine.fire_due_timers(d.session)
        if name not in d.ready(iid):  # a timer moved the case on meanwhile
            continue
        d.complete(d.ready(iid)[name], values)


#: Where a seeded repair stops (the task left ready), with weights; None: driven to its end.
REPAIR_STOPS = [("review_application", 3), ("receive_device", 3), ("diagnose_device", 3), ("record_fee_decision", 3),
                ("repair_device", 3), (None, 85)]


def repair_values(name: str, rng: random.Random, today: str) -> dict | None:
    """What a user enters in repair task ``name`` (None: a task the seed does not do)."""
    fee = rng.choice([180, 300, 450])
    values: dict[str, dict] = {
        "review_application": {"review_opinion": "Needs a bench repair.", "remote_fixable": rng.random() < 0.1},
        "followup_review_overdue": {"review_escalation_action": "Answered the customer today."},
        "followup_review_gm": {"review_escalation_action": "Answered the customer today."},
        "remote_guidance": {"remote_guidance": "Reset the unit as described.", "remote_guidance_channel": "phone"},
        "send_shipping_instructions": {"ship_to_address": "Service centre, 8 Road, Suzhou",
                                       "shipping_method": "express", "instructions_sent_via": "email"},
        "receive_device": {"received_date": today},
        "remind_customer_to_ship": {"reminder_via": "phone"},
        "notify_case_closed": {"abandon_notified_via": "phone"},
        "diagnose_device": {"fault_cause": rng.choice(["quality", "quality", "man_made", "improper_storage",
                                                       "no_fault_found"]),
                            "diagnosis": "Power board failed.", "estimated_fee": fee},
        "send_fee_notice": {"fee_amount": fee, "payment_instructions": "Bank transfer to the service account.",
                            "fee_notice_date": today, "fee_notice_sent_via": "email"},
        "record_fee_decision": {"fee_decision": "accepted", "fee_decision_date": today} if rng.random() < 0.7 else
        {"fee_decision": "declined", "fee_decision_date": today, "fee_decline_reason": "Too expensive."},
        "return_unrepaired": {"carrier": "SF Express", "tracking_no": f"SF{rng.randint(10**9, 10**10)}",
                              "shipped_date": today},
        "confirm_payment": {"payment_confirmed_date": today, "payment_amount": fee},
        "repair_device": {"work_done": "Power board replaced.", "test_result": "Passed 24 h burn-in.",
                          "technician": "Chen", "repair_completed_date": today},
        "manager_repair_overdue": {"repair_escalation_instruction": "Finish it today."},
        "negotiate_with_customer": {"negotiation_result": "The customer agrees to wait.",
                                    "negotiation_channel": "phone"},
        "ship_back": {"carrier": "SF Express", "tracking_no": f"SF{rng.randint(10**9, 10**10)}", "shipped_date": today,
                      "repair_report_enclosed": True},
        "notify_customer_shipped": {"ship_notice_via": "phone"},
    }
    return values.get(name)


def _fire_all(session: Any) -> None:
    while engine.fire_due_timers(session):
        pass


#: The course of the Nth seeded repair (N mod 10): the device never arrives (abandoned), the customer declines
#: the fee of a chargeable fault (returned unrepaired), or the usual course (remote answer, free or paid repair).
COURSES = ("usual", "usual", "abandon", "usual", "usual", "decline", "usual", "usual", "decline", "usual")


def drive_repair(d: Driver, iid: int, rng: random.Random, advance: Callable[[float], None],
                 course: str = "usual") -> None:
    """Take one repair along its ``course`` (:data:`COURSES`): answered remotely or repaired free or paid,
    sometimes left open on the way; returned unrepaired after a declined fee; abandoned when no device arrives."""
    stop = rng.choices([s for s, _ in REPAIR_STOPS], weights=[w for _, w in REPAIR_STOPS])[0]
    stop = stop if course == "usual" else None
    never_ships = course == "abandon"
    for _ in range(40):
        today = clock.now().astimezone(TZ).date().isoformat()
        ready = [n for n in d.ready(iid) if repair_values(n, random.Random(0), today) is not None]
        if not ready:  # ended, or only tasks the seed leaves to others (the customer's on the portal)
            return
        name = sorted(ready, key=lambda n: (n in ("receive_device", "repair_device"), n))[0]
        if name == stop:
            return
        if name == "receive_device" and never_ships:
            never_ships = False
            advance(24 * 31)  # past the reminder and the waiting period: the case is closed as abandoned
            _fire_all(d.session)
            continue
        values = repair_values(name, rng, today) or {}
        if course != "usual" and name == "review_application":
            values["remote_fixable"] = False
        if course == "decline":
            values.update({"diagnose_device": {"fault_cause": "man_made"},
                           "record_fee_decision": {"fee_decision": "declined", "fee_decline_reason": "Too expensive."}
                           }.get(name, {}))
        advance(rng.choice([1, 2, 4, 20]))
        _fire_all(d.session)
        if name not in d.ready(iid):
            continue
        if name == "confirm_payment":  # the amount on the fee notice
            values["payment_amount"] = d.session.get(store.ProcessInstance, iid).data.get("fee_amount")
        d.complete(d.ready(iid)[name], values)


def seed(session_factory: Callable[[], Any], complaints: int, repairs: int, months: int = 12,
         rng_seed: int = 7, start: dt.datetime | None = None) -> dict[str, int]:
    """Start and drive the cases (one transaction per case); returns the ids per process."""
    rng = random.Random(rng_seed)
    repair_rng = random.Random(rng_seed + 1)  # the repairs' course, apart from the registrations' draws
    begin = start or dt.datetime(2025, 1, 6, 9, 0, tzinfo=TZ)
    days = months * 30
    plans = sorted([("complaint", rng.random() * days) for _ in range(complaints)]
                   + [("repair", rng.random() * days) for _ in range(repairs)], key=lambda p: p[1])
    counts = {"complaint": 0, "repair": 0}
    saved_now = clock.now()

    try:
        for key, offset in plans:
            moment = begin + dt.timedelta(days=offset)
            clock.set(moment)

            def advance(hours: float) -> None:
                clock.advance(dt.timedelta(hours=hours))

            with session_factory() as session:
                d = Driver(session)
                if key == "complaint":
                    iid = engine.start(session, "complaint", registration(rng), actor="cs1")["id"]
                    drive_complaint(d, iid, rng, advance)
                else:
                    code, name = rng.choice(CUSTOMERS)
                    iid = engine.start(session, "repair", {
                        "customer_name": name, "customer_contact": "Mr Zhao", "address": "1 Road, Suzhou",
                        "recipient": "Mr Zhao", "phone": "13800000000", "product_model": rng.choice(MODELS),
                        "serial_no": f"SN{rng.randint(10**6, 10**7)}", "purchase_date": "2024-06-01",
                        "warranty_claim": rng.choice(["in", "out", "unknown"]), "fault_description": "No power."},
                        actor="svc1")["id"]
                    drive_repair(d, iid, repair_rng, advance, COURSES[counts["repair"] % len(COURSES)])
                engine.fire_due_timers(session)
            counts[key] += 1
    finally:
        clock.set(saved_now) if saved_now else clock.reset()
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--complaints", type=int, default=2000)
    parser.add_argument("--repairs", type=int, default=500)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2025, 1, 6),
                        help="the first registration day (YYYY-MM-DD)")
    parser.add_argument("--database", default=os.environ.get("CASEFLOW_DATABASE_URL",
                                                             f"sqlite:///{ROOT / 'instance' / 'caseflow.sqlite3'}"))
    args = parser.parse_args()
    db = store.Database(args.database)
    db.upgrade()
    with db.session() as session:
        engine.deploy(session, BUNDLES, actor="admin")
    began = time.perf_counter()
    counts = seed(db.session, args.complaints, args.repairs, args.months, args.seed,
                  start=dt.datetime.combine(args.start, dt.time(9), TZ))
    print(f"seeded {counts['complaint']} complaints and {counts['repair']} repairs "
          f"in {time.perf_counter() - began:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
