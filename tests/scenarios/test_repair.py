"""Scenario tests of the repair process (processes/repair, PRODUCT.md §5) through the engine API.

Every scenario deploys the bundle into a fresh database, starts ``repair`` and plays the
people's tasks with ``engine.complete``; time moves only through the frozen clock
(Monday 2026-03-02 09:00 Asia/Shanghai) and ``engine.fire_due_timers``.
"""
from __future__ import annotations

import datetime as dt

import pytest
from repair_cases import (
    APPLICATION,
    REPAIR_WORK,
    REVIEW_SEND_IN,
    RMA,
    SHANGHAI,
    SHIP_BACK,
    do,
    escalation_events,
    finish_repair,
    local,
    ready,
    start,
    to_device_wait,
    to_diagnosis,
)

import engine
from caseflow import clock
from service_tasks.calendar_ops import WorkingCalendar

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
    assert set(tasks) == {"receive_device", "confirm_shipment"}  # the customer may confirm the shipment
    assert tasks["confirm_shipment"]["role"] == "customer"

    do(repair, iid, "receive_device", {"received_date": "2026-03-04"}, "service_center")
    assert "confirm_shipment" not in ready(repair, iid)  # the arrival closes the unanswered confirmation
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
    # The customer's answer is due 3 working days after the notice went out (fee_answer_wd).
    answer = ready(repair, iid)["record_fee_decision"]
    due = engine.show(repair, iid)["data"]["fee_answer_due"]
    sent = clock.now().astimezone(clock.business_zone()).date()
    assert dt.datetime.fromisoformat(due) == clock.parse_moment(answer["due_at"])
    assert dt.date.fromisoformat(due[:10]) == WorkingCalendar().add_working_days(sent, 3)
    do(repair, iid, "record_fee_decision",
       {"fee_decision": "accepted", "fee_decision_date": "2026-03-06", "fee_confirmation_ref": "FAX-0306"},
       "customer")
    assert list(ready(repair, iid)) == ["confirm_payment"]
    assert "fee_answer_due" in engine.show(repair, iid)["data"]
    view = do(repair, iid, "confirm_payment",
              {"payment_confirmed_date": "2026-03-10", "payment_date": "2026-03-09", "payment_amount": 450,
               "payment_reference": "RS-778"}, "finance")
    # Clock from the day after the payment confirmation (Tue 10 March): 11,12,13,16,17 March.
    assert view["data"]["repair_due"] == "2026-03-17T18:00:00+08:00"
    assert list(ready(repair, iid)) == ["repair_device"]

    view = finish_repair(repair, iid, on="2026-03-11")
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
       "customer")
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
    assert set(tasks) == {"receive_device", "remind_customer_to_ship", "confirm_shipment"}
    assert tasks["remind_customer_to_ship"]["role"] == "customer_service"
    do(repair, iid, "remind_customer_to_ship", {"reminder_via": "phone", "reminder_note": "Ships next week."},
       "customer_service")
    assert set(ready(repair, iid)) == {"receive_device", "confirm_shipment"}

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


@pytest.mark.parametrize("then", ["arrives", "never"])
def test_an_unsent_reminder_closes_when_the_device_arrives_or_the_wait_ends(repair, frozen_clock, then):
    """The reminder's task is the case's only while the device is awaited: it leaves the inbox when
    the device arrives, or when the case is closed as abandoned, so the case can end."""
    iid = to_device_wait(repair)
    frozen_clock.advance(dt.timedelta(days=7, hours=1))
    assert engine.fire_due_timers(repair) == 1
    assert "remind_customer_to_ship" in ready(repair, iid)
    if then == "arrives":
        do(repair, iid, "receive_device", {"received_date": frozen_clock.now().date().isoformat()}, "service_center")
        assert set(ready(repair, iid)) == {"diagnose_device"}
    else:
        frozen_clock.advance(dt.timedelta(days=23))
        assert engine.fire_due_timers(repair) == 1
        assert list(ready(repair, iid)) == ["notify_case_closed"]
        view = do(repair, iid, "notify_case_closed", {"abandon_notified_via": "email"}, "customer_service")
        assert view["status"] == "completed" and view["tasks"] == []


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
    assert tasks["complete_application"]["role"] == "customer"  # the customer's, from the e-mailed link

    with pytest.raises(engine.InvalidData) as err:  # the completion form requires the VAL-08 items
        engine.complete(repair, tasks["complete_application"]["id"], data={**APPLICATION, "phone": ""},
                        actor=engine.SYSTEM)
    assert "phone" in err.value.fields

    with pytest.raises(engine.InvalidData) as err:  # a blank phone is no phone number (the form's pattern)
        engine.complete(repair, tasks["complete_application"]["id"], data={**APPLICATION, "phone": "   "},
                        actor=engine.SYSTEM)
    assert "phone" in err.value.fields
    # A blank recipient passes the form's length check but not VAL-08: back again.
    view = do(repair, iid, "complete_application",
              {**APPLICATION, "recipient": "   ", "warranty_claim": "unknown"}, "customer")
    assert view["data"]["application_missing"] == ["recipient"]
    assert list(ready(repair, iid)) == ["complete_application"]

    frozen_clock.set(dt.datetime(2026, 3, 3, 10, 0, tzinfo=SHANGHAI))  # completed on Tuesday
    view = do(repair, iid, "complete_application",
              {**APPLICATION, "phone": "+86 25 8888 0001", "recipient": "Li Wei", "warranty_claim": "unknown"},
              "customer")
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


def test_a_device_received_before_its_purchase_is_a_field_message_not_a_stopped_case(repair):
    """The receipt form's ``x-not-before: purchase_date``: the warranty check used to stop the case
    in error, for an administrator to mend; now the form names the date and the case waits on."""
    iid = to_device_wait(repair)  # bought 2025-06-01
    with pytest.raises(engine.InvalidData) as err:
        do(repair, iid, "receive_device", {"received_date": "2025-05-31"}, "service_center")
    assert err.value.fields == {"received_date": "must not be before 2025-06-01"}
    assert engine.show(repair, iid)["status"] == "running" and "receive_device" in ready(repair, iid)
    do(repair, iid, "receive_device", {"received_date": "2025-06-01"}, "service_center")
    assert "diagnose_device" in ready(repair, iid)



def test_the_repair_record_keeps_its_dates_in_order(repair):
    """A repair finished before the device arrived, or shipped back before it was repaired, is a
    field message (F15 prints these dates), not a record."""
    iid = to_device_wait(repair)
    do(repair, iid, "receive_device", {"received_date": "2026-03-04"}, "service_center")
    do(repair, iid, "diagnose_device", {"fault_cause": "quality", "diagnosis": "Power regulator failed.",
                                        "parts": [], "estimated_fee": 0}, "service_center")
    with pytest.raises(engine.InvalidData) as err:
        do(repair, iid, "repair_device", {**REPAIR_WORK, "repair_completed_date": "2026-03-03"}, "service_center")
    assert err.value.fields == {"repair_completed_date": "must not be before 2026-03-04"}
    do(repair, iid, "repair_device", {**REPAIR_WORK, "repair_completed_date": "2026-03-05"}, "service_center")
    with pytest.raises(engine.InvalidData) as err:
        do(repair, iid, "ship_back", {**SHIP_BACK, "shipped_date": "2026-03-04"}, "service_center")
    assert err.value.fields == {"shipped_date": "must not be before 2026-03-05"}
