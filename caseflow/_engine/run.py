"""Running instances: start, complete, claim and release, retry, data correction, cancel.

Each function is one caller action: it loads the rows it needs, runs the workflow (service
tasks and scripts through :mod:`scripting`), and saves through :func:`sync.save`. None commits.
"""
from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

import SpiffWorkflow
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task, TaskState
from sqlalchemy.orm import Session

from caseflow import clock
from caseflow._engine import (
    adapters,
    form_checks,
    records,
    rows,
    sandbox,
    scripting,
    specs,
    sync,
    tree_walks,
    values,
    workflows,
)
from caseflow._engine.actor import Actor, name_of, require
from caseflow._engine.errors import Conflict, Forbidden, InstanceError, InvalidData, NotFound
from caseflow._engine.rows import Case
from service_tasks.registry import OperatorError

log = logging.getLogger("caseflow.engine")

FINISHED = ("error", "cancelled", "completed")


_WORKFLOW_LIBRARY = str(Path(SpiffWorkflow.__file__).resolve().parent)


def _fails_the_case(err: BaseException) -> bool:
    """Whether an exception of a run is the case's failure (its diagram, scripts, rules or data):
    SpiffWorkflow's, the sandbox's and the operators' errors, and any exception raised inside
    SpiffWorkflow itself (its timer parser raises a plain ``Exception`` for a malformed duration).
    Anything else is a fault of Caseflow's own code and propagates."""
    if isinstance(err, (SpiffWorkflowException, sandbox.SandboxError, OperatorError)):
        return True
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and str(Path(tb.tb_frame.f_code.co_filename).resolve()).startswith(_WORKFLOW_LIBRARY)


def _task_in_traceback(err: BaseException) -> Task | None:
    """The task SpiffWorkflow was running when it raised a plain exception (its ``my_task``), or None."""
    found = None
    tb = err.__traceback__
    while tb is not None:
        candidate = tb.tb_frame.f_locals.get("my_task")
        if isinstance(candidate, Task):
            found = candidate
        tb = tb.tb_next
    return found


def run_steps(session: Session, case: Case, wf: BpmnWorkflow, actor: str,
              steps: Callable[[BpmnWorkflow], None], events: list[dict]) -> None:
    """Run ``steps(wf)`` (task run + engine steps); a failure puts the instance in ``error``.

    Operators declared with an audit kind (e.g. ``escalate``) and the failure are added to
    ``events`` as they happen. The failure is logged with its traceback; a script the sandbox
    refused or stopped (time or size budget) is logged on ``caseflow.sandbox`` and audited as
    ``script_refused``/``script_stopped``. Steps that ran past SpiffWorkflow's task-tree depth
    limit (where its engine silently stops, the case looking completed) are an error too.
    """
    context = scripting.RunContext(session)
    assert context.events is not None
    with scripting.bound(wf, context):
        try:
            steps(wf)
        except Exception as err:
            if not _fails_the_case(err):
                raise
            task = getattr(err, "task", None) or _task_in_traceback(err)
            task_spec = task.task_spec if task is not None else getattr(err, "task_spec", None)
            if not hasattr(task_spec, "bpmn_id"):  # SpiffWorkflow passes a message there at times
                task_spec = None
            task_name = (task_spec.bpmn_id or task_spec.name) if task_spec is not None else None
            stopped = sandbox.cause(err)
            if stopped is None:
                message = error_message(err)
                log.warning("instance %s (%s) stopped with an error at %s: %s",
                            case.id if case.id is not None else "being started", case.process_key,
                            task_name, message, exc_info=err)
            else:
                label = (task_spec.bpmn_name or task_spec.bpmn_id) if task_spec is not None else None
                message = f"{stopped} (at {label!r})" if label else str(stopped)
                kind = "script_stopped" if isinstance(stopped, sandbox.ScriptBudgetExceeded) else "script_refused"
                logging.getLogger("caseflow.sandbox").warning(
                    "%s: instance %s of process %s at element %s: %s", kind, case.id, case.process_key,
                    task_name, stopped)
                context.events.append((kind, task_name, {"message": str(stopped)}))
            case.status, case.error, case.error_task = "error", message, task_name
            context.events.append(("error", task_name, {"message": message}))
        else:
            hidden = beyond_depth_limit(wf)
            if hidden is not None:
                task_name = hidden.task_spec.bpmn_id or hidden.task_spec.name
                label = hidden.task_spec.bpmn_name or task_name
                message = (f"the case ran more than {tree_walks.WALK_DEPTH} steps in a row (a loop that does not end?) "
                           f"and was stopped before {label!r}")
                log.warning("instance %s (%s) stopped at %s: %s", case.id, case.process_key, task_name, message)
                case.status, case.error, case.error_task = "error", message, task_name
                context.events.append(("error", task_name, {"message": message}))
    events.extend(rows.event("system" if kind != "error" else actor, kind, task_name, payload)
                  for kind, task_name, payload in context.events)


def beyond_depth_limit(wf: BpmnWorkflow) -> Task | None:
    """An unfinished task deeper in the task tree than SpiffWorkflow looks; None when there is none.

    Each step of a case is a level of the tree, so a loop of a few hundred rounds puts its next
    tasks out of the iterator's sight: ``do_engine_steps`` stops and ``is_completed`` says True.
    """
    if sum(len(w.tasks) for w in [wf, *wf.subprocesses.values()]) <= tree_walks.WALK_DEPTH:
        return None  # too few tasks to be that deep
    stack: list[tuple[Task, int]] = [(wf.task_tree, 0)]
    while stack:
        task, depth = stack.pop()
        if depth > tree_walks.WALK_DEPTH and task.state & TaskState.NOT_FINISHED_MASK and (
                task.state & TaskState.DEFINITE_MASK or wf.is_completed()):
            return task
        sub = wf.subprocesses.get(task.id)
        if sub is not None:
            stack.append((sub.task_tree, depth + 1))
        stack.extend((child, depth + 1) for child in task.children)
    return None


def error_message(err: Exception) -> str:
    """The first line of a workflow error, naming the element it happened at."""
    message = str(err).split("\n")[0]
    task = getattr(err, "task", None)
    if task is not None:
        label = task.task_spec.bpmn_name or task.task_spec.bpmn_id
        if label and label not in message:
            message = f"{message} (at {label!r})"
    return message


def start(session: Session, key: str, data: dict | None, actor: Actor | str,
          version: int | None = None) -> records.CaseRecord:
    """Start an instance of ``key`` (the start form validates ``data``) and run it until it waits."""
    who = name_of(actor)
    found = rows.startable(session, key, version)
    if found is None:
        raise NotFound(f"process {key!r} has no version {version}" if version is not None
                       else f"no process {key!r} is deployed")
    definition, directory = found
    loaded = specs.SPECS.get(session, definition)
    clean = form_checks.check_submission(loaded, loaded.start_form, None, data, {}, starting=True)
    wf = workflows.new(loaded)
    first = wf.get_next_task(state=TaskState.READY)
    if first is not None:
        first.data.update(copy.deepcopy(clean))
    now = clock.now()
    case = Case(id=None, definition=definition, process_key=key, business_key=None, status="running",
                serializer_version=adapters.SERIALIZER_VERSION, data={}, ready_tasks=[], timers=[], trail=[],
                error=None, error_task=None, started_by=who, created_at=now, updated_at=now, completed_at=None,
                row_version=None, directory=directory)
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


def _check_may_work(row: dict, actor: Actor, *, assignee: bool = True) -> None:
    """Forbidden unless ``actor`` holds the task's role; a conflict (with ``assignee``) when someone else
    holds the task (as when claiming it: the task's state, not the actor's rights, stands in the way)."""
    if not actor.may_work(row["role"]):
        raise Forbidden(f"task {row['title']!r} belongs to role {row['role']!r}")
    if assignee and row["assignee"] and row["assignee"] != actor.name and not actor.is_admin:
        raise Conflict(f"task {row['title']!r} is claimed by {row['assignee']}")


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


def form_problems(session: Session, data: dict, task_id: str | None = None, key: str | None = None,
                  unread: frozenset[str] = frozenset()) -> dict[str, str]:
    """What completing task ``task_id`` (or starting process ``key``) with ``data`` would refuse, field by
    field (the form's schema and its rules against the case's data; no sum rule over a field of
    ``unread``, whose input could not be read); empty when nothing. Stores nothing and loads no
    workflow: a form that came back with errors shows all of them at once."""
    if task_id is not None:
        found = rows.load_task_with_case(session, str(task_id))
        if found is None:
            return {}
        row, case = found
        loaded = specs.SPECS.get(session, case.definition)
        meta = loaded.task_meta.get(row["spec_ref"])
        form, process, case_data = row["form"], (meta.process if meta else None), case.data
    else:
        started = rows.startable(session, str(key))
        if started is None:
            return {}
        loaded = specs.SPECS.get(session, started[0])
        form, process, case_data = loaded.start_form, None, {}
    schema = loaded.shared_form_schema(form, process) if form else None  # read only
    try:
        if schema is not None and task_id is not None:
            data = form_checks.apply_decided(schema, data, case_data)
        form_checks.check_submission(loaded, form, process, data, case_data, task_id is None, unread)
    except InvalidData as err:
        return dict(err.fields)
    return {}


def complete(session: Session, task_id: str, data: dict | None, actor: Actor) -> records.CaseRecord:
    """Complete a ready human task with ``data`` (validated against its form) and run on."""
    actor = require(actor)
    found = rows.load_task_with_case(session, str(task_id))
    if found is None:
        raise NotFound(f"no task {task_id}")
    row, case = found
    if not actor.may_work(row["role"]):  # 403 before 409: a stranger learns nothing of the task's state
        raise Forbidden(f"task {row['title']!r} belongs to role {row['role']!r}")
    if row["state"] != "ready":
        raise Conflict(f"task {task_id} is no longer ready (it is {row['state']})")
    _check_may_work(row, actor)
    if case.status in FINISHED:
        raise InstanceError(f"instance {case.id} is {case.status}")
    loaded = specs.SPECS.get(session, case.definition)
    meta = loaded.task_meta.get(row["spec_ref"])
    process = meta.process if meta else None
    wf = workflows.restore(session, case, loaded)
    task = wf.get_task_from_id(UUID(row["id"]))
    if task is None or task.state != TaskState.READY:
        raise Conflict(f"task {task_id} is no longer ready")
    schema = loaded.shared_form_schema(row["form"], process) if row["form"] else None  # read only
    if schema is not None and isinstance(data, dict):
        data = form_checks.apply_decided(schema, data, task.data)
    clean = form_checks.check_submission(loaded, row["form"], process, data, task.data)
    stale = [key for key in form_checks.fresh_keys(schema) if key not in clean]  # the previous round's answer

    def steps(w: BpmnWorkflow) -> None:
        for key in stale:
            task.data.pop(key, None)
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
    _check_may_work(row, actor, assignee=False)  # a task someone else holds is a conflict (409), not forbidden
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


def update_data(session: Session, instance_id: int, changes: dict, actor: Actor | str,
                reason: str | None = None) -> records.CaseRecord:
    """Correct process data of an instance (e.g. before a retry); audited with ``reason``."""
    values.check_data(changes)  # the limits of all data, and never a script helper's name
    values.refuse_keys(changes, form_checks.HELPER_NAMES, "is the name of a script helper and cannot be a data key")
    case = records.load_case(session, instance_id)
    form_checks.check_correction(specs.SPECS.get(session, case.definition), changes)  # as its forms declare

    def change(_case: Case, wf: BpmnWorkflow) -> None:
        targets = wf.get_tasks(state=TaskState.READY | TaskState.ERROR | TaskState.WAITING) or [wf.last_task]
        for task in targets:
            if task is not None:
                task.data.update(copy.deepcopy(changes))
        sync.replay_whole(wf)

    payload: dict = {"data": changes} if reason is None else {"data": changes, "reason": reason}
    return _act(session, case, name_of(actor), "data_changed", payload, change)


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
