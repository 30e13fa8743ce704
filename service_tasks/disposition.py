"""Resolution plan summary (PRODUCT.md §2 step 7, DOMAIN.md §3.8, F10).

Decision on G-16: the complaint loss amount is the sum of the amounts of all disposition
lines (several dispositions may be combined, as form F10's layout permits).
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from service_tasks.registry import OperatorError, Param, operator
from service_tasks.values import is_missing, to_decimal, to_int, to_str, to_str_list

DISPOSITION_KINDS = ["return", "exchange", "repair", "discount", "compensation",
                     "make_up_shipment", "claim", "recall"]


@operator(
    "summarize_disposition",
    params=[
        Param("kinds", "list", list(DISPOSITION_KINDS), "Accepted disposition kinds."),
        Param("repair_kind", "str", "repair", "The kind that starts the repair process."),
        Param("ratio_decimals", "int", 6, "Decimal places of complaint_ratio."),
    ],
)
def summarize_disposition(data: dict, params: dict) -> dict:
    """Totals of the resolution plan (F10).

    Inputs: ``disposition_lines`` (required list of {``kind``, ``quantity`` (int >= 0),
    ``amount`` (RMB >= 0)}; all three required on every line, an empty list is allowed)
    and ``delivery_amount`` (RMB, optional).
    Outputs: ``loss_amount`` (sum of the line amounts, 2 decimals), ``complaint_ratio``
    (loss ÷ delivery amount as a fraction, None when the delivery amount is missing or 0),
    ``has_repair`` (a ``repair`` line with quantity > 0 exists) and ``repair_quantity``
    (sum of the repair quantities). Errors name the line, e.g. ``disposition_lines[1].amount``.
    Parameters: ``kinds``, ``repair_kind``, ``ratio_decimals``.
    """
    kinds = to_str_list(params["kinds"], "kinds")
    repair_kind = to_str(params["repair_kind"], "repair_kind")
    decimals = to_int(params["ratio_decimals"], "ratio_decimals")
    lines = data.get("disposition_lines")
    if lines is None:
        raise OperatorError("the resolution plan has no disposition lines", field="disposition_lines")
    if not isinstance(lines, list):
        raise OperatorError(f"expected a list, got {type(lines).__name__}", field="disposition_lines")

    loss = Decimal(0)
    repair_quantity = 0
    for i, line in enumerate(lines):
        where = f"disposition_lines[{i}]"
        if not isinstance(line, dict):
            raise OperatorError(f"expected an object, got {type(line).__name__}", field=where)
        for key in ("kind", "quantity", "amount"):
            if is_missing(line.get(key)):
                raise OperatorError(f"{key} is missing", field=f"{where}.{key}")
        kind = to_str(line["kind"], f"{where}.kind").lower()
        if kind not in kinds:
            raise OperatorError(f"unknown kind {kind!r} (known: {', '.join(kinds)})", field=f"{where}.kind")
        quantity = to_int(line["quantity"], f"{where}.quantity")
        loss += to_decimal(line["amount"], f"{where}.amount")
        if kind == repair_kind:
            repair_quantity += quantity

    delivery_value = data.get("delivery_amount")
    delivery = None if is_missing(delivery_value) else to_decimal(delivery_value, "delivery_amount")
    ratio = None
    if delivery:
        ratio = float(round(loss / delivery, decimals))
    return {
        "loss_amount": float(loss.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)),
        "complaint_ratio": ratio,
        "has_repair": repair_quantity > 0,
        "repair_quantity": repair_quantity,
    }
