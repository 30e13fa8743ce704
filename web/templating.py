"""Jinja filters and globals shared by every page: dates in the business time zone, labels."""
from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask_babel import format_date, format_datetime, gettext as _, lazy_gettext
from flask_login import current_user
from sqlalchemy import func, select

from caseflow import clock
from caseflow import store
from web import deadlines, labels
from web.extensions import LANGUAGES

STATUS_LABELS = {
    "running": lazy_gettext("In progress"),
    "waiting": lazy_gettext("Waiting"),
    "completed": lazy_gettext("Closed"),
    "cancelled": lazy_gettext("Cancelled"),
    "error": lazy_gettext("Error"),
}

DEADLINE_STATE_LABELS = {
    "met": lazy_gettext("met"),
    "late": lazy_gettext("met late"),
    "overdue": lazy_gettext("overdue"),
    "due_soon": lazy_gettext("due soon"),
    "open": lazy_gettext("open"),
    "none": "",
}

PROCESS_LABELS = {
    "complaint": ("Customer complaint", "客户投诉"),
    "repair": ("Return for repair", "维护返修"),
}


def when(value: Any, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """A date-time (ISO string or datetime) in the business time zone; '' when empty."""
    moment = deadlines.parse_moment(value)
    return format_datetime(moment, fmt) if moment is not None else ""


def day(value: Any) -> str:
    """A date (``YYYY-MM-DD`` kept as is, a date-time shown as its local day)."""
    if isinstance(value, str) and len(value) == 10:
        return value
    moment = deadlines.parse_moment(value)
    return format_date(moment, "yyyy-MM-dd") if moment is not None else ""


def process_label(key: str | None, name: str | None = None) -> str:
    if key in PROCESS_LABELS:
        return labels.pick(*PROCESS_LABELS[key]) or key
    return name or labels.humanize(key or "")


def status_label(status: str | None) -> str:
    return str(STATUS_LABELS.get(status or "", status or ""))


def deadline_label(state: str) -> str:
    return str(DEADLINE_STATE_LABELS.get(state, state))


def yes_no(value: Any) -> str:
    if value is None or value == "":
        return ""
    return _("Yes") if value is True or value in ("true", "yes") else _("No")


def nav_counts() -> dict[str, int]:
    """Ready tasks of the signed-in user's roles, and how many of them are overdue."""
    from web import get_db
    from web.views.common import inbox_roles

    stmt = select(func.count()).select_from(store.HumanTask).where(store.HumanTask.state == "ready")
    roles = inbox_roles()
    if roles is not None:
        stmt = stmt.where(store.HumanTask.role.in_(sorted(roles)))
    session = get_db()
    total = session.execute(stmt).scalar_one()
    overdue = session.execute(stmt.where(store.HumanTask.due_at < clock.now())).scalar_one()
    return {"tasks": int(total), "overdue": int(overdue)}


def _globals() -> dict[str, Any]:
    signed_in = current_user.is_authenticated
    return {
        "languages": LANGUAGES,
        "current_language": labels.locale(),
        "nav": nav_counts() if signed_in else {"tasks": 0, "overdue": 0},
        "is_admin": signed_in and current_user.is_admin,
        "request_path": request.full_path.rstrip("?") if request else "/",
    }


def init_app(app: Flask) -> None:
    app.context_processor(_globals)
    app.jinja_env.filters.update(
        when=when, day=day, role_label=labels.role_label, process_label=process_label,
        status_label=status_label, deadline_label=deadline_label, yes_no=yes_no, task_title=labels.task_title,
    )
    app.jinja_env.globals.update(deadline_state=deadlines.state, pick=labels.pick, task_title=labels.task_title)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
