"""The inbox (tasks of my roles, deadlines first, counts, filters, claim) and the role rules."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from caseflow import store

# Moments relative to the frozen clock (2026-03-02 09:00 +08:00).
MEETINGS = {"LATE": "2026-03-01T10:00", "SOON": "2026-03-02T20:00", "LATER": "2026-03-09T10:00", "NONE": ""}


@pytest.fixture
def requests(deployed, browser, frozen_clock) -> None:
    """Four form-demo cases whose review task is due yesterday, today, next week and never."""
    admin = browser("admin")
    for title in ("LATER", "NONE", "SOON", "LATE"):
        assert admin.post("/start/formdemo", {"title": title, "kind": "goods",
                                              "meeting_at": MEETINGS[title]}).status_code == 302


def rows(html: str) -> list[str]:
    """Case numbers of the inbox rows, in order."""
    return re.findall(r'<a href="/cases/\d+">([A-Z]+)</a>', html)


def test_inbox_lists_my_roles_tasks_overdue_and_due_soon_first(requests, browser):
    html = browser("quality").get("/").get_data(as_text=True)
    assert rows(html) == ["LATE", "SOON", "LATER", "NONE"]
    assert "badge-overdue" in html and "badge-due_soon" in html
    assert "2026-03-01 10:00" in html  # the deadline is shown in the business time zone
    assert 'data-testid="nav-task-count">4<' in html
    assert 'class="count overdue"' in html


def test_other_roles_see_none_of_these_tasks(requests, browser):
    html = browser("service").get("/").get_data(as_text=True)
    assert rows(html) == [] and "No tasks are waiting for you." in html
    assert 'data-testid="nav-task-count">0<' in html


def test_inbox_filters_by_process_role_and_holder(requests, deployed, browser, task_id):
    admin = browser("admin")
    assert len(rows(admin.get("/?process=formdemo").get_data(as_text=True))) == 4
    assert rows(admin.get("/?process=complaint").get_data(as_text=True)) == []
    assert len(rows(admin.get("/?role=quality").get_data(as_text=True))) == 4
    assert rows(admin.get("/?role=manager").get_data(as_text=True)) == []
    quality = browser("quality")
    quality.post(f"/tasks/{task_id(quality, 'Review the request')}/claim", {"next": "/"})
    assert len(rows(quality.get("/?holder=me").get_data(as_text=True))) == 1
    assert len(rows(quality.get("/?holder=free").get_data(as_text=True))) == 3


def test_a_role_filter_outside_my_roles_is_ignored(requests, browser):
    assert len(rows(browser("quality").get("/?role=manager").get_data(as_text=True))) == 4


def test_tasks_of_other_roles_are_forbidden(requests, browser, task_id):
    tid = task_id(browser("quality"), "Review the request")
    service = browser("service")
    assert service.get(f"/tasks/{tid}").status_code == 403
    assert service.post(f"/tasks/{tid}", {"approved": "true", "comment": "x"}).status_code == 403
    assert service.post(f"/tasks/{tid}/claim").status_code == 403
    assert service.post(f"/tasks/{tid}/unclaim").status_code == 403
    assert browser("admin").get(f"/tasks/{tid}").status_code == 200  # admins may act on every task


def test_claim_and_release(app, database, requests, browser, task_id):
    with database.session() as s:
        twin = store.User(username="quality2", password_hash=s.scalars(select(store.User.password_hash)).first(),
                          active=True)
        twin.roles = [store.UserRole(role="quality")]
        s.add(twin)
    quality = browser("quality")
    tid = task_id(quality, "Review the request")
    assert quality.post(f"/tasks/{tid}/claim", {"next": "/"}).status_code == 302
    with database.session() as s:
        assert s.get(store.HumanTask, tid).assignee == "quality"

    other = browser("quality2")
    page = other.get(f"/tasks/{tid}").get_data(as_text=True)
    assert "has taken over this task" in page and "Complete task" not in page
    refused = other.post(f"/tasks/{tid}", {"approved": "true", "comment": "x", "checked_lines.0.item": "a",
                                           "checked_lines.0.__row": "1"}, follow_redirects=True)
    assert "has taken over this task" in refused.get_data(as_text=True)  # a conflict (409 on the API), told
    with database.session() as s:
        assert s.get(store.HumanTask, tid).state == "ready"

    assert quality.post(f"/tasks/{tid}/unclaim", {"next": "/"}).status_code == 302
    with database.session() as s:
        assert s.get(store.HumanTask, tid).assignee is None


def test_a_done_task_leads_to_its_case(requests, browser, task_id, database):
    quality = browser("quality")
    tid = task_id(quality, "Review the request")
    quality.post(f"/tasks/{tid}", {"approved": "true", "comment": "x", "checked_lines.0.item": "a",
                                   "checked_lines.0.__row": "1"})
    response = quality.get(f"/tasks/{tid}")
    assert response.status_code == 302 and "/cases/" in response.headers["Location"]
    assert quality.post(f"/tasks/{tid}", {"approved": "true"}).status_code == 302  # conflict: flashed


def test_unknown_task_is_404(browser):
    assert browser("quality").get("/tasks/00000000-0000-0000-0000-000000000000").status_code == 404


def test_the_overdue_count_follows_the_clock(requests, browser, frozen_clock):
    frozen_clock.advance(dt.timedelta(days=10))
    html = browser("quality").get("/").get_data(as_text=True)
    assert re.search(r'class="count overdue"[^>]*>3<', html)
