"""In a real browser (issue 18, acceptance 1): a customer files a repair application on the portal
with one field missing, completes it from the link in the e-mail (read from a real SMTP server),
confirms the shipment with a tracking number and accepts the fee from the next links, and gives
the satisfaction feedback of a complaint from its link; staff see each step in the history as the
customer's. Screenshots on a phone-sized viewport in Chinese: ``test-artifacts/portal-*.png``.
"""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from story_time import business_today

import engine
from caseflow import store
from caseflow.accounts import DEMO_USERS

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
PHONE = {"width": 390, "height": 844}
TODAY = business_today().isoformat()  # the server runs on the real clock
PURCHASED = (business_today() - dt.timedelta(days=800)).isoformat()  # out of warranty: the repair is charged
ADDRESS = "li.portal@example.com"
BUYER = "buyer.portal@example.com"  # the complaint's customer
SECRET = "portal-e2e-secret"
APPLICATION = {"customer_name": "华信电子", "customer_contact": "李女士", "address": "苏州湖滨路8号",
               "phone": "0512-5555-0001", "email": ADDRESS, "product_model": "PX-2", "serial_no": "SN-0042",
               "purchase_date": PURCHASED, "warranty_claim": "out", "fault_description": "无法开机"}
LINK = re.compile(r"https?://\S+/portal/task/[A-Za-z0-9_.-]+")


class Inbox:
    """What the SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        with self.lock:
            self.messages.append(msg)
        return "250 OK"

    def links(self, address: str) -> list[str]:
        with self.lock:
            found = []
            for msg in self.messages:
                body = msg.get_body(("plain",))
                if msg["To"] == address and body is not None:
                    found += LINK.findall(body.get_content())
            return found

    def wait_for_link(self, address: str, count: int, timeout: float = 40) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            links = self.links(address)
            if len(links) >= count:
                return links[count - 1]
            time.sleep(0.3)
        raise AssertionError(f"no link #{count} to {address}; mails: {[m['Subject'] for m in self.messages]}")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def portal(own_server: Any) -> Iterator[dict[str, Any]]:
    """A ``caseflow serve`` that mails through a real local SMTP server, with links to itself."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    port = _free_port()
    settings = {"CASEFLOW_PUBLIC_URL": f"http://127.0.0.1:{port}", "CASEFLOW_SECRET_KEY": SECRET,
                "CASEFLOW_SMTP_HOST": "127.0.0.1", "CASEFLOW_SMTP_PORT": str(controller.port),
                "CASEFLOW_SMTP_STARTTLS": "0", "CASEFLOW_SMTP_FROM": "service@caseflow.example"}
    try:
        with own_server("portal-instance", env=settings, port=port) as (base, instance):
            yield {"base": base, "inbox": inbox, "passwords": {u.username: u.password for u in DEMO_USERS},
                   "instance": instance, "settings": settings}
    finally:
        controller.stop()


def _fill(page: Any, answers: dict[str, str]) -> None:
    for name, value in answers.items():
        field = page.locator(f"[name='{name}']").first
        kind = field.evaluate("e => e.tagName.toLowerCase() + ':' + (e.type || '')")
        if kind == "input:radio":
            page.check(f"input[name='{name}'][value='{value}']")
        elif kind.startswith("select"):
            field.select_option(value)
        else:
            field.fill(value)


def _submit(page: Any) -> None:
    with page.expect_navigation():
        page.click("form.schema-form button[type=submit]")


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"portal-{name}.png"), full_page=True)


def _staff(chromium: Any, portal: dict[str, Any], username: str) -> Any:
    context = chromium.new_context(locale="en-US", viewport={"width": 1360, "height": 1000})
    context.set_default_timeout(15000)
    page = context.new_page()
    page.goto(portal["base"] + "/login")
    page.fill("#username", username)
    page.fill("#password", portal["passwords"][username])
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(portal["base"] + "/")
    return page


def _staff_task(page: Any, case_url: str, name: str, answers: dict[str, str]) -> None:
    page.goto(case_url)
    page.locator(f"[data-testid=current-tasks] a[data-task='{name}']").click()
    page.wait_for_selector("form.schema-form")
    _fill(page, answers)
    _submit(page)
    assert page.locator("[data-testid=form-errors]").count() == 0, name


def test_a_customer_does_their_part_of_a_repair_from_the_portal(chromium, portal):
    base, inbox = portal["base"], portal["inbox"]
    phone = chromium.new_context(locale="zh-CN", viewport=PHONE, is_mobile=True, has_touch=True)
    phone.set_default_timeout(15000)
    customer = phone.new_page()

    # 1. The application, with the recipient left out.
    customer.goto(base + "/portal/")
    _shot(customer, "home")
    customer.click("[data-testid=portal-file-repair]")
    customer.wait_for_selector("form.schema-form")
    _fill(customer, APPLICATION)
    _shot(customer, "apply")
    _submit(customer)
    number = customer.locator("[data-testid=portal-number]").inner_text().strip()
    assert re.match(r"^RA-\d{6}$", number), number
    _shot(customer, "filed")
    case_url = f"{base}/cases/{int(number[3:])}"

    # 2. The link in the e-mail opens the completion step; the missing item is asked for.
    customer.goto(inbox.wait_for_link(ADDRESS, 1))
    assert customer.locator("[data-testid=missing-items]").count() == 1
    assert customer.locator("header nav").count() == 0  # no staff navigation
    _shot(customer, "complete")
    _fill(customer, {"recipient": "李女士"})
    _submit(customer)
    assert customer.locator("[data-testid=portal-done]").count() == 1
    _shot(customer, "done")

    # 3. The service centre reviews and sends the repair number with the shipping instructions.
    repair = _staff(chromium, portal, "repair")
    for name, answers in [
        ("review_application", {"review_opinion": "请寄回维修", "remote_fixable": "false"}),
        ("send_shipping_instructions", {"ship_to_address": "苏州服务中心", "shipping_method": "express",
                                        "instructions_sent_via": "email"}),
    ]:
        _staff_task(repair, case_url, name, answers)

    # 4. The customer confirms the shipment from the next link; the receiver sees the tracking number.
    customer.goto(inbox.wait_for_link(ADDRESS, 2))
    assert "苏州服务中心" in customer.locator("[data-testid=portal-facts]").inner_text()
    _fill(customer, {"customer_carrier": "顺丰速运", "customer_tracking_no": "SF1234567890",
                     "customer_shipped_date": TODAY})
    _shot(customer, "shipment")
    _submit(customer)
    assert customer.locator("[data-testid=portal-done]").count() == 1
    repair.goto(case_url)
    repair.locator("[data-testid=current-tasks] a[data-task='receive_device']").click()
    repair.wait_for_selector("form.schema-form")
    assert "SF1234567890" in repair.content()

    # 5. The device arrives; diagnosis and the fee notice.
    for name, answers in [
        ("receive_device", {"received_date": TODAY}),
        ("diagnose_device", {"fault_cause": "man_made", "diagnosis": "主板损坏", "estimated_fee": "300"}),
        ("send_fee_notice", {"fee_amount": "300", "payment_instructions": "工商银行 6222 0000",
                             "fee_notice_date": TODAY, "fee_notice_sent_via": "email"}),
    ]:
        _staff_task(repair, case_url, name, answers)

    # 6. The fee link: the customer accepts.
    customer.goto(inbox.wait_for_link(ADDRESS, 3))
    assert "300" in customer.locator("[data-testid=portal-facts]").inner_text()
    _fill(customer, {"fee_decision": "accepted", "fee_decision_date": TODAY})
    _shot(customer, "fee")
    _submit(customer)
    assert customer.locator("[data-testid=portal-done]").count() == 1

    # 7. The first link is used up: refused with a clear page.
    response = customer.goto(inbox.wait_for_link(ADDRESS, 1))
    assert response is not None and response.status == 410
    _shot(customer, "refused")

    # 8. Tracking shows the customer's view.
    customer.goto(base + "/portal/track")
    customer.fill("#number", number)
    customer.fill("#contact", ADDRESS)
    with customer.expect_navigation():
        customer.click("[data-testid=portal-track-form] button[type=submit]")
    tracked = customer.locator("[data-testid=portal-tracked]").inner_text()
    assert "300" in tracked and "吴售后" not in tracked
    _shot(customer, "track")

    # 9. Staff see the three steps in the history as done by the customer.
    repair.goto(case_url)
    history = repair.content()
    assert len(re.findall(r"the customer \(link \d+\)", history)) >= 3, history

    # 10. A complaint's satisfaction feedback, from its link (the staff's stages are played here
    # directly on the server's database: their pages have browser tests of their own).
    complaint_id = _complaint_at_feedback(portal)
    customer.goto(inbox.wait_for_link(BUYER, 1))
    _fill(customer, {"customer_feedback": "处理及时，很满意", "satisfaction": "5", "satisfied": "true"})
    _shot(customer, "feedback")
    _submit(customer)
    assert customer.locator("[data-testid=portal-done]").count() == 1
    repair.goto(f"{base}/cases/{complaint_id}")
    assert re.search(r"the customer \(link \d+\)", repair.content())
    phone.close()
    repair.context.close()


def _complaint_at_feedback(portal: dict[str, Any]) -> int:
    """A complaint played up to its customer feedback step on the server's own database (the engine
    in this process, with the server's secret and address so that its link opens there)."""
    import os
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "scenarios"))
    import complaint_helpers as ch

    saved = {key: os.environ.get(key) for key in portal["settings"]}
    os.environ.update({key: portal["settings"][key] for key in ("CASEFLOW_PUBLIC_URL", "CASEFLOW_SECRET_KEY")})
    database = store.Database(f"sqlite:///{portal['instance'] / 'e2e.sqlite3'}")
    engine.clear_caches()  # specs cached from another database must not be taken for this one's
    try:
        with database.session() as session:
            iid = int(ch.start(session, ch.quality_registration(customer_email=BUYER))["id"])
        for step in (ch.confirm, ch.eight_d, ch.plan, ch.manager_decides, ch.implement):
            with database.session() as session:
                step(session, iid)
        with database.session() as session:
            assert "customer_feedback" in ch.ready_names(session, iid)
        return iid
    finally:
        database.dispose()
        engine.clear_caches()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_a_double_click_on_send_files_one_complaint(chromium, portal):
    """The form is sent once (app.js); were it sent twice, its one-time token would file one case."""
    address = "double.click@example.com"
    context = chromium.new_context(locale="en-US")
    context.set_default_timeout(15000)
    customer = context.new_page()
    customer.goto(portal["base"] + "/portal/file/complaint")
    _fill(customer, {"customer_name": "Double Click Ltd", "customer_email": address, "complaint_type": "packaging",
                     "product_model": "NLS-HR200", "description": "Cartons arrived crushed."})
    sent: list[str] = []
    customer.on("request", lambda request: sent.append(request.url) if request.method == "POST" else None)
    send = customer.locator("form.schema-form button[type=submit]")
    send.scroll_into_view_if_needed()
    box = send.bounding_box()
    assert box is not None
    for _click in range(2):  # two clicks, the second while the first's answer is on the way
        customer.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        customer.wait_for_timeout(30)
    customer.wait_for_selector("[data-testid=portal-number]")
    assert sent == [portal["base"] + "/portal/file/complaint"]  # the second click sent nothing
    number = customer.locator("[data-testid=portal-number]").inner_text().strip()
    database = store.Database(f"sqlite:///{portal['instance'] / 'e2e.sqlite3'}")
    try:
        with database.session() as session:
            rows = session.execute(select(store.ProcessInstance.business_key, store.ProcessInstance.data)).all()
            filed = [key for key, data in rows if data.get("customer_email") == address]
    finally:
        database.dispose()
    assert filed == [number]
    context.close()
