"""Intake checks: complaint registration (VAL-01, PRODUCT.md §3) and repair application
(VAL-08, PRODUCT.md §5 / F13).

A requirement list holds one entry per mandatory item. An entry is a data key
(``"product_no"``), alternatives joined by ``|`` (``"customer_name|customer_code"``: one of
them suffices) and, inside an alternative, keys joined by ``+`` that are needed together
(``"defect_rate|lot_size+functional_defect_qty+cosmetic_defect_qty"``). A missing entry is
reported exactly as written in the list. Missing = absent, None, an empty or blank
string or an empty list; 0 and false are values.
"""
from __future__ import annotations

from typing import Any

from service_tasks.grading import QUALITY_TYPES
from service_tasks.registry import OperatorError, Param, operator
from service_tasks.values import is_missing, to_str_list

COMPLAINT_QUALITY_REQUIRED = [
    "customer_name|customer_code",
    "product_no",
    "description",
    "ship_date",
    "ship_qty",
    "found_stage",
    # PRODUCT §3 asks for "defect rate or lot size with defect counts"; Scheme Q grades on the
    # counts themselves, so Caseflow always asks for both counts, plus the rate or the lot size.
    "functional_defect_qty",
    "cosmetic_defect_qty",
    "defect_rate|lot_size",
]
COMPLAINT_OTHER_REQUIRED = ["customer_name|customer_code", "description"]
REPAIR_APPLICATION_REQUIRED = [
    "customer_name",
    "address",
    "recipient",
    "phone",
    "product_model",
    "serial_no",
    "purchase_date",
    "warranty_claim",
    "fault_description",
]


def _satisfied(data: dict, entry: str) -> bool:
    return any(
        all(not is_missing(data.get(key.strip())) for key in alternative.split("+"))
        for alternative in entry.split("|")
    )


def missing_items(data: dict, required: Any, field: str) -> list[str]:
    """The entries of ``required`` (see module doc) that ``data`` does not satisfy."""
    entries = to_str_list(required, field)
    for entry in entries:
        if any(not key.strip() for alt in entry.split("|") for key in alt.split("+")):
            raise OperatorError(f"malformed entry {entry!r}", field=field)
    return [entry for entry in entries if not _satisfied(data, entry)]


@operator(
    "check_complaint_intake",
    params=[
        Param("quality_types", "list", list(QUALITY_TYPES), "Complaint types checked against required_quality."),
        Param("required_quality", "list", COMPLAINT_QUALITY_REQUIRED,
              "Mandatory items for quality-type complaints ('a|b' = one of, 'a+b' = both)."),
        Param("required_other", "list", COMPLAINT_OTHER_REQUIRED, "Mandatory items for the other complaint types."),
    ],
)
def check_complaint_intake(data: dict, params: dict) -> dict:
    """VAL-01: are the mandatory registration items present?

    Input: the registration data (``complaint_type`` decides which list applies).
    Outputs: ``intake_complete`` (bool) and ``intake_missing`` (the list entries not
    satisfied, written as in the list, e.g. ``customer_name|customer_code`` = give the
    customer name or code; ``complaint_type`` itself when it is missing, then checked
    against ``required_other``).
    Parameters: ``quality_types``, ``required_quality``, ``required_other``.
    Empty strings count as missing; 0 is a value.
    """
    quality_types = to_str_list(params["quality_types"], "quality_types")
    missing: list[str] = []
    ctype = data.get("complaint_type")
    if is_missing(ctype):
        missing.append("complaint_type")
        required, field = params["required_other"], "required_other"
    elif isinstance(ctype, str) and ctype.strip().lower() in quality_types:
        required, field = params["required_quality"], "required_quality"
    else:
        required, field = params["required_other"], "required_other"
    missing += missing_items(data, required, field)
    return {"intake_complete": not missing, "intake_missing": missing}


@operator(
    "check_repair_application",
    params=[
        Param("required", "list", REPAIR_APPLICATION_REQUIRED,
              "Mandatory F13 items ('a|b' = one of, 'a+b' = both)."),
    ],
)
def check_repair_application(data: dict, params: dict) -> dict:
    """VAL-08: is the repair application (F13) complete?

    Input: the application data (``customer_name``, ``address``, ``recipient``,
    ``phone``, ``product_model``, ``serial_no``, ``purchase_date``, ``warranty_claim``,
    ``fault_description`` by default; contact, e-mail, special requirements and
    accessories are optional). Outputs: ``application_complete`` (bool) and
    ``application_missing`` (the unsatisfied entries of ``required``).
    Parameter: ``required``. Empty strings count as missing.
    """
    missing = missing_items(data, params["required"], "required")
    return {"application_complete": not missing, "application_missing": missing}
