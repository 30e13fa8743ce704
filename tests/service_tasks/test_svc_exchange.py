"""check_exchange_eligibility (PRODUCT.md §10, EXC-01…06) and the returned-goods checks at their boundaries."""
import datetime as dt

import pytest

from service_tasks import registry
from service_tasks.registry import OperatorError


def eligibility(params=None, **data):
    base = {"purchase_date": "2026-11-01", "request_date": "2026-11-06", "unsealed": False,
            "deteriorated": False, "allergy": False}
    base.update(data)
    return registry.get("check_exchange_eligibility").run(base, params or {})


def test_acceptance_example_unopened_on_day_5():
    out = eligibility()
    assert out["exchange_eligible"] is True and out["return_allowed"] is False
    assert out["eligibility_rules"] == ["EXC-01", "EXC-03", "EXC-05", "EXC-04"]
    assert out["days_since_purchase"] == 5 and out["evidence_required"] == ["invoice", "event_slip"]
    assert out["reason"] == "Eligible for exchange: unopened goods, request on day 5 after purchase, within 5 days."


@pytest.mark.parametrize("request_date, eligible", [("2026-11-06", True), ("2026-11-07", False)])
def test_window_day_5_in_day_6_out(request_date, eligible):
    out = eligibility(request_date=request_date)
    assert out["exchange_eligible"] is eligible
    assert "EXC-03" in out["eligibility_rules"]
    if not eligible:
        assert out["reason"].startswith("Not eligible: request on day 6") and out["evidence_required"] == []


@pytest.mark.parametrize("request_date, eligible", [("2026-11-06", True), ("2026-11-07", False)])
def test_deteriorated_opened_goods_same_window(request_date, eligible):
    out = eligibility(request_date=request_date, unsealed=True, deteriorated=True)
    assert out["exchange_eligible"] is eligible and out["return_allowed"] is False
    if eligible:
        assert out["eligibility_rules"][0] == "EXC-02"


def test_opened_not_deteriorated_is_not_eligible_even_on_day_0():
    out = eligibility(request_date="2026-11-01", unsealed=True)
    assert out["exchange_eligible"] is False and out["return_allowed"] is False
    assert out["eligibility_rules"] == ["EXC-01", "EXC-02"]
    assert "opened" in out["reason"]


@pytest.mark.parametrize("request_date, eligible", [("2026-11-04", True), ("2026-11-05", False)])
def test_opened_allergy_day_3_in_day_4_out(request_date, eligible):
    out = eligibility(request_date=request_date, unsealed=True, allergy=True)
    assert out["exchange_eligible"] is eligible
    assert out["return_allowed"] is eligible  # EXC-05: a return only in the allergy case
    assert out["eligibility_rules"][0] == "EXC-06"
    if not eligible:
        assert "3-day allergy window" in out["reason"]


def test_unopened_allergy_after_day_3_still_exchangeable_but_not_returnable():
    out = eligibility(request_date="2026-11-05", allergy=True)  # day 4, unopened
    assert out["exchange_eligible"] is True and out["return_allowed"] is False
    assert out["eligibility_rules"][0] == "EXC-01"


def test_windows_are_parameters():
    assert eligibility({"exchange_window_days": 7}, request_date="2026-11-08")["exchange_eligible"] is True
    out = eligibility({"allergy_window_days": 1}, request_date="2026-11-03", unsealed=True, allergy=True)
    assert out["exchange_eligible"] is False


def test_string_inputs_from_forms():
    out = eligibility(unsealed="false", deteriorated="no", allergy="0", request_date="2026-11-02T10:00:00+08:00")
    assert out["exchange_eligible"] is True and out["days_since_purchase"] == 1


@pytest.mark.parametrize("data, field", [
    ({"purchase_date": None}, "purchase_date"),
    ({"request_date": ""}, "request_date"),
    ({"request_date": "2026-10-31"}, "request_date"),
    ({"purchase_date": "1 Nov"}, "purchase_date"),
    ({"unsealed": None}, "unsealed"),
    ({"allergy": "maybe"}, "allergy"),
])
def test_bad_input_names_the_field(data, field):
    with pytest.raises(OperatorError) as err:
        eligibility(**data)
    assert err.value.field == field


def test_missing_optional_flags_are_false():
    out = registry.get("check_exchange_eligibility").run(
        {"purchase_date": "2026-11-01", "request_date": "2026-11-02", "unsealed": True}, {})
    assert out["exchange_eligible"] is False


# --- returned goods (processes/returned_goods) ------------------------------------------------


def run(name, **data):
    return registry.get(name).run(data, {})


def test_test_due_is_one_week_after_receipt_end_of_day():
    out = run("compute_returned_goods_test_due", goods_received_date="2026-03-02")
    assert out == {"test_due": "2026-03-09T18:00:00+08:00", "test_gm_due": "2026-03-11T18:00:00+08:00"}
    with pytest.raises(OperatorError) as err:
        run("compute_returned_goods_test_due")
    assert err.value.field == "goods_received_date"


def test_test_record_that_adds_up():
    out = run("check_returned_goods_test", received_qty=10, tested_qty=10, defective_qty=4,
              defect_phenomena=[{"phenomenon": "No power", "quantity": 4}, {"phenomenon": " Cracked ", "quantity": 1}])
    assert out["record_valid"] is True and out["record_problems"] is None
    assert out["defects_by_phenomenon"] == {"No power": 4, "Cracked": 1} and out["returned_defect_rate"] == 0.4


@pytest.mark.parametrize("data, field", [
    ({"tested_qty": 11}, "tested_qty"),
    ({"defective_qty": 11}, "defective_qty"),
    ({"defect_phenomena": []}, "defect_phenomena"),
    ({"defect_phenomena": [{"phenomenon": "No power", "quantity": 5}]}, "defect_phenomena.0.quantity"),
    ({"defect_phenomena": [{"phenomenon": "A", "quantity": 0}]}, "defect_phenomena.0.quantity"),
    ({"defect_phenomena": [{"phenomenon": "A", "quantity": 1}, {"phenomenon": "A", "quantity": 1}]},
     "defect_phenomena.1.phenomenon"),
    ({"defect_phenomena": [{"phenomenon": "", "quantity": 1}]}, "defect_phenomena.0.phenomenon"),
    ({"defective_qty": 0}, "defect_phenomena"),
    ({"tested_qty": None}, "tested_qty"),
])
def test_test_record_problems_name_the_field(data, field):
    base = {"received_qty": 10, "tested_qty": 10, "defective_qty": 4,
            "defect_phenomena": [{"phenomenon": "No power", "quantity": 4}]}
    out = run("check_returned_goods_test", **{**base, **data})
    assert out["record_valid"] is False and field in out["record_problems"], out["record_problems"]


DISPOSED = {"received_qty": 10, "isolate_qty": 1, "rework_qty": 2, "repair_qty": 3, "scrap_qty": 0,
            "return_to_stock_qty": 4}


def test_disposition_that_adds_up():
    out = run("check_returned_goods_disposition", **DISPOSED)
    assert out["record_valid"] is True
    assert out["disposition_summary"] == {"isolate": 1, "rework": 2, "repair": 3, "return_to_stock": 4}


@pytest.mark.parametrize("stock, total", [(5, 11), (3, 9)])
def test_disposition_one_unit_off_is_refused(stock, total):
    out = run("check_returned_goods_disposition", **{**DISPOSED, "return_to_stock_qty": stock})
    assert out["record_valid"] is False and "disposition_summary" not in out
    message = f"the quantities add up to {total}, but 10 were received"
    assert out["record_problems"] == {key: message for key in
                                      ("isolate_qty", "rework_qty", "repair_qty", "scrap_qty", "return_to_stock_qty")}


def test_disposition_bad_quantity_names_the_field():
    out = run("check_returned_goods_disposition", **{**DISPOSED, "rework_qty": -1, "repair_qty": None})
    assert out["record_valid"] is False
    assert set(out["record_problems"]) == {"rework_qty", "repair_qty"}


def test_returned_goods_number_is_idempotent():
    numbers = iter([7])
    out = registry.get("issue_returned_goods_number").run(
        {}, {}, {"now": dt.datetime(2026, 3, 2, tzinfo=dt.UTC), "next_number": lambda seq, year: next(numbers)})
    assert out == {"returned_goods_no": "RG-2026-000007"}
    kept = registry.get("issue_returned_goods_number").run({"returned_goods_no": "RG-2026-000001"}, {}, {})
    assert kept == {"returned_goods_no": "RG-2026-000001"}


@pytest.mark.parametrize("invoice, slip, eligible", [
    (True, True, True), (None, None, True), ("true", None, True), (False, True, False), (True, False, False),
])
def test_invoice_and_event_slip(invoice, slip, eligible):
    data = {k: v for k, v in (("invoice_presented", invoice), ("event_slip_presented", slip)) if v is not None}
    out = eligibility(**data)
    assert out["exchange_eligible"] is eligible
    assert out["evidence_required"] == ["invoice", "event_slip"]  # the goods qualify either way
    if not eligible:
        assert out["eligibility_rules"] == ["EXC-01", "EXC-03", "EXC-04"]
        assert out["reason"].startswith("Not eligible: the ") and "not presented" in out["reason"]


def test_missing_evidence_also_bars_the_allergy_return():
    out = eligibility(request_date="2026-11-03", unsealed=True, allergy=True, invoice_presented=False)
    assert out["exchange_eligible"] is False and out["return_allowed"] is False
    assert out["eligibility_rules"] == ["EXC-06", "EXC-04"]
