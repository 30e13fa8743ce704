"""``x-not-before`` and ``x-not-more-than`` (caseflow/_engine/form_rules.py): a date field that must not
be earlier than another date of the submission or of the case (a device received after it was bought),
a number not larger than another (defects not more than the lot)."""
import json
import shutil
from pathlib import Path

import pytest

import engine
from caseflow._engine import form_rules

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = {"type": "object", "properties": {
    "purchase_date": {"type": "string", "format": "date"},
    "request_date": {"type": "string", "format": "date", "x-not-before": "purchase_date"},
    "notified_on": {"type": "string", "format": "date", "x-not-before": ["received_at", "purchase_date"]},
}}


@pytest.fixture(autouse=True)
def business_zone(monkeypatch):
    monkeypatch.setenv("CASEFLOW_TIMEZONE", "Asia/Shanghai")


@pytest.mark.parametrize("request_date", ["2026-03-01", "2026-03-09"])
def test_a_date_on_or_after_the_other_passes(request_date):
    assert form_rules.before_problems(SCHEMA, {"purchase_date": "2026-03-01", "request_date": request_date}, {}) == {}


def test_a_date_before_the_other_is_refused_naming_the_other_date():
    problems = form_rules.before_problems(SCHEMA, {"purchase_date": "2026-03-01", "request_date": "2026-02-28"}, {})
    assert problems == {"request_date": "must not be before 2026-03-01"}


def test_the_other_date_comes_from_the_submission_first_then_the_case():
    case = {"purchase_date": "2026-03-10"}
    assert form_rules.before_problems(SCHEMA, {"purchase_date": "2026-03-01", "request_date": "2026-03-05"}, case) == {}
    assert form_rules.before_problems(SCHEMA, {"request_date": "2026-03-05"}, case) == {
        "request_date": "must not be before 2026-03-10"}


def test_a_date_against_a_date_time_compares_the_days_in_the_business_time_zone():
    # received 2026-03-02 01:00 in Shanghai is 2026-03-01 17:00 UTC: notified on 2026-03-02 is the same day
    case = {"received_at": "2026-03-01T17:00:00+00:00"}
    assert form_rules.before_problems(SCHEMA, {"notified_on": "2026-03-02"}, case) == {}
    assert form_rules.before_problems(SCHEMA, {"notified_on": "2026-03-01"}, case) == {
        "notified_on": "must not be before 2026-03-01T17:00:00+00:00"}


@pytest.mark.parametrize("case", [{}, {"received_at": None}, {"received_at": "soon"}, {"received_at": 20260301}])
def test_an_unknown_other_date_is_not_checked(case):
    assert form_rules.before_problems(SCHEMA, {"notified_on": "2020-01-01"}, case) == {}


def test_deploy_problems_of_the_keyword():
    assert form_rules.not_before_problems(SCHEMA) == []
    bad = {"properties": {"a": {"type": "string", "format": "date", "x-not-before": 3},
                          "b": {"type": "integer", "x-not-before": "purchase_date"}}}
    assert form_rules.not_before_problems(bad) == [
        "x-not-before of 'a': expected a data key or a list of data keys",
        "x-not-before of 'b': only a field of format date or date-time can have it"]


def test_deploy_refuses_a_malformed_rule(session, tmp_path):
    bundle = tmp_path / "repair"
    shutil.copytree(ROOT / "processes" / "repair", bundle)
    form = bundle / "repair_device_receipt.schema.json"
    schema = json.loads(form.read_text(encoding="utf-8"))
    schema["properties"]["received_date"]["x-not-before"] = ["purchase_date", 7]
    form.write_text(json.dumps(schema), encoding="utf-8")
    with pytest.raises(engine.DeployRejected) as err:
        engine.deploy(session, [bundle], actor="admin")
    assert "x-not-before of 'received_date': expected a data key or a list of data keys" in str(err.value)


# ``x-not-more-than``: a number not larger than another of the submission or the case (defects ≤ lot size)
COUNTS = {"type": "object", "properties": {
    "lot_size": {"type": "integer"},
    "functional_defect_qty": {"type": "integer", "x-not-more-than": "lot_size"},
    "cosmetic_defect_qty": {"type": "integer", "x-not-more-than": ["lot_size", "ship_qty"]},
}}


def test_a_number_above_the_other_is_refused_naming_the_other():
    assert form_rules.more_than_problems(COUNTS, {"lot_size": 10, "functional_defect_qty": 10}, {}) == {}
    assert form_rules.more_than_problems(COUNTS, {"lot_size": 10, "functional_defect_qty": 100}, {}) == {
        "functional_defect_qty": "must not be more than 10"}
    assert form_rules.more_than_problems(COUNTS, {"cosmetic_defect_qty": 6}, {"lot_size": 50, "ship_qty": 5}) == {
        "cosmetic_defect_qty": "must not be more than 5"}  # the case's values when the form has none


@pytest.mark.parametrize("case", [{}, {"lot_size": None}, {"lot_size": "ten"}, {"lot_size": True}])
def test_an_unknown_other_number_is_not_checked(case):
    assert form_rules.more_than_problems(COUNTS, {"functional_defect_qty": 100}, case) == {}


def test_deploy_problems_of_the_number_keyword():
    assert form_rules.not_before_problems(COUNTS) == []
    bad = {"properties": {"a": {"type": "integer", "x-not-more-than": []},
                          "b": {"type": "string", "x-not-more-than": "lot_size"}}}
    assert form_rules.not_before_problems(bad) == [
        "x-not-more-than of 'a': expected a data key or a list of data keys",
        "x-not-more-than of 'b': only a field of type integer or number can have it"]


def test_a_complaint_with_more_defects_than_its_lot_is_refused(session):
    engine.deploy(session, [ROOT / "processes" / "complaint", ROOT / "processes" / "repair",
                            ROOT / "processes" / "returned_goods"], actor="admin")
    data = {"channel": "web", "complaint_type": "quality", "ship_qty": 5, "lot_size": 10,
            "functional_defect_qty": 100, "cosmetic_defect_qty": 2}
    with pytest.raises(engine.InvalidData) as err:
        engine.start(session, "complaint", data, actor="service")
    assert err.value.fields == {"functional_defect_qty": "must not be more than 10"}
