"""Staff's hold on a customer task's link from the case page: its state (mailed, open until, used),
withdrawing it and sending a new one (which withdraws the old), for admins and the roles of
``CASEFLOW_PORTAL_STAFF_ROLES`` only, with CSRF and an entry in the case's history."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from test_portal_links import TOKEN_IN_URL, start_repair_with_mailed_link

import engine
from caseflow import store

STATE = re.compile(r'data-testid="portal-link" data-state="(\w+)"')


@pytest.fixture
def app_env() -> dict[str, str]:
    return {"CASEFLOW_PUBLIC_URL": "https://caseflow.example.com"}


@pytest.fixture
def case(app, database, deployed) -> dict:
    """A repair application without a phone number: its completion is a customer task with a mailed link."""
    return start_repair_with_mailed_link(database)


def _history(database, iid: int, kind: str) -> list[dict]:
    with database.session() as s:
        return [e for e in engine.audit_log(s, iid) if e["kind"] == kind]


def test_staff_see_the_link_state_and_others_do_not(case, browser):
    page = browser("service").get(f"/cases/{case['id']}").get_data(as_text=True)
    assert STATE.findall(page) == ["open"]
    assert "mail queued" in page and 'data-testid="portal-link-revoke"' in page
    admin = browser("admin").get(f"/cases/{case['id']}").get_data(as_text=True)
    assert STATE.findall(admin) == ["open"]
    finance = browser("finance").get(f"/cases/{case['id']}").get_data(as_text=True)
    assert 'data-testid="portal-link"' not in finance


def test_withdrawing_the_link_refuses_it(case, browser, database):
    staff = browser("service")
    response = staff.post(f"/portal/staff/task/{case['task']['id']}/revoke", {"next": f"/cases/{case['id']}"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/cases/{case['id']}")
    assert browser().get(f"/portal/task/{case['token']}").status_code == 410
    page = staff.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert STATE.findall(page) == ["revoked"] and 'data-testid="portal-link-revoke"' not in page
    (event,) = _history(database, case["id"], "portal_link_revoked")
    assert event["actor"] == "service" and event["payload"]["links"] == 1


def test_a_new_link_replaces_the_old_one_and_is_mailed(case, browser, database):
    staff = browser("service")
    response = staff.post(f"/portal/staff/task/{case['task']['id']}/resend", {"next": f"/cases/{case['id']}"})
    assert response.status_code == 302
    with database.session() as s:
        rows = s.scalars(select(store.Notification).where(store.Notification.template == "portal_task")
                         .order_by(store.Notification.id)).all()
        assert len(rows) == 2 and rows[1].recipient == "li.wei@example.com" and rows[1].status == "pending"
        assert rows[1].args["task_id"] == case["task"]["id"] and rows[1].args["resent_by"] == "service"
        match = TOKEN_IN_URL.search(rows[1].args["portal_url"])
        assert match
        fresh = match.group(1)
    customer = browser()
    assert customer.get(f"/portal/task/{case['token']}").status_code == 410  # the old one is withdrawn
    assert customer.get(f"/portal/task/{fresh}").status_code == 200
    (event,) = _history(database, case["id"], "portal_link_sent")
    assert event["actor"] == "service" and event["payload"]["link_id"] == rows[1].args["link_id"]


def test_other_roles_and_forged_posts_are_refused(case, browser, database):
    url = f"/portal/staff/task/{case['task']['id']}/revoke"
    assert browser("finance").post(url).status_code == 403
    bare = browser("service")
    assert bare.client.post(url, data={}).status_code == 400  # no CSRF token
    assert browser().get(f"/portal/task/{case['token']}").status_code == 200  # still open
    assert browser("service").post("/portal/staff/task/no-such-task/resend").status_code == 404
    assert not _history(database, case["id"], "portal_link_revoked")
