"""The outbox end to end: rows written with the change, delivered by the sender to a real SMTP server.

Each test uses a migrated SQLite database, the frozen clock (Monday 2026-03-02 09:00 Shanghai)
and the aiosmtpd server of ``conftest.py``.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from notify_helpers import SHIPPED
from sqlalchemy import select

import engine
from caseflow import accounts, clock, config, store
from caseflow.notify import sender as notify_sender
from caseflow.notify.sender import Sender

ROOT = Path(__file__).resolve().parents[2]
COMPLAINT = ROOT / "processes" / "complaint"
REPAIR = ROOT / "processes" / "repair"
CUSTOMER = "buyer@huaxin.example"

REGISTRATION = {
    "channel": "phone", "customer_name": "Huaxin Electronics", "customer_code": "C-0815",
    "customer_email": CUSTOMER, "product_no": "PN-4711", "ship_date": "2026-02-20", "ship_qty": 1000,
    "found_stage": "incoming", "description": "20 units do not power on at incoming inspection.",
    "complaint_type": "quality", "functional_defect_qty": 20, "cosmetic_defect_qty": 0, "lot_size": 1000,
}
APPLICATION = {
    "customer_name": "Huaxin Trading Co.", "customer_contact": "Li Wei", "address": "88 Zhongshan Road, Nanjing",
    "recipient": "Li Wei", "phone": "+86 25 8888 0000", "email": "li.wei@example.com", "product_model": "NLS-HR200",
    "serial_no": "SN20250601-0042", "purchase_date": "2025-06-01", "warranty_claim": "in",
    "fault_description": "Scanner does not power on after a firmware update.", "accessories": "USB cable removed",
}


def notifications(db: store.Database, **where: object) -> list[store.Notification]:
    with db.session() as s:
        stmt = select(store.Notification).order_by(store.Notification.id)
        for key, value in where.items():
            stmt = stmt.where(getattr(store.Notification, key) == value)
        return list(s.scalars(stmt))


@pytest.fixture
def staff(database: store.Database, frozen_clock):
    """Deployed processes and quality staff: en at once, zh digest, one without an address, a manager."""
    with database.session() as s:
        engine.deploy(s, SHIPPED, actor="admin")
        for name, roles, mail, locale, choice in (
                ("qa1", ["quality"], "qa1@factory.example", "en", "immediate"),
                ("qa2", ["quality"], "qa2@factory.example", "zh", "digest"),
                ("qa3", ["quality"], None, "zh", "immediate"),
                ("qa4", ["quality"], "qa4@factory.example", "en", "none"),
                ("mgr1", ["manager"], "mgr1@factory.example", "zh", "none"),
                ("adm", ["admin"], "adm@factory.example", "en", "immediate")):
            user = accounts.create_user(s, name, "a-long-password-1", roles, locale=locale)
            user.email, user.notify_tasks = mail, choice
    return database


def test_a_complaint_mails_the_customer_and_the_staff_each_in_their_language(staff, mail_settings, smtp_server):
    with staff.session() as s:
        view = engine.start(s, "complaint", REGISTRATION, actor="cs1")
    number = view["business_key"]
    assert smtp_server.messages == []  # nothing is sent inside the transaction
    # In the outbox: the acknowledgement, one e-mail per staff member by choice, in-app for everyone.
    assert {(n.recipient, n.status) for n in notifications(staff, channel="email")} == {
        (CUSTOMER, "pending"), ("qa1@factory.example", "pending"), ("qa2@factory.example", "digest")}
    assert {n.recipient for n in notifications(staff, channel="in_app")} == {"qa1", "qa2", "qa3", "qa4"}

    assert Sender(staff, mail_settings).run_once() == 2
    ack, = smtp_server.to(CUSTOMER)
    assert ack["Subject"] == f"您的投诉已受理,编号 {number}"
    assert number in smtp_server.text(ack) and "Huaxin Electronics" in smtp_server.text(ack)
    assert ack.get_body(("html",)) is not None and number in ack.get_body(("html",)).get_content()
    task_mail, = smtp_server.to("qa1@factory.example")
    assert task_mail["Subject"] == f"New task: Check validity and confirm grade ({number})"
    assert f"https://caseflow.factory.example/cases/{view['id']}" in smtp_server.text(task_mail)
    assert smtp_server.to("qa2@factory.example") == [] and smtp_server.to("qa4@factory.example") == []
    assert Sender(staff, mail_settings).run_once() == 0  # sent once
    assert {n.status for n in notifications(staff, channel="email") if n.status != "digest"} == {"sent"}

    # The daily digest: the next 08:00 Shanghai folds qa2's held task e-mails into one, in Chinese.
    clock.set(dt.datetime(2026, 3, 3, 0, 1, tzinfo=dt.UTC))  # 08:01 Shanghai
    assert Sender(staff, mail_settings).run_once() == 1
    digest, = smtp_server.to("qa2@factory.example")
    assert digest["Subject"] == "Caseflow:您有 1 项新任务"
    assert "判断投诉成立并确认等级" in smtp_server.text(digest)  # the Chinese title the inbox shows
    assert "Check validity and confirm grade" not in smtp_server.text(digest)
    assert [n.status for n in notifications(staff, recipient="qa2@factory.example")] == ["digested", "sent"]


def test_an_escalation_mails_the_escalated_to_role_even_when_task_mails_are_off(staff, mail_settings, smtp_server):
    with staff.session() as s:
        view = engine.start(s, "complaint", REGISTRATION, actor="cs1")
    with staff.session() as s:
        clock.advance(dt.timedelta(days=3))
        engine.fire_due_timers(s)
    escalations = notifications(staff, kind="escalation", channel="email")
    assert escalations, "the reaction deadline passed: an escalation"
    assert {n.recipient for n in escalations} <= {"mgr1@factory.example"}
    Sender(staff, mail_settings).run_once()
    mails = smtp_server.to("mgr1@factory.example")
    assert mails and all(m["Subject"].startswith(f"升级:{view['business_key']} 已超时") for m in mails)
    assert any("响应期限" in m["Subject"] for m in mails) and not any("react_by" in m["Subject"] for m in mails)
    assert "主管领导" in smtp_server.text(mails[0])  # the level in words, not its key
    assert {n.recipient for n in notifications(staff, kind="escalation", channel="in_app")} == {"mgr1"}


INSTRUCTIONS = {"ship_to_address": "Service centre, 1 Keji Road, Fuzhou", "shipping_method": "express",
                "instructions_sent_via": "email", "instructions_note": "Please include the power adapter."}


def _give_shipping_instructions(db, iid: int) -> dict:
    """The service centre's review (mail-in) and its shipping instructions."""
    for name, values in (("review_application", {"review_opinion": "Mail-in repair needed.", "remote_fixable": False}),
                         ("send_shipping_instructions", INSTRUCTIONS)):
        with db.session() as s:
            task, = [t for t in engine.list_tasks(s, instance_id=iid) if t["name"] == name]
            view = engine.complete(s, task["id"], values, actor=engine.Actor.tool("svc1"))
    return view


def test_the_repair_number_goes_out_with_the_shipping_instructions_and_the_address(staff, mail_settings,
                                                                                   smtp_server):
    """The mail follows the service centre's instructions: the customer learns where to ship, not only how."""
    with staff.session() as s:
        iid = engine.start(s, "repair", APPLICATION, actor="cs1")["id"]
    number = _give_shipping_instructions(staff, iid)["data"]["repair_number"]
    Sender(staff, mail_settings).run_once()
    mail, = [m for m in smtp_server.to("li.wei@example.com") if "寄送说明" in m["Subject"]]  # beside the link mail
    assert mail["Subject"] == f"维修编号 {number}:寄送说明"
    text = smtp_server.text(mail)
    assert number in text and "快递" in text
    assert "寄送地址:Service centre, 1 Keji Road, Fuzhou" in text and "Please include the power adapter." in text


def test_the_diagram_chooses_the_notice_language_with_no_code_change(staff, mail_settings, smtp_server, tmp_path):
    bundle = tmp_path / "repair"
    shutil.copytree(REPAIR, bundle)
    diagram = bundle / "repair.bpmn"
    text = diagram.read_text(encoding="utf-8")
    marker = ('<spiffworkflow:parameter id="template" type="str" value="\'repair_shipping_instructions\'" />\n'
              '            <spiffworkflow:parameter id="recipient_key" type="str" value="\'email\'" />\n'
              '            <spiffworkflow:parameter id="language" type="str" value="\'zh\'" />')
    assert text.count(marker) == 1
    diagram.write_text(text.replace(marker, marker.replace("'zh'", "'en'")), encoding="utf-8")
    with staff.session() as s:
        assert engine.deploy(s, [bundle], actor="admin")[0].version == 2
        iid = engine.start(s, "repair", APPLICATION, actor="cs1")["id"]
    _give_shipping_instructions(staff, iid)
    Sender(staff, mail_settings).run_once()
    mail, = [m for m in smtp_server.to("li.wei@example.com") if m["Subject"].startswith("Repair number")]
    assert mail["Subject"].startswith("Repair number RMA-2026-") and "express courier" in smtp_server.text(mail)
    assert "Ship to: Service centre, 1 Keji Road, Fuzhou" in smtp_server.text(mail)


def test_a_failed_delivery_is_retried_with_exponential_backoff_and_sent_once(staff, mail_settings, smtp_server):
    with staff.session() as s:
        engine.start(s, "complaint", REGISTRATION, actor="cs1")
    smtp_server.refuse = ["451 4.3.0 try again later"] * 4  # both mails, in the first two rounds
    sender = Sender(staff, mail_settings)
    assert sender.run_once() == 0
    ack, = notifications(staff, recipient=CUSTOMER)
    assert (ack.status, ack.attempts) == ("pending", 1)
    assert "451" in (ack.last_error or "")
    assert ack.next_attempt_at == clock.now() + dt.timedelta(seconds=30)
    assert sender.run_once() == 0  # not due yet: nothing is tried
    clock.advance(dt.timedelta(seconds=30))
    assert sender.run_once() == 0
    ack, = notifications(staff, recipient=CUSTOMER)
    assert ack.attempts == 2 and ack.next_attempt_at == clock.now() + dt.timedelta(seconds=60)
    clock.advance(dt.timedelta(seconds=60))
    assert sender.run_once() == 2
    assert len(smtp_server.to(CUSTOMER)) == 1
    ack, = notifications(staff, recipient=CUSTOMER)
    assert (ack.status, ack.attempts, ack.sent_at) == ("sent", 3, clock.now())


def test_a_permanent_refusal_fails_at_once_and_an_admin_retry_sends_it(staff, mail_settings, smtp_server):
    from caseflow.notify import admin as notify_admin

    with staff.session() as s:
        engine.start(s, "complaint", REGISTRATION, actor="cs1")
    smtp_server.refuse = ["550 5.1.1 mailbox unavailable"]
    Sender(staff, mail_settings).run_once()
    failed, = notifications(staff, status="failed")
    assert "550" in (failed.last_error or "")
    with staff.session() as s:
        listed = notify_admin.undelivered(s)
        assert [(n.id, n.status) for n in listed if n.status == "failed"] == [(failed.id, "failed")]
        assert notify_admin.retry(s, failed.id) is True
        assert notify_admin.retry(s, failed.id) is False  # only a failed row can be retried
    assert Sender(staff, mail_settings).run_once() == 1
    assert len(smtp_server.messages) == 2


def test_without_smtp_delivery_is_off_and_the_outbox_still_fills(staff):
    settings = dataclasses.replace(config.load(), smtp=None)
    with staff.session() as s:
        engine.start(s, "complaint", REGISTRATION, actor="cs1")
    sender = Sender(staff, settings)
    assert not sender.enabled and sender.run_once() == 0
    stop, thread = notify_sender.start_background(staff, settings)  # it runs (webhooks), sends no e-mail
    stop.set()
    thread.join(10)
    assert {n.status for n in notifications(staff, channel="email")} == {"pending", "digest"}


CRASHING_SENDER = textwrap.dedent("""
    import dataclasses, os, signal, sys
    sys.path.insert(0, {root!r})
    from caseflow import config, store
    from caseflow.notify.sender import Sender

    class Crash:
        def connection(self):
            os.kill(os.getpid(), signal.SIGKILL)  # the process dies after the claim, before any delivery

    smtp = config.SmtpSettings("127.0.0.1", {port}, None, None, False, "caseflow@factory.example")
    settings = dataclasses.replace(config.load(), smtp=smtp)
    Sender(store.Database({url!r}), settings, mailer=Crash()).run_once()
""")


def test_a_sender_killed_between_commit_and_delivery_loses_nothing_and_sends_once(staff, mail_settings,
                                                                                    smtp_server):
    with staff.session() as s:
        engine.start(s, "complaint", REGISTRATION, actor="cs1")
    script = CRASHING_SENDER.format(root=str(ROOT), port=smtp_server.port, url=staff.url)
    done = subprocess.run([sys.executable, "-c", script], env={**os.environ}, timeout=60)
    assert done.returncode == -signal.SIGKILL
    claimed = notifications(staff, channel="email", status="sending")
    # (the subprocess runs on the real clock: past the next 08:00, so qa2's digest was due too)
    assert {n.recipient for n in claimed} == {CUSTOMER, "qa1@factory.example", "qa2@factory.example"}
    assert smtp_server.messages == []
    # The restarted sender takes the rows again once the dead sender's claim lapsed, and sends each once.
    # (by then the task is past its deadline too: its overdue mails are new rows, left out here)
    clock.set(max(n.next_attempt_at for n in claimed))
    Sender(staff, mail_settings).run_once()
    assert Sender(staff, mail_settings).run_once() == 0
    assert {n.status for n in notifications(staff, channel="email") if n.id in {c.id for c in claimed}} == {"sent"}
    resent = [m for m in smtp_server.messages if not m["Subject"].startswith("Overdue")
              and not m["Subject"].startswith("已超期")]
    assert sorted(m["To"] for m in resent) == [CUSTOMER, "qa1@factory.example", "qa2@factory.example"]
    assert len({m["Message-ID"] for m in resent}) == 3


def test_a_case_stopped_by_an_error_tells_the_admins(staff, mail_settings, smtp_server):
    from types import SimpleNamespace

    from caseflow._engine import outbox, rows

    with staff.session() as s:
        view = engine.start(s, "complaint", REGISTRATION, actor="cs1")
    case = SimpleNamespace(id=view["id"], process_key="complaint", business_key=view["business_key"],
                           status="error",
                           data={"complaint_no": view["business_key"]}, error="grade_complaint: lot_size: -1",
                           directory=None)
    with staff.session() as s:
        written = outbox.write(s, case, [], [rows.event("qa1", "error", "grade", {"message": case.error}),
                                             rows.event("system", "notice", "ack", {"last_notice": {"to": None}})])
    assert written == 2  # in-app and e-mail to the one admin; a notice without an address sends nothing
    Sender(staff, mail_settings).run_once()
    mail, = smtp_server.to("adm@factory.example")
    assert mail["Subject"] == f"Case {view['business_key']} stopped with an error"
    assert "grade_complaint: lot_size: -1" in smtp_server.text(mail)
