"""The complaint's calls of the returned-goods process (PRODUCT.md §10).

A complaint runs ``returned_goods`` once per resolution plan with return, exchange or make-up
shipment lines. The not-satisfied loop may re-plan several times over the life of a case; each
call keeps its own record in ``returned_goods_records`` (like ``repairs``), and a plan line that
an earlier call carried out is not started again (a line is the same line when its kind,
quantity and note are the same).
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from service_tasks.registry import OperatorError, Param, operator
from service_tasks.values import iso, now_param, to_int

#: The plan line kinds the returned-goods process carries out.
DEFAULT_KINDS = ["return", "exchange", "make_up_shipment"]
#: Keys a call record keeps besides the process's own result.
_RECORD_META = ("seq", "ended_at", "lines")


def _line_key(line: dict) -> tuple[Any, ...]:
    return (line.get("kind"), line.get("quantity"), line.get("note") or None)


def _records(data: dict) -> list[dict]:
    records = data.get("returned_goods_records")
    if records is None:
        return []
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise OperatorError("expected a list of returned-goods records", field="returned_goods_records")
    return records


@operator(
    "plan_returned_goods_call",
    params=[Param("kinds", "list", DEFAULT_KINDS,
                  "Plan line kinds carried out by the returned-goods process (return, exchange, make-up).")],
)
def plan_returned_goods_call(data: dict, params: dict) -> dict:
    """The plan's returned-goods lines still to carry out, and the called process's inputs.

    Inputs: ``disposition_lines`` (the plan: {kind, quantity, amount, note}), ``returned_goods_records``
    (earlier calls, each with its ``lines``), ``product_model``. A line with a quantity of a kind in
    ``kinds`` is open unless an earlier call carried out the same line (kind, quantity, note).
    Outputs: ``returned_goods_records`` (the list, [] at first), ``open_returned_goods_lines`` (how
    many), ``returned_goods_lines`` (the open lines: kind, quantity, product_model, note); when there
    are open lines also ``request_kind`` (exchange when a line exchanges, else return when a line
    returns, else make_up_shipment), ``expected_qty`` (units coming back: return + exchange lines)
    and ``make_up_qty`` (units of make-up lines, shipped without any coming back).
    """
    kinds = params["kinds"]
    if not isinstance(kinds, list) or not kinds:
        raise OperatorError("expected a non-empty list of kinds", field="kinds")
    records = _records(data)
    lines = data.get("disposition_lines") or []
    if not isinstance(lines, list):
        raise OperatorError("expected a list of plan lines", field="disposition_lines")
    done = Counter(_line_key(line) for r in records for line in (r.get("lines") or []) if isinstance(line, dict))
    product = data.get("product_model")
    open_lines: list[dict] = []
    for i, line in enumerate(lines):
        if not isinstance(line, dict) or line.get("kind") not in kinds:
            continue
        quantity = to_int(line.get("quantity") or 0, f"disposition_lines.{i}.quantity")
        if quantity <= 0:
            continue
        key = _line_key(line)
        if done[key] > 0:
            done[key] -= 1
            continue
        entry = {"kind": line["kind"], "quantity": quantity, "product_model": product}
        if line.get("note"):
            entry["note"] = line["note"]
        open_lines.append(entry)
    result: dict[str, Any] = {"returned_goods_records": records, "open_returned_goods_lines": len(open_lines),
                              "returned_goods_lines": open_lines}
    if open_lines:
        by_kind: Counter[str] = Counter()
        for entry in open_lines:
            by_kind[entry["kind"]] += entry["quantity"]
        kind = "exchange" if by_kind["exchange"] else "return" if by_kind["return"] else "make_up_shipment"
        result.update(request_kind=kind, expected_qty=by_kind["exchange"] + by_kind["return"] or None,
                      make_up_qty=by_kind["make_up_shipment"] or None)
    return result


@operator(
    "record_returned_goods_call",
    params=[Param("now", "datetime", None, "Evaluation time (supplied by the engine).")],
)
def record_returned_goods_call(data: dict, params: dict) -> dict:
    """Append the finished call's record to ``returned_goods_records``.

    Inputs: ``returned_goods_result`` (the record the returned-goods process wrote: received,
    tested, defective per phenomenon, disposition per quantity, shipment), ``returned_goods_lines``
    (the plan lines the call carried out), ``returned_goods_records``. Output:
    ``returned_goods_records`` with one more record: the result with ``seq`` (1, 2, …),
    ``ended_at`` (now) and ``lines``.
    """
    result = data.get("returned_goods_result")
    if not isinstance(result, dict):
        raise OperatorError("the returned-goods process wrote no record", field="returned_goods_result")
    records = _records(data)
    lines = data.get("returned_goods_lines") or []
    if not isinstance(lines, list):
        raise OperatorError("expected a list of plan lines", field="returned_goods_lines")
    record = {k: v for k, v in result.items() if k not in _RECORD_META}
    record.update(seq=len(records) + 1, ended_at=iso(now_param(params)), lines=lines)
    return {"returned_goods_records": [*records, record]}
