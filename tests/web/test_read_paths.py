"""Read pages never load a workflow's state and cost the same few queries however many cases
there are: case list and search, complaint register (page, search, CSV), inbox, case page,
task page, printable sheet, admin page and the API's instance list.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import InvalidRequestError

import engine
from caseflow import accounts, store

BASE = {"channel": "email", "customer_code": "C-9", "product_no": "P-1", "ship_date": "2026-02-01",
        "ship_qty": 500, "found_stage": "after_sales", "description": "Problem", "lot_size": 500,
        "functional_defect_qty": 0, "cosmetic_defect_qty": 1, "complaint_type": "quality"}
NAMES = ["Alpha Ltd", "Beta GmbH", "Gamma Inc"]
STATE_COLUMN = re.compile(r"\bprocess_instance\.state\b")


def start_cases(database: store.Database, count: int, first: int = 0) -> list[dict]:
    out = []
    for i in range(first, first + count):
        with database.session() as s:
            out.append(engine.start(s, "complaint", {**BASE, "customer_name": f"{NAMES[i % 3]} {i}"},
                                    actor="service"))
    return out


@contextmanager
def statements(database: store.Database) -> Iterator[list[str]]:
    """The SQL statements run meanwhile."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, _params, _context, _many) -> None:
        seen.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(database.engine, "before_cursor_execute", record)


@pytest.fixture
def api_token(database, app) -> str:
    with database.session() as s:
        return accounts.create_token(s, "admin", "read paths")[1]


def read_pages(cases: list[dict]) -> list[str]:
    case = cases[0]
    return ["/cases", "/cases?q=Alpha", "/cases?process=complaint&status=running", "/complaints",
            "/complaints?q=Beta", "/complaints?kpi_class=other", "/complaints.csv", "/", "/?process=complaint",
            f"/cases/{case['id']}", f"/cases/{case['id']}/diagram.bpmn", f"/cases/{case['id']}/print/f04",
            f"/tasks/{case['tasks'][0]['id']}", "/admin/"]


def test_the_state_column_is_deferred_and_raises_when_loaded_by_accident(database, deployed):
    [case] = start_cases(database, 1)
    with database.session() as s:
        instance = s.scalars(select(store.ProcessInstance)).one()
        assert instance.business_key == case["business_key"]
        with pytest.raises(InvalidRequestError, match="state"):
            _ = instance.state


def test_read_pages_never_load_the_state(database, deployed, browser, api_token):
    cases = start_cases(database, 4)
    admin = browser("admin")
    pages = read_pages(cases)
    with statements(database) as seen:
        for url in pages:
            response = admin.get(url)
            assert response.status_code == 200, url
        response = admin.client.get("/api/v1/instances?limit=10", headers={"Authorization": f"Bearer {api_token}"})
        assert response.status_code == 200 and response.json["total"] == 4
        assert response.json["items"][0]["version"] == 1  # the version number, joined in the same query
    assert seen and not [s for s in seen if STATE_COLUMN.search(s)]
    html = admin.get("/complaints").get_data(as_text=True)
    assert all(c["business_key"] in html for c in cases)  # the register still shows every complaint
    assert "Check validity and confirm grade" in html  # with its current task


COUNTED = ["/cases", "/cases?q=Alpha", "/complaints", "/complaints?q=Alpha", "/complaints.csv", "/",
           "/api/v1/instances"]


def _statements_per_page(database, admin, headers) -> dict[str, int]:
    out = {}
    for url in COUNTED:
        kwargs = {"headers": headers} if url.startswith("/api/") else {}
        assert admin.client.get(url, **kwargs).status_code == 200  # warm-up: caches of the versions
        with statements(database) as seen:
            assert admin.client.get(url, **kwargs).status_code == 200, url
        out[url] = len(seen)
    return out


def test_read_pages_cost_the_same_queries_with_3_and_with_30_cases(database, deployed, browser, api_token):
    admin = browser("admin")
    headers = {"Authorization": f"Bearer {api_token}"}
    start_cases(database, 3)
    with_3 = _statements_per_page(database, admin, headers)
    start_cases(database, 27, first=3)
    with_30 = _statements_per_page(database, admin, headers)
    assert with_30 == with_3
    inbox = admin.get("/").get_data(as_text=True)
    assert inbox.count("Check validity and confirm grade") == 30  # every task titled, no query per task
