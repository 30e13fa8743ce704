"""Post/redirect/get after a validation error: the task or start form answers 303 to its own page,
which shows what was typed and the field messages (kept in the session, bounded in size, per
form, dropped on success); nothing is stored in the case, and reloading never resubmits.
"""
from __future__ import annotations

import re

from sqlalchemy import func, select
from test_case_flows import REGISTRATION, ready_tasks

from caseflow import store
from web.views import form_page

NOT_VALID = {"complaint_valid": "false", "override_grade": "false", "validity_notes": "Typed before the error"}


def _confirm_task(database, browser) -> tuple[int, str]:
    response = browser("service").post("/start/complaint", REGISTRATION)
    instance_id = int(re.search(r"/cases/(\d+)", response.headers["Location"]).group(1))
    [task] = ready_tasks(database, instance_id)
    assert task.name == "confirm_grade"
    return instance_id, task.id


def _drafts(b) -> dict:
    with b.client.session_transaction() as session:
        return dict(session.get("form_drafts") or {})


def test_a_task_form_error_redirects_to_the_form_with_the_input_and_messages(database, deployed, browser,
                                                                             frozen_clock):
    instance_id, task = _confirm_task(database, browser)
    quality = browser("quality")
    response = quality.post(f"/tasks/{task}", NOT_VALID)  # a rejection needs its reason
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/tasks/{task}")
    assert list(_drafts(quality)) == [f"task:{task}"]
    for _reload in range(2):  # a reload shows the same, and submits nothing
        page = quality.get(f"/tasks/{task}")
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert 'id="f-invalid_reason-error"' in html and ">Typed before the error</textarea>" in html
    with database.session() as s:
        row = s.get(store.ProcessInstance, instance_id)
        assert "validity_notes" not in row.data and "complaint_valid" not in row.data
        assert s.get(store.HumanTask, task).state == "ready"

    done = quality.post(f"/tasks/{task}", {**NOT_VALID, "invalid_reason": "Another supplier's units"})
    assert done.status_code == 302
    assert _drafts(quality) == {}  # dropped on success
    with database.session() as s:
        assert s.get(store.ProcessInstance, instance_id).data["validity_notes"] == "Typed before the error"


def test_the_messages_of_a_redirected_form_are_in_the_users_language(database, deployed, browser, frozen_clock):
    _instance_id, task = _confirm_task(database, browser)
    quality = browser("quality", "zh")
    html = quality.post(f"/tasks/{task}", NOT_VALID, follow_redirects=True).get_data(as_text=True)
    error = re.search(r'id="f-invalid_reason-error"[^>]*>([^<]+)<', html)
    assert error and re.search(r"[\u4e00-\u9fff]", error.group(1)), error


def test_a_start_form_error_redirects_to_the_start_form_and_creates_no_case(database, deployed, browser):
    service = browser("service")
    response = service.post("/start/complaint", {**REGISTRATION, "ship_qty": "25万"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/start/complaint")
    html = service.get("/start/complaint").get_data(as_text=True)
    assert 'id="f-ship_qty-error">Enter a whole number.' in html and 'value="25万"' in html
    assert f'value="{REGISTRATION["customer_name"]}"' in html
    with database.session() as s:
        assert s.execute(select(func.count()).select_from(store.ProcessInstance)).scalar_one() == 0
    assert service.post("/start/complaint", REGISTRATION).status_code == 302
    assert "start:complaint" not in _drafts(service)
    assert 'value="25万"' not in service.get("/start/complaint").get_data(as_text=True)  # a fresh form again


def test_a_form_shows_its_input_errors_and_its_rule_errors_in_one_round(database, deployed, browser,
                                                                         frozen_clock):
    service = browser("service")
    typed = {**REGISTRATION, "ship_qty": "25万", "complaint_type": "", "customer_email": "not-an-address",
             "received_at": "2026-03-09T10:00",  # a week after the frozen clock's today
             "cosmetic_defect_qty": "5000"}  # more than the lot of 1000
    html = service.post("/start/complaint", typed, follow_redirects=True).get_data(as_text=True)
    assert 'id="f-ship_qty-error">Enter a whole number.' in html  # the web could not read it
    assert 'id="f-complaint_type-error"' in html and 'id="f-customer_email-error"' in html  # the form's schema
    assert 'id="f-received_at-error"' in html  # and its rule against today: all at once
    assert 'id="f-cosmetic_defect_qty-error">The number must not be more than 1000.' in html  # and against the lot
    with database.session() as s:
        assert s.execute(select(func.count()).select_from(store.ProcessInstance)).scalar_one() == 0


def test_drafts_are_kept_per_form_and_bounded(database, deployed, browser, frozen_clock):
    _instance_id, task = _confirm_task(database, browser)
    quality = browser("quality")
    quality.post(f"/tasks/{task}", NOT_VALID)
    quality.post("/start/complaint", {**REGISTRATION, "ship_qty": "x"})  # quality may not start: 403, no draft
    assert set(_drafts(quality)) == {f"task:{task}"}
    service = browser("service")
    for n in range(form_page.MAX_DRAFTS + 2):
        service.post("/start/complaint", {**REGISTRATION, "ship_qty": f"x{n}"})
        service.post("/start/repair", {"customer_name": f"c{n}"})
    assert len(_drafts(service)) <= form_page.MAX_DRAFTS


def test_input_too_large_for_the_session_is_shown_again_at_once(database, deployed, browser, frozen_clock):
    _instance_id, task = _confirm_task(database, browser)
    quality = browser("quality")
    typed = "".join(chr(0x4e00 + (i * 7919) % 20000) for i in range(1500))  # does not compress
    response = quality.post(f"/tasks/{task}", {**NOT_VALID, "validity_notes": typed})
    assert response.status_code == 422  # the form at once: nothing typed is lost
    html = response.get_data(as_text=True)
    assert typed in html and 'id="f-invalid_reason-error"' in html
    assert _drafts(quality) == {}
