"""The dashboard's cost, satisfied, recurrence and repair figures link to the lists of the cases behind
them: the register (or the repair list) filtered by disposition kind, satisfied at first feedback or
after follow-up, the Nth complaint of the year and the repair's outcome lists exactly the cases an
independent recount (instance data and task rows, never ``case_facts``) counts."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Callable

import pytest
from kpi_recount import KINDS, TZ, _approved, _moment, _nth_of_year, complaints_with_tasks, seed_cases
from sqlalchemy import select
from test_reports import table

from caseflow import clock, store

START, END = dt.date(2025, 1, 1), dt.date(2025, 12, 31)
PAGE = f"/reports?from={START}&to={END}"
COUNT = re.compile(r'<p class="muted"[^>]*>(\d+) (?:complaints?|repairs?)</p>')


@pytest.fixture
def seeded(database):
    seed_cases(database, complaints=32, repairs=12, months=3)
    yield database
    clock.reset()


def chart_links(html: str, key: str) -> list[str]:
    """The links of a chart's series (the JSON the page hands to static/js/reports.js)."""
    found = re.search(r'<script type="application/json" id="report-charts">(.*?)</script>', html, re.S)
    assert found, "the page carries its charts' data"
    chart = json.loads(found.group(1))["charts"][key]
    return [link for s in chart["series"] for link in s["links"]]


def listed(b, link: str) -> set[str]:
    """The case numbers the list at ``link`` holds: every one, from its CSV export (which must agree
    with the count the page shows)."""
    path, query = link.split("?", 1)
    page = b.get(link)
    assert page.status_code == 200, link
    found = COUNT.search(page.get_data(as_text=True))
    assert found, link
    got = b.get(f"{path}.csv?{query}")
    assert got.status_code == 200 and got.mimetype == "text/csv", link
    rows = list(csv.reader(io.StringIO(got.get_data(as_text=True).lstrip("\ufeff"))))[1:]
    assert len(rows) == int(found.group(1)), link
    return {r[0] for r in rows}


def _complaints(database) -> list[dict]:
    """Each complaint received in the year: its number, data, completed follow-ups, approval and rank."""
    cases, tasks = complaints_with_tasks(database)
    nth = _nth_of_year(cases)
    out = []
    for c in cases:
        registered = (_moment(c.data.get("received_at")) or c.created_at).astimezone(TZ).date()
        if START <= registered <= END:
            mine = tasks.get(c.id, [])
            out.append({"key": c.business_key or f"#{c.id}", "data": c.data, "nth": nth.get(c.id),
                        "approved": _approved(c.data, mine),
                        "follow_ups": any(t.name == "follow_up" and t.state == "completed" for t in mine)})
    return out


def _repairs(database) -> list[dict]:
    with database.session() as s:
        cases = s.execute(select(store.ProcessInstance.id, store.ProcessInstance.business_key,
                                 store.ProcessInstance.data, store.ProcessInstance.created_at)
                          .where(store.ProcessInstance.process_key == "repair")).all()
    return [{"key": key or f"#{iid}", "data": data} for iid, key, data, created in cases
            if START <= (_moment(data.get("application_received_at")) or created).astimezone(TZ).date() <= END]


def _kinds(c: dict) -> set[str]:
    return {line["kind"] for line in c["data"].get("disposition_lines") or []} if c["approved"] else set()


def test_every_cell_of_the_new_figures_lists_exactly_the_cases_it_counts(seeded, browser):
    b = browser("manager")
    html = b.get(PAGE).get_data(as_text=True)
    complaints, repairs = _complaints(seeded), _repairs(seeded)

    def keys(pick: Callable[[dict], bool], cases: list[dict] | None = None) -> set[str]:
        return {c["key"] for c in (complaints if cases is None else cases) if pick(c)}

    def satisfied(c: dict) -> bool:
        return c["data"].get("satisfied") is True

    expected: dict[str, dict[str, set[str]]] = {
        "cost": {**{label: keys(lambda c, k=kind: k in _kinds(c)) for label, kind in zip(
            ("Return", "Exchange", "Repair", "Discount", "Compensation", "Make-up shipment", "Claim", "Recall"),
            KINDS, strict=True)}, "Period total": keys(lambda c: bool(_kinds(c)))},
        "recurrence": {label: keys(lambda c, n=n: c["nth"] is not None and min(c["nth"], 4) == n)
                       for label, n in (("1st", 1), ("2nd", 2), ("3rd", 3), ("4th or later", 4))},
        "satisfied": {
            "Satisfied": keys(satisfied),
            "Satisfied at the first feedback": keys(lambda c: satisfied(c) and not c["follow_ups"]),
            "Satisfied only after follow-up": keys(lambda c: satisfied(c) and c["follow_ups"]),
            "Not satisfied": keys(lambda c: c["data"].get("satisfied") is False),
            "No feedback yet": keys(lambda c: c["data"].get("satisfied") is None)},
        "repairs": {label: keys(pick, repairs) for label, pick in (
            ("Repair applications", lambda c: True),
            ("In warranty", lambda c: c["data"].get("in_warranty") is True),
            ("Out of warranty", lambda c: c["data"].get("in_warranty") is False),
            ("Warranty not decided", lambda c: c["data"].get("in_warranty") is None),
            ("Chargeable", lambda c: c["data"].get("chargeable") is True),
            ("Free of charge", lambda c: c["data"].get("chargeable") is False),
            ("Fee declined by the customer", lambda c: c["data"].get("fee_decision") == "declined"),
            ("Devices returned unrepaired", lambda c: c["data"].get("repair_outcome") == "returned_unrepaired"),
            ("Devices abandoned (never sent)", lambda c: c["data"].get("repair_outcome") == "abandoned"))},
    }
    # The seed makes each kind of figure non-trivial: otherwise "lists exactly" proves little.
    assert expected["recurrence"]["2nd"] and expected["cost"]["Period total"]
    assert expected["satisfied"]["Satisfied at the first feedback"] and expected["repairs"]["Chargeable"]
    for key, rows in expected.items():
        shown = {r[0][1]: r for r in table(html, key)}
        assert set(rows) <= set(shown), key
        for label, want in rows.items():
            cells = [c for c in shown[label] if c[1] != ""]
            links = {link for link, _value in cells}
            assert len(links) == 1 and None not in links, (key, label, links)  # every cell, one list
            link = links.pop()
            assert link.startswith("/repairs?" if key == "repairs" else "/complaints?"), link
            assert "date_from=2025-01-01" in link and "date_to=2025-12-31" in link
            assert listed(b, link) == want, (key, label, link)
            if key in ("recurrence",) or (key == "cost" and label != "Period total"):
                assert int(shown[label][1][1]) == len(want), (key, label)  # the figure is that many
            if key in ("satisfied", "repairs") and shown[label][1][1].isdigit():
                assert int(shown[label][1][1]) == len(want), (key, label)
    # The charts' bars and slices link to the same lists as their rows.
    for key in ("cost", "recurrence", "satisfied", "repairs"):
        row_links = {c[0] for r in table(html, key) for c in r if c[0]}
        assert chart_links(html, key) and set(chart_links(html, key)) <= row_links, key


def test_the_new_filters_combine_with_the_others_and_show_translated_chips(seeded, browser):
    complaints = _complaints(seeded)
    b = browser("manager")
    major = {c["key"] for c in complaints if _kinds(c) and c["data"].get("kpi_class") == "major"}
    assert listed(b, f"/complaints?date_from={START}&date_to={END}&disposition=any&kpi_class=major") == major
    first_two = {c["key"] for c in complaints if c["nth"] == 2 and c["data"].get("satisfied") is True}
    assert listed(b, f"/complaints?date_from={START}&date_to={END}&nth=2&satisfied=yes") == first_two
    # Outside the period: none.
    assert listed(b, "/complaints?date_from=2024-01-01&date_to=2024-12-31&nth=1") == set()

    zh = browser("manager", language="zh").get("/complaints?disposition=repair&nth=4%2B&satisfied=after_follow_up")
    page = zh.get_data(as_text=True)
    assert zh.status_code == 200 and 'data-testid="filter-chips"' in page
    assert "处置方式(已批准方案): 维修" in page and "本年度第几次: 第 4 次及以上" in page and "跟进后才满意" in page
    en = b.get("/complaints?disposition=repair&nth=2").get_data(as_text=True)
    assert "Disposition (approved plan): Repair" in en and "Complaint of the year: 2nd" in en
    # Each chip removes its own filter and keeps the others.
    assert 'href="/complaints?nth=2"' in en and 'href="/complaints?disposition=repair"' in en
    assert 'data-testid="filter-chips"' not in b.get("/complaints").get_data(as_text=True)


@pytest.mark.parametrize("url, field", [
    ("/complaints?disposition=bribe", "disposition"), ("/complaints?nth=5", "nth"),
    ("/complaints?satisfied=maybe", "satisfied"), ("/complaints.csv?nth=0", "nth"),
    ("/complaints?stage=lost", "stage"), ("/repairs?outcome=stolen", "outcome"),
    ("/repairs?warranty=forever", "warranty"), ("/repairs.csv?chargeable=maybe", "chargeable"),
    ("/repairs?date_from=2025-02-30", "date_from"), ("/repairs?date_to=99999-01-01", "date_to"),
    ("/complaints?status=bogus", "status"), ("/complaints?date_from=2026-13-01", "date_from"),
    ("/complaints?date_from=2026-12-31&date_to=2026-01-01", "date_to"), ("/complaints.csv?date_to=abc", "date_to"),
    ("/repairs?date_from=2026-12-31&date_to=2026-01-01", "date_to"),  # both registers read dates one way
    ("/complaints?kpi_class=huge", "kpi_class"), ("/complaints?urgency=panic", "urgency"),
    ("/complaints?department=xyz", "department"), ("/complaints.csv?complaint_type=bogus", "complaint_type"),
])
def test_an_unknown_filter_value_gives_the_form_back_with_a_field_message(app, browser, database, url, field):
    got = browser("manager").get(url)
    assert got.status_code == 400, url
    html = got.get_data(as_text=True)
    assert 'data-testid="register-errors"' in html and f"<strong>{field}</strong>" in html and "<form" in html
    zh = browser("manager", language="zh").get(url).get_data(as_text=True)
    assert "未知的值" in zh or "不是日期" in zh or "早于开始日期" in zh


def test_the_dashboard_refuses_a_department_or_type_no_complaint_can_have(app, browser, database, deployed):
    manager = browser("manager")
    for query, field in (("department=xyz", "department"), ("complaint_type=bogus", "complaint_type")):
        got = manager.get(f"/reports?{query}")
        assert got.status_code == 400 and field in got.get_data(as_text=True), query
    assert manager.get("/reports?department=quality&complaint_type=transport").status_code == 200
