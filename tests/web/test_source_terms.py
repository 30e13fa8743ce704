"""The pages use the source documents' own terms (DOMAIN.md §3, §4) and show no internal keys
or input hints: KPI classes and complaint levels, found stages, special major complaint,
complaint ratio, the register's handling progress (F11) and the percentage entry of rates.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from lxml import etree
from sqlalchemy import select

import engine
from caseflow import store

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "scenarios"))
import complaint_helpers as ch  # noqa: E402

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}
DATA_KEY = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
INPUT_HINT = re.compile(r"0\s*[–-]\s*1\b|e\.g\. 0\.\d|如0\.\d")


def _page(b, url: str) -> str:
    response = b.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def _task(database, iid: int, name: str) -> str:
    with database.session() as s:
        return s.scalars(select(store.HumanTask.id).where(store.HumanTask.instance_id == iid,
                                                          store.HumanTask.name == name,
                                                          store.HumanTask.state == "ready")).one()


def test_case_page_shows_kpi_class_urgency_and_found_stage_in_the_sources_terms(database, deployed, browser,
                                                                                frozen_clock):
    with database.session() as s:
        iid = ch.start(s, ch.quality_registration(litigation=True))["id"]  # major, serious, special major
    zh = _page(browser("quality", language="zh"), f"/cases/{iid}")
    for term in ("重大客诉", "严重抱怨", "特殊重大投诉", "进料"):
        assert term in zh, term
    assert "特别重大" not in zh and "来料检验" not in zh
    en = _page(browser("quality"), f"/cases/{iid}")
    assert "Major complaint" in en and "Serious complaint" in en
    with database.session() as s:
        other = ch.start(s, ch.quality_registration(functional_defect_qty=0, cosmetic_defect_qty=3,
                                                    found_stage="ageing"))["id"]
    zh = _page(browser("quality", language="zh"), f"/cases/{other}")
    assert "其他质量问题" in zh and "老化" in zh


def test_register_shows_f11_handling_progress_and_filters_pending_follow_up(database, deployed, browser,
                                                                           frozen_clock):
    with database.session() as s:
        waiting = ch.start(s, ch.transport_registration())["id"]
        follow = ch.start(s, ch.transport_registration(customer_code="C-2002"))["id"]
        ch.confirm(s, follow, role="customer_service")
        ch.eight_d(s, follow, dept="logistics")
        ch.plan(s, follow, dept="logistics")
        ch.manager_decides(s, follow)
        ch.implement(s, follow)  # the customer's feedback is due now
        numbers = {i: engine.show(s, i, audit=False)["business_key"] for i in (waiting, follow)}
    b = browser("quality", language="zh")
    page = _page(b, "/complaints")
    assert ">处理中<" in page and ">待跟进<" in page and ">已解决<" in page  # filter choices (F11)
    row = page.split(numbers[follow], 1)[1].split("</tr>", 1)[0]
    assert "待跟进" in row
    pending = _page(b, "/complaints?status=follow_up")
    assert numbers[follow] in pending and numbers[waiting] not in pending
    in_progress = _page(b, "/complaints?status=open")
    assert numbers[waiting] in in_progress and numbers[follow] not in in_progress


def test_plan_form_uses_delivery_amount_and_complaint_ratio_and_shows_no_keys(database, deployed, browser,
                                                                             frozen_clock):
    with database.session() as s:
        iid = ch.start(s, ch.quality_registration())["id"]
        ch.confirm(s, iid)
        ch.eight_d(s, iid)
    html = _page(browser("quality", language="zh"), f"/tasks/{_task(database, iid, 'resolution_plan')}")
    documentation = html.split('class="documentation">', 1)[1].split("</div>", 1)[0]
    assert "交货金额" in documentation and "投诉比率" in documentation
    assert "交货数量" not in documentation and "客诉比率" not in documentation
    assert "manager_comment" not in html and "gm_plan_comment" not in html


def test_defect_rate_is_entered_as_a_percentage_and_stored_as_a_fraction(database, deployed, browser,
                                                                         frozen_clock):
    b = browser("service", language="zh")
    form = _page(b, "/start/complaint")
    assert "不良率(%)" in form and "0–1" not in form and "0.02" not in form
    response = b.post("/start/complaint", {
        "channel": "phone", "complaint_type": "quality", "customer_name": "ACME", "product_no": "P-9",
        "description": "Dead pixels", "ship_date": "2026-02-20", "ship_qty": "400", "found_stage": "incoming",
        "functional_defect_qty": "2", "cosmetic_defect_qty": "6", "defect_rate": "2.5"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    iid = int(re.search(r"/cases/(\d+)", response.headers["Location"]).group(1))
    with database.session() as s:
        assert s.get(store.ProcessInstance, iid).data["defect_rate"] == 0.025
    assert "2.50 %" in _page(b, f"/cases/{iid}")


def _instructions(path: Path) -> list[tuple[str, str]]:
    doc = etree.parse(str(path))
    out = []
    for task in doc.iter(f"{{{NS['bpmn']}}}userTask"):
        text = task.findtext("bpmn:documentation", default="", namespaces=NS)
        out.append((task.get("id"), text))
        for prop in task.iterfind(".//spiffworkflow:property", NS):
            if prop.get("name") == "documentationZh":
                out.append((task.get("id") + " (zh)", prop.get("value")))
    return out


def _form_texts(node: dict, where: str):
    for key in ("title", "x-title-zh", "description", "x-description-zh"):
        if isinstance(node.get(key), str):
            yield f"{where}.{key}", node[key]
    for value, entry in (node.get("x-enum-titles") or {}).items():
        for lang in ("en", "zh"):
            yield f"{where}[{value}].{lang}", entry.get(lang, "")
    for key, sub in (node.get("properties") or {}).items():
        yield from _form_texts(sub, f"{where}.{key}")
    if isinstance(node.get("items"), dict):
        yield from _form_texts(node["items"], f"{where}[]")


def test_no_data_key_or_input_hint_in_task_instructions_labels_or_help():
    leaks = []
    for bundle in ("complaint", "repair"):
        folder = ROOT / "processes" / bundle
        for task, text in _instructions(folder / f"{bundle}.bpmn"):
            leaks += [(task, k) for k in DATA_KEY.findall(text)]
        for path in sorted(folder.glob("*.schema.json")):
            for where, text in _form_texts(json.loads(path.read_text(encoding="utf-8")), path.name):
                leaks += [(where, k) for k in DATA_KEY.findall(text) + INPUT_HINT.findall(text)]
    assert leaks == []
