"""One status vocabulary: a finished case reads the same on its page, in the case list, in the
complaint register and in the API, in both languages, with its end state (the manifest's
``outcome``) visible: a rejected complaint is 不成立 everywhere, an abandoned repair 已放弃.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from test_case_flows import REGISTRATION, REPAIR_APPLICATION, ROLE_USER, ready_tasks

import engine
from caseflow import accounts, manifest, store

INVALID = {
    "confirm_grade": {"complaint_valid": "false", "override_grade": "false", "validity_notes": "Not our product",
                      "invalid_reason": "The units are from another supplier"},
    "reply_invalid": {"reply_text": "The units are not ours", "reply_channel": "phone", "replied_on": "2026-03-02"},
}
WORDS = {"rejected": {"en": "Rejected (not valid)", "zh": "不成立"},
         "abandoned": {"en": "Abandoned: device not received", "zh": "已放弃:未收到设备"}}
BADGE = re.compile(r'<span class="badge [^"]*" data-status="([^"]+)">([^<]+)</span>')


def _new_case(response) -> int:
    assert response.status_code == 302
    return int(re.search(r"/cases/(\d+)", response.headers["Location"]).group(1))


def _work(database, browser, instance_id: int, answers: dict[str, dict]) -> None:
    for _round in range(10):
        tasks = [t for t in ready_tasks(database, instance_id) if t.name in answers]
        if not tasks:  # done, or waiting for something else (a parcel)
            return
        task = tasks[0]
        response = browser(ROLE_USER[task.role]).post(f"/tasks/{task.id}", answers[task.name])
        assert response.status_code == 302, task.name


def _badges(page: str) -> dict[str, str]:
    return {key: word for key, word in BADGE.findall(page)}


@pytest.fixture
def invalid_complaint(database, deployed, browser, frozen_clock) -> int:
    instance_id = _new_case(browser("service").post("/start/complaint", REGISTRATION))
    _work(database, browser, instance_id, INVALID)
    with database.session() as s:
        row = s.get(store.ProcessInstance, instance_id)
        assert row.status == "completed" and row.data["outcome"] == "rejected"
    return instance_id


@pytest.fixture
def abandoned_repair(database, deployed, browser, frozen_clock) -> int:
    instance_id = _new_case(browser("service").post("/start/repair", REPAIR_APPLICATION))
    _work(database, browser, instance_id, {
        "review_application": {"review_opinion": "Send it in", "remote_fixable": "false"},
        "send_shipping_instructions": {"ship_to_address": "Service centre, Suzhou", "shipping_method": "express",
                                       "instructions_sent_via": "email"}})
    frozen_clock.advance(dt.timedelta(days=31))  # the device never arrives: the 7-day reminder, then closure
    with database.session() as s:
        engine.fire_due_timers(s)
    _work(database, browser, instance_id, {
        "remind_customer_to_ship": {"reminder_via": "phone", "reminder_note": "Asked again"},
        "notify_case_closed": {"abandon_notified_via": "email"}})
    with database.session() as s:
        row = s.get(store.ProcessInstance, instance_id)
        assert row.status == "completed" and row.data["repair_outcome"] == "abandoned"
    return instance_id


def _api(app, database):
    with database.session() as s:
        token = accounts.create_token(s, "admin", "tests")[1]
    client = app.test_client()
    return lambda path: client.get(path, headers={"Authorization": f"Bearer {token}"}).get_json()


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_rejected_complaint_reads_the_same_on_every_page(invalid_complaint, browser, language):
    word = WORDS["rejected"][language]
    admin = browser("admin", language)
    case_page = admin.get(f"/cases/{invalid_complaint}").get_data(as_text=True)
    title = case_page[case_page.index('data-testid="case-title"'):case_page.index("</h1>")]
    assert _badges(title) == {"rejected": word}
    listed = admin.get("/cases").get_data(as_text=True)
    assert _badges(listed) == {"rejected": word}
    register = admin.get("/complaints").get_data(as_text=True)
    assert _badges(register) == {"rejected": word}
    assert '<option value="rejected"' in register and f">{word}</option>" in register
    found = admin.get("/search?q=Huaxin").get_data(as_text=True)  # the navigation's search
    assert _badges(found) == {"rejected": word}
    other = {"zh": "已结案", "en": "Closed"}[language]  # the status word alone is not shown for it
    assert other not in title and f">{other}<" not in listed.split("<tbody>")[1]


def test_the_api_gives_the_outcome_of_a_rejected_complaint(app, database, invalid_complaint):
    api = _api(app, database)
    one = api(f"/api/v1/instances/{invalid_complaint}")
    assert one["status"] == "completed" and one["outcome"] == "rejected"
    listed = api("/api/v1/instances?process=complaint")
    assert [(i["id"], i["outcome"]) for i in listed["items"]] == [(invalid_complaint, "rejected")]


def test_a_running_case_has_no_outcome_and_shows_its_status(app, database, deployed, browser, frozen_clock):
    instance_id = _new_case(browser("service").post("/start/complaint", REGISTRATION))
    api = _api(app, database)
    assert api(f"/api/v1/instances/{instance_id}")["outcome"] is None
    assert api("/api/v1/instances")["items"][0]["outcome"] is None
    page = browser("admin", "zh").get(f"/cases/{instance_id}").get_data(as_text=True)
    assert _badges(page[page.index('data-testid="case-title"'):page.index("</h1>")]) == {"running": "处理中"}


@pytest.mark.parametrize("language", ["zh", "en"])
def test_an_abandoned_repair_reads_the_same_on_its_page_and_in_the_list(app, database, abandoned_repair, browser,
                                                                       language):
    word = WORDS["abandoned"][language]
    admin = browser("admin", language)
    case_page = admin.get(f"/cases/{abandoned_repair}").get_data(as_text=True)
    assert _badges(case_page[case_page.index('data-testid="case-title"'):case_page.index("</h1>")]) == {
        "abandoned": word}
    assert _badges(admin.get("/cases").get_data(as_text=True)) == {"abandoned": word}
    api = _api(app, database)
    assert api(f"/api/v1/instances/{abandoned_repair}")["outcome"] == "abandoned"
    assert api("/api/v1/instances?process=repair")["items"][0]["outcome"] == "abandoned"


def test_the_outcome_words_come_from_the_manifests():
    root = Path(__file__).resolve().parents[2] / "processes"
    found = {}
    for key in ("complaint", "repair", "returned_goods"):
        files = {p.name: p.read_text(encoding="utf-8") for p in (root / key).iterdir() if p.is_file()}
        assert manifest.problems(files) == []
        found[key] = manifest.load(files).outcome
    assert found["complaint"][0] == "outcome" and found["complaint"][1]["rejected"].zh == WORDS["rejected"]["zh"]
    assert found["repair"][0] == "repair_outcome"
    assert {"repaired", "remote_guidance", "returned_unrepaired", "abandoned"} <= set(found["repair"][1])
    assert found["returned_goods"][0] == "returned_goods_outcome"


def test_a_manifest_outcome_must_name_a_key_and_words():
    bad = {"manifest.json": '{"outcome": {"key": "outcome", "values": {"rejected": {"fr": "refusé"}}}}'}
    problems = manifest.problems(bad)
    assert problems and "/outcome/values/rejected" in problems[0].message
