"""Acceptance through the `caseflow` command line, as an operator would run it."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from caseflow import cli

PROCESSES = Path(__file__).resolve().parents[2] / "processes"

REGISTRATION = {
    "channel": "phone", "customer_name": "华东电子", "customer_code": "C-001",
    "customer_contact": "王经理 138-0000-0000",
    "product_no": "P-100", "product_model": "X1", "order_no": "SO-77", "ship_date": "2026-02-20",
    "ship_qty": 1000, "found_stage": "incoming", "description": "开机无显示", "customer_request": "退货",
    "complaint_type": "quality", "functional_defect_qty": 16, "cosmetic_defect_qty": 2, "lot_size": 1000,
    "claim_amount": 12000, "complainant_count": 1,
}
GRADING_KEYS = ("kpi_class", "kpi_weight", "urgency", "special_major", "grading_rules")


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("CASEFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.setenv("CASEFLOW_INSTANCE_DIR", str(tmp_path / "instance"))
    runner = CliRunner()

    def invoke(*args: str) -> dict:
        result = runner.invoke(cli.main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    return invoke


def test_start_runs_to_grading_outputs_and_matches_the_operator(run, frozen_clock):
    deployed = run("deploy", str(PROCESSES), "--json")["processes"]
    assert {p["key"] for p in deployed} == {d.name for d in PROCESSES.iterdir() if any(d.glob("*.bpmn"))}
    started = run("start", "complaint", "--data", json.dumps(REGISTRATION, ensure_ascii=False),
                  "--user", "cs1", "--json")
    shown = run("show", str(started["id"]), "--json")
    data = shown["data"]
    for key in (*GRADING_KEYS, "responsible_dept", "react_by", "containment_by", "close_by", "complaint_no"):
        assert data.get(key) is not None, key
    assert (data["kpi_class"], data["urgency"], data["special_major"]) == ("major", "serious", True)
    assert data["responsible_dept"] == "quality" and data["complaint_no"] == "CP-2026-000001"
    assert shown["business_key"] == "CP-2026-000001"
    # the same inputs through the operator give the same grading
    alone = run("operators", "run", "grade_complaint", "--data", json.dumps(REGISTRATION, ensure_ascii=False))
    assert {k: alone[k] for k in GRADING_KEYS} == {k: data[k] for k in GRADING_KEYS}


def test_assess_warranty_prints_the_decision_and_its_reason(run):
    out = run("operators", "run", "assess_warranty", "--data",
              '{"purchase_date": "2025-03-01", "received_date": "2026-03-01", "fault_cause": "quality"}')
    assert (out["in_warranty"], out["chargeable"]) == (True, False) and out["warranty_reason"]
    out = run("operators", "run", "assess_warranty", "--data",
              '{"purchase_date": "2025-03-01", "received_date": "2026-03-02", "fault_cause": "quality"}')
    assert (out["in_warranty"], out["chargeable"]) == (False, True) and "warranty" in out["warranty_reason"].lower()
