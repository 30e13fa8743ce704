"""The API's per-request work (issue 14): a token-authenticated request neither reads nor writes the
browser's session cookie nor loads a signed-in staff user, and a running case's answer costs no
manifest lookup."""
from __future__ import annotations

from flask.sessions import NullSession
from sqlalchemy import select

from caseflow import accounts, store
from web import manifests
from web.extensions import login_manager

from api_helpers import start_data


def _staff_cookie(app, database, username: str = "quality") -> str:
    """A valid, permanent session cookie of ``username`` as the web UI's sign-in leaves it."""
    with database.session() as s:
        user = s.scalars(select(store.User).where(store.User.username == username)).one()
        ident = f"{user.id}:{accounts.session_tag(user)}"
    serializer = app.session_interface.get_signing_serializer(app)
    return str(serializer.dumps({"_user_id": ident, "_fresh": True, "_permanent": True}))


def test_api_requests_get_a_null_session_and_pages_a_real_one(app):
    interface = app.session_interface
    with app.test_request_context("/api/v1/me"):
        from flask import request

        assert isinstance(interface.open_session(app, request), NullSession)
    with app.test_request_context("/"):
        from flask import request

        session = interface.open_session(app, request)
        assert session is not None and not isinstance(session, NullSession)


def test_a_staff_session_cookie_is_neither_read_nor_refreshed_by_the_api(app, database, api, monkeypatch):
    cookie_name = app.config["SESSION_COOKIE_NAME"]
    api.client.set_cookie(cookie_name, _staff_cookie(app, database))
    loaded: list[str] = []
    original = login_manager._user_callback
    assert original is not None

    def counting(user_id: str):
        loaded.append(user_id)
        return original(user_id)

    monkeypatch.setattr(login_manager, "_user_callback", counting)
    # The cookie alone signs no one in to the API (bearer tokens only) ...
    r = api.client.get("/api/v1/me")
    assert r.status_code == 401 and r.json["error"]["code"] == "unauthorized"
    # ... and a request with a token and the cookie loads no staff user and sends no cookie back.
    r = api.get("/api/v1/me", who="quality")
    assert r.status_code == 200 and r.json["username"] == "quality"
    assert "Set-Cookie" not in r.headers and loaded == []
    # The same cookie on a page is a signed-in user whose permanent session is refreshed.
    page = api.client.get("/")
    assert page.status_code == 200 and loaded and "Set-Cookie" in page.headers


def test_a_running_case_answer_looks_up_no_manifest(api, monkeypatch):
    assert api.upload_folder("v2").status_code == 201
    asked: list[int] = []
    original = manifests.for_definition

    def counting(session, definition_id: int):
        asked.append(definition_id)
        return original(session, definition_id)

    monkeypatch.setattr(manifests, "for_definition", counting)
    started = api.post("/api/v1/instances", {"process": "svc_demo", "data": start_data(1)}, who="service")
    assert started.status_code == 201 and started.json["status"] == "running" and started.json["outcome"] is None
    task_id = started.json["tasks"][0]["id"]
    done = api.post(f"/api/v1/tasks/{task_id}/complete", {"data": {"valid": True}}, who="quality")
    assert done.status_code == 200 and done.json["status"] == "running" and done.json["outcome"] is None
    assert asked == []
