"""The complaint register (F07/F11): complaints filtered with SQL on the data column.

Read path only: rows of ``process_instance`` and ``human_task``, never a workflow.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from caseflow import store

PROCESS_KEY = "complaint"
STATUSES = ("open", "error", "closed", "rejected", "cancelled")
OPEN_STATUSES = ("running", "waiting", "error")
DATA_FILTERS = {"kpi_class": "kpi_class", "urgency": "urgency", "department": "responsible_dept"}


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

    @classmethod
    def from_args(cls, args: dict) -> "RegisterFilter":
        def day(name: str) -> dt.date | None:
            try:
                return dt.date.fromisoformat(args.get(name, ""))
            except ValueError:
                return None

        return cls(status=args.get("status", ""), kpi_class=args.get("kpi_class", ""),
                   urgency=args.get("urgency", ""), department=args.get("department", ""),
                   date_from=day("date_from"), date_to=day("date_to"), q=args.get("q", "").strip())

    def as_args(self) -> dict[str, str]:
        out = {"status": self.status, "kpi_class": self.kpi_class, "urgency": self.urgency,
               "department": self.department, "q": self.q,
               "date_from": self.date_from.isoformat() if self.date_from else "",
               "date_to": self.date_to.isoformat() if self.date_to else ""}
        return {k: v for k, v in out.items() if v}


def _value(key: str):
    return store.ProcessInstance.data[key].as_string()


def received_at(row: store.ProcessInstance) -> str | dt.datetime:
    """When the complaint was received (``received_at``), else when it was registered."""
    return (row.data or {}).get("received_at") or row.created_at


def status_key(row: store.ProcessInstance) -> str:
    """The register's status of a complaint: open, error, closed, rejected or cancelled."""
    if row.status in OPEN_STATUSES:
        return "error" if row.status == "error" else "open"
    if row.status == "completed":
        return "rejected" if (row.data or {}).get("outcome") == "rejected" else "closed"
    return row.status


def statement(flt: RegisterFilter, tz: ZoneInfo) -> Select:
    """SELECT of the complaint instances matching ``flt``, newest first."""
    stmt = select(store.ProcessInstance).where(store.ProcessInstance.process_key == PROCESS_KEY)
    if flt.status == "open":
        stmt = stmt.where(store.ProcessInstance.status.in_(OPEN_STATUSES))
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
    if flt.q:
        like = f"%{flt.q}%"
        stmt = stmt.where(or_(store.ProcessInstance.business_key.ilike(like), _value("customer_name").ilike(like),
                              _value("product_no").ilike(like), _value("product_model").ilike(like)))
    return stmt.order_by(store.ProcessInstance.created_at.desc(), store.ProcessInstance.id.desc())


@dataclass
class RegisterPage:
    rows: list[store.ProcessInstance]
    total: int
    page: int
    pages: int
    current_tasks: dict[int, list[dict]] = field(default_factory=dict)


def current_tasks(session: Session, instance_ids: list[int]) -> dict[int, list[dict]]:
    """The ready tasks of each instance (``instance_id``, ``title``, ``form``)."""
    out: dict[int, list[dict]] = {}
    if not instance_ids:
        return out
    for instance_id, title, form in session.execute(
            select(store.HumanTask.instance_id, store.HumanTask.title, store.HumanTask.form)
            .where(store.HumanTask.instance_id.in_(instance_ids), store.HumanTask.state == "ready")
            .order_by(store.HumanTask.created_at)):
        out.setdefault(instance_id, []).append({"instance_id": instance_id, "title": title, "form": form})
    return out


def page(session: Session, flt: RegisterFilter, tz: ZoneInfo, number: int, size: int = 50) -> RegisterPage:
    stmt = statement(flt, tz)
    total = store.count(session, stmt)
    pages = max(1, -(-total // size))
    number = min(max(1, number), pages)
    rows = list(session.scalars(stmt.limit(size).offset((number - 1) * size)))
    return RegisterPage(rows, total, number, pages, current_tasks(session, [r.id for r in rows]))


def all_rows(session: Session, flt: RegisterFilter, tz: ZoneInfo, limit: int = 100_000) -> RegisterPage:
    rows = list(session.scalars(statement(flt, tz).limit(limit)))
    return RegisterPage(rows, len(rows), 1, 1, current_tasks(session, [r.id for r in rows]))


def distinct_values(session: Session, key: str) -> list[str]:
    """Values of a data key among complaints (for filter choices)."""
    value = _value(key)
    found = session.scalars(select(value).where(store.ProcessInstance.process_key == PROCESS_KEY,
                                                 value.is_not(None)).distinct())
    return sorted(v for v in found if v)

