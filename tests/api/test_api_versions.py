"""Acceptance 1: versions deployed through the API; running instances stay on their version,
new ones start on the latest, pinning rolls new starts back without redeploying."""
from __future__ import annotations

from api_helpers import DATA, start_data


def _start(api, i: int) -> dict:
    r = api.post("/api/v1/instances", {"process": "svc_demo", "data": start_data(i)}, who="service")
    assert r.status_code == 201, r.json
    return r.json


def _complete_only_task(api, instance: dict, who: str, data: dict) -> dict:
    (task,) = instance["tasks"]
    r = api.post(f"/api/v1/tasks/{task['id']}/complete", {"data": data}, who=who)
    assert r.status_code == 200, r.json
    return r.json


def test_versions_pin_and_unpin_through_the_api(api, frozen_clock):
    r = api.upload_folder("v1")
    assert r.status_code == 201, r.json
    assert [(p["key"], p["version"], p["status"]) for p in r.json["processes"]] == [("svc_demo", 1, "deployed")]
    first = _start(api, 1)
    assert first["version"] == 1 and first["tasks"][0]["name"] == "review"

    r = api.upload_folder("v2", as_zip=True)  # v2 adds an approval after the review
    assert r.status_code == 201, r.json
    assert r.json["processes"][0]["version"] == 2

    # The v1 instance keeps running on v1 ...
    assert api.get(f"/api/v1/instances/{first['id']}").json["version"] == 1
    # ... new instances start on v2.
    second = _start(api, 2)
    assert second["version"] == 2
    # Each follows its own version: v1 ends after the review, v2 continues to the approval.
    done = _complete_only_task(api, first, "quality", {"valid": True})
    assert done["status"] == "completed" and done["version"] == 1
    after_review = _complete_only_task(api, second, "quality", {"valid": True})
    assert [t["name"] for t in after_review["tasks"]] == ["approve"]
    assert after_review["tasks"][0]["role"] == "manager"

    versions = api.get("/api/v1/processes/svc_demo/versions").json["items"]
    assert [(v["version"], v["starts_new_instances"], v["running_instances"]) for v in versions] == [
        (2, True, 1), (1, False, 0)]
    assert versions[1]["instances"]["completed"] == 1
    assert all(len(v["content_hash"]) == 64 and v["deployed_by"] == "admin" for v in versions)

    # Pin v1: new instances start on v1 again, without redeploying.
    r = api.post("/api/v1/processes/svc_demo/pin", {"version": 1})
    assert r.status_code == 200, r.json
    assert r.json["pinned"] is True and r.json["starts_new_instances"] is True
    third = _start(api, 3)
    assert third["version"] == 1
    listed = {p["key"]: p for p in api.get("/api/v1/processes", who="quality").json["items"]}
    assert listed["svc_demo"]["start_version"] == 1 and listed["svc_demo"]["pinned"] is True
    assert listed["svc_demo"]["latest_version"] == 2

    # The running v2 instance is not affected by the pin.
    assert api.get(f"/api/v1/instances/{second['id']}").json["version"] == 2

    r = api.post("/api/v1/processes/svc_demo/unpin")
    assert r.status_code == 200 and r.json["start_version"] == 2
    assert _start(api, 4)["version"] == 2

    # Pinning and unpinning are audited actions of an admin.
    assert api.post("/api/v1/processes/svc_demo/pin", {"version": 1}, who="quality").status_code == 403
    assert api.post("/api/v1/processes/svc_demo/pin", {"version": 9}).json["error"]["code"] == "not_found"


def test_redeploying_the_same_bundle_is_unchanged(api):
    assert api.upload_folder("v1").json["processes"][0]["status"] == "deployed"
    again = api.upload_folder("v1", as_zip=True)
    assert again.status_code == 200  # nothing was created
    assert again.json["processes"][0]["status"] == "unchanged"
    assert len(api.get("/api/v1/processes/svc_demo/versions").json["items"]) == 1


def test_validate_only_reports_and_stores_nothing(api):
    files = {p.name: p.read_bytes() for p in sorted((DATA / "v1").iterdir())}
    r = api.upload(files, validate_only=True)
    assert r.status_code == 200, r.json
    assert r.json["validate_only"] is True
    assert r.json["files"] == ["review.schema.json", "start.schema.json", "svc_demo.bpmn"]
    assert r.json["processes"][0]["status"] == "valid" and r.json["processes"][0]["definition_id"] is None
    assert api.get("/api/v1/processes").json["items"] == []


def test_diagram_and_diff_of_versions(api):
    api.upload_folder("v1")
    api.upload_folder("v2")
    diagram = api.get("/api/v1/processes/svc_demo/versions/1/diagram", who="quality")
    assert diagram.status_code == 200
    assert diagram.json["files"]["svc_demo.bpmn"].lstrip().startswith("<?xml")
    d = api.get("/api/v1/processes/svc_demo/diff?from=1&to=2", who="quality").json
    assert [e["id"] for e in d["elements"]["added"] if e["type"] == "userTask"] == ["approve"]
    deadline = next(e for e in d["elements"]["changed"] if e["id"] == "deadline")
    assert {"property": "parameter days", "old": "2", "new": "3"} in deadline["changes"]
    assert d["files"]["added"] == ["approve.schema.json"]
    assert [f["file"] for f in d["files"]["changed"]] == ["review.schema.json"]
    assert any("parameter days: '2' -> '3'" in line for line in d["text"])
    assert api.get("/api/v1/processes/svc_demo/diff?from=1&to=7").status_code == 404
    assert api.get("/api/v1/processes/svc_demo/diff?from=x&to=2").status_code == 422
