"""API tokens that resist abuse: no token mints tokens, rejected tokens are rate limited per
client address, and a claim on a task someone else holds is a conflict (409)."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from caseflow import accounts, store

from api_helpers import start_data

LIMITED = {"CASEFLOW_START_ROLES": {"svc_demo": {"customer_service"}}, "RATELIMIT_ENABLED": True,
           "CASEFLOW_API_TOKEN_LIMIT_PER_ADDRESS": "3 per 15 minutes"}


def _token_count(database) -> int:
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(store.ApiToken)) or 0


def _person_with_token(database, name: str = "pat") -> str:
    """A user with a real password and one API token (returned)."""
    with database.session() as s:
        accounts.create_user(s, name, "correct horse battery", ["quality"], "Pat")
        _row, plain = accounts.create_token(s, name, "first")
    return plain


def _post_token(api, token: str, body: dict):
    return api.client.post("/api/v1/tokens", json=body, headers={"Authorization": f"Bearer {token}"})


def test_a_token_alone_cannot_create_tokens(api, database):
    token = _person_with_token(database)
    before = _token_count(database)
    r = _post_token(api, token, {"name": "copy"})
    assert r.status_code == 422 and "password" in r.json["error"]["fields"]
    r = _post_token(api, token, {"name": "copy", "password": "guess"})
    assert r.status_code == 403 and "token" not in r.json
    assert _token_count(database) == before
    r = _post_token(api, token, {"name": "copy", "password": "correct horse battery"})
    assert r.status_code == 201 and r.json["token"].startswith("cf_") and "password" not in r.json
    assert api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {r.json['token']}"}).status_code == 200
    doc = api.get("/api/v1/openapi.json", who=None).json
    assert "password" in doc["components"]["schemas"]["TokenCreateRequest"]["properties"]


@pytest.mark.parametrize("app_config", [{**LIMITED, "CASEFLOW_LOGIN_LIMIT_PER_ACCOUNT": "2 per 15 minutes"}])
def test_wrong_passwords_to_create_a_token_are_limited_per_account(api, database):
    token = _person_with_token(database)
    for _ in range(2):
        assert _post_token(api, token, {"name": "x", "password": "guess"}).status_code == 403
    r = _post_token(api, token, {"name": "x", "password": "correct horse battery"})
    assert r.status_code == 429  # the lockout holds for the right password too


@pytest.mark.parametrize("app_config", [LIMITED])
def test_rejected_tokens_are_limited_per_address(api, caplog):
    for _ in range(3):
        assert api.get("/api/v1/me", who="cf_guessed").status_code == 401
    caplog.set_level(logging.WARNING, logger="caseflow.auth")
    r = api.get("/api/v1/tasks", who="cf_guessed")  # one counter over all operations
    assert r.status_code == 429 and r.json["error"]["code"] == "too_many_requests"
    assert int(r.headers["Retry-After"]) > 0
    assert api.get("/api/v1/me", who="quality").status_code == 429  # the lockout holds for good tokens too
    assert any(rec.name == "caseflow.auth" and rec.levelno == logging.WARNING for rec in caplog.records)
    other = api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {api.tokens['quality']}"},
                           environ_base={"REMOTE_ADDR": "192.0.2.5"})
    assert other.status_code == 200  # another address


@pytest.mark.parametrize("app_config", [LIMITED])
def test_good_tokens_and_missing_ones_are_not_counted(api):
    for _ in range(5):
        assert api.get("/api/v1/me", who="quality").status_code == 200
        assert api.get("/api/v1/me", who=None).status_code == 401
    assert api.get("/api/v1/me", who="cf_guessed").status_code == 401


def test_the_document_lists_the_rate_limit_answer(api):
    doc = api.get("/api/v1/openapi.json", who=None).json
    assert "429" in doc["paths"]["/api/v1/me"]["get"]["responses"]


def test_claiming_a_task_someone_else_holds_is_a_conflict(api, database):
    with database.session() as s:
        twin = store.User(username="quality2", password_hash="!", active=True)
        twin.roles = [store.UserRole(role="quality")]
        s.add(twin)
        s.flush()
        from caseflow import accounts

        api.tokens["quality2"] = accounts.create_token(s, "quality2", "tests")[1]
    assert api.upload_folder("v2").status_code == 201
    inst = api.post("/api/v1/instances", {"process": "svc_demo", "data": start_data(1)}, who="service").json
    task_id = inst["tasks"][0]["id"]
    assert api.post(f"/api/v1/tasks/{task_id}/claim", who="quality").status_code == 200
    r = api.post(f"/api/v1/tasks/{task_id}/claim", who="quality2")
    assert r.status_code == 409 and r.json["error"]["code"] == "conflict" and "quality" in r.json["error"]["message"]
    assert api.post(f"/api/v1/tasks/{task_id}/claim", who="manager").status_code == 403  # another role: forbidden
    # Completing a task someone else holds is the same conflict (the task's state, not the caller's rights).
    r = api.post(f"/api/v1/tasks/{task_id}/complete", {"data": {"valid": True}}, who="quality2")
    assert r.status_code == 409 and r.json["error"]["code"] == "conflict" and "quality" in r.json["error"]["message"]
