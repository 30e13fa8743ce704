"""Drafts of new processes (the blank template) and bundles as zip files: a blank draft checks,
tries and deploys as it is; a draft or a deployed version downloads as a zip that deploys again."""
from __future__ import annotations

import io
import zipfile

from drafts_helpers import deployed_fixture, owner_fixture  # noqa: F401  (fixtures)

from caseflow import uploads


def _zip(api, url: str, who: str = "owner") -> dict[str, str]:
    r = api.client.get(url, headers={"Authorization": f"Bearer {api.tokens[who]}"})
    assert r.status_code == 200 and r.mimetype == "application/zip", r.data[:200]
    assert "attachment" in r.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(r.data)) as archive:
        return {i.filename: archive.read(i).decode("utf-8") for i in archive.infolist()}


def test_a_blank_draft_checks_tries_and_deploys(api, owner, database):
    r = api.post("/api/v1/drafts", {"key": "warranty_claim", "blank": True, "name": "Warranty claim"}, who=owner)
    assert r.status_code == 201, r.json
    draft = r.json
    assert (draft["base_version"], draft["base_definition_id"], draft["status"]) == (None, None, "open")
    assert sorted(draft["files"]) == ["warranty_claim.bpmn", "warranty_claim_first_task.schema.json"]
    bpmn = draft["files"]["warranty_claim.bpmn"]
    for part in ("<bpmn:participant", "<bpmn:lane ", "<bpmn:startEvent", "<bpmn:userTask", "<bpmn:endEvent",
                 'name="Warranty claim"', "<bpmndi:BPMNEdge"):
        assert part in bpmn, part
    assert api.post(f"/api/v1/drafts/{draft['id']}/check", who=owner).json == {"ok": True, "problems": []}
    tried = api.post(f"/api/v1/drafts/{draft['id']}/try", {"answers": [{"data": {"notes": "done"}}]}, who=owner).json
    assert tried["status"] == "completed", tried
    assert tried["path"] == ["start", "first_task", "end"] and tried["flows"] == ["flow_start", "flow_done"]
    assert tried["tasks"][0]["role"] == "customer_service" and tried["tasks"][0]["answer"] == {"notes": "done"}
    assert api.get(f"/api/v1/drafts/{draft['id']}/diff", who=owner).json["elements"]["added"]
    r = api.post(f"/api/v1/drafts/{draft['id']}/deploy", who="admin")
    assert r.status_code == 200, r.json
    assert [(p["key"], p["version"]) for p in r.json["processes"]] == [("warranty_claim", 1)]


def test_blank_drafts_refuse_a_bad_or_deployed_key(api, owner, deployed):
    r = api.post("/api/v1/drafts", {"key": "9 lives", "blank": True}, who=owner)
    assert r.status_code == 422 and "key" in r.json["error"]["fields"], r.json
    assert api.post("/api/v1/drafts", {"key": "complaint", "blank": True}, who=owner).status_code == 409
    r = api.post("/api/v1/drafts", {"key": "fresh", "blank": True, "version": 1}, who=owner)
    assert r.status_code == 422 and "version" in r.json["error"]["fields"], r.json
    r = api.post("/api/v1/drafts", {"key": "fresh", "blank": "yes"}, who=owner)
    assert r.status_code == 422 and "blank" in r.json["error"]["fields"], r.json


def test_a_draft_and_a_version_download_as_a_zip_that_deploys(api, owner, deployed, database):
    version = _zip(api, "/api/v1/processes/complaint/versions/1/bundle")
    assert "complaint.bpmn" in version and "manifest.json" in version
    draft = api.post("/api/v1/drafts", {"key": "complaint"}, who=owner).json
    files = _zip(api, f"/api/v1/drafts/{draft['id']}/bundle")
    assert files == draft["files"] == version
    raw = api.client.get(f"/api/v1/drafts/{draft['id']}/bundle",
                         headers={"Authorization": f"Bearer {api.tokens['owner']}"}).data
    assert uploads.bundle_from_zip(raw).files == files  # the upload path reads it back unchanged
    r = api.client.post("/api/v1/processes", data={"files": [(io.BytesIO(raw), "complaint.zip")]},
                        content_type="multipart/form-data", headers={"Authorization": f"Bearer {api.tokens['admin']}"})
    assert r.status_code in (200, 201), r.json
    assert api.client.get("/api/v1/processes/complaint/versions/9/bundle",
                          headers={"Authorization": f"Bearer {api.tokens['owner']}"}).status_code == 404
    assert api.client.get(f"/api/v1/drafts/{draft['id']}/bundle",
                          headers={"Authorization": f"Bearer {api.tokens['quality']}"}).status_code == 403
