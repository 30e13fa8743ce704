"""Fixtures of the web UI tests: signed-in clients of the shared ``app`` (tests/app_fixtures.py)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

import engine
from caseflow import store
from web.build_static import compile_translations

from app_fixtures import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
BUNDLES = Path(__file__).resolve().parent / "bundles"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')

# role sets of the test users (one argon2 hash for all keeps the suite fast)
USERS = {
    "service": ["customer_service"],
    "quality": ["quality"],
    "manager": ["manager"],
    "gm": ["general_manager"],
    "repair": ["service_center"],
    "finance": ["finance"],
    "admin": ["admin"],
    "logistics": ["logistics"],
    "marketing": ["marketing"],
    "production": ["production"],
}


@pytest.fixture(scope="session", autouse=True)
def _translations() -> None:
    compile_translations()


@pytest.fixture
def app_env() -> dict[str, str]:
    """Attachments of at most 2 KiB, so the size limit is easy to test."""
    return {"CASEFLOW_MAX_ATTACHMENT_BYTES": "2048"}


@pytest.fixture
def app_users() -> dict[str, list[str]]:
    """The users above, signed in with ``PASSWORD`` by ``browser``."""
    return USERS


@pytest.fixture
def deployed(database: store.Database) -> dict[str, int]:
    """The real complaint and repair processes plus the form-demo bundle, deployed."""
    with database.session() as session:
        results = engine.deploy(session, [ROOT / "processes", BUNDLES / "formdemo"], actor="admin")
        return {r.key: r.definition_id for r in results}


class Browser:
    """A test client that signs in and posts forms with the session's CSRF token."""

    def __init__(self, app: Any, language: str = "en"):
        self.client = app.test_client()
        self.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
        self.token: str | None = None

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.client.get(url, **kwargs)

    def page_token(self, url: str = "/login") -> str:
        match = TOKEN.search(self.client.get(url).get_data(as_text=True))
        assert match, f"no CSRF token on {url}"
        self.token = match.group(1)
        return self.token

    def post(self, url: str, data: dict | None = None, **kwargs: Any) -> Any:
        payload = dict(data or {})
        payload.setdefault("csrf_token", self.token or self.page_token())
        return self.client.post(url, data=payload, **kwargs)

    def login(self, username: str, password: str = PASSWORD) -> Any:
        self.page_token("/login")
        response = self.post("/login", {"username": username, "password": password})
        if response.status_code == 302:
            self.page_token("/account/")
        return response


@pytest.fixture
def browser(app: Any):
    """``browser(user=None, language="en")``: a new client, signed in as ``user`` when given."""

    def make(user: str | None = None, language: str = "en") -> Browser:
        b = Browser(app, language)
        if user:
            assert b.login(user).status_code == 302
        return b

    return make


@pytest.fixture
def task_id():
    """``task_id(browser, title)``: the id of the ready task ``title`` in the user's inbox."""

    def find(b: Browser, title: str) -> str:
        html = b.get("/").get_data(as_text=True)
        match = re.search(r'href="/tasks/([0-9a-f-]+)">' + re.escape(str(escape(title))) + "<", html)
        assert match, f"task {title!r} not in the inbox"
        return match.group(1)

    return find
