"""GET /api/v1/reports/kpis: every figure equals an independent recount of the seeded cases."""
from __future__ import annotations

import datetime as dt

import pytest
from kpi_recount import DEADLINES, recount, seed_cases

from caseflow import clock

URL = "/api/v1/reports/kpis"


@pytest.fixture
def seeded(database):
    """16 complaints and 3 repairs over 3 months, driven through the engine."""
    seed_cases(database)
    yield database
    clock.reset()


def test_kpis_equal_an_independent_recount(seeded, app, tokens):
    api = app.test_client()
    headers = {"Authorization": f"Bearer {tokens['manager']}"}
    got = api.get(f"{URL}?from=2025-01-01&to=2025-12-31", headers=headers)
    assert got.status_code == 200, got.get_json()
    body = got.get_json()
    want = recount(seeded, dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert body["complaint_count"] == want["n"] == 16
    assert body["kpi_complaint_count"] == want["weight"] > 0
    assert body["complaints_by_class"] == {k: want["classes"].get(k, 0) for k in ("major", "general", "other",
                                                                                   "ungraded")}
    ratio = body["complaint_ratio"]
    assert ratio["loss_amount"] == pytest.approx(want["loss"]) and ratio["delivery_amount"] == pytest.approx(
        want["delivery"])
    assert ratio["total"] == pytest.approx(want["loss"] / want["delivery"])
    assert sum(ratio["distribution"].values()) == ratio["cases"]
    assert body["satisfaction"] == {str(level): want["sat"].get(str(level), 0) for level in range(1, 6)}
    assert sum(body["satisfaction"].values()) > 0
    assert body["stages"] == {k: want["stages"].get(k, 0) for k in ("in_progress", "follow_up", "resolved",
                                                                       "cancelled")}
    for name in DEADLINES:
        rate, counted = body["on_time_rate"][name], want["deadlines"][name]
        assert {k: rate[k] for k in ("met", "late", "open", "overdue")} == {
            k: counted.get(k, 0) for k in ("met", "late", "open", "overdue")}, name
        done = counted["met"] + counted["late"]
        assert rate["rate"] == (pytest.approx(counted["met"] / done) if done else None)
    assert body["on_time_rate"]["reaction"]["met"] > 0
    assert {m["month"]: sum(m[k] for k in ("major", "general", "other", "ungraded")) for m in body["by_month"]} == \
        dict(want["months"])
    assert sum(m["kpi_complaint_count"] for m in body["by_month"]) == want["weight"]
    assert {c["key"]: c["complaints"] for c in body["top_customers"]} == dict(want["customers"].most_common(10))

    # A narrower range and a department filter recount the same way.
    narrow = api.get(f"{URL}?from=2025-02-01&to=2025-02-28&department=quality", headers=headers).get_json()
    want = recount(seeded, dt.date(2025, 2, 1), dt.date(2025, 2, 28), department="quality")
    assert narrow["complaint_count"] == want["n"]
    assert narrow["kpi_complaint_count"] == want["weight"]


def test_kpis_are_for_managers_and_quality_only(app, tokens):
    api = app.test_client()
    for who, status in (("service", 403), ("quality", 200), ("manager", 200), ("admin", 200)):
        got = api.get(f"{URL}?from=2025-01-01&to=2025-01-31", headers={"Authorization": f"Bearer {tokens[who]}"})
        assert got.status_code == status, who
    assert api.get(f"{URL}?from=2025-01-01&to=2025-01-31").status_code == 401


@pytest.mark.parametrize("query, field", [
    ("to=2025-01-31", "from"), ("from=2025-13-01&to=2025-01-31", "from"), ("from=2025-02-01&to=2025-01-31", "to"),
    ("from=1800-01-01&to=2025-01-31", "from"), ("from=2025-01-01&to=2025-01-31&department=" + "x" * 300,
                                                  "department"),
])
def test_bad_filters_are_422_with_the_field(app, tokens, query, field):
    got = app.test_client().get(f"{URL}?{query}", headers={"Authorization": f"Bearer {tokens['manager']}"})
    assert got.status_code == 422
    assert field in got.get_json()["error"]["fields"]


def test_the_operation_is_in_the_openapi_document(app, tokens):
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    op = doc["paths"]["/api/v1/reports/kpis"]["get"]
    assert {p["name"] for p in op["parameters"]} >= {"from", "to", "department", "customer", "product_model",
                                                      "complaint_type"}
    assert "403" in op["responses"] and "422" in op["responses"]
