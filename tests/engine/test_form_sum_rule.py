"""``x-sum-equals`` (caseflow/_engine/form_rules.py): quantities of a form that must add up."""
import pytest

from caseflow._engine import form_rules

FIELDS = ["isolate_qty", "rework_qty", "scrap_qty"]
SCHEMA = {"type": "object", "properties": {f: {"type": "integer"} for f in FIELDS},
          "x-sum-equals": {"fields": FIELDS, "equals": "received_qty"}}


def test_sum_equal_to_the_case_value_passes():
    assert form_rules.sum_problems(SCHEMA, {"isolate_qty": 1, "rework_qty": 2, "scrap_qty": 7},
                                   {"received_qty": 10}) == {}


@pytest.mark.parametrize("clean, total", [({"isolate_qty": 1, "rework_qty": 2, "scrap_qty": 6}, 9),
                                          ({"rework_qty": 11}, 11)])  # a missing field counts 0
def test_a_sum_that_differs_names_every_field(clean, total):
    problems = form_rules.sum_problems(SCHEMA, clean, {"received_qty": 10})
    assert problems == {f: f"the quantities add up to {total}, but 10 are expected" for f in FIELDS}


def test_the_total_from_the_submission_wins_over_the_case():
    schema = {**SCHEMA, "properties": {**SCHEMA["properties"], "received_qty": {"type": "integer"}}}
    clean = {"received_qty": 3, "isolate_qty": 3, "rework_qty": 0, "scrap_qty": 0}
    assert form_rules.sum_problems(schema, clean, {"received_qty": 10}) == {}


@pytest.mark.parametrize("unread", ["rework_qty", "received_qty"])
def test_a_sum_over_a_field_whose_input_could_not_be_read_is_not_judged(unread):
    clean = {"isolate_qty": 1, "scrap_qty": 2, "received_qty": 10}
    assert form_rules.sum_problems(SCHEMA, clean, {}) != {}  # the unread field would count 0
    assert form_rules.sum_problems(SCHEMA, clean, {}, frozenset({unread})) == {}
    assert form_rules.sum_problems(SCHEMA, clean, {}, frozenset({"disposition_note"})) != {}


@pytest.mark.parametrize("case", [{}, {"received_qty": None}, {"received_qty": True}, {"received_qty": "10"}])
def test_an_unknown_total_is_not_checked(case):
    assert form_rules.sum_problems(SCHEMA, {"rework_qty": 4}, case) == {}


def test_deploy_problems_of_the_keyword():
    assert form_rules.problems(SCHEMA) == []
    assert form_rules.problems({"properties": {}}) == []
    assert form_rules.problems({**SCHEMA, "x-sum-equals": {"fields": "isolate_qty", "equals": "x"}})
    assert form_rules.problems({**SCHEMA, "x-sum-equals": [{"fields": ["nope"], "equals": "received_qty"}]}) == [
        "x-sum-equals: 'nope' is not a field of the form"]


def test_deploy_refuses_a_sum_rule_over_unknown_fields(session, tmp_path):
    import json
    import shutil
    from pathlib import Path

    import engine

    bundle = tmp_path / "returned_goods"
    shutil.copytree(Path(__file__).resolve().parents[2] / "processes" / "returned_goods", bundle)
    form = bundle / "returned_goods_disposition.schema.json"
    schema = json.loads(form.read_text(encoding="utf-8"))
    schema["x-sum-equals"]["fields"].append("lost_qty")
    form.write_text(json.dumps(schema), encoding="utf-8")
    with pytest.raises(engine.DeployRejected) as err:
        engine.deploy(session, [bundle], actor="admin")
    assert "x-sum-equals: 'lost_qty' is not a field of the form" in str(err.value)
