"""``/``: the signed-in user's inbox — ready tasks of their roles, soonest deadline first."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_login import current_user

import engine
from caseflow import accounts
from web import deadlines, get_db, templating
from web.views.common import inbox_roles

bp = Blueprint("inbox", __name__)

DEADLINE_ORDER = {"overdue": 0, "due_soon": 1, "open": 2, "none": 3}


@bp.route("/")
def index() -> Any:
    """Tasks filtered by process, role and holder; overdue and due-soon ones come first."""
    session = get_db()
    roles = inbox_roles()
    process = request.args.get("process") or None
    role = request.args.get("role") or None
    holder = request.args.get("holder") or ""
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
    tasks.sort(key=lambda t: DEADLINE_ORDER[t["deadline_state"]])  # stable: keeps the due order
    role_choices = sorted(roles) if roles is not None else accounts.known_roles(session)
    processes = engine.list_processes(session)
    templating.prepare_task_titles(tasks)  # their versions' labels: one query for the page
    return render_template("inbox.html", tasks=tasks, processes=processes, role_choices=role_choices,
                           selected={"process": process or "", "role": role or "", "holder": holder})
