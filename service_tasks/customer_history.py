"""The customer's complaint history (F10 "本次投诉:为本年度第 N 次投诉", DOMAIN.md §4 F10).

Which complaint of this customer this one is in the current year: complaints are matched by
the customer code when the complaint has one, else by the customer name (DOMAIN.md leaves
open whether the counter is per customer or global; Caseflow counts per customer). The
count comes from the engine (``count_cases``), the year is the current year in the business
time zone. Counting is idempotent: a number already in the data is kept.

Two complaints of one customer registered in the same instant may get the same number; the
counter is a record for the form, not a key.
"""
from __future__ import annotations

import datetime as dt

from service_tasks.calendar_ops import DEFAULT_TIMEZONE
from service_tasks.registry import OperatorError, Param, operator
from service_tasks.values import is_missing, now_param, to_str, zone


def year_bounds(now: dt.datetime, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """Start of the local year of ``now`` and start of the next one (aware, in ``tz``)."""
    year = now.astimezone(tz).year
    return dt.datetime(year, 1, 1, tzinfo=tz), dt.datetime(year + 1, 1, 1, tzinfo=tz)


@operator("count_customer_complaints", params=[
    Param("process_key", "str", "complaint", "Process whose cases are counted."),
    Param("output", "str", "customer_complaint_seq", "Data key written with the number."),
    Param("timezone", "str", DEFAULT_TIMEZONE, "Time zone whose current year is counted."),
    Param("now", "datetime", None, "Evaluation time (supplied by the engine)."),
    Param("count_cases", "any", None,
          "count_cases(process_key, data_key, value, start, end, exclude_business_key) -> int "
          "(supplied by the engine)."),
])
def count_customer_complaints(data: dict, params: dict) -> dict:
    """Number this complaint within the customer's complaints of the current year (F10).

    Input: ``customer_code`` (preferred) or ``customer_name``; ``complaint_no`` (this case,
    left out of the count); ``customer_complaint_seq`` when already counted (kept).
    Output: ``customer_complaint_seq`` = 1 + the complaints of the same customer registered
    this year before this one; nothing when the complaint names no customer.
    Parameters: ``process_key`` (complaint), ``output``, ``timezone``.
    """
    output = to_str(params["output"], "output")
    if not is_missing(data.get(output)):
        return {output: data[output]}
    key = next((k for k in ("customer_code", "customer_name") if not is_missing(data.get(k))), None)
    if key is None:
        return {}
    count_cases = params.get("count_cases")
    if not callable(count_cases):
        raise OperatorError("parameter count_cases is required (the engine supplies it)", field="count_cases")
    tz = zone(params["timezone"])
    start, end = year_bounds(now_param(params, tz), tz)
    own = data.get("complaint_no")
    earlier = count_cases(to_str(params["process_key"], "process_key"), key, str(data[key]).strip(), start, end,
                          own if isinstance(own, str) and own else None)
    if isinstance(earlier, bool) or not isinstance(earlier, int) or earlier < 0:
        raise OperatorError(f"count_cases returned {earlier!r}", field="count_cases")
    return {output: earlier + 1}
