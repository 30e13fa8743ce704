"""Migrating running instances to another version of their process (SpiffWorkflow's diff).

An instance moves only when every task it is at exists unchanged in the target (labels and
the flows around it aside) and its migrated state loads; each instance moves in its own
savepoint, all of it or nothing.
"""
from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.util.diff import diff_workflow as _spiff_diff_workflow
from SpiffWorkflow.bpmn.util.diff import migrate_workflow as _spiff_migrate_workflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow import store
from caseflow._engine import adapters, definitions, rows, run, specs, sync, workflows
from caseflow._engine.errors import Conflict, InvalidData
from caseflow._engine.rows import Case, DefinitionRef

# Spec attributes that may differ on a task an instance is waiting at: the flows around it
# (a task added after it changes its outputs) and its label.
_MIGRATION_NEUTRAL_ATTRS = {"inputs", "outputs"}
_MIGRATION_COSMETIC_ATTRS = {"bpmn_name", "documentation"}
# Task states in which an instance "is at" a task: these must exist unchanged in the target.
_LIVE_STATES = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


@dataclass
class _MigrationTrial:
    """The outcome of migrating one instance's workflow in memory."""

    entry: dict
    workflow: BpmnWorkflow | None = None


def _task_label(task: Any) -> str:
    spec = task.task_spec
    label = spec.bpmn_name or spec.bpmn_id or spec.name
    return f"{label!r} ({spec.bpmn_id})" if spec.bpmn_id and spec.bpmn_id != label else repr(label)


def _check_workflow_diff(wdiff: Any, version: int, reasons: list[str], notes: list[str], where: str = "") -> None:
    changed = set(wdiff.changed)
    removed = set(wdiff.removed)
    for task in list(wdiff.alignment) + list(removed):
        spec = task.task_spec
        at = f"{where}the instance {_STATE_VERBS.get(task.state, 'is at')} task {_task_label(task)}"
        if task in removed:
            if task.has_state(_LIVE_STATES):
                reasons.append(f"{at}, which does not exist in version {version}")
            elif task.has_state(TaskState.FINISHED_MASK) and spec.bpmn_id:
                reasons.append(f"{where}the instance has passed task {_task_label(task)}, which does not exist "
                               f"in version {version} (its history could not be kept)")
            continue
        if task not in changed or not task.has_state(_LIVE_STATES):
            continue
        target = wdiff.alignment.get(task)
        if target is not None and target.name != spec.name:
            reasons.append(f"{at}; version {version} has {target.bpmn_name or target.name!r} ({target.name}) "
                           f"in its place")
            continue
        attrs = set(_spec_changes(task, target)) - _MIGRATION_NEUTRAL_ATTRS
        blocking = sorted(attrs - _MIGRATION_COSMETIC_ATTRS)
        if blocking and task.state == TaskState.ERROR and "typename" not in attrs:
            # Moving a failed instance to a corrected version is the point: retry runs the fix.
            notes.append(f"{where}the failed task {_task_label(task)} is changed in version {version} "
                         f"({', '.join(_ATTR_WORDS.get(a, a) for a in blocking)}); a retry runs it as changed")
        elif blocking:
            reasons.append(f"{at}, which is changed in version {version}: "
                           f"{', '.join(_ATTR_WORDS.get(a, a) for a in blocking)}")
        elif attrs:
            notes.append(f"{where}task {_task_label(task)}: {', '.join(_ATTR_WORDS.get(a, a) for a in sorted(attrs))} "
                         f"changed (applied)")


_STATE_VERBS = {TaskState.READY: "waits at", TaskState.WAITING: "waits at", TaskState.STARTED: "is in",
                TaskState.ERROR: "failed at"}
_ATTR_WORDS = {"extensions": "properties/extensions", "lane": "lane (role)", "bpmn_name": "title",
               "operation_params": "service parameters", "operation_name": "service operator",
               "typename": "element type", "manual": "manual flag", "event_definition": "event definition",
               "cond_task_specs": "conditions", "script": "script"}


def _spec_changes(task: Any, target: Any) -> list[str]:
    s1, s2 = adapters.SERIALIZER.registry.convert(task.task_spec), adapters.SERIALIZER.registry.convert(target)
    if s1.get("typename") != s2.get("typename"):
        return ["typename"]
    return [k for k, v in s1.items() if s2.get(k) != v]


def _verify_specs(wf: BpmnWorkflow, version: int, reasons: list[str]) -> None:
    """Every task of the migrated workflow must point at a spec of the target version."""
    workflows = [wf, *wf.subprocesses.values()]
    for w in workflows:
        for task in w.tasks.values():
            if w.spec.task_specs.get(task.task_spec.name) is not task.task_spec:
                reasons.append(f"task {_task_label(task)} would refer to an element missing from version {version}")
                return


def _try_migration(session: Session, instance: Case | None, instance_id: int,
                   target: store.ProcessDefinition, target_loaded: specs.LoadedSpec) -> _MigrationTrial:
    """Migrate one instance's workflow in memory and say whether that is safe (and why not)."""
    entry: dict[str, Any] = {"instance_id": instance_id, "business_key": None, "status": None,
                             "from_version": None, "from_definition_id": None,
                             "to_version": target.version, "to_definition_id": target.id,
                             "can_migrate": False, "reasons": [], "notes": [], "tasks": []}
    reasons, notes = entry["reasons"], entry["notes"]
    if instance is None:
        reasons.append(f"no instance {instance_id}")
        return _MigrationTrial(entry)
    entry.update(business_key=instance.business_key, status=instance.status,
                 from_version=instance.definition.version, from_definition_id=instance.definition_id)
    if instance.process_key != target.key:
        reasons.append(f"the instance belongs to process {instance.process_key!r}, "
                       f"the target version to {target.key!r}")
    elif instance.definition_id == target.id:
        reasons.append(f"the instance already runs on version {target.version}")
    elif instance.status in ("completed", "cancelled"):
        reasons.append(f"the instance is {instance.status}")
    if reasons:
        return _MigrationTrial(entry)
    try:
        source_loaded = specs.SPECS.get(session, instance.definition)
        wf = workflows.fresh(rows.load_state(session, instance), source_loaded)
        entry["tasks"] = [{"task": t.task_spec.bpmn_id or t.task_spec.name, "title": t.task_spec.bpmn_name,
                           "state": TaskState.get_name(t.state).lower()}
                          for t in wf.get_tasks(state=_LIVE_STATES) if t.task_spec.bpmn_id]
        top_diff, sub_diffs = _spiff_diff_workflow(adapters.SERIALIZER.registry, wf, target_loaded.spec,
                                                   target_loaded.subprocess_specs)
        _check_workflow_diff(top_diff, target.version, reasons, notes)
        for sp_id, sub_diff in sub_diffs.items():
            sub = wf.subprocesses[sp_id]
            where = f"in sub-process {sub.spec.name!r}: "
            if sub_diff is None:
                if not sub.is_completed():
                    reasons.append(f"{where}it is running but does not exist in version {target.version}")
                continue
            _check_workflow_diff(sub_diff, target.version, reasons, notes, where)
        for task in wf.get_tasks(state=TaskState.READY, manual=True):
            form = specs.properties(task.task_spec).get("formJsonSchemaFilename")
            if form and source_loaded.files.get(form) != target_loaded.files.get(form):
                notes.append(f"the form {form} of task {_task_label(task)} differs in version {target.version}; "
                             f"the new form applies")
        if reasons:
            return _MigrationTrial(entry)
        # Keep the data and timer state of the tasks the migration resets and re-predicts.
        keep = {t.id: (copy.deepcopy(t.data), copy.deepcopy(t.internal_data), t.state, t.task_spec.name)
                for w in (wf, *wf.subprocesses.values())
                for t in w.get_tasks(state=TaskState.READY | TaskState.WAITING, skip_subprocesses=True)}
        _spiff_migrate_workflow(top_diff, wf, target_loaded.spec)
        wf.subprocess_specs = target_loaded.subprocess_specs
        for sp_id, sub_diff in sub_diffs.items():
            if sub_diff is not None and sp_id in wf.subprocesses:
                sub = wf.subprocesses[sp_id]
                _spiff_migrate_workflow(sub_diff, sub, target_loaded.subprocess_specs[sub.spec.name])
        for w in (wf, *wf.subprocesses.values()):
            for task_id, (data, internal, state, spec_name) in keep.items():
                task = w.tasks.get(task_id)
                if task is not None and task.task_spec.name == spec_name:
                    task.data = data
                    if task.state == state:
                        task.internal_data = internal
        _verify_specs(wf, target.version, reasons)
        if not reasons:  # the migrated state must load against the target spec
            dct = json.loads(adapters.serialize(wf))
            dct.pop(adapters.SERIALIZER.VERSION_KEY, None)
            dct["spec"], dct["subprocess_specs"] = target_loaded.spec, target_loaded.subprocess_specs
            adapters.SERIALIZER.from_dict(dct)
    except (SpiffWorkflowException, KeyError, AttributeError, TypeError, ValueError) as err:
        reasons.append(f"the workflow could not be compared with version {target.version}: "
                       f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
    if reasons:
        return _MigrationTrial(entry)
    entry["can_migrate"] = True
    return _MigrationTrial(entry, wf)


def _migration_target(session: Session, target_definition_id: int
                      ) -> tuple[store.ProcessDefinition, specs.LoadedSpec]:
    target = definitions.get_definition(session, target_definition_id)
    return target, specs.SPECS.get(session, target)


def _instances_by_id(session: Session, instance_ids: Iterable[int]) -> dict[int, Case | None]:
    return {i: rows.load_case(session, i) for i in dict.fromkeys(int(i) for i in instance_ids)}


def migration_candidates(session: Session, key: str | None = None, version: int | None = None,
                         definition_id: int | None = None, exclude_definition_id: int | None = None,
                         status: str | None = None) -> list[int]:
    """Ids of unfinished instances: of a process, of one of its versions, or of a definition."""
    stmt = select(store.ProcessInstance.id).where(store.ProcessInstance.status.in_(definitions.UNFINISHED_STATUSES))
    if key is not None:
        stmt = stmt.where(store.ProcessInstance.process_key == key)
    if version is not None:
        if key is None:
            raise InvalidData({"version": "a version needs the process key"})
        stmt = stmt.where(store.ProcessInstance.definition_id == definitions.find_definition(session, key, version).id)
    if definition_id is not None:
        stmt = stmt.where(store.ProcessInstance.definition_id == definition_id)
    if exclude_definition_id is not None:
        stmt = stmt.where(store.ProcessInstance.definition_id != exclude_definition_id)
    if status is not None:
        stmt = stmt.where(store.ProcessInstance.status == status)
    return list(session.scalars(stmt.order_by(store.ProcessInstance.id)))


def migration_plan(session: Session, instance_ids: Iterable[int], target_definition_id: int) -> dict:
    """Per instance: can it move to the target version, and why not. Changes nothing.

    An instance cannot move when a task it is at (ready, waiting, running or failed) is
    missing or changed in the target (beyond its label and the flows around it), when a task
    it has passed no longer exists, or when the migrated state would not load.
    """
    target, target_loaded = _migration_target(session, target_definition_id)
    entries = [_try_migration(session, inst, iid, target, target_loaded).entry
               for iid, inst in _instances_by_id(session, instance_ids).items()]
    return _migration_report(target, entries, dry_run=True)


def _migration_report(target: store.ProcessDefinition, entries: list[dict], dry_run: bool) -> dict:
    movable = [e for e in entries if e["can_migrate"]]
    return {
        "key": target.key, "to_version": target.version, "to_definition_id": target.id, "dry_run": dry_run,
        "requested": len(entries),
        "can_migrate": len(movable),
        "migrated": 0 if dry_run else sum(1 for e in entries if e.get("migrated")),
        "refused": sum(1 for e in entries if not e["can_migrate"] or (not dry_run and not e.get("migrated"))),
        "instances": entries,
    }


class _MigrationAborted(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _migrate_one(session: Session, instance: Case, trial: _MigrationTrial,
                 target: store.ProcessDefinition, target_loaded: specs.LoadedSpec, actor: str, batch: str) -> None:
    wf = trial.workflow
    assert wf is not None
    previous_status = instance.status
    from_version, from_id = instance.definition.version, instance.definition_id
    instance.definition = DefinitionRef(target.id, target.key, target.version, target.content_hash, target.name,
                                        target.pinned)
    events = [rows.event(actor, "migrated", None, {"from_version": from_version, "to_version": target.version,
                                               "from_definition_id": from_id, "to_definition_id": target.id,
                                               "migration": batch})]
    if previous_status != "error":
        run.run_steps(session, instance, wf, actor, lambda w: w.do_engine_steps(), events)
        if instance.status == "error":
            raise _MigrationAborted(f"after the migration the instance failed: {instance.error}")
    sync.save(session, instance, wf, target_loaded, actor, events)
    # Ready tasks keep their ids; bring their rows in step with the target's task specs.
    changes = []
    for task_id in instance.ready_tasks or []:
        task = wf.get_task_from_id(UUID(task_id))
        if task is None:
            continue
        meta = target_loaded.meta(task.task_spec)
        role = specs.role_key(task.data.get(meta.role_from_data)) if meta.role_from_data else None
        changes.append(dict(id=task_id, spec_ref=meta.ref, name=meta.name, title=meta.title, lane=meta.lane,
                            form=meta.form, role=role or meta.role))
    rows.update_tasks(session, changes)


def migrate(session: Session, instance_ids: Iterable[int], target_definition_id: int, actor: str,
            dry_run: bool = False) -> dict:
    """Move running instances to another version of their process, as one audited action.

    Each instance is migrated in its own savepoint: all of it or nothing of it. Instances
    that cannot move (see :func:`migration_plan`) are left untouched and reported with the
    reason. Migrated instances keep their ready tasks (same ids), data and timers, and run
    on through the target version's flow; an instance in ``error`` moves as it is (its
    failed task may be corrected by the target) and continues with :func:`retry`. The
    action is audited per instance (``migrated``) and once (``migration``, instance none)
    when anything moved. ``dry_run`` only reports.
    """
    target, target_loaded = _migration_target(session, target_definition_id)
    instances = _instances_by_id(session, instance_ids)
    entries: list[dict] = []
    batch = uuid.uuid4().hex
    for iid, inst in instances.items():
        trial = _try_migration(session, inst, iid, target, target_loaded)
        entry = trial.entry
        entries.append(entry)
        if dry_run or not entry["can_migrate"] or inst is None:
            entry["migrated"] = False
            continue
        try:
            with session.begin_nested():
                _migrate_one(session, inst, trial, target, target_loaded, actor, batch)
            entry["migrated"] = True
        except _MigrationAborted as err:
            entry.update(migrated=False, can_migrate=False)
            entry["reasons"].append(err.reason)
        except (Conflict, SpiffWorkflowException) as err:
            entry.update(migrated=False, can_migrate=False)
            entry["reasons"].append(f"the migration failed and was undone: {str(err).splitlines()[0]}")
    report = _migration_report(target, entries, dry_run)
    if not dry_run and report["migrated"]:  # a refused migration changes nothing, not even the log
        rows.audit(session, None, actor, "migration", None, {
            "key": target.key, "to_version": target.version, "to_definition_id": target.id, "migration": batch,
            "migrated": [e["instance_id"] for e in entries if e.get("migrated")],
            "refused": {str(e["instance_id"]): e["reasons"] for e in entries if not e.get("migrated")},
        })
        report["migration"] = batch
    return report
