"""assess_warranty, compute_repair_due (PRODUCT §5) and case numbers (§5.2, §7)."""
import datetime as dt

import pytest

from service_tasks import registry
from service_tasks.registry import OperatorError
from service_tasks.warranty import add_years


def warranty(params=None, **data):
    base = {"purchase_date": "2025-03-10", "received_date": "2026-03-10", "fault_cause": "quality"}
    base.update(data)
    return registry.get("assess_warranty").run(base, params or {})


@pytest.mark.parametrize("received, in_warranty", [
    ("2026-03-09", True),   # 364 days
    ("2026-03-10", True),   # 365 days: the anniversary itself is in warranty
    ("2026-03-11", False),  # 366 days
])
def test_warranty_boundary(received, in_warranty):
    out = warranty(received_date=received)
    assert out["in_warranty"] is in_warranty
    assert out["chargeable"] is (not in_warranty)
    assert out["free_return_shipping"] is in_warranty
    assert out["warranty_until"] == "2026-03-10"


@pytest.mark.parametrize("received, in_warranty", [("2025-02-28", True), ("2025-03-01", False)])
def test_leap_day_purchase(received, in_warranty):
    out = warranty(purchase_date="2024-02-29", received_date=received)
    assert out["in_warranty"] is in_warranty
    assert out["warranty_until"] == "2025-02-28"


def test_add_years():
    assert add_years(dt.date(2024, 2, 29), 1) == dt.date(2025, 2, 28)
    assert add_years(dt.date(2024, 2, 29), 4) == dt.date(2028, 2, 29)
    assert add_years(dt.date(2025, 3, 10), 2) == dt.date(2027, 3, 10)


@pytest.mark.parametrize("cause", ["man_made", "improper_storage", "no_fault_found"])
def test_in_warranty_but_not_a_quality_fault_is_chargeable(cause):
    out = warranty(received_date="2025-06-01", fault_cause=cause)
    assert out["in_warranty"] is True
    assert out["chargeable"] is True
    assert out["free_return_shipping"] is False
    assert "not covered" in out["warranty_reason"]


def test_free_repair_reason_mentions_return_shipping():
    out = warranty(received_date="2025-06-01")
    assert out["chargeable"] is False
    assert "return shipping" in out["warranty_reason"]


def test_quality_fault_out_of_warranty_is_chargeable():
    out = warranty(received_date="2026-06-01")
    assert (out["in_warranty"], out["chargeable"]) == (False, True)
    assert "2026-03-10" in out["warranty_reason"]


def test_changed_params_change_the_result():
    assert warranty({"warranty_years": 2}, received_date="2026-06-01")["in_warranty"] is True
    out = warranty({"free_causes": ["quality", "no_fault_found"]}, received_date="2025-06-01",
                   fault_cause="no_fault_found")
    assert out["chargeable"] is False


@pytest.mark.parametrize("data, field", [
    ({"fault_cause": None}, "fault_cause"), ({"fault_cause": ""}, "fault_cause"),
    ({"fault_cause": "water"}, "fault_cause"), ({"purchase_date": ""}, "purchase_date"),
    ({"purchase_date": "2026-13-01"}, "purchase_date"), ({"received_date": None}, "received_date"),
    ({"received_date": "2025-01-01"}, "received_date"),  # before the purchase
])
def test_warranty_bad_input(data, field):
    with pytest.raises(OperatorError) as err:
        warranty(**data)
    assert err.value.field == field


def test_warranty_bad_free_causes():
    with pytest.raises(OperatorError) as err:
        warranty({"free_causes": ["quality", "bad_luck"]})
    assert err.value.field == "free_causes"


# --- repair due -----------------------------------------------------------------------

def repair_due(data, params=None):
    return registry.get("compute_repair_due").run(data, params or {})


@pytest.mark.parametrize("received, due", [
    ("2026-03-06", "2026-03-13T18:00:00+08:00"),  # Fri -> Mon..Fri next week
    ("2026-03-09", "2026-03-16T18:00:00+08:00"),  # Mon -> the next Monday
    ("2026-09-30", "2026-10-13T18:00:00+08:00"),  # National Day skipped, Sat 10 Oct worked
    ("2026-02-12", "2026-02-26T18:00:00+08:00"),  # 13, 14 (make-up Sat), 24, 25, 26
])
def test_repair_due_free(received, due):
    assert repair_due({"received_date": received, "chargeable": False}) == {"repair_due": due}


def test_chargeable_repair_starts_after_payment():
    data = {"received_date": "2026-03-06", "chargeable": "true", "payment_confirmed_date": "2026-03-10"}
    assert repair_due(data)["repair_due"] == "2026-03-17T18:00:00+08:00"


def test_payment_before_receipt_counts_from_receipt():
    data = {"received_date": "2026-03-06", "chargeable": True, "payment_confirmed_date": "2026-03-01"}
    assert repair_due(data)["repair_due"] == "2026-03-13T18:00:00+08:00"


def test_repair_cycle_param():
    out = repair_due({"received_date": "2026-03-06", "chargeable": False}, {"repair_cycle_wd": 3})
    assert out["repair_due"] == "2026-03-11T18:00:00+08:00"


@pytest.mark.parametrize("data, field", [
    ({"chargeable": False}, "received_date"),
    ({"received_date": "2026-03-06"}, "chargeable"),
    ({"received_date": "2026-03-06", "chargeable": "perhaps"}, "chargeable"),
    ({"received_date": "2026-03-06", "chargeable": True}, "payment_confirmed_date"),
    ({"received_date": "2026-03-06", "chargeable": True, "payment_confirmed_date": "soon"},
     "payment_confirmed_date"),
])
def test_repair_due_bad_input(data, field):
    with pytest.raises(OperatorError) as err:
        repair_due(data)
    assert err.value.field == field


# --- fee answer due -------------------------------------------------------------------

def fee_answer_due(now, params=None):
    return registry.get("compute_fee_answer_due").run({}, {"now": now, **(params or {})})


@pytest.mark.parametrize("sent, due", [
    ("2026-03-06T10:00:00+08:00", "2026-03-11T18:00:00+08:00"),  # Fri -> Mon, Tue, Wed
    ("2026-09-29T16:00:00+08:00", "2026-10-09T18:00:00+08:00"),  # Sep 30, National Day (1-7 Oct) off, 8, 9
    ("2026-03-09T01:00:00+00:00", "2026-03-12T18:00:00+08:00"),  # the day is the business time zone's
])
def test_fee_answer_due_counts_working_days_after_the_notice(sent, due):
    assert fee_answer_due(sent) == {"fee_answer_due": due}


def test_fee_answer_days_are_a_parameter_and_must_be_positive():
    assert fee_answer_due("2026-03-06T10:00:00+08:00", {"fee_answer_wd": 1})["fee_answer_due"] == \
        "2026-03-09T18:00:00+08:00"
    for bad in (0, -2, "soon"):
        with pytest.raises(OperatorError) as err:
            fee_answer_due("2026-03-06T10:00:00+08:00", {"fee_answer_wd": bad})
        assert err.value.field == "fee_answer_wd"


# --- numbering --------------------------------------------------------------------------

class Sequence:
    def __init__(self, start=123):
        self.calls = []
        self.value = start

    def __call__(self, name, year):
        self.calls.append((name, year))
        self.value += 1
        return self.value - 1


def number(op, data, params=None, now=dt.datetime(2026, 5, 4, 1, 0, tzinfo=dt.UTC), seq=None):
    seq = seq or Sequence()
    return registry.get(op).run(data, params or {}, context={"now": now, "next_number": seq}), seq


def test_complaint_number_format():
    out, seq = number("issue_complaint_number", {})
    assert out == {"complaint_no": "CP-2026-000123"}
    assert seq.calls == [("complaint", 2026)]


def test_repair_number_format():
    out, seq = number("issue_repair_number", {})
    assert out == {"repair_number": "RMA-2026-000123"}
    assert seq.calls == [("repair", 2026)]


def test_year_is_taken_in_the_business_timezone():
    new_year_in_shanghai = dt.datetime(2025, 12, 31, 17, 0, tzinfo=dt.UTC)
    out, seq = number("issue_complaint_number", {}, now=new_year_in_shanghai)
    assert out["complaint_no"] == "CP-2026-000123" and seq.calls == [("complaint", 2026)]
    out, seq = number("issue_complaint_number", {}, {"timezone": "UTC"}, now=new_year_in_shanghai)
    assert out["complaint_no"] == "CP-2025-000123" and seq.calls == [("complaint", 2025)]


@pytest.mark.parametrize("op, key", [("issue_complaint_number", "complaint_no"),
                                     ("issue_repair_number", "repair_number")])
def test_numbers_are_idempotent(op, key):
    out, seq = number(op, {key: "X-2025-000001"})
    assert out == {key: "X-2025-000001"} and seq.calls == []
    out, seq = number(op, {key: ""})
    assert out[key].endswith("-2026-000123") and len(seq.calls) == 1


def test_prefix_and_width_params():
    out, _ = number("issue_complaint_number", {}, {"prefix": "KS", "width": 4})
    assert out == {"complaint_no": "KS-2026-0123"}
    out, _ = number("issue_complaint_number", {}, {"width": 2})
    assert out == {"complaint_no": "CP-2026-123"}  # never truncated


def test_numbering_needs_the_engine_context():
    with pytest.raises(OperatorError) as err:
        registry.get("issue_complaint_number").run({}, {}, context={"now": dt.datetime.now(dt.UTC)})
    assert err.value.field == "next_number"
    with pytest.raises(OperatorError) as err:
        registry.get("issue_repair_number").run({}, {}, context={"next_number": Sequence()})
    assert err.value.field == "now"


def test_bad_sequence_value():
    with pytest.raises(OperatorError) as err:
        number("issue_complaint_number", {}, seq=lambda name, year: 0)
    assert err.value.field == "next_number"
