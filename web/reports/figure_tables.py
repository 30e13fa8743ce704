"""The dashboard tables of the cost of complaints and of recurrence (the Nth complaint of the
customer's year), from the figures of :func:`caseflow.reports.kpis.kpis`; part of
:func:`web.reports.tables.tables`.
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


def cost_and_recurrence(figures: dict[str, Any], flt: kpis.KpiFilter, table: Any, cell: Any) -> list[Any]:
    """The cost table (complaints, quantity and amount per disposition kind, and the total) and the
    recurrence table (complaints by their rank among the customer's complaints of the year), each with
    its chart. ``table`` and ``cell`` are :class:`web.reports.tables.Table` and ``Cell``."""
    cost = figures["cost"]
    kinds = list(cost["by_kind"])
    out = table("cost", text("cost"), [text("disposition"), text("complaints"), text("quantity"), text("amount")])
    for kind in kinds:
        entry = cost["by_kind"][kind]
        out.rows.append([cell(pick(*KIND_TEXTS[kind])), cell(entry["cases"]), cell(entry["quantity"]),
                         cell(_money(entry["amount"]))])
    out.rows.append([cell(text("total")), cell(""), cell(cost["quantity"]), cell(_money(cost["amount"]))])
    out.chart = {"type": "bar", "categories": [pick(*KIND_TEXTS[k]) for k in kinds],
                 "series": [{"name": text("amount"), "data": [cost["by_kind"][k]["amount"] for k in kinds],
                             "links": [None] * len(kinds)}]}
    nth = figures["recurrence"]["by_nth"]
    recurrence = table("recurrence", text("recurrence"), [text("nth"), text("complaints")])
    recurrence.rows += [[cell(pick(*NTH_TEXTS[k])), cell(n)] for k, n in nth.items()]
    recurrence.chart = {"type": "bar", "categories": [pick(*NTH_TEXTS[k]) for k in nth],
                        "series": [{"name": text("complaints"), "data": list(nth.values()),
                                    "links": [None] * len(nth)}]}
    return [out, recurrence]
