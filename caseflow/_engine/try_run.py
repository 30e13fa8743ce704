"""Try a bundle before it is deployed: run its process on sample data in memory, store nothing.

A process owner gives the start data and, for each human task in the order they come up,
the answer (the form's data, or ``"default"`` for the form's own defaults). The bundle is
validated exactly as a deployment would validate it, parsed into a workflow that lives only
in this call, and run with the real sandbox and operators. Nothing goes through
:mod:`rows`/:mod:`sync` (no instance, task, timer, audit, outbox or case-facts row, so no
mail either); operators get a context of their own: ``next_number`` reads the sequence and
counts on in memory (the real counter is never moved), ``count_cases`` only reads. As a
second guard the whole run sits in a SAVEPOINT that is rolled back.

The run is bounded: at most :data:`MAX_STEPS` engine steps and :data:`MAX_SECONDS` seconds
(a loop that never ends stops with a clear message at the element it was about to run), and
each script keeps the sandbox's own time and size budgets.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.specs.defaults import ServiceTask
from SpiffWorkflow.task import Task, TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow import bundles, clock, store
from caseflow._engine import (
    case_counts,
    deploy,
    form_checks,
    run,
    sandbox,
    scripting,
    specs,
    sync,
    tree_walks,
    workflows,
)
from caseflow._engine.errors import InvalidData
from caseflow._engine.values import plain
from service_tasks.registry import OperatorError

__all__ = ["MAX_STEPS", "MAX_SECONDS", "MAX_ANSWERS", "DEFAULT", "try_bundle"]

#: Engine steps (gateways, events, scripts, service tasks...) one try may run in all.
MAX_STEPS = 500
#: Wall-clock seconds one try may take in all.
MAX_SECONDS = 10.0
#: Human-task answers one try may give.
MAX_ANSWERS = 100
#: The answer that submits the form's own defaults.
DEFAULT = "default"
_BPMN_NS = deploy.BPMN_NS


class TryStopped(SpiffWorkflowException):
    """The try ran out of steps or time before the element of ``task``."""

    def __init__(self, message: str, task: Task) -> None:
        super().__init__(message)
        self.task = task


@dataclass
class TryContext(scripting.RunContext):
    """The operator context of a try: numbers counted in memory from the sequence's value (read only)."""

    numbers: dict[tuple[str, int], int] = field(default_factory=dict)

    def operator_context(self) -> dict[str, Any]:
        session = self.session
        assert session is not None

        def next_number(name: str, year: int) -> int:
            if (name, year) not in self.numbers:
                current = session.scalar(select(store.Sequence.value).where(
                    store.Sequence.name == name, store.Sequence.year == year))
                self.numbers[(name, year)] = int(current or 0)
            self.numbers[(name, year)] += 1
            return self.numbers[(name, year)]

        return {"now": clock.now(), "timezone": clock.business_zone().key, "next_number": next_number,
                "count_cases": lambda *args: case_counts.count_cases(session, *args)}


@dataclass
class _Run:
    """What one try collects as it goes."""

    loaded: specs.LoadedSpec
    context: TryContext
    deadline: float
    steps: int = 0
    error: dict | None = None

    def before_step(self, task: Task) -> None:
        self.steps += 1
        label = task.task_spec.bpmn_name or task.task_spec.bpmn_id or task.task_spec.name
        if self.steps > MAX_STEPS:
            raise TryStopped(f"the try ran more than {MAX_STEPS} steps (a loop that does not end?) and was "
                             f"stopped before {label!r}", task)
        if time.monotonic() > self.deadline:
            raise TryStopped(f"the try took longer than {MAX_SECONDS:g} s (a loop that does not end?) and was "
                             f"stopped before {label!r}", task)

    def engine_steps(self, wf: BpmnWorkflow) -> None:
        wf.do_engine_steps(will_complete_task=self.before_step)

    def run(self, wf: BpmnWorkflow, steps: Any) -> bool:
        """Run ``steps(wf)`` with the try's context; False (and ``error`` set) when the process failed."""
        with scripting.bound(wf, self.context):
            try:
                steps(wf)
            except (SpiffWorkflowException, sandbox.SandboxError, OperatorError) as err:
                task = getattr(err, "task", None)
                spec = task.task_spec if task is not None else getattr(err, "task_spec", None)
                stopped = sandbox.cause(err)
                message = run.error_message(err) if stopped is None else str(stopped)
                self.error = {"message": message, "element": spec.bpmn_id if spec is not None else None}
                return False
        hidden = run.beyond_depth_limit(wf)
        if hidden is not None:
            label = hidden.task_spec.bpmn_name or hidden.task_spec.bpmn_id
            self.error = {"message": f"the process ran more than {tree_walks.WALK_DEPTH} steps in a row (a loop "
                                     f"that does not end?) and was stopped before {label!r}",
                          "element": hidden.task_spec.bpmn_id}
            return False
        return True


def try_bundle(session: Session, bundle: bundles.Bundle, key: str, data: dict | None,
               answers: list[Any]) -> dict[str, Any]:
    """Run process ``key`` of ``bundle`` on ``data``, answering its human tasks with ``answers`` in turn.

    Raises ``DeployRejected`` when the bundle would not deploy, ``InvalidData`` (per field:
    ``data.<field>``, ``answers.<n>.<field>``) for bad start data or answers. Returns the path
    taken, the flows followed, operator outputs, each human task reached with its form, the
    pending timers, the audited events (notices, escalations), the final data and the end
    ``status`` (``completed``, ``needs_answer``, ``waiting`` on a timer or message, ``error``).
    """
    if len(answers) > MAX_ANSWERS:
        raise InvalidData({"answers": f"at most {MAX_ANSWERS} answers"})
    parsed = deploy._validate(session, [bundle])[0]
    if key not in parsed.processes:
        raise InvalidData({"process": f"the bundle defines no executable process {key!r}"})
    nested = session.begin_nested()
    try:
        with session.no_autoflush:
            return _try(session, bundle, parsed, key, data, answers)
    finally:
        nested.rollback()


def _try(session: Session, bundle: bundles.Bundle, parsed: Any, key: str, data: dict | None,
         answers: list[Any]) -> dict[str, Any]:
    loaded = _load(session, bundle, parsed, key)
    try:
        clean = form_checks.check_submission(loaded, loaded.start_form, None, data, {}, starting=True)
    except InvalidData as err:
        raise type(err)({f"data.{k}": v for k, v in err.fields.items()}, "the start data is not valid") from err
    state = _Run(loaded, TryContext(session), time.monotonic() + MAX_SECONDS)
    wf = workflows.new(loaded)
    first = wf.get_next_task(state=TaskState.READY)
    if first is not None:
        first.data.update(copy.deepcopy(clean))
    reached: list[dict[str, Any]] = []
    ok = state.run(wf, state.engine_steps)
    status = "error"
    while ok:
        if wf.is_completed():
            status = "completed"
            break
        ready = sorted((t for t in wf.get_tasks(state=TaskState.READY) if t.task_spec.manual),
                       key=lambda t: t.last_state_change)
        if not ready:
            status = "waiting"
            break
        index = len(reached)
        answer = answers[index] if index < len(answers) else None
        task = _pick(ready, answer, index)
        item = _task_item(loaded, task)
        reached.append(item)
        if answer is None:
            status = "needs_answer"
            break
        item["answer"] = submitted = _answer(loaded, task, item, answer, index)

        def steps(w: BpmnWorkflow, task: Task = task, submitted: dict = submitted) -> None:
            task.data.update(copy.deepcopy(submitted))
            task.run()
            state.engine_steps(w)

        ok = state.run(wf, steps)
    snap = sync.snapshot(wf, loaded)
    path, flows, outputs = _trail(loaded, wf)
    return {
        "process": key, "status": status, "steps": state.steps, "error": state.error,
        "path": path, "flows": flows, "outputs": outputs, "tasks": reached,
        "timers": [] if status == "completed" else snap.timers, "data": snap.data,
        "events": [{"kind": kind, "element": element, "payload": plain(payload)}
                   for kind, element, payload in state.context.events or []],
    }


def _load(session: Session, bundle: bundles.Bundle, parsed: Any, key: str) -> specs.LoadedSpec:
    """The bundle parsed as a deployed version of it would be (a row that is never added to the session)."""
    deps = {called: int(ref.split(":", 1)[1]) for called, ref in parsed.external_calls.items()
            if ref.startswith("definition:")}
    row = store.ProcessDefinition(id=None, key=key, version=0, name=parsed.processes.get(key), content_hash="",
                                  files=dict(bundle.files), dependencies=deps, deployed_by="try")
    return specs.SPECS._load(session, row)  # parsed afresh and never cached: a draft changes


def _pick(ready: list[Task], answer: Any, index: int) -> Task:
    """The ready task ``answer`` names (``{"task": id}``), else the one that became ready first."""
    wanted = answer.get("task") if isinstance(answer, dict) else None
    if not wanted:
        return ready[0]
    for task in ready:
        if task.task_spec.bpmn_id == wanted:
            return task
    raise InvalidData({f"answers.{index}.task": f"{wanted!r} is not ready; ready are: "
                       f"{', '.join(str(t.task_spec.bpmn_id) for t in ready)}"})


def _task_item(loaded: specs.LoadedSpec, task: Task) -> dict[str, Any]:
    """A human task reached: who would get it and the form it would show."""
    meta = loaded.meta(task.task_spec)
    role = meta.role
    if meta.role_from_data:
        role = specs.role_key(task.data.get(meta.role_from_data)) or role
    return {
        "element": meta.name, "title": meta.title, "name_zh": specs.properties(task.task_spec).get("nameZh"),
        "role": role, "lane": meta.lane, "form": meta.form, "ui_form": meta.ui_form,
        "schema": loaded.form_schema(meta.form, meta.process), "ui_schema": loaded.form_schema(meta.ui_form,
                                                                                               meta.process),
        "documentation": meta.documentation, "documentation_zh": meta.documentation_zh,
        "due": plain(task.data.get(meta.due_key)) if meta.due_key else None, "answer": None,
    }


def _answer(loaded: specs.LoadedSpec, task: Task, item: dict, answer: Any, index: int) -> dict:
    """The answer's data checked against the task's form, as completing the task would check it."""
    given = answer.get("data") if isinstance(answer, dict) else None
    if answer == DEFAULT or (isinstance(answer, dict) and answer.get("default")):
        given = {**_defaults(item["schema"]), **(given or {})}
    if given is not None and not isinstance(given, dict):
        raise InvalidData({f"answers.{index}.data": "must be an object"})
    meta = loaded.meta(task.task_spec)
    schema = item["schema"]
    try:
        data = form_checks.apply_decided(schema, given or {}, task.data) if schema is not None else (given or {})
        clean = form_checks.check_submission(loaded, meta.form, meta.process, data, task.data)
    except InvalidData as err:
        raise type(err)({f"answers.{index}.{k}": v for k, v in err.fields.items()},
                          f"the answer to {item['title']!r} is not valid") from err
    return clean


def _defaults(schema: dict | None) -> dict:
    """The ``default`` of each top-level field of a form."""
    props = (schema or {}).get("properties")
    if not isinstance(props, dict):
        return {}
    return {k: copy.deepcopy(v["default"]) for k, v in props.items()
            if isinstance(v, dict) and "default" in v and not v.get("readOnly")}


def _own(loaded: specs.LoadedSpec, task: Task) -> bool:
    spec = task.task_spec
    return bool(spec.bpmn_id) and loaded.process_files.get(specs.spec_process(spec), loaded.files) is loaded.files


def _trail(loaded: specs.LoadedSpec, wf: BpmnWorkflow) -> tuple[list[str], list[str], list[dict]]:
    """Completed elements of the bundle's own diagrams in the order they ran, the sequence flows
    followed (to draw on the canvas), and each service or script task's writes."""
    flows = _flow_ids(loaded.files)
    done = sorted((t for t in wf.get_tasks(state=TaskState.COMPLETED) if _own(loaded, t)),
                  key=lambda t: t.last_state_change)
    path: list[str] = []
    taken: list[str] = []
    outputs: list[dict] = []
    reached = done + [t for t in wf.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.ERROR)
                      if _own(loaded, t)]
    for task in reached:
        spec = task.task_spec
        if task.state == TaskState.COMPLETED and (not path or path[-1] != spec.bpmn_id):
            path.append(spec.bpmn_id)
        source = task.parent
        while source is not None and not source.task_spec.bpmn_id:
            source = source.parent
        flow = flows.get((source.task_spec.bpmn_id, spec.bpmn_id)) if source is not None else None
        if flow and flow not in taken:
            taken.append(flow)
        if task.state == TaskState.COMPLETED and (isinstance(spec, ServiceTask) or getattr(spec, "script", None)):
            base = task.parent.data if task.parent is not None else {}
            writes = {k: v for k, v in task.data.items() if k not in base or base[k] != v}
            outputs.append({"element": spec.bpmn_id, "name": spec.bpmn_name,
                            "operator": getattr(spec, "operation_name", None), "values": plain(writes)})
    return path, taken, outputs


def _flow_ids(files: dict[str, str]) -> dict[tuple[str, str], str]:
    """(source id, target id) -> sequence flow id, over the bundle's diagrams."""
    found: dict[tuple[str, str], str] = {}
    for name in sorted(files):
        if name.endswith(".bpmn"):
            for flow in bundles.parse_xml(name, files[name]).iter(f"{{{_BPMN_NS}}}sequenceFlow"):
                source, target, flow_id = flow.get("sourceRef"), flow.get("targetRef"), flow.get("id")
                if source and target and flow_id:
                    found.setdefault((source, target), flow_id)
    return found
