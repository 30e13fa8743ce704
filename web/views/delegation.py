"""Handing a task on (``/tasks/<id>/delegate``): to a named person of its role, with a reason.

The form is on the task page (for its holder) and on a page of its own, linked from the case page's
current tasks for managers and for a holder's substitute (who may not work on the task's role).
The rules are the engine's (``engine.delegate``, ``caseflow.substitutes.may_hand_on``)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

import engine
from caseflow import store, substitutes
from web import get_db, rollback_request
from web.views.tasks import conflict_message

bp = Blueprint("delegation", __name__)


def _task_row(task_id: str) -> store.HumanTask:
    row = get_db().get(store.HumanTask, task_id)
    if row is None:
        abort(404)
    return row


@bp.app_template_global()
def may_hand_on(task: Any) -> bool:
    """Whether the signed-in user may hand this ready task (a task record or row) on."""
    get = task.get if isinstance(task, dict) else lambda k: getattr(task, k, None)
    if get("state") not in (None, "ready"):
        return False
    return substitutes.may_hand_on(get_db(), get("assignee"), current_user.username, current_user.roles)


@bp.app_template_global()
def role_people(role: str | None) -> list[tuple[str, str]]:
    """(username, display name) of the active users of ``role``."""
    if not role:
        return []
    rows = get_db().execute(select(store.User.username, store.User.display_name)
                            .join(store.UserRole, store.UserRole.user_id == store.User.id)
                            .where(store.UserRole.role == role, store.User.active.is_(True))
                            .order_by(store.User.username))
    return [(name, shown or name) for name, shown in rows]


def field_messages(codes: dict[str, str]) -> dict[str, str]:
    """The translated text of each field's rejection code (``engine`` delegation codes)."""
    texts = {
        "reason": _("Give a reason (at most %(n)s characters).", n=500),
        "unknown": _("No active user of that name."),
        "no_role": _("That user does not hold the task's role."),
        "same": _("The task is already theirs."),
    }
    return {k: texts.get(v, v) for k, v in codes.items()}


def _page(row: store.HumanTask, errors: dict[str, str] | None = None, form: dict[str, str] | None = None,
          status: int = 200) -> Any:
    task = {c.name: getattr(row, c.name) for c in store.HumanTask.__table__.columns}
    return render_template("delegate.html", task=task, errors=errors or {}, form=form or {}), status


@bp.get("/tasks/<task_id>/delegate")
def form(task_id: str) -> Any:
    """The hand-on form (403 for those who may not hand the task on)."""
    row = _task_row(task_id)
    if row.state != "ready":
        flash(_("This task is already done."), "info")
        return redirect(url_for("cases.show", instance_id=row.instance_id))
    if not may_hand_on(row):
        abort(403)
    return _page(row)


@bp.post("/tasks/<task_id>/delegate")
def submit(task_id: str) -> Any:
    """Hand the task on; the form back with messages when refused (422)."""
    row = _task_row(task_id)
    values = {"to": request.form.get("to", ""), "reason": request.form.get("reason", "")}
    actor = engine.Actor.person(current_user.username, current_user.roles)
    try:
        done = engine.delegate(get_db(), task_id, values["to"], values["reason"], actor)
    except engine.InvalidData as err:
        rollback_request()
        codes = getattr(err, "codes", None) or {k: "reason" for k in err.fields}
        return _page(row, field_messages(codes), values, 422)
    except engine.Forbidden:
        rollback_request()
        abort(403)
    except engine.Conflict as err:
        rollback_request()
        flash(conflict_message(err), "error")
        return redirect(url_for("cases.show", instance_id=row.instance_id))
    if done["assignee"] != values["to"].strip():
        flash(_("%(absent)s is away: the task went to their substitute %(name)s.", absent=values["to"].strip(),
                name=done["assignee"]), "success")
    else:
        flash(_("The task was handed to %(name)s.", name=done["assignee"]), "success")
    return redirect(url_for("cases.show", instance_id=row.instance_id))
