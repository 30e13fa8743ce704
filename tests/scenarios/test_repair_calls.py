"""Scenario tests of the repair process: numbering, outcomes beside escalation branches, and the
repair called from another process (split from test_repair.py; same set-up)."""
from __future__ import annotations

import datetime as dt

import pytest
from repair_cases import (
    APPLICATION,
    CALLER_BUNDLE,
    INSTRUCTIONS,
    PROCESSES,
    REPAIR_BUNDLE,
    REVIEW_SEND_IN,
    RMA,
    SHANGHAI,
    caller_data_passes,
    do,
    escalation_events,
    finish_repair,
    ready,
    start,
    to_device_wait,
)

import engine


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
                                            "fee_decline_reason": "Buys a new one."}, "customer")
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
       "customer")
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

