"""summarize_disposition (F10) and the operator documentation shown by `caseflow operators`."""
import pytest

from service_tasks import registry
from service_tasks.registry import OperatorError


def summarize(data, params=None):
    return registry.get("summarize_disposition").run(data, params or {})


def test_totals_and_ratio():
    out = summarize({"delivery_amount": 50000, "disposition_lines": [
        {"kind": "return", "quantity": 10, "amount": 1200.5},
        {"kind": "repair", "quantity": 3, "amount": "300"},
        {"kind": "repair", "quantity": "2", "amount": 0},
        {"kind": "compensation", "quantity": 1, "amount": 1000},
    ]})
    assert out == {"loss_amount": 2500.5, "complaint_ratio": 0.05001, "has_repair": True, "repair_quantity": 5}


@pytest.mark.parametrize("delivery", [0, "0", None, "", "<absent>"])
def test_no_ratio_without_delivery_amount(delivery):
    data = {"disposition_lines": [{"kind": "discount", "quantity": 1, "amount": 100}]}
    if delivery != "<absent>":
        data["delivery_amount"] = delivery
    out = summarize(data)
    assert out["complaint_ratio"] is None and out["loss_amount"] == 100.0


def test_no_repair_lines():
    out = summarize({"disposition_lines": [{"kind": "exchange", "quantity": 5, "amount": 0}], "delivery_amount": 10})
    assert (out["has_repair"], out["repair_quantity"], out["complaint_ratio"]) == (False, 0, 0.0)


def test_repair_line_with_zero_quantity_is_no_repair():
    out = summarize({"disposition_lines": [{"kind": "repair", "quantity": 0, "amount": 0}]})
    assert out["has_repair"] is False


def test_empty_plan():
    assert summarize({"disposition_lines": []}) == {
        "loss_amount": 0.0, "complaint_ratio": None, "has_repair": False, "repair_quantity": 0}


@pytest.mark.parametrize("data, field", [
    ({}, "disposition_lines"),
    ({"disposition_lines": "return"}, "disposition_lines"),
    ({"disposition_lines": ["return"]}, "disposition_lines[0]"),
    ({"disposition_lines": [{"kind": "gift", "quantity": 1, "amount": 1}]}, "disposition_lines[0].kind"),
    ({"disposition_lines": [{"kind": "return", "quantity": 1, "amount": 1},
                            {"kind": "return", "quantity": 1}]}, "disposition_lines[1].amount"),
    ({"disposition_lines": [{"kind": "return", "quantity": -1, "amount": 1}]}, "disposition_lines[0].quantity"),
    ({"disposition_lines": [{"kind": "return", "quantity": 1, "amount": "1,000"}]}, "disposition_lines[0].amount"),
    ({"disposition_lines": [], "delivery_amount": -1}, "delivery_amount"),
])
def test_bad_input_names_the_field(data, field):
    with pytest.raises(OperatorError) as err:
        summarize(data)
    assert err.value.field == field


EXPECTED_OPERATORS = {
    "grade_complaint", "route_complaint", "check_complaint_intake", "check_repair_application",
    "compute_deadlines", "working_days_deadline", "escalate", "summarize_disposition",
    "issue_complaint_number", "issue_repair_number", "assess_warranty", "compute_repair_due",
}


def test_all_operators_are_registered():
    assert EXPECTED_OPERATORS <= set(registry.names())


@pytest.mark.parametrize("name", sorted(EXPECTED_OPERATORS))
def test_operators_are_documented(name):
    desc = registry.get(name).describe()
    for word in ("Input", "Output", "Parameter"):
        assert word in desc["doc"], f"{name} doc does not explain its {word.lower()}s"
    for param in desc["params"]:
        assert param["doc"], f"{name}.{param['name']} has no doc"


@pytest.mark.parametrize("name, param, default", [
    ("grade_complaint", "q_major_functional", 15), ("grade_complaint", "q_major_cosmetic", 30),
    ("grade_complaint", "q_minor_functional", 5), ("grade_complaint", "q_minor_cosmetic", 10),
    ("grade_complaint", "q_low_defect_rate", 0.01), ("grade_complaint", "r_claim_amount", 10000),
    ("grade_complaint", "r_complainants", 10), ("grade_complaint", "r_inclusive", True),
    ("compute_deadlines", "s_react_wd", 2), ("compute_deadlines", "s_serious_containment_h", 24),
    ("compute_deadlines", "s_serious_close_days", 7), ("compute_deadlines", "s_general_close_days", None),
    ("compute_deadlines", "r_unresolved_months", 2), ("compute_deadlines", "timezone", "Asia/Shanghai"),
    ("compute_deadlines", "country", "CN"), ("compute_deadlines", "end_of_day", "18:00"),
    ("assess_warranty", "warranty_years", 1), ("assess_warranty", "free_causes", ["quality"]),
    ("compute_repair_due", "repair_cycle_wd", 5), ("issue_complaint_number", "width", 6),
])
def test_product_defaults_are_declared_params(name, param, default):
    params = {p["name"]: p for p in registry.get(name).describe()["params"]}
    assert params[param]["default"] == default


def test_operator_docs_read_as_plain_text():
    """Readers of the modeler and the CLI see `literal`, not reST's ``literal`` or :func:`target`."""
    for name in registry.names():
        doc = registry.get(name).doc
        assert "``" not in doc and ":func:" not in doc and ":data:" not in doc, name
    assert "`disposition_lines`" in registry.get("summarize_disposition").doc
