"""Retail exchange eligibility (PRODUCT.md §10, DOMAIN.md §3.9 EXC-01…06).

Decisions on the G-gaps of §3.9 (PRODUCT.md §10): the window counts calendar days from the
purchase date, ``request_date - purchase_date <= exchange_window_days`` for unopened and for
deteriorated goods alike; an allergy confirmed within ``allergy_window_days`` of purchase (the
request date is the confirmation date) may be exchanged or returned even if the goods were
opened; outside those cases opened goods are not eligible. Exchange is the suggested outcome
(EXC-05): ``return_allowed`` is true only in the allergy case.
"""
from __future__ import annotations

from service_tasks.registry import OperatorError, Param, operator
from service_tasks.values import is_missing, to_bool, to_date, to_int

#: The evidence the customer brings for an exchange (EXC-04), the data key recording it, and its name.
EVIDENCE = ["invoice", "event_slip"]
EVIDENCE_KEYS = {"invoice": "invoice_presented", "event_slip": "event_slip_presented"}
EVIDENCE_NAMES = {"invoice": "invoice", "event_slip": "EVENT slip"}


def _flag(data: dict, key: str, *, required: bool) -> bool:
    value = data.get(key)
    if is_missing(value):
        if required:
            raise OperatorError("is required (true or false)", field=key)
        return False
    return to_bool(value, key)


@operator(
    "check_exchange_eligibility",
    params=[
        Param("exchange_window_days", "int", 5,
              "Calendar days after the purchase date within which unopened or deteriorated goods "
              "may be exchanged (EXC-03)."),
        Param("allergy_window_days", "int", 3,
              "Calendar days after the purchase date within which a confirmed allergy allows exchange "
              "or return of opened goods (EXC-06)."),
    ],
)
def check_exchange_eligibility(data: dict, params: dict) -> dict:
    """Whether retail goods may be exchanged (or, for an allergy, returned).

    Inputs: ``purchase_date`` and ``request_date`` (ISO dates, required; the request date is
    also the allergy confirmation date and may not precede the purchase), ``unsealed``
    (bool, required: the goods were opened), ``deteriorated`` and ``allergy`` (bool, absent =
    false), ``invoice_presented`` and ``event_slip_presented`` (bool, optional: recorded as false,
    the goods are not eligible, EXC-04). Outputs: ``exchange_eligible``, ``return_allowed`` (only in the allergy case,
    EXC-05/06), ``eligibility_rules`` (the rule ids that decided, in order),
    ``days_since_purchase``, ``evidence_required`` (invoice and EVENT slip, EXC-04, when the
    goods qualify; else empty) and ``reason`` (one English sentence).
    Parameters: ``exchange_window_days`` (5), ``allergy_window_days`` (3).
    """
    window = to_int(params["exchange_window_days"], "exchange_window_days")
    allergy_window = to_int(params["allergy_window_days"], "allergy_window_days")
    for key in ("purchase_date", "request_date"):
        if is_missing(data.get(key)):
            raise OperatorError("date is missing", field=key)
    purchase = to_date(data["purchase_date"], "purchase_date")
    request = to_date(data["request_date"], "request_date")
    if request < purchase:
        raise OperatorError(f"{request} is before the purchase date {purchase}", field="request_date")
    unsealed = _flag(data, "unsealed", required=True)
    deteriorated = _flag(data, "deteriorated", required=False)
    allergy = _flag(data, "allergy", required=False)

    days = (request - purchase).days
    in_window = days <= window
    day_text = f"day {days} after purchase"
    if allergy and days <= allergy_window:
        eligible, return_allowed, rules = True, True, ["EXC-06", "EXC-05", "EXC-04"]
        reason = (f"Eligible: allergy confirmed on {day_text}, within {allergy_window} days "
                  f"(opened goods included); exchange suggested, return allowed.")
    elif in_window and deteriorated:
        eligible, return_allowed, rules = True, False, ["EXC-02", "EXC-03", "EXC-05", "EXC-04"]
        reason = f"Eligible for exchange: deteriorated goods, request on {day_text}, within {window} days."
    elif in_window and not unsealed:
        eligible, return_allowed, rules = True, False, ["EXC-01", "EXC-03", "EXC-05", "EXC-04"]
        reason = f"Eligible for exchange: unopened goods, request on {day_text}, within {window} days."
    elif not in_window:
        eligible, return_allowed = False, False
        rules = (["EXC-06"] if allergy else []) + ["EXC-03"]
        reason = f"Not eligible: request on {day_text}, after the {window}-day exchange window."
        if allergy:
            reason = (f"Not eligible: allergy confirmed on {day_text}, after the {allergy_window}-day "
                      f"allergy window and the {window}-day exchange window.")
    else:
        eligible, return_allowed = False, False
        rules = (["EXC-06"] if allergy else []) + ["EXC-01", "EXC-02"]
        reason = f"Not eligible: the goods were opened and have not deteriorated (request on {day_text})."
        if allergy:
            reason = (f"Not eligible: opened goods, allergy confirmed on {day_text}, after the "
                      f"{allergy_window}-day allergy window, and the goods have not deteriorated.")
    # EXC-04: the invoice and the EVENT slip. Absent = not recorded yet (listed as required);
    # recorded as not presented = not eligible, whatever the goods.
    missing = [name for name, key in EVIDENCE_KEYS.items()
               if not is_missing(data.get(key)) and not to_bool(data[key], key)]
    qualifies = eligible
    if eligible and missing:
        eligible, return_allowed, rules = False, False, [*rules[:-2], "EXC-04"]
        shown = " and the ".join(EVIDENCE_NAMES[name] for name in missing)
        detail = reason.split(": ", 1)[1].rstrip(".")
        reason = (f"Not eligible: the {shown} {'was' if len(missing) == 1 else 'were'} not presented "
                  f"(the goods qualify: {detail}).")
    return {
        "exchange_eligible": eligible,
        "return_allowed": return_allowed,
        "eligibility_rules": rules,
        "days_since_purchase": days,
        "evidence_required": list(EVIDENCE) if qualifies else [],
        "reason": reason,
    }
