"""Returned goods (客退品, PRODUCT.md §10, DOMAIN.md MLP §3.9, §4.1.1, §4.2.1–4.2.4, §3.11).

The returned-goods number (RG-2026-000123), the test deadline (one week from receipt, §3.11)
and the checks of the test record and of the disposition of the units. The checks never stop
a case: they write ``record_valid`` and ``record_problems`` (field -> message), and the
diagram sends the task back with those messages when the record does not add up.
"""
from __future__ import annotations

import datetime as dt

from service_tasks.calendar_ops import DEFAULT_END_OF_DAY, DEFAULT_TIMEZONE
from service_tasks.numbering import _params as number_params
from service_tasks.numbering import issue_number
from service_tasks.registry import OperatorError, Param, operator
from service_tasks.values import is_missing, iso, to_date, to_int, to_str, zone

#: Disposition of returned units (MLP §4.2.2) -> the form field holding its quantity.
DISPOSITION_FIELDS = {
    "isolate": "isolate_qty",
    "rework": "rework_qty",
    "repair": "repair_qty",
    "scrap": "scrap_qty",
    "return_to_stock": "return_to_stock_qty",
}


@operator("issue_returned_goods_number", params=number_params("RG"))
def issue_returned_goods_number(data: dict, params: dict) -> dict:
    """Issue the returned-goods number (RG-2026-000123).

    Input: ``returned_goods_no`` — when already set it is kept (idempotent).
    Output: ``returned_goods_no`` = ``<prefix>-<YYYY>-<NNNNNN>`` from the yearly sequence
    "returned_goods". Parameters: ``prefix`` (RG), ``width`` (6), ``timezone``.
    """
    return issue_number(data, params, "returned_goods_no", "returned_goods")


def _end_of_day(day: dt.date, hhmm: str, tz: dt.tzinfo) -> dt.datetime:
    try:
        at = dt.time.fromisoformat(hhmm)
    except ValueError:
        raise OperatorError(f"expected HH:MM, got {hhmm!r}", field="end_of_day") from None
    return dt.datetime.combine(day, at, tzinfo=tz)


@operator(
    "compute_returned_goods_test_due",
    params=[
        Param("test_days", "int", 7,
              "Calendar days from the receipt of the returned goods to finish their test (MLP §4.3.1, one week)."),
        Param("gm_test_grace_h", "int", 48,
              "Hours after test_due before the general manager is escalated to (test_gm_due)."),
        Param("timezone", "str", DEFAULT_TIMEZONE, "IANA time zone of the business day."),
        Param("end_of_day", "str", DEFAULT_END_OF_DAY, "Local time (HH:MM) at which a day's deadline ends."),
    ],
)
def compute_returned_goods_test_due(data: dict, params: dict) -> dict:
    """Deadline of the returned-goods test: ``test_days`` calendar days after the receipt.

    Input: ``goods_received_date`` (ISO date the goods arrived, required). Outputs: ``test_due``
    (``end_of_day`` local time of goods_received_date + ``test_days``) and ``test_gm_due``
    (``test_due`` + ``gm_test_grace_h`` hours). Parameters: ``test_days`` (7),
    ``gm_test_grace_h`` (48), ``timezone``, ``end_of_day``.
    """
    days = to_int(params["test_days"], "test_days", minimum=1)
    grace = to_int(params["gm_test_grace_h"], "gm_test_grace_h")
    tz = zone(params["timezone"])
    if is_missing(data.get("goods_received_date")):
        raise OperatorError("date is missing", field="goods_received_date")
    received = to_date(data["goods_received_date"], "goods_received_date", tz)
    due = _end_of_day(received + dt.timedelta(days=days), to_str(params["end_of_day"], "end_of_day"), tz)
    gm_due = (due.astimezone(dt.UTC) + dt.timedelta(hours=grace)).astimezone(tz)
    return {"test_due": iso(due), "test_gm_due": iso(gm_due)}


def _count(data: dict, key: str, problems: dict[str, str]) -> int | None:
    """A whole number >= 0 from ``data[key]``; a problem (and None) when it is missing or wrong."""
    value = data.get(key)
    if is_missing(value):
        problems[key] = "this quantity is required"
        return None
    try:
        return to_int(value, key)
    except OperatorError as err:
        problems[key] = str(err).removeprefix(f"{key}: ")
        return None


@operator("check_returned_goods_test")
def check_returned_goods_test(data: dict, params: dict) -> dict:
    """Check the test record against the received quantity (MLP §4.2.1, §4.2.4).

    Inputs: ``received_qty``, ``tested_qty``, ``defective_qty`` (whole numbers) and
    ``defect_phenomena`` (list of {``phenomenon``, ``quantity``}). Rules: tested ≤ received,
    defective ≤ tested, each phenomenon named once with 1 ≤ quantity ≤ defective, at least one
    phenomenon when there are defective units (and none without). Outputs: ``record_valid``,
    ``record_problems`` (field -> message, e.g. ``defect_phenomena.1.quantity``; None when valid) and, when
    valid, ``defects_by_phenomenon`` ({phenomenon: quantity}) and ``returned_defect_rate`` (defective ÷
    tested, 4 decimals; None when nothing was tested).
    """
    problems: dict[str, str] = {}
    received = _count(data, "received_qty", problems)
    tested = _count(data, "tested_qty", problems)
    defective = _count(data, "defective_qty", problems)
    if received is not None and tested is not None and tested > received:
        problems["tested_qty"] = f"{tested} tested, but only {received} were received"
    if tested is not None and defective is not None and defective > tested:
        problems["defective_qty"] = f"{defective} defective, but only {tested} were tested"
    lines = data.get("defect_phenomena") or []
    by_phenomenon: dict[str, int] = {}
    if not isinstance(lines, list):
        problems["defect_phenomena"] = "expected a list of phenomena"
        lines = []
    for i, line in enumerate(lines):
        where = f"defect_phenomena.{i}"
        name = line.get("phenomenon") if isinstance(line, dict) else None
        if is_missing(name) or not isinstance(name, str):
            problems[f"{where}.phenomenon"] = "name the defect phenomenon"
            continue
        name = name.strip()
        sub: dict[str, str] = {}
        qty = _count(line, "quantity", sub)
        if sub:
            problems[f"{where}.quantity"] = sub["quantity"]
        elif qty is not None and qty < 1:
            problems[f"{where}.quantity"] = "a phenomenon counts at least 1 unit"
        elif qty is not None and defective is not None and qty > defective:
            problems[f"{where}.quantity"] = f"{qty} units, but only {defective} are defective"
        if name in by_phenomenon:
            problems[f"{where}.phenomenon"] = f"{name!r} is listed twice"
        elif qty is not None:
            by_phenomenon[name] = qty
    if defective and not lines:
        problems["defect_phenomena"] = f"{defective} defective units: record their defect phenomena"
    if defective == 0 and lines:
        problems["defect_phenomena"] = "no defective units: remove the phenomena or correct the defective quantity"
    if problems:
        return {"record_valid": False, "record_problems": problems}
    assert tested is not None and defective is not None
    return {
        "record_valid": True,
        "record_problems": None,
        "defects_by_phenomenon": by_phenomenon,
        "returned_defect_rate": round(defective / tested, 4) if tested else None,
    }


@operator("check_returned_goods_disposition")
def check_returned_goods_disposition(data: dict, params: dict) -> dict:
    """Check that the disposition of the returned units adds up (MLP §4.2.2).

    Inputs: ``received_qty`` and the quantities ``isolate_qty``, ``rework_qty``, ``repair_qty``,
    ``scrap_qty``, ``return_to_stock_qty`` (whole numbers >= 0). Rule: the five add up to the
    received quantity. Outputs: ``record_valid``, ``record_problems`` (field -> message, None when valid; a sum
    that does not match names every quantity field) and, when valid, ``disposition_summary``
    ({disposition: quantity}, the dispositions with a quantity only).
    """
    problems: dict[str, str] = {}
    received = _count(data, "received_qty", problems)
    quantities = {kind: _count(data, key, problems) for kind, key in DISPOSITION_FIELDS.items()}
    if not problems and received is not None:
        total = sum(q or 0 for q in quantities.values())
        if total != received:
            message = f"the quantities add up to {total}, but {received} were received"
            problems.update({key: message for key in DISPOSITION_FIELDS.values()})
    if problems:
        return {"record_valid": False, "record_problems": problems}
    return {"record_valid": True, "record_problems": None,
            "disposition_summary": {kind: q for kind, q in quantities.items() if q}}
