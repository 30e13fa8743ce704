"""Whole cases through the UI with the test client: a complaint from registration to closure
by customer service, quality and the manager; a chargeable repair with its fee notice.
"""
from __future__ import annotations

import re

from sqlalchemy import select
from story_time import on_the_day

import engine
from caseflow import store

ROLE_USER = {"customer_service": "service", "quality": "quality", "manager": "manager",
             "general_manager": "gm", "service_center": "repair", "finance": "finance",
             "customer": "service", "marketing": "marketing", "production": "production",
             "logistics": "logistics"}  # customer tasks (portal lane): completed here by staff for the customer

REGISTRATION = {
    "channel": "phone", "customer_name": "Huaxin Electronics", "customer_code": "C-1001",
    "customer_contact": "Ms Li 138-0000-0000", "product_no": "P-77", "product_model": "PX-2",
    "order_no": "SO-2026-0042", "ship_date": "2026-02-20", "ship_qty": "1000", "found_stage": "incoming",
    "description": "Scratches on the housing of 3 units", "customer_request": "Exchange the units",
    "complaint_type": "quality", "functional_defect_qty": "0", "cosmetic_defect_qty": "3", "lot_size": "1000",
}

COMPLAINT_ANSWERS = {
    "confirm_grade": {"complaint_valid": "true", "override_grade": "false", "validity_notes": "Photos checked"},
    "d1_describe": {"problem_description": "Housing scratched in transit packing", "containment_needed": "false"},
    "d3_root_cause": {"root_cause": "Missing foam insert", "responsibility": "internal"},
    "review_d2_d3": {"d2_d3_review_decision": "approve"},
    "d4_actions": {"corrective_actions": "Add foam insert", "preventive_actions": "Packing checklist"},
    "resolution_plan": {"plan_summary": "Exchange 3 units", "disposition_lines.0.kind": "exchange",
                        "disposition_lines.0.quantity": "3", "disposition_lines.0.amount": "360",
                        "delivery_amount": "120000"},
    "manager_approve_plan": {"manager_decision": "approve", "manager_comment": "OK"},
    # the exchange line runs the returned-goods process (PRODUCT.md §10)
    "receive_goods": {"goods_received_date": "2026-03-02", "received_qty": "3", "goods_condition": "Boxed"},
    "record_exchange_request": {"purchase_date": "2026-02-27", "request_date": "2026-03-02", "unsealed": "false",
                                "deteriorated": "false", "allergy": "false", "invoice_presented": "true",
                                "event_slip_presented": "true"},
    "test_goods": {"withdrawn_date": "2026-03-02", "tested_qty": "3", "defective_qty": "3",
                   "defect_phenomena.0.phenomenon": "Scratched housing", "defect_phenomena.0.quantity": "3",
                   "goods_test_result": "All 3 scratched", "tester": "Feng", "tested_date": "2026-03-02"},
    "dispose_goods": {"isolate_qty": "0", "rework_qty": "3", "repair_qty": "0", "scrap_qty": "0",
                      "return_to_stock_qty": "0", "disposed_date": "2026-03-02"},
    "ship_replacement": {"shipped_qty": "3", "shipment_date": "2026-03-02", "shipment_carrier": "SF",
                         "shipment_tracking_no": "SF123"},
    "notify_customer": {"notice_via": "phone", "notice_date": "2026-03-02", "notice_summary": "Exchanged"},
    "implement_notify": {"implementation_result": "Units exchanged", "customer_notified_on": "2026-03-02",
                         "notification_channel": "email"},
    "customer_feedback": {"customer_feedback": "Fine now", "satisfaction": "4", "satisfied": "true"},
    "capa_verify": {"capa_effective": "true", "verification_notes": "No repeat in 2 lots"},
    "close_summary": {"final_result": "Exchanged, closed", "lessons_learned": "Check packing"},
}


def ready_tasks(database, instance_id: int) -> list[store.HumanTask]:
    with database.session() as s:
        return list(s.scalars(select(store.HumanTask).where(store.HumanTask.instance_id == instance_id,
                                                             store.HumanTask.state == "ready")))


def work_through(database, browser, instance_id: int, answers: dict[str, dict], limit: int = 20) -> list[str]:
    """Complete the case's ready tasks, each by a user of its role, until none is left."""
    done = []
    for _round in range(limit):
        tasks = ready_tasks(database, instance_id)
        if not tasks:
            return done
        task = tasks[0]
        assert task.name in answers, f"no answers for task {task.name} ({task.title})"
        b = browser(ROLE_USER[task.role])
        assert b.get(f"/tasks/{task.id}").status_code == 200
        on_the_day(answers[task.name])
        response = b.post(f"/tasks/{task.id}", answers[task.name])
        assert response.status_code == 302, re.findall(r"class=\"(?:error|flash flash-error)\"[^>]*>([^<]*)",
                                                       response.get_data(as_text=True))
        done.append(task.name)
    raise AssertionError(f"case {instance_id} did not finish: {done}")


def test_complaint_from_registration_to_closure(app, database, deployed, browser, frozen_clock):
    service = browser("service")
    response = service.post("/start/complaint", REGISTRATION)
    assert response.status_code == 302
    instance_id = int(re.search(r"/cases/(\d+)", response.headers["Location"]).group(1))
    page = service.get(f"/cases/{instance_id}").get_data(as_text=True)
    assert "CP-2026-" in page and "Huaxin Electronics" in page

    done = work_through(database, browser, instance_id, COMPLAINT_ANSWERS)

    assert done[0] == "confirm_grade" and done[-1] == "close_summary"
    with database.session() as s:
        instance = s.get(store.ProcessInstance, instance_id)
        assert instance.status == "completed"
        assert instance.data["outcome"] == "closed"
        completers = set(s.scalars(select(store.HumanTask.completed_by)
                                   .where(store.HumanTask.instance_id == instance_id)))
    assert {"service", "quality", "manager"} <= completers
    case_page = service.get(f"/cases/{instance_id}").get_data(as_text=True)
    assert "Case closed" in case_page
    f04 = service.get(f"/cases/{instance_id}/print/f04").get_data(as_text=True)
    assert "Exchanged, closed" in f04 and "Check packing" in f04
    f09 = service.get(f"/cases/{instance_id}/print/f09").get_data(as_text=True)
    assert "Missing foam insert" in f09 and "Add foam insert" in f09


REPAIR_APPLICATION = {
    "customer_name": "Dalian Automation", "customer_contact": "Mr Zhao", "address": "1 Harbour Rd, Dalian",
    "recipient": "Mr Zhao", "phone": "0411-5555", "email": "zhao@example.com", "product_model": "PX-2",
    "serial_no": "SN-0001", "purchase_date": "2024-01-10", "warranty_claim": "out",
    "fault_description": "No display after power on",
}

REPAIR_ANSWERS = {
    "review_application": {"review_opinion": "Send it in", "remote_fixable": "false"},
    "send_shipping_instructions": {"ship_to_address": "Service centre, Suzhou", "shipping_method": "express",
                                   "instructions_sent_via": "email"},
    "receive_device": {"received_date": "2026-03-04"},
    "diagnose_device": {"fault_cause": "man_made", "diagnosis": "Cracked display board",
                        "parts.0.part_name": "Display board", "parts.0.quantity": "1", "parts.0.unit_price": "480",
                        "estimated_fee": "560"},
    "send_fee_notice": {"fee_amount": "560", "fee_breakdown": "Board 480, labour 80",
                        "payment_instructions": "ICBC 6222 0000", "fee_notice_date": "2026-03-05",
                        "fee_notice_sent_via": "fax"},
    "record_fee_decision": {"fee_decision": "accepted", "fee_decision_date": "2026-03-06"},
    "confirm_payment": {"payment_confirmed_date": "2026-03-07", "payment_amount": "560"},
    "repair_device": {"work_done": "Replaced display board", "parts_used.0.part_name": "Display board",
                      "parts_used.0.quantity": "1", "test_result": "24 h burn-in passed", "technician": "Wu",
                      "repair_completed_date": "2026-03-09"},
    "ship_back": {"carrier": "SF Express", "tracking_no": "SF123456", "shipped_date": "2026-03-10",
                  "repair_report_enclosed": "on"},
    "notify_customer_shipped": {"ship_notice_via": "phone"},
}


def test_repair_with_a_fee(app, database, deployed, browser, frozen_clock):
    service = browser("service")
    response = service.post("/start/repair", REPAIR_APPLICATION)
    assert response.status_code == 302
    instance_id = int(re.search(r"/cases/(\d+)", response.headers["Location"]).group(1))

    done = work_through(database, browser, instance_id, REPAIR_ANSWERS)

    assert "send_fee_notice" in done and "confirm_payment" in done
    with database.session() as s:
        instance = s.get(store.ProcessInstance, instance_id)
        assert instance.status == "completed"
        assert instance.data["chargeable"] is True and instance.data["repair_outcome"] == "repaired"
        number = instance.business_key
    assert number.startswith("RMA-2026-")
    f14 = service.get(f"/cases/{instance_id}/print/f14").get_data(as_text=True)
    assert number in f14 and "ICBC 6222 0000" in f14 and "Display board" in f14
    f15 = service.get(f"/cases/{instance_id}/print/f15").get_data(as_text=True)
    assert "Replaced display board" in f15 and "SF123456" in f15


def test_reviewers_see_the_work_so_far_and_a_rejection_reason(database, deployed, browser, task_id, frozen_clock):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scenarios"))
    import complaint_helpers as ch

    with database.session() as s:
        iid = ch.start(s, ch.quality_registration())["id"]
        ch.confirm(s, iid)
        ch.eight_d(s, iid)
        ch.plan(s, iid)
    manager = browser("manager")
    html = manager.get(f"/tasks/{task_id(manager, 'Approve resolution plan (ESC-LDR-01)')}").get_data(as_text=True)
    # The task's own facts (manifest task_fields) come first, the rest of the work folded below.
    work = html.split('data-testid="task-facts"', 1)[1].split("</details>", 1)[0]
    assert "Exchange the 20 units" in work and "5000" in work.replace(",", "")  # plan summary and its lines
    with database.session() as s:
        ch.manager_decides(s, iid, "reject", "Cheaper option please.")
    quality = browser("quality")
    html = quality.get(f"/tasks/{task_id(quality, 'Propose resolution plan')}").get_data(as_text=True)
    assert "Cheaper option please." in html.split('data-testid="task-facts"', 1)[1]
    # The revised plan's approval asks afresh (x-fresh): no decision and no reason from the last round.
    with database.session() as s:
        ch.plan(s, iid)
    again = manager.get(f"/tasks/{task_id(manager, 'Approve resolution plan (ESC-LDR-01)')}").get_data(as_text=True)
    form = again.split('<form method="post"', 1)[1]
    assert 'value="reject" selected' not in form and "checked" not in form.split("manager_decision", 1)[1][:600]
    assert "Cheaper option please." not in form.split("manager_comment", 1)[1][:800]


def test_intake_completion_lists_what_is_missing_in_words(database, deployed, browser, task_id):
    with database.session() as s:
        engine.start(s, "complaint", {"channel": "phone", "complaint_type": "quality", "customer_name": "ACME",
                                      "description": "Broken hinge"}, actor="service")
    b = browser("service")
    html = b.get(f"/tasks/{task_id(b, 'Complete intake data')}").get_data(as_text=True)
    banner = html.split('data-testid="missing-items"', 1)[1].split("</div>", 1)[0]
    assert "|" not in banner and " or " in banner and "Product no." in banner
    zh = browser("service", language="zh")
    banner = zh.get(f"/tasks/{task_id(b, 'Complete intake data')}").get_data(as_text=True)
    assert " 或 " in banner.split('data-testid="missing-items"', 1)[1].split("</div>", 1)[0]
