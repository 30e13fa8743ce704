"""Shared set-up of the repair scenario tests: answers of each task, shortcuts along the
process and the deployed bundle (Monday 2026-03-02 09:00 Asia/Shanghai, frozen clock)."""
from __future__ import annotations

import contextlib
import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from story_time import on_the_day

import engine
from caseflow import portal_links

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = ROOT / "processes"
REPAIR_BUNDLE = PROCESSES / "repair"
CALLER_BUNDLE = Path(__file__).resolve().parent / "data" / "repair_caller"
SHANGHAI = ZoneInfo("Asia/Shanghai")
RMA = re.compile(r"^RMA-2026-\d{6}$")

APPLICATION = {
    "customer_name": "Huaxin Trading Co.",
    "customer_contact": "Li Wei",
    "address": "88 Zhongshan Road, Nanjing",
    "recipient": "Li Wei",
    "phone": "+86 25 8888 0000",
    "email": "li.wei@example.com",
    "product_model": "NLS-HR200",
    "serial_no": "SN20250601-0042",
    "purchase_date": "2025-06-01",
    "warranty_claim": "in",
    "fault_description": "Scanner does not power on after a firmware update.",
    "special_requirements": "",
    "accessories": "USB cable removed",
}

REVIEW_SEND_IN = {"review_opinion": "Mail-in repair needed.", "remote_fixable": False}
INSTRUCTIONS = {"ship_to_address": "Service centre, 1 Keji Road, Fuzhou", "shipping_method": "express",
                "instructions_sent_via": "email"}
REPAIR_WORK = {"work_done": "Replaced the main board, reflashed firmware 2.4.1.",
               "parts_used": [{"part_no": "MB-200", "part_name": "Main board", "quantity": 1}],
               "test_result": "Power-on, scan and 24 h burn-in test passed.", "technician": "Chen Gang",
               "repair_completed_date": "2026-03-06"}
SHIP_BACK = {"carrier": "SF Express", "tracking_no": "SF1234567890", "shipped_date": "2026-03-06",
             "repair_report_enclosed": True}


# --- helpers ----------------------------------------------------------------------------------


def deploy(session) -> None:
    results = engine.deploy(session, [REPAIR_BUNDLE], actor="admin")
    assert [r.key for r in results] == ["repair"]


def ready(session, instance_id: int) -> dict[str, dict]:
    """Ready human tasks of the instance by BPMN id (fails on duplicates)."""
    tasks = engine.list_tasks(session, instance_id=instance_id)
    by_name = {t["name"]: t for t in tasks}
    assert len(by_name) == len(tasks), f"duplicate ready tasks: {[t['name'] for t in tasks]}"
    return by_name


def do(session, instance_id: int, name: str, data: dict, role: str) -> dict:
    """Complete the ready task ``name`` (asserting its role) and return the instance view."""
    tasks = ready(session, instance_id)
    assert name in tasks, f"{name} is not ready; ready: {sorted(tasks)}"
    assert tasks[name]["role"] == role, f"{name} has role {tasks[name]['role']}, expected {role}"
    actor = (engine.Actor.person(portal_links.on_behalf_actor("cs1"), {role}) if role == portal_links.CUSTOMER_ROLE
             else engine.Actor.tool(f"{role}_user"))  # a customer task: staff acting for the customer
    on_the_day(data)
    view = engine.complete(session, tasks[name]["id"], data=data, actor=actor)
    assert view["status"] != "error", view["error"]
    return view


def start(session, **overrides) -> dict:
    data = {**APPLICATION, **overrides}
    data = {k: v for k, v in data.items() if v is not None}
    view = engine.start(session, "repair", data=data, actor="cs1")
    assert view["status"] != "error", view["error"]
    return view


@contextlib.contextmanager
def caller_data_passes(monkeypatch: pytest.MonkeyPatch):
    """A context in which start data comes in whole, as a calling complaint's data does (a start
    form takes only its own fields; a call activity hands over all of the caller's data)."""
    from caseflow._engine import form_checks

    with monkeypatch.context() as patch:
        patch.setattr(form_checks, "validate_form",
                      lambda loaded, form, process, data, starting=False: dict(data or {}))
        yield


def to_device_wait(session, **overrides) -> int:
    """Start, review as mail-in, send the instructions: the instance waits for the device."""
    iid = start(session, **overrides)["id"]
    do(session, iid, "review_application", REVIEW_SEND_IN, "service_center")
    do(session, iid, "send_shipping_instructions", INSTRUCTIONS, "service_center")
    return iid


def to_diagnosis(session, received: str = "2026-03-04", **overrides) -> int:
    iid = to_device_wait(session, **overrides)
    do(session, iid, "receive_device", {"received_date": received, "repair_number_on_parcel": True},
       "service_center")
    return iid


def finish_repair(session, iid: int, on: str | None = None) -> dict:
    """Repair, ship back and tell the customer; ``on``: the day of the repair and the shipment
    (default the fixtures' 2026-03-06; never before the receipt or the payment)."""
    do(session, iid, "repair_device", {**REPAIR_WORK, **({"repair_completed_date": on} if on else {})},
       "service_center")
    do(session, iid, "ship_back", {**SHIP_BACK, **({"shipped_date": on} if on else {})}, "service_center")
    return do(session, iid, "notify_customer_shipped",
              {"ship_notice_via": "phone", "ship_notice_at": "2026-03-06T16:30:00+08:00"}, "customer_service")


def local(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso).astimezone(SHANGHAI)


def escalation_events(session, iid: int) -> list[dict]:
    return [e["payload"] for e in engine.show(session, iid)["audit"] if e["kind"] == "escalation"]


