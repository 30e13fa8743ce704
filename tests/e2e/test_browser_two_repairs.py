"""In a real browser (issue 13, acceptance 1): a complaint with two repairs through the
not-satisfied loop. At the end both repair records, both F14/F15 printouts and the case's key
facts are correct.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from story_time import business_today

TODAY = business_today().isoformat()  # the server runs on the real clock
PURCHASED = (business_today() - dt.timedelta(days=200)).isoformat()  # in warranty

REGISTRATION = {
    "channel": "phone", "customer_name": "Huaxin Electronics", "customer_code": "C-1001",
    "customer_contact": "Ms Li 138-0000-0000", "product_no": "P-77", "product_model": "PX-2",
    "order_no": "SO-2026-0042", "ship_date": TODAY, "ship_qty": "1000", "found_stage": "incoming",
    "description": "Scratches on the housing of 3 units", "customer_request": "Repair the unit",
    "complaint_type": "quality", "functional_defect_qty": "0", "cosmetic_defect_qty": "3", "lot_size": "1000",
}
APPLICATION = {"customer_name": "Huaxin Electronics", "customer_contact": "Ms Li", "address": "8 Lake Rd, Suzhou",
               "recipient": "Ms Li", "phone": "0512-5555", "email": "li@example.com", "product_model": "PX-2",
               "serial_no": "SN-0042", "purchase_date": PURCHASED, "warranty_claim": "in"}
SEND_IN = [
    ("prepare_repair", "service", APPLICATION),
    ("review_application", "repair", {"review_opinion": "Send it in", "remote_fixable": "false"}),
    ("send_shipping_instructions", "repair", {"ship_to_address": "Service centre, Suzhou",
                                              "shipping_method": "express", "instructions_sent_via": "email"}),
    ("receive_device", "repair", {"received_date": TODAY}),
]


def _finish(technician: str, tracking: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("repair_device", "repair", {"work_done": f"Work by {technician}", "test_result": "Burn-in passed",
                                     "technician": technician, "repair_completed_date": TODAY}),
        ("ship_back", "repair", {"carrier": "SF Express", "tracking_no": tracking, "shipped_date": TODAY,
                                 "repair_report_enclosed": True}),
        ("notify_customer_shipped", "service", {"ship_notice_via": "phone"}),
        ("implement_notify", "service", {"implementation_result": "Unit repaired", "customer_notified_on": TODAY,
                                         "notification_channel": "email"}),
    ]


def _plan(lines: int) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("resolution_plan", "quality", {"plan_summary": f"Repair ({lines})", "delivery_amount": "120000",
                                        "disposition_lines": [{"kind": "repair", "quantity": "1", "amount": "200"}]}),
        ("manager_approve_plan", "manager", {"manager_decision": "approve"}),
    ]


WALK: list[tuple[str, str, dict[str, Any]]] = [
    ("confirm_grade", "quality", {"complaint_valid": "true", "override_grade": "false"}),
    ("d1_describe", "quality", {"problem_description": "Housing scratched", "containment_needed": "false"}),
    ("d3_root_cause", "quality", {"root_cause": "Missing foam insert", "responsibility": "internal"}),
    ("review_d2_d3", "quality", {"d2_d3_review_decision": "approve"}),
    ("d4_actions", "quality", {"corrective_actions": "Add foam insert", "preventive_actions": "Packing checklist"}),
    *_plan(1),
    *SEND_IN,
    ("diagnose_device", "repair", {"fault_cause": "man_made", "diagnosis": "Cracked board", "estimated_fee": "2400"}),
    ("send_fee_notice", "repair", {"fee_amount": "2400", "payment_instructions": "ICBC 6222 0000",
                                   "fee_notice_date": TODAY, "fee_notice_sent_via": "fax"}),
    ("record_fee_decision", "service", {"fee_decision": "accepted", "fee_decision_date": TODAY}),
    ("confirm_payment", "finance", {"payment_confirmed_date": TODAY, "payment_amount": "2000",
                                    "payment_mismatch_reason": "Bank charges deducted"}),
    *_finish("Wu", "SF-FIRST"),
    ("customer_feedback", "service", {"customer_feedback": "Still scratched", "satisfaction": "2",
                                      "satisfied": "false"}),
    ("follow_up", "quality", {"follow_up_measures": "Repair the second unit too"}),
    *_plan(2),  # the first repair line is kept (from the first plan), a second one is added
    *SEND_IN,
    ("diagnose_device", "repair", {"fault_cause": "quality", "diagnosis": "Solder joint", "estimated_fee": "0"}),
    *_finish("Zhao", "SF-SECOND"),
    ("customer_feedback", "service", {"customer_feedback": "Fine now", "satisfaction": "5", "satisfied": "true"}),
    ("capa_verify", "quality", {"capa_effective": "true", "verification_notes": "No repeat"}),
    ("close_summary", "quality", {"final_result": "Repaired twice, closed", "lessons_learned": "Check packing"}),
]


def test_a_complaint_with_two_repairs_keeps_both_records_and_printouts(staff, server):
    people: dict[str, Any] = {}

    def person(user: str) -> Any:
        if user not in people:
            people[user] = staff(user)
        return people[user]

    service = person("service")
    service.page.goto(server + "/start/complaint")
    service.fill(REGISTRATION)
    service.submit()
    case_url = service.page.url
    assert re.search(r"/cases/\d+$", case_url), case_url
    for name, user, answers in WALK:
        worker = person(user)
        worker.open_task(case_url, name)
        if name == "resolution_plan" and answers["plan_summary"] == "Repair (2)":
            rows = worker.page.locator("[data-rows='disposition_lines'] tbody tr[data-row]")
            assert rows.count() == 1  # the first plan's repair line is proposed again
            worker.fill({"plan_summary": answers["plan_summary"], "delivery_amount": "120000"})
            worker.fill_rows("disposition_lines", answers["disposition_lines"])
        else:
            if name == "confirm_payment":
                assert worker.page.locator("#f-fee_amount").input_value() == "2400"  # the fee is shown
            worker.fill(answers)
        worker.submit()

    quality = person("quality")
    quality.page.goto(case_url)
    data = quality.page.locator("pre.data-dump").text_content() or ""  # folded: its text, not its rendering
    numbers = re.findall(r"RMA-\d{4}-\d{6}", data)
    first, second = sorted(set(numbers))  # two distinct repair numbers (issued in sequence)
    links = quality.page.locator(".head-actions a").all_text_contents()
    assert sum(first in t for t in links) == 2 and sum(second in t for t in links) == 2, links

    def sheet(path: str) -> str:
        quality.page.goto(case_url + path)
        return quality.page.locator("body").inner_text()

    f14_1, f15_1 = sheet("/print/f14-1"), sheet("/print/f15-1")
    f14_2, f15_2 = sheet("/print/f14-2"), sheet("/print/f15-2")
    assert first in f14_1 and "2400" in f14_1 and "2000" in f14_1 and second not in f14_1
    assert first in f15_1 and "SF-FIRST" in f15_1 and "Work by Wu" in f15_1
    assert second in f14_2 and "2400" not in f14_2
    assert second in f15_2 and "SF-SECOND" in f15_2 and "Work by Zhao" in f15_2 and "SF-FIRST" not in f15_2
    assert second in sheet("/print/f15")  # the old address: the latest repair
    # Key facts: the latest repair number, and the case is closed.
    quality.page.goto(case_url)
    assert second in quality.page.locator("body").inner_text()
    assert '"outcome": "closed"' in (quality.page.locator("pre.data-dump").text_content() or "")
