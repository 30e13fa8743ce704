"""Repair deadlines and warranty: reply due (T-11), device wait (§5.3), warranty and repair due
(PRODUCT.md §5.2–5.7, DOMAIN.md §3.10 RPR-02, RPR-06,
RPR-08, RPR-10…12, T-12, T-13).

Decision on G-13: the warranty ends on the purchase anniversary, which is still in
warranty; a purchase on 29 February ends on 28 February of a non-leap year.
"""
from __future__ import annotations

import datetime as dt

from service_tasks.calendar_ops import CALENDAR_PARAMS, DEFAULT_TIMEZONE, calendar_from_params
from service_tasks.registry import OperatorError, Param, operator
from service_tasks.values import (
    is_missing,
    iso,
    now_param,
    to_bool,
    to_date,
    to_datetime,
    to_int,
    to_str,
    to_str_list,
    zone,
)

FAULT_CAUSES = {
    "quality": "a quality fault",
    "man_made": "man-made damage",
    "improper_storage": "improper storage",
    "no_fault_found": "no fault found",
}


def add_years(day: dt.date, years: int) -> dt.date:
    """``day`` + ``years`` calendar years; 29 February becomes 28 February in a non-leap year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February -> non-leap year
        return day.replace(year=day.year + years, day=28)


def _required_date(data: dict, key: str) -> dt.date:
    value = data.get(key)
    if is_missing(value):
        raise OperatorError("date is missing", field=key)
    return to_date(value, key)


@operator(
    "assess_warranty",
    params=[
        Param("warranty_years", "int", 1, "Warranty length in years from the purchase date (RPR-10)."),
        Param("free_causes", "list", ["quality"], "Fault causes repaired free of charge in warranty (RPR-11)."),
    ],
)
def assess_warranty(data: dict, params: dict) -> dict:
    """Decide whether a repair is in warranty and whether it is chargeable.

    Inputs: ``purchase_date`` and ``received_date`` (ISO dates) and ``fault_cause``
    (quality / man_made / improper_storage / no_fault_found), all required.
    Outputs: ``in_warranty`` (received on or before the purchase date + ``warranty_years``;
    29 Feb + 1 year = 28 Feb), ``warranty_until`` (that last day, ISO date),
    ``chargeable`` = not (in warranty and fault_cause in ``free_causes``),
    ``free_return_shipping`` (free repairs include return shipping, RPR-11) and
    ``warranty_reason`` (one English sentence explaining the decision).
    Parameters: ``warranty_years`` (1), ``free_causes`` (['quality']).
    """
    years = to_int(params["warranty_years"], "warranty_years")
    free_causes = to_str_list(params["free_causes"], "free_causes")
    unknown = sorted(set(free_causes) - set(FAULT_CAUSES))
    if unknown:
        raise OperatorError(f"unknown fault cause(s): {', '.join(unknown)}", field="free_causes")

    purchase = _required_date(data, "purchase_date")
    received = _required_date(data, "received_date")
    if received < purchase:
        raise OperatorError(f"{received} is before the purchase date {purchase}", field="received_date")
    cause_value = data.get("fault_cause")
    if is_missing(cause_value):
        raise OperatorError("fault cause is missing (diagnose first)", field="fault_cause")
    cause = to_str(cause_value, "fault_cause").lower()
    if cause not in FAULT_CAUSES:
        raise OperatorError(f"unknown fault cause {cause!r} (known: {', '.join(FAULT_CAUSES)})",
                            field="fault_cause")

    until = add_years(purchase, years)
    in_warranty = received <= until
    chargeable = not (in_warranty and cause in free_causes)
    term = f"{years}-year warranty"
    if not in_warranty:
        reason = f"Chargeable: received on {received}, after the {term} ended on {until}."
    elif chargeable:
        reason = (f"Chargeable: received on {received}, within the {term} (until {until}), "
                  f"but {FAULT_CAUSES[cause]} is not covered.")
    else:
        reason = (f"Free of charge, return shipping included: received on {received}, within the "
                  f"{term} (until {until}), and {FAULT_CAUSES[cause]} is covered.")
    return {
        "in_warranty": in_warranty,
        "warranty_until": until.isoformat(),
        "chargeable": chargeable,
        "free_return_shipping": not chargeable,
        "warranty_reason": reason,
    }


@operator(
    "compute_repair_due",
    params=[
        Param("repair_cycle_wd", "int", 5, "Repair cycle in working days (RPR-06, T-12)."),
        *CALENDAR_PARAMS,
    ],
)
def compute_repair_due(data: dict, params: dict) -> dict:
    """Repair due date: ``repair_cycle_wd`` working days from the day after the clock start.

    Inputs: ``received_date`` (date the device arrived, required), ``chargeable`` (bool,
    from assess_warranty, required) and, when chargeable, ``payment_confirmed_date``
    (date finance confirmed the payment, required then — the clock waits for it, RPR-08).
    The clock starts on the later of receipt and payment.
    Output: ``repair_due`` (ISO 8601 date-time, ``end_of_day`` local time of the last
    working day). Parameters: ``repair_cycle_wd`` (5), ``timezone``, ``country``,
    ``end_of_day``.
    """
    cal = calendar_from_params(params)
    cycle = to_int(params["repair_cycle_wd"], "repair_cycle_wd")
    received = _required_date(data, "received_date")
    chargeable_value = data.get("chargeable")
    if is_missing(chargeable_value):
        raise OperatorError("chargeable is missing (run assess_warranty first)", field="chargeable")
    start = received
    if to_bool(chargeable_value, "chargeable"):
        paid = data.get("payment_confirmed_date")
        if is_missing(paid):
            raise OperatorError("payment confirmation date is required for a chargeable repair",
                                field="payment_confirmed_date")
        start = max(start, to_date(paid, "payment_confirmed_date", cal.tz))
    return {"repair_due": iso(cal.deadline(start, cycle))}


@operator(
    "compute_reply_due",
    params=[
        Param("repair_reply_wd", "int", 1, "Working days to answer a repair application (T-11, RPR-02)."),
        Param("gm_reply_grace_h", "int", 24,
              "Hours after review_due before the general manager is escalated to (review_gm_due)."),
        *CALENDAR_PARAMS,
        Param("now", "datetime", None, "Evaluation time (supplied by the engine): the receipt when none is given."),
    ],
)
def compute_reply_due(data: dict, params: dict) -> dict:
    """Reply deadline of a repair application (T-11), counted from its receipt.

    Input: ``application_received_at`` (ISO 8601 date-time the application was received,
    optional; without offset it is local time; absent = ``now``, i.e. when the process
    starts). Outputs: ``application_received_at`` (normalised), ``review_due`` (end of the
    ``repair_reply_wd``-th working day after the day of receipt, at ``end_of_day``) and
    ``review_gm_due`` (``review_due`` + ``gm_reply_grace_h`` hours: the general manager's
    escalation level). Parameters: ``repair_reply_wd`` (1), ``gm_reply_grace_h`` (24),
    ``timezone``, ``country``, ``end_of_day``.
    """
    cal = calendar_from_params(params)
    days = to_int(params["repair_reply_wd"], "repair_reply_wd")
    grace = to_int(params["gm_reply_grace_h"], "gm_reply_grace_h")
    if grace < 0:
        raise OperatorError(f"must be at least 0, got {grace}", field="gm_reply_grace_h")
    raw = data.get("application_received_at")
    if is_missing(raw):
        received = now_param(params, cal.tz)
    else:
        received = to_datetime(raw, "application_received_at", cal.tz).astimezone(cal.tz)
    due = cal.deadline(received, days)
    gm_due = (due.astimezone(dt.UTC) + dt.timedelta(hours=grace)).astimezone(cal.tz)
    return {"application_received_at": iso(received), "review_due": iso(due), "review_gm_due": iso(gm_due)}


@operator(
    "compute_fee_answer_due",
    params=[
        Param("fee_answer_wd", "int", 3,
              "Working days the customer has to accept or decline the repair fee before staff follow it up."),
        *CALENDAR_PARAMS,
        Param("now", "datetime", None, "Evaluation time (supplied by the engine): when the fee notice went out."),
    ],
)
def compute_fee_answer_due(data: dict, params: dict) -> dict:
    """By when the customer should answer the repair fee notice (F14).

    Output: ``fee_answer_due`` (ISO 8601 date-time, end of the ``fee_answer_wd``-th working day
    after the day the notice went out, at ``end_of_day``): the deadline of the customer's fee
    answer, after which the staff who speak for customers are told it is overdue and follow it
    up (RPR-08: the repair clock waits for the payment meanwhile). Parameters: ``fee_answer_wd``
    (3), ``timezone``, ``country``, ``end_of_day``.
    """
    cal = calendar_from_params(params)
    days = to_int(params["fee_answer_wd"], "fee_answer_wd")
    if days < 1:
        raise OperatorError(f"must be at least 1, got {days}", field="fee_answer_wd")
    return {"fee_answer_due": iso(cal.deadline(now_param(params, cal.tz), days))}


@operator(
    "compute_device_wait",
    params=[
        Param("await_device_days", "int", 30,
              "Calendar days to wait for the device before the repair is closed as abandoned (PRODUCT §5.3)."),
        Param("device_reminder_days", "int", 7,
              "Calendar days after the repair number before the customer is reminded to send the device."),
        Param("timezone", "str", DEFAULT_TIMEZONE, "IANA time zone in which the dates are shown."),
        Param("now", "datetime", None, "Evaluation time (supplied by the engine)."),
    ],
)
def compute_device_wait(data: dict, params: dict) -> dict:
    """When to remind the customer and when to give up waiting for the device.

    Outputs (ISO 8601 date-times, counted from ``now`` — the repair number and shipping
    instructions were just sent): ``device_reminder_at`` (+ ``device_reminder_days``) and
    ``device_due`` (+ ``await_device_days``). Parameters: ``await_device_days`` (30),
    ``device_reminder_days`` (7), ``timezone`` (of the output); the reminder must come before the
    closure.
    """
    wait = to_int(params["await_device_days"], "await_device_days")
    remind = to_int(params["device_reminder_days"], "device_reminder_days")
    if wait < 1:
        raise OperatorError(f"must be at least 1, got {wait}", field="await_device_days")
    if not 0 < remind < wait:
        raise OperatorError(f"must be between 1 and await_device_days - 1, got {remind}",
                            field="device_reminder_days")
    now = now_param(params, zone(to_str(params["timezone"], "timezone")))
    return {"device_reminder_at": iso(now + dt.timedelta(days=remind)),
            "device_due": iso(now + dt.timedelta(days=wait))}
