"""Fixtures of the API tests: users with roles and tokens on the shared ``app`` (tests/app_fixtures.py)."""
from __future__ import annotations

import io
from typing import Any

import pytest

from caseflow import accounts as api_tokens
from caseflow import store

from api_helpers import DATA, make_zip

USERS = {
    "admin": ("admin",),
    "quality": ("quality",),
    "manager": ("manager",),
    "service": ("customer_service",),
}


@pytest.fixture
def app_env() -> dict[str, str]:
    return {"CASEFLOW_SECRET_KEY": "test-secret"}


@pytest.fixture
def app_config() -> dict[str, Any]:
    # svc_demo (the test diagrams) is started by customer service, as complaints are. The rate
    # limit of rejected tokens is off (schemathesis sends many): tests/api/test_api_token_security.py
    # turns it on.
    return {"CASEFLOW_START_ROLES": {"svc_demo": {"customer_service"}, "complaint": {"customer_service"}},
            "RATELIMIT_ENABLED": False}


@pytest.fixture
def tokens(database) -> dict[str, str]:
    """A user per role above, each with one API token: name -> plain token."""
    out = {}
    with database.session() as s:
        for name, roles in USERS.items():
            # No password (argon2 is slow on purpose): these users only use tokens.
            user = store.User(username=name, password_hash="!", active=True)
            user.roles = [store.UserRole(role=r) for r in roles]
            s.add(user)
            s.flush()
            _row, plain = api_tokens.create_token(s, name, "tests")
            out[name] = plain
    return out


class Api:
    """The Flask test client with a bearer token per call."""

    def __init__(self, client: Any, tokens: dict[str, str]):
        self.client = client
        self.tokens = tokens

    def _headers(self, who: str | None, headers: dict | None) -> dict:
        out = dict(headers or {})
        if who is not None:
            out["Authorization"] = f"Bearer {self.tokens.get(who, who)}"
        return out

    def get(self, path: str, who: str | None = "admin", **kw: Any) -> Any:
        return self.client.get(path, headers=self._headers(who, kw.pop("headers", None)), **kw)

    def post(self, path: str, json: Any = None, who: str | None = "admin", **kw: Any) -> Any:
        return self.client.post(path, json=json, headers=self._headers(who, kw.pop("headers", None)), **kw)

    def delete(self, path: str, who: str | None = "admin", **kw: Any) -> Any:
        return self.client.delete(path, headers=self._headers(who, kw.pop("headers", None)), **kw)

    def upload(self, files: dict[str, bytes | str], who: str = "admin", validate_only: bool = False) -> Any:
        data = {"files": [(io.BytesIO(c.encode() if isinstance(c, str) else c), n) for n, c in files.items()]}
        path = "/api/v1/processes" + ("?validate_only=true" if validate_only else "")
        return self.client.post(path, data=data, content_type="multipart/form-data",
                                headers=self._headers(who, None))

    def upload_folder(self, folder: str, who: str = "admin", as_zip: bool = False) -> Any:
        files = {p.name: p.read_bytes() for p in sorted((DATA / folder).iterdir()) if p.is_file()}
        if as_zip:
            return self.upload({f"{folder}.zip": make_zip({f"{folder}/{n}": c for n, c in files.items()})}, who)
        return self.upload(files, who)


@pytest.fixture
def api(app, tokens) -> Api:
    return Api(app.test_client(), tokens)

