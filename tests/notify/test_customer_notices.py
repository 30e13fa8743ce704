"""Customer notices of the shipped diagrams, delivered to a real SMTP server (aiosmtpd).

A whole complaint (acknowledgement, then closure), an invalid complaint (the tactful reply) and
a chargeable repair (repair number, fee notice with the F14 PDF, shipped-back notice with the
F15 repair report) run through the engine like ``tests/scenarios``; the sender delivers the
outbox and the test reads what each address received, in which language, with which PDF.
"""
from __future__ import annotations

import datetime as dt
import io
import shutil
import sys
from email.message import EmailMessage
from pathlib import Path

import pypdf
import pytest
from notify_helpers import SHIPPED
from sqlalchemy import select
from story_time import on_the_day

import engine
from caseflow import accounts, clock, store
from caseflow.notify import deadlines
from caseflow.notify.sender import Sender

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scenarios"))
from repair_cases import CALLER_BUNDLE  # noqa: E402

import complaint_helpers as ch  # noqa: E402  (the scenario drivers, after the path set-up)

CUSTOMER = "buyer@huaxin.example"
APPLICANT = "li.wei@example.com"
APPLICATION = {
    "customer_name": "Huaxin Trading Co.", "customer_contact": "Li Wei", "address": "88 Zhongshan Road, Nanjing",
    "recipient": "Li Wei", "phone": "+86 25 8888 0000", "email": APPLICANT, "product_model": "NLS-HR200",
    "serial_no": "SN20250601-0042", "purchase_date": "2025-06-01", "warranty_claim": "in",
    "fault_description": "Scanner does not power on after a firmware update.", "accessories": "USB cable removed",
}
FEE_NOTICE = {"fee_amount": 450, "fee_breakdown": "Housing 200, connector 150, labour 100",
              "payment_instructions": "Bank of China Fuzhou, acct 1234 5678", "fee_notice_date": "2026-03-05",
              "fee_notice_sent_via": "email"}
REPAIR_WORK = {"work_done": "Replaced the housing and the USB connector.",
               "parts_used": [{"part_no": "HS-9", "part_name": "Housing", "quantity": 1, "unit_price": 200}],
               "test_result": "Power-on, scan and 24 h burn-in test passed.", "technician": "Chen Gang",
               "repair_completed_date": "2026-03-12"}
SHIP_BACK = {"carrier": "SF Express", "tracking_no": "SF1234567890", "shipped_date": "2026-03-13",
             "repair_report_enclosed": True}


@pytest.fixture
def deployed(database: store.Database, frozen_clock) -> store.Database:
    """The shipped bundles, and staff with addresses: quality in English, customer service in Chinese."""
    with database.session() as s:
        engine.deploy(s, SHIPPED, actor="admin")
        for name, role, mail, locale in (("qa1", "quality", "qa1@factory.example", "en"),
                                         ("cs1", "customer_service", "cs1@factory.example", "zh"),
                                         ("svc1", "service_center", "svc1@factory.example", "en")):
            user = accounts.create_user(s, name, "a-long-password-1", [role], locale=locale)
            user.email, user.notify_tasks = mail, "immediate"
    return database


def notices(db: store.Database) -> list[tuple[str, str, str]]:
    """(recipient, template, language) of every customer notice in the outbox, in order."""
    with db.session() as s:
        rows = s.execute(select(store.Notification.recipient, store.Notification.template,
                                store.Notification.language)
                         .where(store.Notification.kind == "notice").order_by(store.Notification.id))
        return [tuple(r) for r in rows]  # type: ignore[misc]


def pdf_of(msg: EmailMessage) -> tuple[str, str]:
    """(file name, text) of the one PDF attached to ``msg``."""
    parts = [p for p in msg.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert len(parts) == 1, [p.get_content_type() for p in msg.iter_attachments()]
    content = parts[0].get_content()
    assert content.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(content))
    return str(parts[0].get_filename()), "\n".join(page.extract_text() for page in reader.pages)


def subjects(inbox, address: str) -> list[str]:
    """The subjects ``address`` received, in order (a folded long subject comes back with a leading space)."""
    return [str(m["Subject"]).strip() for m in inbox.to(address)]


def step(db: store.Database, iid: int, name: str, values: dict) -> dict:
    """Complete the ready task ``name`` (as a tool acting for its role) in its own transaction."""
    with db.session() as s:
        task, = [t for t in engine.list_tasks(s, instance_id=iid) if t["name"] == name]
        on_the_day(values)
        view = engine.complete(s, task["id"], values, actor=engine.Actor.tool("svc1"))
    assert view["status"] != "error", view["error"]
    return view


def test_a_whole_complaint_mails_the_acknowledgement_then_the_closure(deployed, mail_settings, smtp_server):
    registration = ch.quality_registration(customer_email=CUSTOMER)
    with deployed.session() as s:
        iid = ch.start(s, registration)["id"]
        number = ch.data(s, iid)["complaint_no"]
        ch.confirm(s, iid)
        ch.eight_d(s, iid)
        ch.plan(s, iid)
        ch.manager_decides(s, iid)
        ch.implement(s, iid)
        ch.feedback(s, iid)
        closed = ch.verify_and_close(s, iid)
    assert closed["status"] == "completed" and closed["data"]["outcome"] == "closed"
    assert notices(deployed) == [(CUSTOMER, "complaint_acknowledgement", "zh"), (CUSTOMER, "complaint_closure", "zh")]

    Sender(deployed, mail_settings).run_once()
    customer = subjects(smtp_server, CUSTOMER)
    assert customer[0] == f"您的投诉已受理,编号 {number}" and customer[-1] == f"您的投诉 {number} 已结案"
    assert all(s.startswith("请您处理:") for s in customer[1:-1])  # links to the customer's own tasks
    closure = smtp_server.to(CUSTOMER)[-1]
    assert "Huaxin Electronics" in smtp_server.text(closure) and "PN-4711" in smtp_server.text(closure)
    assert number in closure.get_body(("html",)).get_content()
    assert list(closure.iter_attachments()) == []
    # Staff hear of their tasks in their own language: quality in English, customer service in Chinese.
    quality = subjects(smtp_server, "qa1@factory.example")
    assert f"New task: Check validity and confirm grade ({number})" in quality
    assert f"New task: Verify CAPA effectiveness ({number})" in quality
    assert quality[0] == f"New task: Check validity and confirm grade ({number})"
    assert quality[-1] == f"New task: Close and summarise (lessons learned) ({number})"
    assert all(s.startswith("New task: ") for s in quality) and len(quality) >= 7
    service = subjects(smtp_server, "cs1@factory.example")
    assert service and all(s.startswith("新任务:") for s in service)
    assert smtp_server.to("svc1@factory.example") == []  # no repair in this plan
    with deployed.session() as s:  # the case records the notices it sent
        sent = [e for e in engine.audit_log(s, iid) if e["kind"] == "notice"]
    assert [e["task"] for e in sent] == ["send_acknowledgement", "send_closure_notice"]


def test_an_invalid_complaint_gets_the_written_reply(deployed, mail_settings, smtp_server):
    reply = "We re-tested the 20 returned units: all power on.\nThe fault came from a 5 V adapter."
    with deployed.session() as s:
        iid = ch.start(s, ch.quality_registration(customer_email=CUSTOMER))["id"]
        number = ch.data(s, iid)["complaint_no"]
        ch.confirm(s, iid, complaint_valid=False, invalid_reason="Adapter fault, not the product.")
        done = ch.complete(s, iid, "reply_invalid", {"reply_text": reply, "reply_channel": "email",
                                                     "replied_on": "2026-03-03"}, role="customer_service")
    assert done["status"] == "completed" and done["data"]["outcome"] == "rejected"
    assert [t for _to, t, _lang in notices(deployed)] == ["complaint_acknowledgement", "complaint_invalid_reply"]
    Sender(deployed, mail_settings).run_once()
    answer = smtp_server.to(CUSTOMER)[-1]
    assert answer["Subject"] == f"关于您的投诉 {number} 的答复"
    assert reply in smtp_server.text(answer)
    assert "The fault came from a 5 V adapter." in answer.get_body(("html",)).get_content()


def test_an_invalid_complaint_without_an_address_sends_nothing_and_ends(deployed, mail_settings, smtp_server):
    with deployed.session() as s:
        iid = ch.start(s, ch.quality_registration())["id"]
        ch.confirm(s, iid, complaint_valid=False, invalid_reason="Adapter fault, not the product.")
        done = ch.complete(s, iid, "reply_invalid", {"reply_text": "Explained by phone.", "reply_channel": "phone",
                                                     "replied_on": "2026-03-03"}, role="customer_service")
    assert done["status"] == "completed" and notices(deployed) == []


def repair_at_fee_answer(db: store.Database) -> dict:
    """Application to the fee notice sent: man-made damage in warranty is charged (RPR-12); the
    instance view once the customer's fee answer is the ready task."""
    with db.session() as s:
        iid = engine.start(s, "repair", APPLICATION, actor="cs1")["id"]
    step(db, iid, "review_application", {"review_opinion": "Mail-in repair needed.", "remote_fixable": False})
    step(db, iid, "send_shipping_instructions", {"ship_to_address": "Service centre, 1 Keji Road, Fuzhou",
                                                 "shipping_method": "express", "instructions_sent_via": "email"})
    step(db, iid, "receive_device", {"received_date": "2026-03-04", "repair_number_on_parcel": True})
    view = step(db, iid, "diagnose_device", {
        "fault_cause": "man_made", "diagnosis": "Housing cracked, connector torn off.", "estimated_fee": 450,
        "parts": [{"part_no": "HS-9", "part_name": "Housing", "quantity": 1, "unit_price": 200},
                  {"part_no": "CN-2", "part_name": "USB connector", "quantity": 1, "unit_price": 150}]})
    assert view["data"]["chargeable"] is True
    return step(db, iid, "send_fee_notice", FEE_NOTICE)


def run_chargeable_repair(db: store.Database) -> tuple[int, str]:
    """Application to shipped back: man-made damage in warranty is charged (RPR-12), fee accepted and paid."""
    view = repair_at_fee_answer(db)
    iid, number = view["id"], view["data"]["repair_number"]
    step(db, iid, "record_fee_decision", {"fee_decision": "accepted", "fee_decision_date": "2026-03-06"})
    step(db, iid, "confirm_payment", {"payment_confirmed_date": "2026-03-10", "payment_date": "2026-03-09",
                                      "payment_amount": 450, "payment_reference": "RS-778"})
    step(db, iid, "repair_device", REPAIR_WORK)
    step(db, iid, "ship_back", SHIP_BACK)
    done = step(db, iid, "notify_customer_shipped", {"ship_notice_via": "phone"})
    assert done["status"] == "completed" and done["data"]["repair_outcome"] == "repaired"
    return iid, number


def test_a_chargeable_repair_mails_the_fee_notice_and_the_repair_report_as_pdf(deployed, mail_settings,
                                                                                 smtp_server):
    iid, number = run_chargeable_repair(deployed)
    assert notices(deployed) == [(APPLICANT, "repair_shipping_instructions", "zh"),
                                 (APPLICANT, "repair_fee_notice", "zh"), (APPLICANT, "repair_shipped", "zh")]
    Sender(deployed, mail_settings).run_once()
    by_subject = {m["Subject"]: m for m in smtp_server.to(APPLICANT)}
    assert f"维修编号 {number}:寄送说明" in by_subject

    fee = by_subject[f"维修费用通知单 {number}:请确认"]
    text = smtp_server.text(fee)
    assert "维修费用为 450.00 元" in text  # the F14 sheet is the mail body ...
    for shown in ("维修费用(元): 450.00", "费用明细: Housing 200, connector 150, labour 100",
                  "汇款信息: Bank of China Fuzhou, acct 1234 5678", "故障原因: 人为损坏", "CN-2 | USB connector"):
        assert shown in text, shown
    html = fee.get_body(("html",)).get_content()
    assert "Bank of China Fuzhou" in html and "<table" in html
    name, pdf_text = pdf_of(fee)  # ... and the attachment
    assert name == f"F14-{number}.pdf"
    assert "维修费用通知单" in pdf_text and number in pdf_text and "450.00" in pdf_text
    assert "Bank of China Fuzhou" in pdf_text and "USB connector" in pdf_text

    shipped = by_subject[f"维修编号 {number}:设备已寄回"]
    text = smtp_server.text(shipped)
    assert "运单号 SF1234567890" in text and "维修内容: Replaced the housing and the USB connector." in text
    assert "维修人员: Chen Gang" in text and "测试结果: Power-on, scan and 24 h burn-in test passed." in text
    name, pdf_text = pdf_of(shipped)
    assert name == f"F15-{number}.pdf"
    assert "维修报告" in pdf_text and "Chen Gang" in pdf_text and "SF1234567890" in pdf_text
    # Staff mails carry no attachment; the service centre reads English.
    assert all(not list(m.iter_attachments()) for m in smtp_server.to("svc1@factory.example"))
    assert f"New task: Diagnose fault ({number})" in subjects(smtp_server, "svc1@factory.example")


def test_a_declined_fee_mails_the_unrepaired_return_with_its_tracking_number(deployed, mail_settings, smtp_server):
    """The customer declines the repair fee: the device goes back unrepaired, and the applicant hears
    of it with the carrier and tracking number, in the case's language."""
    with deployed.session() as s:
        iid = engine.start(s, "repair", APPLICATION, actor="cs1")["id"]
    number = step(deployed, iid, "review_application", {"review_opinion": "Mail-in repair needed.",
                                                        "remote_fixable": False})["data"]["repair_number"]
    step(deployed, iid, "send_shipping_instructions", {"ship_to_address": "Service centre, 1 Keji Road, Fuzhou",
                                                       "shipping_method": "express", "instructions_sent_via": "email"})
    step(deployed, iid, "receive_device", {"received_date": "2026-03-04", "repair_number_on_parcel": True})
    step(deployed, iid, "diagnose_device", {"fault_cause": "man_made", "diagnosis": "Housing cracked.",
                                            "estimated_fee": 450})
    step(deployed, iid, "send_fee_notice", FEE_NOTICE)
    step(deployed, iid, "record_fee_decision", {"fee_decision": "declined", "fee_decision_date": "2026-03-06",
                                                "fee_decline_reason": "Too expensive for an old unit."})
    done = step(deployed, iid, "return_unrepaired", {"carrier": "SF Express", "tracking_no": "SF5550001",
                                                     "shipped_date": "2026-03-07"})
    assert done["status"] == "completed" and done["data"]["repair_outcome"] == "returned_unrepaired"
    assert notices(deployed)[-1] == (APPLICANT, "repair_returned_unrepaired", "zh")
    Sender(deployed, mail_settings).run_once()
    (mail,) = [m for m in smtp_server.to(APPLICANT) if "不修退回" in str(m["Subject"])]
    assert str(mail["Subject"]).strip() == f"维修编号 {number}:设备已不修退回"
    text = smtp_server.text(mail)
    for shown in ("人民币 450.00 元", "SF Express", "运单号 SF5550001", "2026-03-07", "NLS-HR200"):
        assert shown in text, shown


def test_a_notice_inside_a_called_repair_shows_the_repair_data(deployed, mail_settings, smtp_server):
    """A repair called by another process (as a complaint calls it) mails its fee notice with its own values."""
    with deployed.session() as s:
        engine.deploy(s, [CALLER_BUNDLE], actor="admin")
        passed = {k: v for k, v in APPLICATION.items() if k not in ("recipient", "warranty_claim")}
        iid = engine.start(s, "repair_caller_test", {**passed, "complaint_no": "CP-2026-000007"}, actor="cs1")["id"]
    step(deployed, iid, "complete_application", {**passed, "recipient": "Li Wei", "warranty_claim": "in"})
    step(deployed, iid, "review_application", {"review_opinion": "Mail-in.", "remote_fixable": False})
    step(deployed, iid, "send_shipping_instructions", {"ship_to_address": "Fuzhou", "shipping_method": "express",
                                                       "instructions_sent_via": "email"})
    step(deployed, iid, "receive_device", {"received_date": "2026-03-04", "repair_number_on_parcel": True})
    step(deployed, iid, "diagnose_device", {"fault_cause": "man_made", "diagnosis": "Cracked.", "estimated_fee": 90})
    step(deployed, iid, "send_fee_notice", {**FEE_NOTICE, "fee_amount": 90})
    with deployed.session() as s:
        sent, = [e for e in engine.audit_log(s, iid) if e["task"] == "email_fee_notice"]
    number = sent["payload"]["last_notice"]["args"]["repair_number"]
    Sender(deployed, mail_settings).run_once()
    fee, = [m for m in smtp_server.to(APPLICANT) if m["Subject"] == f"维修费用通知单 {number}:请确认"]
    assert "维修费用为 90.00 元" in smtp_server.text(fee)
    assert pdf_of(fee)[0] == f"F14-{number}.pdf" and "90.00" in pdf_of(fee)[1]


def test_changing_the_template_in_the_diagram_changes_the_mail_with_no_code_change(deployed, mail_settings,
                                                                                   smtp_server, tmp_path):
    """Acceptance 3: the closure step of the complaint diagram names another template; redeployed, the
    next complaint closes with that mail."""
    bundle = tmp_path / "complaint"
    shutil.copytree(ch.COMPLAINT_BUNDLE, bundle)
    diagram = bundle / "complaint.bpmn"
    text = diagram.read_text(encoding="utf-8")
    marker = '<spiffworkflow:parameter id="template" type="str" value="\'complaint_invalid_reply\'" />'
    assert text.count(marker) == 1
    diagram.write_text(text.replace(marker, marker.replace("complaint_invalid_reply", "complaint_closure")),
                       encoding="utf-8")
    with deployed.session() as s:
        deployed_now = engine.deploy(s, [bundle, *(p for p in SHIPPED if p.name != "complaint")], actor="admin")
        assert {r.key: r.version for r in deployed_now}["complaint"] == 2
        iid = ch.start(s, ch.quality_registration(customer_email=CUSTOMER))["id"]
        number = ch.data(s, iid)["complaint_no"]
        ch.confirm(s, iid, complaint_valid=False, invalid_reason="Adapter fault, not the product.")
        ch.complete(s, iid, "reply_invalid", {"reply_text": "Explained.", "reply_channel": "email",
                                              "replied_on": "2026-03-03"}, role="customer_service")
    Sender(deployed, mail_settings).run_once()
    assert subjects(smtp_server, CUSTOMER) == [f"您的投诉已受理,编号 {number}", f"您的投诉 {number} 已结案"]


def test_an_unanswered_fee_notice_is_told_overdue_to_the_staff_who_speak_for_customers(
        deployed, frozen_clock, mail_settings, smtp_server):
    """The customer's fee answer is due fee_answer_wd (3) working days after the notice; past that,
    the roles of CASEFLOW_PORTAL_STAFF_ROLES hear of it (the customer role has no users to tell)."""
    with deployed.session() as s:
        for name, role in (("cs9", "customer_service"), ("sc9", "service_center"), ("fin9", "finance")):
            accounts.create_user(s, name, "a-long-password-1", [role]).notify_tasks = "none"
    view = repair_at_fee_answer(deployed)
    iid = view["id"]
    due = dt.datetime.fromisoformat(view["data"]["fee_answer_due"])

    def told() -> list[str]:
        with deployed.session() as s:
            return sorted(s.scalars(select(store.Notification.recipient).where(
                store.Notification.kind == deadlines.OVERDUE, store.Notification.channel == "in_app",
                store.Notification.instance_id == iid)))

    deadlines.queue(deployed, mail_settings)
    assert told() == []
    clock.set(due + dt.timedelta(seconds=1))
    deadlines.queue(deployed, mail_settings)
    assert "cs9" in told() and "sc9" in told() and "fin9" not in told()
    with deployed.session() as s:
        args = s.scalars(select(store.Notification.args).where(store.Notification.kind == deadlines.OVERDUE,
                                                               store.Notification.recipient == "cs9")).one()
    assert args["role"] == "customer" and args["task_title"] == "Record customer's fee answer"
