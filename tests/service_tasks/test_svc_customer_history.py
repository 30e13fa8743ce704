"""count_customer_complaints: the F10 "本年度第 N 次投诉" number (pure rule, the count is injected)."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from service_tasks import registry
from service_tasks.registry import OperatorError

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 1, 1, 0, 30, tzinfo=SHANGHAI)  # 2025-12-31 16:30 UTC: already 2026 locally


def run(data: dict, counts: dict[tuple[str, str], int], calls: list | None = None) -> dict:
    def count_cases(process_key, key, value, start, end, exclude):
        if calls is not None:
            calls.append((process_key, key, value, start, end, exclude))
        return counts.get((key, value), 0)

    return registry.get("count_customer_complaints").run(data, {}, {"now": NOW, "count_cases": count_cases})


def test_counts_by_customer_code_in_the_local_year_without_the_case_itself():
    calls: list = []
    out = run({"customer_code": " C-1 ", "customer_name": "ACME", "complaint_no": "CP-2026-000009"},
              {("customer_code", "C-1"): 2, ("customer_name", "ACME"): 5}, calls)
    assert out == {"customer_complaint_seq": 3}
    (process_key, key, value, start, end, exclude), = calls
    assert (process_key, key, value, exclude) == ("complaint", "customer_code", "C-1", "CP-2026-000009")
    assert (start, end) == (dt.datetime(2026, 1, 1, tzinfo=SHANGHAI), dt.datetime(2027, 1, 1, tzinfo=SHANGHAI))


def test_falls_back_to_the_customer_name_and_is_idempotent():
    assert run({"customer_name": "ACME"}, {("customer_name", "ACME"): 1}) == {"customer_complaint_seq": 2}
    assert run({"customer_name": "ACME", "customer_complaint_seq": 7}, {}) == {"customer_complaint_seq": 7}
    assert run({"customer_code": "", "customer_name": "  "}, {}) == {}


def test_needs_the_engine_supplied_count():
    with pytest.raises(OperatorError, match="count_cases"):
        registry.get("count_customer_complaints").run({"customer_code": "C-1"}, {}, {"now": NOW})
    with pytest.raises(OperatorError, match="returned"):
        registry.get("count_customer_complaints").run(
            {"customer_code": "C-1"}, {}, {"now": NOW, "count_cases": lambda *a: -1})
