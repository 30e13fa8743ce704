"""Complaint routing (PRODUCT.md §4, DOMAIN.md §3.6): complaint type -> responsible role."""
from __future__ import annotations

from typing import Any

from service_tasks.registry import OperatorError, Param, operator
from service_tasks.values import is_missing, to_str

#: PRODUCT §4 default table with the DOMAIN rule each row follows.
DEFAULT_TABLE: dict[str, dict[str, str]] = {
    "quality": {"dept": "quality", "rule": "RT-02"},
    "packaging": {"dept": "quality", "rule": "RT-03"},
    "labeling": {"dept": "quality", "rule": "RT-03"},
    "quantity": {"dept": "quality", "rule": "RT-03"},
    "transport": {"dept": "logistics", "rule": "RT-01"},
    "service": {"dept": "customer_service", "rule": "RT-06"},
    "other": {"dept": "marketing", "rule": "RT-04"},
}


def _row(ctype: str, entry: Any) -> tuple[str, str]:
    """(dept, rule id) of a table row: ``"dept"`` or ``{"dept": ..., "rule": ...}``."""
    if isinstance(entry, str):
        return to_str(entry, "table"), f"table:{ctype}"
    if isinstance(entry, dict) and not is_missing(entry.get("dept")):
        rule = entry.get("rule")
        return to_str(entry["dept"], "table"), (to_str(rule, "table") if rule else f"table:{ctype}")
    raise OperatorError(f"row {ctype!r} must be a role key or {{'dept': ..., 'rule': ...}}", field="table")


@operator(
    "route_complaint",
    params=[
        Param("table", "dict", DEFAULT_TABLE,
              "complaint_type -> role key, or -> {'dept': role, 'rule': 'RT-xx'} (PRODUCT §4)."),
        Param("default_dept", "str", "quality", "Role for a complaint type not in the table (RT-07: QA organises)."),
        Param("default_rule", "str", "RT-07", "Rule id recorded when default_dept is used."),
    ],
)
def route_complaint(data: dict, params: dict) -> dict:
    """Choose the department (role key) that handles the complaint.

    Input: ``complaint_type``. Outputs: ``responsible_dept`` (a role key; the 8D tasks
    take their role from it) and ``routing_rule`` (the DOMAIN rule id of the table row,
    e.g. RT-01 transport -> logistics; ``table:<type>`` for a custom row given as a
    plain role key; ``default_rule`` when the type is not in the table).
    Parameters: ``table`` (default quality/packaging/labeling/quantity -> quality,
    transport -> logistics, service -> customer_service, other -> marketing),
    ``default_dept``, ``default_rule``.
    """
    table = params["table"]
    if not isinstance(table, dict):
        raise OperatorError(f"expected a dict, got {type(table).__name__}", field="table")
    value = data.get("complaint_type")
    if is_missing(value):
        raise OperatorError("complaint type is missing", field="complaint_type")
    ctype = to_str(value, "complaint_type").lower()
    if ctype in table:
        dept, rule = _row(ctype, table[ctype])
    else:
        dept = to_str(params["default_dept"], "default_dept")
        rule = to_str(params["default_rule"], "default_rule")
    return {"responsible_dept": dept, "routing_rule": rule}
