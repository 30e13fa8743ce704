"""Two hand-written diagrams differing in a script, a condition, a timer and a property."""
from __future__ import annotations

BASE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="x">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:scriptTask id="script"><bpmn:script>SCRIPT</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="gw" default="flow_no" />
    <bpmn:userTask id="task" name="TASKNAME">
      <bpmn:extensionElements><spiffworkflow:properties>PROPS</spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:intermediateCatchEvent id="wait">
      <bpmn:timerEventDefinition id="TimerDef_RANDOM"><bpmn:timeDuration>DURATION</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="script" />
    <bpmn:sequenceFlow id="f2" sourceRef="script" targetRef="gw" />
    <bpmn:sequenceFlow id="flow_yes" sourceRef="gw" targetRef="task">
      <bpmn:conditionExpression>CONDITION</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="flow_no" sourceRef="gw" targetRef="wait" />
    <bpmn:sequenceFlow id="f3" sourceRef="task" targetRef="end" />
    <bpmn:sequenceFlow id="f4" sourceRef="wait" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""  # noqa: E501  (a diagram template: its lines are kept whole)


def _fill(script: str, name: str, props: str, duration: str, condition: str, timer_id: str) -> str:
    return (BASE.replace("SCRIPT", script).replace("TASKNAME", name).replace("PROPS", props)
            .replace("DURATION", duration).replace("CONDITION", condition).replace("RANDOM", timer_id))


def changed_pair() -> tuple[str, str]:
    old = _fill("x = 1", "Check", '<spiffworkflow:property name="formJsonSchemaFilename" value="f.json" />',
                '"PT24H"', "amount &gt; 100", "0abc")
    new = _fill("x = 2", "Check twice",
                '<spiffworkflow:property name="formJsonSchemaFilename" value="f.json" />'
                '<spiffworkflow:property name="roleFromData" value="dept" />',
                '"PT48H"', "amount &gt; 500", "1xyz")  # a modeller's new random id is no change
    return old, new
