"""The complaint register (F07/F11): complaints filtered with SQL on the data column.

Read path only: rows of ``process_instance`` and ``human_task``, never a workflow.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Row, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from caseflow import clock, fact_summary, store
from caseflow.reports import kpis
from caseflow.store_reports import DISPOSITION_KINDS, FACT_STAGES
from web import date_filters
from web.labels import OUTPUT_ENUMS, pick

PROCESS_KEY = "complaint"
# F11's handling progress (处理中 / 已解决 / 待跟进) plus the states only software has.
STATUSES = ("open", "follow_up", "error", "closed", "rejected", "cancelled")
OPEN_STATUSES = ("running", "waiting", "error")
# An open complaint waiting on one of these tasks is pending follow-up (待跟进): the customer
# has been informed and the feedback or the follow-up measures are due.
FOLLOW_UP_TASKS = ("customer_feedback", "follow_up")
DATA_FILTERS = {"kpi_class": "kpi_class", "urgency": "urgency", "department": "responsible_dept"}
# What the register shows of a complaint (never its workflow state).
COLUMNS = (store.ProcessInstance.id, store.ProcessInstance.definition_id, store.ProcessInstance.process_key,
           store.ProcessInstance.business_key, store.ProcessInstance.status, store.ProcessInstance.data,
           store.ProcessInstance.created_at, store.ProcessInstance.updated_at, store.ProcessInstance.completed_at)
TASKS_PER_QUERY = 500  # instance ids per query for the current tasks (the CSV has every complaint)
#: Bands of the complaint ratio (loss ÷ delivery amount, a fraction): name, [low, high).
RATIO_BANDS = (("lt_0.5pct", 0.0, 0.005), ("0.5_1pct", 0.005, 0.01), ("1_2pct", 0.01, 0.02),
               ("2_5pct", 0.02, 0.05), ("ge_5pct", 0.05, None))
ESCALATION_COLUMNS = {"manager": "escalations_manager", "general_manager": "escalations_gm"}
#: The filters behind the cost, satisfaction and recurrence figures: argument → value → the summary
#: measure (:func:`caseflow.fact_summary.measures`) the figure sums, so a list holds exactly the counted cases.
#: ``disposition=any``: a line of any kind in the approved plan; ``satisfied=unknown``: no feedback yet.
MEASURE_FILTERS: dict[str, dict[str, str]] = {
    "disposition": {kind: f"disp_{kind}_cases" for kind in DISPOSITION_KINDS},
    "satisfied": {"yes": "satisfied_yes", "no": "satisfied_no", "first_feedback": "sat_first",
                  "after_follow_up": "sat_after_follow_up"},
    "nth": {"1": "nth_1", "2": "nth_2", "3": "nth_3", "4+": "nth_4plus"},
}
#: The values of each enumerated facts filter: any other value is refused with a field message.
FACT_CHOICES: dict[str, tuple[str, ...]] = {
    "stage": FACT_STAGES, "satisfaction": ("1", "2", "3", "4", "5"), "deadline": tuple(store.FACT_DEADLINES),
    "deadline_state": ("met", "late", "open", "overdue"), "ratio_band": tuple(b[0] for b in RATIO_BANDS),
    "escalated": tuple(ESCALATION_COLUMNS), "disposition": (*DISPOSITION_KINDS, "any"),
    "satisfied": (*MEASURE_FILTERS["satisfied"], "unknown"), "nth": tuple(MEASURE_FILTERS["nth"]),
}


def problems(args: Any, session: Session) -> dict[str, str]:
    """A translated message per filter of the query ``args`` that cannot be applied: an unknown status
    or enumerated facts filter, a class, urgency, department or complaint type that is neither a known
    one nor one in use, a date that is not one, a range that ends before it starts."""
    out: dict[str, str] = {}
    for name, allowed in {"status": STATUSES, **FACT_CHOICES}.items():
        value = args.get(name, "")
        if value and value not in allowed:
            out[name] = _unknown(value, allowed)
    for name in ("kpi_class", "urgency"):
        value = args.get(name, "")
        if value and value not in OUTPUT_ENUMS[name] and value not in distinct_values(session, name):
            out[name] = _unknown(value, [*OUTPUT_ENUMS[name], *distinct_values(session, name)])
    unknown = kpis.unknown_filter_values(session, args.get("department", ""), args.get("complaint_type", ""))
    if "department" in unknown:
        out["department"] = _unknown(args["department"], sorted(kpis.DEPARTMENT_ROLES))
    if "complaint_type" in unknown:
        out["complaint_type"] = _unknown(args["complaint_type"], kpis.COMPLAINT_TYPES)
    out.update(date_filters.read(args)[1])
    return out


def _unknown(value: str, allowed: Iterable[str]) -> str:
    return _("Unknown value “%(value)s”: choose one of %(allowed)s.", value=value[:50],
             allowed=", ".join(dict.fromkeys(allowed)))


@dataclass
class RegisterFilter:
    """The register's filters as given in the query string (empty = no filter)."""

    status: str = ""
    kpi_class: str = ""
    urgency: str = ""
    department: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    q: str = ""
    # Filters on the case facts (the KPI dashboard's links to the cases behind a figure).
    customer: str = ""
    product_model: str = ""
    complaint_type: str = ""
    stage: str = ""  # in_progress / follow_up / resolved / rejected / cancelled
    satisfaction: str = ""  # 1 … 5
    deadline: str = ""  # one of store.FACT_DEADLINES, with deadline_state
    deadline_state: str = ""  # met / late / open / overdue
    ratio_band: str = ""  # a band of web.kpis.RATIO_BANDS
    escalated: str = ""  # manager / general_manager
    disposition: str = ""  # a kind of the approved plan's lines (DISPOSITION_KINDS) or "any"
    satisfied: str = ""  # yes / no / first_feedback / after_follow_up / unknown
    nth: str = ""  # the customer's Nth complaint of the year: 1, 2, 3 or 4+

    @classmethod
    def from_args(cls, args: dict) -> RegisterFilter:
        def one_of(name: str, allowed: Iterable[str]) -> str:
            value = args.get(name, "")
            return value if value in allowed else ""

        return cls(status=args.get("status", ""), kpi_class=args.get("kpi_class", ""),
                   urgency=args.get("urgency", ""), department=args.get("department", ""),
                   date_from=date_filters.day(args.get("date_from", "")),
                   date_to=date_filters.day(args.get("date_to", "")), q=args.get("q", "").strip(),
                   customer=args.get("customer", "")[:200], product_model=args.get("product_model", "")[:200],
                   complaint_type=args.get("complaint_type", "")[:100],
                   **{name: one_of(name, allowed) for name, allowed in FACT_CHOICES.items()})

    def as_args(self) -> dict[str, str]:
        out = {"status": self.status, "kpi_class": self.kpi_class, "urgency": self.urgency,
               "department": self.department, "q": self.q, "customer": self.customer,
               "product_model": self.product_model, "complaint_type": self.complaint_type, "stage": self.stage,
               "satisfaction": self.satisfaction, "deadline": self.deadline, "deadline_state": self.deadline_state,
               "ratio_band": self.ratio_band, "escalated": self.escalated, "disposition": self.disposition,
               "satisfied": self.satisfied, "nth": self.nth,
               "date_from": self.date_from.isoformat() if self.date_from else "",
               "date_to": self.date_to.isoformat() if self.date_to else ""}
        return {k: v for k, v in out.items() if v}


def _value(key: str):
    if key in store.INDEXED_DATA_KEYS:  # the same value, as the (process_key, value) index has it
        return store.data_text(key)
    return store.ProcessInstance.data[key].as_string()


def received_at(row: store.ProcessInstance) -> str | dt.datetime:
    """When the complaint was received (``received_at``), else when it was registered."""
    return (row.data or {}).get("received_at") or row.created_at


def status_key(row: store.ProcessInstance, ready_tasks: Iterable[str] = ()) -> str:
    """The register's status of a complaint: open, follow_up, error, closed, rejected or cancelled.

    ``ready_tasks`` are the BPMN ids of its ready tasks (``current_tasks``' ``name``).
    """
    if row.status in OPEN_STATUSES:
        if row.status == "error":
            return "error"
        return "follow_up" if set(ready_tasks) & set(FOLLOW_UP_TASKS) else "open"
    if row.status == "completed":
        return "rejected" if (row.data or {}).get("outcome") == "rejected" else "closed"
    return row.status


def statement(flt: RegisterFilter, tz: ZoneInfo, search_fields: Iterable[str] = ()) -> Select:
    """SELECT of the register's columns (``COLUMNS``) of the complaints matching ``flt``, newest first.

    The text search ``flt.q`` matches the complaint number and the ``search_fields`` (the
    process manifest's).
    """
    return (select(*COLUMNS).where(*criteria(flt, tz, search_fields))
            .order_by(store.ProcessInstance.created_at.desc(), store.ProcessInstance.id.desc()))


def count(session: Session, flt: RegisterFilter, tz: ZoneInfo, search_fields: Iterable[str] = ()) -> int:
    """How many complaints match ``flt`` (without filters: read from an index)."""
    return int(session.execute(select(func.count()).select_from(store.ProcessInstance)
                               .where(*criteria(flt, tz, search_fields))).scalar_one())


def criteria(flt: RegisterFilter, tz: ZoneInfo, search_fields: Iterable[str] = ()) -> list[ColumnElement[Any]]:
    """The WHERE condition of the complaints matching ``flt`` (as a list for ``where(*...)``)."""
    stmt = select(store.ProcessInstance.id).where(store.ProcessInstance.process_key == PROCESS_KEY)
    following_up = (select(store.HumanTask.id)
                    .where(store.HumanTask.instance_id == store.ProcessInstance.id, store.HumanTask.state == "ready",
                           store.HumanTask.name.in_(FOLLOW_UP_TASKS)).exists())
    if flt.status == "open":
        stmt = stmt.where(store.ProcessInstance.status.in_(OPEN_STATUSES), ~following_up)
    elif flt.status == "follow_up":
        stmt = stmt.where(store.ProcessInstance.status.in_(("running", "waiting")), following_up)
    elif flt.status == "rejected":
        stmt = stmt.where(store.ProcessInstance.status == "completed", _value("outcome") == "rejected")
    elif flt.status == "closed":
        stmt = stmt.where(store.ProcessInstance.status == "completed",
                          or_(_value("outcome").is_(None), _value("outcome") != "rejected"))
    elif flt.status:
        stmt = stmt.where(store.ProcessInstance.status == flt.status)
    for attr, key in DATA_FILTERS.items():
        wanted = getattr(flt, attr)
        if wanted:
            stmt = stmt.where(_value(key) == wanted)
    # Dates filter on the receipt day: ``received_at`` is written in the business time zone
    # (compute_deadlines), so its first ten characters are the local day; a complaint not
    # graded yet has none and counts from its registration time.
    received_day = func.substr(_value("received_at"), 1, 10)
    if flt.date_from:
        start = dt.datetime.combine(flt.date_from, dt.time(), tz)
        stmt = stmt.where(or_(received_day >= flt.date_from.isoformat(),
                              and_(_value("received_at").is_(None), store.ProcessInstance.created_at >= start)))
    if flt.date_to:
        end = dt.datetime.combine(flt.date_to + dt.timedelta(days=1), dt.time(), tz)
        stmt = stmt.where(or_(received_day <= flt.date_to.isoformat(),
                              and_(_value("received_at").is_(None), store.ProcessInstance.created_at < end)))
    facts = _facts_criteria(flt)
    if facts:
        stmt = stmt.where(select(store.CaseFacts.instance_id)
                          .where(store.CaseFacts.instance_id == store.ProcessInstance.id, *facts).exists())
    if flt.q:
        like = f"%{flt.q}%"
        stmt = stmt.where(or_(store.ProcessInstance.business_key.ilike(like),
                              *(_value(key).ilike(like) for key in search_fields)))
    assert stmt.whereclause is not None
    return [stmt.whereclause]


def _facts_criteria(flt: RegisterFilter) -> list[ColumnElement[bool]]:
    """Conditions on the complaint's ``case_facts`` row for the facts filters of ``flt``."""
    f = store.CaseFacts
    out: list[ColumnElement[bool]] = []
    for attr in ("customer", "product_model", "complaint_type", "stage"):
        wanted = getattr(flt, attr)
        if wanted:
            out.append((f.customer_code if attr == "customer" else getattr(f, attr)) == wanted)
    if flt.satisfaction:
        out.append(f.satisfaction == int(flt.satisfaction))
    if flt.deadline and flt.deadline_state:
        state = getattr(f, flt.deadline)
        if flt.deadline_state == "overdue":
            out += [state == "open", getattr(f, f"{flt.deadline}_due") < clock.now()]
        else:
            out.append(state == flt.deadline_state)
    if flt.ratio_band:
        low, high = next((lo, hi) for name, lo, hi in RATIO_BANDS if name == flt.ratio_band)
        ratio = f.loss_amount / f.delivery_amount
        out += [f.loss_amount.is_not(None), f.delivery_amount > 0, ratio >= low]
        if high is not None:
            out.append(ratio < high)
    if flt.escalated:
        out.append(getattr(f, ESCALATION_COLUMNS[flt.escalated]) > 0)
    return out + _measure_criteria(flt)


def _measure_criteria(flt: RegisterFilter) -> list[ColumnElement[bool]]:
    """The cost, satisfaction and recurrence filters: the figure's own measure counts the case."""
    measures = fact_summary.measures()
    out: list[ColumnElement[bool]] = []
    for attr, values in MEASURE_FILTERS.items():
        wanted = getattr(flt, attr)
        if wanted in values:
            out.append(measures[values[wanted]] == 1)
    if flt.disposition == "any":
        out.append(or_(*(measures[m] == 1 for m in MEASURE_FILTERS["disposition"].values())))
    if flt.satisfied == "unknown":
        out.append(store.CaseFacts.satisfied.is_(None))
    return out


def facts_of(session: Session, instance_ids: list[int]) -> dict[int, store.CaseFacts]:
    """The case-facts rows of these complaints (for the CSV's weight, ratio, satisfaction and
    deadline columns), one query per ``TASKS_PER_QUERY`` instances."""
    out: dict[int, store.CaseFacts] = {}
    for start in range(0, len(instance_ids), TASKS_PER_QUERY):
        for row in session.scalars(select(store.CaseFacts).where(
                store.CaseFacts.instance_id.in_(instance_ids[start:start + TASKS_PER_QUERY]))):
            out[row.instance_id] = row
    return out


#: The CSV's columns from the case facts: (en, zh) headers; the deadline ones in store.FACT_DEADLINES order.
FACT_HEADERS = (("KPI weight", "等级权重"), ("Complaint ratio", "投诉比率"), ("Satisfaction", "满意度"),
                ("Reaction deadline", "响应期限"), ("Containment deadline", "围堵期限"),
                ("Closure deadline", "结案期限"), ("Repair reply deadline", "维修答复期限"),
                ("Repair cycle deadline", "维修周期期限"))
DEADLINE_STATES = {"met": ("met", "按时"), "late": ("late", "超时完成"), "open": ("open", "未完成"),
                   "overdue": ("overdue", "已超期")}


def fact_headers() -> list[str]:
    return [pick(*h) for h in FACT_HEADERS]


def fact_cells(facts: store.CaseFacts | None, now: dt.datetime) -> list[str]:
    """Weight, ratio (%), satisfaction (1–5) and each deadline's state (met / late / open /
    overdue) of one complaint, from its facts row (blank where the case has none)."""
    if facts is None:
        return [""] * len(FACT_HEADERS)
    ratio = (facts.loss_amount / facts.delivery_amount
             if facts.loss_amount is not None and facts.delivery_amount else None)
    cells = ["" if facts.kpi_weight is None else str(facts.kpi_weight),
             "" if ratio is None else f"{ratio * 100:.2f}%",
             "" if facts.satisfaction is None else str(facts.satisfaction)]
    for name in store.FACT_DEADLINES:
        state = getattr(facts, name)
        due = getattr(facts, f"{name}_due")
        if state == "open" and due is not None and due < now:
            state = "overdue"
        cells.append(pick(*DEADLINE_STATES[state]) if state else "")
    return cells


@dataclass
class RegisterPage:
    rows: Sequence[Row]  # the COLUMNS of each complaint
    total: int
    page: int
    pages: int
    current_tasks: dict[int, list[dict]] = field(default_factory=dict)


def current_tasks(session: Session, instance_ids: list[int]) -> dict[int, list[dict]]:
    """The ready tasks of each instance (``instance_id``, ``name``, ``title``, ``form``): one query per
    ``TASKS_PER_QUERY`` instances."""
    out: dict[int, list[dict]] = {}
    for start in range(0, len(instance_ids), TASKS_PER_QUERY):
        for instance_id, name, title, form in session.execute(
                select(store.HumanTask.instance_id, store.HumanTask.name, store.HumanTask.title, store.HumanTask.form)
                .where(store.HumanTask.instance_id.in_(instance_ids[start:start + TASKS_PER_QUERY]),
                       store.HumanTask.state == "ready")
                .order_by(store.HumanTask.created_at)):
            out.setdefault(instance_id, []).append({"instance_id": instance_id, "name": name, "title": title,
                                                    "form": form})
    return out


def page(session: Session, flt: RegisterFilter, tz: ZoneInfo, number: int, size: int = 50,
         search_fields: Iterable[str] = ()) -> RegisterPage:
    stmt = statement(flt, tz, search_fields)
    rows = session.execute(stmt.limit(size)).all() if number <= 1 else None
    if rows is not None and len(rows) < size:  # the first page has them all: no count needed
        total = len(rows)
    else:
        total = count(session, flt, tz, search_fields)
    pages = max(1, -(-total // size))
    number = min(max(1, number), pages)
    if rows is None or number > 1:
        rows = session.execute(stmt.limit(size).offset((number - 1) * size)).all()
    return RegisterPage(rows, total, number, pages, current_tasks(session, [r.id for r in rows]))


def all_rows(session: Session, flt: RegisterFilter, tz: ZoneInfo, limit: int = 100_000,
             search_fields: Iterable[str] = ()) -> RegisterPage:
    rows = session.execute(statement(flt, tz, search_fields).limit(limit)).all()
    return RegisterPage(rows, len(rows), 1, 1, current_tasks(session, [r.id for r in rows]))


def distinct_values(session: Session, key: str) -> list[str]:
    """Values of a data key among complaints (for filter choices).

    For an indexed key (``store.INDEXED_DATA_KEYS``) one recursive query steps from each value
    to the next larger one in the (process_key, value) index: a few index look-ups, however
    many complaints there are.
    """
    value = _value(key)
    complaint = store.ProcessInstance.process_key == PROCESS_KEY
    if key not in store.INDEXED_DATA_KEYS:
        found = session.scalars(select(value).where(complaint, value.is_not(None)).distinct())
        return sorted(v for v in found if v)
    steps = select(func.min(value).label("v")).where(complaint).cte("found", recursive=True)
    larger = select(func.min(value)).where(complaint, value > steps.c.v).scalar_subquery()
    steps = steps.union_all(select(larger).where(steps.c.v.is_not(None)))
    return sorted(v for v in session.scalars(select(steps.c.v).where(steps.c.v.is_not(None))) if v)
