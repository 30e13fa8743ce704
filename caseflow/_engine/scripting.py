"""The script environment of workflows: restricted scripts and the service-task bridge.

Scripts and expressions run in :class:`RestrictedEnvironment` (see :mod:`sandbox`).
Service tasks call the operator registry with a context passed explicitly: each engine
action binds a :class:`RunContext` (its session, the time, the audit events it collects)
to the workflow's script engine for the length of the action (:func:`bound`).
"""
from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import TaskDataEnvironment
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.specs.mixins.script_task import ScriptTask
from sqlalchemy.orm import Session

from caseflow import clock, limits, store
from caseflow._engine import case_counts, sandbox
from caseflow._engine.values import plain
from service_tasks import registry as operators
from service_tasks.registry import OperatorError


@dataclass
class RunContext:
    """What one engine action gives the operators it runs, and what it collects from them."""

    session: Session | None
    #: (kind, task, payload) of audited operators and of the failure; None: nothing is collected
    events: list[tuple[str, str | None, dict]] | None = field(default_factory=list)

    def operator_context(self) -> dict[str, Any]:
        """The ``context`` argument of an operator: the time, the business time zone (the default of
        a ``timezone`` parameter the diagram leaves unset) and, with a session, numbering."""
        session = self.session
        return {
            "now": clock.now(),
            "timezone": clock.business_zone().key,
            "next_number": (lambda name, year: store.next_number(session, name, year)) if session else None,
            "count_cases": (lambda *args: case_counts.count_cases(session, *args)) if session else None,
        }


class RestrictedEnvironment(TaskDataEnvironment):
    """TaskDataEnvironment that compiles code with RestrictedPython and runs it within the budgets.

    Every script, condition, timer and parameter expression of a workflow comes through
    :meth:`evaluate` or :meth:`execute`. The guards and safe builtins are put in last, so
    task data can never stand in for them.
    """

    def __init__(self) -> None:
        super().__init__(sandbox.restricted_globals())

    def evaluate(self, expression: str, context: dict, external_context: dict | None = None) -> Any:
        code = sandbox.compile_checked(expression.strip(), "eval")
        scope = dict(self.globals)
        scope.update(external_context or {})
        scope.update(context)
        scope.update(sandbox.GUARDS)
        scope["__builtins__"] = sandbox.SAFE_BUILTINS
        return sandbox.run_limited(code, scope)

    def execute(self, script: str, context: dict, external_context: dict | None = None) -> bool:
        code = sandbox.compile_checked(script, "exec")
        self.check_for_overwrite(context, external_context or {})
        context.update(external_context or {})
        context.update(self.globals)
        before = dict(context)
        try:
            sandbox.run_limited(code, context)
        except sandbox.SandboxError:  # a stopped script leaves none of its half-built values behind
            context.clear()
            context.update(before)
            raise
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
        return True

    def _remove_globals_and_functions_from_context(self, context: dict, external_context: dict | None = None) -> None:
        """Take the globals, the run's budget check and the script's functions out of the task data."""
        for key in (*self.globals, *(external_context or ()), "_budget_check_"):
            context.pop(key, None)
        for key in [k for k, v in context.items() if callable(v)]:
            del context[key]


def script_sources(task_spec: Any) -> Iterator[tuple[str, str, str]]:
    """(what, source, mode) of every script and expression a task spec runs.

    Scripts (``exec``): script tasks, pre- and post-scripts. Expressions (``eval``): outgoing
    flow conditions, timer, conditional and message payload expressions, service-task
    parameters and multi-instance/loop expressions. DMN tables are checked when they run.
    """
    for attr, what in (("script", "script"), ("prescript", "pre-script"), ("postscript", "post-script")):
        source = getattr(task_spec, attr, None)
        if isinstance(source, str) and source.strip():
            yield what, source, "exec"
    for condition, target in getattr(task_spec, "cond_task_specs", None) or []:
        args = getattr(condition, "args", None)
        if args and isinstance(args[0], str):
            yield f"condition of the flow to {target!r}", args[0], "eval"
    definition = getattr(task_spec, "event_definition", None)
    expression = getattr(definition, "expression", None)
    if isinstance(expression, str) and expression.strip():
        yield f"{type(definition).__name__.replace('EventDefinition', '').lower() or 'event'} expression", \
            expression, "eval"
    for name, param in (getattr(task_spec, "operation_params", None) or {}).items():
        value = param.get("value") if isinstance(param, dict) else None
        if isinstance(value, str) and value.strip():
            yield f"parameter {name!r}", value, "eval"
    if isinstance(task_spec, LoopTask):
        for attr in ("cardinality", "condition"):
            source = getattr(task_spec, attr, None)
            if isinstance(source, str) and source.strip():
                yield f"loop {attr}", source, "eval"


def script_problems(task_spec: Any) -> list[str]:
    """What the sandbox refuses in a task spec's scripts and expressions (deploy checks these)."""
    problems = []
    for what, source, mode in script_sources(task_spec):
        if len(source) > limits.MAX_SCRIPT_CHARS:
            problems.append(f"{what}: {len(source)} characters, more than the {limits.MAX_SCRIPT_CHARS} a script "
                            "may have (put long logic in a service task)")
            continue
        try:
            sandbox.compile_checked(source.strip() if mode == "eval" else source, mode)
        except sandbox.ScriptRejected as err:
            problems.append(f"{what}: {err}")
    return problems


def definition_problems(task_spec: Any) -> list[str]:
    """What would fail every time a task spec runs, found at deploy: a script task without a script,
    and a timer whose expression is a constant that is not an ISO 8601 date-time, duration or cycle
    (SpiffWorkflow parses it only when the timer starts)."""
    problems = []
    if isinstance(task_spec, ScriptTask) and not (isinstance(task_spec.script, str) and task_spec.script.strip()):
        problems.append("script task without a script (write its Python in the script field)")
    definition = getattr(task_spec, "event_definition", None)
    expression = getattr(definition, "expression", None)
    if isinstance(definition, TimerEventDefinition) and isinstance(expression, str):
        try:
            value = ast.literal_eval(expression.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return problems  # computed from the case data: checked when it runs
        if not isinstance(value, str):
            problems.append(f"timer expression {expression.strip()!r} is not a text")
            return problems
        if isinstance(definition, CycleTimerEventDefinition):
            kind, example, parse = "cycle", "R3/PT1H", TimerEventDefinition.parse_iso_recurring_interval
        elif isinstance(definition, DurationTimerEventDefinition):
            kind, example, parse = "duration", "PT2S, P3D", TimerEventDefinition.parse_iso_duration
        else:
            kind, example, parse = "date-time", "2026-03-02T09:00:00+08:00", TimerEventDefinition.get_datetime
        try:
            parse(value)
        except Exception:  # SpiffWorkflow's parsers raise plain exceptions
            problems.append(f"timer expression {value!r} is not an ISO 8601 {kind} (e.g. {example})")
    return problems


class CaseflowScriptEngine(PythonScriptEngine):
    """Restricted scripts, and service tasks routed to the operator registry."""

    def __init__(self, context: RunContext | None = None) -> None:
        super().__init__(environment=RestrictedEnvironment())
        self.context = context or RunContext(session=None, events=None)

    def call_service(self, task: Any, operation_name: str = "", operation_params: dict | None = None,
                     **_kwargs: Any) -> str:
        # SpiffWorkflow 3.2's own call_service hides every failure behind a NameError.
        try:
            op = operators.get(operation_name)
        except KeyError:
            raise WorkflowTaskException(f"service operator {operation_name!r} is not registered", task=task) from None
        params = {name: p.get("value") for name, p in (operation_params or {}).items()}
        try:
            result = op.run(plain(task.data), params, self.context.operator_context())
            if op.audit and self.context.events is not None:
                payload = result.get("last_escalation", result) if op.audit == "escalation" else result
                self.context.events.append((op.audit, task.task_spec.bpmn_id, payload))
        except OperatorError as err:
            raise WorkflowTaskException(f"{operation_name}: {err}", task=task, exception=err) from err
        except Exception as err:  # a rule bug: keep the real message for the instance error
            raise WorkflowTaskException(f"{operation_name} failed: {type(err).__name__}: {err}",
                                        task=task, exception=err) from err
        return json.dumps(plain(result))


#: The engine of workflows at rest (no action running): scripts work, operators get no session.
SCRIPT_ENGINE = CaseflowScriptEngine()


@contextmanager
def bound(wf: BpmnWorkflow, context: RunContext) -> Iterator[RunContext]:
    """Run the block with ``wf``'s service tasks seeing ``context``; restores the idle engine after."""
    wf.script_engine = CaseflowScriptEngine(context)
    try:
        yield context
    finally:
        wf.script_engine = SCRIPT_ENGINE
