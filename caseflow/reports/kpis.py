"""The KPI figures of the dashboard and the API (DOMAIN.md §6), aggregated in SQL.

Every figure is over the cases *registered* (received) in a range of days of the business
time zone, narrowed by department, customer, product model and complaint type. The additive
figures come from the daily summary (:class:`caseflow.store_reports.CaseFactDay`, a few
thousand rows a year) unless a customer, product model or complaint type is chosen (those are
not summary keys): then from ``case_facts`` itself, with the same expressions
(:func:`caseflow.fact_summary.measures`), so both ways give the same figures. The top lists
read the monthly summary for the whole months of the range and the facts' covering index for
the days at its ends; the cases late now read the partial index of each deadline's open rows.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, select
from sqlalchemy.orm import Session

from caseflow import clock, fact_summary, store
from caseflow.store_reports import DISPOSITION_KINDS, FACT_STAGES, SUMMARY_COUNTS, SUMMARY_FLOATS, TOP_DIMENSIONS

PROCESS_KEY = "complaint"
REPAIR_KEY = "repair"
CLASSES = ("major", "general", "other")
DEADLINES = store.FACT_DEADLINES
COMPLAINT_DEADLINES = ("reaction", "containment", "closure")
REPAIR_DEADLINES = ("repair_reply", "repair_cycle")
STAGES = FACT_STAGES
OPEN_STAGES = ("in_progress", "follow_up")
LEVELS = ("1", "2", "3", "4", "5")
#: The Nth complaint of the customer's year (F: 本次投诉为本年度第 N 次投诉): the summary column of each band.
NTH = (("1", "nth_1"), ("2", "nth_2"), ("3", "nth_3"), ("4+", "nth_4plus"))
RATIO_BANDS = fact_summary.RATIO_BANDS
#: Ages of open cases (days since registration): (name, from days, to days) with [from, to).
AGES: tuple[tuple[str, int, int | None], ...] = (("le_7d", 0, 8), ("8_30d", 8, 31), ("31_90d", 31, 91),
                                                 ("gt_90d", 91, None))
#: How late the cases late now are (days past the due time): (name, from, to) with [from, to).
LATENESS: tuple[tuple[str, int, int | None], ...] = (("lt_1d", 0, 1), ("1_3d", 1, 3), ("3_7d", 3, 7),
                                                     ("ge_7d", 7, None))
TOP = 10
LISTED = 20  # cases listed among the late now and the oldest open
ROLES = frozenset({"manager", "general_manager", "quality", "admin"})  # who sees every department
#: The roles that are departments (the complaint routing's responsible_dept values, PRODUCT.md §4): a
#: user holding one sees that department's figures.
DEPARTMENT_ROLES = frozenset({"quality", "logistics", "marketing", "customer_service"})

F = store.CaseFacts
DAY = fact_summary.DAY
TOPS = fact_summary.TOP
SUMS = SUMMARY_COUNTS + SUMMARY_FLOATS


@dataclass(frozen=True)
class KpiFilter:
    """The report's range (days, both included, business time zone) and filters (None: all).

    ``scope``: the departments the viewer may see (None: every one), on top of ``department``.
    """

    date_from: dt.date
    date_to: dt.date
    department: str | None = None
    customer: str | None = None
    product_model: str | None = None
    complaint_type: str | None = None
    scope: tuple[str, ...] | None = None

    def as_args(self) -> dict[str, str]:
        """The filter as query arguments (``from``/``to`` and the filters that are set)."""
        out = {"from": self.date_from.isoformat(), "to": self.date_to.isoformat(), "department": self.department,
               "customer": self.customer, "product_model": self.product_model,
               "complaint_type": self.complaint_type}
        return {k: v for k, v in out.items() if v}

    @property
    def exact(self) -> bool:
        """Whether a filter the summaries do not key on is set (the figures then come from the facts)."""
        return bool(self.customer or self.product_model or self.complaint_type)


def can_see(roles: set[str] | frozenset[str]) -> bool:
    """Whether a user with ``roles`` may see every department's KPI reports."""
    return bool(ROLES & set(roles))


def scope_for(roles: set[str] | frozenset[str] | list[str]) -> tuple[str, ...] | None:
    """The departments a user with ``roles`` sees: None for every one (:data:`ROLES`), their
    department roles (:data:`DEPARTMENT_ROLES`) otherwise; raises :class:`PermissionError` when none."""
    if can_see(frozenset(roles)):
        return None
    own = tuple(sorted(DEPARTMENT_ROLES & set(roles)))
    if not own:
        raise PermissionError("the KPI reports are for managers, general managers, quality and the departments")
    return own


def _bounds(flt: KpiFilter, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    return (dt.datetime.combine(flt.date_from, dt.time(), tz),
            dt.datetime.combine(flt.date_to + dt.timedelta(days=1), dt.time(), tz))


def criteria(flt: KpiFilter, tz: ZoneInfo, process_key: str = PROCESS_KEY) -> list[ColumnElement[bool]]:
    """The WHERE conditions on ``case_facts`` of the cases ``flt`` selects (served by its indexes)."""
    start, end = _bounds(flt, tz)
    where: list[ColumnElement[bool]] = [F.process_key == process_key, F.registered_at >= start,
                                        F.registered_at < end]
    if flt.department:
        where.append(F.department == flt.department)
    if flt.scope is not None:
        where.append(F.department.in_(flt.scope))
    if flt.customer:
        where.append(F.customer_code == flt.customer)
    if flt.product_model:
        where.append(F.product_model == flt.product_model)
    if flt.complaint_type:
        where.append(F.complaint_type == flt.complaint_type)
    return where


def _day_where(flt: KpiFilter, process_key: str) -> list[ColumnElement[bool]]:
    where = [DAY.c.process_key == process_key, DAY.c.day >= flt.date_from.isoformat(),
             DAY.c.day <= flt.date_to.isoformat()]
    if flt.department:
        where.append(DAY.c.department == flt.department)
    if flt.scope is not None:
        where.append(DAY.c.department.in_(flt.scope))
    return where


def _grouped(flt: KpiFilter, tz: ZoneInfo, process_key: str) -> Select:
    """The complaints and their KPI weight per (month, class, department): from the daily summary, or
    the facts. Only these two are grouped: sorting every figure's column into the groups cost more
    than the sums themselves (:func:`_summed` sums the rest in one pass without grouping)."""
    if flt.exact:
        dims = [F.registered_month.label("month"), func.coalesce(F.kpi_class, "").label("kpi_class"),
                func.coalesce(F.department, "").label("department")]
        return (select(*dims, func.count().label("n"), func.sum(func.coalesce(F.kpi_weight, 0)).label("weight"))
                .where(*criteria(flt, tz, process_key)).group_by(*dims))
    keys: list[Any] = [DAY.c.month, DAY.c.kpi_class, DAY.c.department]
    return (select(*keys, func.sum(DAY.c.n).label("n"), func.sum(DAY.c.weight).label("weight"))
            .where(*_day_where(flt, process_key)).group_by(*keys))


def _age_sums(flt: KpiFilter, tz: ZoneInfo, now: dt.datetime) -> list[Any]:
    """The open complaints per stage and age band (:data:`AGES`), as sums over the daily summary
    (labelled ``age_<stage>_<band>``): a band is a span of registration days."""
    today = now.astimezone(tz).date()
    out: list[Any] = []
    for band, _low, _high in AGES:
        first, last = age_span(band, today)
        cond = DAY.c.day <= last.isoformat()
        if first is not None:
            cond = cond & (DAY.c.day >= first.isoformat())
        out += [func.sum(DAY.c[f"stage_{stage}"]).filter(cond).label(f"age_{stage}_{band}") for stage in OPEN_STAGES]
    return out


def _summed(flt: KpiFilter, tz: ZoneInfo, process_key: str, extra: list[Any]) -> Select:
    """Every additive figure over the whole selection (no grouping), and the ``extra`` summary sums."""
    if flt.exact:
        return select(*(func.sum(expr).label(name) for name, expr in fact_summary.measures().items())).where(
            *criteria(flt, tz, process_key))
    return select(*(func.sum(DAY.c[name]).label(name) for name in SUMS), *extra).where(*_day_where(flt, process_key))


def _totals(session: Session, flt: KpiFilter, tz: ZoneInfo, process_key: str,
            now: dt.datetime | None = None) -> tuple[dict[str, float], list]:
    """The sums of every figure, and the (month, class, department) groups' complaints and weights.
    With ``now`` (and from the summary), also the open complaints' age bands (``age_<stage>_<band>``)."""
    extra = _age_sums(flt, tz, now) if now is not None and not flt.exact else []
    found = session.execute(_summed(flt, tz, process_key, extra)).one()._mapping
    totals: dict[str, float] = {name: value or 0 for name, value in found.items()}
    rows = [r._mapping for r in session.execute(_grouped(flt, tz, process_key))]
    return totals, rows


def _whole_months(flt: KpiFilter) -> tuple[list[str], list[tuple[dt.date, dt.date]]]:
    """The months wholly inside the range, and the day spans (both included) outside them."""
    first = flt.date_from if flt.date_from.day == 1 else _next_month(flt.date_from)
    months: list[str] = []
    cursor = first
    while _next_month(cursor) - dt.timedelta(days=1) <= flt.date_to:
        months.append(cursor.strftime("%Y-%m"))
        cursor = _next_month(cursor)
    if not months:
        return [], [(flt.date_from, flt.date_to)]
    spans = []
    if flt.date_from < first:
        spans.append((flt.date_from, first - dt.timedelta(days=1)))
    if cursor <= flt.date_to:
        spans.append((cursor, flt.date_to))
    return months, spans


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def top(session: Session, flt: KpiFilter, tz: ZoneInfo, dimension: str, limit: int = TOP) -> list[dict[str, Any]]:
    """The values of ``dimension`` (a :data:`TOP_DIMENSIONS` column) with the most complaints."""
    assert dimension in TOP_DIMENSIONS
    column = getattr(F, dimension)
    counts: dict[str | None, list[int]] = {}

    def add(rows: Any) -> None:
        for value, n, weight in rows:
            entry = counts.setdefault(value or None, [0, 0])
            entry[0] += int(n)
            entry[1] += int(weight or 0)

    grouped = (select(column, func.count(), func.coalesce(func.sum(F.kpi_weight), 0)).group_by(column))
    if flt.exact or flt.department or flt.scope is not None:
        add(session.execute(grouped.where(*criteria(flt, tz))))
    else:
        months, spans = _whole_months(flt)
        if months:
            add(session.execute(select(TOPS.c.value, func.sum(TOPS.c.n), func.sum(TOPS.c.weight))
                                .where(TOPS.c.process_key == PROCESS_KEY, TOPS.c.dimension == dimension,
                                       TOPS.c.month.in_(months)).group_by(TOPS.c.value)))
        for start, end in spans:
            add(session.execute(grouped.where(*criteria(KpiFilter(start, end), tz))))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1][0], kv[0] or ""))[:limit]
    out = [{"key": key, "label": key, "complaints": n, "kpi_complaint_count": weight}
           for key, (n, weight) in ranked if n > 0]
    if dimension == "customer_code":
        for entry in out:
            if entry["key"]:
                entry["label"] = session.scalar(
                    select(F.customer_name).where(F.process_key == PROCESS_KEY, F.customer_code == entry["key"])
                    .order_by(F.registered_at.desc()).limit(1)) or entry["key"]
    return out


def late_now(session: Session, flt: KpiFilter, tz: ZoneInfo, now: dt.datetime,
             process_key: str = PROCESS_KEY, deadlines: tuple[str, ...] = COMPLAINT_DEADLINES) -> dict[str, Any]:
    """The cases with a deadline open past its due time: per deadline and lateness, and the latest ones."""
    where = criteria(flt, tz, process_key)
    per: dict[str, dict[str, int]] = {}
    listed: list[dict[str, Any]] = []
    for name in deadlines:
        state, due = getattr(F, name), getattr(F, f"{name}_due")
        # The literal 'open' (not a bound parameter) lets the database pick the partial index.
        late = [*where, state == literal_column("'open'"), due < now]
        sums: list[Any] = [func.count()]
        for _band, low, high in LATENESS:  # COUNT … FILTER: a third of the time of SUM(CASE …) on SQLite
            cond = due <= now - dt.timedelta(days=low)
            if high is not None:
                cond = cond & (due > now - dt.timedelta(days=high))
            sums.append(func.count().filter(cond))
        row = session.execute(select(*sums).where(*late)).one()
        bands = zip(LATENESS, row[1:], strict=True)
        per[name] = {"total": int(row[0]), **{band: int(v) for (band, _l, _h), v in bands}}
        for iid, when in session.execute(select(F.instance_id, due).where(*late).order_by(due, F.instance_id)
                                         .limit(LISTED)):
            listed.append({"instance_id": iid, "deadline": name, "due": when})
    listed.sort(key=lambda c: (c["due"], c["instance_id"]))
    listed = listed[:LISTED]
    keys = _business_keys(session, [c["instance_id"] for c in listed])
    for c in listed:
        due_at = c["due"] if c["due"].tzinfo else c["due"].replace(tzinfo=dt.UTC)
        c["business_key"] = keys.get(c["instance_id"])
        c["late_hours"] = round((now - due_at).total_seconds() / 3600, 1)
    return {"by_deadline": per, "cases": listed}


def _business_keys(session: Session, ids: list[int]) -> dict[int, str | None]:
    if not ids:
        return {}
    case_t = store.ProcessInstance
    return {iid: key for iid, key in session.execute(select(case_t.id, case_t.business_key).where(case_t.id.in_(ids)))}


def age_span(band: str, today: dt.date) -> tuple[dt.date | None, dt.date]:
    """The registration days (first or None, last; both included) of an age band of open cases."""
    low, high = next((lo, hi) for name, lo, hi in AGES if name == band)
    return (today - dt.timedelta(days=high - 1) if high is not None else None), today - dt.timedelta(days=low)


def open_by_age(session: Session, flt: KpiFilter, tz: ZoneInfo, now: dt.datetime,
                totals: dict[str, float] | None = None) -> dict[str, Any]:
    """Open complaints per stage and age (whole days since the registration day), the oldest first.

    ``totals``: the sums of :func:`_totals` holding the age bands (``age_<stage>_<band>``, from the
    daily summary); without them the bands are counted from the facts."""
    where = [*criteria(flt, tz), F.stage.in_(OPEN_STAGES)]
    today = now.astimezone(tz).date()
    if totals is not None and f"age_{OPEN_STAGES[0]}_{AGES[0][0]}" in totals:
        table = {stage: {band: int(totals[f"age_{stage}_{band}"]) for band, _l, _h in AGES} for stage in OPEN_STAGES}
    else:
        table = {stage: dict.fromkeys([a[0] for a in AGES], 0) for stage in OPEN_STAGES}
        sums: list[Any] = []
        for band, _low, _high in AGES:  # local days as times, so the (process, stage, registered_at) index serves
            first, last = age_span(band, today)
            cond = F.registered_at < dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tz)
            if first is not None:
                cond = cond & (F.registered_at >= dt.datetime.combine(first, dt.time(), tz))
            sums.append(func.count().filter(cond))
        for stage, *counts in session.execute(select(F.stage, *sums).where(*where).group_by(F.stage)):
            table[stage] = {band: int(v) for (band, _l, _h), v in zip(AGES, counts, strict=True)}
    listed = select(F.instance_id, F.stage, F.registered_at, F.registered_day).where(*where)
    oldest: list[dict[str, Any]] = [
        {"instance_id": iid, "stage": stage, "registered_at": at,
         "age_days": (today - dt.date.fromisoformat(day)).days if day else None}
        for iid, stage, at, day in session.execute(listed.order_by(F.registered_at, F.instance_id).limit(LISTED))]
    keys = _business_keys(session, [c["instance_id"] for c in oldest])
    for c in oldest:
        c["business_key"] = keys.get(c["instance_id"])
    return {"by_stage": table, "oldest": oldest}


def _rate(totals: dict[str, float], name: str, overdue: int) -> dict[str, Any]:
    """A deadline's figures; its on-time rate counts the open ones already past due as missed
    (whatever happens next, they will not be met): met ÷ (met + late + overdue)."""
    met, late = int(totals[f"{name}_met"]), int(totals[f"{name}_late"])
    judged = met + late + overdue
    return {"met": met, "late": late, "open": int(totals[f"{name}_open"]), "overdue": overdue,
            "rate": met / judged if judged else None}


def repairs(session: Session, flt: KpiFilter, tz: ZoneInfo, now: dt.datetime) -> dict[str, Any]:
    """The repair figures: applications, warranty, chargeable share and fees, turnaround, deadlines."""
    totals, _rows = _totals(session, flt, tz, REPAIR_KEY)
    n, charged, free = int(totals["n"]), int(totals["chargeable_yes"]), int(totals["chargeable_no"])
    turnaround = int(totals["turnaround_cases"])
    overdue = late_now(session, flt, tz, now, REPAIR_KEY, REPAIR_DEADLINES)["by_deadline"]
    return {
        "applications": n,
        "warranty": {"in": int(totals["warranty_in"]), "out": int(totals["warranty_out"]),
                     "unknown": n - int(totals["warranty_in"]) - int(totals["warranty_out"])},
        "chargeable": {"yes": charged, "no": free, "share": charged / (charged + free) if charged + free else None},
        "fees": {"cases": int(totals["fee_cases"]), "amount": float(totals["fee"])},
        "turnaround": {"cases": turnaround, "working_days": int(totals["turnaround_days"]),
                       "average": totals["turnaround_days"] / turnaround if turnaround else None},
        "declined_fee": int(totals["fee_declined"]),
        "returned_unrepaired": int(totals["outcome_returned_unrepaired"]),
        "abandoned": int(totals["outcome_abandoned"]),
        "on_time_rate": {name: _rate(totals, name, overdue[name]["total"]) for name in REPAIR_DEADLINES},
        "stages": {stage: int(totals[f"stage_{stage}"]) for stage in STAGES},
    }


def cost(totals: dict[str, float]) -> dict[str, Any]:
    """The cost of complaints: per disposition kind of the approved plans, the complaints with such
    lines, their quantity and amount; and the totals."""
    kinds = {kind: {"cases": int(totals[f"disp_{kind}_cases"]), "quantity": int(totals[f"disp_{kind}_qty"]),
                    "amount": float(totals[f"disp_{kind}_amount"])} for kind in DISPOSITION_KINDS}
    return {"by_kind": kinds, "quantity": sum(k["quantity"] for k in kinds.values()),
            "amount": sum(k["amount"] for k in kinds.values())}


def kpis(session: Session, flt: KpiFilter, tz: ZoneInfo, now: dt.datetime | None = None) -> dict[str, Any]:
    """Every figure of the dashboard for ``flt`` (the API's ``KpiSchema``)."""
    now = now or clock.now()
    totals, rows = _totals(session, flt, tz, PROCESS_KEY, now)
    months: dict[str, dict[str, Any]] = {}
    departments: dict[str | None, dict[str, Any]] = {}
    by_class: dict[str, int] = {}
    for m in rows:
        n, weight = int(m["n"]), int(m["weight"] or 0)
        kpi_class = m["kpi_class"] if m["kpi_class"] in CLASSES else "ungraded"
        by_class[kpi_class] = by_class.get(kpi_class, 0) + n
        month = months.setdefault(m["month"], {"month": m["month"], **dict.fromkeys(CLASSES, 0), "ungraded": 0,
                                               "kpi_complaint_count": 0})
        month[kpi_class] += n
        month["kpi_complaint_count"] += weight
        dept = departments.setdefault(m["department"] or None, {"key": m["department"] or None,
                                                                "label": m["department"] or None,
                                                                "complaints": 0, "kpi_complaint_count": 0})
        dept["complaints"] += n
        dept["kpi_complaint_count"] += weight
    late = late_now(session, flt, tz, now)
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
            "distribution": {name: int(totals[fact_summary.band_column(name)]) for name, _lo, _hi in RATIO_BANDS}},
        "on_time_rate": {name: _rate(totals, name, late["by_deadline"][name]["total"] if name in late["by_deadline"]
                                     else 0) for name in DEADLINES},
        "late_now": late,
        "satisfaction": {level: int(totals[f"sat_{level}"]) for level in LEVELS},
        "satisfied": {"yes": yes, "no": no, "unknown": count - yes - no, "first_feedback": int(totals["sat_first"]),
                      "after_follow_up": int(totals["sat_after_follow_up"])},
        "cost": cost(totals),
        "recurrence": {"by_nth": {label: int(totals[column]) for label, column in NTH}},
        "escalations": {"manager": int(totals["esc_manager"]), "general_manager": int(totals["esc_gm"])},
        "stages": {stage: int(totals[f"stage_{stage}"]) for stage in STAGES},
        "open_by_age": open_by_age(session, flt, tz, now, totals),
        "by_month": [months[k] for k in sorted(months)],
        "by_department": sorted(departments.values(), key=lambda d: (-d["complaints"], d["key"] or "")),
        "top_customers": top(session, flt, tz, "customer_code"),
        "top_product_models": top(session, flt, tz, "product_model"),
        "top_complaint_types": top(session, flt, tz, "complaint_type"),
        "repairs": repairs(session, flt, tz, now),
    }


def choices(session: Session, column: Any, scope: tuple[str, ...] | None = None) -> list[str]:
    """The values a filter offers: the distinct values of an indexed facts column among complaints
    (``department``, ``customer_code``), stepping from each value to the next larger one in the
    (process_key, column) index: a few look-ups however many cases there are. With ``scope``, among
    the complaints of those departments only."""
    complaint = F.process_key == PROCESS_KEY
    if scope is not None:
        complaint = and_(complaint, F.department.in_(scope))
    steps = select(func.min(column).label("v")).where(complaint).cte("found", recursive=True)
    larger = select(func.min(column)).where(complaint, column > steps.c.v).scalar_subquery()
    steps = steps.union_all(select(larger).where(steps.c.v.is_not(None)))
    return sorted(v for v in session.scalars(select(steps.c.v).where(steps.c.v.is_not(None))) if v)


#: The complaint types of the registration form (PRODUCT.md §3).
COMPLAINT_TYPES = ("quality", "transport", "packaging", "labeling", "quantity", "service", "other")


def unknown_filter_values(session: Session, department: str | None = None,
                          complaint_type: str | None = None) -> dict[str, str]:
    """A message per filter value no complaint can have: a department that is neither one the routing
    gives nor one in use, a complaint type that is neither the form's nor one in use ({} when fine)."""
    out: dict[str, str] = {}
    if department and department not in DEPARTMENT_ROLES and department not in choices(session, F.department):
        out["department"] = (f"unknown department {department[:50]!r}: one of "
                             f"{', '.join(sorted(DEPARTMENT_ROLES | set(choices(session, F.department))))}")
    if complaint_type and complaint_type not in COMPLAINT_TYPES and session.scalar(
            select(F.instance_id).where(F.process_key == PROCESS_KEY, F.complaint_type == complaint_type).limit(1)) \
            is None:
        out["complaint_type"] = f"unknown complaint type {complaint_type[:50]!r}: one of {', '.join(COMPLAINT_TYPES)}"
    return out

