"""The complaint's returned-goods call operators (service_tasks/returned_goods_calls.py, PRODUCT.md §10)."""
import datetime as dt

import pytest

from service_tasks import registry
from service_tasks.registry import OperatorError

NOW = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)


def plan(lines, records=None, **data):
    base = {"disposition_lines": lines, "product_model": "HX-200", **data}
    if records is not None:
        base["returned_goods_records"] = records
    return registry.get("plan_returned_goods_call").run(base, {})


def test_only_return_exchange_and_make_up_lines_with_a_quantity_are_open():
    out = plan([{"kind": "repair", "quantity": 1, "amount": 0}, {"kind": "discount", "quantity": 1, "amount": 9},
                {"kind": "return", "quantity": 0, "amount": 0}, {"kind": "return", "quantity": 3, "amount": 0},
                {"kind": "exchange", "quantity": 2, "amount": 0, "note": "blue"},
                {"kind": "make_up_shipment", "quantity": 4, "amount": 0}])
    assert out["open_returned_goods_lines"] == 3 and out["returned_goods_records"] == []
    assert out["returned_goods_lines"] == [
        {"kind": "return", "quantity": 3, "product_model": "HX-200"},
        {"kind": "exchange", "quantity": 2, "product_model": "HX-200", "note": "blue"},
        {"kind": "make_up_shipment", "quantity": 4, "product_model": "HX-200"}]
    # An exchange decides the request; 5 units come back, 4 are made up.
    assert (out["request_kind"], out["expected_qty"], out["make_up_qty"]) == ("exchange", 5, 4)


@pytest.mark.parametrize("kinds, request_kind, expected, make_up", [
    (["return"], "return", 3, None), (["make_up_shipment"], "make_up_shipment", None, 3),
    (["return", "make_up_shipment"], "return", 3, 3)])
def test_request_kind_follows_the_lines(kinds, request_kind, expected, make_up):
    out = plan([{"kind": k, "quantity": 3, "amount": 0} for k in kinds])
    assert (out["request_kind"], out["expected_qty"], out["make_up_qty"]) == (request_kind, expected, make_up)


def test_a_line_carried_out_by_an_earlier_call_is_not_open_again():
    done = [{"seq": 1, "lines": [{"kind": "exchange", "quantity": 20, "product_model": "HX-200"}]}]
    same = {"kind": "exchange", "quantity": 20, "amount": 5000}
    out = plan([same], records=done)
    assert out["open_returned_goods_lines"] == 0 and out["returned_goods_lines"] == []
    assert "request_kind" not in out  # nothing to call: the called process's inputs are left alone
    # A second identical line is a new one; a changed quantity is a new line too.
    out = plan([same, same, {**same, "quantity": 25}], records=done)
    assert [line["quantity"] for line in out["returned_goods_lines"]] == [20, 25]


@pytest.mark.parametrize("data, field", [
    ({"disposition_lines": "exchange"}, "disposition_lines"),
    ({"disposition_lines": [], "returned_goods_records": {"seq": 1}}, "returned_goods_records"),
    ({"disposition_lines": [{"kind": "return", "quantity": "many"}]}, "disposition_lines.0.quantity")])
def test_bad_input_names_the_field(data, field):
    with pytest.raises(OperatorError) as err:
        registry.get("plan_returned_goods_call").run(data, {})
    assert err.value.field == field


def test_record_appends_one_record_per_call():
    op = registry.get("record_returned_goods_call")
    lines = [{"kind": "return", "quantity": 5, "product_model": "HX-200"}]
    first = op.run({"returned_goods_result": {"returned_goods_no": "RG-2026-000001", "received_qty": 5,
                                              "seq": 99},
                    "returned_goods_lines": lines}, {"now": NOW})
    [record] = first["returned_goods_records"]
    assert record == {"returned_goods_no": "RG-2026-000001", "received_qty": 5, "seq": 1,
                      "ended_at": "2026-03-02T09:00:00+00:00", "lines": lines}
    second = op.run({**first, "returned_goods_result": {"returned_goods_no": "RG-2026-000002"},
                     "returned_goods_lines": []}, {"now": NOW + dt.timedelta(days=1)})
    assert [r["seq"] for r in second["returned_goods_records"]] == [1, 2]
    assert second["returned_goods_records"][0] == record  # the first call's record is kept as it was


def test_record_without_a_result_is_an_error():
    with pytest.raises(OperatorError) as err:
        registry.get("record_returned_goods_call").run({"returned_goods_result": None}, {"now": NOW})
    assert err.value.field == "returned_goods_result"
