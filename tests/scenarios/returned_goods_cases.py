"""Walking a complaint's call of the returned-goods process (PRODUCT.md §10) with ``engine.complete``.

``walk_returned_goods`` plays the people's tasks of one call: receipt (marketing), the exchange
request when the plan exchanges, the test and the disposition (production), the replacement
shipment when one is due (logistics) and the notice (marketing). Shared by the complaint scenario
helpers (``implement``) and the web and browser tests of the returned-goods section.
"""
from __future__ import annotations

from typing import Any

from complaint_helpers import complete, data, ready_names

#: The tasks of the returned-goods process, in the order a call meets them.
RG_TASKS = ("receive_goods", "record_exchange_request", "decide_ineligible_exchange", "test_goods",
            "dispose_goods", "ship_replacement", "notify_customer")
EXCHANGE_REQUEST = {"purchase_date": "2026-02-27", "request_date": "2026-03-02", "unsealed": False,
                    "deteriorated": False, "allergy": False, "invoice_presented": True, "event_slip_presented": True}
PHENOMENA = [{"phenomenon": "No power", "quantity": 3}, {"phenomenon": "Scratched window", "quantity": 1}]


def rg_pending(session, iid: int) -> bool:
    """Whether a task of a returned-goods call is ready on the complaint."""
    return bool(ready_names(session, iid) & set(RG_TASKS))


def walk_returned_goods(session, iid: int, *, exchange_request: dict | None = None, defective: int = 4,
                        phenomena: list[dict] | None = None, tracking_no: str = "SF-RG-0001",
                        approve_exchange: bool = True) -> dict[str, Any]:
    """Complete the ready returned-goods call of complaint ``iid``: every unit received and tested,
    ``defective`` of them defective (``phenomena`` add up within it), the defective ones scrapped
    (one) and reworked (the rest), the good ones back to stock. Returns the complaint's data."""
    d = data(session, iid)
    expected = d.get("expected_qty") or 0
    if "receive_goods" in ready_names(session, iid):
        complete(session, iid, "receive_goods", {"goods_received_date": "2026-03-02", "received_qty": expected,
                                                 "goods_condition": "Cartons intact.",
                                                 "customer_defect_info": "Units do not power on."},
                 role="marketing")
    if "record_exchange_request" in ready_names(session, iid):
        complete(session, iid, "record_exchange_request", exchange_request or EXCHANGE_REQUEST, role="marketing")
    if "decide_ineligible_exchange" in ready_names(session, iid):
        complete(session, iid, "decide_ineligible_exchange",
                 {"exchange_approved": approve_exchange, "exchange_decision_note": "Decided by the manager."},
                 role="manager")
    if "test_goods" in ready_names(session, iid):
        defective = min(defective, expected)
        lines = phenomena if phenomena is not None else (PHENOMENA if defective == 4 else
                                                         [{"phenomenon": "No power", "quantity": defective}])
        complete(session, iid, "test_goods", {
            "withdrawn_date": "2026-03-03", "tested_qty": expected, "defective_qty": defective,
            "defect_phenomena": lines if defective else [],
            "goods_test_result": f"{defective} of {expected} defective.",
            "tester": "Feng Min", "tested_date": "2026-03-04"}, role="production")
        scrap = 1 if defective else 0
        complete(session, iid, "dispose_goods", {
            "isolate_qty": 0, "rework_qty": defective - scrap, "repair_qty": 0, "scrap_qty": scrap,
            "return_to_stock_qty": expected - defective, "disposed_date": "2026-03-05"}, role="production")
    if "ship_replacement" in ready_names(session, iid):
        shipped = data(session, iid)
        qty = (shipped.get("expected_qty") or 0) * (shipped.get("request_kind") == "exchange")
        complete(session, iid, "ship_replacement", {
            "shipped_qty": qty + (shipped.get("make_up_qty") or 0), "shipment_date": "2026-03-06",
            "shipment_carrier": "SF Express", "shipment_tracking_no": tracking_no}, role="logistics")
    complete(session, iid, "notify_customer", {"notice_via": "phone", "notice_date": "2026-03-06",
                                               "notice_summary": "Test result and shipment told."},
             role="marketing")
    return data(session, iid)
