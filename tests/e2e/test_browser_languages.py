"""In a real browser against ``caseflow serve``: a complaint with a repair inside it, every task
worked in Chinese, fails on any visible English word outside user data, case numbers and codes
(the text a person sees: ``innerText``, so folded sections and hidden inputs do not count);
the same walk in English fails on Chinese text outside user data; either fails on an internal key
shown as text (``confirm_role``; checks of ``walks.py``). The case page's diagram is
drawn with the tasks' and lanes' names in the page's language.
"""
from __future__ import annotations

import re
from typing import Any

import pytest
from story_time import business_today
from walks import CJK, WORD, Step, chargeable_repair_steps, checker, report, user_words, visible

from caseflow.accounts import ROLES

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(own_server: Any) -> Any:
    """A server of this module's own: other tests' cases (their customers' names) must not show in
    the inbox pages this walk checks (overrides the shared server)."""
    with own_server("e2e-languages") as (base, _instance):
        yield base

TODAY = business_today().isoformat()  # the server runs on the real clock

REGISTRATION = {
    "channel": "phone", "customer_name": "Huaxin Electronics", "customer_code": "C-1001",
    "customer_contact": "Ms Li 138-0000-0000", "product_no": "P-77", "product_model": "PX-2",
    "order_no": "SO-2026-0042", "ship_date": TODAY, "ship_qty": "1000", "found_stage": "incoming",
    "description": "Scratches on the housing of 3 units", "customer_request": "Repair the unit",
    "complaint_type": "quality", "functional_defect_qty": "0", "cosmetic_defect_qty": "3", "lot_size": "1000",
}

# Each task of the walk: who works it and what they enter.
WALK: list[Step] = [
    ("confirm_grade", "quality", {"complaint_valid": "true", "override_grade": "false",
                                  "validity_notes": "Photos checked"}),
    ("d1_describe", "quality", {"problem_description": "Housing scratched in packing",
                                "containment_needed": "false"}),
    ("d3_root_cause", "quality", {"root_cause": "Missing foam insert", "responsibility": "internal"}),
    ("review_d2_d3", "quality", {"d2_d3_review_decision": "approve"}),
    ("d4_actions", "quality", {"corrective_actions": "Add foam insert", "preventive_actions": "Packing checklist"}),
    ("resolution_plan", "quality", {"plan_summary": "Repair 1 unit", "delivery_amount": "120000",
                                    "disposition_lines": [{"kind": "repair", "quantity": "1", "amount": "200"}]}),
    ("manager_approve_plan", "manager", {"manager_decision": "approve", "manager_comment": "Agreed"}),
    ("prepare_repair", "service", {"customer_name": "Huaxin Electronics", "customer_contact": "Ms Li",
                                   "address": "8 Lake Rd, Suzhou", "recipient": "Ms Li", "phone": "0512-5555",
                                   "email": "li@example.com", "product_model": "PX-2", "serial_no": "SN-0042",
                                   "purchase_date": "2025-01-10", "warranty_claim": "out"}),
    *chargeable_repair_steps(TODAY),
    ("implement_notify", "service", {"implementation_result": "Unit repaired", "customer_notified_on": TODAY,
                                     "notification_channel": "email"}),
    ("customer_feedback", "service", {"customer_feedback": "Fine now", "satisfaction": "4", "satisfied": "true"}),
    ("capa_verify", "quality", {"capa_effective": "true", "verification_notes": "No repeat in 2 lots"}),
    ("close_summary", "quality", {"final_result": "Repaired, closed", "lessons_learned": "Check packing"}),
]

ALLOWED_USER = user_words([*REGISTRATION.values(), *(v for _name, _user, answers in WALK for v in answers.values())])


# English words on a Chinese page, Chinese text on an English page, outside this walk's user data;
# internal keys (confirm_role) on either.
english, chinese = checker("zh-CN", ALLOWED_USER), checker("en-US", ALLOWED_USER)


def oversized_upload_is_refused_in_the_browser(worker: Any, tmp_path: Any, answers: dict[str, Any]) -> None:
    """A file over the limit is refused before sending, with the limit stated; what was typed stays."""
    page = worker.page
    limit = int(page.get_attribute("input[type=file][name=d1_evidence]", "data-max-bytes"))
    big = tmp_path / "evidence.bin"
    with open(big, "wb") as out:
        out.truncate(limit + 2 * 1024 * 1024)  # beyond what the server reads at all (a bare 413 there)
    worker.fill(answers)
    page.set_input_files("input[name=d1_evidence]", str(big))
    url = page.url
    page.click("form.schema-form button[type=submit]")
    page.wait_for_timeout(300)
    assert page.url == url  # not sent
    message = page.eval_on_selector("input[name=d1_evidence]", "e => e.validationMessage")
    assert "MB" in message and message == page.get_attribute("input[name=d1_evidence]", "data-too-large-text")
    assert "MB" in page.inner_text("[data-testid=upload-limit]")
    assert page.input_value("[name=problem_description]") == answers["problem_description"]
    page.set_input_files("input[name=d1_evidence]", [])


def walk(staff: Any, server: str, locale: str, check: Any, tmp_path: Any = None) -> tuple[str, dict[str, set[str]]]:
    people: dict[str, Any] = {}

    def person(user: str) -> Any:
        if user not in people:
            people[user] = staff(user, locale=locale)
        return people[user]

    found: dict[str, set[str]] = {}
    service = person("service")
    service.page.goto(server + "/start/complaint")
    service.fill(REGISTRATION)
    service.submit()
    case_url = service.page.url
    assert re.search(r"/cases/\d+$", case_url), case_url
    for name, user, answers in WALK:
        worker = person(user)
        worker.open_task(case_url, name)
        if words := check(visible(worker.page)):
            found[f"task {name}"] = words
        if name == "d1_describe" and tmp_path is not None:
            oversized_upload_is_refused_in_the_browser(worker, tmp_path, answers)
        worker.fill(answers)
        worker.submit()
        if words := check(visible(worker.page)):  # the page after it, with the success message
            found[f"after {name}"] = words
    admin = person("admin")
    admin.page.goto(case_url)
    number = re.search(r"CP-\d{4}-\d{6}", admin.page.inner_text("main"))
    assert number, "the case page shows the complaint number"
    # The list filtered to this case: other tests' cases on the shared server carry their own user data.
    for url in (case_url, server + "/", server + "/cases?q=" + number.group()):
        admin.page.goto(url)
        if words := check(visible(admin.page)):
            found[url] = words
    return case_url, found


def test_a_complaint_with_a_repair_reads_chinese_throughout(staff, server, tmp_path):
    case_url, found = walk(staff, server, "zh-CN", english, tmp_path)
    assert not found, report(found)
    viewer = staff("manager", locale="zh-CN")
    viewer.page.goto(case_url)
    viewer.page.wait_for_selector("#diagram[data-rendered=true]")
    tasks = viewer.page.locator(".djs-element[data-element-id='confirm_grade'] .djs-label, "
                                ".djs-element[data-element-id='confirm_grade'] text").all_text_contents()
    assert "".join(tasks).replace("\n", "") == "判断投诉成立并确认等级", tasks
    lanes = viewer.page.locator(".djs-element[data-element-id^='lane_'] text").all_text_contents()
    assert lanes and all(not WORD.search(t) for t in lanes), lanes  # 品保部, not "quality"
    assert ROLES["quality"][1] in "".join(lanes).replace("\n", "")


def test_a_complaint_with_a_repair_shows_no_chinese_in_english(staff, server):
    case_url, found = walk(staff, server, "en-US", chinese)
    assert not found, report(found)
    viewer = staff("manager")
    viewer.page.goto(case_url)
    viewer.page.wait_for_selector("#diagram[data-rendered=true]")
    lanes = viewer.page.locator(".djs-element[data-element-id^='lane_'] text").all_text_contents()
    assert "Quality" in "".join(lanes).replace("\n", " ") and not any(CJK.search(t) for t in lanes), lanes
