"""Handing a task on (delegation) and absences with substitutes: who may, to whom, the substitute
rules (period boundaries, roles, no loops), audit and notifications; web pages and the API."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select
from test_comments import REGISTRATION

import engine
from caseflow import accounts, clock, store, substitutes
from caseflow.notify import render

UTC = dt.UTC


@pytest.fixture
def app_users() -> dict[str, list[str]]:
    """The web tests' users, two more quality staff and a second customer service user."""
    return {"service": ["customer_service"], "quality": ["quality"], "manager": ["manager"],
            "gm": ["general_manager"], "admin": ["admin"], "qa2": ["quality"], "qa3": ["quality"],
            "cs9": ["customer_service"]}


@pytest.fixture
def people(database, app):
    """qa2 has an e-mail address (mail at once)."""
    with database.session() as s:
        s.scalars(select(store.User).where(store.User.username == "qa2")).one().email = "qa2@factory.example"


@pytest.fixture
def task(database, deployed, app, frozen_clock, people) -> dict:
    """The complaint's first task (quality), claimed by ``quality``."""
    with database.session() as s:
        view = engine.start(s, "complaint", REGISTRATION, actor="service")
        [ready] = engine.list_tasks(s, instance_id=view["id"])
        return dict(engine.claim(s, ready["id"], engine.Actor.person("quality", ["quality"])))


def holder(database, task_id: str) -> str | None:
    with database.session() as s:
        return s.get_one(store.HumanTask, task_id).assignee


def audit(database, instance_id: int, kind: str) -> list[dict]:
    with database.session() as s:
        return [dict(e) for e in engine.audit_log(s, instance_id) if e["kind"] == kind]


def person(name: str, *roles: str) -> engine.Actor:
    return engine.Actor.person(name, roles)


def test_the_holder_hands_the_task_on_with_a_reason_audited_and_notified(browser, database, task):
    me = browser("quality")
    page = me.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert 'data-testid="task-delegate"' in page and 'value="qa2"' in page and 'value="cs9"' not in page
    response = me.post(f"/tasks/{task['id']}/delegate", {"to": "qa2", "reason": "I am on the trade fair"})
    assert response.status_code == 302
    assert holder(database, task["id"]) == "qa2"
    [event] = audit(database, task["instance_id"], "task_delegated")
    assert event["actor"] == "quality" and event["payload"]["from"] == "quality"
    assert event["payload"]["to"] == "qa2" and event["payload"]["reason"] == "I am on the trade fair"
    with database.session() as s:
        sent = s.scalars(select(store.Notification).where(store.Notification.kind == "task_delegated")).all()
        assert {(n.channel, n.recipient) for n in sent} == {("in_app", "qa2"), ("email", "qa2@factory.example")}
        # The Chinese mail names the task as the Chinese inbox does (its form's x-title-zh).
        mail = render.render("task_delegated", "zh", sent[0].args)
        assert "判断投诉成立并确认等级" in mail.subject and "Check validity" not in mail.text
    history = me.get(f"/cases/{task['instance_id']}").get_data(as_text=True)
    assert "to Qa2: I am on the trade fair" in history
    chinese = browser("manager", "zh").get(f"/cases/{task['instance_id']}").get_data(as_text=True)
    [line] = [x for x in chinese.splitlines() if "I am on the trade fair" in x and "class=\"what" in x]
    assert "判断投诉成立并确认等级" in line and "Check validity" not in line  # the task in the page's language


def test_who_may_hand_a_task_on(database, task):
    with database.session() as s:
        with pytest.raises(engine.Forbidden):  # of the role, but not the holder
            engine.delegate(s, task["id"], "qa2", "why not", person("qa3", "quality"))
        with pytest.raises(engine.Forbidden):
            engine.delegate(s, task["id"], "qa2", "why not", person("cs9", "customer_service"))
        done = engine.delegate(s, task["id"], "qa3", "workload", person("manager", "manager"))
        assert done["assignee"] == "qa3"
        done = engine.delegate(s, task["id"], "qa2", "back office", person("gm", "general_manager"))
        assert done["assignee"] == "qa2"


def test_the_new_holder_must_be_an_active_person_of_the_role(database, task):
    with database.session() as s:
        s.scalars(select(store.User).where(store.User.username == "qa3")).one().active = False
        me = person("quality", "quality")
        for to, reason, fields in (("cs9", "x", {"to"}), ("qa3", "x", {"to"}), ("nobody", "x", {"to"}),
                                   ("quality", "x", {"to"}), ("qa2", "  ", {"reason"}), ("qa2", "r" * 501, {"reason"})):
            with pytest.raises(engine.InvalidData) as err:
                engine.delegate(s, task["id"], to, reason, me)
            assert set(err.value.fields) == fields, to
        assert holder(database, task["id"]) == "quality"


def test_the_form_comes_back_with_messages(browser, database, task):
    me = browser("quality")
    response = me.post(f"/tasks/{task['id']}/delegate", {"to": "cs9", "reason": ""})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "That user does not hold the task&#39;s role." in page and "Give a reason" in page
    assert browser("cs9").get(f"/tasks/{task['id']}/delegate").status_code == 403
    assert browser("cs9").post(f"/tasks/{task['id']}/delegate", {"to": "qa2", "reason": "x"}).status_code == 403
    assert me.get("/tasks/no-such-task/delegate").status_code == 404


def test_managers_hand_on_from_the_case_page(browser, database, task):
    manager = browser("manager")
    page = manager.get(f"/cases/{task['instance_id']}").get_data(as_text=True)
    assert f'href="/tasks/{task["id"]}/delegate" data-testid="hand-on"' in page
    assert 'data-testid="hand-on"' not in browser("qa3").get(f"/cases/{task['instance_id']}").get_data(as_text=True)
    assert manager.get(f"/tasks/{task['id']}/delegate").status_code == 200
    manager.post(f"/tasks/{task['id']}/delegate", {"to": "qa3", "reason": "balance the load"})
    assert holder(database, task["id"]) == "qa3"


def test_a_task_handed_to_someone_away_goes_to_their_substitute(database, task):
    now = clock.now()
    with database.session() as s:
        substitutes.set_absence(s, "qa2", "qa3", now - dt.timedelta(hours=1), now + dt.timedelta(days=2))
    with database.session() as s:
        done = engine.delegate(s, task["id"], "qa2", "holiday cover", person("quality", "quality"))
    assert done["assignee"] == "qa3" and holder(database, task["id"]) == "qa3"
    [event] = audit(database, task["instance_id"], "task_delegated")
    assert (event["payload"]["asked_for"], event["payload"]["to"], event["payload"]["via"]) == ("qa2", "qa3", ["qa2"])
    with database.session() as s:
        [note] = s.scalars(select(store.Notification).where(store.Notification.kind == "task_delegated",
                                                           store.Notification.channel == "in_app")).all()
        assert note.recipient == "qa3" and note.args["for_user"] == "qa2"


def test_the_substitute_may_hand_on_the_tasks_of_the_one_away(browser, database, task):
    now = clock.now()
    with database.session() as s:
        substitutes.set_absence(s, "quality", "qa2", now, now + dt.timedelta(days=1))
    qa2 = browser("qa2")
    account = qa2.get("/account/").get_data(as_text=True)
    assert 'data-testid="substitute-tasks"' in account and f'/tasks/{task["id"]}/delegate' in account
    qa2.post(f"/tasks/{task['id']}/delegate", {"to": "qa2", "reason": "covering for quality"})
    assert holder(database, task["id"]) == "qa2"


def test_the_api_hands_tasks_on(app, database, task):
    with database.session() as s:
        tokens = {n: accounts.create_token(s, n, "t")[1] for n in ("quality", "cs9")}
    client = app.test_client()

    def post(who: str, body: dict):
        return client.post(f"/api/v1/tasks/{task['id']}/delegate", json=body,
                           headers={"Authorization": f"Bearer {tokens[who]}"})

    assert post("cs9", {"to": "qa2", "reason": "x"}).status_code == 403
    refused = post("quality", {"to": "cs9", "reason": "x"})
    assert refused.status_code == 422 and refused.get_json()["error"]["fields"] == {
        "to": "that user does not hold the task's role"}
    assert post("quality", {"to": "qa2"}).status_code == 422
    done = post("quality", {"to": "qa2", "reason": "x"})
    assert done.status_code == 200 and done.get_json()["assignee"] == "qa2"
    assert post("quality", {"to": "qa3", "reason": "x"}).status_code == 403  # no longer the holder


# --- the substitute rules --------------------------------------------------------------------------------


def test_an_absence_applies_from_its_start_up_to_but_not_at_its_end(database, people, frozen_clock):
    start, end = clock.now() + dt.timedelta(days=1), clock.now() + dt.timedelta(days=3)
    with database.session() as s:
        substitutes.set_absence(s, "qa2", "qa3", start, end)
        assert substitutes.resolve(s, "qa2", at=start - dt.timedelta(seconds=1)).username == "qa2"
        assert substitutes.resolve(s, "qa2", at=start).username == "qa3"
        assert substitutes.resolve(s, "qa2", at=end - dt.timedelta(seconds=1)).username == "qa3"
        assert substitutes.resolve(s, "qa2", at=end).username == "qa2"
        assert substitutes.acts_for(s, "qa3", at=start) == {"qa2"} and substitutes.acts_for(s, "qa3") == set()


def test_a_substitute_must_hold_the_roles_and_be_someone_else(database, people, frozen_clock):
    now = clock.now()
    with database.session() as s:
        for sub, field, code in (("cs9", "substitute", "missing_roles"), ("qa2", "substitute", "self"),
                                 ("ghost", "substitute", "unknown_substitute")):
            with pytest.raises(substitutes.AbsenceRejected) as err:
                substitutes.set_absence(s, "qa2", sub, now, now + dt.timedelta(days=1))
            assert err.value.fields == {field: code}
        with pytest.raises(substitutes.AbsenceRejected) as err:
            substitutes.set_absence(s, "qa2", "qa3", now, now)
        assert err.value.fields == {"ends_at": "order"}
        with pytest.raises(substitutes.AbsenceRejected) as err:
            substitutes.set_absence(s, "qa2", "qa3", now - dt.timedelta(days=3), now - dt.timedelta(days=1))
        assert err.value.fields == {"ends_at": "past"}
        with pytest.raises(substitutes.AbsenceRejected) as err:
            substitutes.set_absence(s, "qa2", "qa3", now, now + dt.timedelta(days=400))
        assert err.value.fields == {"ends_at": "too_long"}


def test_absences_do_not_overlap_and_substitutes_never_loop(database, people, frozen_clock):
    now = clock.now()
    day = dt.timedelta(days=1)
    with database.session() as s:
        accounts.create_user(s, "qa4", "a-long-password-1", ["quality"])
        substitutes.set_absence(s, "qa2", "qa3", now, now + 3 * day)
        with pytest.raises(substitutes.AbsenceRejected) as err:
            substitutes.set_absence(s, "qa2", "qa4", now + 2 * day, now + 5 * day)
        assert err.value.fields == {"starts_at": "overlap"}
        substitutes.set_absence(s, "qa2", "qa4", now + 3 * day, now + 5 * day)  # touching is no overlap
        with pytest.raises(substitutes.AbsenceRejected) as err:  # qa3 -> qa2 while qa2 -> qa3
            substitutes.set_absence(s, "qa3", "qa2", now + 2 * day, now + 4 * day)
        assert err.value.fields == {"substitute": "loop"}
        substitutes.set_absence(s, "qa4", "qa3", now, now + day)
        with pytest.raises(substitutes.AbsenceRejected) as err:  # qa3 -> qa4 -> qa3: a longer loop
            substitutes.set_absence(s, "qa3", "qa4", now, now + day)
        assert err.value.fields == {"substitute": "loop"}
        substitutes.set_absence(s, "qa3", "qa2", now + 5 * day, now + 6 * day)  # after qa2's absences: fine
        # A chain resolves to the first one present: qa4 away (-> qa3), qa3 present.
        assert substitutes.resolve(s, "qa4").username == "qa3"


def test_a_chain_ends_at_someone_present_of_the_role(database, people, frozen_clock):
    now = clock.now()
    with database.session() as s:
        accounts.create_user(s, "qa4", "a-long-password-1", ["quality"])
        substitutes.set_absence(s, "qa2", "qa3", now, now + dt.timedelta(days=2))
        substitutes.set_absence(s, "qa3", "qa4", now, now + dt.timedelta(days=1))
        found = substitutes.resolve(s, "qa2", "quality")
        assert (found.username, found.via) == ("qa4", ("qa2", "qa3"))
        assert substitutes.resolve(s, "qa2", "customer_service").username == "qa2"  # no stand-in of that role


def test_setting_and_cancelling_an_absence_on_the_account_page(browser, database, people, frozen_clock):
    qa2 = browser("qa2")
    today = clock.now().astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    page = qa2.get("/account/").get_data(as_text=True)
    assert 'data-testid="absence-form"' in page
    bad = qa2.post("/account/absence/", {"first": str(today), "last": str(today), "substitute": "cs9"})
    assert bad.status_code == 422 and "Your substitute must hold your roles." in bad.get_data(as_text=True)
    assert qa2.post("/account/absence/", {"first": "soon", "last": "", "substitute": "qa3"}).status_code == 422
    done = qa2.post("/account/absence/", {"first": str(today), "last": str(today + dt.timedelta(days=1)),
                                          "substitute": "qa3", "note": "trade fair"})
    assert done.status_code == 302
    with database.session() as s:
        [absence] = s.scalars(select(store.Absence)).all()
        # Days in the business time zone (Asia/Shanghai): from today 00:00 to the end of tomorrow.
        assert absence.starts_at == dt.datetime.combine(today, dt.time(), dt.timezone(dt.timedelta(hours=8)))
        assert absence.ends_at - absence.starts_at == dt.timedelta(days=2)
        [event] = [e for e in s.scalars(select(store.AuditEvent).where(store.AuditEvent.kind == "absence_set"))]
        assert event.actor == "qa2" and event.payload["substitute"] == "qa3"
    assert "trade fair" not in page and 'data-testid="absences"' in qa2.get("/account/").get_data(as_text=True)
    qa2.post(f"/account/absence/{absence.id}/cancel")
    with database.session() as s:
        assert s.get_one(store.Absence, absence.id).cancelled_at is not None
        assert s.scalars(select(store.AuditEvent).where(store.AuditEvent.kind == "absence_cancelled")).first()
    assert browser("qa3").post(f"/account/absence/{absence.id}/cancel", follow_redirects=True).status_code == 200


def test_a_role_held_by_one_person_says_there_is_no_one_to_hand_to(browser, database, task):
    """The holder is offered everyone else of the role, never themselves; when there is nobody
    else the page says so (and how to change it) instead of an empty choice."""
    page = browser("quality").get(f"/tasks/{task['id']}/delegate").get_data(as_text=True)
    offered = re.findall(r'<option value="([^"]+)"', page)
    assert offered == ["qa2", "qa3"]
    with database.session() as s:
        for name in ("qa2", "qa3"):
            accounts.set_active(s.scalars(select(store.User).where(store.User.username == name)).one(), False)
    page = browser("quality").get(f"/tasks/{task['id']}/delegate").get_data(as_text=True)
    assert 'data-testid="delegate-nobody"' in page and "No one else holds the role" in page
    assert 'data-testid="delegate-form"' not in page
