"""The KPI dashboard (/reports): its tables equal an independent recount, every figure links to
the cases behind it, exports, roles, and the case facts kept in step with each save."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest
from kpi_recount import DEADLINES, KINDS, TZ, recount, seed_cases
from openpyxl import load_workbook
from sqlalchemy import select

import engine
from bench import seed
from caseflow import clock, manifest, store

PAGE = "/reports?from=2025-01-01&to=2025-12-31"
CELL = re.compile(r"<td[^>]*>(?:<a href=\"([^\"]+)\">)?([^<]*)(?:</a>)?</td>")
COUNT = re.compile(r'<p class="muted">(\d+) complaints?</p>')


@pytest.fixture
def seeded(database):
    seed_cases(database, complaints=14, repairs=2, months=2)
    yield database
    clock.reset()


def table(html: str, key: str) -> list[list[tuple[str | None, str]]]:
    """The rows of the dashboard table ``key``: (link, text) per cell."""
    body = html.split(f'data-testid="table-{key}"', 1)[1].split("</table>", 1)[0]
    rows = body.split("<tbody>", 1)[1].split("</tr>")
    return [[(link.replace("&amp;", "&") if link else None, value.strip()) for link, value in CELL.findall(r)]
            for r in rows if "<td" in r]


def register_count(b, link: str) -> int:
    html = b.get(link).get_data(as_text=True)
    found = COUNT.search(html)
    if found:
        return int(found.group(1))
    assert "No complaints match." in html, link
    return 0


def test_dashboard_tables_equal_the_recount_and_every_link_lists_those_cases(seeded, browser):
    b = browser("manager")
    response = b.get(PAGE)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "vendor/echarts/echarts.min.js" in html and 'data-chart="kpi_by_month"' in html
    want = recount(seeded, dt.date(2025, 1, 1), dt.date(2025, 12, 31))

    months = table(html, "kpi_by_month")
    assert {r[0][1]: int(r[5][1]) for r in months} == dict(want["months"])
    assert sum(int(r[6][1]) for r in months) == want["weight"]
    classes = {"major": 1, "general": 2, "other": 3}
    for name, column in classes.items():
        assert sum(int(r[column][1]) for r in months) == want["classes"].get(name, 0)

    timely = {r[0][1]: r for r in table(html, "timeliness")}
    labels = {"reaction": "Reaction", "containment": "Containment", "closure": "Closure",
              "repair_reply": "Repair reply", "repair_cycle": "Repair cycle"}
    for name in DEADLINES:
        row = timely[labels[name]]
        assert [int(c[1]) for c in row[1:5]] == [want["deadlines"][name].get(s, 0)
                                                 for s in ("met", "late", "open", "overdue")], name

    sat = table(html, "satisfaction")
    assert [int(r[1][1]) for r in sat] == [want["sat"].get(str(level), 0) for level in range(1, 6)]
    stages = table(html, "progress")
    assert [int(r[1][1]) for r in stages] == [want["stages"].get(s, 0)
                                              for s in ("in_progress", "follow_up", "resolved", "rejected",
                                                        "cancelled")]
    ratio = table(html, "ratio")
    assert ratio[-1][1][1] == f"{want['loss'] / want['delivery'] * 100:.2f} %"
    cost = table(html, "cost")
    assert [(int(r[1][1]), int(r[2][1]), float(r[3][1])) for r in cost[:-1]] == [
        (want["cost"][k]["cases"], want["cost"][k]["quantity"], pytest.approx(want["cost"][k]["amount"]))
        for k in KINDS]
    assert float(cost[-1][3][1]) == pytest.approx(sum(c["amount"] for c in want["cost"].values()))
    assert [int(r[1][1]) for r in table(html, "recurrence")] == [want["nth"][n] for n in (1, 2, 3, 4)]
    satisfied = {r[0][1]: int(r[1][1]) for r in table(html, "satisfied")}
    assert (satisfied["Satisfied at the first feedback"], satisfied["Satisfied only after follow-up"]) == (
        want["sat_first"], want["sat_after"])

    # Moments read in the business time zone, as on the case pages (the facts keep UTC).
    oldest = table(html, "oldest_open")
    assert oldest and oldest[0][0][0].startswith("/cases/")
    with seeded.session() as s:
        first = s.get_one(store.CaseFacts, int(oldest[0][0][0].rsplit("/", 1)[1]))
        registered = first.registered_at.replace(tzinfo=first.registered_at.tzinfo or dt.UTC)
    assert oldest[0][2][1] == registered.astimezone(TZ).strftime("%Y-%m-%d %H:%M")

    # Every figure that links opens the complaint register with exactly that many cases.
    checked = 0
    for key in ("kpi_by_month", "ratio", "timeliness", "satisfaction", "progress", "customers", "departments",
                "escalations", "late_now", "open_by_age", "models", "types"):
        for row in table(html, key):
            for link, value in row[1:]:
                if link and value.isdigit():
                    assert link.startswith("/complaints?")
                    assert register_count(b, link) == int(value), (key, row[0][1], link)
                    checked += 1
    assert checked > 30


def test_exports_hold_the_tables_and_the_page_speaks_chinese(seeded, browser):
    b = browser("quality")
    html = b.get(PAGE).get_data(as_text=True)
    assert '<option value="transport">Transport</option>' in html  # the type filter in words, not keys
    types = [r[0][1] for r in table(html, "types")]
    assert types and not set(types) & {"quality", "transport", "packaging", "service", "other"}, types  # words too
    got = b.get("/reports/types.csv?from=2025-01-01&to=2025-12-31").get_data(as_text=True)
    assert "Quality" in got or "Transport" in got
    shown = [[v for _link, v in r] for r in table(html, "satisfaction")]
    got = b.get("/reports/satisfaction.csv?from=2025-01-01&to=2025-12-31")
    assert got.status_code == 200 and got.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(got.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["Satisfaction", "Complaints"] and rows[1:] == shown

    got = b.get("/reports/kpi_by_month.xlsx?from=2025-01-01&to=2025-12-31")
    assert got.status_code == 200
    sheet = load_workbook(io.BytesIO(got.data)).active
    values = [[c for c in row] for row in sheet.iter_rows(min_row=4, values_only=True)]
    assert values == [[int(v) if v.isdigit() else v for _link, v in r] for r in table(html, "kpi_by_month")]

    # The register's CSV has each complaint's weight, ratio, satisfaction and deadline states.
    rows = list(csv.DictReader(io.StringIO(b.get("/complaints.csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 14
    now = clock.now()
    with seeded.session() as s:
        by_number = {r.business_key: r for r in s.scalars(select(store.ProcessInstance)
                                                          .where(store.ProcessInstance.process_key == "complaint"))}
        for row in rows:
            case = by_number[row["Complaint no."]]
            data = case.data
            assert row["KPI weight"] == ("" if data.get("kpi_weight") is None else str(data["kpi_weight"]))
            ratio = (data["loss_amount"] / data["delivery_amount"]
                     if data.get("loss_amount") is not None and data.get("delivery_amount") else None)
            assert row["Complaint ratio"] == ("" if ratio is None else f"{ratio * 100:.2f}%")
            assert row["Satisfaction"] == str(data.get("satisfaction") or "")
            due = data.get("react_by")
            state = row["Reaction deadline"]
            assert (state == "") == (not due)
            if state in ("open", "overdue"):
                assert (state == "overdue") == (dt.datetime.fromisoformat(due) < now)
    assert {r["Reaction deadline"] for r in rows} >= {"met"}

    zh = browser("manager", language="zh").get(PAGE).get_data(as_text=True)
    assert "KPI 看板" in zh and "每月客诉考核数" in zh and "非常满意" in zh
    assert b.get("/reports/nothing.csv").status_code == 404


def test_roles_outside_the_dashboard_get_403_and_departments_see_their_own(seeded, browser):
    finance = browser("finance")
    for url in ("/reports", "/reports/satisfaction.csv", "/reports/kpi_by_month.xlsx", "/reports/waiting"):
        assert finance.get(url).status_code == 403, url
    assert 'data-testid="nav-reports"' not in finance.get("/").get_data(as_text=True)
    manager = browser("manager")
    assert manager.get("/reports").status_code == 200
    assert 'data-testid="nav-reports"' in manager.get("/complaints").get_data(as_text=True)

    # Customer service is a department (service complaints): its own figures only, no heat map.
    service = browser("service")
    html = service.get(PAGE).get_data(as_text=True)
    assert 'data-testid="report-scope"' in html and "Customer service" in html
    want = recount(seeded, dt.date(2025, 1, 1), dt.date(2025, 12, 31), department="customer_service")
    months = table(html, "kpi_by_month")
    assert sum(int(r[5][1]) for r in months) == want["n"]
    assert {r[0][1] for r in table(html, "departments")} <= {"Customer service"}
    for link, _value in (c for r in months for c in r if c[0]):
        assert "department=customer_service" in link
    assert service.get("/reports/waiting").status_code == 403
    assert service.get("/reports/satisfaction.csv?from=2025-01-01&to=2025-12-31").status_code == 200
    # The customer filter offers the customers of its own complaints only.
    with seeded.session() as s:
        own = set(s.scalars(select(store.CaseFacts.customer_code).where(
            store.CaseFacts.process_key == "complaint", store.CaseFacts.department == "customer_service")))
        every = set(s.scalars(select(store.CaseFacts.customer_code).where(
            store.CaseFacts.process_key == "complaint")))
    offered = set(re.findall(r'<option value="([^"]+)"', html.split('name="customer"')[1].split("</select>")[0]))
    assert offered == {c for c in own if c} and offered < {c for c in every if c}


def test_the_waiting_page_draws_the_version_with_its_figures(seeded, browser):
    b = browser("manager")
    html = b.get("/reports").get_data(as_text=True)
    link = re.search(r'href="([^"]+)" data-testid="waiting-link"', html).group(1).replace("&amp;", "&")
    got = b.get("/reports/waiting?process=complaint&from=2025-01-01&to=2025-12-31")
    assert got.status_code == 200 and link.startswith("/reports/waiting?")
    page = got.get_data(as_text=True)
    assert "js/heatmap.js" in page and "bpmn-navigated-viewer" in page
    data = json.loads(re.search(r'<script type="application/json" id="heat-data">(.*?)</script>', page, re.S)
                      .group(1))
    assert data["elements"]["d1_describe"]["passed"] > 0 and data["flows"]
    url = re.search(r'data-url="([^"]+)"', page).group(1)
    xml = b.get(url)
    assert xml.status_code == 200 and b"d1_describe" in xml.data
    assert b.get("/reports/waiting?process=nothing").status_code == 404
    assert b.get("/reports/waiting?from=2025-02-30").status_code == 400
    assert b.get("/reports/waiting/999999/diagram.bpmn").status_code == 404


@pytest.mark.parametrize("query, field", [("from=2025-02-30", "from"), ("from=2025-03-01&to=2025-01-01", "to"),
                                          ("department=" + "x" * 300, "department")])
def test_bad_filters_answer_400_naming_the_field(app, browser, database, query, field):
    got = browser("manager").get(f"/reports?{query}")
    assert got.status_code == 400
    assert f"<strong>{field}</strong>" in got.get_data(as_text=True)


def _facts(session, iid: int) -> dict:
    row = session.get(store.CaseFacts, iid)
    assert row is not None
    return {c.name: getattr(row, c.name) for c in store.CaseFacts.__table__.c if c.name != "updated_at"}


def _summaries(session) -> tuple[dict, dict]:
    day, top = store.CaseFactDay.__table__, store.CaseFactTop.__table__
    rows = ({tuple(r[:4]): tuple(round(v, 6) if isinstance(v, float) else v for v in r[4:])
             for r in session.execute(select(day))},
            {tuple(r[:4]): tuple(r[4:]) for r in session.execute(select(top))})
    return rows


def test_facts_follow_each_task_completion_and_a_rebuild_gives_the_same_rows(database):
    clock.set(dt.datetime(2026, 3, 2, 9, 0, tzinfo=TZ))
    try:
        with database.session() as s:
            engine.deploy(s, seed.BUNDLES, actor="admin")
        with database.session() as s:
            data = seed.registration(seed.random.Random(1)) | {"complaint_type": "quality", "lot_size": 1000,
                                                                "functional_defect_qty": 20,
                                                                "cosmetic_defect_qty": 0}
            iid = engine.start(s, "complaint", data, actor="cs1")["id"]
            first = _facts(s, iid)
            assert first["stage"] == "in_progress" and first["reaction"] == "open"
            assert first["kpi_class"] == "major" and first["kpi_weight"] == 2
            assert first["customer_code"] == data["customer_code"] and first["satisfaction"] is None
        with database.session() as s:
            d = seed.Driver(s)
            d.complete(d.ready(iid)["confirm_grade"], {"complaint_valid": True, "override_grade": False})
            clock.advance(dt.timedelta(days=5))  # 1D after the reaction deadline
            d.complete(d.ready(iid)["d1_describe"], {"problem_description": "x", "containment_needed": False})
            assert _facts(s, iid)["reaction"] == "late"
            rng = seed.random.Random(2)
            for _ in range(30):  # on to the customer's feedback
                ready = d.ready(iid)
                if "customer_feedback" in ready:
                    break
                assert _facts(s, iid)["stage"] == "in_progress"
                name = sorted(ready, key=lambda n: (not n.endswith("_overdue"), n))[0]
                d.complete(ready[name], seed.task_values(name, rng) or {})
            assert _facts(s, iid)["stage"] == "follow_up"
            d.complete(d.ready(iid)["customer_feedback"], {"customer_feedback": "ok", "satisfaction": 2,
                                                          "satisfied": False})
            after = _facts(s, iid)
            assert after["satisfaction"] == 2 and after["satisfied"] is False
            assert after["loss_amount"] == s.get(store.ProcessInstance, iid).data["loss_amount"]
            assert after["escalations"] == len(s.get(store.ProcessInstance, iid).data.get("escalations") or {})
        with database.session() as s:
            incremental = {r.instance_id: _facts(s, r.instance_id) for r in s.scalars(select(store.CaseFacts))}
            summaries = _summaries(s)
            assert summaries[0] and summaries[1]
            s.execute(store.CaseFacts.__table__.delete())
            assert engine.rebuild_facts(s) == len(incremental)
            assert {i: _facts(s, i) for i in incremental} == incremental
            # The summaries kept in step with each save equal those summed again from the facts.
            assert _summaries(s) == summaries
    finally:
        clock.reset()


def test_the_manifest_facts_section_is_validated():
    files = {p.name: p.read_text(encoding="utf-8") for p in (seed.ROOT / "processes" / "complaint").iterdir()}
    assert manifest.problems(files) == []
    doc = json.loads(files["manifest.json"])
    doc["facts"]["deadlines"]["reaction"] = "no_such_deadline"
    doc["facts"]["follow_up_tasks"] = ["no_such_task"]
    found = [str(p) for p in manifest.problems({**files, "manifest.json": json.dumps(doc)})]
    assert any("/facts/deadlines/reaction" in p and "not a deadline" in p for p in found)
    assert any("/facts/follow_up_tasks/0" in p for p in found)
    doc = json.loads(files["manifest.json"])
    doc["facts"]["fields"]["colour"] = "x"
    assert any("/facts/fields" in str(p) for p in manifest.problems({**files, "manifest.json": json.dumps(doc)}))


def test_the_migration_fills_the_facts_of_stored_cases(database):
    """Down to before 0004_case_facts and up again: the cases saved meanwhile get their rows."""
    from alembic import command
    from alembic.config import Config

    seed_cases(database, complaints=4, repairs=1, months=1)
    clock.reset()
    with database.session() as s:
        before = {r.instance_id: _facts(s, r.instance_id) for r in s.scalars(select(store.CaseFacts))}
    assert len(before) == 5
    cfg = Config()
    cfg.set_main_option("script_location", str(store.MIGRATIONS_DIR))
    with database.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004_case_facts-1")
    database.upgrade()
    with database.session() as s:
        after = {r.instance_id: _facts(s, r.instance_id) for r in s.scalars(select(store.CaseFacts))}
    assert after == before
