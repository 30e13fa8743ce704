"""An unexpected failure is a 500 whose page (or JSON error) carries an incident id, and the log
line ``incident <id>`` holds its traceback: what a user reports, an operator finds."""
from __future__ import annotations

import logging
import re

import pytest

import engine
from caseflow import accounts, store


@pytest.fixture
def failing_inbox(app, monkeypatch):
    """Listing tasks fails as an unforeseen bug would; Flask hands it to the 500 handler."""

    def broken(*_args, **_kwargs):
        raise RuntimeError("an unforeseen bug")

    monkeypatch.setattr(engine, "list_tasks", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # as in production


def _logged_incidents(caplog) -> list[str]:
    return [m.group(1) for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info
            for m in [re.match(r"incident ([0-9a-f]{12})", r.getMessage())] if m]


def test_a_page_that_fails_shows_the_incident_id_the_log_names(browser, failing_inbox, caplog):
    response = browser("quality").get("/")
    assert response.status_code == 500
    shown = re.search(r"incident ([0-9a-f]{12})", response.get_data(as_text=True))
    assert shown is not None
    assert _logged_incidents(caplog) == [shown.group(1)]


def test_an_api_call_that_fails_answers_json_with_the_incident_id(app, database, failing_inbox, caplog):
    with database.session() as s:
        user = store.User(username="ops", password_hash="!", active=True)  # a token-only user
        user.roles = [store.UserRole(role="quality")]
        s.add(user)
        s.flush()
        _row, token = accounts.create_token(s, "ops", "tests")
    response = app.test_client().get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 500
    error = response.get_json()["error"]
    assert error["code"] == "internal_error"
    assert _logged_incidents(caplog) == [error["fields"]["incident"]]
