"""Jinja filters and globals shared by every page: dates in the business time zone, labels."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask, current_app, g, request
from flask_babel import format_date, format_datetime, format_decimal, lazy_gettext
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

import engine
from caseflow import accounts, clock, limits, store
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
    "returned_goods": ("Returned goods and exchange", "客退品及换货"),
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


# A process named in both languages in its diagram: "Returned goods and exchange (客退品及换货)".
BILINGUAL_NAME = labels.BILINGUAL_NAME


def process_label(key: str | None, name: str | None = None) -> str:
    """A process's name in the current language: the built-in names, else its diagram's name (an
    ``English (中文)`` name gives the part of the language)."""
    if key in PROCESS_LABELS:
        return labels.pick(*PROCESS_LABELS[key]) or key
    name = name or (_process_names().get(key) if key else None)
    if name:
        match = BILINGUAL_NAME.match(name)
        return labels.pick(match.group("en"), match.group("zh")) if match else name
    return labels.humanize(key or "")


def _process_names() -> dict[str, str]:
    """Key -> the diagram's name of each deployed process, read once per request."""
    from web import get_db

    if "process_names" not in g:
        g.process_names = {p["key"]: p["name"] for p in engine.list_processes(get_db()) if p.get("name")}
    return g.process_names  # type: ignore[no-any-return]


def status_label(status: str | None) -> str:
    return str(STATUS_LABELS.get(status or "", status or ""))


def deadline_label(state: str) -> str:
    return str(DEADLINE_STATE_LABELS.get(state, state))


def yes_no(value: Any) -> str:
    if value is None or value == "":
        return ""
    return _("Yes") if value is True or value in ("true", "yes") else _("No")


def case_name(business_key: str | None, instance_id: int, data: Mapping[str, Any] | None = None) -> str:
    """How people name a case: its number (CP-…, RMA-…), else its repair number, else its customer
    and product; ``#id`` only when it has none of them."""
    data = data or {}
    if business_key:
        return business_key
    if data.get("repair_number"):
        return str(data["repair_number"])
    named = " · ".join(str(data[k]) for k in ("customer_name", "product_model") if data.get(k))
    return named or f"#{instance_id}"


def filesize(size: int) -> str:
    """A size limit as people write it: ``10 MB``, ``500 KB``, ``800 B`` (binary units)."""
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= factor:
            return f"{format_decimal(round(size / factor, 1))} {unit}"
    return f"{size} B"


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
    # sort_due is due_at, or the far-future NO_DEADLINE when there is none: the same tasks,
    # counted in the (role, state, sort_due) / (state, sort_due) index alone.
    overdue = session.execute(stmt.where(store.HumanTask.sort_due < clock.now())).scalar_one()
    return {"tasks": int(total), "overdue": int(overdue)}


# --- task titles: the labels of each task's process version, without a query per task --------

_DEFINITION_OF = "task_title_definition_of"  # flask.g: instance id -> definition id (None: unknown)
_PENDING = "task_title_pending"  # flask.g: instance ids a page will ask titles for
_BOOKS = "task_title_books"  # flask.g: definition id -> LabelBook


def prepare_task_titles(tasks: Iterable[Mapping[str, Any]] = (), definitions: Mapping[int, int] | None = None) -> None:
    """Announce the tasks a page shows titles of: the versions of their instances are then read
    in one query on the first title (``definitions``: instance id -> definition id already
    known, none read)."""
    known = g.setdefault(_DEFINITION_OF, {})
    if definitions:
        known.update(definitions)
    g.setdefault(_PENDING, set()).update(t["instance_id"] for t in tasks if t["instance_id"] not in known)


def _definition_of(instance_id: int) -> int | None:
    from web import get_db

    known: dict[int, int | None] = g.setdefault(_DEFINITION_OF, {})
    if instance_id not in known:
        wanted = sorted((g.pop(_PENDING, set()) | {instance_id}) - known.keys())
        instance = store.ProcessInstance
        known.update(get_db().execute(select(instance.id, instance.definition_id)
                                      .where(instance.id.in_(wanted))).all())
        for ident in wanted:
            known.setdefault(ident, None)
    return known[instance_id]


def label_book(definition_id: int) -> labels.LabelBook:
    """The labels of a process version, once per request (``labels.book_for``)."""
    from web import get_db

    books = g.setdefault(_BOOKS, {})
    if definition_id not in books:
        books[definition_id] = labels.book_for(get_db(), definition_id)
    return books[definition_id]


def task_title(task: Mapping[str, Any]) -> str:
    """The localized name of a task dict (``instance_id``, ``form``, ``title``) for the page."""
    definition_id = _definition_of(task["instance_id"])
    if not definition_id:
        return task["title"]
    return label_book(definition_id).task_title(task.get("form"), task["title"])


def _globals() -> dict[str, Any]:
    signed_in = current_user.is_authenticated
    return {
        "languages": LANGUAGES,
        "current_language": labels.locale(),
        "nav": nav_counts() if signed_in else {"tasks": 0, "overdue": 0},
        "is_admin": signed_in and current_user.is_admin,
        "request_path": request.full_path.rstrip("?") if request else "/",
        "max_upload_bytes": int(current_app.config["CASEFLOW_SETTINGS"].max_attachment_bytes),
        #: The longest text any field may send (web/input_guard.py refuses more): browsers stop typing there.
        "max_field_chars": limits.MAX_FIELD_CHARS,
    }


def init_app(app: Flask) -> None:
    app.context_processor(_globals)
    app.jinja_env.filters.update(
        when=when, day=day, role_label=labels.role_label, process_label=process_label,
        status_label=status_label, deadline_label=deadline_label, yes_no=yes_no, task_title=task_title,
        filesize=filesize,
    )
    app.jinja_env.globals.update(deadline_state=deadlines.state, pick=labels.pick, task_title=task_title,
                                 display_name=labels.display_name, case_name=case_name,
                                 notification_status=labels.notification_status,
                                 notification_kind=labels.notification_kind,
                                 min_password_length=accounts.MIN_PASSWORD_LENGTH)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
