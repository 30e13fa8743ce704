"""Readable unique case numbers (PRODUCT.md §5.2, §7): ``CP-2026-000123``, ``RMA-2026-000123``.

The number comes from the engine's yearly database sequence (``next_number``); the year is
the current year in the business time zone. Issuing is idempotent: a number already in the
data is kept and no sequence value is used.
"""
from __future__ import annotations

from service_tasks.calendar_ops import DEFAULT_TIMEZONE
from service_tasks.registry import OperatorError, Param, operator
from service_tasks.values import is_missing, now_param, to_int, to_str, zone


def issue_number(data: dict, params: dict, key: str, sequence: str) -> dict:
    """``{key: "<prefix>-<year>-<n zero-padded to width>"}`` unless ``data[key]`` is set."""
    existing = data.get(key)
    if not is_missing(existing):
        return {key: existing}
    prefix = to_str(params["prefix"], "prefix")
    width = to_int(params["width"], "width", minimum=1)
    tz = zone(params["timezone"])
    next_number = params.get("next_number")
    if not callable(next_number):
        raise OperatorError("parameter next_number is required (the engine supplies it)", field="next_number")
    year = now_param(params, tz).year
    number = next_number(sequence, year)
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise OperatorError(f"sequence {sequence!r} returned {number!r}", field="next_number")
    return {key: f"{prefix}-{year}-{number:0{width}d}"}


def _params(prefix: str) -> list[Param]:
    return [
        Param("prefix", "str", prefix, "Text before the year."),
        Param("width", "int", 6, "Digits of the running number (zero-padded)."),
        Param("timezone", "str", DEFAULT_TIMEZONE, "Time zone whose current year is used."),
        Param("now", "datetime", None, "Evaluation time (supplied by the engine)."),
        Param("next_number", "any", None, "next_number(sequence, year) -> int (supplied by the engine)."),
    ]


@operator("issue_complaint_number", params=_params("CP"))
def issue_complaint_number(data: dict, params: dict) -> dict:
    """Issue the complaint number (CP-2026-000123).

    Input: ``complaint_no`` — when already set it is kept and no number is used (idempotent).
    Output: ``complaint_no`` = ``<prefix>-<YYYY>-<NNNNNN>`` from the yearly sequence
    "complaint"; YYYY is the current year in ``timezone``.
    Parameters: ``prefix`` (CP), ``width`` (6), ``timezone``.
    """
    return issue_number(data, params, "complaint_no", "complaint")


@operator("issue_repair_number", params=_params("RMA"))
def issue_repair_number(data: dict, params: dict) -> dict:
    """Issue the repair number (RMA-2026-000123).

    Input: ``repair_number`` — when already set it is kept and no number is used (idempotent).
    Output: ``repair_number`` = ``<prefix>-<YYYY>-<NNNNNN>`` from the yearly sequence
    "repair"; YYYY is the current year in ``timezone``.
    Parameters: ``prefix`` (RMA), ``width`` (6), ``timezone``.
    """
    return issue_number(data, params, "repair_number", "repair")
