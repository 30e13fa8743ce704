"""In a real browser: a process owner changes a grading threshold in the modeler's properties panel,
checks it, tries a draft case (graded by the new threshold, the path drawn on the canvas) and saves the
draft; an admin deploys it; new complaints are graded by the new threshold while a complaint started
before keeps its version. A deleted sequence flow is listed by Check and selected when clicked.
Screenshots of the operator panel and of the try-it path go to test-artifacts/.
"""
from __future__ import annotations

import json
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

#: The same complaint as the try's start data (JSON: numbers are numbers).
TRY_DATA = {k: int(v) if k in ("ship_qty", "functional_defect_qty", "cosmetic_defect_qty", "lot_size") else v
            for k, v in REGISTRATION.items()}


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
    assert "draft=" not in page.url  # Check stores nothing: the diagram is checked as shown

    # Try it: a draft case with 16 defects runs in a sandbox that is thrown away, its path drawn
    page.click("#modeler-try > summary")
    page.fill("#modeler-try-data", json.dumps(TRY_DATA, ensure_ascii=False))
    page.click("[data-testid=modeler-try-run]")
    page.wait_for_selector("#modeler-try[data-tried]")
    assert page.locator("[data-testid=modeler-try-status]").get_attribute("data-status") == "needs_answer"
    assert page.locator("#modeler-try-result tr[data-key=kpi_class] .try-value").first.inner_text() == "general"
    assert "Check validity and confirm grade" in page.locator("[data-testid=modeler-try-tasks]").inner_text()
    for drawn in ("start_register", "propose_grade", "flow_graded", "route_to_dept"):
        assert page.locator(f".djs-element.cf-try-path[data-element-id={drawn}]").count() == 1, drawn
    assert page.locator(".djs-element.cf-try-task[data-element-id=confirm_grade]").count() == 1
    page.evaluate("() => { const m = window.caseflowModeler; m.get('canvas').zoom(0.8); "
                  "m.get('canvas').scrollToElement(m.get('elementRegistry').get('propose_grade')); }")
    page.screenshot(path=str(ARTIFACTS / "modeler-try-path.png"), full_page=True)

    # the draft's changes against version 1, drawn on the diagram
    page.click("[data-testid=modeler-diff]")
    page.wait_for_selector(".djs-element.cf-diff-changed[data-element-id=propose_grade]")
    change = page.locator("#modeler-diff-list li[data-element=propose_grade]")
    assert change.get_attribute("data-kind") == "changed"
    assert "parameter q_major_functional: 15 → 20" in change.inner_text()
    assert page.locator("#modeler-diff-list li").count() == 1

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


def test_check_lists_a_deleted_flow_and_selects_its_element(staff, server):
    owner = staff("owner", locale="zh-CN")  # the modeler in Chinese
    _open_modeler(owner)
    page = owner.page
    assert page.locator("[data-testid=modeler-check]").inner_text() == "检查"
    page.evaluate("() => { const m = window.caseflowModeler; m.get('canvas').zoom(1.0); "
                  "m.get('canvas').scrollToElement(m.get('elementRegistry').get('flow_graded')); }")
    # select the sequence flow from the grading task to the routing task and delete it with the context pad
    page.evaluate("() => { const m = window.caseflowModeler; "
                  "m.get('selection').select(m.get('elementRegistry').get('flow_graded')); }")
    page.locator(".djs-context-pad .entry[data-action=delete]").click()
    assert page.evaluate("() => !window.caseflowModeler.get('elementRegistry').get('flow_graded')")
    page.evaluate("() => window.caseflowModeler.get('selection').select(null)")
    page.click("[data-testid=modeler-check]")
    problem = page.locator("#modeler-problems button[data-element=route_to_dept]")
    problem.wait_for()
    assert "no incoming sequence flow" in problem.inner_text()
    assert page.locator("[data-testid=modeler-status]").inner_text() == "检查发现问题。"
    assert page.locator(".djs-element.selected[data-element-id=route_to_dept]").count() == 0
    problem.click()
    page.wait_for_selector(".djs-element.selected[data-element-id=route_to_dept]")


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
    # bpmnlint's recommended rules run in the editor when its button turns them on: the shipped
    # diagram has no issue; a task connected to nothing is one
    page.locator(".bjsl-button").click()
    page.wait_for_selector(".bjsl-button.bjsl-button-success")
    page.evaluate("""() => {
        const m = window.caseflowModeler, lane = m.get('elementRegistry').filter(e => e.type === 'bpmn:Lane')[0];
        m.get('modeling').createShape({type: 'bpmn:Task'}, {x: lane.x + 400, y: lane.y + 60}, lane.parent);
    }""")
    page.wait_for_selector(".bjsl-button.bjsl-button-error, .bjsl-button.bjsl-button-warning")
    assert re.search(r"\d", page.locator(".bjsl-button").inner_text())


def _select(page, element_id: str, group: str) -> None:
    """Select ``element_id`` on the canvas and open the properties group ``group``."""
    page.evaluate("id => { document.activeElement && document.activeElement.blur(); "
                  "const m = window.caseflowModeler; const el = m.get('elementRegistry').get(id); "
                  "m.get('selection').select(null); m.get('selection').select(el); "
                  "if (!el.waypoints) m.get('canvas').scrollToElement(el); }", element_id)
    page.wait_for_selector(f"[data-group-id='group-{group}']")
    header = page.locator(f"[data-group-id='group-{group}'] .bio-properties-panel-group-header")
    if "open" not in (header.get_attribute("class") or ""):
        header.click()


def test_scripts_conditions_calls_and_lanes_in_the_panel(staff, server):
    owner = staff("owner")
    _open_modeler(owner)
    page = owner.page
    # a script task: the server checks the sandbox rules as the owner types (no eval in the browser)
    _select(page, "open_clock", "caseflow-script")
    script = page.locator("#bio-properties-panel-caseflow-script")
    original = script.input_value()
    assert original.strip()
    page.wait_for_selector("[data-entry-id=caseflow-script-check][data-check=ok]")
    script.fill(original + "\nimport os\n")
    page.wait_for_selector("[data-entry-id=caseflow-script-check][data-check=problems]")
    assert "imports are not allowed" in page.locator("[data-entry-id=caseflow-script-check]").inner_text()
    script.fill(original)
    page.wait_for_selector("[data-entry-id=caseflow-script-check][data-check=ok]")
    # a flow condition, checked as an expression
    _select(page, "flow_intake_complete", "caseflow-condition")
    condition = page.locator("#bio-properties-panel-caseflow-condition")
    assert condition.input_value().strip()
    condition.fill("intake_complete and __import__('os')")
    page.wait_for_selector("[data-entry-id=caseflow-condition-check][data-check=problems]")
    # a call activity names the called process from the deployed ones
    _select(page, "call_repair", "caseflow-call")
    called = page.locator("#bio-properties-panel-caseflow-called")
    assert called.input_value() == "repair"
    assert {"repair", "returned_goods", "complaint"} <= set(called.locator("option").all_inner_texts())
    # a lane maps to a role; a new role can be declared
    _select(page, "lane_quality", "caseflow-lane")
    role = page.locator("#bio-properties-panel-caseflow-lane-role")
    assert role.input_value() == "quality"
    role.select_option("manager")
    page.wait_for_timeout(300)
    xml = page.evaluate("async () => (await window.caseflowModeler.saveXML()).xml")
    assert '<bpmn:lane id="lane_quality" name="manager">' in xml
    assert "import os" not in xml
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "modeler-lane-panel.png"), full_page=True)

    # forms: a live preview by Caseflow's own renderer in both languages, schema errors listed
    page.click("#modeler-forms > summary")
    page.locator("#modeler-form-file").select_option("complaint_confirm.schema.json")
    page.wait_for_selector("#modeler-form-preview-en [name=complaint_valid]")
    assert page.locator("#modeler-form-preview-zh [name=complaint_valid]").count() == 2  # yes / no
    text = page.locator("#modeler-form-text")
    form = json.loads(text.input_value())
    form["properties"]["complaint_valid"]["title"] = "Is the complaint valid?"
    text.fill(json.dumps(form, ensure_ascii=False, indent=2))
    page.wait_for_function("() => document.querySelector('#modeler-form-preview-en').textContent"
                           ".includes('Is the complaint valid?')")
    form["properties"]["complaint_valid"]["type"] = "yes-or-no"
    text.fill(json.dumps(form, ensure_ascii=False))
    page.wait_for_selector("#modeler-form-problems[data-count='1']")
    assert "properties/complaint_valid/type" in page.locator("#modeler-form-problems").inner_text()
    # a new form from the starter, bound to the selected user task, saved into the draft
    _select(page, "d1_describe", "caseflow-task")
    page.fill("#modeler-form-new", "complaint_d1_extra.schema.json")
    page.click("[data-testid=modeler-form-create]")
    page.wait_for_function("() => document.querySelector('#modeler-status').dataset.kind === 'success'")
    assert page.locator("#bio-properties-panel-caseflow-form").input_value() == "complaint_d1_extra.schema.json"
    page.wait_for_selector("#modeler-form-preview-en [name=notes]")
    page.click("[data-testid=modeler-form-save]")
    page.wait_for_function("() => document.querySelector('#modeler-status').textContent === 'Form saved to the draft.'")
