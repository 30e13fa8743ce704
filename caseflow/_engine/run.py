"""Running instances: start, complete, claim and release, retry, data correction, cancel.

Each function is one caller action: it loads the rows it needs, runs the workflow (service
tasks and scripts through :mod:`scripting`), and saves through :func:`sync.save`. None commits.
"""
from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import TaskState
from sqlalchemy.orm import Session

from caseflow import clock
from caseflow._engine import adapters, records, rows, scripting, specs, sync, workflows
from caseflow._engine.actor import Actor, name_of, require
from caseflow._engine.errors import Conflict, Forbidden, InstanceError, InvalidData, NotFound
from caseflow._engine.rows import Case
from caseflow._engine.sandbox import ScriptRejected
from caseflow._engine.specs import LoadedSpec
from service_tasks.registry import OperatorError

log = logging.getLogger("caseflow.engine")

FINISHED = ("error", "cancelled", "completed")


def run_steps(session: Session, case: Case, wf: BpmnWorkflow, actor: str,
              steps: Callable[[BpmnWorkflow], None], events: list[dict]) -> None:
    """Run ``steps(wf)`` (task run + engine steps); a failure puts the instance in ``error``.

    Operators declared with an audit kind (e.g. ``escalate``) and the failure are added to
    ``events`` as they happen. The failure is logged with its traceback.
    """
    context = scripting.RunContext(session)
    assert context.events is not None
    with scripting.bound(wf, context):
        try:
            steps(wf)
        except (SpiffWorkflowException, ScriptRejected, OperatorError) as err:
            task = getattr(err, "task", None)
            task_spec = task.task_spec if task is not None else getattr(err, "task_spec", None)
            task_name = (task_spec.bpmn_id or task_spec.name) if task_spec is not None else None
            message = error_message(err)
            log.warning("instance %s (%s) stopped with an error at %s: %s", case.id, case.process_key,
                        task_name, message, exc_info=err)
            case.status, case.error, case.error_task = "error", message, task_name
            context.events.append(("error", task_name, {"message": message}))
    events.extend(rows.event("system" if kind != "error" else actor, kind, task_name, payload)
                  for kind, task_name, payload in context.events)


def error_message(err: Exception) -> str:
    """The first line of a workflow error, naming the element it happened at."""
    message = str(err).split("\n")[0]
    task = getattr(err, "task", None)
    if task is not None:
        label = task.task_spec.bpmn_name or task.task_spec.bpmn_id
        if label and label not in message:
            message = f"{message} (at {label!r})"
    return message


def validate_form(loaded: LoadedSpec, form: str | None, process: str | None, data: dict | None) -> dict:
    """``data`` checked against the form ``form`` of ``process`` (no form: taken as it is)."""
    data = dict(data or {})
    validator = loaded.validator(form, process)
    if validator is None:
        return data
    fields: dict[str, str] = {}
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.path)):
        if error.validator == "required":
            missing = re.findall(r"'([^']+)' is a required property", error.message)
            key = ".".join([*map(str, error.path), *(missing[:1] or ["_"])])
            fields.setdefault(key, "this field is required")
        else:
            key = ".".join(map(str, error.path)) or "_form"
            fields.setdefault(key, error.message)
    if fields:
        raise InvalidData(fields)
    return data


def start(session: Session, key: str, data: dict | None, actor: Actor | str,
          version: int | None = None) -> records.CaseRecord:
    """Start an instance of ``key`` (the start form validates ``data``) and run it until it waits."""
    who = name_of(actor)
    definition = rows.startable_definition(session, key, version)
    if definition is None:
        raise NotFound(f"process {key!r} has no version {version}" if version is not None
                       else f"no process {key!r} is deployed")
    loaded = specs.SPECS.get(session, definition)
    clean = validate_form(loaded, loaded.start_form, None, data) if loaded.start_form else dict(data or {})
    wf = workflows.new(loaded)
    first = wf.get_next_task(state=TaskState.READY)
    if first is not None:
        first.data.update(copy.deepcopy(clean))
    now = clock.now()
    case = Case(id=None, definition=definition, process_key=key, business_key=None, status="running",
                serializer_version=adapters.SERIALIZER_VERSION, data={}, ready_tasks=[], timers=[], trail=[],
                error=None, error_task=None, started_by=who, created_at=now, updated_at=now, completed_at=None,
                row_version=None)
    events = [rows.event(who, "started", None, {"version": definition.version, "data": clean})]
    run_steps(session, case, wf, who, lambda w: w.do_engine_steps(), events)
    return records.case_view(session, case, sync.save(session, case, wf, loaded, who, events), audit=False)


def _ready_task(session: Session, task_id: str) -> dict:
    found = rows.tasks_by_id(session, [str(task_id)])
    if not found:
        raise NotFound(f"no task {task_id}")
    row = found[0]
    if row["state"] != "ready":
        raise Conflict(f"task {task_id} is no longer ready (it is {row['state']})")
    return row


def _check_may_work(row: dict, actor: Actor) -> None:
    if not actor.may_work(row["role"]):
        raise Forbidden(f"task {row['title']!r} belongs to role {row['role']!r}")
    if row["assignee"] and row["assignee"] != actor.name and not actor.is_admin:
        raise Forbidden(f"task {row['title']!r} is claimed by {row['assignee']}")


def task_form(session: Session, task_id: str) -> records.TaskForm:
    """The task row with its form schema and UI schema (no workflow is deserialized)."""
    found = rows.load_task_with_case(session, str(task_id))
    if found is None:
        raise NotFound(f"no task {task_id}")
    row, case = found
    loaded = specs.SPECS.get(session, case.definition)
    meta = loaded.task_meta.get(row["spec_ref"])
    process = meta.process if meta else None
    out = records.TaskForm(**records.task_dict(row), schema=None, ui_schema=None, documentation=None,
                           documentation_zh=None, data={})
    out["schema"] = loaded.form_schema(row["form"], process)
    out["ui_schema"] = loaded.form_schema(meta.ui_form, process) if meta else None
    out["documentation"] = meta.documentation if meta else None
    out["documentation_zh"] = meta.documentation_zh if meta else None
    out["data"] = case.data
    return out


def complete(session: Session, task_id: str, data: dict | None, actor: Actor) -> records.CaseRecord:
    """Complete a ready human task with ``data`` (validated against its form) and run on."""
    actor = require(actor)
    found = rows.load_task_with_case(session, str(task_id))
    if found is None:
        raise NotFound(f"no task {task_id}")
    row, case = found
    if row["state"] != "ready":
        raise Conflict(f"task {task_id} is no longer ready (it is {row['state']})")
    _check_may_work(row, actor)
    if case.status in FINISHED:
        raise InstanceError(f"instance {case.id} is {case.status}")
    loaded = specs.SPECS.get(session, case.definition)
    meta = loaded.task_meta.get(row["spec_ref"])
    clean = validate_form(loaded, row["form"], meta.process if meta else None, data)
    wf = workflows.restore(session, case, loaded)
    task = wf.get_task_from_id(UUID(row["id"]))
    if task is None or task.state != TaskState.READY:
        raise Conflict(f"task {task_id} is no longer ready")

    def steps(w: BpmnWorkflow) -> None:
        task.data.update(copy.deepcopy(clean))
        task.run()
        w.do_engine_steps()

    events = [rows.event(actor.name, "task_completed", row["name"], {"title": row["title"], "data": clean})]
    run_steps(session, case, wf, actor.name, steps, events)
    ready = sync.save(session, case, wf, loaded, actor.name, events, completed={row["id"]: actor.name})
    return records.case_view(session, case, ready, audit=False)


def claim(session: Session, task_id: str, actor: Actor) -> records.TaskRecord:
    """Take a ready task so others see it is being worked on (of two at once, one gets it)."""
    actor = require(actor)
    row = _ready_task(session, task_id)
    _check_may_work(row, actor)
    if row["assignee"] and row["assignee"] != actor.name:
        raise Conflict(f"task is already claimed by {row['assignee']}")
    if not rows.claim_task(session, row["id"], actor.name):
        raise Conflict("someone else took or finished the task meanwhile")
    rows.audit(session, row["instance_id"], actor.name, "task_claimed", row["name"], {})
    return records.task_dict(dict(row, assignee=actor.name))


def unclaim(session: Session, task_id: str, actor: Actor) -> records.TaskRecord:
    """Give a claimed task back to its role (its holder or an admin)."""
    actor = require(actor)
    row = _ready_task(session, task_id)
    if row["assignee"] != actor.name and not actor.is_admin:
        raise Forbidden("only the holder or an admin can release this task")
    rows.update_tasks(session, [dict(id=row["id"], assignee=None)])
    rows.audit(session, row["instance_id"], actor.name, "task_released", row["name"], {})
    return records.task_dict(dict(row, assignee=None))


def _act(session: Session, case: Case, actor: str, kind: str, payload: dict,
         change: Callable[[Case, BpmnWorkflow], None]) -> records.CaseRecord:
    """Restore an instance's workflow, apply ``change`` to it and save it (one audited event)."""
    loaded = specs.SPECS.get(session, case.definition)
    wf = workflows.restore(session, case, loaded)
    change(case, wf)
    events = [rows.event(actor, kind, None, payload)]
    return records.case_view(session, case, sync.save(session, case, wf, loaded, actor, events), audit=False)


def retry(session: Session, instance_id: int, actor: Actor | str) -> records.CaseRecord:
    """Run a failed instance again from its failing task (after the cause is fixed)."""
    case = records.load_case(session, instance_id)
    if case.status != "error":
        raise InstanceError(f"instance {instance_id} is {case.status}, not in error")
    loaded = specs.SPECS.get(session, case.definition)
    wf = workflows.restore(session, case, loaded)
    failed = wf.get_tasks(state=TaskState.ERROR)
    case.status, case.error, case.error_task = "running", None, None
    who = name_of(actor)
    events = [rows.event(who, "retried", None, {"tasks": [t.task_spec.bpmn_id for t in failed]})]

    def steps(w: BpmnWorkflow) -> None:
        for task in failed:
            task._set_state(TaskState.READY)
        w.do_engine_steps()

    run_steps(session, case, wf, who, steps, events)
    return records.case_view(session, case, sync.save(session, case, wf, loaded, who, events), audit=False)


def update_data(session: Session, instance_id: int, changes: dict, actor: Actor | str) -> records.CaseRecord:
    """Correct process data of an instance (e.g. before a retry); audited."""

    def change(_case: Case, wf: BpmnWorkflow) -> None:
        targets = wf.get_tasks(state=TaskState.READY | TaskState.ERROR | TaskState.WAITING) or [wf.last_task]
        for task in targets:
            if task is not None:
                task.data.update(copy.deepcopy(changes))

    return _act(session, records.load_case(session, instance_id), name_of(actor), "data_changed", {"data": changes},
                change)


def cancel(session: Session, instance_id: int, actor: Actor | str, reason: str | None = None) -> records.CaseRecord:
    """Cancel an unfinished instance: its tasks and timers go away."""
    case = records.load_case(session, instance_id)
    if case.status in ("completed", "cancelled"):
        raise InstanceError(f"instance {instance_id} is already {case.status}")

    def change(case: Case, wf: BpmnWorkflow) -> None:
        wf.cancel()
        case.status = "cancelled"
        case.completed_at = clock.now()

    return _act(session, case, name_of(actor), "cancelled", {"reason": reason}, change)
