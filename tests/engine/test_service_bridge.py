"""Service tasks through the engine: parameters from the diagram, results, real errors, retry."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

import engine
from caseflow import cli

DATA = Path(__file__).parent / "data_service"
QUALITY = {"complaint_type": "quality", "functional_defect_qty": 16, "cosmetic_defect_qty": 0, "lot_size": 1000}


def test_parameters_from_the_diagram_and_merged_results(session, frozen_clock):
    engine.deploy(session, [DATA], actor="admin")
    view = engine.start(session, "grade_only", QUALITY, actor="cs")
    assert view["status"] == "completed"
    # the diagram raises the major threshold to 20, so 16 functional defects are "general"
    assert view["data"]["kpi_class"] == "general" and view["data"]["urgency"] == "serious"
    assert view["data"]["numbering"] == {"complaint_no": "CP-2026-000001"}
    second = engine.start(session, "grade_only", QUALITY, actor="cs")
    assert second["data"]["numbering"]["complaint_no"] == "CP-2026-000002"


def test_operator_error_reaches_the_instance_and_retry_recovers(session, frozen_clock):
    engine.deploy(session, [DATA], actor="admin")
    view = engine.start(session, "grade_only", {"complaint_type": "quality"}, actor="cs")
    assert view["status"] == "error"
    assert view["error"]["task"] == "grade"
    assert "functional_defect_qty" in view["error"]["message"]  # the real cause, not a NameError
    assert "NameError" not in view["error"]["message"]
    kinds = [(e["kind"], e["payload"].get("message", "")) for e in engine.audit_log(session, view["id"])]
    assert any(k == "error" and "functional_defect_qty" in m for k, m in kinds)
    engine.update_data(session, view["id"], {"functional_defect_qty": 3, "cosmetic_defect_qty": 1}, actor="admin")
    fixed = engine.retry(session, view["id"], actor="admin")
    assert fixed["status"] == "completed" and fixed["data"]["kpi_class"] == "other"


def _cli(*args: str):
    return CliRunner().invoke(cli.main, list(args))


def test_operators_are_listed_with_parameters_and_defaults():
    result = _cli("operators", "--json")
    assert result.exit_code == 0
    ops = {op["name"]: op for op in json.loads(result.stdout)["operators"]}
    for name in ("grade_complaint", "route_complaint", "compute_deadlines", "check_complaint_intake",
                 "assess_warranty", "issue_repair_number", "compute_repair_due"):
        assert name in ops and ops[name]["doc"]
    params = {p["name"]: p for p in ops["grade_complaint"]["params"]}
    assert params["q_major_functional"]["default"] == 15
    assert "grade_complaint" in _cli("operators").stdout


def test_operators_run_prints_result_and_errors_exit_non_zero():
    ok = _cli("operators", "run", "grade_complaint", "--data", json.dumps(QUALITY))
    assert ok.exit_code == 0
    out = json.loads(ok.stdout)
    assert out["kpi_class"] == "major" and out["kpi_weight"] == 2 and "grading_rules" in out
    changed = _cli("operators", "run", "grade_complaint", "--data", json.dumps(QUALITY),
                   "--params", '{"q_major_functional": 20}')
    assert json.loads(changed.stdout)["kpi_class"] == "general"
    bad = _cli("operators", "run", "grade_complaint", "--data", '{"complaint_type": "quality"}')
    assert bad.exit_code != 0 and "functional_defect_qty" in bad.stderr
    unknown = _cli("operators", "run", "nope")
    assert unknown.exit_code != 0 and "nope" in unknown.stderr
    bad_param = _cli("operators", "run", "grade_complaint", "--data", "{}", "--params", '{"zzz": 1}')
    assert bad_param.exit_code != 0 and "zzz" in bad_param.stderr
