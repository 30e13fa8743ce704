"""``/``: the signed-in user's inbox — ready tasks of their roles, soonest deadline first, with what
names each case (customer, product, urgency) and a sortable table."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

import engine
from caseflow import clock, store
from web import deadlines, get_db, manifests, templating
from web.casefile import display
from web.labels import display_name
from web.views.common import inbox_roles, known_roles

bp = Blueprint("inbox", __name__)

DEADLINE_ORDER = {"overdue": 0, "due_soon": 1, "open": 2, "none": 3}
#: What each process's cases are named by in the inbox, besides its manifest's ``summary_fields``.
PRODUCT_KEYS = ("product_model", "product_no")
URGENCY_KEYS = ("urgency",)
#: The columns the inbox sorts by (``?sort=…&order=desc``).
SORT_KEYS = ("due", "task", "case", "customer", "product", "urgency", "role", "holder", "since")
URGENCY_ORDER = {"serious": 0, "general": 1, "occasional": 2}


def case_columns(session: Any, tasks: Iterable[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Instance id -> the data values the inbox shows of it, in one query reading only those keys
    of each instance's ``data`` (never the workflow state)."""
    ids = sorted({t["instance_id"] for t in tasks})
    if not ids:
        return {}
    keys: list[str] = []
    for process_key in sorted({t["process_key"] for t in tasks}):
        manifest = manifests.for_process(session, process_key)
        for key in [*(manifest.summary_fields if manifest is not None else ()), *PRODUCT_KEYS, *URGENCY_KEYS]:
            if key not in keys:
                keys.append(key)
    instance = store.ProcessInstance
    columns = [instance.data[key].as_string().label(f"k{i}") for i, key in enumerate(keys)]
    rows = get_db().execute(select(instance.id, instance.definition_id, *columns).where(instance.id.in_(ids)))
    out: dict[int, dict[str, Any]] = {}
    for row in rows:
        values = {key: row[i + 2] for i, key in enumerate(keys)}
        out[row[0]] = {"definition_id": row[1], **values}
    return out


def countdown(due_at: Any, now: dt.datetime | None = None) -> str:
    """How long until the deadline ("in 3 hours") or since it passed ("2 days overdue")."""
    due = deadlines.parse_moment(due_at)
    if due is None:
        return ""
    left = due - (now or clock.now())
    if left >= dt.timedelta(0):
        return _("in %(time)s", time=format_timedelta(left, threshold=1.5))
    return _("%(time)s overdue", time=format_timedelta(-left, threshold=1.5))


def _first(values: dict[str, Any], keys: Iterable[str]) -> str:
    return next((str(values[k]) for k in keys if values.get(k) not in (None, "")), "")


def describe_cases(session: Any, tasks: list[dict[str, Any]]) -> None:
    """Add customer, product, urgency (labelled), holder's name and countdown to each task dict."""
    columns = case_columns(session, tasks)
    templating.prepare_task_titles(tasks, {i: c["definition_id"] for i, c in columns.items()})
    for task in tasks:
        values = columns.get(task["instance_id"], {})
        manifest = manifests.for_process(session, task["process_key"])
        task["customer"] = _first(values, manifest.summary_fields if manifest is not None else ())
        task["product"] = _first(values, PRODUCT_KEYS)
        task["urgency"] = _first(values, URGENCY_KEYS)
        book = templating.label_book(values["definition_id"]) if values.get("definition_id") else None
        task["urgency_label"] = display(book, "urgency", task["urgency"]) if book and task["urgency"] else ""
        task["holder_name"] = display_name(task["assignee"]) if task["assignee"] else ""
        task["countdown"] = countdown(task["due_at"]) if task["due_at"] else ""


def sort_tasks(tasks: list[dict[str, Any]], key: str, descending: bool) -> None:
    """Sort in place by a column; empty values always last."""
    title = templating.task_title

    def value(task: dict[str, Any]) -> Any:
        if key == "due":
            return (DEADLINE_ORDER[task["deadline_state"]], str(task["due_at"] or ""))
        if key == "task":
            return title(task)
        if key == "case":
            return (task["business_key"] or "", task["instance_id"])
        if key == "urgency":
            return URGENCY_ORDER.get(task["urgency"], 9)
        if key == "holder":
            return task["holder_name"]
        if key == "since":
            return str(task["created_at"] or "")
        return str(task.get(key) or "")

    filled = [t for t in tasks if value(t) not in ("", 9)]
    empty = [t for t in tasks if value(t) in ("", 9)]
    filled.sort(key=value, reverse=descending)
    tasks[:] = filled + empty


@bp.route("/")
def index() -> Any:
    """Tasks filtered by process, role and holder; overdue and due-soon ones come first, or sorted
    by the column asked for."""
    session = get_db()
    roles = inbox_roles()
    process = request.args.get("process") or None
    role = request.args.get("role") or None
    holder = request.args.get("holder") or ""
    sort = request.args.get("sort", "due")
    sort = sort if sort in SORT_KEYS else "due"
    descending = request.args.get("order") == "desc"
    if roles is not None and role is not None and role not in roles:
        role = None
    tasks: list[dict[str, Any]] = [dict(t) for t in engine.list_tasks(session, roles=roles, role=role,
                                                                         process_key=process)]
    if holder == "me":
        tasks = [t for t in tasks if t["assignee"] == current_user.username]
    elif holder == "free":
        tasks = [t for t in tasks if not t["assignee"]]
    for task in tasks:
        task["deadline_state"] = deadlines.state(task["due_at"])
    describe_cases(session, tasks)  # one query for the page: its instances' names, urgency, versions
    sort_tasks(tasks, sort, descending)  # stable: the due order within equal values
    role_choices = sorted(roles) if roles is not None else known_roles()
    processes = engine.list_processes(session)
    selected = {"process": process or "", "role": role or "", "holder": holder}
    return render_template("inbox.html", tasks=tasks, processes=processes, role_choices=role_choices,
                           selected=selected, sort=sort, descending=descending, sort_keys=SORT_KEYS)
