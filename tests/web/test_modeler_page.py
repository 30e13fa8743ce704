"""The modeler page and its JSON endpoints (session + CSRF token): who may open it, save a draft,
check it and deploy it. The browser flow itself is tests/e2e/test_modeler.py."""
from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import func, select

import engine
from caseflow import store

CONFIG = re.compile(r'<script type="application/json" id="modeler-config">(.*?)</script>', re.S)
THRESHOLD = 'id="q_major_functional" type="int" value="15"'


@pytest.fixture
def app_users() -> dict[str, list[str]]:
    return {"owner": ["process_owner"], "admin": ["admin"], "quality": ["quality"]}


def _config(b: Any) -> dict:
    response = b.get("/admin/processes/complaint/modeler")
    assert response.status_code == 200
    match = CONFIG.search(response.get_data(as_text=True))
    assert match
    config: dict = json.loads(match.group(1))
    return config


def _send(b: Any, method: str, url: str, body: str | None = None, token: str | None = None) -> Any:
    headers = {"X-CSRFToken": token or b.token, "Accept": "application/json"}
    return b.client.open(url, method=method, data=body.encode() if body is not None else None, headers=headers,
                         content_type="application/xml" if body is not None else None)


def test_only_process_owners_and_admins_open_the_modeler(browser, deployed):
    assert browser("quality").get("/admin/processes/complaint/modeler").status_code == 403
    assert browser("admin").get("/admin/processes/complaint/modeler").status_code == 200
    config = _config(browser("owner"))
    assert config["key"] == "complaint" and config["baseVersion"] == 1 and config["bpmnFile"] == "complaint.bpmn"
    assert THRESHOLD in config["xml"] and config["draft"] is None and config["isAdmin"] is False
    assert config["mayDeploy"] is False  # four eyes unless CASEFLOW_OWNERS_MAY_DEPLOY is on
    grade = next(op for op in config["operators"] if op["name"] == "grade_complaint")
    assert {"name": "q_major_functional", "type": "int", "required": False, "default": 15} .items() <= \
        next(p for p in grade["params"] if p["name"] == "q_major_functional").items()
    assert "complaint_d1_problem.schema.json" in config["formFiles"] and "manifest.json" not in config["formFiles"]
    assert browser("owner").get("/admin/processes/nope/modeler").status_code == 404


def test_save_check_and_deploy_through_the_page_endpoints(browser, deployed, database):
    owner = browser("owner")
    config = _config(owner)
    edited = config["xml"].replace(THRESHOLD, THRESHOLD.replace("15", "20"))
    r = _send(owner, "POST", config["urls"]["newDraft"] + "?version=1&file=complaint.bpmn", edited,
              token=config["csrfToken"])
    assert r.status_code == 201, r.get_json()
    draft = r.get_json()
    assert (draft["status"], draft["author"], draft["base_version"], draft["row_version"]) == ("open", "owner", 1, 2)
    file_url = config["urls"]["draftFile"].replace("DRAFT_ID", str(draft["id"])).replace("FILE", "complaint.bpmn")
    r = _send(owner, "PUT", file_url + "?row_version=1", edited, token=config["csrfToken"])
    assert r.status_code == 409 and r.get_json()["error"]["code"], r.get_json()  # stale: JSON, not a page
    assert _send(owner, "PUT", file_url + "?row_version=x", edited, token=config["csrfToken"]).status_code == 400
    check_url = config["urls"]["check"] + f"?file=complaint.bpmn&draft={draft['id']}"
    r = _send(owner, "POST", check_url, edited, token=config["csrfToken"])
    assert r.status_code == 200 and r.get_json() == {"ok": True, "problems": []}
    deploy_url = config["urls"]["deploy"].replace("DRAFT_ID", str(draft["id"]))
    r = _send(owner, "POST", deploy_url, token=config["csrfToken"])
    assert r.status_code == 403  # four eyes

    admin = browser("admin")
    admin_config = _config(admin)
    assert _send(admin, "POST", deploy_url, token="wrong").status_code == 400  # CSRF
    r = _send(admin, "POST", deploy_url, token=admin_config["csrfToken"])
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["draft"]["status"] == "deployed"
    with database.session() as s:
        assert 'value="20"' in engine.find_definition(s, "complaint", 2).files["complaint.bpmn"]
        assert s.get(store.ProcessDraft, draft["id"]).deployed_by == "admin"
    # The page on the deployed draft opens it read from the draft; saving it again is refused.
    page = admin.get(f"/admin/processes/complaint/modeler?draft={draft['id']}")
    assert page.status_code == 200
    assert _send(admin, "PUT", file_url, edited, token=admin_config["csrfToken"]).status_code == 409
    assert admin.get(f"/admin/processes/repair/modeler?draft={draft['id']}").status_code == 404



def test_check_validates_the_diagram_as_shown_and_stores_nothing(browser, deployed, database):
    """Check before any save: the unsaved diagram with the version's other files; no draft appears."""
    owner = browser("owner")
    config = _config(owner)
    broken = config["xml"].replace('Operator id="grade_complaint"', 'Operator id="no_such_rule"')  # unknown rule
    url = config["urls"]["check"] + "?file=complaint.bpmn&version=1"
    r = _send(owner, "POST", url, broken, token=config["csrfToken"])
    assert r.status_code == 200 and r.get_json()["ok"] is False and r.get_json()["problems"], r.get_json()
    r = _send(owner, "POST", url, config["xml"], token=config["csrfToken"])
    assert r.get_json() == {"ok": True, "problems": []}
    with database.session() as s:
        assert s.query(store.ProcessDraft).count() == 0
    assert _send(owner, "POST", config["urls"]["check"] + "?file=complaint.bpmn", config["xml"],
                 token=config["csrfToken"]).status_code == 422  # neither a draft nor a version
    assert _send(owner, "POST", config["urls"]["check"] + "?file=notes.txt&version=1", "x",
                 token=config["csrfToken"]).status_code == 400
    assert _send(browser("quality"), "POST", url, config["xml"]).status_code == 403

def test_a_file_that_is_not_text_is_refused_with_its_name(browser, deployed):
    owner = browser("owner")
    config = _config(owner)
    r = owner.client.post(config["urls"]["newDraft"] + "?file=complaint.bpmn", data=b"<bpmn>\xc3\x28</bpmn>",
                          headers={"X-CSRFToken": config["csrfToken"]}, content_type="application/xml")
    assert r.status_code == 422, r.get_json()
    assert "complaint.bpmn" in r.get_json()["error"]["fields"]


def test_try_through_the_page_endpoint(browser, deployed, database):
    owner = browser("owner")
    config = _config(owner)
    edited = config["xml"].replace(THRESHOLD, THRESHOLD.replace("15", "20"))
    draft = _send(owner, "POST", config["urls"]["newDraft"] + "?file=complaint.bpmn", edited,
                  token=config["csrfToken"]).get_json()
    url = config["urls"]["try"].replace("DRAFT_ID", str(draft["id"]))
    data = {"channel": "phone", "customer_name": "Huaxin", "customer_code": "C-1", "customer_contact": "Ms Li",
            "product_no": "P-77", "product_model": "PX-2", "order_no": "SO-1", "ship_date": "2026-02-20",
            "ship_qty": 1000, "found_stage": "incoming", "description": "16 units do not power on",
            "customer_request": "Exchange them", "complaint_type": "quality", "functional_defect_qty": 16,
            "cosmetic_defect_qty": 0, "lot_size": 1000}

    def post(body: object, token: str | None = None) -> Any:
        return owner.client.post(url, data=json.dumps(body), content_type="application/json",
                                 headers={"X-CSRFToken": token or config["csrfToken"], "Accept": "application/json"})

    r = post({"data": data})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["data"]["kpi_class"] == "general" and "propose_grade" in r.get_json()["path"]
    assert r.get_json()["tasks"][0]["element"] == "confirm_grade"
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(store.ProcessInstance)) == 0
    bad = post({"data": data, "answers": [7]})
    assert bad.status_code == 422 and "answers.0" in bad.get_json()["error"]["fields"], bad.get_json()
    assert post({"data": {**data, "lot_size": "x"}}).get_json()["error"]["fields"]["data.lot_size"]
    assert post({"data": data}, token="wrong").status_code == 400  # CSRF
    quality = browser("quality")
    assert quality.client.post(url, data="{}", content_type="application/json",
                               headers={"X-CSRFToken": quality.token}).status_code == 403


@pytest.mark.parametrize("app_env", [{"CASEFLOW_OWNERS_MAY_DEPLOY": "true"}])
def test_with_the_setting_process_owners_deploy_from_the_page(browser, deployed, app_env):
    owner = browser("owner")
    config = _config(owner)
    assert config["mayDeploy"] is True
    assert 'id="modeler-deploy"' in owner.get("/admin/processes/complaint/modeler").get_data(as_text=True)
    edited = config["xml"].replace(THRESHOLD, THRESHOLD.replace("15", "20"))
    draft = _send(owner, "POST", config["urls"]["newDraft"] + "?file=complaint.bpmn", edited,
                  token=config["csrfToken"]).get_json()
    r = _send(owner, "POST", config["urls"]["deploy"].replace("DRAFT_ID", str(draft["id"])), token=config["csrfToken"])
    assert r.status_code == 200 and r.get_json()["draft"]["deployed_by"] == "owner", r.get_json()


def test_drafts_pages_and_a_new_process_from_the_blank_template(browser, deployed):
    owner = browser("owner")
    assert browser("quality").get("/admin/drafts").status_code == 403
    page = owner.get("/admin/drafts")
    assert page.status_code == 200 and 'data-testid="no-drafts"' in page.get_data(as_text=True)
    assert 'data-process="complaint"' in page.get_data(as_text=True)
    assert 'data-testid="nav-modeler"' in page.get_data(as_text=True)
    assert 'data-testid="nav-modeler"' not in browser("quality").get("/").get_data(as_text=True)
    r = owner.post("/admin/drafts/new", data={"key": "9 lives", "name": "x"})
    assert r.status_code == 422 and "process key starts with a letter" in r.get_data(as_text=True)
    r = owner.post("/admin/drafts/new", data={"key": "complaint"})
    assert r.status_code == 409 and "deployed already" in r.get_data(as_text=True)
    r = owner.post("/admin/drafts/new", data={"key": "site_visit", "name": "Site visit"})
    assert r.status_code == 302, r.get_data(as_text=True)
    match = re.search(r"/admin/processes/site_visit/modeler\?draft=(\d+)$", r.headers["Location"])
    assert match, r.headers["Location"]
    modeler = owner.get(r.headers["Location"])
    assert modeler.status_code == 200
    config = json.loads(CONFIG.search(modeler.get_data(as_text=True)).group(1))  # type: ignore[union-attr]
    assert config["baseVersion"] is None and config["draft"]["id"] == int(match.group(1))
    assert '<bpmn:userTask id="first_task"' in config["xml"]
    listing = owner.get("/admin/processes/site_visit/drafts").get_data(as_text=True)
    assert f'data-draft="{match.group(1)}"' in listing and "a new process" in listing
    zipped = owner.get(f"/admin/drafts/{match.group(1)}/bundle.zip")
    assert zipped.status_code == 200 and zipped.mimetype == "application/zip"
    assert owner.get("/admin/processes/complaint/versions/1/bundle.zip").mimetype == "application/zip"
    assert owner.get("/admin/processes/complaint/versions/7/bundle.zip").status_code == 404


def test_form_preview_renders_the_staff_widgets_in_both_languages(browser, deployed):
    owner = browser("owner")
    config = _config(owner)
    assert "complaint_confirm.schema.json" in config["formTexts"]

    def preview(body: object) -> Any:
        return owner.client.post(config["urls"]["formPreview"], data=json.dumps(body), content_type="application/json",
                                 headers={"X-CSRFToken": config["csrfToken"], "Accept": "application/json"})

    schema = json.loads(config["formTexts"]["complaint_confirm.schema.json"])
    r = preview({"schema": schema})
    assert r.status_code == 200 and r.get_json()["ok"] is True, r.get_json()
    html = r.get_json()["html"]
    assert 'name="complaint_valid"' in html["en"] and 'name="complaint_valid"' in html["zh"]
    title_en, title_zh = schema["properties"]["complaint_valid"]["title"], \
        schema["properties"]["complaint_valid"]["x-title-zh"]
    assert title_en in html["en"] and title_zh in html["zh"] and title_zh not in html["en"]
    bad = preview({"schema": {"type": "object", "properties": {"n": {"type": "nombre"}}}})
    assert bad.get_json()["ok"] is False and "properties/n/type" in bad.get_json()["problems"][0], bad.get_json()
    assert preview({"schema": {"type": "array"}}).get_json()["ok"] is False
    assert preview({"schema": "x"}).status_code == 422
    assert preview({"schema": {"title": "<script>alert(1)</script>"}}).get_json()["html"]["en"].count("<script>") == 0
    quality = browser("quality")
    assert quality.client.post(config["urls"]["formPreview"], data="{}", content_type="application/json",
                               headers={"X-CSRFToken": quality.token}).status_code == 403
