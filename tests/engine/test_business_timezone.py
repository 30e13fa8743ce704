"""The business time zone (CASEFLOW_TIMEZONE) reaches the shipped diagrams' rules: deadlines end
at the end of the working day there, as the date checks and `today()` of the same case count."""
from __future__ import annotations

from pathlib import Path

import engine

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
REGISTRATION = {
    "channel": "phone", "customer_name": "Huaxin Electronics", "customer_code": "C-0815",
    "product_no": "PN-4711", "ship_date": "2026-02-20", "ship_qty": 1000, "found_stage": "incoming",
    "description": "20 units do not power on at incoming inspection.", "complaint_type": "quality",
    "functional_defect_qty": 20, "cosmetic_defect_qty": 0, "lot_size": 1000,
}


def _deadlines(session) -> dict:
    engine.deploy(session, [PROCESSES / "complaint", PROCESSES / "repair", PROCESSES / "returned_goods"],
                  actor="admin")
    data = engine.start(session, "complaint", REGISTRATION, actor="cs")["data"]
    return {key: data[key] for key in ("received_at", "react_by")}


def test_deadlines_follow_the_business_time_zone(session, frozen_clock, monkeypatch):
    monkeypatch.setenv("CASEFLOW_TIMEZONE", "Europe/Berlin")
    found = _deadlines(session)
    # Received Monday 2026-03-02 02:00 in Berlin (09:00 Shanghai): two working days, to 18:00 Berlin time.
    assert found["react_by"] == "2026-03-04T18:00:00+01:00", found


def test_the_default_business_time_zone_is_shanghai(session, frozen_clock):
    assert _deadlines(session)["react_by"] == "2026-03-04T18:00:00+08:00"
