"""Scenario tests of the repair process (processes/repair, PRODUCT.md §5) through the engine API.

Every scenario deploys the bundle into a fresh database, starts ``repair`` and plays the
people's tasks with ``engine.complete``; time moves only through the frozen clock
(Monday 2026-03-02 09:00 Asia/Shanghai) and ``engine.fire_due_timers``.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import engine

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
    view = engine.complete(session, tasks[name]["id"], data=data, actor=engine.Actor.tool(f"{role}_user"))
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
    from caseflow._engine import run

    with monkeypatch.context() as patch:
        patch.setattr(run, "validate_form", lambda loaded, form, process, data, starting=False: dict(data or {}))
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


def finish_repair(session, iid: int) -> dict:
    do(session, iid, "repair_device", REPAIR_WORK, "service_center")
    do(session, iid, "ship_back", SHIP_BACK, "service_center")
    return do(session, iid, "notify_customer_shipped",
              {"ship_notice_via": "phone", "ship_notice_at": "2026-03-06T16:30:00+08:00"}, "customer_service")


def local(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso).astimezone(SHANGHAI)


def escalation_events(session, iid: int) -> list[dict]:
    return [e["payload"] for e in engine.show(session, iid)["audit"] if e["kind"] == "escalation"]


@pytest.fixture
def repair(session, frozen_clock):
    deploy(session)
    return session


# --- scenarios --------------------------------------------------------------------------------


def test_remote_guidance_ends_without_repair_number(repair):
    view = start(repair)
    assert view["status"] == "running"
    tasks = ready(repair, view["id"])
    assert list(tasks) == ["review_application"]
    # T-11: 1 working day after Monday 2 March -> Tuesday 3 March, end of the working day.
    assert local(tasks["review_application"]["due_at"]) == dt.datetime(2026, 3, 3, 18, 0, tzinfo=SHANGHAI)
    assert view["data"]["review_due"] == "2026-03-03T18:00:00+08:00"

    do(repair, view["id"], "review_application",
       {"review_opinion": "Reset the firmware with the recovery key.", "remote_fixable": True}, "service_center")
    view = do(repair, view["id"], "remote_guidance",
              {"remote_guidance": "Hold the trigger 10 s while powering on.", "remote_guidance_channel": "phone"},
              "service_center")

    assert view["status"] == "completed"
    data = view["data"]
    assert data["repair_outcome"] == "remote_guidance"
    assert data["repair_number"] is None and data["in_warranty"] is None and data["chargeable"] is None
    assert view["business_key"] is None
    assert view["timers"] == [] and view["tasks"] == []


def test_free_in_warranty_repair(repair):
    iid = to_device_wait(repair)
    view = engine.show(repair, iid)
    number = view["data"]["repair_number"]
    assert RMA.match(number) and view["business_key"] == number
    tasks = ready(repair, iid)
    assert list(tasks) == ["receive_device"]

    do(repair, iid, "receive_device", {"received_date": "2026-03-04"}, "service_center")
    view = do(repair, iid, "diagnose_device",
              {"fault_cause": "quality", "diagnosis": "Main board power regulator failed.",
               "parts": [{"part_no": "MB-200", "part_name": "Main board", "quantity": 1, "unit_price": 320}],
               "estimated_fee": 0}, "service_center")
    data = view["data"]
    assert data["in_warranty"] is True and data["chargeable"] is False
    assert data["free_return_shipping"] is True and data["warranty_until"] == "2026-06-01"
    # No fee notice, no payment: straight to the repair. T-12: 5 working days from the day
    # after receipt (Wed 4 March) -> Wed 11 March 18:00.
    tasks = ready(repair, iid)
    assert list(tasks) == ["repair_device"]
    assert data["repair_due"] == "2026-03-11T18:00:00+08:00"
    assert local(tasks["repair_device"]["due_at"]) == dt.datetime(2026, 3, 11, 18, 0, tzinfo=SHANGHAI)

    view = finish_repair(repair, iid)
    assert view["status"] == "completed"
    data = view["data"]
    assert data["repair_outcome"] == "repaired"
    # The repair report (F15) can be printed from the instance data.
    for key in ("repair_number", "customer_name", "address", "product_model", "serial_no", "received_date",
                "fault_description", "fault_cause", "work_done", "parts_used", "test_result", "technician",
                "tracking_no", "carrier", "shipped_date"):
        assert data.get(key) not in (None, "", []), key
    assert data["tracking_no"] == "SF1234567890" and data["technician"] == "Chen Gang"
    names = {e["task"] for e in engine.show(repair, iid)["audit"] if e["kind"] == "task_completed"}
    assert not names & {"send_fee_notice", "record_fee_decision", "confirm_payment"}


def test_chargeable_repair_accepted_and_paid(repair):
    # In warranty, but man-made damage is charged (RPR-12).
    iid = to_diagnosis(repair)
    do(repair, iid, "diagnose_device",
       {"fault_cause": "man_made", "diagnosis": "Housing cracked, connector torn off.", "estimated_fee": 450},
       "service_center")
    view = engine.show(repair, iid)
    assert view["data"]["in_warranty"] is True and view["data"]["chargeable"] is True
    assert view["data"]["free_return_shipping"] is False
    assert "man-made damage is not covered" in view["data"]["warranty_reason"]
    assert list(ready(repair, iid)) == ["send_fee_notice"]
    assert "repair_due" not in view["data"]  # the clock waits for the payment (RPR-08)

    do(repair, iid, "send_fee_notice",
       {"fee_amount": 450, "fee_breakdown": "Housing 200, connector 150, labour 100",
        "payment_instructions": "Bank of China Fuzhou, acct 1234 5678", "fee_notice_date": "2026-03-05",
        "fee_notice_sent_via": "fax"}, "service_center")
    do(repair, iid, "record_fee_decision",
       {"fee_decision": "accepted", "fee_decision_date": "2026-03-06", "fee_confirmation_ref": "FAX-0306"},
       "customer_service")
    assert list(ready(repair, iid)) == ["confirm_payment"]
    view = do(repair, iid, "confirm_payment",
              {"payment_confirmed_date": "2026-03-10", "payment_date": "2026-03-09", "payment_amount": 450,
               "payment_reference": "RS-778"}, "finance")
    # Clock from the day after the payment confirmation (Tue 10 March): 11,12,13,16,17 March.
    assert view["data"]["repair_due"] == "2026-03-17T18:00:00+08:00"
    assert list(ready(repair, iid)) == ["repair_device"]

    view = finish_repair(repair, iid)
    assert view["status"] == "completed"
    data = view["data"]
    assert data["repair_outcome"] == "repaired" and data["chargeable"] is True
    # The fee notice (F14) can be printed from the instance data.
    for key in ("repair_number", "customer_name", "address", "phone", "product_model", "serial_no",
                "fault_description", "fault_cause", "diagnosis", "estimated_fee", "fee_amount",
                "fee_breakdown", "payment_instructions", "fee_notice_date", "warranty_reason",
                "payment_confirmed_date", "payment_amount"):
        assert data.get(key) not in (None, ""), key


def test_fee_declined_returns_device_unrepaired(repair):
    # Out of warranty (bought January 2024): even a quality fault is charged.
    iid = to_diagnosis(repair, purchase_date="2024-01-10", warranty_claim="out")
    do(repair, iid, "diagnose_device",
       {"fault_cause": "quality", "diagnosis": "Laser module worn out.", "estimated_fee": 800}, "service_center")
    view = engine.show(repair, iid)
    assert view["data"]["in_warranty"] is False and view["data"]["chargeable"] is True
    do(repair, iid, "send_fee_notice",
       {"fee_amount": 800, "payment_instructions": "Bank transfer", "fee_notice_date": "2026-03-05",
        "fee_notice_sent_via": "email"}, "service_center")

    decision = ready(repair, iid)["record_fee_decision"]
    with pytest.raises(engine.InvalidData) as err:  # declining needs a reason
        engine.complete(repair, decision["id"], data={"fee_decision": "declined", "fee_decision_date": "2026-03-06"},
                        actor=engine.SYSTEM)
    assert "fee_decline_reason" in err.value.fields
    do(repair, iid, "record_fee_decision",
       {"fee_decision": "declined", "fee_decision_date": "2026-03-06", "fee_decline_reason": "Too expensive."},
       "customer_service")
    assert list(ready(repair, iid)) == ["return_unrepaired"]
    view = do(repair, iid, "return_unrepaired",
              {"carrier": "SF Express", "tracking_no": "SF999", "shipped_date": "2026-03-07"}, "service_center")

    assert view["status"] == "completed"
    data = view["data"]
    assert data["repair_outcome"] == "returned_unrepaired"
    assert data["repair_due"] is None and "work_done" not in data
    names = [e["task"] for e in engine.show(repair, iid)["audit"] if e["kind"] == "task_completed"]
    assert "confirm_payment" not in names and "repair_device" not in names


def test_device_never_received_is_abandoned_after_30_days(repair, frozen_clock):
    iid = to_device_wait(repair)
    view = engine.show(repair, iid)
    issued = frozen_clock.now()
    assert sorted(local(t["due_at"]) for t in view["timers"]) == [
        local((issued + dt.timedelta(days=7)).isoformat()), local((issued + dt.timedelta(days=30)).isoformat())]

    frozen_clock.advance(dt.timedelta(days=6, hours=23))
    assert engine.fire_due_timers(repair) == 0
    frozen_clock.advance(dt.timedelta(hours=2))  # day 7: reminder, the case stays open
    assert engine.fire_due_timers(repair) == 1
    tasks = ready(repair, iid)
    assert set(tasks) == {"receive_device", "remind_customer_to_ship"}
    assert tasks["remind_customer_to_ship"]["role"] == "customer_service"
    do(repair, iid, "remind_customer_to_ship", {"reminder_via": "phone", "reminder_note": "Ships next week."},
       "customer_service")
    assert list(ready(repair, iid)) == ["receive_device"]

    frozen_clock.advance(dt.timedelta(days=22, hours=22))  # day 29 23:00: still waiting
    assert engine.fire_due_timers(repair) == 0
    assert engine.show(repair, iid)["status"] == "running"
    frozen_clock.advance(dt.timedelta(hours=2))  # day 30: closure
    assert engine.fire_due_timers(repair) == 1
    tasks = ready(repair, iid)
    assert list(tasks) == ["notify_case_closed"]  # 'Receive device' was interrupted
    view = do(repair, iid, "notify_case_closed", {"abandon_notified_via": "email"}, "customer_service")

    assert view["status"] == "completed"
    assert view["data"]["repair_outcome"] == "abandoned"
    assert "received_date" not in view["data"] and view["timers"] == []


def test_repair_overrun_escalates_and_asks_for_negotiation(repair, frozen_clock):
    iid = to_diagnosis(repair)
    do(repair, iid, "diagnose_device", {"fault_cause": "quality", "diagnosis": "Board fault.", "estimated_fee": 0},
       "service_center")
    due = engine.show(repair, iid)["data"]["repair_due"]
    assert due == "2026-03-11T18:00:00+08:00"

    frozen_clock.set(dt.datetime(2026, 3, 11, 17, 59, tzinfo=SHANGHAI))
    assert engine.fire_due_timers(repair) == 0
    assert escalation_events(repair, iid) == []
    frozen_clock.set(dt.datetime(2026, 3, 11, 18, 1, tzinfo=SHANGHAI))
    assert engine.fire_due_timers(repair) == 1

    events = escalation_events(repair, iid)
    assert [(e["deadline"], e["level"], e["due"]) for e in events] == [("repair_due", "manager", due)]
    tasks = ready(repair, iid)
    # non-interrupting; the manager has the escalation in the inbox (T-12)
    assert set(tasks) == {"repair_device", "negotiate_with_customer", "manager_repair_overdue"}
    assert tasks["negotiate_with_customer"]["role"] == "customer_service"
    assert tasks["manager_repair_overdue"]["role"] == "manager"
    do(repair, iid, "manager_repair_overdue", {"repair_escalation_instruction": "Priority; report daily."}, "manager")
    do(repair, iid, "negotiate_with_customer",
       {"negotiation_result": "Customer accepts delivery by 18 March.", "agreed_completion_date": "2026-03-18",
        "negotiation_channel": "phone"}, "customer_service")

    view = finish_repair(repair, iid)
    assert view["status"] == "completed"
    data = view["data"]
    assert data["repair_outcome"] == "repaired"
    assert data["negotiation_result"] == "Customer accepts delivery by 18 March."
    assert [e["deadline"] for e in data["escalations"].values()] == ["repair_due"]


def test_review_overrun_escalates_to_manager(repair, frozen_clock):
    iid = start(repair)["id"]
    frozen_clock.set(dt.datetime(2026, 3, 3, 17, 59, tzinfo=SHANGHAI))
    assert engine.fire_due_timers(repair) == 0
    frozen_clock.set(dt.datetime(2026, 3, 3, 18, 1, tzinfo=SHANGHAI))
    assert engine.fire_due_timers(repair) == 1

    events = escalation_events(repair, iid)
    assert [(e["deadline"], e["level"], e["due"]) for e in events] == [
        ("review_due", "manager", "2026-03-03T18:00:00+08:00")]
    tasks = ready(repair, iid)
    assert set(tasks) == {"review_application", "followup_review_overdue"}
    assert tasks["followup_review_overdue"]["role"] == "manager"

    do(repair, iid, "followup_review_overdue", {"review_escalation_action": "Called the service centre."}, "manager")
    do(repair, iid, "review_application", {"review_opinion": "Remote fix.", "remote_fixable": True},
       "service_center")
    view = do(repair, iid, "remote_guidance", {"remote_guidance": "Reset.", "remote_guidance_channel": "email"},
              "service_center")
    assert view["status"] == "completed"
    assert view["data"]["repair_outcome"] == "remote_guidance"
    assert [e["deadline"] for e in view["data"]["escalations"].values()] == ["review_due"]
    assert view["data"]["review_escalation_action"] == "Called the service centre."


def test_review_in_time_does_not_escalate(repair, frozen_clock):
    iid = start(repair)["id"]
    do(repair, iid, "review_application", REVIEW_SEND_IN, "service_center")
    frozen_clock.set(dt.datetime(2026, 3, 4, 9, 0, tzinfo=SHANGHAI))  # after review_due
    assert engine.fire_due_timers(repair) == 0
    assert escalation_events(repair, iid) == []
    assert set(ready(repair, iid)) == {"send_shipping_instructions"}


def test_incomplete_application_loops_until_complete(repair, frozen_clock):
    view = start(repair, recipient=None, phone=None, warranty_claim=None)
    iid = view["id"]
    assert view["data"]["application_complete"] is False
    assert view["data"]["application_missing"] == ["recipient", "phone", "warranty_claim"]
    tasks = ready(repair, iid)
    assert list(tasks) == ["complete_application"]  # not the review: the check decides
    assert tasks["complete_application"]["role"] == "customer_service"

    with pytest.raises(engine.InvalidData) as err:  # the completion form requires the VAL-08 items
        engine.complete(repair, tasks["complete_application"]["id"], data={**APPLICATION, "phone": ""},
                        actor=engine.SYSTEM)
    assert "phone" in err.value.fields

    # A blank phone passes the form's length check but not VAL-08: back again.
    view = do(repair, iid, "complete_application",
              {**APPLICATION, "phone": "   ", "recipient": "Li Wei", "warranty_claim": "unknown"}, "customer_service")
    assert view["data"]["application_missing"] == ["phone"]
    assert list(ready(repair, iid)) == ["complete_application"]

    frozen_clock.set(dt.datetime(2026, 3, 3, 10, 0, tzinfo=SHANGHAI))  # completed on Tuesday
    view = do(repair, iid, "complete_application",
              {**APPLICATION, "phone": "+86 25 8888 0001", "warranty_claim": "unknown"}, "customer_service")
    assert view["data"]["application_complete"] is True and view["data"]["application_missing"] == []
    assert view["data"]["phone"] == "+86 25 8888 0001"
    tasks = ready(repair, iid)
    assert list(tasks) == ["review_application"]
    # The 1-working-day reply clock runs from the complete application (RPR-16).
    assert view["data"]["review_due"] == "2026-03-04T18:00:00+08:00"


def test_start_form_validates_a_standalone_application(repair):
    with pytest.raises(engine.InvalidData) as err:
        engine.start(repair, "repair", data={**APPLICATION, "warranty_claim": "maybe", "purchase_date": "1.6.2025"})
    assert {"warranty_claim", "purchase_date"} <= set(err.value.fields)
    with pytest.raises(engine.InvalidData) as err:
        engine.start(repair, "repair", data={"customer_name": "X"})
    assert "fault_description" in err.value.fields


def test_start_form_checks_date_times(repair):
    with pytest.raises(engine.InvalidData) as err:
        engine.start(repair, "repair", data={**APPLICATION, "application_received_at": "yesterday"})
    assert "application_received_at" in err.value.fields


def test_repair_numbers_are_readable_and_unique(repair, monkeypatch):
    first = to_device_wait(repair)
    second = to_device_wait(repair, customer_name="Second customer", serial_no="SN-2")
    numbers = [engine.show(repair, iid)["data"]["repair_number"] for iid in (first, second)]
    assert all(RMA.match(n) for n in numbers), numbers
    assert numbers[0] != numbers[1]
    assert int(numbers[1][-6:]) == int(numbers[0][-6:]) + 1  # one yearly sequence
    assert [engine.show(repair, iid)["business_key"] for iid in (first, second)] == numbers
    inbox = {t["instance_id"]: t["business_key"] for t in engine.list_tasks(repair, role="service_center")}
    assert inbox == {first: numbers[0], second: numbers[1]}

    # A second repair of the same complaint arrives with the first one's results in its data:
    # it gets a number (and outcome) of its own, not the old ones.
    with caller_data_passes(monkeypatch):
        third = to_device_wait(repair, repair_number=numbers[0], repair_outcome="repaired", chargeable=True)
    data = engine.show(repair, third)["data"]
    assert RMA.match(data["repair_number"]) and data["repair_number"] not in numbers
    assert "repair_outcome" not in data and "chargeable" not in data


def test_outcome_survives_an_escalation_branch_that_ends_last(repair, frozen_clock):
    # The manager acknowledges the overdue reply only after the case reached its end: the
    # escalation branch's older data must not undo the outcome at the final merge.
    iid = start(repair)["id"]
    frozen_clock.set(dt.datetime(2026, 3, 3, 18, 1, tzinfo=SHANGHAI))
    assert engine.fire_due_timers(repair) == 1
    do(repair, iid, "review_application", {"review_opinion": "Remote fix.", "remote_fixable": True},
       "service_center")
    view = do(repair, iid, "remote_guidance", {"remote_guidance": "Reset.", "remote_guidance_channel": "phone"},
              "service_center")
    assert view["status"] == "running"  # the follow-up is still open
    view = do(repair, iid, "followup_review_overdue", {"review_escalation_action": "Late, but done."}, "manager")
    assert view["status"] == "completed"
    data = view["data"]
    assert (data["repair_outcome"], data["remote_guidance"], data["review_opinion"]) == (
        "remote_guidance", "Reset.", "Remote fix.")
    assert data["repair_number"] is None and data["in_warranty"] is None and data["chargeable"] is None
    assert data["review_escalation_action"] == "Late, but done."
    assert [e["deadline"] for e in data["escalations"].values()] == ["review_due"]


def test_second_repair_of_a_complaint_starts_clean(repair, frozen_clock, monkeypatch):
    # The data of an earlier repair comes in with the caller's data; nothing of it may leak into
    # this repair's records, even through an escalation branch that ends last.
    earlier = {"repair_number": "RMA-2025-000042", "repair_outcome": "repaired", "fault_cause": "quality",
               "received_date": "2025-11-03", "chargeable": False, "in_warranty": True,
               "repair_due": "2025-11-10T18:00:00+08:00", "tracking_no": "SF-OLD", "work_done": "Old work."}
    with caller_data_passes(monkeypatch):
        iid = start(repair, **earlier)["id"]
    assert not set(earlier) & set(engine.show(repair, iid)["data"])
    frozen_clock.set(dt.datetime(2026, 3, 3, 18, 1, tzinfo=SHANGHAI))
    assert engine.fire_due_timers(repair) == 1
    do(repair, iid, "review_application", REVIEW_SEND_IN, "service_center")
    do(repair, iid, "send_shipping_instructions", INSTRUCTIONS, "service_center")
    do(repair, iid, "receive_device", {"received_date": "2026-03-04"}, "service_center")
    do(repair, iid, "diagnose_device", {"fault_cause": "man_made", "diagnosis": "Dropped.", "estimated_fee": 300},
       "service_center")
    do(repair, iid, "send_fee_notice", {"fee_amount": 300, "payment_instructions": "Transfer",
                                        "fee_notice_date": "2026-03-05", "fee_notice_sent_via": "fax"},
       "service_center")
    do(repair, iid, "record_fee_decision", {"fee_decision": "declined", "fee_decision_date": "2026-03-06",
                                            "fee_decline_reason": "Buys a new one."}, "customer_service")
    do(repair, iid, "return_unrepaired", {"carrier": "EMS", "tracking_no": "EMS-NEW", "shipped_date": "2026-03-07"},
       "service_center")
    view = do(repair, iid, "followup_review_overdue", {"review_escalation_action": "Done."}, "manager")

    assert view["status"] == "completed"
    data = view["data"]
    assert RMA.match(data["repair_number"]) and data["repair_number"] != earlier["repair_number"]
    assert (data["repair_outcome"], data["fault_cause"], data["received_date"]) == (
        "returned_unrepaired", "man_made", "2026-03-04")
    assert (data["chargeable"], data["in_warranty"], data["repair_due"]) == (True, True, None)
    assert data["tracking_no"] == "EMS-NEW" and "work_done" not in data


def test_called_from_another_process_returns_its_results(session, frozen_clock):
    deployed = engine.deploy(session, [PROCESSES, CALLER_BUNDLE], actor="admin")
    assert {r.key for r in deployed} >= {"repair", "repair_caller_test"}
    passed = {k: APPLICATION[k] for k in ("customer_name", "customer_contact", "phone", "address",
                                          "product_model", "serial_no", "purchase_date", "fault_description")}
    passed["complaint_no"] = "CP-2026-000007"
    view = engine.start(session, "repair_caller_test", data=passed, actor="cs1")
    iid = view["id"]
    assert view["status"] == "running", view["error"]

    # The start form does not block a called repair; the completeness check asks for what the
    # complaint did not carry (recipient, warranty box).
    # (While the repair runs, engine.show lists the caller's data, so application_missing is
    # not visible here; the ready task shows the check's verdict.)
    tasks = ready(session, iid)
    assert list(tasks) == ["complete_application"]
    application = {k: v for k, v in passed.items() if k != "complaint_no"}  # a form takes only its own fields
    do(session, iid, "complete_application", {**application, "recipient": "Li Wei", "warranty_claim": "in"},
       "customer_service")
    do(session, iid, "review_application", REVIEW_SEND_IN, "service_center")
    do(session, iid, "send_shipping_instructions", INSTRUCTIONS, "service_center")
    do(session, iid, "receive_device", {"received_date": "2026-03-04"}, "service_center")
    do(session, iid, "diagnose_device", {"fault_cause": "quality", "diagnosis": "Board.", "estimated_fee": 0},
       "service_center")
    view = finish_repair(session, iid)

    assert view["status"] == "running"
    assert list(ready(session, iid)) == ["check_repair_result"]
    data = view["data"]
    assert RMA.match(data["repair_number"])
    assert (data["repair_outcome"], data["in_warranty"], data["chargeable"]) == ("repaired", True, False)
    assert data["complaint_no"] == "CP-2026-000007"  # the caller's own data is kept
    view = do(session, iid, "check_repair_result", {}, "customer_service")
    assert view["status"] == "completed"
    assert view["data"]["repair_number"] == data["repair_number"]


def test_called_repair_tasks_have_their_forms_and_data(session, frozen_clock):
    engine.deploy(session, [REPAIR_BUNDLE, CALLER_BUNDLE], actor="admin")
    passed = {k: v for k, v in APPLICATION.items() if k not in ("recipient", "warranty_claim")}
    iid = engine.start(session, "repair_caller_test", data=passed, actor="cs1")["id"]
    task = ready(session, iid)["complete_application"]
    form = engine.task_form(session, task["id"])
    assert form["schema"] is not None and form["schema"]["title"] == "Complete repair application"
    assert form["data"].get("application_missing") == ["recipient", "warranty_claim"]
    with pytest.raises(engine.InvalidData):
        engine.complete(session, task["id"], data={"recipient": ""}, actor=engine.SYSTEM)


# --- parallel branches: escalation side paths beside the main path --------------------------------


def test_finishing_an_escalation_branch_keeps_the_case_data(repair, frozen_clock):
    iid = start(repair)["id"]
    frozen_clock.set(dt.datetime(2026, 3, 3, 18, 1, tzinfo=SHANGHAI))
    assert engine.fire_due_timers(repair) == 1
    do(repair, iid, "review_application", REVIEW_SEND_IN, "service_center")
    do(repair, iid, "send_shipping_instructions", INSTRUCTIONS, "service_center")
    number = engine.show(repair, iid)["data"]["repair_number"]
    assert RMA.match(number)
    view = do(repair, iid, "followup_review_overdue", {"review_escalation_action": "Called."}, "manager")
    assert view["data"]["repair_number"] == number
    assert view["data"]["review_opinion"] == REVIEW_SEND_IN["review_opinion"]


def test_two_escalations_in_one_case_are_kept_and_audited_once(repair, frozen_clock):
    iid = start(repair)["id"]
    frozen_clock.set(dt.datetime(2026, 3, 3, 18, 1, tzinfo=SHANGHAI))
    assert engine.fire_due_timers(repair) == 1
    do(repair, iid, "followup_review_overdue", {"review_escalation_action": "Called."}, "manager")
    do(repair, iid, "review_application", REVIEW_SEND_IN, "service_center")
    do(repair, iid, "send_shipping_instructions", INSTRUCTIONS, "service_center")
    do(repair, iid, "receive_device", {"received_date": "2026-03-04"}, "service_center")
    do(repair, iid, "diagnose_device", {"fault_cause": "quality", "diagnosis": "Board.", "estimated_fee": 0},
       "service_center")
    frozen_clock.set(dt.datetime(2026, 3, 11, 18, 1, tzinfo=SHANGHAI))
    assert engine.fire_due_timers(repair) == 1
    do(repair, iid, "negotiate_with_customer", {"negotiation_result": "OK.", "negotiation_channel": "phone"},
       "customer_service")
    do(repair, iid, "manager_repair_overdue", {"repair_escalation_instruction": "Priority."}, "manager")
    view = finish_repair(repair, iid)
    assert view["status"] == "completed"
    assert [e["deadline"] for e in escalation_events(repair, iid)] == ["review_due", "repair_due"]
    assert [e["deadline"] for e in view["data"]["escalations"].values()] == ["review_due", "repair_due"]
