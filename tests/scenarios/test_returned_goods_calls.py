"""The complaint calls the returned-goods process (issue 19, PRODUCT.md §10): one call per plan with
return, exchange or make-up shipment lines, each with its own record on the complaint; a line an
earlier call carried out is not started again; a plan with a repair line and a return line runs
both sub-processes.
"""
from __future__ import annotations

import re

from returned_goods_cases import walk_returned_goods

from complaint_helpers import (
    complete,
    confirm,
    data,
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

RG = re.compile(r"^RG-2026-\d{6}$")
EXCHANGE = {"kind": "exchange", "quantity": 20, "amount": 5000}
DISCOUNT = {"kind": "discount", "quantity": 1, "amount": 1000, "note": "goodwill"}


def _to_plan(session) -> int:
    iid = start(session, quality_registration())["id"]
    confirm(session, iid)
    eight_d(session, iid)
    return iid


def test_a_complaint_with_an_exchange_line_ends_tested_shipped_and_recorded(cases):
    iid = _to_plan(cases)
    plan(cases, iid, lines=[EXCHANGE, DISCOUNT])
    manager_decides(cases, iid)
    # The approved plan exchanges 20 units: the returned-goods process starts with the plan's line.
    assert ready_names(cases, iid) == {"receive_goods"}
    d = data(cases, iid)
    assert d["returned_goods_lines"] == [{"kind": "exchange", "quantity": 20, "product_model": "HX-200"}]
    assert (d["request_kind"], d["expected_qty"], d["make_up_qty"]) == ("exchange", 20, None)
    assert d["returned_goods_records"] == []

    d = walk_returned_goods(cases, iid, tracking_no="SF-EX-20")
    assert ready_names(cases, iid) == {"implement_notify"}
    [record] = d["returned_goods_records"]
    assert record["seq"] == 1 and RG.match(record["returned_goods_no"]) and record["ended_at"]
    assert record["lines"] == [{"kind": "exchange", "quantity": 20, "product_model": "HX-200"}]
    assert (record["request_kind"], record["outcome"], record["product_model"]) == ("exchange", "exchanged", "HX-200")
    assert (record["received_qty"], record["tested_qty"], record["defective_qty"]) == (20, 20, 4)
    assert record["defects_by_phenomenon"] == {"No power": 3, "Scratched window": 1}
    assert record["disposition"] == {"rework": 3, "scrap": 1, "return_to_stock": 16}
    assert (record["shipped_qty"], record["shipment_tracking_no"]) == (20, "SF-EX-20")
    assert record["exchange_eligible"] is True and record["tester"] == "Feng Min"
    assert d["returned_goods_no"] == record["returned_goods_no"]

    implement(cases, iid)
    feedback(cases, iid)
    view = verify_and_close(cases, iid)
    assert view["status"] == "completed", view.get("error")
    assert len(view["data"]["returned_goods_records"]) == 1


def test_a_plan_with_a_return_line_and_a_repair_line_runs_both(cases):
    iid = _to_plan(cases)
    plan(cases, iid, lines=[{"kind": "repair", "quantity": 1, "amount": 0},
                            {"kind": "return", "quantity": 5, "amount": 600}])
    manager_decides(cases, iid)
    # First the repair (remote guidance is enough) ...
    assert ready_names(cases, iid) == {"prepare_repair"}
    complete(cases, iid, "prepare_repair", {
        "customer_name": "Huaxin Electronics", "customer_contact": "Ms Li", "address": "8 Keji Rd, Suzhou",
        "recipient": "Ms Li", "phone": "138 0000 0000", "product_model": "HX-200", "serial_no": "SN-26-0001",
        "purchase_date": "2025-06-01", "warranty_claim": "in"})
    complete(cases, iid, "review_application", {"review_opinion": "Guide by phone.", "remote_fixable": True})
    complete(cases, iid, "remote_guidance", {"remote_guidance": "Reset the unit.", "remote_guidance_channel": "phone"})
    # ... then the returned goods of the return line.
    assert ready_names(cases, iid) == {"receive_goods"}
    d = walk_returned_goods(cases, iid, defective=2)
    assert ready_names(cases, iid) == {"implement_notify"}
    assert [r["repair_outcome"] for r in d["repairs"]] == ["remote_guidance"]
    [record] = d["returned_goods_records"]
    assert (record["request_kind"], record["outcome"], record["received_qty"]) == ("return", "returned", 5)
    assert record["defects_by_phenomenon"] == {"No power": 2}
    assert record["disposition"] == {"rework": 1, "scrap": 1, "return_to_stock": 3}
    assert record["shipped_qty"] is None  # a return ships nothing


def test_each_plan_of_the_not_satisfied_loop_keeps_its_own_record(cases):
    iid = _to_plan(cases)
    plan(cases, iid, lines=[EXCHANGE])
    manager_decides(cases, iid)
    walk_returned_goods(cases, iid, tracking_no="SF-FIRST")
    implement(cases, iid)
    feedback(cases, iid, satisfied=False, satisfaction=2)
    complete(cases, iid, "follow_up", {"follow_up_measures": "Send 5 more units."})

    # The re-plan keeps the exchange already carried out and adds a make-up shipment: only that runs.
    plan(cases, iid, lines=[EXCHANGE, {"kind": "make_up_shipment", "quantity": 5, "amount": 0}])
    manager_decides(cases, iid)
    assert ready_names(cases, iid) == {"ship_replacement"}  # nothing comes back: no receipt, no test
    d = data(cases, iid)
    assert (d["request_kind"], d["expected_qty"], d["make_up_qty"]) == ("make_up_shipment", None, 5)
    assert [line["kind"] for line in d["returned_goods_lines"]] == ["make_up_shipment"]
    d = walk_returned_goods(cases, iid, tracking_no="SF-SECOND")
    first, second = d["returned_goods_records"]
    assert (first["seq"], second["seq"]) == (1, 2)
    assert first["returned_goods_no"] != second["returned_goods_no"]
    assert (first["outcome"], first["received_qty"], first["shipment_tracking_no"]) == ("exchanged", 20, "SF-FIRST")
    assert (second["outcome"], second["received_qty"], second["defects_by_phenomenon"]) == ("made_up", None, {})
    assert (second["shipped_qty"], second["shipment_tracking_no"]) == (5, "SF-SECOND")
    implement(cases, iid)
    feedback(cases, iid, satisfied=False, satisfaction=3)
    complete(cases, iid, "follow_up", {"follow_up_measures": "A discount."})

    # The same lines again, plus a discount: every returned-goods line was carried out already.
    plan(cases, iid, lines=[EXCHANGE, {"kind": "make_up_shipment", "quantity": 5, "amount": 0}, DISCOUNT])
    manager_decides(cases, iid)
    assert ready_names(cases, iid) == {"implement_notify"}
    assert len(data(cases, iid)["returned_goods_records"]) == 2


def test_a_return_and_a_make_up_line_ship_the_make_up_units(cases):
    iid = _to_plan(cases)
    plan(cases, iid, lines=[{"kind": "return", "quantity": 4, "amount": 0},
                            {"kind": "make_up_shipment", "quantity": 4, "amount": 0}])
    manager_decides(cases, iid)
    d = walk_returned_goods(cases, iid, defective=4)
    [record] = d["returned_goods_records"]
    assert (record["request_kind"], record["received_qty"], record["shipped_qty"]) == ("return", 4, 4)
    assert [line["kind"] for line in record["lines"]] == ["return", "make_up_shipment"]
