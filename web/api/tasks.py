"""Human tasks: the caller's ready tasks, one task with its form schema, claim, complete."""
from __future__ import annotations

from typing import Any

import engine
from caseflow import portal_links, store
from schema import instances as si
from schema import tasks as s
from web import case_status, get_db
from web.api.core import ApiError, caller, engine_actor, operation
from web.views.common import speaks_for_customers, task_roles

TAGS = ["tasks"]


@operation("/tasks", "GET", summary="The caller's ready tasks", tags=TAGS, query=s.TaskListQuerySchema,
           response=s.TaskListSchema, errors=(403, 422))
def list_tasks(query: dict) -> dict:
    """Ready tasks of the caller's roles (admins: all; the portal staff roles also see the
    customer's), soonest deadline first, a page at a time (`limit`, `offset`; `total` counts all
    pages). `role` narrows to one of the caller's roles (403 for another), `assignee=me` to tasks
    they claimed."""
    who = caller()
    role = query.get("role")
    mine = task_roles(who.roles, who.is_admin)
    if role is not None and not who.is_admin and role not in mine:
        raise ApiError(403, "forbidden", f"role {role!r} is not one of yours")
    roles = None if who.is_admin else sorted(mine)
    filters: dict[str, Any] = dict(instance_id=query.get("instance"), role=role, roles=roles,
                                   assignee=who.username if query.get("assignee") == "me" else None,
                                   process_key=query.get("process"))
    items = engine.list_tasks(get_db(), **filters, limit=query["limit"], offset=query["offset"])
    return {"items": items, "total": engine.count_tasks(get_db(), **filters), "limit": query["limit"],
            "offset": query["offset"]}


def _visible(task_id: str) -> store.HumanTask:
    row = get_db().get(store.HumanTask, task_id)
    if row is None:
        raise engine.NotFound(f"no task {task_id}")
    who = caller()
    if not who.is_admin and row.role not in task_roles(who.roles, who.is_admin):
        raise ApiError(403, "forbidden", f"task {row.title!r} belongs to role {row.role!r}")
    return row


@operation("/tasks/<task_id>", "GET", summary="One task with its form schema", tags=TAGS,
           response=s.TaskDetailSchema, errors=(403, 404))
def get_task(task_id: str) -> engine.TaskForm:
    """The task, its form's JSON Schema and UI schema, and the process data."""
    _visible(task_id)
    return engine.task_form(get_db(), task_id)


@operation("/tasks/<task_id>/claim", "POST", summary="Claim a task", tags=TAGS, response=s.TaskSchema,
           errors=(403, 404, 409))
def claim(task_id: str) -> engine.TaskRecord:
    _visible(task_id)
    return engine.claim(get_db(), task_id, engine_actor())


@operation("/tasks/<task_id>/unclaim", "POST", summary="Give a claimed task back", tags=TAGS,
           response=s.TaskSchema, errors=(403, 404, 409))
def unclaim(task_id: str) -> engine.TaskRecord:
    _visible(task_id)
    return engine.unclaim(get_db(), task_id, engine_actor())


@operation("/tasks/<task_id>/complete", "POST", summary="Complete a task", tags=TAGS,
           body=s.CompleteRequestSchema, response=si.InstanceSchema, errors=(403, 404, 409, 415, 422))
def complete(task_id: str, body: dict) -> engine.CaseRecord:
    """Submit the form `data`: 422 with `fields` when it does not satisfy the form, 409 when
    the task is no longer ready, 403 when it belongs to a role that is not the caller's (the portal staff
    roles complete a customer's task on the customer's behalf, audited as
    `<user> for the customer`).
    Returns the instance as it is after running on. (The engine checks the caller's role
    before the task's state, so a stranger gets 403 and learns nothing of the task.)"""
    session = get_db()
    try:
        done = engine.complete(session, task_id, body["data"], actor=engine_actor())
    except engine.Forbidden:  # a customer's task, completed by someone who speaks for customers (as on the web)
        who = caller()
        row = session.get(store.HumanTask, task_id)
        if row is None or row.role != portal_links.CUSTOMER_ROLE or not speaks_for_customers(who.roles, who.is_admin):
            raise
        done = engine.complete(session, task_id, body["data"], actor=engine.Actor.person(
            portal_links.on_behalf_actor(who.username), {portal_links.CUSTOMER_ROLE}))
    return case_status.with_outcome(session, done)
