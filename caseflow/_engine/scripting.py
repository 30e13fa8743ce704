"""The script environment of workflows: restricted scripts and the service-task bridge.

Scripts and expressions run in :class:`RestrictedEnvironment` (see :mod:`sandbox`).
Service tasks call the operator registry with a context passed explicitly: each engine
action binds a :class:`RunContext` (its session, the time, the audit events it collects)
to the workflow's script engine for the length of the action (:func:`bound`).
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import TaskDataEnvironment
from sqlalchemy.orm import Session

from caseflow import clock, store
from caseflow._engine import sandbox
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
        """The ``context`` argument of an operator: the time and, with a session, numbering."""
        session = self.session
        return {
            "now": clock.now(),
            "next_number": (lambda name, year: store.next_number(session, name, year)) if session else None,
        }


class RestrictedEnvironment(TaskDataEnvironment):
    """TaskDataEnvironment that checks code first and runs it with safe builtins only."""

    def __init__(self) -> None:
        super().__init__({"__builtins__": sandbox.SAFE_BUILTINS, **sandbox.HELPERS})

    def evaluate(self, expression: str, context: dict, external_context: dict | None = None) -> Any:
        code = sandbox.compile_checked(expression.strip(), "eval")
        scope = dict(self.globals)
        scope.update(external_context or {})
        scope.update(context)
        scope["__builtins__"] = sandbox.SAFE_BUILTINS
        return eval(code, scope)  # noqa: S307 - checked and restricted above

    def execute(self, script: str, context: dict, external_context: dict | None = None) -> bool:
        code = sandbox.compile_checked(script, "exec")
        self.check_for_overwrite(context, external_context or {})
        context.update(external_context or {})
        context.update(self.globals)
        try:
            exec(code, context)  # noqa: S102 - checked and restricted above
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
        return True


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
