"""Tracking a case on the portal: its number plus the e-mail address or phone number given.

A wrong number and a wrong contact get the very same answer (no enumeration). What is shown is
a whitelist for the customer: the status in plain words, the deadlines promised, the repair
number and shipping instructions, the fee notice and the repair report; never internal data,
other cases or staff names. Lookups are rate-limited per client address and per case number,
and every lookup is logged (the contact only as a hash).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from flask import current_app, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from caseflow import limits, portal_links, search, store
from web import casefile, get_db
from web.portal.common import bp, language, log, page
from web.ratelimit import client_address, limiter

TRACK_PER_ADDRESS = "CASEFLOW_PORTAL_TRACK_LIMIT_PER_ADDRESS"
TRACK_PER_NUMBER = "CASEFLOW_PORTAL_TRACK_LIMIT_PER_NUMBER"
_NUMBER = re.compile(r"^[A-Z0-9-]{1,40}$")
PHONE_KEYS = ("phone", "customer_contact", "customer_phone")
#: The case data a customer sees, in this order (everything else stays internal).
SHOWN = {
    "complaint": ("complaint_no", "complaint_type", "product_model", "react_by", "containment_by", "close_by",
                  "outcome", "repair_number"),
    "repair": ("repair_number", "product_model", "serial_no", "review_due", "ship_to_address", "shipping_method",
               "device_due", "received_date", "fault_cause", "in_warranty", "chargeable", "fee_amount",
               "fee_breakdown", "payment_instructions", "fee_decision", "repair_due", "work_done", "test_result",
               "carrier", "tracking_no", "shipped_date", "repair_outcome"),
}


def _limit(key: str, default: str) -> Any:
    return lambda: str(current_app.config.get(key, default))


def _number() -> str:
    return limits.clean_text(request.form.get("number", "")).strip().upper()[:40]


def _number_key() -> str:
    return "track-number:" + hashlib.sha256(_number().encode()).hexdigest()[:32]


def _digits(text: Any) -> str:
    return re.sub(r"\D", "", str(text or ""))


#: The fewest digits a phone number is compared by (a national number; shorter ones must match whole).
PHONE_MATCH_DIGITS = 8


def _same_phone(given: str, stored: str) -> bool:
    """The same number, written with or without the country code or the trunk 0: ``+86 138 0000 0001``,
    ``138 0000 0001`` and ``13800000001`` alike (digits compared, the shorter one ending the longer)."""
    given, stored = given.lstrip("0"), stored.lstrip("0")
    if not given or not stored:
        return False
    if given == stored:
        return True
    shorter, longer = sorted((given, stored), key=len)
    return len(shorter) >= PHONE_MATCH_DIGITS and longer.endswith(shorter)


def contact_matches(data: dict, contact: str) -> bool:
    """``contact`` is the case's e-mail address (any case) or its phone number (digits compared, with
    or without the country code)."""
    given = contact.strip().casefold()
    if not given:
        return False
    if "@" in given:
        return any(str(data.get(k) or "").strip().casefold() == given for k in portal_links.EMAIL_KEYS)
    digits = _digits(given)
    return len(digits) >= 6 and any(_same_phone(digits, _digits(data.get(k))) for k in PHONE_KEYS)


def find_case(session: Session, number: str, contact: str) -> store.ProcessInstance | None:
    """The case of ``number`` (``CP-…``, ``RMA-…``, or ``RA-<id>`` of an application) whose contact
    matches; None alike for an unknown number and a wrong contact."""
    if not _NUMBER.match(number):
        return None
    application = search.reference_id(number, application_only=True)
    instance = store.ProcessInstance
    if application is not None:
        case = session.get(instance, application)
        case = case if case is not None and case.process_key == "repair" else None  # its RA- number stays good
    else:
        case = session.scalars(select(instance).where(func.upper(instance.business_key) == number)
                               .order_by(instance.id).limit(1)).first()
    if case is None or not contact_matches(case.data or {}, contact):
        return None
    return case


@dataclass
class Tracked:
    """What the customer sees of their case."""

    number: str
    process_key: str
    stage: str
    facts: list[casefile.Fact]


def _stage(session: Session, case: store.ProcessInstance) -> str:
    waiting_for_customer = session.scalar(select(func.count()).select_from(store.HumanTask).where(
        store.HumanTask.instance_id == case.id, store.HumanTask.state == "ready",
        store.HumanTask.role == portal_links.CUSTOMER_ROLE))
    if case.status == "completed":
        return _("Closed")
    if case.status == "cancelled":
        return _("Withdrawn")
    if waiting_for_customer:
        return _("Waiting for your answer: please use the link in our e-mail")
    if case.status == "error":
        return _("In progress (delayed)")
    return _("In progress")


def tracked(session: Session, case: store.ProcessInstance, number: str) -> Tracked:
    """The customer's view of ``case``: plain status words and the whitelisted facts."""
    book = casefile.label_book(session, case.definition_id)
    data = case.data or {}
    facts = []
    for key in SHOWN.get(case.process_key, ()):
        value = data.get(key)
        if value is None or value == "" or value == []:
            continue
        facts.append(casefile.Fact(key, book.label(key), casefile.display(book, key, value),
                                   long=key in casefile.LONG_TEXT_KEYS))
    return Tracked(number, case.process_key, _stage(session, case), facts)


@bp.route("/track")
def track_form() -> Any:
    """Ask for the case number and the e-mail address or phone number."""
    return page("portal/track.html", language(), result=None, searched=False, number="")


@bp.route("/track", methods=["POST"])
@limiter.limit(_limit(TRACK_PER_ADDRESS, "30 per hour"), methods=["POST"],
               error_message="too many lookups from this address")
@limiter.limit(_limit(TRACK_PER_NUMBER, "10 per hour"), key_func=_number_key, methods=["POST"],
               error_message="too many lookups of this case number")
def track() -> Any:
    """Look the case up; a wrong number or a wrong contact answer alike."""
    session = get_db()
    lang = language()
    number = _number()
    contact = limits.clean_text(request.form.get("contact", ""))[:320]
    if not number or not contact.strip():  # nothing to look up: ask for both, as the form says
        return page("portal/track.html", lang, 400, result=None, searched=False, missing=True, number=number)
    case = find_case(session, number, contact)
    log.info("portal track %s contact=%s from %s: %s", number or "-", hashlib.sha256(contact.strip().casefold()
             .encode()).hexdigest()[:12], client_address(), f"case {case.id}" if case else "no match")
    with force_locale(lang):
        result = tracked(session, case, number) if case is not None else None
        return page("portal/track.html", lang, result=result, searched=True, number=number,
                    action=url_for("portal.track"))
