"""Task data merges are copy-on-write: where paths meet, the merge never changes the data a
finished task recorded (SpiffWorkflow's own merge changes nested mappings shared by reference)."""
from __future__ import annotations

import copy

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from caseflow._engine import adapters, data_merge  # noqa: F401 - adapters installs the merge

DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="first" scriptFormat="python"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>notice = {"args": {"address": "1 Keji Road"}, "template": "instructions"}
parts = [{"no": "HS-9"}]</bpmn:script></bpmn:scriptTask>
    <bpmn:parallelGateway id="split"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing><bpmn:outgoing>f4</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:scriptTask id="later" scriptFormat="python"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing>
      <bpmn:script>notice = {"args": {"carrier": "SF"}, "template": "shipped"}
parts = [{"no": "HS-9", "qty": 1}, {"no": "CN-2"}]</bpmn:script></bpmn:scriptTask>
    <bpmn:scriptTask id="idle" scriptFormat="python"><bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f6</bpmn:outgoing>
      <bpmn:script>idle = True</bpmn:script></bpmn:scriptTask>
    <bpmn:parallelGateway id="join"><bpmn:incoming>f5</bpmn:incoming><bpmn:incoming>f6</bpmn:incoming>
      <bpmn:outgoing>f7</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:endEvent id="end"><bpmn:incoming>f7</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="first"/>
    <bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="split"/>
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="later"/>
    <bpmn:sequenceFlow id="f4" sourceRef="split" targetRef="idle"/>
    <bpmn:sequenceFlow id="f5" sourceRef="later" targetRef="join"/>
    <bpmn:sequenceFlow id="f6" sourceRef="idle" targetRef="join"/>
    <bpmn:sequenceFlow id="f7" sourceRef="join" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_the_merge_gives_spiffworkflows_result_without_changing_shared_values():
    shared = {"args": {"address": "1 Keji Road"}, "lines": [{"no": 1}]}
    mine = {"notice": copy.copy(shared), "n": 1}  # the shallow copy a task inherits
    update = {"notice": {"args": {"carrier": "SF"}, "lines": [{"no": 1, "qty": 2}, {"no": 2}]}, "m": [1]}
    result = data_merge.merge(mine, update)
    assert result is mine
    assert mine == {"notice": {"args": {"address": "1 Keji Road", "carrier": "SF"},
                               "lines": [{"no": 1, "qty": 2}, {"no": 2}]}, "n": 1, "m": [1]}
    assert shared == {"args": {"address": "1 Keji Road"}, "lines": [{"no": 1}]}  # untouched
    update["m"].append(2)
    assert mine["m"] == [1]  # a merged-in list is the task's own


def test_a_join_leaves_the_data_of_finished_tasks_as_they_recorded_it():
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(DIAGRAM.encode())
    wf = BpmnWorkflow(parser.get_spec("p"))
    wf.do_engine_steps()
    assert wf.is_completed()
    (first,) = [t for t in wf.get_tasks() if t.task_spec.name == "first"]
    assert first.data["notice"] == {"args": {"address": "1 Keji Road"}, "template": "instructions"}
    assert first.data["parts"] == [{"no": "HS-9"}]
    (later,) = [t for t in wf.get_tasks() if t.task_spec.name == "later"]
    assert later.data["notice"] == {"args": {"carrier": "SF"}, "template": "shipped"}
