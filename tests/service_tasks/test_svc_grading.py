"""grade_complaint: Scheme Q, S and R at and around every boundary (PRODUCT §3)."""
import pytest

from service_tasks import registry
from service_tasks.registry import OperatorError


def grade(params=None, **data):
    base = {"complaint_type": "quality", "functional_defect_qty": 0, "cosmetic_defect_qty": 0}
    base.update(data)
    return registry.get("grade_complaint").run(base, params or {})


# --- Scheme Q: piece counts ------------------------------------------------------------

@pytest.mark.parametrize("functional, expected", [(4, "other"), (5, "general"), (6, "general"),
                                                  (14, "general"), (15, "major"), (16, "major")])
def test_functional_bands(functional, expected):
    assert grade(functional_defect_qty=functional)["kpi_class"] == expected


@pytest.mark.parametrize("cosmetic, expected", [(9, "other"), (10, "general"), (11, "general"),
                                                (29, "general"), (30, "major"), (31, "major")])
def test_cosmetic_bands(cosmetic, expected):
    assert grade(cosmetic_defect_qty=cosmetic)["kpi_class"] == expected


@pytest.mark.parametrize("kpi_class, weight, rule, counts", [
    ("other", 0, "SEV-Q-03", (0, 0)),
    ("general", 1, "SEV-Q-01", (5, 0)),
    ("major", 2, "SEV-Q-02", (0, 30)),
])
def test_weights_and_rule_ids(kpi_class, weight, rule, counts):
    out = grade(functional_defect_qty=counts[0], cosmetic_defect_qty=counts[1])
    assert (out["kpi_class"], out["kpi_weight"]) == (kpi_class, weight)
    assert out["grading_rules"][0] == rule


def test_output_keys_are_exactly_the_contract():
    assert set(grade()) == {"kpi_class", "kpi_weight", "urgency", "special_major", "grading_rules", "kpi_weights"}


def test_g01_higher_band_of_the_two_counts_wins():
    assert grade(functional_defect_qty=4, cosmetic_defect_qty=30)["kpi_class"] == "major"
    assert grade(functional_defect_qty=15, cosmetic_defect_qty=9)["kpi_class"] == "major"
    assert grade(functional_defect_qty=4, cosmetic_defect_qty=10)["kpi_class"] == "general"
    assert grade(functional_defect_qty=5, cosmetic_defect_qty=9)["kpi_class"] == "general"


# --- Scheme Q: defect rate -------------------------------------------------------------

@pytest.mark.parametrize("rate, expected", [(0.0099, "other"), (0.01, "general"), (0.0101, "general"),
                                            ("0.0099", "other"), ("0.01", "general")])
def test_defect_rate_boundary_lowers_general(rate, expected):
    assert grade(functional_defect_qty=6, defect_rate=rate)["kpi_class"] == expected


def test_low_defect_rate_never_lowers_major():
    out = grade(functional_defect_qty=15, defect_rate=0.0001)
    assert out["kpi_class"] == "major" and out["grading_rules"][0] == "SEV-Q-02"
    assert grade(cosmetic_defect_qty=30, lot_size=1_000_000)["kpi_class"] == "major"


@pytest.mark.parametrize("lot, expected", [(601, "other"), (600, "general"), (599, "general")])
def test_defect_rate_computed_from_lot_size(lot, expected):
    # 6 defects: 6/601 < 1 %, 6/600 = 1 %, 6/599 > 1 %
    assert grade(functional_defect_qty=6, lot_size=lot)["kpi_class"] == expected


def test_given_defect_rate_wins_over_lot_size():
    assert grade(functional_defect_qty=6, lot_size=100, defect_rate=0.005)["kpi_class"] == "other"


def test_lot_size_zero_means_rate_unknown():
    assert grade(functional_defect_qty=6, lot_size=0)["kpi_class"] == "general"


# --- Scheme S -------------------------------------------------------------------------

@pytest.mark.parametrize("flag_name", ["customer_requires_formal_report", "caused_line_stop", "repeat_issue"])
@pytest.mark.parametrize("value, serious", [(True, True), ("true", True), ("TRUE", True),
                                            (False, False), ("false", False), (None, False), ("", False)])
def test_serious_flags(flag_name, value, serious):
    out = grade(complaint_type="packaging", **{flag_name: value})
    assert out["urgency"] == ("serious" if serious else "occasional")
    assert ("SEV-S-01" in out["grading_rules"]) is serious


def test_quality_complaint_with_functional_defects_is_serious():
    assert grade(functional_defect_qty=1)["urgency"] == "serious"
    out = grade(functional_defect_qty=0, cosmetic_defect_qty=12)
    assert out["urgency"] == "general" and "SEV-S-02" in out["grading_rules"]


@pytest.mark.parametrize("ctype", ["quantity", "packaging", "labeling"])
def test_occasional_types(ctype):
    out = grade(complaint_type=ctype, functional_defect_qty=3)
    assert out["urgency"] == "occasional" and "SEV-S-03" in out["grading_rules"]


@pytest.mark.parametrize("ctype", ["transport", "service", "other"])
def test_non_quality_types(ctype):
    out = registry.get("grade_complaint").run({"complaint_type": ctype}, {})
    assert out == {"kpi_class": "other", "kpi_weight": 0, "urgency": "general",
                   "special_major": False, "grading_rules": ["SEV-Q-NA", "SEV-S-02"],
                   "kpi_weights": {"major": 2, "general": 1, "other": 0}}


def test_non_quality_type_ignores_counts_for_kpi_class():
    assert grade(complaint_type="transport", functional_defect_qty=50)["kpi_class"] == "other"


# --- Scheme R -------------------------------------------------------------------------

@pytest.mark.parametrize("inclusive, amount, special", [
    (True, 9999, False), (True, 10000, True), (True, 10001, True),
    (False, 9999, False), (False, 10000, False), (False, 10001, True),
    (True, "10000", True), (True, "9999.99", False),
])
def test_claim_amount_threshold(inclusive, amount, special):
    out = grade(params={"r_inclusive": inclusive}, claim_amount=amount)
    assert out["special_major"] is special
    assert ("SEV-R-04" in out["grading_rules"]) is special


@pytest.mark.parametrize("inclusive, people, special", [
    (True, 9, False), (True, 10, True), (True, 11, True),
    (False, 9, False), (False, 10, False), (False, 11, True),
])
def test_complainant_threshold(inclusive, people, special):
    out = grade(params={"r_inclusive": inclusive}, complainant_count=people)
    assert out["special_major"] is special
    assert ("SEV-R-05" in out["grading_rules"]) is special


@pytest.mark.parametrize("flag_name, rule", [("litigation", "SEV-R-01"), ("media_exposure", "SEV-R-02"),
                                             ("unresolved_overdue", "SEV-R-03")])
def test_special_major_flags(flag_name, rule):
    out = grade(**{flag_name: True})
    assert out["special_major"] is True and rule in out["grading_rules"]
    assert grade(**{flag_name: "false"})["special_major"] is False


def test_all_fired_rules_are_listed_in_order():
    out = grade(functional_defect_qty=20, repeat_issue=True, litigation=True, media_exposure=True,
                claim_amount=20000, complainant_count=12)
    assert out["grading_rules"] == ["SEV-Q-02", "SEV-S-01", "SEV-R-01", "SEV-R-02", "SEV-R-04", "SEV-R-05"]


# --- parameters change the result ------------------------------------------------------

def test_changed_thresholds_change_the_result():
    assert grade(functional_defect_qty=10)["kpi_class"] == "general"
    assert grade({"q_major_functional": 10}, functional_defect_qty=10)["kpi_class"] == "major"
    assert grade({"q_minor_functional": 7}, functional_defect_qty=6)["kpi_class"] == "other"
    assert grade({"q_major_cosmetic": 20}, cosmetic_defect_qty=20)["kpi_class"] == "major"
    assert grade({"q_minor_cosmetic": 12}, cosmetic_defect_qty=11)["kpi_class"] == "other"
    assert grade({"q_low_defect_rate": 0.02}, functional_defect_qty=6, defect_rate=0.015)["kpi_class"] == "other"
    assert grade({"r_claim_amount": 5000}, claim_amount=5000)["special_major"] is True
    assert grade({"r_complainants": 20}, complainant_count=15)["special_major"] is False
    assert grade({"kpi_weights": {"major": 3, "general": 1, "other": 0}},
                 functional_defect_qty=15)["kpi_weight"] == 3
    assert grade({"s_occasional_types": []}, complaint_type="packaging")["urgency"] == "general"
    assert grade({"s_functional_serious_types": []}, functional_defect_qty=3)["urgency"] == "general"
    assert grade({"q_types": ["quality"]}, complaint_type="packaging",
                 functional_defect_qty=20)["grading_rules"][0] == "SEV-Q-NA"


def test_numbers_from_forms_as_strings():
    assert grade(functional_defect_qty="15", cosmetic_defect_qty=" 0 ")["kpi_class"] == "major"
    assert grade(complainant_count="10")["special_major"] is True


# --- bad and missing input -------------------------------------------------------------

@pytest.mark.parametrize("missing", ["functional_defect_qty", "cosmetic_defect_qty"])
@pytest.mark.parametrize("ctype", ["quality", "packaging", "labeling", "quantity"])
def test_missing_counts_on_quality_type_complaint(missing, ctype):
    data = {"complaint_type": ctype, "functional_defect_qty": 1, "cosmetic_defect_qty": 1}
    for value in (None, ""):
        data[missing] = value
        with pytest.raises(OperatorError) as err:
            registry.get("grade_complaint").run(data, {})
        assert err.value.field == missing
    del data[missing]
    with pytest.raises(OperatorError) as err:
        registry.get("grade_complaint").run(data, {})
    assert err.value.field == missing


@pytest.mark.parametrize("field, value", [
    ("functional_defect_qty", "abc"), ("functional_defect_qty", -1), ("functional_defect_qty", "1.5"),
    ("functional_defect_qty", True), ("cosmetic_defect_qty", 2.5), ("cosmetic_defect_qty", [3]),
    ("defect_rate", 1.5), ("defect_rate", "1%"), ("defect_rate", -0.1), ("defect_rate", float("nan")),
    ("lot_size", "many"), ("claim_amount", "lots"), ("claim_amount", -5), ("complainant_count", "ten"),
    ("litigation", "maybe"), ("caused_line_stop", 2), ("repeat_issue", "y"),
    ("complaint_type", None), ("complaint_type", ""), ("complaint_type", "qualty"), ("complaint_type", 3),
])
def test_bad_input_names_the_field(field, value):
    data = {"complaint_type": "quality", "functional_defect_qty": 1, "cosmetic_defect_qty": 1, field: value}
    with pytest.raises(OperatorError) as err:
        registry.get("grade_complaint").run(data, {})
    assert err.value.field == field
    assert field in str(err.value)


def test_lot_size_smaller_than_defects_is_an_error():
    with pytest.raises(OperatorError) as err:
        grade(functional_defect_qty=6, cosmetic_defect_qty=5, lot_size=10)
    assert err.value.field == "lot_size"


@pytest.mark.parametrize("params, field", [
    ({"q_minor_functional": 20}, "q_minor_functional"),
    ({"q_minor_cosmetic": 40}, "q_minor_cosmetic"),
    ({"q_major_functional": "x"}, "q_major_functional"),
    ({"r_inclusive": "perhaps"}, "r_inclusive"),
    ({"kpi_weights": {"major": 2}}, "kpi_weights"),
    ({"q_types": "quality"}, "q_types"),
])
def test_bad_params_name_the_param(params, field):
    with pytest.raises(OperatorError) as err:
        grade(params, functional_defect_qty=1)
    assert err.value.field == field


def test_unknown_param_is_refused():
    with pytest.raises(OperatorError, match="q_major_functionall"):
        grade({"q_major_functionall": 10})
