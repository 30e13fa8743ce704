"""SpiffWorkflow adapters: task classes, the parser and the spec-less serializer.

Caseflow keeps a deployed version's spec once (see :mod:`specs`) and stores only instance
state; :func:`restore` and :func:`serialize` convert between that state and live workflows.
"""
from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.specs.event_definitions import timer as timer_events
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser, SpiffTaskParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter
from SpiffWorkflow.spiff.specs.defaults import NoneTask, ServiceTask

from caseflow import clock
from caseflow._engine import data_merge
from caseflow._engine.tree_walks import CaseWorkflow

# SpiffWorkflow's timer events read datetime.now(); make them read Caseflow's clock.
timer_events.datetime = clock.ClockDatetime  # type: ignore[misc]
# Merging task data never changes what another task holds (a finished task's data stays as it was).
data_merge.install()



class CaseflowServiceTask(ServiceTask):
    """Service task whose result dict is merged into the data when no resultVariable is set."""

    def __init__(self, *args: Any, **kwargs: Any):
        self.merge_result = not kwargs.get("result_variable")
        super().__init__(*args, **kwargs)

    def _execute(self, task: Any) -> bool:
        result = task.workflow.script_engine.call_service(
            task, operation_name=self.operation_name, operation_params=self.evaluate_params(task)
        )
        value = json.loads(result)
        if self.merge_result and isinstance(value, dict):
            task.data.update(value)
        else:
            task.data[self.result_variable] = value
        return True


class PassThroughTask(NoneTask):
    """A plain ``bpmn:task`` (no type): BPMN gives it no behaviour, so it completes at once.

    SpiffWorkflow treats it as a human task; Caseflow's humans work on user and manual tasks.
    """

    def __init__(self, wf_spec: Any, bpmn_id: str, **kwargs: Any):
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.manual = False


class CaseflowParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("task"): (SpiffTaskParser, PassThroughTask),
        full_tag("serviceTask"): (ServiceTaskParser, CaseflowServiceTask),
    }

    def _add_diagram_indexes(self, bpmn: Any) -> None:
        """Also accept lane references written without their process prefix.

        Some modelers (BonitaSoft among them) give elements ids like ``Proc.Task`` but list
        them in ``flowNodeRef`` as ``Task``; map those to the lane of their own process.
        """
        super()._add_diagram_indexes(bpmn)
        lanes = self.document_lanes.get(self._document_key(bpmn))
        if not lanes:
            return
        ids = {el.get("id") for el in bpmn.iter() if isinstance(el.tag, str) and el.get("id")}
        for process in bpmn.iter(full_tag("process")):
            prefix = f"{process.get('id')}."
            for ref in process.iter(full_tag("flowNodeRef")):
                text = (ref.text or "").strip()
                if text and text not in ids and prefix + text in ids:
                    lanes.setdefault(prefix + text, ref.getparent().get("name"))


class _SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Serializes instance state only; the spec lives once per deployed version.

    Cases run as :class:`tree_walks.CaseWorkflow`, stored under SpiffWorkflow's own type name.
    """

    def __init__(self, target_class: type, registry: Any, typename: str | None = None):
        super().__init__(target_class, registry, typename or BpmnWorkflow.__name__)

    def to_dict(self, workflow: BpmnWorkflow) -> dict:
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict) -> BpmnWorkflow:
        spec, subprocess_specs = dct.pop("spec"), dct.pop("subprocess_specs")
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[CaseflowServiceTask] = ServiceTaskConverter
    config[PassThroughTask] = config[NoneTask]
    config[BpmnWorkflow] = _SpeclessWorkflowConverter
    config[CaseWorkflow] = _SpeclessWorkflowConverter  # registered last: the stored type name restores a CaseWorkflow
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


SERIALIZER = _make_serializer()
SERIALIZER_VERSION = SERIALIZER.VERSION


def restore(state: str | dict, spec: Any, subprocess_specs: dict, script_engine: Any) -> BpmnWorkflow:
    """A live workflow from stored state (JSON, or its parsed dict, which is used up) and the version's specs."""
    dct = json.loads(state) if isinstance(state, str) else state
    version = dct.pop(SERIALIZER.VERSION_KEY, SERIALIZER_VERSION)
    if version != SERIALIZER_VERSION:
        dct[SERIALIZER.VERSION_KEY] = version
        SERIALIZER.migrate(dct)
    dct["spec"] = spec
    dct["subprocess_specs"] = subprocess_specs
    wf = SERIALIZER.from_dict(dct)
    wf.script_engine = script_engine
    reconnect_triggered(wf)
    return wf


def reconnect_triggered(wf: BpmnWorkflow) -> None:
    """Connect the event subprocesses this case has triggered, as SpiffWorkflow did when it triggered them.

    An event subprocess whose start event waits for a signal, message or other event is left
    unconnected by the parser; SpiffWorkflow connects it to its process's start and end
    (``BpmnStartTask.trigger_wf``) only when the event first comes, in the spec object itself.
    Caseflow stores no spec with a case, so a case read from the database in another process
    (after a restart, or by the CLI) would meet its started event subprocess unconnected, and
    SpiffWorkflow fails it ("No input task connected"). This puts back exactly the connections
    the case's own history made: those of the trigger specs it has tasks of.
    """
    for workflow in (wf, *wf.subprocesses.values()):
        start = workflow.spec.start
        names = set(getattr(start, "trigger_specs", ()))
        if not names:
            continue
        for name in names & {task.task_spec.name for task in workflow.tasks.values()}:
            task_spec = workflow.spec.task_specs[name]
            if start not in task_spec.inputs:
                start.connect(task_spec)
                task_spec.connect(workflow.spec.end)


def serialize(wf: BpmnWorkflow) -> str:
    """The instance state of ``wf`` as JSON (without its spec)."""
    return SERIALIZER.serialize_json(wf)
