"""The KPI figures of the dashboard and the API (DOMAIN.md §6), aggregated in SQL over ``case_facts``.

Read path only: the facts rows the engine keeps in step with each save, never the data JSON
or a workflow. Every figure is over the complaints *registered* (received) in a range of
days of the business time zone, narrowed by department, customer, product model and type.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from caseflow import clock, store
from web import complaint_register as register

PROCESS_KEY = "complaint"
CLASSES = ("major", "general", "other")
DEADLINES = store.FACT_DEADLINES
STAGES = ("in_progress", "follow_up", "resolved", "cancelled")
LEVELS = ("1", "2", "3", "4", "5")
RATIO_BANDS = register.RATIO_BANDS  # bands of the per-complaint ratio (loss ÷ delivery): [low, high)
TOP = 10
ROLES = frozenset({"manager", "general_manager", "quality", "admin"})  # who sees the reports

F = store.CaseFacts


@dataclass(frozen=True)
class KpiFilter:
    """The report's range (days, both included, business time zone) and filters (None: all)."""

    date_from: dt.date
    date_to: dt.date
    department: str | None = None
    customer: str | None = None
    product_model: str | None = None
    complaint_type: str | None = None

    def as_args(self) -> dict[str, str]:
        """The filter as query arguments (``from``/``to`` and the filters that are set)."""
        out = {"from": self.date_from.isoformat(), "to": self.date_to.isoformat(), "department": self.department,
               "customer": self.customer, "product_model": self.product_model,
               "complaint_type": self.complaint_type}
        return {k: v for k, v in out.items() if v}


def can_see(roles: set[str] | frozenset[str]) -> bool:
    """Whether a user with ``roles`` may see the KPI reports (manager, general manager, quality, admin)."""
    return bool(ROLES & set(roles))


def criteria(flt: KpiFilter, tz: ZoneInfo) -> list[ColumnElement[bool]]:
    """The WHERE conditions of the complaints ``flt`` selects (served by the facts indexes)."""
    start = dt.datetime.combine(flt.date_from, dt.time(), tz)
    end = dt.datetime.combine(flt.date_to + dt.timedelta(days=1), dt.time(), tz)
    where: list[ColumnElement[bool]] = [F.process_key == PROCESS_KEY, F.registered_at >= start, F.registered_at < end]
    if flt.department:
        where.append(F.department == flt.department)
    if flt.customer:
        where.append(F.customer_code == flt.customer)
    if flt.product_model:
        where.append(F.product_model == flt.product_model)
    if flt.complaint_type:
        where.append(F.complaint_type == flt.complaint_type)
    return where


def _count_if(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def kpis(session: Session, flt: KpiFilter, tz: ZoneInfo, now: dt.datetime | None = None) -> dict[str, Any]:
    """Every figure of the dashboard for ``flt`` (the API's ``KpiSchema``) in two SQL scans of the
    range: every sum grouped by (month, class, department), rolled up here, and the top customers."""
    now = now or clock.now()
    where = criteria(flt, tz)
    ratio = F.loss_amount / F.delivery_amount
    has_ratio = (F.loss_amount.is_not(None)) & (F.delivery_amount.is_not(None)) & (F.delivery_amount > 0)
    sums: list[Any] = [
        func.count().label("n"),
        func.coalesce(func.sum(F.kpi_weight), 0).label("weight"),
        func.coalesce(func.sum(case((has_ratio, F.loss_amount), else_=0)), 0).label("loss"),
        func.coalesce(func.sum(case((has_ratio, F.delivery_amount), else_=0)), 0).label("delivery"),
        _count_if(has_ratio).label("ratio_cases"),
        func.coalesce(func.sum(F.escalations_manager), 0).label("esc_manager"),
        func.coalesce(func.sum(F.escalations_gm), 0).label("esc_gm"),
        _count_if(F.satisfied.is_(True)).label("satisfied_yes"),
        _count_if(F.satisfied.is_(False)).label("satisfied_no"),
    ]
    for name, low, high in RATIO_BANDS:
        band = has_ratio & (ratio >= low) if high is None else has_ratio & (ratio >= low) & (ratio < high)
        sums.append(_count_if(band).label(f"band_{name}"))
    for name in DEADLINES:
        state, due = getattr(F, name), getattr(F, f"{name}_due")
        sums += [_count_if(state == "met").label(f"{name}_met"), _count_if(state == "late").label(f"{name}_late"),
                 _count_if(state == "open").label(f"{name}_open"),
                 _count_if((state == "open") & (due < now)).label(f"{name}_overdue")]
    for level in LEVELS:
        sums.append(_count_if(F.satisfaction == int(level)).label(f"sat_{level}"))
    for stage in STAGES:
        sums.append(_count_if(F.stage == stage).label(f"stage_{stage}"))
    names = [c.name for c in sums]
    totals: dict[str, float] = dict.fromkeys(names, 0)
    months: dict[str, dict[str, Any]] = {}
    departments: dict[str | None, dict[str, Any]] = {}
    by_class: dict[str, int] = {}
    for row in session.execute(select(F.registered_month, F.kpi_class, F.department, *sums).where(*where)
                               .group_by(F.registered_month, F.kpi_class, F.department)):
        m = row._mapping
        n, weight = int(m["n"]), int(m["weight"] or 0)
        for name in names:
            totals[name] += m[name] or 0
        kpi_class = m["kpi_class"] if m["kpi_class"] in CLASSES else "ungraded"
        by_class[kpi_class] = by_class.get(kpi_class, 0) + n
        month = months.setdefault(m["registered_month"], {"month": m["registered_month"], **dict.fromkeys(CLASSES, 0),
                                                          "ungraded": 0, "kpi_complaint_count": 0})
        month[kpi_class] += n
        month["kpi_complaint_count"] += weight
        dept = departments.setdefault(m["department"], {"key": m["department"], "label": m["department"],
                                                        "complaints": 0, "kpi_complaint_count": 0})
        dept["complaints"] += n
        dept["kpi_complaint_count"] += weight

    customers = [{"key": key, "label": name, "complaints": int(n), "kpi_complaint_count": int(weight or 0)}
                 for key, name, n, weight in session.execute(
                     select(F.customer_code, func.max(F.customer_name), func.count(),
                            func.coalesce(func.sum(F.kpi_weight), 0))
                     .where(*where).group_by(F.customer_code).order_by(func.count().desc(), F.customer_code)
                     .limit(TOP))]
    loss, delivery = float(totals["loss"]), float(totals["delivery"])
    count = int(totals["n"])
    yes, no = int(totals["satisfied_yes"]), int(totals["satisfied_no"])
    return {
        "date_from": flt.date_from, "date_to": flt.date_to,
        "complaint_count": count,
        "kpi_complaint_count": int(totals["weight"]),
        "complaints_by_class": {**{c: by_class.get(c, 0) for c in CLASSES}, "ungraded": by_class.get("ungraded", 0)},
        "complaint_ratio": {
            "total": loss / delivery if delivery > 0 else None, "loss_amount": loss, "delivery_amount": delivery,
            "cases": int(totals["ratio_cases"]),
            "distribution": {name: int(totals[f"band_{name}"]) for name, _low, _high in RATIO_BANDS}},
        "on_time_rate": {name: _rate(totals, name) for name in DEADLINES},
        "satisfaction": {level: int(totals[f"sat_{level}"]) for level in LEVELS},
        "satisfied": {"yes": yes, "no": no, "unknown": count - yes - no},
        "escalations": {"manager": int(totals["esc_manager"]), "general_manager": int(totals["esc_gm"])},
        "stages": {stage: int(totals[f"stage_{stage}"]) for stage in STAGES},
        "by_month": [months[k] for k in sorted(months)],
        "by_department": sorted(departments.values(), key=lambda d: (-d["complaints"], d["key"] or "")),
        "top_customers": customers,
    }


def _rate(totals: Any, name: str) -> dict[str, Any]:
    met, late = int(totals[f"{name}_met"]), int(totals[f"{name}_late"])
    return {"met": met, "late": late, "open": int(totals[f"{name}_open"]),
            "overdue": int(totals[f"{name}_overdue"]), "rate": met / (met + late) if met + late else None}


def choices(session: Session, column: Any) -> list[str]:
    """The values a filter offers: the distinct values of an indexed facts column among complaints
    (``department``, ``customer_code``), stepping from each value to the next larger one in the
    (process_key, column) index: a few look-ups however many cases there are."""
    complaint = F.process_key == PROCESS_KEY
    steps = select(func.min(column).label("v")).where(complaint).cte("found", recursive=True)
    larger = select(func.min(column)).where(complaint, column > steps.c.v).scalar_subquery()
    steps = steps.union_all(select(larger).where(steps.c.v.is_not(None)))
    return sorted(v for v in session.scalars(select(steps.c.v).where(steps.c.v.is_not(None))) if v)
