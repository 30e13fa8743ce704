"""Tasks over the API: the caller's ready tasks by role, form schema, claim, complete with
409 / 422 / 403; instances: list filters, audit log, cancel, retry; tokens and errors."""
from __future__ import annotations

import datetime as dt

import pytest

from api_helpers import start_data


@pytest.fixture
def deployed(api):
    assert api.upload_folder("v2").status_code == 201
    return api


def _start(api, i: int, who: str = "service") -> dict:
    r = api.post("/api/v1/instances", {"process": "svc_demo", "data": start_data(i)}, who=who)
    assert r.status_code == 201, r.json
    return r.json


def test_my_tasks_follow_my_roles(deployed, frozen_clock):
    api = deployed
    inst = _start(api, 1)
    mine = api.get("/api/v1/tasks", who="quality").json["items"]
    assert [(t["instance_id"], t["name"], t["role"]) for t in mine] == [(inst["id"], "review", "quality")]
    assert api.get("/api/v1/tasks", who="manager").json["items"] == []
    assert len(api.get("/api/v1/tasks", who="admin").json["items"]) == 1  # admins see every role
    assert api.get("/api/v1/tasks?role=quality", who="quality").status_code == 200
    r = api.get("/api/v1/tasks?role=quality", who="manager")
    assert r.status_code == 403 and r.json["error"]["code"] == "forbidden"


def test_task_with_form_schema_claim_and_complete(deployed, frozen_clock):
    api = deployed
    inst = _start(api, 1)
    task_id = inst["tasks"][0]["id"]
    t = api.get(f"/api/v1/tasks/{task_id}", who="quality").json
    assert t["schema"]["required"] == ["valid"] and t["data"]["ref"] == "CP-0001"
    assert api.get(f"/api/v1/tasks/{task_id}", who="manager").status_code == 403

    assert api.post(f"/api/v1/tasks/{task_id}/claim", who="quality").json["assignee"] == "quality"
    assert api.get("/api/v1/tasks?assignee=me", who="quality").json["items"][0]["id"] == task_id
    assert api.post(f"/api/v1/tasks/{task_id}/unclaim", who="quality").json["assignee"] is None

    # Invalid data: 422 with the field errors, nothing changes.
    bad = api.post(f"/api/v1/tasks/{task_id}/complete", {"data": {"valid": "yes"}}, who="quality")
    assert bad.status_code == 422
    assert bad.json["error"]["code"] == "invalid_data" and "valid" in bad.json["error"]["fields"]
    missing = api.post(f"/api/v1/tasks/{task_id}/complete", {"data": {}}, who="quality")
    assert missing.status_code == 422 and missing.json["error"]["fields"] == {"valid": "this field is required"}
    # A role that is not the caller's: 403.
    assert api.post(f"/api/v1/tasks/{task_id}/complete", {"data": {"valid": True}},
                    who="manager").status_code == 403
    ok = api.post(f"/api/v1/tasks/{task_id}/complete", {"data": {"valid": True}}, who="quality")
    assert ok.status_code == 200 and ok.json["tasks"][0]["name"] == "approve"
    # One form for a moment in every answer (UTC), as written and as read back.
    listed = api.get("/api/v1/tasks", who="admin").json["items"]
    shown = api.get(f"/api/v1/instances/{inst['id']}", who="admin").json["tasks"]
    due = {t["id"]: t["due_at"] for t in ok.json["tasks"]}
    assert due == {t["id"]: t["due_at"] for t in listed if t["instance_id"] == inst["id"]}
    assert due == {t["id"]: t["due_at"] for t in shown}
    assert all(d is None or d.endswith("+00:00") for d in due.values())
    # No longer ready: 409.
    again = api.post(f"/api/v1/tasks/{task_id}/complete", {"data": {"valid": True}}, who="quality")
    assert again.status_code == 409 and again.json["error"]["code"] == "conflict"
    # A stranger to the role gets 403 for a finished task too: nothing of its state leaks.
    stranger = api.post(f"/api/v1/tasks/{task_id}/complete", {"data": {"valid": True}}, who="manager")
    assert stranger.status_code == 403 and stranger.json["error"]["code"] == "forbidden"
    assert api.post("/api/v1/tasks/no-such-task/complete", {"data": {}}, who="quality").status_code == 404

    audit = api.get(f"/api/v1/instances/{inst['id']}/audit", who="manager").json["items"]
    assert [e["kind"] for e in audit] == ["started", "task_claimed", "task_released", "task_completed"]
    assert audit[-1]["actor"] == "quality" and audit[-1]["payload"]["data"] == {"valid": True}


def test_bodies_are_checked(deployed):
    api = deployed
    inst = _start(api, 1)
    url = f"/api/v1/tasks/{inst['tasks'][0]['id']}/complete"
    r = api.client.post(url, data="{not json", content_type="application/json",
                        headers={"Authorization": f"Bearer {api.tokens['quality']}"})
    assert r.status_code == 400 and r.json["error"]["code"] == "bad_request"
    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        r = api.client.post(url, data={"data": "1"} if kind.startswith("multipart") else "data=1", content_type=kind,
                            headers={"Authorization": f"Bearer {api.tokens['quality']}"})
        assert r.status_code == 415, (kind, r.json)
    r = api.post(url, [1, 2], who="quality")
    assert r.status_code == 422
    r = api.post(url, {"data": {"valid": True}, "extra": 1}, who="quality")
    assert r.status_code == 422 and r.json["error"]["fields"] == {"extra": "Unknown field."}
    r = api.post("/api/v1/instances", {"process": "svc_demo", "data": {"ref": ""}}, who="service")
    assert r.status_code == 422 and set(r.json["error"]["fields"]) >= {"ref", "customer_name"}
    assert "customer_name: " in r.json["error"]["message"]  # the message names the problems too


def test_start_rules(deployed):
    api = deployed
    assert api.post("/api/v1/instances", {"process": "svc_demo", "data": start_data(1)},
                    who="quality").status_code == 403
    assert api.post("/api/v1/instances", {"process": "nope", "data": {}}, who="service").status_code == 404
    r = api.post("/api/v1/instances", {"process": "svc_demo", "data": start_data(1), "version": 1}, who="service")
    assert r.status_code == 403
    assert api.post("/api/v1/instances", {"process": "svc_demo", "data": start_data(1), "version": 1},
                    who="admin").json["version"] == 1


def test_list_instances_with_filters(deployed, frozen_clock):
    api = deployed
    first = _start(api, 1)
    frozen_clock.advance(dt.timedelta(days=2))
    second = _start(api, 2)
    api.post(f"/api/v1/instances/{second['id']}/cancel", {"reason": "duplicate"})
    items = api.get("/api/v1/instances?process=svc_demo", who="quality").json
    assert items["total"] == 2 and [i["id"] for i in items["items"]] == [second["id"], first["id"]]
    assert [i["id"] for i in api.get("/api/v1/instances?status=cancelled").json["items"]] == [second["id"]]
    assert [i["id"] for i in api.get("/api/v1/instances?business_key=CP-0001").json["items"]] == [first["id"]]
    cutoff = "2026-03-03T00:00:00Z"
    assert [i["id"] for i in api.get(f"/api/v1/instances?created_from={cutoff}").json["items"]] == [second["id"]]
    assert [i["id"] for i in api.get(f"/api/v1/instances?created_to={cutoff}").json["items"]] == [first["id"]]
    assert api.get("/api/v1/instances?process=svc_demo&version=1").json["total"] == 2
    assert api.get("/api/v1/instances?limit=1&offset=1").json["items"][0]["id"] == first["id"]
    assert api.get("/api/v1/instances?status=bogus").status_code == 422
    assert api.get("/api/v1/instances?created_from=yesterday").status_code == 422


def test_cancel_and_retry_are_for_admins(deployed):
    api = deployed
    inst = _start(api, 1)
    assert api.post(f"/api/v1/instances/{inst['id']}/cancel", {}, who="quality").status_code == 403
    r = api.post(f"/api/v1/instances/{inst['id']}/cancel", {"reason": "test"})
    assert r.status_code == 200 and r.json["status"] == "cancelled" and r.json["tasks"] == []
    assert api.post(f"/api/v1/instances/{inst['id']}/cancel", {}).status_code == 409
    r = api.post(f"/api/v1/instances/{inst['id']}/retry")
    assert r.status_code == 409 and r.json["error"]["code"] == "instance_error"
    assert api.get("/api/v1/instances/999999").status_code == 404


def test_authentication_and_tokens(api, database):
    assert api.get("/api/v1/tasks", who=None).status_code == 401
    r = api.get("/api/v1/tasks", who="not-a-token")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert r.json == {"error": {"code": "unauthorized", "fields": {},
                                "message": "the API token is unknown, revoked or its user is deactivated"}}
    assert api.get("/api/v1/me", who="quality").json == {
        "username": "quality", "display_name": None, "roles": ["quality"], "is_admin": False}

    from caseflow import accounts

    assert api.post("/api/v1/tokens", {"name": "ci"}, who="quality").status_code == 422  # a token alone mints none
    with database.session() as s:
        row, new_token = accounts.create_token(s, "quality", "ci")  # as the web UI or the CLI do
        created_id = row.id
    listed = api.get("/api/v1/tokens", who=new_token).json["items"]
    assert [t["name"] for t in listed] == ["tests", "ci"] and all("token" not in t for t in listed)
    # The request's own token cannot be revoked with itself; another one can.
    assert api.delete(f"/api/v1/tokens/{created_id}", who=new_token).status_code == 409
    r = api.delete(f"/api/v1/tokens/{created_id}", who="quality")
    assert r.status_code == 200 and r.json["active"] is False
    assert api.get("/api/v1/me", who=new_token).status_code == 401
    # Someone else's token is not found.
    assert api.delete(f"/api/v1/tokens/{created_id}", who="manager").status_code == 404


def test_one_error_format(api):
    r = api.get("/api/v1/no/such/thing")
    assert r.status_code == 404 and set(r.json["error"]) == {"code", "message", "fields"}
    r = api.delete("/api/v1/tasks")
    assert r.status_code == 405 and r.headers["Allow"] == "GET" and r.json["error"]["code"] == "method_not_allowed"
    assert api.get("/api/v1/instances/0").status_code == 404
    assert api.get(f"/api/v1/instances/{2**70}").status_code == 404
    assert api.get("/api/v1/openapi.json", who=None).json["openapi"].startswith("3.")
    page = api.get("/api/v1/docs", who=None)
    assert page.status_code == 200 and b"/api/v1/tasks/{task_id}/complete" in page.data


def test_tokens_are_stored_hashed_and_follow_the_user(api, database):
    import hashlib

    from sqlalchemy import select

    from caseflow import store

    with database.session() as s:
        hashes = set(s.scalars(select(store.ApiToken.token_hash)))
        assert hashlib.sha256(api.tokens["quality"].encode()).hexdigest() in hashes
        assert api.tokens["quality"] not in hashes
        s.scalars(select(store.User).where(store.User.username == "quality")).one().active = False
    assert api.get("/api/v1/me", who="quality").status_code == 401  # deactivated user
    with database.session() as s:
        user = s.scalars(select(store.User).where(store.User.username == "manager")).one()
        user.roles = [store.UserRole(role="quality")]
    assert api.get("/api/v1/me", who="manager").json["roles"] == ["quality"]  # roles are read per request


def test_too_large_upload_is_413(api, app):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    r = api.upload({"svc_demo.bpmn": "x" * 5000})
    assert r.status_code == 413 and r.json["error"]["code"] == "too_large"


def test_the_task_list_pages_with_a_total(api):
    """`limit` and `offset` page through the ready tasks; `total` says how many there are in all."""
    assert api.upload_folder("v2").status_code == 201
    for i in range(5):
        assert api.post("/api/v1/instances", {"process": "svc_demo", "data": start_data(i + 1)},
                        who="service").status_code == 201
    whole = api.get("/api/v1/tasks?process=svc_demo&limit=500").json
    assert whole["total"] == len(whole["items"]) >= 5 and whole["offset"] == 0
    first, second = (api.get(f"/api/v1/tasks?process=svc_demo&limit=2&offset={o}").json for o in (0, 2))
    assert [t["id"] for t in first["items"] + second["items"]] == [t["id"] for t in whole["items"][:4]]
    assert first["total"] == second["total"] == whole["total"] and first["limit"] == 2
    assert api.get("/api/v1/tasks?offset=-1").status_code == 422


def test_a_query_parameter_the_operation_does_not_take_is_refused(deployed):
    """A misspelt filter is an error, never the unfiltered list; so is a parameter an operation takes none of."""
    _start(deployed, 1)
    r = deployed.get("/api/v1/tasks?rol=quality", who="admin")
    assert r.status_code == 422 and r.json["error"]["fields"] == {"rol": "Unknown field."}
    instance_id = _start(deployed, 2)["id"]
    r = deployed.get(f"/api/v1/instances/{instance_id}?verbose=1")
    assert r.status_code == 422 and r.json["error"]["fields"] == {"verbose": "Unknown field."}
    assert deployed.get("/api/v1/tasks?role=quality", who="quality").status_code == 200
