"""The list of repairs behind the dashboard's repair figures (applications, warranty, chargeable,
declined fees, devices returned unrepaired or abandoned), filtered with SQL on ``case_facts``.

The same cases the figures count: repairs received in the range of days (business time zone),
narrowed like :func:`caseflow.reports.kpis.criteria`, and a figure's own summary measure
(:func:`caseflow.fact_summary.measures`). Read path only: never a workflow.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Row, Select, func, select
from sqlalchemy.orm import Session

from caseflow import fact_summary, store
from web import date_filters

PROCESS_KEY = "repair"
#: Each filter's values → the summary measure of the figure; ``warranty=unknown``: not decided yet.
MEASURE_FILTERS: dict[str, dict[str, str]] = {
    "outcome": {"fee_declined": "fee_declined", "returned_unrepaired": "outcome_returned_unrepaired",
                "abandoned": "outcome_abandoned"},
    "warranty": {"in": "warranty_in", "out": "warranty_out"},
    "chargeable": {"yes": "chargeable_yes", "no": "chargeable_no"},
}
CHOICES: dict[str, tuple[str, ...]] = {"outcome": tuple(MEASURE_FILTERS["outcome"]),
                                       "warranty": ("in", "out", "unknown"),
                                       "chargeable": tuple(MEASURE_FILTERS["chargeable"])}
TEXT_FILTERS = ("department", "customer", "product_model", "complaint_type")
#: The words of each filter and value: (en, zh).
TEXTS: dict[str, tuple[str, str]] = {
    "outcome": ("Outcome", "结果"), "warranty": ("Warranty", "保修"), "chargeable": ("Charge", "收费"),
    "fee_declined": ("Fee declined by the customer", "客户拒绝付费"),
    "returned_unrepaired": ("Returned unrepaired", "未修退回"), "abandoned": ("Abandoned (never sent)", "放弃(未寄送)"),
    "in": ("In warranty", "保修期内"), "out": ("Out of warranty", "保修期外"), "unknown": ("Not decided", "未判定"),
    "yes": ("Chargeable", "收费"), "no": ("Free of charge", "免费"),
}
COLUMNS = (store.ProcessInstance.id, store.ProcessInstance.business_key, store.ProcessInstance.status,
           store.ProcessInstance.data, store.ProcessInstance.definition_id, store.CaseFacts.registered_at,
           store.CaseFacts.customer_name, store.CaseFacts.product_model, store.CaseFacts.fee,
           store.CaseFacts.fee_decision, store.CaseFacts.repair_outcome)
PAGE_SIZE = 50


@dataclass
class RepairFilter:
    """The repair list's filters as given in the query string (empty = no filter)."""

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    department: str = ""
    customer: str = ""
    product_model: str = ""
    complaint_type: str = ""
    outcome: str = ""
    warranty: str = ""
    chargeable: str = ""

    def as_args(self) -> dict[str, str]:
        out = {name: getattr(self, name) for name in (*TEXT_FILTERS, *CHOICES)}
        out["date_from"] = self.date_from.isoformat() if self.date_from else ""
        out["date_to"] = self.date_to.isoformat() if self.date_to else ""
        return {k: v for k, v in out.items() if v}


def parse(args: Any) -> tuple[RepairFilter, dict[str, str]]:
    """The filter of the query ``args`` and a translated message per refused argument."""
    days, problems = date_filters.read(args)
    for name, allowed in CHOICES.items():
        value = args.get(name, "")
        if value and value not in allowed:
            problems[name] = _("Unknown value “%(value)s”: choose one of %(allowed)s.", value=value[:50],
                               allowed=", ".join(allowed))
    texts = {name: args.get(name, "")[:200] for name in TEXT_FILTERS}
    choices = {name: args.get(name, "") if name not in problems else "" for name in CHOICES}
    return RepairFilter(date_from=days["date_from"], date_to=days["date_to"], **texts, **choices), problems


def criteria(flt: RepairFilter, tz: ZoneInfo) -> list[ColumnElement[bool]]:
    """The WHERE conditions on ``case_facts`` of the repairs ``flt`` selects."""
    f = store.CaseFacts
    out: list[ColumnElement[bool]] = [f.process_key == PROCESS_KEY]
    if flt.date_from:
        out.append(f.registered_at >= dt.datetime.combine(flt.date_from, dt.time(), tz))
    if flt.date_to:
        out.append(f.registered_at < dt.datetime.combine(flt.date_to + dt.timedelta(days=1), dt.time(), tz))
    for name in TEXT_FILTERS:
        if getattr(flt, name):
            out.append((f.customer_code if name == "customer" else getattr(f, name)) == getattr(flt, name))
    measures = fact_summary.measures()
    for name, values in MEASURE_FILTERS.items():
        if getattr(flt, name) in values:
            out.append(measures[values[getattr(flt, name)]] == 1)
    if flt.warranty == "unknown":
        out.append(f.in_warranty.is_(None))
    return out


def statement(flt: RepairFilter, tz: ZoneInfo) -> Select:
    """The listed columns (:data:`COLUMNS`) of the repairs matching ``flt``, the latest received first."""
    return (select(*COLUMNS).join(store.CaseFacts, store.CaseFacts.instance_id == store.ProcessInstance.id)
            .where(*criteria(flt, tz)).order_by(store.CaseFacts.registered_at.desc(), store.ProcessInstance.id.desc()))


@dataclass
class RepairPage:
    rows: Sequence[Row]
    total: int
    page: int
    pages: int


def page(session: Session, flt: RepairFilter, tz: ZoneInfo, number: int, size: int = PAGE_SIZE) -> RepairPage:
    """One page of the repairs matching ``flt`` and how many there are."""
    total = int(session.execute(select(func.count()).select_from(store.CaseFacts)
                                .where(*criteria(flt, tz))).scalar_one())
    pages = max(1, -(-total // size))
    number = min(max(1, number), pages)
    rows = session.execute(statement(flt, tz).limit(size).offset((number - 1) * size)).all()
    return RepairPage(rows, total, number, pages)


def all_rows(session: Session, flt: RepairFilter, tz: ZoneInfo, limit: int = 100_000) -> Sequence[Row]:
    """Every repair matching ``flt`` (for the CSV), at most ``limit``."""
    return session.execute(statement(flt, tz).limit(limit)).all()
