"""A complaint with two repairs through the not-satisfied loop (issue 13): each repair keeps its
own record on the complaint, a repair line already carried out is not started again, and the
case's repair number is the latest one issued.

``walk_two_repairs`` is shared with the web test of the printouts (tests/web/test_staff_data.py).
"""
from __future__ import annotations

import re
from typing import Any

import pytest

from complaint_helpers import (
    complete,
    data,
    deploy,
    eight_d,
    feedback,
    implement,
    manager_decides,
    plan,
    quality_registration,
    ready_names,
    start,
    verify_and_close,
)

RMA = re.compile(r"^RMA-2026-\d{6}$")
APPLICATION = {
    "customer_name": "Huaxin Electronics", "customer_contact": "Ms Li", "address": "8 Keji Rd, Suzhou",
    "recipient": "Ms Li", "phone": "138 0000 0000", "product_model": "HX-200", "serial_no": "SN-26-0001",
    "purchase_date": "2025-06-01", "warranty_claim": "in"}
REPAIR_LINE = {"kind": "repair", "quantity": 1, "amount": 0}


def _send_in(session, iid: int) -> None:
    complete(session, iid, "prepare_repair", APPLICATION)
    complete(session, iid, "review_application", {"review_opinion": "Mail-in repair.", "remote_fixable": False})
    complete(session, iid, "send_shipping_instructions", {"ship_to_address": "Service centre, Fuzhou",
                                                          "shipping_method": "express",
                                                          "instructions_sent_via": "email"})
    complete(session, iid, "receive_device", {"received_date": "2026-03-02"})


def _repair_and_ship(session, iid: int, technician: str, tracking_no: str) -> None:
    complete(session, iid, "repair_device", {"work_done": f"Repaired by {technician}.", "test_result": "Pass.",
                                             "technician": technician, "repair_completed_date": "2026-03-02"})
    complete(session, iid, "ship_back", {"carrier": "SF Express", "tracking_no": tracking_no,
                                         "shipped_date": "2026-03-02", "repair_report_enclosed": True})
    complete(session, iid, "notify_customer_shipped", {"ship_notice_via": "phone"}, role="customer_service")


def walk_two_repairs(session) -> int:
    """Plan with a repair line; a chargeable repair (fee 2400, paid 2400); the customer is not
    satisfied; the re-plan keeps the first repair line and adds a second; a free repair; the
    customer is satisfied; the case closes. Returns the instance id."""
    iid = start(session, quality_registration())["id"]
    complete(session, iid, "confirm_grade", {"complaint_valid": True, "override_grade": False}, role="quality")
    eight_d(session, iid)
    plan(session, iid, lines=[dict(REPAIR_LINE, note="first")])
    manager_decides(session, iid)

    # Repair 1: man-made damage, charged.
    _send_in(session, iid)
    complete(session, iid, "diagnose_device", {"fault_cause": "man_made", "diagnosis": "Housing cracked.",
                                               "estimated_fee": 2400})
    complete(session, iid, "send_fee_notice", {"fee_amount": 2400, "payment_instructions": "BOC 1234",
                                               "fee_notice_date": "2026-03-02", "fee_notice_sent_via": "fax"})
    complete(session, iid, "record_fee_decision", {"fee_decision": "accepted", "fee_decision_date": "2026-03-02"},
             role="customer")
    complete(session, iid, "confirm_payment", {"payment_confirmed_date": "2026-03-02", "payment_amount": 2400,
                                               "payment_reference": "RS-1"}, role="finance")
    _repair_and_ship(session, iid, "Chen", "SF-FIRST")
    assert ready_names(session, iid) == {"implement_notify"}
    implement(session, iid)
    feedback(session, iid, satisfied=False, satisfaction=2)
    complete(session, iid, "follow_up", {"follow_up_measures": "Check the unit again."})

    # The re-plan keeps the finished line and adds a second repair line: one more repair.
    plan(session, iid, lines=[dict(REPAIR_LINE, note="first"), dict(REPAIR_LINE, note="second")])
    manager_decides(session, iid)
    assert ready_names(session, iid) == {"prepare_repair"}
    _send_in(session, iid)
    complete(session, iid, "diagnose_device", {"fault_cause": "quality", "diagnosis": "Solder joint.",
                                               "estimated_fee": 0})
    _repair_and_ship(session, iid, "Wang", "SF-SECOND")
    assert ready_names(session, iid) == {"implement_notify"}
    implement(session, iid)
    feedback(session, iid, satisfied=True, satisfaction=5)
    view = verify_and_close(session, iid)
    assert view["status"] == "completed", view.get("error")
    return iid


@pytest.fixture
def cases(session, frozen_clock):
    deploy(session)
    return session


def test_two_repairs_keep_their_own_records(cases):
    iid = walk_two_repairs(cases)
    d: dict[str, Any] = data(cases, iid)
    first, second = d["repairs"]
    assert (first["seq"], second["seq"]) == (1, 2)
    assert RMA.match(first["repair_number"]) and RMA.match(second["repair_number"])
    assert first["repair_number"] != second["repair_number"]
    assert (first["chargeable"], first["fee_amount"], first["payment_amount"]) == (True, 2400, 2400)
    assert (first["technician"], first["tracking_no"], first["repair_outcome"]) == ("Chen", "SF-FIRST", "repaired")
    assert second["chargeable"] is False and second["in_warranty"] is True
    assert "fee_amount" not in second and "payment_amount" not in second  # a free repair has no fee
    assert (second["technician"], second["tracking_no"]) == ("Wang", "SF-SECOND")
    # The case's key facts: the latest repair number, the latest repair's outcome.
    assert d["repair_number"] == second["repair_number"]
    assert (d["repair_outcome"], d["chargeable"], d["outcome"]) == ("repaired", False, "closed")


def test_a_repair_line_already_carried_out_is_not_started_again(cases):
    iid = start(cases, quality_registration())["id"]
    complete(cases, iid, "confirm_grade", {"complaint_valid": True, "override_grade": False}, role="quality")
    eight_d(cases, iid)
    plan(cases, iid, lines=[REPAIR_LINE])
    manager_decides(cases, iid)
    complete(cases, iid, "prepare_repair", APPLICATION)
    complete(cases, iid, "review_application", {"review_opinion": "Guide by phone.", "remote_fixable": True})
    complete(cases, iid, "remote_guidance", {"remote_guidance": "Reset the unit.", "remote_guidance_channel": "phone"})
    assert ready_names(cases, iid) == {"implement_notify"}
    d = data(cases, iid)
    assert [r["repair_outcome"] for r in d["repairs"]] == ["remote_guidance"]
    assert d["repair_number"] is None
    implement(cases, iid)
    feedback(cases, iid, satisfied=False, satisfaction=2)
    complete(cases, iid, "follow_up", {"follow_up_measures": "Explain again."})
    plan(cases, iid, lines=[REPAIR_LINE, {"kind": "discount", "quantity": 1, "amount": 100}])
    manager_decides(cases, iid)
    assert ready_names(cases, iid) == {"implement_notify"}  # the repair line was carried out already
    assert len(data(cases, iid)["repairs"]) == 1
