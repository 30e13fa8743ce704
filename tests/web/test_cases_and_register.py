"""Case page (data, deadlines, tasks, history, escalations, diagram), case list, printable
sheets and the complaint register with its filters and CSV export.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest

import engine
from caseflow import store

BASE = {"channel": "email", "customer_code": "C-9", "product_no": "P-1", "ship_date": "2026-02-01",
        "ship_qty": 500, "found_stage": "after_sales", "description": "Problem", "lot_size": 500,
        "functional_defect_qty": 0, "cosmetic_defect_qty": 1}


def start(database, actor: str = "service", **data) -> dict:
    with database.session() as s:
        return engine.start(s, "complaint", {**BASE, **data}, actor=actor)


@pytest.fixture
def complaints(database, deployed, frozen_clock) -> dict[str, dict]:
    """A serious quality complaint, a transport complaint a week later and a packaging one."""
    out = {"serious": start(database, customer_name="Alpha Ltd", complaint_type="quality", functional_defect_qty=20)}
    frozen_clock.advance(dt.timedelta(days=7))
    out["transport"] = start(database, customer_name="Beta GmbH", complaint_type="transport")
    out["packaging"] = start(database, customer_name="Gamma Inc", complaint_type="packaging",
                             description="Torn boxes, 12 cartons")
    return out


def test_case_page_shows_key_data_deadlines_tasks_history_and_diagram(complaints, browser):
    case = complaints["serious"]
    html = browser("quality").get(f"/cases/{case['id']}").get_data(as_text=True)
    assert case["business_key"] in html and "Alpha Ltd" in html
    assert "Serious" in html and "Major" in html  # urgency and KPI class with their labels
    assert 'data-testid="deadlines"' in html and "Containment by" in html and "React by" in html
    assert "Check validity and confirm grade" in html and "not taken over" in html
    assert "Case started (process version 1)" in html
    assert f'data-url="/cases/{case["id"]:d}/diagram.bpmn"' in html
    assert "data-active='[\"confirm_grade\"]'" in html
    assert "/static/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js" in html
    assert "Handling sheet (F04)" in html and "1D–4D report (F09)" in html


def test_case_page_in_chinese(complaints, browser):
    html = browser("quality", language="zh").get(f"/cases/{complaints['serious']['id']}").get_data(as_text=True)
    assert "关键信息" in html and "严重" in html and "流程图" in html and "处理记录" in html
    assert "判断投诉成立并确认等级" in html  # the task's name from its form's x-title-zh
    assert "响应期限已到" in html and "React deadline passed" not in html  # pending timers by their nameZh
    inbox = browser("quality", language="zh").get("/").get_data(as_text=True)
    assert ">判断投诉成立并确认等级</a>" in inbox
    register = browser("quality", language="zh").get("/complaints").get_data(as_text=True)
    assert "判断投诉成立并确认等级" in register and "处理中" in register  # F11's handling progress
    task_id = complaints["serious"]["tasks"][0]["id"]
    zh_task = browser("quality", language="zh").get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "判断投诉是否成立:理由是否充分" in zh_task and "Is the complaint valid" not in zh_task  # documentationZh
    assert "Is the complaint valid" in browser("quality").get(f"/tasks/{task_id}").get_data(as_text=True)


def test_the_diagram_file_is_the_process_of_the_case(complaints, browser):
    response = browser("service").get(f"/cases/{complaints['serious']['id']}/diagram.bpmn")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    assert b'<bpmn:process id="complaint"' in response.data
    assert browser("service").get("/cases/999/diagram.bpmn").status_code == 404
    assert browser("service").get("/cases/999").status_code == 404


def test_escalations_and_overdue_deadlines_show_on_the_case(database, complaints, browser, frozen_clock):
    from caseflow import worker

    case = complaints["serious"]
    frozen_clock.advance(dt.timedelta(days=30))
    worker.run_once(database)
    html = browser("manager").get(f"/cases/{case['id']}").get_data(as_text=True)
    assert 'data-testid="escalations"' in html and "Manager" in html
    assert "Escalated to Manager" in html and "badge-overdue" in html and "badge-escalated" in html
    assert "Timer fired: React deadline passed" in html
    zh = browser("manager", language="zh").get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "响应期限已到" in zh and "React deadline passed" not in zh  # the timer's nameZh property


def test_case_list_filters(complaints, browser):
    b = browser("service")
    html = b.get("/cases").get_data(as_text=True)
    assert all(c["business_key"] in html for c in complaints.values())
    html = b.get("/cases?q=Beta").get_data(as_text=True)
    assert complaints["transport"]["business_key"] in html and complaints["serious"]["business_key"] not in html
    assert complaints["serious"]["business_key"] not in b.get("/cases?process=repair").get_data(as_text=True)
    for bad, field in (("status=bogus", "status"), ("process=nosuch", "process")):  # said, not ignored
        refused = b.get(f"/cases?{bad}")
        html = refused.get_data(as_text=True)
        assert refused.status_code == 400 and f"<strong>{field}</strong>" in html
        assert not any(c["business_key"] in html for c in complaints.values())


def register_numbers(html: str) -> list[str]:
    return re.findall(r">(CP-\d{4}-\d{6})<", html)


def test_register_lists_every_complaint_and_filters(complaints, browser):
    b = browser("manager")
    keys = {name: c["business_key"] for name, c in complaints.items()}
    page = b.get("/complaints").get_data(as_text=True)
    assert set(register_numbers(page)) == set(keys.values())
    departments = re.search(r'<select[^>]*name="department".*?</select>', page, re.S)
    assert departments and 'value="logistics"' in departments.group(0)
    assert 'value="finance"' not in departments.group(0) and 'value="customer"' not in departments.group(0)
    assert register_numbers(b.get("/complaints?urgency=serious").get_data(as_text=True)) == [keys["serious"]]
    assert register_numbers(b.get("/complaints?department=logistics").get_data(as_text=True)) == [keys["transport"]]
    assert register_numbers(b.get("/complaints?kpi_class=major").get_data(as_text=True)) == [keys["serious"]]
    assert set(register_numbers(b.get("/complaints?status=open").get_data(as_text=True))) == set(keys.values())
    assert register_numbers(b.get("/complaints?status=closed").get_data(as_text=True)) == []
    late = b.get("/complaints?date_from=2026-03-05&date_to=2026-03-31").get_data(as_text=True)
    assert set(register_numbers(late)) == {keys["transport"], keys["packaging"]}
    assert register_numbers(b.get("/complaints?date_to=2026-03-02").get_data(as_text=True)) == [keys["serious"]]
    assert register_numbers(b.get("/complaints?q=Gamma").get_data(as_text=True)) == [keys["packaging"]]


def test_register_csv_export_uses_the_filters(complaints, browser):
    response = browser("quality").get("/complaints.csv?urgency=serious")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment;" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert table[0][:3] == ["Complaint no.", "Received", "Customer"]
    assert len(table) == 2 and table[1][0] == complaints["serious"]["business_key"] and table[1][2] == "Alpha Ltd"
    zh = browser("quality", language="zh").get("/complaints.csv").get_data(as_text=True)
    assert zh.lstrip("\ufeff").startswith("客诉单号,受理时间,客户")


def test_printable_sheets_exist_per_process(complaints, browser):
    b = browser("quality")
    case_id = complaints["packaging"]["id"]
    f04 = b.get(f"/cases/{case_id}/print/f04")
    assert f04.status_code == 200 and "Torn boxes, 12 cartons" in f04.get_data(as_text=True)
    assert "print.css" in f04.get_data(as_text=True)
    f09 = b.get(f"/cases/{case_id}/print/f09").get_data(as_text=True)
    assert "CAR NO." in f09 and complaints["packaging"]["business_key"] in f09
    assert b.get(f"/cases/{case_id}/print/f14").status_code == 404  # no repair on this complaint
    assert b.get(f"/cases/{case_id}/print/f99").status_code == 404
    zh = browser("quality", language="zh").get(f"/cases/{case_id}/print/f04").get_data(as_text=True)
    assert "客诉处理单" in zh and "投诉内容" in zh


def test_a_deadline_is_met_when_the_tasks_it_binds_are_done_in_time(database, complaints, browser):
    case = complaints["packaging"]  # registered just now: react_by still ahead

    def states() -> dict[str, str]:
        html = browser("quality").get(f"/cases/{case['id']}").get_data(as_text=True)
        table = html.split('data-testid="deadlines"', 1)[1].split("</table>", 1)[0]
        return {label.strip(): state for label, state in
                re.findall(r"<th>([^<]+)</th>.*?badge-([a-z_]+)", table, re.S)}

    with database.session() as s:
        [confirm] = engine.list_tasks(s, instance_id=case["id"])
        engine.complete(s, confirm["id"], {"complaint_valid": True, "override_grade": False},
                        actor=engine.Actor.tool("quality"))
    assert states()["React by"] in ("open", "due_soon")  # 1D, also bound to react_by, is still open
    with database.session() as s:
        [d1] = engine.list_tasks(s, instance_id=case["id"])
        engine.complete(s, d1["id"], {"problem_description": "Torn boxes", "containment_needed": False,
                                      "d1_owner": "QA"}, actor=engine.Actor.tool("quality"))
    assert states()["React by"] == "met"


def test_register_shows_and_filters_by_the_receipt_time_and_defuses_formulas(database, deployed, browser,
                                                                              frozen_clock):
    late = start(database, customer_name="=cmd|' /C calc'!A0", complaint_type="transport",
                 received_at="2026-02-20T10:00:00+08:00")  # registered on 2026-03-02
    b = browser("service")
    html = b.get("/complaints?date_from=2026-02-20&date_to=2026-02-20").get_data(as_text=True)
    assert register_numbers(html) == [late["business_key"]] and "2026-02-20 10:00" in html
    assert register_numbers(b.get("/complaints?date_from=2026-03-02").get_data(as_text=True)) == []
    body = b.get("/complaints.csv").get_data(as_text=True)
    assert "'=cmd" in body and ",=cmd" not in body


def test_history_names_people_and_ratios_read_as_percentages(database, deployed, browser):
    with database.session() as s:  # the scenario helpers act as "qa1" (and start cases as "cs1")
        s.add(store.User(username="qa1", password_hash="x", display_name="李品保", active=True))
        s.add(store.User(username="cs1", password_hash="x", display_name="王客服", active=True))
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scenarios"))
    import complaint_helpers as ch

    with database.session() as s:
        iid = ch.start(s, ch.quality_registration())["id"]
        ch.confirm(s, iid)
        ch.eight_d(s, iid)
        ch.plan(s, iid, delivery_amount=100000)  # 6,000 RMB loss -> 6 %
    html = browser("manager").get(f"/cases/{iid}").get_data(as_text=True)
    assert "李品保" in html.split('data-testid="timeline"', 1)[1]
    assert "Started by 王客服" in html  # the header names people as the history does
    assert "6.00 %" in html


def test_the_register_pages_keep_the_filters(complaints, browser, monkeypatch):
    from web import complaint_register

    paged = complaint_register.page
    monkeypatch.setattr(complaint_register, "page", lambda *args, **kw: paged(*args, **{**kw, "size": 2}))
    b = browser("manager")
    first = b.get("/complaints?status=open").get_data(as_text=True)
    assert "Page 1 of 2" in first and len(register_numbers(first)) == 2
    (following,) = re.findall(r'<a href="([^"]+)">Next', first)
    assert "status=open" in following and "page=2" in following
    second = b.get(following.replace("&amp;", "&")).get_data(as_text=True)
    assert "Page 2 of 2" in second and "Previous" in second and "Next" not in second
    assert set(register_numbers(first) + register_numbers(second)) == {c["business_key"] for c in complaints.values()}


def test_a_process_of_its_own_is_named_by_its_diagram(database, browser):
    """Not its key made readable ("Two_tasks"): the name the process owner gave it in the diagram."""
    from pathlib import Path

    with database.session() as s:
        engine.deploy(s, [Path(__file__).resolve().parents[1] / "engine" / "data"], actor="admin")
        iid = engine.start(s, "two_tasks", {"ref": "T-1"}, actor="admin")["id"]
    page = browser("admin").get(f"/cases/{iid}").get_data(as_text=True)
    assert '<p class="crumbs">Two tasks ·' in page
