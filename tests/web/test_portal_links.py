"""Customer tasks and their links: a task in the ``customer`` lane mails its customer a signed,
expiring, single-use link bound to it; the portal opens only that task, completes it as the
customer, and refuses used, expired, revoked, tampered and other tasks' links."""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import engine
from caseflow import accounts, clock, config, portal_links, store

ROOT = Path(__file__).resolve().parents[2]
APPLICATION = {
    "customer_name": "Huaxin Trading Co.", "customer_contact": "Li Wei", "address": "88 Zhongshan Road, Nanjing",
    "recipient": "Li Wei", "email": "li.wei@example.com", "product_model": "NLS-HR200",
    "serial_no": "SN20250601-0042", "purchase_date": "2025-06-01", "warranty_claim": "in",
    "fault_description": "Scanner does not power on after a firmware update.", "accessories": "USB cable removed",
}
TOKEN_IN_URL = re.compile(r"/portal/task/([A-Za-z0-9_.-]+)")


@pytest.fixture
def app_env() -> dict[str, str]:
    return {"CASEFLOW_PUBLIC_URL": "https://caseflow.example.com", "CASEFLOW_PORTAL_LINK_HOURS": "48"}


def start_repair_with_mailed_link(database: Any) -> dict:
    """A repair application without a phone number, started: its completion task is the customer's, and
    its link is mailed. The case's id, the task, the mail (recipient, arguments, language) and the token."""
    with database.session() as s:
        view = engine.start(s, "repair", data=APPLICATION, actor="cs1")
    with database.session() as s:
        (task,) = engine.list_tasks(s, instance_id=view["id"])
        mail = s.scalars(select(store.Notification).where(store.Notification.template == "portal_task")).one()
        match = TOKEN_IN_URL.search(mail.args["portal_url"])
        assert match
        return {"id": view["id"], "task": task, "token": match.group(1),
                "mail": {"recipient": mail.recipient, "args": dict(mail.args), "language": mail.language}}


@pytest.fixture
def repair_case(app, database, deployed) -> dict:
    """A repair application without a phone number: the completion task is the customer's."""
    return start_repair_with_mailed_link(database)


def _token(case: dict) -> str:
    return str(case["token"])


def _post_token(b, token: str) -> str:
    html = b.get(f"/portal/task/{token}").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def _submit(b, token: str, task_id: str, **extra: str):
    csrf = _post_token(b, token)
    data = {**APPLICATION, "phone": "+86 25 8888 0000", "task": task_id, "csrf_token": csrf, **extra}
    return b.client.post(f"/portal/task/{token}", data=data)


def test_a_customer_task_mails_a_link_bound_to_it(repair_case, database):
    task, mail = repair_case["task"], repair_case["mail"]
    assert (task["name"], task["role"]) == ("complete_application", "customer")
    assert mail["recipient"] == "li.wei@example.com" and mail["language"] == "zh"
    assert mail["args"]["portal_url"].startswith("https://caseflow.example.com/portal/task/")
    with database.session() as s:
        (link,) = s.scalars(select(store.PortalLink)).all()
        assert (link.task_id, link.instance_id, link.email) == (task["id"], repair_case["id"], "li.wei@example.com")
        assert link.token_hash != _token(repair_case) and len(link.token_hash) == 64  # only the hash is kept
        assert link.expires_at - link.created_at == dt.timedelta(hours=48)
        # No staff user holds the customer role, so nobody on the staff side got a task notice for it.
        assert not s.scalars(select(store.Notification).where(store.Notification.kind == "task_ready",
                                                                store.Notification.instance_id == repair_case["id"])
                             ).all()


def test_the_link_opens_only_that_task_without_staff_navigation(repair_case, browser):
    customer = browser(language="en")
    response = customer.get(f"/portal/task/{_token(repair_case)}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'name="phone"' in html and f'name="task" value="{repair_case["task"]["id"]}"' in html
    assert "补充维护返修申请" in html  # the case's language (zh), not the browser's
    assert "/inbox" not in html and "logout" not in html and "/cases/" not in html
    assert 'data-testid="missing-items"' in html
    assert 'name="application_received_at"' not in html  # staff's record of when it came: not the customer's


def test_submitting_completes_the_task_as_the_customer_once(repair_case, browser, database):
    customer = browser(language="zh")
    token, task_id = _token(repair_case), repair_case["task"]["id"]
    response = _submit(customer, token, task_id)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert 'data-testid="portal-done"' in response.get_data(as_text=True)
    with database.session() as s:
        link = s.scalars(select(store.PortalLink)).one()
        assert link.used_at is not None
        done = s.get_one(store.HumanTask, task_id)
        assert (done.state, done.completed_by) == ("completed", f"customer via link {link.id}")
        assert engine.list_tasks(s, instance_id=repair_case["id"])[0]["name"] == "review_application"
        events = [e for e in engine.audit_log(s, repair_case["id"]) if e["kind"] == "task_completed"]
        assert events[-1]["actor"] == f"customer via link {link.id}"
    # The same link again: refused, and the page says why.
    again = customer.get(f"/portal/task/{token}")
    assert again.status_code == 410 and "已经使用" in again.get_data(as_text=True)
    # Staff see in the history that the customer did it.
    staff = browser("service")
    history = staff.get(f"/cases/{repair_case['id']}").get_data(as_text=True)
    assert f"the customer (link {link.id})" in history


def test_bad_input_shows_the_form_again(repair_case, browser, database):
    customer = browser()
    response = _submit(customer, _token(repair_case), repair_case["task"]["id"], phone="")
    assert response.status_code == 422
    with database.session() as s:
        assert s.scalars(select(store.PortalLink)).one().used_at is None  # not used up by a failed submission
        assert s.get_one(store.HumanTask, repair_case["task"]["id"]).state == "ready"


def test_expired_revoked_tampered_and_unknown_links_are_refused(repair_case, browser, database, caplog):
    customer = browser()
    token = _token(repair_case)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert customer.get(f"/portal/task/{tampered}").status_code == 404
    forged = portal_links._serializer("another secret").dumps({"t": repair_case["task"]["id"], "n": "x"})
    assert customer.get(f"/portal/task/{forged}").status_code == 404
    genuine_but_unknown = portal_links._serializer().dumps({"t": repair_case["task"]["id"], "n": "x"})
    assert customer.get(f"/portal/task/{genuine_but_unknown}").status_code == 404

    clock.set(clock.now() + dt.timedelta(hours=49))
    try:
        expired = customer.get(f"/portal/task/{token}")
        assert expired.status_code == 410 and "过期" in expired.get_data(as_text=True)
    finally:
        clock.reset()

    with database.session() as s:
        assert portal_links.revoke(s, task_id=repair_case["task"]["id"], by="cs1") == 1
    revoked = customer.get(f"/portal/task/{token}")
    assert revoked.status_code == 410 and "撤回" in revoked.get_data(as_text=True)
    assert any("portal refused" in r.getMessage() and "revoked" in r.getMessage() for r in caplog.records)


def test_a_link_cannot_submit_another_task(repair_case, browser, database):
    customer = browser()
    response = _submit(customer, _token(repair_case), "00000000-0000-0000-0000-000000000000")
    assert response.status_code == 403
    with database.session() as s:
        assert s.get_one(store.HumanTask, repair_case["task"]["id"]).state == "ready"
        assert s.scalars(select(store.PortalLink)).one().used_at is None


def test_a_newer_link_of_the_task_replaces_the_older(repair_case, browser, database):
    with database.session() as s:
        _id, newer = portal_links.issue(s, repair_case["id"], repair_case["task"]["id"], "li.wei@example.com", "en")
    customer = browser()
    assert customer.get(f"/portal/task/{_token(repair_case)}").status_code == 410
    assert customer.get(f"/portal/task/{newer}").status_code == 200


def test_staff_complete_a_customer_task_on_the_customers_behalf(repair_case, browser, database):
    task_id = repair_case["task"]["id"]
    assert browser("quality").get(f"/tasks/{task_id}").status_code == 403  # not a role that speaks for customers
    service = browser("service")
    page = service.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert 'data-testid="on-behalf"' in page
    case_page = service.get(f"/cases/{repair_case['id']}").get_data(as_text=True)
    assert f'href="/tasks/{task_id}"' in case_page
    response = service.post(f"/tasks/{task_id}", {**APPLICATION, "phone": "+86 25 8888 0000"})
    assert response.status_code == 302
    with database.session() as s:
        assert s.get_one(store.HumanTask, task_id).completed_by == "service for the customer"
    assert "service for the customer" in service.get(f"/cases/{repair_case['id']}").get_data(as_text=True)
    # The customer's link now says the step is done, and its mail, not sent yet, is withdrawn.
    assert browser().get(f"/portal/task/{_token(repair_case)}").status_code == 410
    from caseflow.notify import sender

    assert sender.withdraw_done_customer_mails(database) == 1
    with database.session() as s:
        mails = s.scalars(select(store.Notification).where(store.Notification.kind == "customer_task")).all()
        assert [m.status for m in mails] == ["withdrawn"]
    assert sender.withdraw_done_customer_mails(database) == 0


def test_the_customer_role_is_no_staff_role(database):
    with database.session() as s:
        with pytest.raises(accounts.AccountError):
            accounts.create_user(s, "mallory", "a long enough password 1", ["customer"])
        assert "customer" not in accounts.known_roles(s)


def test_moving_a_task_into_the_customer_lane_makes_it_a_customer_task(database, tmp_path, frozen_clock):
    """Acceptance 2: a process owner moves a task into the ``customer`` lane and redeploys; no code change."""
    bundle = tmp_path / "repair"
    shutil.copytree(ROOT / "processes" / "repair", bundle)
    path = bundle / "repair.bpmn"
    with database.session() as s:
        engine.deploy(s, [bundle], actor="admin")
        first = engine.start(s, "repair", data={**APPLICATION, "phone": "+86 25 8888 0000"}, actor="cs1")
        (review,) = engine.list_tasks(s, instance_id=first["id"])
        assert (review["name"], review["role"]) == ("review_application", "service_center")
        assert not s.scalars(select(store.PortalLink)).all()

    text = path.read_text(encoding="utf-8")
    text = text.replace("        <bpmn:flowNodeRef>review_application</bpmn:flowNodeRef>\n", "", 1)
    text = text.replace('<bpmn:lane id="lane_customer" name="customer">\n',
                        '<bpmn:lane id="lane_customer" name="customer">\n'
                        "        <bpmn:flowNodeRef>review_application</bpmn:flowNodeRef>\n", 1)
    path.write_text(text, encoding="utf-8")
    with database.session() as s:
        (result,) = engine.deploy(s, [bundle], actor="admin")
        assert result.version == 2
        second = engine.start(s, "repair", data={**APPLICATION, "phone": "+86 25 8888 0000"}, actor="cs1")
        (review,) = engine.list_tasks(s, instance_id=second["id"])
        assert (review["name"], review["role"]) == ("review_application", "customer")
        (link,) = s.scalars(select(store.PortalLink)).all()
        assert (link.task_id, link.email) == (review["id"], "li.wei@example.com")


def test_the_complaint_asks_the_customer_for_feedback_by_link(session, frozen_clock):
    """The shipped complaint's satisfaction feedback is a customer task: its link goes to customer_email."""
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "scenarios"))
    import complaint_helpers as ch

    ch.deploy(session)
    iid = ch.start(session, {**ch.quality_registration(), "customer_email": "buyer@huaxin.example"})["id"]
    for step in (ch.confirm, ch.eight_d, ch.plan, ch.manager_decides, ch.implement):
        step(session, iid)
    task = ch.ready(session, iid)["customer_feedback"]
    assert task["role"] == "customer"
    (link,) = session.scalars(select(store.PortalLink).where(store.PortalLink.task_id == task["id"])).all()
    assert link.email == "buyer@huaxin.example"
    mail = session.scalars(select(store.Notification).where(store.Notification.template == "portal_task",
                                                            store.Notification.instance_id == iid)).one()
    assert mail.args["link_id"] == link.id and mail.recipient == "buyer@huaxin.example"


class _RecordingMailer:
    """A mailer that keeps what it is given (the SMTP path has tests of its own)."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        yield self

    def send_message(self, msg: Any) -> None:
        self.sent.append(msg)


def test_the_sent_mail_keeps_the_link_and_the_outbox_row_drops_it(repair_case, database):
    """Once mailed, the row's arguments no longer hold the token: only the customer's mailbox has it."""
    from caseflow.notify.sender import Sender

    settings = dataclasses.replace(config.load(), smtp=config.SmtpSettings(
        host="127.0.0.1", port=25, user=None, password=None, starttls=False, sender="service@caseflow.example"))
    mailer = _RecordingMailer()
    token = _token(repair_case)
    assert Sender(database, settings, mailer).run_once() >= 1
    (msg,) = [m for m in mailer.sent if m["To"] == "li.wei@example.com"]
    assert token in msg.get_body(("plain",)).get_content()
    with database.session() as s:
        row = s.scalars(select(store.Notification).where(store.Notification.template == "portal_task")).one()
        assert row.status == "sent" and "portal_url" not in row.args
        assert row.args["link_id"] and token not in json.dumps(row.args)
        assert portal_links.check(s, token).ok  # the link itself still works


def test_the_feedback_link_page_and_mail_are_in_the_customers_language(database, deployed, browser, frozen_clock):
    """The facts shown beside the feedback form and the mail's task name follow the link's language
    (Chinese for this customer), whatever the browser asks for."""
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "scenarios"))
    import complaint_helpers as ch

    with database.session() as s:
        iid = ch.start(s, {**ch.quality_registration(), "customer_email": "buyer@huaxin.example"})["id"]
        for step in (ch.confirm, ch.eight_d, ch.plan, ch.manager_decides, ch.implement):
            step(s, iid)
        mail = s.scalars(select(store.Notification).where(store.Notification.template == "portal_task",
                                                          store.Notification.instance_id == iid)).one()
        token = TOKEN_IN_URL.search(mail.args["portal_url"])
        assert token and mail.language == "zh"
        assert mail.args["task_title_zh"] == "客户反馈"  # the form's title: what the page the link opens says
    page = browser(language="en").get(f"/portal/task/{token.group(1)}").get_data(as_text=True)
    assert "<h1>客户反馈" in page or ">客户反馈<" in page
    assert "实施结果" in page and "What was done" not in page


def test_the_api_and_the_inbox_give_customer_tasks_to_those_who_speak_for_customers(repair_case, browser,
                                                                                   database, app):
    """Customer service sees the customer's task in its inbox and completes it through the API too,
    audited as acting for the customer; other roles get 403 as before."""
    task_id = repair_case["task"]["id"]
    assert f'href="/tasks/{task_id}"' in browser("service").get("/").get_data(as_text=True)
    assert f'href="/tasks/{task_id}"' not in browser("quality").get("/").get_data(as_text=True)
    with database.session() as s:
        service_token = accounts.create_token(s, "service", "ci")[1]
        quality_token = accounts.create_token(s, "quality", "ci")[1]
    client = app.test_client()

    def call(method: str, path: str, token: str, body: dict | None = None) -> Any:
        return client.open(path, method=method, json=body, headers={"Authorization": f"Bearer {token}"})

    listed = call("GET", "/api/v1/tasks", service_token).get_json()["items"]
    assert task_id in {t["id"] for t in listed}
    answers = {**APPLICATION, "phone": "+86 25 8888 0000"}
    assert call("POST", f"/api/v1/tasks/{task_id}/complete", quality_token, {"data": answers}).status_code == 403
    done = call("POST", f"/api/v1/tasks/{task_id}/complete", service_token, {"data": answers})
    assert done.status_code == 200, done.get_json()
    with database.session() as s:
        assert s.get_one(store.HumanTask, task_id).completed_by == "service for the customer"


def test_the_customer_does_not_see_or_fill_the_staff_fields_of_the_feedback(database, deployed, browser,
                                                                             frozen_clock):
    """The feedback form's follow-up person and date are the staff's (``x-staff-only``): the link's page
    neither shows nor reads them, and staff completing the task for the customer still get them."""
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "scenarios"))
    import complaint_helpers as ch

    with database.session() as s:
        iid = ch.start(s, {**ch.quality_registration(), "customer_email": "buyer@huaxin.example"})["id"]
        for step in (ch.confirm, ch.eight_d, ch.plan, ch.manager_decides, ch.implement):
            step(s, iid)
        task_id = ch.ready(s, iid)["customer_feedback"]["id"]
        mail = s.scalars(select(store.Notification).where(store.Notification.template == "portal_task",
                                                          store.Notification.instance_id == iid)).one()
        token = TOKEN_IN_URL.search(mail.args["portal_url"])
        assert token
    assert 'name="follow_up_person"' in browser("service").get(f"/tasks/{task_id}").get_data(as_text=True)
    customer = browser()
    page = customer.get(f"/portal/task/{token.group(1)}").get_data(as_text=True)
    assert 'name="customer_feedback"' in page
    assert 'name="follow_up_person"' not in page and 'name="follow_up_date"' not in page
    csrf = _post_token(customer, token.group(1))
    answer = customer.client.post(f"/portal/task/{token.group(1)}", data={
        "task": task_id, "csrf_token": csrf, "customer_feedback": "Fixed, thank you.", "satisfaction": "5",
        "satisfied": "true", "follow_up_person": "I am not staff"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    with database.session() as s:
        data = engine.show(s, iid, audit=False)["data"]
        assert data["customer_feedback"] == "Fixed, thank you." and "follow_up_person" not in data


def test_a_required_field_cannot_be_staff_only(tmp_path):
    from caseflow._engine import form_rules

    schema = {"type": "object", "required": ["who"], "properties": {
        "who": {"type": "string", "x-staff-only": True}, "when": {"type": "string", "x-staff-only": "yes"}}}
    problems = form_rules.not_before_problems(schema)
    assert any("x-staff-only of 'who'" in p and "required" in p for p in problems)
    assert any("x-staff-only of 'when': expected true or false" in p for p in problems)
