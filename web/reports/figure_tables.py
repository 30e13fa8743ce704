"""The dashboard tables of the cost of complaints and of recurrence (the Nth complaint of the
customer's year), from the figures of :func:`caseflow.reports.kpis.kpis`; part of
:func:`web.reports.tables.tables`. Every cell of these tables links to the list of the cases behind
it (the complaint register); so do the satisfied table's and the repair counts' (the repair list),
whose filters are named here.
"""
from __future__ import annotations

from typing import Any

from caseflow.reports import kpis
from web.labels import pick

TEXTS: dict[str, tuple[str, str]] = {
    "cost": ("Cost of complaints per disposition (approved plans)", "客诉成本(按处置方式,已批准方案)"),
    "disposition": ("Disposition", "处置方式"), "complaints": ("Complaints", "投诉数"),
    "quantity": ("Quantity", "数量"), "amount": ("Amount (RMB)", "金额(元)"), "total": ("Period total", "期间合计"),
    "recurrence": ("Recurrence: Nth complaint of the customer's year", "重复投诉:客户本年度第几次投诉"),
    "nth": ("Complaint of the year", "本年度第几次"),
}
#: The disposition kinds' words (processes/complaint/complaint_resolution_plan.schema.json).
KIND_TEXTS: dict[str, tuple[str, str]] = {
    "return": ("Return", "退货"), "exchange": ("Exchange", "换货"), "repair": ("Repair", "维修"),
    "discount": ("Discount", "折价"), "compensation": ("Compensation", "赔偿"),
    "make_up_shipment": ("Make-up shipment", "补送"), "claim": ("Claim", "索赔"), "recall": ("Recall", "召回"),
}
NTH_TEXTS: dict[str, tuple[str, str]] = {"1": ("1st", "第 1 次"), "2": ("2nd", "第 2 次"), "3": ("3rd", "第 3 次"),
                                         "4+": ("4th or later", "第 4 次及以上")}


def text(key: str) -> str:
    return pick(*TEXTS[key])


def _money(value: float) -> str:
    return f"{value:.2f}"


def _cases_link(flt: kpis.KpiFilter, **extra: str) -> str:
    from web.reports.tables import cases_link  # imported here: tables imports this module

    return cases_link(flt, **extra)


def cost_and_recurrence(figures: dict[str, Any], flt: kpis.KpiFilter, table: Any, cell: Any) -> list[Any]:
    """The cost table (complaints, quantity and amount per disposition kind, and the total) and the
    recurrence table (complaints by their rank among the customer's complaints of the year), each with
    its chart. ``table`` and ``cell`` are :class:`web.reports.tables.Table` and ``Cell``."""
    cost = figures["cost"]
    kinds = list(cost["by_kind"])
    out = table("cost", text("cost"), [text("disposition"), text("complaints"), text("quantity"), text("amount")])
    for kind in kinds:
        entry, link = cost["by_kind"][kind], _cases_link(flt, disposition=kind)
        out.rows.append([cell(pick(*KIND_TEXTS[kind]), link), cell(entry["cases"], link),
                         cell(entry["quantity"], link), cell(_money(entry["amount"]), link)])
    every = _cases_link(flt, disposition="any")
    out.rows.append([cell(text("total"), every), cell(""), cell(cost["quantity"], every),
                     cell(_money(cost["amount"]), every)])
    out.chart = {"type": "bar", "categories": [pick(*KIND_TEXTS[k]) for k in kinds],
                 "series": [{"name": text("amount"), "data": [cost["by_kind"][k]["amount"] for k in kinds],
                             "links": [_cases_link(flt, disposition=k) for k in kinds]}]}
    nth = figures["recurrence"]["by_nth"]
    recurrence = table("recurrence", text("recurrence"), [text("nth"), text("complaints")])
    recurrence.rows += [[cell(pick(*NTH_TEXTS[k]), _cases_link(flt, nth=k)), cell(n, _cases_link(flt, nth=k))]
                        for k, n in nth.items()]
    recurrence.chart = {"type": "bar", "categories": [pick(*NTH_TEXTS[k]) for k in nth],
                        "series": [{"name": text("complaints"), "data": list(nth.values()),
                                    "links": [_cases_link(flt, nth=k) for k in nth]}]}
    return [out, recurrence]


#: The rows of the satisfied table (their label's text key) → the register's ``satisfied`` value.
SATISFIED_ROWS = {"satisfied": "yes", "satisfied_first": "first_feedback", "satisfied_after": "after_follow_up",
                  "not_satisfied": "no", "unknown": "unknown"}
#: The rows of the repairs table that count repairs (their label's text key) → the repair list's filter.
REPAIR_ROWS: dict[str, dict[str, str]] = {
    "applications": {}, "in_warranty": {"warranty": "in"}, "out_warranty": {"warranty": "out"},
    "warranty_unknown": {"warranty": "unknown"}, "chargeable": {"chargeable": "yes"},
    "free": {"chargeable": "no"}, "declined_fee": {"outcome": "fee_declined"},
    "returned_unrepaired": {"outcome": "returned_unrepaired"}, "abandoned": {"outcome": "abandoned"},
}
