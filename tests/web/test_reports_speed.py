"""What keeps the dashboard fast (issue 16, acceptance 3: under 300 ms at 100,000 cases): the
cases late now read their covering partial index in due order, the additive figures are summed
in one pass (only the complaints and weights are grouped), the open complaints' age bands come
from the daily summary, and the figures' links are built without routing each one."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import url_for
from kpi_recount import TZ, seed_cases
from sqlalchemy import event

from caseflow import clock
from caseflow.reports import kpis
from web.reports import tables

RANGE = kpis.KpiFilter(dt.date(2025, 1, 1), dt.date(2025, 12, 31))


@pytest.fixture
def seeded(database):
    seed_cases(database, complaints=14, repairs=2, months=2)
    yield database
    clock.reset()


def statements(database, run) -> list[tuple[str, Any]]:
    """The SQL statements (and parameters) ``run()`` executes."""
    seen: list[tuple[str, Any]] = []

    def after(_conn: Any, _cursor: Any, statement: str, params: Any, _context: Any, _many: Any) -> None:
        seen.append((statement, params))

    event.listen(database.engine, "after_cursor_execute", after)
    try:
        run()
    finally:
        event.remove(database.engine, "after_cursor_execute", after)
    return seen


def test_the_cases_late_now_read_their_covering_index_in_due_order(seeded):
    with seeded.session() as s:
        now = clock.now()
        seen = statements(seeded, lambda: kpis.late_now(s, RANGE, TZ, now))
        late = [(sql, p) for sql, p in seen if "_due <" in sql and "FROM case_facts" in sql]
        assert len(late) == 2 * len(kpis.COMPLAINT_DEADLINES)  # a count and a list per deadline
        raw = s.connection().connection.dbapi_connection
        for sql, params in late:
            plan = " | ".join(row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + sql, params))
            assert "COVERING INDEX ix_facts_late_" in plan, (sql, plan)
            assert "TEMP B-TREE FOR ORDER BY" not in plan, plan  # the list reads the first entries in order


def test_only_the_complaints_and_weights_are_grouped_the_rest_summed_in_one_pass(seeded):
    with seeded.session() as s:
        seen = statements(seeded, lambda: kpis.kpis(s, RANGE, TZ, clock.now()))
    summary = [sql for sql, _p in seen if "FROM case_fact_day" in sql]
    grouped = [sql for sql in summary if "GROUP BY" in sql]
    assert len(grouped) == 2  # complaints and repairs
    for sql in grouped:
        columns = sql.split("FROM", 1)[0]
        assert "sum(case_fact_day.n)" in columns and "sum(case_fact_day.weight)" in columns
        assert "ratio_cases" not in columns and "sat_1" not in columns, columns
    assert any("sat_1" in sql and "GROUP BY" not in sql for sql in summary)
    # The open complaints by age come with the sums: no query of the facts per stage.
    assert not any("GROUP BY case_facts.stage" in sql for sql, _p in seen)


@pytest.mark.parametrize("flt", [RANGE, kpis.KpiFilter(dt.date(2025, 1, 15), dt.date(2025, 2, 20)),
                                 kpis.KpiFilter(dt.date(2025, 1, 1), dt.date(2025, 12, 31), scope=("quality",))])
def test_open_complaints_by_age_from_the_summary_equal_the_count_of_the_facts(seeded, flt):
    with seeded.session() as s:
        now = dt.datetime(2025, 3, 1, 9, 0, tzinfo=TZ)  # the seeded cases fall in every age band
        totals, _rows = kpis._totals(s, flt, TZ, kpis.PROCESS_KEY, now)
        from_summary = kpis.open_by_age(s, flt, TZ, now, totals)
        from_facts = kpis.open_by_age(s, flt, TZ, now)
    assert from_summary == from_facts
    if flt is RANGE:
        assert sum(sum(bands.values()) for bands in from_facts["by_stage"].values()) > 0


def test_the_figures_links_equal_url_for_and_route_once_per_request(app, monkeypatch):
    flt = kpis.KpiFilter(dt.date(2025, 1, 1), dt.date(2025, 12, 31), customer="C 01/&中文", product_model="X+1",
                         scope=("quality",))
    extras: list[dict[str, str]] = [{}, {"kpi_class": "major"}, {"date_from": "2025-02-01", "date_to": "2025-02-28"},
                                    {"department": "logistics", "satisfaction": "5"}, {"deadline_state": ""}]
    with app.test_request_context("/reports"):
        for extra in extras:
            department = extra.get("department", "quality")
            want = url_for("register.index", **{k: v for k, v in {
                "date_from": "2025-01-01", "date_to": "2025-12-31", "department": department,
                "customer": flt.customer, "product_model": flt.product_model, **extra}.items() if v})
            assert tables.cases_link(flt, **extra) == want
    routed: list[str] = []
    real = tables.url_for

    def counting(endpoint: str, **values: Any) -> str:
        routed.append(endpoint)
        return real(endpoint, **values)

    monkeypatch.setattr(tables, "url_for", counting)
    with app.test_request_context("/reports"):
        for _ in range(50):
            tables.cases_link(flt, kpi_class="general")
    assert routed.count("register.index") == 1
