"""GET /api/v1/reports/kpis: every figure equals an independent recount of the seeded cases."""
from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter

import pytest
from kpi_recount import DEADLINES, KINDS, recount, recount_repairs, seed_cases
from sqlalchemy import func, select

import engine
from caseflow import accounts, clock, store

URL = "/api/v1/reports/kpis"
WAITING = "/api/v1/reports/waiting"


@pytest.fixture
def seeded(database):
    """16 complaints and 8 repairs over 3 months, driven through the engine."""
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
    satisfied = body["satisfied"]
    assert (satisfied["first_feedback"], satisfied["after_follow_up"]) == (want["sat_first"], want["sat_after"])
    assert want["sat_after"] > 0 and satisfied["first_feedback"] + satisfied["after_follow_up"] == satisfied["yes"]
    cost = body["cost"]
    assert cost["by_kind"] == {kind: {"cases": want["cost"][kind]["cases"], "quantity": want["cost"][kind]["quantity"],
                                      "amount": pytest.approx(want["cost"][kind]["amount"])} for kind in KINDS}
    assert cost["amount"] == pytest.approx(sum(c["amount"] for c in want["cost"].values()))
    assert cost["amount"] > 0
    assert body["recurrence"]["by_nth"] == {"1": want["nth"][1], "2": want["nth"][2], "3": want["nth"][3],
                                            "4+": want["nth"][4]}
    assert want["nth"][2] > 0
    assert body["stages"] == {k: want["stages"].get(k, 0) for k in ("in_progress", "follow_up", "resolved",
                                                                       "rejected", "cancelled")}
    for name in DEADLINES:
        rate, counted = body["on_time_rate"][name], want["deadlines"][name]
        assert {k: rate[k] for k in ("met", "late", "open", "overdue")} == {
            k: counted.get(k, 0) for k in ("met", "late", "open", "overdue")}, name
        done = counted["met"] + counted["late"] + counted.get("overdue", 0)  # past due and open: missed already
        assert rate["rate"] == (pytest.approx(counted["met"] / done) if done else None)
    assert body["on_time_rate"]["reaction"]["met"] > 0
    assert {m["month"]: sum(m[k] for k in ("major", "general", "other", "ungraded")) for m in body["by_month"]} == \
        dict(want["months"])
    assert sum(m["kpi_complaint_count"] for m in body["by_month"]) == want["weight"]
    assert {c["key"]: c["complaints"] for c in body["top_customers"]} == dict(want["customers"].most_common(10))

    assert {c["key"]: c["complaints"] for c in body["top_product_models"]} == dict(want["models"].most_common(10))
    assert {c["key"]: c["complaints"] for c in body["top_complaint_types"]} == dict(want["types"].most_common(10))
    ages = body["open_by_age"]
    assert ages["by_stage"] == {stage: {band: want["open_age"][stage].get(band, 0)
                                        for band in ("le_7d", "8_30d", "31_90d", "gt_90d")}
                                for stage in ("in_progress", "follow_up")}
    assert [c["instance_id"] for c in ages["oldest"]] == [i for _at, i in sorted(want["oldest"])][:20]
    late = body["late_now"]
    for name in ("reaction", "containment", "closure"):
        counts = late["by_deadline"][name]
        assert counts["total"] == want["deadlines"][name].get("overdue", 0) == body["on_time_rate"][name]["overdue"]
        assert sum(counts[b] for b in ("lt_1d", "1_3d", "3_7d", "ge_7d")) == counts["total"]
    assert sum(c["total"] for c in late["by_deadline"].values()) > 0
    assert all(c["late_hours"] > 0 for c in late["cases"])
    repairs, counted = body["repairs"], recount_repairs(seeded, dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert repairs["applications"] == counted["applications"] == 8
    assert (repairs["declined_fee"], repairs["returned_unrepaired"], repairs["abandoned"]) == (
        counted["declined"], counted["returned_unrepaired"], counted["abandoned"])
    assert counted["declined"] > 0 and counted["abandoned"] > 0 and counted["returned_unrepaired"] > 0
    assert (repairs["warranty"]["in"], repairs["warranty"]["out"]) == (counted["in"], counted["out"])
    assert (repairs["chargeable"]["yes"], repairs["chargeable"]["no"]) == (counted["chargeable"], counted["free"])
    assert repairs["fees"]["amount"] == pytest.approx(counted["fee"])

    # A customer filter (read from the facts, not the summaries) recounts the same way.
    customer = want["customers"].most_common(1)[0][0]
    one = api.get(f"{URL}?from=2025-01-01&to=2025-12-31&customer={customer}", headers=headers).get_json()
    mine = recount(seeded, dt.date(2025, 1, 1), dt.date(2025, 12, 31), customer=customer)
    assert one["complaint_count"] == mine["n"] > 0 and one["kpi_complaint_count"] == mine["weight"]
    assert one["satisfaction"] == {str(level): mine["sat"].get(str(level), 0) for level in range(1, 6)}
    assert one["stages"] == {k: mine["stages"].get(k, 0) for k in ("in_progress", "follow_up", "resolved",
                                                                      "rejected", "cancelled")}
    assert one["recurrence"]["by_nth"] == {"1": mine["nth"][1], "2": mine["nth"][2], "3": mine["nth"][3],
                                           "4+": mine["nth"][4]}
    assert one["cost"]["amount"] == pytest.approx(sum(c["amount"] for c in mine["cost"].values()))

    # A narrower range and a department filter recount the same way.
    narrow = api.get(f"{URL}?from=2025-02-01&to=2025-02-28&department=quality", headers=headers).get_json()
    want = recount(seeded, dt.date(2025, 2, 1), dt.date(2025, 2, 28), department="quality")
    assert narrow["complaint_count"] == want["n"]
    assert narrow["kpi_complaint_count"] == want["weight"]


def _token(database, username: str, role: str) -> str:
    with database.session() as s:
        user = store.User(username=username, password_hash="!", active=True)
        user.roles = [store.UserRole(role=role)]
        s.add(user)
        s.flush()
        return accounts.create_token(s, username, "tests")[1]


def test_kpis_are_for_managers_quality_and_the_departments_own_figures(seeded, app, tokens):
    api = app.test_client()
    finance = _token(seeded, "fin", "finance")
    for token, status in ((finance, 403), (tokens["service"], 200), (tokens["quality"], 200),
                          (tokens["manager"], 200), (tokens["admin"], 200)):
        got = api.get(f"{URL}?from=2025-01-01&to=2025-01-31", headers={"Authorization": f"Bearer {token}"})
        assert got.status_code == status, got.get_json()
    assert api.get(f"{URL}?from=2025-01-01&to=2025-01-31").status_code == 401
    assert api.get(f"{WAITING}?process=complaint&from=2025-01-01&to=2025-12-31",
                   headers={"Authorization": f"Bearer {finance}"}).status_code == 403

    # A department's user (logistics) sees its complaints only, whatever department it asks for.
    logistics = _token(seeded, "log", "logistics")
    mine = api.get(f"{URL}?from=2025-01-01&to=2025-12-31", headers={"Authorization": f"Bearer {logistics}"})
    want = recount(seeded, dt.date(2025, 1, 1), dt.date(2025, 12, 31), department="logistics")
    everyone = recount(seeded, dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    body = mine.get_json()
    assert body["complaint_count"] == want["n"] < everyone["n"]
    assert body["kpi_complaint_count"] == want["weight"]
    assert {d["key"] for d in body["by_department"]} <= {"logistics"}
    other = api.get(f"{URL}?from=2025-01-01&to=2025-12-31&department=quality",
                    headers={"Authorization": f"Bearer {logistics}"}).get_json()
    assert other["complaint_count"] == 0


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


def _nearest_rank(values: list[float], percent: int) -> float | None:
    ordered = sorted(values)
    return ordered[math.ceil(len(ordered) * percent / 100) - 1] if ordered else None


def test_waiting_times_equal_a_recount_of_the_task_rows(seeded, app, tokens):
    headers = {"Authorization": f"Bearer {tokens['manager']}"}
    got = app.test_client().get(f"{WAITING}?process=complaint&from=2025-01-01&to=2025-12-31", headers=headers)
    assert got.status_code == 200, got.get_json()
    body = got.get_json()
    with seeded.session() as s:
        definition = s.scalars(select(store.ProcessDefinition).where(store.ProcessDefinition.key == "complaint")
                               .order_by(store.ProcessDefinition.version.desc())).first()
        assert body["version"] == definition.version
        tasks = s.execute(select(store.HumanTask.name, store.HumanTask.state, store.HumanTask.created_at,
                                 store.HumanTask.completed_at)
                          .join(store.ProcessInstance, store.ProcessInstance.id == store.HumanTask.instance_id)
                          .where(store.ProcessInstance.definition_id == definition.id)).all()
        xml = engine.diagram_xml(s, definition.id)
    spent: dict[str, list[float]] = {}
    waiting_now: Counter = Counter()
    for name, state, created, completed in tasks:
        if state == "completed":
            spent.setdefault(name, []).append((completed - created).total_seconds())
        elif state == "ready":
            waiting_now[name] += 1
    tasks_seen = {e: v for e, v in body["elements"].items() if v["kind"] == "task"}
    assert set(tasks_seen) == set(spent) | set(waiting_now) and len(tasks_seen) > 5
    for name, figures in tasks_seen.items():
        assert figures["passed"] == len(spent.get(name, [])), name
        assert figures["waiting"] == waiting_now[name], name
        for key, percent in (("median_s", 50), ("p90_s", 90)):
            want = _nearest_rank(spent.get(name, []), percent)
            assert figures[key] == (pytest.approx(want, abs=0.2) if want is not None else None), (name, key)
    # A flow into a task that has no other way in was taken as often as the task was entered.
    flows = re.findall(r'<bpmn:sequenceFlow id="([^"]+)"[^>]*targetRef="d1_describe"', xml)
    assert len(flows) == 1
    assert body["flows"][flows[0]] == len(spent.get("d1_describe", [])) + waiting_now["d1_describe"] > 0
    starts = body["elements"]
    assert any(v["kind"] == "start" and v["passed"] == 16 for v in starts.values())
    # The intake completion is passed once per complaint the intake check sent back (the seed gives the
    # missing defect counts), not once per pass of an endless loop: 280 for 24 complaints was the seed's loop.
    with seeded.session() as s:
        sent_back = s.execute(select(func.count(func.distinct(store.HumanTask.instance_id)))
                              .where(store.HumanTask.name == "complete_intake",
                                     store.HumanTask.state == "completed")).scalar_one()
    assert starts["complete_intake"]["passed"] == sent_back > 0


def test_waiting_answers_404_and_422_and_is_documented(app, tokens):
    api, headers = app.test_client(), {"Authorization": f"Bearer {tokens['manager']}"}
    assert api.get(f"{WAITING}?process=nothing&from=2025-01-01&to=2025-01-31", headers=headers).status_code == 404
    got = api.get(f"{WAITING}?process=complaint&from=2025-02-01&to=2025-01-31", headers=headers)
    assert got.status_code == 422 and "to" in got.get_json()["error"]["fields"]
    op = api.get("/api/v1/openapi.json").get_json()["paths"]["/api/v1/reports/waiting"]["get"]
    assert {p["name"] for p in op["parameters"]} >= {"process", "version", "from", "to"}


def test_a_filter_value_no_complaint_can_have_is_refused(api):
    bad = api.get("/api/v1/reports/kpis?from=2026-01-01&to=2026-03-31&department=xyz&complaint_type=bogus",
                  who="manager")
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["fields"]) == {"department", "complaint_type"}
