"""In a real browser: a process owner changes a grading threshold in the modeler's properties panel,
checks and saves a draft; an admin deploys it; new complaints are graded by the new threshold while a
complaint started before keeps its version. A screenshot of the operator panel goes to test-artifacts/.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.browser
MODELER = Path(__file__).resolve().parents[2] / "web" / "static" / "vendor" / "modeler" / "modeler.js"


@pytest.fixture(autouse=True)
def _modeler_built() -> None:
    if not MODELER.is_file():
        pytest.fail("web/static/vendor/modeler/modeler.js is missing: run `make static` "
                    "(npm install + node web/static/js/modeler/build.mjs)")

REGISTRATION = {
    "channel": "phone", "customer_name": "华信电子 Huaxin", "customer_code": "C-1001",
    "customer_contact": "李女士 138-0000-0000", "product_no": "P-77", "product_model": "PX-2",
    "order_no": "SO-2026-0042", "ship_date": "2026-02-20", "ship_qty": "1000", "found_stage": "incoming",
    "description": "16 units do not power on", "customer_request": "Exchange the units",
    "complaint_type": "quality", "functional_defect_qty": "16", "cosmetic_defect_qty": "0", "lot_size": "1000",
}


def _register(service) -> str:
    """Register a complaint with 16 functional defects; the URL of its case page."""
    service.page.goto(service.base + "/")
    service.page.click("nav.mainnav >> text=New case")
    service.page.click("[data-process=complaint]")
    service.fill(REGISTRATION)
    service.submit()
    assert re.search(r"/cases/\d+$", service.page.url), service.page.url
    return service.page.url


def _grade(page, case_url: str) -> tuple[str, str]:
    """The KPI class shown on the case page and the version the case runs on."""
    page.goto(case_url)
    grade = page.locator(".fact[data-key=kpi_class] dd").inner_text().strip()
    version = re.search(r"version (\d+)", page.locator(".crumbs").first.inner_text())
    return grade, version.group(1) if version else ""


def _open_modeler(person, query: str = "") -> None:
    person.page.goto(person.base + "/admin/processes/complaint/modeler" + query)
    person.page.wait_for_selector("body[data-modeler-ready='1']")


def test_owner_changes_a_threshold_and_an_admin_deploys(staff, server):
    service = staff("service")
    before = _register(service)
    assert _grade(service.page, before) == ("Major complaint", "1")  # 16 >= 15 functional defects: major

    owner = staff("owner")
    _open_modeler(owner)
    page = owner.page
    # pan the canvas to the grading task (as a user drags it into view), then click it
    page.evaluate("() => { const m = window.caseflowModeler; m.get('canvas').zoom(1.0); "
                  "m.get('canvas').scrollToElement(m.get('elementRegistry').get('propose_grade')); }")
    page.locator(".djs-element[data-element-id=propose_grade]").click()
    page.wait_for_selector("[data-group-id='group-caseflow-service']")
    header = page.locator("[data-group-id='group-caseflow-service'] .bio-properties-panel-group-header")
    if "open" not in (header.get_attribute("class") or ""):
        header.click()
    operator = page.locator("#bio-properties-panel-caseflow-operator")
    assert operator.input_value() == "grade_complaint"
    field = page.locator("#bio-properties-panel-caseflow-param-q_major_functional")
    assert field.input_value() == "15"
    field.fill("abc")  # a typed field: not a whole number is flagged at once
    page.wait_for_selector("[data-entry-id='caseflow-param-q_major_functional'] .bio-properties-panel-error")
    field.fill("20")
    page.wait_for_function("() => !document.querySelector("
                           "\"[data-entry-id='caseflow-param-q_major_functional'] .bio-properties-panel-error\")")
    page.wait_for_timeout(600)  # the panel's debounce writes the value into the model
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "modeler-operator-panel.png"), full_page=True)

    page.click("[data-testid=modeler-check]")
    page.wait_for_function("() => document.querySelector('#modeler-status').dataset.kind !== 'info'")
    assert page.locator("[data-testid=modeler-status]").inner_text() == "Check: no problems."
    assert page.locator("#modeler-problems li").count() == 0
    page.click("[data-testid=modeler-save]")
    page.wait_for_function("() => document.querySelector('#modeler-status').textContent === 'Draft saved.'")
    draft_id = re.search(r"[?&]draft=(\d+)", page.url)
    assert draft_id, page.url
    assert page.locator("#modeler-deploy").count() == 0  # process owners do not deploy (four eyes)

    admin = staff("admin")
    _open_modeler(admin, f"?draft={draft_id.group(1)}")
    admin.page.click("[data-testid=modeler-deploy]")
    admin.page.wait_for_function("() => document.querySelector('#modeler-status').dataset.kind === 'success'")
    assert "Deployed as version 2" in admin.page.locator("[data-testid=modeler-status]").inner_text()

    after = _register(service)
    assert _grade(service.page, after) == ("General complaint", "2")  # 16 < 20: general now
    assert _grade(service.page, before) == ("Major complaint", "1")  # the running case stays on its version


def test_check_lists_a_problem_and_selects_its_element(staff, server):
    owner = staff("owner", locale="zh-CN")  # the modeler in Chinese
    _open_modeler(owner)
    page = owner.page
    assert page.locator("[data-testid=modeler-check]").inner_text() == "检查"
    page.evaluate("() => { const m = window.caseflowModeler; m.get('canvas').zoom(1.0); "
                  "m.get('canvas').scrollToElement(m.get('elementRegistry').get('propose_grade')); }")
    page.locator(".djs-element[data-element-id=propose_grade]").click()
    header = page.locator("[data-group-id='group-caseflow-service'] .bio-properties-panel-group-header")
    if "open" not in (header.get_attribute("class") or ""):
        header.click()
    assert "Caseflow 规则" in header.inner_text()
    page.locator("#bio-properties-panel-caseflow-operator").select_option("")  # the task names no operator now
    page.evaluate("() => window.caseflowModeler.get('selection').select(null)")
    page.click("[data-testid=modeler-check]")
    problem = page.locator("#modeler-problems button[data-element=propose_grade]")
    problem.wait_for()
    assert "operator" in problem.inner_text()
    assert page.locator("[data-testid=modeler-status]").inner_text() == "检查发现问题。"
    assert page.locator(".djs-element.selected[data-element-id=propose_grade]").count() == 0
    problem.click()
    page.wait_for_selector(".djs-element.selected[data-element-id=propose_grade]")


def test_user_task_panel_and_lint(staff, server):
    owner = staff("owner")
    _open_modeler(owner)
    page = owner.page
    page.evaluate("() => { const m = window.caseflowModeler; m.get('canvas').zoom(1.0); "
                  "m.get('canvas').scrollToElement(m.get('elementRegistry').get('d1_describe')); }")
    page.locator(".djs-element[data-element-id=d1_describe]").click()
    header = page.locator("[data-group-id='group-caseflow-task'] .bio-properties-panel-group-header")
    if "open" not in (header.get_attribute("class") or ""):
        header.click()
    form = page.locator("#bio-properties-panel-caseflow-form")
    assert form.input_value() == "complaint_d1_problem.schema.json"
    assert "complaint_d2_containment.schema.json" in form.locator("option").all_inner_texts()
    doc_zh = page.locator("#bio-properties-panel-caseflow-doc-zh")
    assert doc_zh.input_value().startswith("第6阶段")
    page.locator("#bio-properties-panel-caseflow-name-zh").fill("1D 问题描述")
    page.wait_for_timeout(600)
    xml = page.evaluate("async () => (await window.caseflowModeler.saveXML()).xml")
    assert '<spiffworkflow:property name="nameZh" value="1D 问题描述" />' in xml
    # bpmnlint's recommended rules run in the editor when its button turns them on
    page.locator(".bjsl-button").click()
    page.wait_for_selector(".bjsl-button.bjsl-button-error, .bjsl-button.bjsl-button-warning, "
                           ".bjsl-button.bjsl-button-success")
    assert re.search(r"\d", page.locator(".bjsl-button").inner_text())
