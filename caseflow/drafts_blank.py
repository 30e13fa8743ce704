"""The blank template a new process starts from: a pool with two lanes (roles), a start event, one
user task with its form, and an end event, laid out for bpmn.io / Camunda Modeler.

It deploys as it is (:func:`caseflow.drafts.create_blank` starts a draft from it), so a process
owner begins from something that checks, tries and deploys, then grows it in the modeler.
"""
from __future__ import annotations

import json
import re
from xml.sax.saxutils import quoteattr

__all__ = ["KEY_PATTERN", "key_problem", "blank_files"]

#: A process key: the id of the BPMN process (an XML NCName without dots or colons).
KEY_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,99}$")
_LANES = ("customer_service", "quality")

_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" \
xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" \
xmlns:di="http://www.omg.org/spec/DD/20100524/DI" \
xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="definitions_{key}" \
targetNamespace="http://bpmn.io/schema/bpmn" exporter="Caseflow" exporterVersion="1">
  <bpmn:collaboration id="collaboration_{key}">
    <bpmn:participant id="participant_{key}" name={name} processRef="{key}" />
  </bpmn:collaboration>
  <bpmn:process id="{key}" name={name} isExecutable="true">
    <bpmn:laneSet id="laneset_{key}">
      <bpmn:lane id="lane_{lane1}" name="{lane1}">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>first_task</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="lane_{lane2}" name="{lane2}">
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" name="Received">
      <bpmn:outgoing>flow_start</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:userTask id="first_task" name="First task">
      <bpmn:documentation>Describe what the person doing this task does.</bpmn:documentation>
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="{form}" />
          <spiffworkflow:property name="nameZh" value="第一个任务" />
          <spiffworkflow:property name="documentationZh" value="说明办理此任务的人要做什么。" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>flow_start</bpmn:incoming>
      <bpmn:outgoing>flow_done</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end" name="Done">
      <bpmn:incoming>flow_done</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="flow_start" sourceRef="start" targetRef="first_task" />
    <bpmn:sequenceFlow id="flow_done" sourceRef="first_task" targetRef="end" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="diagram_{key}">
    <bpmndi:BPMNPlane id="plane_{key}" bpmnElement="collaboration_{key}">
      <bpmndi:BPMNShape id="participant_{key}_di" bpmnElement="participant_{key}" isHorizontal="true">
        <dc:Bounds x="120" y="60" width="600" height="250" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="lane_{lane1}_di" bpmnElement="lane_{lane1}" isHorizontal="true">
        <dc:Bounds x="150" y="60" width="570" height="125" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="lane_{lane2}_di" bpmnElement="lane_{lane2}" isHorizontal="true">
        <dc:Bounds x="150" y="185" width="570" height="125" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="start_di" bpmnElement="start">
        <dc:Bounds x="212" y="104" width="36" height="36" />
        <bpmndi:BPMNLabel><dc:Bounds x="207" y="147" width="46" height="14" /></bpmndi:BPMNLabel>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="first_task_di" bpmnElement="first_task">
        <dc:Bounds x="320" y="82" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="end_di" bpmnElement="end">
        <dc:Bounds x="532" y="229" width="36" height="36" />
        <bpmndi:BPMNLabel><dc:Bounds x="537" y="272" width="27" height="14" /></bpmndi:BPMNLabel>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="flow_start_di" bpmnElement="flow_start">
        <di:waypoint x="248" y="122" />
        <di:waypoint x="320" y="122" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="flow_done_di" bpmnElement="flow_done">
        <di:waypoint x="420" y="122" />
        <di:waypoint x="550" y="122" />
        <di:waypoint x="550" y="229" />
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot be a new process's key, or None."""
    if not KEY_PATTERN.match(key):
        return "a process key starts with a letter or '_' and has only letters, digits, '_' and '-' (at most 100)"
    return None


def blank_files(key: str, name: str | None = None) -> dict[str, str]:
    """The files of a blank bundle for process ``key`` (named ``name``): ``<key>.bpmn`` and the
    user task's form ``<key>_first_task.schema.json``."""
    form = f"{key}_first_task.schema.json"
    label = " ".join((name or key).split())[:300]
    bpmn = _BPMN.format(key=key, name=quoteattr(label), lane1=_LANES[0], lane2=_LANES[1], form=form)
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "First task", "x-title-zh": "第一个任务", "type": "object",
        "properties": {"notes": {"type": "string", "title": "Notes", "x-title-zh": "备注", "maxLength": 4000,
                                 "x-widget": "textarea"}},
        "additionalProperties": False,
    }
    return {f"{key}.bpmn": bpmn, form: json.dumps(schema, ensure_ascii=False, indent=2) + "\n"}
