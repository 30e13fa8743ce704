"""The workflow class skips SpiffWorkflow's task-tree walks only where their answer is known: the walk's answer."""
from __future__ import annotations

import json

import pytest
from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.task import TaskState

from caseflow._engine import adapters, scripting, tree_walks
from caseflow._engine.adapters import CaseflowParser
from caseflow._engine.tree_walks import CaseWorkflow, known_matches

_NS = 'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'

LOOP = f"""<bpmn:definitions {_NS} id="d" targetNamespace="t"><bpmn:process id="loop" isExecutable="true">
  <bpmn:startEvent id="s"/><bpmn:userTask id="step"/><bpmn:exclusiveGateway id="more" default="again"/>
  <bpmn:endEvent id="e"/>
  <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="step"/>
  <bpmn:sequenceFlow id="f2" sourceRef="step" targetRef="more"/>
  <bpmn:sequenceFlow id="done" sourceRef="more" targetRef="e">
    <bpmn:conditionExpression>done</bpmn:conditionExpression></bpmn:sequenceFlow>
  <bpmn:sequenceFlow id="again" sourceRef="more" targetRef="step"/>
</bpmn:process></bpmn:definitions>"""

PARALLEL = f"""<bpmn:definitions {_NS} id="d" targetNamespace="t"><bpmn:process id="par" isExecutable="true">
  <bpmn:startEvent id="s"/><bpmn:parallelGateway id="split"/><bpmn:userTask id="a"/><bpmn:userTask id="b"/>
  <bpmn:parallelGateway id="join"/><bpmn:endEvent id="e"/>
  <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="split"/>
  <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="a"/>
  <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="b"/>
  <bpmn:sequenceFlow id="f4" sourceRef="a" targetRef="join"/>
  <bpmn:sequenceFlow id="f5" sourceRef="b" targetRef="join"/>
  <bpmn:sequenceFlow id="f6" sourceRef="join" targetRef="e"/>
</bpmn:process></bpmn:definitions>"""

SUBPROCESS = f"""<bpmn:definitions {_NS} id="d" targetNamespace="t"><bpmn:process id="outer" isExecutable="true">
  <bpmn:startEvent id="s"/>
  <bpmn:subProcess id="sub"><bpmn:startEvent id="ss"/><bpmn:userTask id="inner"/><bpmn:endEvent id="se"/>
    <bpmn:sequenceFlow id="g1" sourceRef="ss" targetRef="inner"/>
  <bpmn:sequenceFlow id="g2" sourceRef="inner" targetRef="se"/>
  </bpmn:subProcess><bpmn:endEvent id="e"/>
  <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="sub"/>
  <bpmn:sequenceFlow id="f2" sourceRef="sub" targetRef="e"/>
</bpmn:process></bpmn:definitions>"""


def _workflow(xml: str, process: str) -> CaseWorkflow:
    parser = CaseflowParser()
    parser.add_bpmn_xml(etree.fromstring(xml.encode()), filename=f"{process}.bpmn")
    wf = CaseWorkflow(parser.get_spec(process), parser.get_subprocess_specs(process),
                      script_engine=scripting.SCRIPT_ENGINE)
    wf.do_engine_steps()
    return wf


def _walked(wf: BpmnWorkflow, state: int) -> list:
    return BpmnWorkflow.get_tasks(wf, state=state)  # the library's own walk


def _complete(wf: CaseWorkflow, **data: object) -> None:
    [task] = [t for t in wf.tasks.values() if t.state == TaskState.READY and t.task_spec.manual]
    task.data.update(data)
    task.run()
    wf.do_engine_steps()


def test_in_a_long_loop_the_one_ready_task_is_known_and_is_the_walks():
    wf = _workflow(LOOP, "loop")
    for _ in range(60):
        _complete(wf, done=False)
    for state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED, TaskState.READY | TaskState.WAITING):
        known = known_matches(wf, state)
        assert known is not None  # answered without the walk
        assert known == _walked(wf, state)
    assert [t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.READY)] == ["step"]
    _complete(wf, done=True)
    assert wf.is_completed() and known_matches(wf, TaskState.READY) == [] == _walked(wf, TaskState.READY)


def test_two_ready_tasks_are_left_to_the_walk_and_come_in_its_order():
    wf = _workflow(PARALLEL, "par")
    assert known_matches(wf, TaskState.READY) is None
    assert [t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.READY)] == \
        [t.task_spec.bpmn_id for t in _walked(wf, TaskState.READY)] == ["a", "b"]
    [a] = [t for t in wf.tasks.values() if t.task_spec.bpmn_id == "a" and t.state == TaskState.READY]
    a.run()
    wf.do_engine_steps()  # the join waits for b: a waiting task, which the library updates
    assert any(t.state == TaskState.WAITING for t in wf.tasks.values())
    _complete(wf)
    assert wf.is_completed()


def test_predicted_states_sub_processes_and_deep_trees_are_left_to_the_walk(monkeypatch: pytest.MonkeyPatch):
    loop = _workflow(LOOP, "loop")
    assert known_matches(loop, TaskState.LIKELY) is None
    assert known_matches(loop, TaskState.COMPLETED) is None  # finished states: another walk rule
    sub = _workflow(SUBPROCESS, "outer")
    assert sub.subprocesses and known_matches(sub, TaskState.READY) is None
    assert [t.task_spec.bpmn_id for t in sub.get_tasks(state=TaskState.READY)] == ["inner"]
    monkeypatch.setattr(tree_walks, "WALK_DEPTH", len(loop.tasks) - 1)
    assert known_matches(loop, TaskState.READY) is None


def test_the_library_never_puts_a_reached_task_below_a_predicted_one():
    wf = _workflow(LOOP, "loop")
    predicted = next(t for t in wf.tasks.values() if t.state & TaskState.PREDICTED_MASK)
    with pytest.raises(WorkflowException, match="non-predicted child"):
        predicted._add_child(predicted.task_spec, TaskState.READY)


def test_the_check_catches_a_tree_the_walk_would_not_reach_into(monkeypatch: pytest.MonkeyPatch):
    wf = _workflow(LOOP, "loop")
    monkeypatch.setattr(tree_walks, "VERIFY", True)
    [ready] = [t for t in wf.tasks.values() if t.state == TaskState.READY]
    parent = ready.parent
    parent._state = TaskState.LIKELY  # by hand: the walk does not descend below a predicted task
    try:
        assert _walked(wf, TaskState.READY) == []
        with pytest.raises(AssertionError, match="shortcut"):
            wf.get_tasks(state=TaskState.READY)
    finally:
        parent._state = TaskState.COMPLETED


def test_the_check_catches_a_shortcut_that_differs_from_the_walk(monkeypatch: pytest.MonkeyPatch):
    wf = _workflow(LOOP, "loop")
    monkeypatch.setattr(tree_walks, "VERIFY", True)
    monkeypatch.setattr(tree_walks, "known_matches", lambda _wf, _state: [])
    with pytest.raises(AssertionError, match="shortcut"):
        wf.get_tasks(state=TaskState.READY)


def test_cases_are_stored_under_spiffworkflows_type_name_and_restored_as_case_workflows():
    wf = _workflow(LOOP, "loop")
    _complete(wf, done=False)
    state = adapters.serialize(wf)
    assert json.loads(state)["typename"] == "BpmnWorkflow"
    again = adapters.restore(state, wf.spec, wf.subprocess_specs, scripting.SCRIPT_ENGINE)
    assert type(again) is CaseWorkflow
    assert adapters.serialize(again) == state
