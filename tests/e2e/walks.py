"""What the browser walks check on every page, shared by the language walks
(``test_browser_languages.py``, ``test_browser_branches.py``), and the steps of a chargeable repair
both walk.

A Chinese page may show no English word outside user data, case numbers and codes; an English page
no Chinese text outside user data; neither shows an internal key (``confirm_role``, ``react_by``,
``customer_service``). The text checked is what a person sees (``innerText``: folded sections and
hidden inputs do not count), without the diagram (checked on its own) and the raw-data block.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from caseflow.accounts import DEMO_USERS

Step = tuple[str, str, dict[str, Any]]  # task (BPMN id), who works it, what they enter

# Latin letters a Chinese page may show: form numbers, codes and units of the source documents,
# names of keys and products the company uses in Chinese too.
ALLOWED_ASCII = frozenset({
    "CP", "RMA", "CAPA", "GM", "KPI", "PPM", "QA", "API", "BPMN", "JSON", "ID", "PDF", "CSV", "OK", "Caseflow",
    "English", "h", "wd", "MB", "KB", "KiB", "MiB", "pcs", "Ctrl", "JavaScript", "bpmn", "io",
    "MLP", "EVENT",  # the MLP procedure; the EVENT slip (EVENT单) of the exchange rules
    "Q", "S", "R",  # the grading schemes (方案Q、S、R; their rules are SEV-Q-01 …)
})
WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*")
# Codes of the source documents: SEV-Q-03, T-01, F09, 1D, D4, P1 (in Chinese text too: no \b there).
CODE = re.compile(r"(?<![A-Za-z0-9])(?:[A-Z]{1,4}(?:-[A-Z0-9]{1,4})+|F\d{2}|\dD|D\d|P\d)(?![A-Za-z0-9])")
CJK = re.compile(r"[\u3400-\u9fff\uff01-\uff5e\u3000-\u303f]+")
# An internal key shown as text: a data key, a role key, a setting (confirm_role, react_by, service_center).
KEY = re.compile(r"(?<![\w.@/-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w@/-])")
NUMBER = re.compile(r"\b(?:CP|RMA|RG)-\d{4}-\d+\b")
EMAIL = re.compile(r"\b[\w.+-]+@[\w.-]+\b")
# A record sheet names the source document it reproduces by its own (Chinese) title beside its code,
# in both languages, as the PDF notices do: 维修费用通知单 · F14, 客退品测试记录 · MLP §4.2.
DOCUMENT_TITLE = re.compile(r"[\u4e00-\u9fff]+(?= · (?:F\d{2}|CAR|MLP)\b)")

Check = Callable[[str], set[str]]


def user_words(values: Iterable[Any]) -> set[str]:
    """What people typed (``values``; lists of table rows too) and the demo users' names: allowed in
    either language."""
    words: set[str] = set()
    flat: list[Any] = [v for demo in DEMO_USERS for v in (demo.username, demo.display_name)]
    for value in values:
        if isinstance(value, list):
            flat.extend(v for row in value for v in row.values())
        else:
            flat.append(value)
    for value in flat:
        words.update(WORD.findall(str(value)))
        words.update(CJK.findall(str(value)))
    return words


def english_words(text: str, allowed: set[str]) -> set[str]:
    """ASCII words on a Chinese page that are neither allowed tokens, codes nor user data."""
    text = NUMBER.sub(" ", text)
    text = EMAIL.sub(" ", text)
    text = CODE.sub(" ", text)
    return {w for w in WORD.findall(text) if w not in ALLOWED_ASCII and w not in allowed and not w.isdigit()}


def chinese_words(text: str, allowed: set[str]) -> set[str]:
    """CJK text on an English page that is not user data (the language switch names 中文 itself)."""
    text = DOCUMENT_TITLE.sub(" ", text.replace("中文", " "))
    return {w for w in CJK.findall(text) if not any(w in u for u in allowed)}


def internal_keys(text: str, allowed: set[str]) -> set[str]:
    """Internal keys shown as text (``confirm_role``), in either language; user data aside."""
    text = EMAIL.sub(" ", text)
    return {k for k in KEY.findall(text) if k not in allowed}


def checker(locale: str, allowed: set[str]) -> Check:
    """The check of a page's visible text in ``locale`` (zh-CN or en-US): what should not be there."""
    foreign = english_words if locale.startswith("zh") else chinese_words
    return lambda text: foreign(text, allowed) | internal_keys(text, allowed)


def visible(page: Any) -> str:
    """The page's text as rendered, without the diagram (checked on its own) and the raw data."""
    return page.evaluate("""() => {
        const copy = document.body.cloneNode(true);
        copy.querySelectorAll('#diagram, pre, script, style, select[name=lang]').forEach(e => e.remove());
        document.body.appendChild(copy); copy.style.position = 'absolute';
        const text = copy.innerText; copy.remove(); return text; }""")


def report(found: dict[str, set[str]]) -> str:
    """The faults found, one line per page."""
    return "\n".join(f"{where}: {sorted(words)}" for where, words in found.items())


def chargeable_repair_steps(today: str) -> list[Step]:
    """A repair out of warranty from the application's review to the customer's shipping notice:
    sent in, diagnosed as man-made, fee notice, the customer's acceptance (recorded by customer
    service on their behalf: the customer's own step is the portal's), payment, repair, ship back."""
    return [
        ("review_application", "repair", {"review_opinion": "Send it in", "remote_fixable": "false"}),
        ("send_shipping_instructions", "repair", {"ship_to_address": "Service centre, Suzhou",
                                                  "shipping_method": "express", "instructions_sent_via": "email"}),
        ("receive_device", "repair", {"received_date": today}),
        ("diagnose_device", "repair", {"fault_cause": "man_made", "diagnosis": "Cracked display board",
                                       "estimated_fee": "560",
                                       "parts": [{"part_name": "Display board", "quantity": "1",
                                                  "unit_price": "480"}]}),
        ("send_fee_notice", "repair", {"fee_amount": "560", "fee_breakdown": "Board 480, labour 80",
                                       "payment_instructions": "ICBC 6222 0000", "fee_notice_date": today,
                                       "fee_notice_sent_via": "fax"}),
        ("record_fee_decision", "service", {"fee_decision": "accepted", "fee_decision_date": today}),
        ("confirm_payment", "finance", {"payment_confirmed_date": today, "payment_amount": "560"}),
        ("repair_device", "repair", {"work_done": "Replaced display board", "test_result": "24 h burn-in passed",
                                     "technician": "Wu", "repair_completed_date": today,
                                     "parts_used": [{"part_name": "Display board", "quantity": "1"}]}),
        ("ship_back", "repair", {"carrier": "SF Express", "tracking_no": "SF123456", "shipped_date": today,
                                 "repair_report_enclosed": True}),
        ("notify_customer_shipped", "service", {"ship_notice_via": "phone"}),
    ]
