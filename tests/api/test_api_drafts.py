"""``/api/v1/drafts``: a process owner starts a draft from a deployed version, edits its files and
checks it (the deploy validation, nothing stored); an admin deploys it as a new version (audited)."""
from __future__ import annotations

import re

import pytest
from drafts_helpers import THRESHOLD, deployed_fixture, owner_fixture, put_files  # noqa: F401  (fixtures)
from sqlalchemy import func, select

import engine
from caseflow import store

_put = put_files


def _versions(database, key: str) -> int:
    with database.session() as s:
        return int(s.scalar(select(func.count()).select_from(store.ProcessDefinition)
                            .where(store.ProcessDefinition.key == key)) or 0)


def test_owner_edits_checks_and_an_admin_deploys(api, owner, deployed, database):
    r = api.post("/api/v1/drafts", {"key": "complaint"}, who=owner)
    assert r.status_code == 201, r.json
    draft = r.json
    assert (draft["key"], draft["base_version"], draft["status"], draft["author"]) == ("complaint", 1, "open", owner)
    assert "complaint.bpmn" in draft["files"] and "manifest.json" in draft["file_names"]

    bpmn = draft["files"]["complaint.bpmn"]
    assert bpmn.count(THRESHOLD) == 1
    r = _put(api, draft["id"], {"complaint.bpmn": bpmn.replace(THRESHOLD, THRESHOLD.replace("15", "20"))},
             row_version=draft["row_version"])
    assert r.status_code == 200, r.json
    assert r.json["row_version"] == draft["row_version"] + 1
    # A save based on the old row version would lose the one above: 409.
    assert _put(api, draft["id"], {"complaint.bpmn": bpmn}, row_version=draft["row_version"]).status_code == 409

    r = api.get(f"/api/v1/drafts/{draft['id']}/diff", who=owner)
    assert r.status_code == 200, r.json
    assert r.json["identical"] is False and r.json["base_version"] == 1
    assert r.json["elements"]["changed"] == [{
        "id": "propose_grade", "type": "serviceTask", "name": "Propose grade (Schemes Q, S, R)",
        "file": "complaint.bpmn", "changes": [{"property": "parameter q_major_functional", "old": "15", "new": "20"}]}]

    r = api.post(f"/api/v1/drafts/{draft['id']}/check", who=owner)
    assert r.status_code == 200, r.json
    assert r.json == {"ok": True, "problems": []}
    assert _versions(database, "complaint") == 1  # checking stores nothing

    assert api.post(f"/api/v1/drafts/{draft['id']}/deploy", who=owner).status_code == 403  # four eyes
    r = api.post(f"/api/v1/drafts/{draft['id']}/deploy", who="admin")
    assert r.status_code == 200, r.json
    ours = next(p for p in r.json["processes"] if p["key"] == "complaint")
    assert (ours["version"], ours["status"]) == (2, "deployed")
    assert r.json["draft"]["status"] == "deployed" and r.json["draft"]["deployed_by"] == "admin"
    assert r.json["draft"]["deployed_definition_id"] == ours["definition_id"]
    with database.session() as s:
        stored = engine.find_definition(s, "complaint", 2)
        assert 'id="q_major_functional" type="int" value="20"' in stored.files["complaint.bpmn"]
        audit = s.scalars(select(store.AuditEvent).where(store.AuditEvent.kind == "deployed")
                          .order_by(store.AuditEvent.id.desc())).first()
        assert audit is not None and audit.actor == "admin"
        assert audit.payload["bundle"] == f"draft {draft['id']}" and audit.payload["version"] == 2
    # A deployed draft is closed: further edits are refused.
    assert _put(api, draft["id"], {"complaint.bpmn": bpmn}).status_code == 409
    assert api.get("/api/v1/drafts?status=deployed", who=owner).json["items"][0]["id"] == draft["id"]


@pytest.mark.parametrize("breakage, element, message", [
    (lambda x: x.replace('serviceTaskOperator id="grade_complaint"', 'serviceTaskOperator id="grade_complain"'),
     "propose_grade", "grade_complain"),
    (lambda x: x.replace('value="complaint_d1_problem.schema.json"', 'value="complaint_d1_missing.schema.json"'),
     None, "complaint_d1_missing.schema.json"),
    (lambda x: re.sub(r'(<bpmn:scriptTask id="open_clock"[^>]*>.*?<bpmn:script>)', r"\1import os\n", x,
                      count=1, flags=re.S),
     "open_clock", "import"),
    (lambda x: re.sub(r'\s*<bpmndi:BPMNEdge id="flow_graded_di".*?</bpmndi:BPMNEdge>|\s*<bpmn:sequenceFlow '
                      r'id="flow_graded"[^>]*/>|\s*<bpmn:(incoming|outgoing)>flow_graded</bpmn:\1>', "", x, flags=re.S),
     "route_to_dept", "no incoming sequence flow"),  # a deleted flow: the task after it could never run
])
def test_check_names_the_problem_and_deploy_refuses(api, owner, deployed, database, breakage, element, message):
    draft = api.post("/api/v1/drafts", {"key": "complaint", "version": 1}, who=owner).json
    broken = breakage(draft["files"]["complaint.bpmn"])
    assert broken != draft["files"]["complaint.bpmn"]
    assert _put(api, draft["id"], {"complaint.bpmn": broken}).status_code == 200
    r = api.post(f"/api/v1/drafts/{draft['id']}/check", who=owner)
    assert r.status_code == 200 and r.json["ok"] is False, r.json
    assert any(message in p["message"] and (element is None or p["element"] == element)
               for p in r.json["problems"]), r.json["problems"]
    r = api.post(f"/api/v1/drafts/{draft['id']}/deploy", who="admin")
    assert r.status_code == 422, r.json
    assert r.json["error"]["fields"]["problems"]
    assert _versions(database, "complaint") == 1
    assert api.get(f"/api/v1/drafts/{draft['id']}", who=owner).json["status"] == "open"


@pytest.mark.parametrize("broken", [
    lambda x: x[: len(x) // 2],  # cut off while being edited
    lambda x: x.replace("?>", '?><!DOCTYPE d [<!ENTITY e "x">]>', 1),
])
def test_the_diff_of_a_draft_that_does_not_parse_names_the_problem(api, owner, deployed, broken):
    draft = api.post("/api/v1/drafts", {"key": "complaint"}, who=owner).json
    assert _put(api, draft["id"], {"complaint.bpmn": broken(draft["files"]["complaint.bpmn"])}).status_code == 200
    r = api.get(f"/api/v1/drafts/{draft['id']}/diff", who=owner)
    assert r.status_code == 422, r.json
    assert any(p["file"] == "complaint.bpmn" for p in r.json["error"]["fields"]["problems"]), r.json


def test_roles_and_bad_input(api, owner, deployed):
    assert api.get("/api/v1/drafts", who="quality").status_code == 403
    assert api.post("/api/v1/drafts", {"key": "complaint"}, who="quality").status_code == 403
    r = api.post("/api/v1/drafts", {"key": "nope"}, who=owner)
    assert r.status_code == 404, r.json
    r = api.post("/api/v1/drafts", {"key": "complaint", "version": "1"}, who=owner)
    assert r.status_code == 422 and "version" in r.json["error"]["fields"], r.json
    assert api.post("/api/v1/drafts", {"key": "complaint", "version": 9}, who=owner).status_code == 404
    draft = api.post("/api/v1/drafts", {"key": "complaint"}, who=owner).json
    assert api.get(f"/api/v1/drafts/{draft['id']}/diff", who=owner).json["identical"] is True
    r = _put(api, draft["id"], {"notes.txt": "hello"})
    assert r.status_code == 422 and "notes.txt" in r.json["error"]["fields"], r.json
    r = _put(api, draft["id"], {"form.json": "bad\x01"})
    assert r.status_code == 422 and "form.json" in r.json["error"]["fields"], r.json
    assert api.get("/api/v1/drafts/999", who=owner).status_code == 404
    assert api.delete(f"/api/v1/drafts/{draft['id']}/files/missing.json", who=owner).status_code == 404
    r = api.delete(f"/api/v1/drafts/{draft['id']}/files/complaint_d1_problem.schema.json", who=owner)
    assert r.status_code == 200 and "complaint_d1_problem.schema.json" not in r.json["files"]
    problems = api.post(f"/api/v1/drafts/{draft['id']}/check", who=owner).json["problems"]
    assert any("complaint_d1_problem.schema.json" in p["message"] for p in problems), problems


def test_operators_list_what_the_registry_declares(api, owner):
    r = api.get("/api/v1/drafts/operators", who=owner)
    assert r.status_code == 200, r.json
    grade = next(op for op in r.json["items"] if op["name"] == "grade_complaint")
    param = next(p for p in grade["params"] if p["name"] == "q_major_functional")
    assert (param["type"], param["default"], param["required"]) == ("int", 15, False)


@pytest.mark.parametrize("app_env", [{"CASEFLOW_OWNERS_MAY_DEPLOY": "1"}])
def test_a_setting_lets_process_owners_deploy_themselves(api, owner, deployed, database, app_env):
    draft = api.post("/api/v1/drafts", {"key": "complaint"}, who=owner).json
    bpmn = draft["files"]["complaint.bpmn"]
    assert _put(api, draft["id"], {"complaint.bpmn": bpmn.replace(THRESHOLD, THRESHOLD.replace("15", "20"))}
                ).status_code == 200
    assert api.post(f"/api/v1/drafts/{draft['id']}/deploy", who="quality").status_code == 403
    r = api.post(f"/api/v1/drafts/{draft['id']}/deploy", who=owner)
    assert r.status_code == 200, r.json
    assert r.json["draft"]["deployed_by"] == owner and _versions(database, "complaint") == 2


def test_script_check_applies_the_sandbox_rules_of_a_deployment(api, owner):
    def check(source: str, mode: str = "script"):
        return api.post("/api/v1/drafts/script-check", {"source": source, "mode": mode}, who=owner)

    assert check("total = a + b\nshare = total / 2").json == {"ok": True, "problems": []}
    for source, mode, word in [("import os", "script", "imports"), ("open('/etc/passwd')", "script", "open"),
                               ("x.__class__", "expression", "_"), ("a >", "expression", "SyntaxError"),
                               ("]]></bpmn:script>", "script", "SyntaxError")]:
        r = check(source, mode)
        assert r.status_code == 200 and r.json["ok"] is False, (source, r.json)
        assert any(word in p for p in r.json["problems"]), (source, r.json)
    assert check("kpi_class == 'major'", "expression").json["ok"] is True
    assert check("", "expression").json == {"ok": True, "problems": []}
    assert check("x = 1", "shell").status_code == 422
    assert check("x" * 20_001).status_code == 422
    assert api.post("/api/v1/drafts/script-check", {"source": "x = 1"}, who="quality").status_code == 403


def test_a_draft_from_an_older_version_does_not_silently_undo_the_newer_ones(api, owner, deployed, database):
    old = api.post("/api/v1/drafts", {"key": "complaint"}, who=owner).json  # made from version 1
    newer = api.post("/api/v1/drafts", {"key": "complaint"}, who=owner).json
    bpmn = newer["files"]["complaint.bpmn"]
    assert _put(api, newer["id"], {"complaint.bpmn": bpmn.replace(THRESHOLD, THRESHOLD.replace("15", "25"))}
                ).status_code == 200
    assert api.post(f"/api/v1/drafts/{newer['id']}/deploy", who="admin").status_code == 200  # version 2
    assert _put(api, old["id"], {"complaint.bpmn": bpmn.replace(THRESHOLD, THRESHOLD.replace("15", "30"))}
                ).status_code == 200
    refused = api.post(f"/api/v1/drafts/{old['id']}/deploy", who="admin")
    assert refused.status_code == 409, refused.json
    assert "made from version 1, and version 2 was deployed since" in refused.json["error"]["message"]
    assert _versions(database, "complaint") == 2
    assert api.get(f"/api/v1/drafts/{old['id']}", who=owner).json["status"] == "open"
    anyway = api.post(f"/api/v1/drafts/{old['id']}/deploy?over_newer=true", who="admin")
    assert anyway.status_code == 200 and _versions(database, "complaint") == 3
