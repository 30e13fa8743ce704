"""check_complaint_intake (VAL-01), check_repair_application (VAL-08), route_complaint (§4)."""
import pytest

from service_tasks import registry
from service_tasks.registry import OperatorError

QUALITY_COMPLETE = {
    "complaint_type": "quality", "customer_name": "ACME", "product_no": "P-1", "description": "cracked",
    "ship_date": "2026-03-01", "ship_qty": 1000, "found_stage": "incoming",
    "lot_size": 1000, "functional_defect_qty": 0, "cosmetic_defect_qty": 12,
}


def intake(data, params=None):
    return registry.get("check_complaint_intake").run(data, params or {})


def test_complete_quality_complaint():
    assert intake(QUALITY_COMPLETE) == {"intake_complete": True, "intake_missing": []}


def test_zero_counts_are_values_not_missing():
    data = dict(QUALITY_COMPLETE, functional_defect_qty=0, cosmetic_defect_qty="0")
    assert intake(data)["intake_complete"] is True


@pytest.mark.parametrize("key", ["product_no", "description", "ship_date", "ship_qty", "found_stage"])
@pytest.mark.parametrize("empty", [None, "", "   ", "<absent>"])
def test_each_quality_item_is_mandatory(key, empty):
    data = dict(QUALITY_COMPLETE)
    if empty == "<absent>":
        del data[key]
    else:
        data[key] = empty
    assert intake(data) == {"intake_complete": False, "intake_missing": [key]}


def test_customer_name_or_code():
    data = dict(QUALITY_COMPLETE, customer_name="")
    assert intake(data)["intake_missing"] == ["customer_name|customer_code"]
    assert intake(dict(data, customer_code="C042"))["intake_complete"] is True


def test_defect_counts_always_and_rate_or_lot_size():
    data = {k: v for k, v in QUALITY_COMPLETE.items()
            if k not in ("lot_size", "defect_rate", "functional_defect_qty", "cosmetic_defect_qty")}
    assert intake(data)["intake_missing"] == ["functional_defect_qty", "cosmetic_defect_qty", "defect_rate|lot_size"]
    # a rate alone is not enough: Scheme Q grades on the counts
    assert intake(dict(data, defect_rate=0.02))["intake_missing"] == ["functional_defect_qty", "cosmetic_defect_qty"]
    counts = dict(data, functional_defect_qty=1, cosmetic_defect_qty=0)
    assert intake(counts)["intake_missing"] == ["defect_rate|lot_size"]
    assert intake(dict(counts, lot_size=100))["intake_complete"] is True
    assert intake(dict(counts, defect_rate=0.02))["intake_complete"] is True


@pytest.mark.parametrize("ctype", ["packaging", "labeling", "quantity"])
def test_other_quality_types_use_the_quality_list(ctype):
    assert intake({"complaint_type": ctype, "customer_name": "A", "description": "x"})["intake_missing"] == [
        "product_no", "ship_date", "ship_qty", "found_stage",
        "functional_defect_qty", "cosmetic_defect_qty", "defect_rate|lot_size"]


@pytest.mark.parametrize("ctype", ["transport", "service", "other"])
def test_non_quality_types_need_customer_and_description(ctype):
    assert intake({"complaint_type": ctype, "customer_code": "C1", "description": "late"})["intake_complete"]
    assert intake({"complaint_type": ctype})["intake_missing"] == ["customer_name|customer_code", "description"]


def test_missing_complaint_type_is_reported():
    out = intake({"customer_name": "A", "description": "x"})
    assert out == {"intake_complete": False, "intake_missing": ["complaint_type"]}


def test_custom_lists():
    data = {"complaint_type": "service", "customer_name": "A", "description": "x"}
    assert intake(data, {"required_other": ["customer_name", "order_no"]})["intake_missing"] == ["order_no"]
    assert intake(dict(data, complaint_type="transport"),
                  {"quality_types": ["transport"]})["intake_missing"][0] == "product_no"


@pytest.mark.parametrize("params, field", [({"required_other": "description"}, "required_other"),
                                           ({"required_other": ["a||b"]}, "required_other"),
                                           ({"required_quality": ["a+"]}, "required_quality")])
def test_malformed_lists(params, field):
    data = {"complaint_type": "quality" if field == "required_quality" else "service"}
    with pytest.raises(OperatorError) as err:
        intake(data, params)
    assert err.value.field == field


APPLICATION = {
    "customer_name": "ACME", "customer_contact": "Li", "address": "1 Road", "recipient": "Li",
    "phone": "123", "email": "", "product_model": "X1", "serial_no": "S1", "purchase_date": "2025-03-10",
    "warranty_claim": "unknown", "fault_description": "no power", "special_requirements": "", "accessories": "",
}


def test_complete_repair_application_with_optional_fields_empty():
    out = registry.get("check_repair_application").run(APPLICATION, {})
    assert out == {"application_complete": True, "application_missing": []}


def test_incomplete_repair_application():
    data = dict(APPLICATION, address=" ", phone=None, fault_description="")
    del data["recipient"]
    out = registry.get("check_repair_application").run(data, {})
    assert out == {"application_complete": False,
                   "application_missing": ["address", "recipient", "phone", "fault_description"]}


def test_repair_application_custom_list():
    out = registry.get("check_repair_application").run(APPLICATION, {"required": ["email|phone", "accessories"]})
    assert out["application_missing"] == ["accessories"]


# --- routing -----------------------------------------------------------------------------

def route(data, params=None):
    return registry.get("route_complaint").run(data, params or {})


@pytest.mark.parametrize("ctype, dept, rule", [
    ("quality", "quality", "RT-02"), ("packaging", "quality", "RT-03"), ("labeling", "quality", "RT-03"),
    ("quantity", "quality", "RT-03"), ("transport", "logistics", "RT-01"),
    ("service", "customer_service", "RT-06"), ("other", "marketing", "RT-04"), ("Transport", "logistics", "RT-01"),
])
def test_default_table(ctype, dept, rule):
    assert route({"complaint_type": ctype}) == {"responsible_dept": dept, "routing_rule": rule}


def test_unknown_type_goes_to_default_dept():
    assert route({"complaint_type": "warranty"}) == {"responsible_dept": "quality", "routing_rule": "RT-07"}
    assert route({"complaint_type": "warranty"}, {"default_dept": "marketing"})["responsible_dept"] == "marketing"


def test_custom_table():
    table = {"transport": "quality_management", "other": {"dept": "sales", "rule": "RT-06"}}
    assert route({"complaint_type": "transport"}, {"table": table}) == {
        "responsible_dept": "quality_management", "routing_rule": "table:transport"}
    assert route({"complaint_type": "other"}, {"table": table})["responsible_dept"] == "sales"
    assert route({"complaint_type": "quality"}, {"table": table})["routing_rule"] == "RT-07"


@pytest.mark.parametrize("data, params, field", [
    ({}, {}, "complaint_type"), ({"complaint_type": ""}, {}, "complaint_type"),
    ({"complaint_type": "quality"}, {"table": ["quality"]}, "table"),
    ({"complaint_type": "quality"}, {"table": {"quality": {"rule": "RT-02"}}}, "table"),
])
def test_routing_errors(data, params, field):
    with pytest.raises(OperatorError) as err:
        route(data, params)
    assert err.value.field == field
