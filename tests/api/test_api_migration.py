"""Migration over the API: one instance, many (by id, by version, all), dry runs, refusals."""
from __future__ import annotations

from api_helpers import start_data


def _start(api, i: int) -> dict:
    r = api.post("/api/v1/instances", {"process": "svc_demo", "data": start_data(i)}, who="service")
    assert r.status_code == 201, r.json
    return r.json


def test_migrate_one_instance(api, frozen_clock):
    api.upload_folder("v1")
    inst = _start(api, 1)
    api.upload_folder("v2")
    api.upload_folder("v3_unsafe")
    url = f"/api/v1/instances/{inst['id']}/migrate"

    dry = api.post(url, {"to_version": 3, "dry_run": True})
    assert dry.status_code == 200 and dry.json["dry_run"] and dry.json["can_migrate"] == 0
    refused = api.post(url, {"to_version": 3})
    assert refused.status_code == 409 and refused.json["error"]["code"] == "migration_refused"
    assert "review" in refused.json["error"]["fields"]["reasons"][0]
    assert api.get(f"/api/v1/instances/{inst['id']}").json["version"] == 1

    assert api.post(url, {"to_version": 2}, who="quality").status_code == 403
    assert api.post(url, {"to_version": 2, "to_definition_id": 2}).status_code == 422
    assert api.post(url, {}).status_code == 422
    assert api.post(url, {"to_version": 9}).status_code == 404
    moved = api.post(url, {"to_version": 2})
    assert moved.status_code == 200 and moved.json["migrated"] == 1 and moved.json["migration"]
    view = api.get(f"/api/v1/instances/{inst['id']}").json
    assert view["version"] == 2 and view["tasks"][0]["id"] == inst["tasks"][0]["id"]
    kinds = [e["kind"] for e in api.get(f"/api/v1/instances/{inst['id']}/audit").json["items"]]
    assert kinds[-1] == "migrated"
    done = api.post(f"/api/v1/tasks/{inst['tasks'][0]['id']}/complete", {"data": {"valid": True}}, who="quality")
    assert [t["name"] for t in done.json["tasks"]] == ["approve"]


def test_bulk_migration(api, frozen_clock):
    api.upload_folder("v1")
    ids = [_start(api, i)["id"] for i in range(4)]
    api.upload_folder("v2")
    later = _start(api, 9)["id"]  # already on v2

    r = api.post("/api/v1/migrations", {"process": "svc_demo", "to_version": 2, "instance_ids": ids[:1]})
    assert r.status_code == 200 and r.json["migrated"] == 1
    r = api.post("/api/v1/migrations", {"process": "svc_demo", "to_version": 2, "from_version": 1, "dry_run": True})
    assert r.json["requested"] == 3 and r.json["can_migrate"] == 3 and r.json["migrated"] == 0
    r = api.post("/api/v1/migrations", {"process": "svc_demo", "to_version": 2, "all": True})
    assert r.json["requested"] == 3 and r.json["migrated"] == 3
    assert {i["version"] for i in api.get("/api/v1/instances?process=svc_demo").json["items"]} == {2}
    assert later not in [e["instance_id"] for e in r.json["instances"]]
    r = api.post("/api/v1/migrations", {"process": "svc_demo", "to_version": 2, "all": True, "from_version": 1})
    assert r.status_code == 422
    r = api.post("/api/v1/migrations", {"process": "svc_demo", "to_definition_id": 999, "all": True})
    assert r.status_code == 404
