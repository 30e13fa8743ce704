"""The modeler page and its JSON endpoints (session + CSRF token): who may open it, save a draft,
check it and deploy it. The browser flow itself is tests/e2e/test_modeler.py."""
from __future__ import annotations

import json
import re
from typing import Any

import pytest

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
    r = _send(owner, "POST", config["urls"]["check"].replace("DRAFT_ID", str(draft["id"])), token=config["csrfToken"])
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


def test_a_file_that_is_not_text_is_refused_with_its_name(browser, deployed):
    owner = browser("owner")
    config = _config(owner)
    r = owner.client.post(config["urls"]["newDraft"] + "?file=complaint.bpmn", data=b"<bpmn>\xc3\x28</bpmn>",
                          headers={"X-CSRFToken": config["csrfToken"]}, content_type="application/xml")
    assert r.status_code == 422, r.get_json()
    assert "complaint.bpmn" in r.get_json()["error"]["fields"]
