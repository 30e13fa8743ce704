"""The one Flask ``app`` fixture of the web and API tests (a pytest plugin loaded by tests/conftest.py).

A test folder tunes the app by overriding the small fixtures it asks for, in its own conftest:

- ``app_env``: environment variables set before the app is built (``CASEFLOW_INSTANCE_DIR`` is
  always ``tmp_path / "instance"``);
- ``app_config``: Flask config overrides on top of ``TESTING``;
- ``app_users``: users created before the app is built, ``username -> roles``, all with the
  password ``PASSWORD`` (the argon2 hash is computed once per session, and only when needed).
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask

import engine
from caseflow import store

PASSWORD = "secret-pw"


@pytest.fixture
def app_env() -> dict[str, str]:
    """Environment variables of the app under test (none beyond the instance folder by default)."""
    return {}


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Flask config overrides of the app under test (none beyond ``TESTING`` by default)."""
    return {}


@pytest.fixture
def app_users() -> dict[str, list[str]]:
    """Users with a password to create before the app starts (none by default)."""
    return {}


@pytest.fixture(scope="session")
def password_hash() -> str:
    """The argon2 hash of ``PASSWORD`` (one hash for all users keeps the suite fast)."""
    return PasswordHasher().hash(PASSWORD)


@pytest.fixture
def app(
    database: store.Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    app_env: dict[str, str],
    app_config: dict[str, Any],
    app_users: dict[str, list[str]],
) -> Iterator[Flask]:
    """The Flask app on the test database; attachments and secrets under ``tmp_path``."""
    from web import create_app

    monkeypatch.setenv("CASEFLOW_INSTANCE_DIR", str(tmp_path / "instance"))
    for name, value in app_env.items():
        monkeypatch.setenv(name, value)
    if app_users:
        password_hash = request.getfixturevalue("password_hash")
        with database.session() as session:
            for name, roles in app_users.items():
                user = store.User(username=name, password_hash=password_hash, display_name=name.title(), active=True)
                user.roles = [store.UserRole(role=r) for r in roles]
                session.add(user)
    application = create_app({"TESTING": True, **app_config}, database=database)
    yield application
    engine.clear_caches()
