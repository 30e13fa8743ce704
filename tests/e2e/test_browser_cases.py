"""In a real browser against ``caseflow serve``: a complaint from registration to closure by
customer service, quality and the manager, and a repair with a fee (service centre, customer
service, finance). A screenshot of the case page with its diagram goes to test-artifacts/.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from story_time import business_today

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.browser

REGISTRATION = {
    "channel": "phone", "customer_name": "华信电子 Huaxin", "customer_code": "C-1001",
    "customer_contact": "李女士 138-0000-0000", "product_no": "P-77", "product_model": "PX-2",
    "order_no": "SO-2026-0042", "ship_date": "2026-02-20", "ship_qty": "1000", "found_stage": "incoming",
    "description": "3 units with scratched housings", "customer_request": "Exchange the units",
    "complaint_type": "quality", "functional_defect_qty": "0", "cosmetic_defect_qty": "3", "lot_size": "1000",
}


def case_url_of(page) -> str:
    assert re.search(r"/cases/\d+$", page.url), page.url
    return page.url


def test_complaint_from_registration_to_closure(staff, server):
    service = staff("service")
    service.page.click("nav.mainnav >> text=New case")
    service.page.click("[data-process=complaint]")
    service.fill(REGISTRATION)
    service.submit()
    case_url = case_url_of(service.page)
    number = service.page.locator("[data-testid=case-title]").inner_text().split()[0]
    assert number.startswith("CP-")

    quality = staff("quality", locale="zh-CN")  # works in Chinese
    assert quality.page.locator("[data-testid=nav-task-count]").inner_text() != "0"
    quality.page.locator("[data-testid=inbox] tr", has_text=number).locator("a.task-link").click()
    assert "我的待办" not in quality.page.content()  # on the task form now
    quality.fill({"complaint_valid": "true", "override_grade": "false", "validity_notes": "照片已核实"})
    quality.submit()
    assert "我的待办" in quality.page.content()

    quality.open_task(case_url, "d1_describe")
    quality.fill({"problem_description": "Housing scratched while packing", "containment_needed": "false"})
    quality.submit()
    quality.open_task(case_url, "d3_root_cause")
    quality.fill({"root_cause": "Foam insert missing", "responsibility": "internal"})
    quality.submit()
    quality.open_task(case_url, "review_d2_d3")  # F09 审核 of 2D/3D
    quality.fill({"d2_d3_review_decision": "approve"})
    quality.submit()
    quality.open_task(case_url, "d4_actions")
    quality.fill({"corrective_actions": "Add foam insert", "preventive_actions": "Packing checklist"})
    quality.submit()
    quality.open_task(case_url, "resolution_plan")
    quality.fill({"plan_summary": "Exchange the 3 units", "delivery_amount": "120000",
                  # compensation: an exchange line runs the returned-goods process (test_browser_returned_goods.py)
                  "disposition_lines": [{"kind": "compensation", "quantity": "3", "amount": "360"}]})
    quality.submit()

    manager = staff("manager")
    manager.page.goto(case_url)
    manager.page.wait_for_selector("#diagram[data-rendered=true]")
    assert manager.page.locator(".djs-element.cf-active").count() >= 1
    assert manager.page.locator(".djs-element.cf-done").count() >= 5
    ARTIFACTS.mkdir(exist_ok=True)
    manager.page.screenshot(path=str(ARTIFACTS / "complaint-case-diagram.png"), full_page=True)
    manager.page.locator("#diagram").screenshot(path=str(ARTIFACTS / "complaint-diagram.png"))
    manager.open_task(case_url, "manager_approve_plan")
    manager.fill({"manager_decision": "approve", "manager_comment": "Agreed"})
    manager.submit()

    service.open_task(case_url, "implement_notify")
    service.fill({"implementation_result": "Units exchanged", "customer_notified_on": business_today().isoformat(),
                  "notification_channel": "email"})
    service.submit()
    service.open_task(case_url, "customer_feedback")
    service.fill({"customer_feedback": "Satisfied with the exchange", "satisfaction": "4", "satisfied": "true"})
    service.submit()

    quality.open_task(case_url, "capa_verify")
    quality.fill({"capa_effective": "true", "verification_notes": "Two lots without scratches"})
    quality.submit()
    quality.open_task(case_url, "close_summary")
    quality.fill({"final_result": "Exchanged and closed", "lessons_learned": "Check the packing"})
    quality.submit()

    service.page.goto(case_url)
    assert "Resolved" in service.page.locator("[data-testid=case-title]").inner_text()
    assert service.page.locator("[data-testid=current-tasks]").count() == 0
    service.page.goto(server + "/complaints?status=closed")
    assert number in service.page.locator("[data-testid=register]").inner_text()
    service.page.goto(case_url + "/print/f04")
    assert "Exchanged and closed" in service.page.content()


REPAIR = {
    "customer_name": "Dalian Automation", "customer_contact": "Mr Zhao", "address": "1 Harbour Road, Dalian",
    "recipient": "Mr Zhao", "phone": "0411-5555", "email": "zhao@example.com", "product_model": "PX-2",
    "serial_no": "SN-0001", "purchase_date": "2024-01-10", "warranty_claim": "out",
    "fault_description": "No display after power on",
}


def test_repair_with_a_fee(staff, server):
    # The server runs on the real clock: dates are today's, so no repair deadline has passed.
    today = business_today().isoformat()
    service = staff("service")
    service.page.goto(server + "/start/repair")
    service.fill(REPAIR)
    service.submit()
    case_url = case_url_of(service.page)

    centre = staff("repair", locale="zh-CN")
    centre.open_task(case_url, "review_application")
    centre.fill({"review_opinion": "Please send the device in", "remote_fixable": "false"})
    centre.submit()
    centre.open_task(case_url, "send_shipping_instructions")
    centre.fill({"ship_to_address": "Service centre, Suzhou", "shipping_method": "express",
                 "instructions_sent_via": "email"})
    centre.submit()
    centre.open_task(case_url, "receive_device")
    centre.fill({"received_date": today})
    centre.submit()
    centre.open_task(case_url, "diagnose_device")
    centre.fill({"fault_cause": "man_made", "diagnosis": "Cracked display board", "estimated_fee": "560",
                 "parts": [{"part_name": "Display board", "quantity": "1", "unit_price": "480"}]})
    centre.submit()
    centre.open_task(case_url, "send_fee_notice")
    centre.fill({"fee_amount": "560", "fee_breakdown": "Board 480, labour 80",
                 "payment_instructions": "ICBC 6222 0000", "fee_notice_date": today,
                 "fee_notice_sent_via": "fax"})
    centre.submit()

    service.open_task(case_url, "record_fee_decision")
    service.fill({"fee_decision": "accepted", "fee_decision_date": today})
    service.submit()

    finance = staff("finance")
    finance.open_task(case_url, "confirm_payment")
    finance.fill({"payment_confirmed_date": today, "payment_amount": "560"})
    finance.submit()

    centre.open_task(case_url, "repair_device")
    centre.fill({"work_done": "Replaced the display board", "test_result": "24 h burn-in passed",
                 "technician": "Wu", "repair_completed_date": today,
                 "parts_used": [{"part_name": "Display board", "quantity": "1"}]})
    centre.submit()
    centre.open_task(case_url, "ship_back")
    centre.fill({"carrier": "SF Express", "tracking_no": "SF123456", "shipped_date": today,
                 "repair_report_enclosed": True})
    centre.submit()
    service.open_task(case_url, "notify_customer_shipped")
    service.fill({"ship_notice_via": "phone"})
    service.submit()

    service.page.goto(case_url)
    title = service.page.locator("[data-testid=case-title]").inner_text()
    assert title.startswith("RMA-") and "Repaired and returned" in title  # its end state (manifest outcome)
    service.page.goto(case_url + "/print/f14")
    notice = service.page.content()
    assert "ICBC 6222 0000" in notice and "Display board" in notice
    service.page.screenshot(path=str(ARTIFACTS / "repair-fee-notice.png"), full_page=True)
