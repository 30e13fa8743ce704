"""In a real browser against ``caseflow serve``, in Chinese and in English: the branches the language
walk of ``test_browser_languages.py`` does not take, each walked by staff to its end:

- an invalid complaint: its ``rejected`` outcome reads the same on the case page, in /cases and in
  the complaint register;
- a standalone chargeable repair (out of warranty): repair number, warranty check, fee notice, the
  customer's fee answer recorded by staff on their behalf, payment, repair, ship back; the fee is on
  the tasks that need it and the F14/F15 printouts open;
- a returned-goods exchange, from receipt to the customer's notice, and its test record printout.

On every page of a walk: no server error (no response of 500 or more, documents and requests alike),
the page's language is the user's, no English word outside user data and codes in Chinese mode, no
Chinese text outside user data in English mode, and no internal key (``confirm_role``) in either; the
same for the labels of the case's diagram at the end.
A screenshot per branch and language goes to ``test-artifacts/branch-<branch>-<zh|en>.png``.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import ARTIFACTS, Staff
from story_time import business_today
from walks import Step, chargeable_repair_steps, checker, report, user_words, visible

pytestmark = pytest.mark.browser

TODAY = business_today().isoformat()  # the server runs on the real clock
PURCHASED = (business_today() - dt.timedelta(days=2)).isoformat()  # within the 5-day exchange window

COMPLAINT = {
    "channel": "phone", "customer_name": "Huaxin Electronics", "customer_code": "C-1001",
    "customer_contact": "Ms Li 138-0000-0000", "product_no": "P-77", "product_model": "PX-2",
    "order_no": "SO-2026-0042", "ship_date": TODAY, "ship_qty": "1000", "found_stage": "incoming",
    "description": "Scratches on the housing of 3 units", "customer_request": "Repair the unit",
    "complaint_type": "quality", "functional_defect_qty": "0", "cosmetic_defect_qty": "3", "lot_size": "1000",
}
INVALID: list[Step] = [
    ("confirm_grade", "quality", {"complaint_valid": "false", "override_grade": "false",
                                  "validity_notes": "Photos checked", "invalid_reason": "Units of another supplier"}),
    ("reply_invalid", "service", {"reply_text": "The units are not ours", "reply_channel": "phone",
                                  "replied_on": TODAY}),
]
REPAIR = {
    "customer_name": "Dalian Automation", "customer_contact": "Mr Zhao", "address": "1 Harbour Rd, Dalian",
    "recipient": "Mr Zhao", "phone": "0411-5555", "email": "zhao@example.com", "product_model": "PX-2",
    "serial_no": "SN-0001", "purchase_date": "2024-01-10", "warranty_claim": "out",
    "fault_description": "No display after power on",
}
CHARGEABLE_REPAIR = chargeable_repair_steps(TODAY)
RETURNED = {"customer_name": "Huaxin Trading Co.", "product_model": "NLS-HR200", "request_kind": "exchange",
            "expected_qty": "2", "purchase_date": PURCHASED}
RETURNED_GOODS: list[Step] = [
    ("receive_goods", "marketing", {"goods_received_date": TODAY, "received_qty": "2",
                                    "goods_condition": "Sealed boxes"}),
    ("record_exchange_request", "marketing", {"purchase_date": PURCHASED, "request_date": TODAY,
                                              "unsealed": "false", "deteriorated": "false", "allergy": "false",
                                              "invoice_presented": "true", "event_slip_presented": "true"}),
    ("test_goods", "production", {"withdrawn_date": TODAY, "tested_qty": "2", "defective_qty": "1",
                                  "defect_phenomena": [{"phenomenon": "No power", "quantity": "1"}],
                                  "goods_test_result": "One unit dead", "tester": "Feng", "tested_date": TODAY}),
    ("dispose_goods", "production", {"isolate_qty": "0", "rework_qty": "0", "repair_qty": "0", "scrap_qty": "1",
                                     "return_to_stock_qty": "1", "disposed_date": TODAY}),
    ("ship_replacement", "logistics", {"shipped_qty": "2", "shipment_date": TODAY, "shipment_carrier": "SF Express",
                                       "shipment_tracking_no": "SF-E2E-13"}),
    ("notify_customer", "marketing", {"notice_via": "phone", "notice_date": TODAY,
                                      "notice_summary": "Replacement sent"}),
]
#: The end state each walk reaches, as the manifests word it.
OUTCOMES = {
    "rejected": {"zh": "不成立", "en": "Rejected (not valid)"},
    "repaired": {"zh": "已修复寄回", "en": "Repaired and returned"},
    "exchanged": {"zh": "已换货", "en": "Exchanged"},
}


@pytest.fixture(scope="module")
def server(own_server: Any) -> Iterator[str]:
    """A server of this module's own: other tests' cases (their customers' names) must not show in
    the lists this walk checks (overrides the shared server)."""
    with own_server("e2e-branches") as (base, _instance):
        yield base


class Crew:
    """The staff of one language, each signed in once in a context of their own and kept for all the
    module's walks in that language; every response of 500 or more any of them gets is recorded."""

    def __init__(self, chromium: Any, base: str, locale: str):
        self.chromium, self.base, self.locale = chromium, base, locale
        self.lang = locale[:2]
        self.people: dict[str, Staff] = {}
        self.server_errors: list[str] = []

    def person(self, user: str) -> Staff:
        if user not in self.people:
            staff = Staff(self.chromium, self.base, user, self.locale)
            staff.context.on("response", self._record)
            self.people[user] = staff
        return self.people[user]

    def _record(self, response: Any) -> None:
        if response.status >= 500:
            self.server_errors.append(f"{response.status} {response.request.method} {response.url}")

    def close(self) -> None:
        for staff in self.people.values():
            staff.close()


@pytest.fixture(scope="module", params=["zh-CN", "en-US"], ids=["zh", "en"])
def crew(request: pytest.FixtureRequest, chromium: Any, server: str) -> Iterator[Crew]:
    people = Crew(chromium, server, request.param)
    yield people
    people.close()


class Walk:
    """One case walked by a crew: every page it sees is checked, the faults kept by page."""

    def __init__(self, crew: Crew, start: dict[str, Any], steps: list[Step]):
        self.crew = crew
        self.check = checker(crew.locale, user_words([*start.values(), *(v for _n, _u, a in steps
                                                                          for v in a.values())]))
        self.found: dict[str, set[str]] = {}
        crew.server_errors.clear()

    def look(self, page: Any, where: str) -> None:
        """Check the page now shown: its language and its visible text."""
        lang = page.evaluate("document.documentElement.lang")
        faults = set() if lang.startswith(self.crew.lang) else {f"<html lang={lang}>"}
        faults |= self.check(visible(page))
        if faults:
            self.found.setdefault(where, set()).update(faults)

    def visit(self, user: str, url: str) -> Any:
        """Open ``url`` (absolute or from the base) as ``user`` and check it; the page."""
        page = self.crew.person(user).page
        response = page.goto(url if url.startswith("http") else self.crew.base + url)
        assert response is not None and response.status == 200, (url, response and response.status)
        self.look(page, url.removeprefix(self.crew.base))
        return page

    def start(self, user: str, url: str, answers: dict[str, Any]) -> str:
        """Fill in and send a start form; the new case's URL."""
        starter = self.crew.person(user)
        self.visit(user, url)
        starter.fill(answers)
        starter.submit()
        self.look(starter.page, f"after {url}")
        assert re.search(r"/cases/\d+$", starter.page.url), starter.page.url
        return starter.page.url

    def steps(self, case_url: str, steps: list[Step],
              before: dict[str, Callable[[Any], None]] | None = None) -> None:
        """Work each task from the case page; ``before[name](page)`` runs on its open form."""
        for name, user, answers in steps:
            worker = self.crew.person(user)
            self.visit(user, case_url)
            worker.page.locator(f"[data-testid=current-tasks] a[data-task='{name}']").click()
            worker.page.wait_for_selector("form.schema-form")
            self.look(worker.page, f"task {name}")
            if before and name in before:
                before[name](worker.page)
            worker.fill(answers)
            worker.submit()
            self.look(worker.page, f"after {name}")  # with the success message

    def outcome(self, user: str, case_url: str, key: str) -> str:
        """The case has ended with ``key``: its page's title says so in the crew's words; the case number."""
        page = self.visit(user, case_url)
        title = page.locator("[data-testid=case-title]")
        assert title.locator(".badge").all_inner_texts() == [OUTCOMES[key][self.crew.lang]], title.inner_text()
        assert title.locator(".badge").get_attribute("data-status") == key
        number = re.search(r"\b(?:CP|RMA|RG)-\d{4}-\d+\b", title.inner_text())
        assert number, title.inner_text()
        return number.group()

    def screenshot(self, user: str, branch: str) -> None:
        """The case page with its diagram drawn, saved; the diagram's labels are checked too."""
        page = self.crew.person(user).page
        page.wait_for_selector("#diagram[data-rendered=true]")
        labels = page.locator("#diagram .djs-element text").all_text_contents()
        assert labels, "the diagram has no labels"
        if words := self.check("\n".join(labels)):
            self.found.setdefault(f"diagram of {branch}", set()).update(words)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"branch-{branch}-{self.crew.lang}.png"))

    def done(self) -> None:
        """No fault on any page of the walk."""
        assert not self.crew.server_errors, self.crew.server_errors
        assert not self.found, report(self.found)


def listed_badges(page: Any, key: str) -> list[str]:
    return page.locator(f"main .badge[data-status='{key}']").all_inner_texts()


def test_an_invalid_complaint_ends_rejected_on_every_page(crew: Crew) -> None:
    walk = Walk(crew, COMPLAINT, INVALID)
    case_url = walk.start("service", "/start/complaint", COMPLAINT)
    walk.steps(case_url, INVALID)
    number = walk.outcome("admin", case_url, "rejected")
    word = OUTCOMES["rejected"][crew.lang]
    walk.screenshot("admin", "invalid")
    for url in (f"/cases?q={number}", "/complaints"):
        page = walk.visit("admin", url)
        assert number in page.inner_text("main"), url
        assert listed_badges(page, "rejected") and set(listed_badges(page, "rejected")) == {word}, url
    walk.done()


def test_a_chargeable_repair_walked_to_the_end(crew: Crew) -> None:
    walk = Walk(crew, REPAIR, CHARGEABLE_REPAIR)
    case_url = walk.start("service", "/start/repair", REPAIR)
    seen: dict[str, str] = {}

    def facts(page: Any, key: str) -> str:
        return page.locator(f"[data-testid=task-facts] [data-key='{key}'] dd").inner_text()

    def number_to_send(page: Any) -> None:
        seen["number"] = facts(page, "repair_number")
        assert re.fullmatch(r"RMA-\d{4}-\d+", seen["number"]), seen["number"]

    def chargeable(page: Any) -> None:  # the warranty check ran: out of warranty, so it is charged for
        assert facts(page, "chargeable") == {"zh": "是", "en": "Yes"}[crew.lang]
        assert "560" in facts(page, "estimated_fee")  # the diagnosis's estimate, for the notice's fee

    def fee_shown(page: Any) -> None:
        assert "560" in facts(page, "fee_amount")

    def fee_for_the_customer(page: Any) -> None:
        fee_shown(page)
        assert page.locator("[data-testid=on-behalf]").count() == 1

    walk.steps(case_url, CHARGEABLE_REPAIR, before={
        "send_shipping_instructions": number_to_send, "send_fee_notice": chargeable,
        "record_fee_decision": fee_for_the_customer, "confirm_payment": fee_shown})
    assert walk.outcome("service", case_url, "repaired") == seen["number"]
    page = crew.person("service").page
    assert seen["number"] in page.inner_text("[data-key=repair_number]")
    walk.screenshot("service", "repair")
    sheets = {re.search(r"/print/(\w+)", href).group(1): href  # type: ignore[union-attr]
              for href in page.locator("a[href*='/print/']").evaluate_all("els => els.map(e => e.href)")}
    assert {"f14", "f15"} <= set(sheets), sheets
    notice = walk.visit("service", sheets["f14"]).inner_text("body")
    assert seen["number"] in notice and "560" in notice and "Dalian Automation" in notice
    repair_report = walk.visit("service", sheets["f15"]).inner_text("body")
    assert seen["number"] in repair_report and "Replaced display board" in repair_report
    walk.done()


def test_a_returned_goods_exchange_walked_to_the_end(crew: Crew) -> None:
    walk = Walk(crew, RETURNED, RETURNED_GOODS)
    case_url = walk.start("marketing", "/start/returned_goods", RETURNED)
    walk.steps(case_url, RETURNED_GOODS)
    number = walk.outcome("marketing", case_url, "exchanged")
    assert number.startswith("RG-")
    walk.screenshot("marketing", "returned")
    page = crew.person("marketing").page
    sheets = page.locator("a[href*='/print/']").evaluate_all("els => els.map(e => e.href)")
    assert len(sheets) == 1 and sheets[0].endswith("/print/rg"), sheets
    record = walk.visit("marketing", sheets[0]).inner_text("body")
    assert number in record and "No power" in record and "SF-E2E-13" in record
    walk.done()


def test_the_page_checks_find_what_they_look_for() -> None:
    """The checks of every page above would fail on the faults they are there for."""
    zh, en = checker("zh-CN", {"Huaxin"}), checker("en-US", {"华信"})
    assert zh("提交 Submit 华信 Huaxin CP-2026-000001 F14 1D SEV-Q-03 li@example.com") == {"Submit"}
    assert "confirm_role" in zh("缺少：confirm_role") and en("Missing: react_by") == {"react_by"}
    assert en("Owner: customer_service") == {"customer_service"}
    assert en("Repair fee notice 维修费用通知单 · F14 华信") == set()  # a sheet's source title; user data
    assert en("Status: 已结案 维修费用通知单") == {"已结案", "维修费用通知单"}  # not beside a document code
