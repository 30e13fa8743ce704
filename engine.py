"""The engine: the one door to the workflow runtime (BPMN 2.0 on the workflow library pinned in pyproject.toml).

Web, API and CLI call these functions; the work is done by the small modules of the
private package ``caseflow._engine`` (the only code that imports the workflow library). Every
function takes the caller's SQLAlchemy ``Session`` and never commits: one caller action is
one transaction. Actions that need authorization take an :class:`Actor`: a person with
roles, or an operator tool (CLI, timers) that says so with ``Actor.tool(name)``.

Errors are the typed :class:`EngineError` subclasses below; :func:`describe_error` gives
each one's HTTP status, API error code and CLI exit code (one table for all callers).
"""
from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from caseflow import bundles
from caseflow._engine import definitions, delegation, form_checks, migration, records, run, timers, try_run, workflows
from caseflow._engine import deploy as _deploy
from caseflow._engine import diff as _diff
from caseflow._engine import facts as _facts
from caseflow._engine.actor import SYSTEM, TIMER, Actor
from caseflow._engine.deploy import DeployResult
from caseflow._engine.errors import (
    ERROR_TABLE,
    Conflict,
    DeployRejected,
    EngineError,
    ErrorKind,
    Forbidden,
    InstanceError,
    InvalidData,
    NotFound,
)
from caseflow._engine.errors import describe as describe_error
from caseflow._engine.records import AuditRecord, CaseRecord, TaskForm, TaskRecord
from caseflow._engine.rows import DefinitionRef
from caseflow._engine.specs import role_key

__all__ = [
    "AuditRecord", "CaseRecord", "TaskForm", "TaskRecord",
    "Actor", "SYSTEM", "TIMER", "DeployResult", "DefinitionRef", "ERROR_TABLE", "ErrorKind", "describe_error",
    "EngineError", "NotFound", "Forbidden", "Conflict", "InvalidData", "DeployRejected", "InstanceError",
    "role_key", "UNFINISHED_STATUSES", "decided_value", "fresh_keys",
    "deploy", "deploy_bundles", "list_processes", "lane_roles", "startable_definition", "start_form",
    "process_manifest", "element_names", "task_title_zh",
    "start", "task_form", "form_problems", "complete", "claim", "unclaim", "retry", "update_data", "cancel",
    "list_tasks", "count_tasks", "show", "audit_log", "instance_tasks", "completed_elements", "diagram", "diagram_xml",
    "due_instance_ids", "next_timer_due", "on_timers_saved", "listen_for_timers", "fire_timers",
    "fire_due_timers", "rebuild_facts", "try_bundle", "delegate", "record_event",
    "get_definition", "find_definition", "list_versions", "version_info", "pin", "unpin", "diff_versions",
    "diff_lines", "diff_files", "check_bundle", "migration_candidates", "migration_plan", "migrate", "clear_caches",
]

UNFINISHED_STATUSES = definitions.UNFINISHED_STATUSES
record_event = delegation.record_event  # audit a comment or an absence (an action that saves no case)
decided_value = form_checks.decided_value  # a field's x-decided rule for the case: what forms show, completion applies
fresh_keys = form_checks.fresh_keys  # a form's fields asked afresh each round: not proposed, and left out clears them

# --- deploying and deployed versions ------------------------------------------------------------


def deploy(session: Session, paths: Iterable[str | Path], actor: Actor | str = SYSTEM,
           if_new: bool = False, check_only: bool = False) -> list[DeployResult]:
    """Validate the bundles at ``paths`` (``.bpmn`` files or folders) and store a new version of
    each changed process. Raises :class:`DeployRejected` with every problem; nothing is stored then.
    With ``if_new`` a process whose content any stored version has already is left unchanged;
    with ``check_only`` nothing is stored and a version it would store is ``valid``."""
    return _deploy.deploy(session, list(paths), _name(actor), if_new, check_only)


def deploy_bundles(session: Session, found: list[bundles.Bundle], actor: Actor | str = SYSTEM,
                   check_only: bool = False) -> list[DeployResult]:
    """Validate and store already-collected bundles (uploads use this); ``check_only`` as :func:`deploy`."""
    return _deploy.deploy_bundles(session, found, _name(actor), check_only=check_only)


def pin(session: Session, key: str, version: int, actor: Actor | str) -> dict:
    """Make new instances of ``key`` start on ``version`` (a rollback without redeploying)."""
    return definitions.pin(session, key, version, _name(actor))


def unpin(session: Session, key: str, actor: Actor | str) -> dict:
    """New instances of ``key`` start on the latest version again."""
    return definitions.unpin(session, key, _name(actor))


def diff_versions(session: Session, definition_id_a: int, definition_id_b: int) -> dict:
    """What changed from version A to version B: elements and files added, removed and changed."""
    return definitions.diff_versions(session, definition_id_a, definition_id_b)


def diff_lines(diff: dict) -> list[str]:
    """A :func:`diff_versions` result as readable lines."""
    return definitions.diff_lines(diff)


def diff_files(old_files: dict[str, str], new_files: dict[str, str]) -> dict:
    """What changed between two bundles' files (name -> text), as :func:`diff_versions` reports it
    (elements, files, layout), for bundles not deployed yet (drafts, a modeler's round trip)."""
    return _diff.compare(old_files, new_files)


def check_bundle(session: Session, bundle: bundles.Bundle) -> list[bundles.Problem]:
    """Every problem deploying ``bundle`` would report (the very validation of :func:`deploy_bundles`),
    without storing anything; an empty list when it would deploy."""
    try:
        _deploy._validate(session, [bundle])
    except DeployRejected as err:
        return list(err.problems)
    except SQLAlchemyError:
        raise
    except Exception as err:  # what deploy_bundles turns into a problem too
        return [_deploy._unexpected(err, "validating the bundle", bundle.source, {})]
    return []


def try_bundle(session: Session, bundle: bundles.Bundle, key: str, data: dict | None, answers: list) -> dict:
    """Run process ``key`` of an undeployed ``bundle`` on sample data in memory, answering its human
    tasks with ``answers`` in turn; nothing is stored, no mail goes out (see ``_engine.try_run``)."""
    return try_run.try_bundle(session, bundle, key, data, answers)


def diagram(session: Session, definition_id: int) -> dict[str, str]:
    """The BPMN files of a deployed version (file name -> XML)."""
    return records.diagram(session, definition_id)


def diagram_xml(session: Session, definition_id: int) -> str:
    """The BPMN file of a deployed version that defines its process (for drawing it)."""
    return records.diagram_xml(session, definition_id)


# Deployed versions, read from the definition table (the functions' own docstrings say what each returns).
list_processes = definitions.list_processes
lane_roles = definitions.lane_roles  # the roles the startable versions' lanes and start rules use
startable_definition = definitions.startable_definition
start_form = definitions.start_form
process_manifest = definitions.process_manifest
element_names = definitions.element_names
task_title_zh = definitions.task_title_zh
get_definition = definitions.get_definition
find_definition = definitions.find_definition
list_versions = definitions.list_versions
version_info = definitions.version_info


# --- running instances -----------------------------------------------------------------------------


def start(session: Session, key: str, data: dict | None = None, actor: Actor | str = SYSTEM,
          version: int | None = None) -> CaseRecord:
    """Start an instance of ``key`` (the start form validates ``data``) and run it until it waits."""
    return run.start(session, key, data, actor, version)


def task_form(session: Session, task_id: str) -> TaskForm:
    """A task with its form schema, UI schema, instructions and the case data (no workflow loaded)."""
    return run.task_form(session, task_id)


def form_problems(session: Session, data: dict, task_id: str | None = None, key: str | None = None,
                  unread: Iterable[str] = ()) -> dict[str, str]:
    """The field problems completing ``task_id`` (or starting ``key``) with ``data`` would raise (no sum
    rule over the fields ``unread``, whose input could not be read); stores nothing."""
    return run.form_problems(session, data, task_id, key, frozenset(unread))


def complete(session: Session, task_id: str, data: dict | None, actor: Actor) -> CaseRecord:
    """Complete a ready human task with ``data`` (validated against its form) and run on.

    Raises NotFound, Forbidden (not the actor's role, or claimed by another), InvalidData,
    Conflict (done or changed meanwhile) or InstanceError (the case is stopped).
    """
    return run.complete(session, task_id, data, actor)


def claim(session: Session, task_id: str, actor: Actor) -> TaskRecord:
    """Take a ready task so others see it is being worked on; of two at once, one gets it."""
    return run.claim(session, task_id, actor)


def unclaim(session: Session, task_id: str, actor: Actor) -> TaskRecord:
    """Give a claimed task back to its role (its holder or an admin)."""
    return run.unclaim(session, task_id, actor)


def delegate(session: Session, task_id: str, to: str, reason: str, actor: Actor) -> TaskRecord:
    """Hand a ready task to ``to`` of its role (their substitute when absent), with a reason; audited, notified."""
    return delegation.delegate(session, task_id, to, reason, actor)


def retry(session: Session, instance_id: int, actor: Actor | str = SYSTEM) -> CaseRecord:
    """Run a failed instance again from its failing task (after the cause is fixed)."""
    return run.retry(session, instance_id, actor)


def update_data(session: Session, instance_id: int, changes: dict, actor: Actor | str,
                reason: str | None = None) -> CaseRecord:
    """Correct process data of an instance (e.g. before a retry); audited (with ``reason`` when given)."""
    return run.update_data(session, instance_id, changes, actor, reason)


def cancel(session: Session, instance_id: int, actor: Actor | str = SYSTEM, reason: str | None = None) -> CaseRecord:
    """Cancel an unfinished instance: its tasks and timers go away."""
    return run.cancel(session, instance_id, actor, reason)


# --- reading instances and tasks (tables only) --------------------------------------------------------


def list_tasks(session: Session, instance_id: int | None = None, role: str | None = None,
               roles: Iterable[str] | None = None, assignee: str | None = None,
               process_key: str | None = None, limit: int = 500, offset: int = 0) -> list[TaskRecord]:
    """Ready human tasks, soonest deadline first (one indexed query on the task table)."""
    return records.list_tasks(session, instance_id, role, roles, assignee, process_key, limit, offset)


count_tasks = records.count_tasks  # how many ready tasks list_tasks' filters select


def show(session: Session, instance_id: int, audit: bool = True) -> CaseRecord:
    """An instance as stored: status, data, ready tasks, timers, error and (optionally) history."""
    return records.show(session, instance_id, audit)


def audit_log(session: Session, instance_id: int) -> list[AuditRecord]:
    """The instance's history, oldest first."""
    return records.audit_log(session, instance_id)


def instance_tasks(session: Session, instance_id: int) -> list[TaskRecord]:
    """Every human task the instance has had (ready, completed, cancelled), oldest first."""
    return records.instance_tasks(session, instance_id)


def completed_elements(session: Session, instance_id: int) -> list[str]:
    """BPMN ids of the instance's own diagram elements completed so far (to mark the diagram)."""
    return records.completed_elements(session, instance_id)


# --- timers ----------------------------------------------------------------------------------------------


def due_instance_ids(session: Session, limit: int = 100) -> list[int]:
    """Instances with a timer due now, soonest first."""
    return timers.due_instance_ids(session, limit)


def next_timer_due(session: Session) -> dt.datetime | None:
    """When the soonest stored timer is due (None when there is none)."""
    return timers.next_timer_due(session)


def on_timers_saved(hook: Callable[[dt.datetime], None]) -> Callable[[], None]:
    """Call ``hook(soonest_due_at)`` after each commit in this process that saved timers; returns
    a function that removes the hook. The timer loop uses it to wake for a sooner timer."""
    return timers.on_timers_saved(hook)


def listen_for_timers(bind: Engine, hook: Callable[[dt.datetime], None], stop: threading.Event) -> None:
    """On PostgreSQL, call ``hook(soonest_due_at)`` for timers saved by any process (LISTEN/NOTIFY)
    until ``stop`` is set; returns at once on other databases. Run it in a thread of its own."""
    timers.listen_for_timers(bind, hook, stop)


def fire_timers(session: Session, instance_id: int, actor: Actor | str = TIMER) -> bool:
    """Fire the due timers of one instance and run it on; True when something fired."""
    return timers.fire_timers(session, instance_id, _name(actor))


def fire_due_timers(session: Session, limit: int = 100) -> int:
    """Fire every due timer, each instance in its own savepoint; returns instances advanced."""
    return timers.fire_due_timers(session, limit)


def rebuild_facts(session: Session, process_key: str | None = None) -> int:
    """Derive the case-facts rows (KPI reports) of every case again, of ``process_key`` when
    given, from the instance and task rows; returns the rows written."""
    return _facts.rebuild(session, process_key)


# --- migration ---------------------------------------------------------------------------------------------


def migration_candidates(session: Session, key: str | None = None, version: int | None = None,
                         definition_id: int | None = None, exclude_definition_id: int | None = None,
                         status: str | None = None) -> list[int]:
    """Ids of unfinished instances: of a process, of one of its versions, or of a definition."""
    return migration.migration_candidates(session, key, version, definition_id, exclude_definition_id, status)


def migration_plan(session: Session, instance_ids: Iterable[int], target_definition_id: int) -> dict:
    """Per instance: can it move to the target version, and why not. Changes nothing."""
    return migration.migration_plan(session, instance_ids, target_definition_id)


def migrate(session: Session, instance_ids: Iterable[int], target_definition_id: int, actor: Actor | str,
            dry_run: bool = False) -> dict:
    """Move running instances to another version of their process, each all or nothing, audited."""
    return migration.migrate(session, instance_ids, target_definition_id, _name(actor), dry_run)


def clear_caches() -> None:
    """Forget the live workflows kept in memory (the parsed versions stay)."""
    workflows.WORKFLOWS.clear()


def _name(actor: Actor | str) -> str:
    return actor.name if isinstance(actor, Actor) else str(actor)
