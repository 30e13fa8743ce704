"""Writes the small test diagrams of this folder (run once by hand; the output is committed).

Process ``svc_demo`` in three versions, with lanes, a start form, a service task with a
threshold parameter and user tasks:

* ``v1``: start -> deadline (working_days_deadline, days=2) -> review (Quality) -> end
* ``v2``: as v1, days=3, and a new user task ``approve`` (Manager) after ``review``
* ``v3_unsafe``: v2 without ``review`` (instances waiting there cannot move)
* ``v0_broken``: v1 with an invalid ``days`` parameter (instances fail at ``deadline``)

and ``timer_demo`` (no forms, no layout): a review with a non-interrupting 24 h boundary
timer that leads to a reminder task; ``timer_v2`` adds an approval after the review.
"""
from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" \
xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" \
xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" \
id="Definitions_svc_demo" targetNamespace="http://bpmn.io/schema/bpmn">
"""


def user_task(tid: str, name: str, form: str) -> str:
    return f"""    <bpmn:userTask id="{tid}" name="{name}">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="{form}" />
          <spiffworkflow:property name="dueDataKey" value="review_by" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
    </bpmn:userTask>
"""


def diagram(tasks: list[str], days: int | str) -> str:
    """``tasks``: the user tasks in order among review / approve."""
    lanes = {"cs": ("Customer service", ["start", "deadline"]),
             "quality": ("Quality", ["review"] if "review" in tasks else []),
             "manager": ("Manager", (["approve"] if "approve" in tasks else []) + ["end"])}
    chain = ["start", "deadline", *tasks, "end"]
    body = ["""  <bpmn:collaboration id="Collab_svc_demo">
    <bpmn:participant id="Participant_svc_demo" name="Service demo" processRef="svc_demo" />
  </bpmn:collaboration>
  <bpmn:process id="svc_demo" name="Service demo" isExecutable="true">
    <bpmn:laneSet id="LaneSet_1">
"""]
    for lid, (lname, members) in lanes.items():
        body.append(f'      <bpmn:lane id="Lane_{lid}" name="{lname}">\n')
        body.extend(f"        <bpmn:flowNodeRef>{m}</bpmn:flowNodeRef>\n" for m in members)
        body.append("      </bpmn:lane>\n")
    body.append("    </bpmn:laneSet>\n")
    body.append("""    <bpmn:startEvent id="start" name="Register">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="start.schema.json" />
          <spiffworkflow:property name="businessKeyDataKey" value="ref" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
    </bpmn:startEvent>
""")
    body.append(f"""    <bpmn:serviceTask id="deadline" name="Compute review deadline">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="working_days_deadline">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="days" type="int" value="{days}" />
            <spiffworkflow:parameter id="output_key" type="str" value="'review_by'" />
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
""")
    if "review" in tasks:
        body.append(user_task("review", "Review complaint", "review.schema.json"))
    if "approve" in tasks:
        body.append(user_task("approve", "Approve outcome", "approve.schema.json"))
    body.append('    <bpmn:endEvent id="end" name="Done" />\n')
    for a, b in zip(chain, chain[1:], strict=False):
        body.append(f'    <bpmn:sequenceFlow id="Flow_{a}_{b}" sourceRef="{a}" targetRef="{b}" />\n')
    body.append("  </bpmn:process>\n")
    # Diagram interchange, so the version can be shown with bpmn-js.
    x = {n: 160 + i * 160 for i, n in enumerate(chain)}
    lane_y = {"cs": 60, "quality": 180, "manager": 300}
    where = {m: lid for lid, (_n, ms) in lanes.items() for m in ms}
    di = ['  <bpmndi:BPMNDiagram id="Diagram_svc_demo">\n',
          '    <bpmndi:BPMNPlane id="Plane_svc_demo" bpmnElement="Collab_svc_demo">\n',
          '      <bpmndi:BPMNShape id="Participant_svc_demo_di" bpmnElement="Participant_svc_demo" '
          'isHorizontal="true">'
          f'<dc:Bounds x="60" y="60" width="{x["end"] + 100}" height="360" /></bpmndi:BPMNShape>\n']
    for lid in lanes:
        di.append(f'      <bpmndi:BPMNShape id="Lane_{lid}_di" bpmnElement="Lane_{lid}" isHorizontal="true">'
                  f'<dc:Bounds x="90" y="{lane_y[lid]}" width="{x["end"] + 70}" height="120" /></bpmndi:BPMNShape>\n')
    box = {}
    for n in chain:
        event = n in ("start", "end")
        w, h = (36, 36) if event else (100, 80)
        cy = lane_y[where[n]] + 60
        box[n] = (x[n], cy - h // 2, w, h)
        di.append(f'      <bpmndi:BPMNShape id="{n}_di" bpmnElement="{n}"><dc:Bounds x="{x[n]}" y="{cy - h // 2}" '
                  f'width="{w}" height="{h}" /></bpmndi:BPMNShape>\n')
    for a, b in zip(chain, chain[1:], strict=False):
        ax, ay, aw, ah = box[a]
        bx, by, bw, bh = box[b]
        di.append(f'      <bpmndi:BPMNEdge id="Flow_{a}_{b}_di" bpmnElement="Flow_{a}_{b}">'
                  f'<di:waypoint x="{ax + aw}" y="{ay + ah // 2}" /><di:waypoint x="{bx}" y="{by + bh // 2}" />'
                  f'</bpmndi:BPMNEdge>\n')
    di.append("    </bpmndi:BPMNPlane>\n  </bpmndi:BPMNDiagram>\n")
    return HEAD + "".join(body) + "".join(di) + "</bpmn:definitions>\n"


START = {"type": "object", "title": "Register", "required": ["ref", "customer_name"],
         "properties": {"ref": {"type": "string", "title": "Reference", "minLength": 1, "maxLength": 40},
                        "customer_name": {"type": "string", "title": "Customer", "minLength": 1},
                        "amount": {"type": "integer", "title": "Amount", "minimum": 0}}}
REVIEW = {"type": "object", "title": "Review", "required": ["valid"],
          "properties": {"valid": {"type": "boolean", "title": "Valid complaint"},
                         "comment": {"type": "string", "title": "Comment"}}}
APPROVE = {"type": "object", "title": "Approve", "required": ["approved"],
           "properties": {"approved": {"type": "boolean", "title": "Approved"}}}


def write(folder: str, tasks: list[str], days: int | str, forms: dict[str, dict]) -> None:
    out = HERE / folder
    out.mkdir(exist_ok=True)
    (out / "svc_demo.bpmn").write_text(diagram(tasks, days), encoding="utf-8")
    for name, schema in forms.items():
        (out / name).write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")


TIMER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" \
xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Definitions_timer_demo" \
targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="timer_demo" name="Timer demo" isExecutable="true">
    <bpmn:laneSet id="LaneSet_t">
      <bpmn:lane id="Lane_t_quality" name="Quality">
        <bpmn:flowNodeRef>t_start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>t_review</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="Lane_t_manager" name="Manager">
        <bpmn:flowNodeRef>t_remind</bpmn:flowNodeRef>%(approve_ref)s
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="t_start" />
    <bpmn:userTask id="t_review" name="Review" />
    <bpmn:boundaryEvent id="t_overdue" name="Overdue" cancelActivity="false" attachedToRef="t_review">
      <bpmn:timerEventDefinition id="TimerDef_1"><bpmn:timeDuration>"PT24H"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:userTask id="t_remind" name="Chase the review" />
    <bpmn:endEvent id="t_end_remind" />
%(approve)s    <bpmn:endEvent id="t_end" />
    <bpmn:sequenceFlow id="t_f1" sourceRef="t_start" targetRef="t_review" />
    <bpmn:sequenceFlow id="t_f2" sourceRef="t_review" targetRef="%(after_review)s" />
    <bpmn:sequenceFlow id="t_f3" sourceRef="t_overdue" targetRef="t_remind" />
    <bpmn:sequenceFlow id="t_f4" sourceRef="t_remind" targetRef="t_end_remind" />
%(approve_flow)s  </bpmn:process>
</bpmn:definitions>
"""  # noqa: E501  (a diagram template: its lines are kept whole)


def timer_diagram(with_approve: bool) -> str:
    return TIMER % {
        "approve_ref": "\n        <bpmn:flowNodeRef>t_approve</bpmn:flowNodeRef>" if with_approve else "",
        "approve": '    <bpmn:userTask id="t_approve" name="Approve" />\n' if with_approve else "",
        "after_review": "t_approve" if with_approve else "t_end",
        "approve_flow": '    <bpmn:sequenceFlow id="t_f5" sourceRef="t_approve" targetRef="t_end" />\n'
        if with_approve else "",
    }


if __name__ == "__main__":
    write("v0_broken", ["review"], "'soon'", {"start.schema.json": START, "review.schema.json": REVIEW})
    for folder, with_approve in (("timer_v1", False), ("timer_v2", True)):
        (HERE / folder).mkdir(exist_ok=True)
        (HERE / folder / "timer_demo.bpmn").write_text(timer_diagram(with_approve), encoding="utf-8")
    write("v1", ["review"], 2, {"start.schema.json": START, "review.schema.json": REVIEW})
    review_v2 = json.loads(json.dumps(REVIEW))
    review_v2["properties"]["comment"]["maxLength"] = 500
    write("v2", ["review", "approve"], 3, {"start.schema.json": START, "review.schema.json": review_v2,
                                           "approve.schema.json": APPROVE})
    write("v3_unsafe", ["approve"], 3, {"start.schema.json": START, "approve.schema.json": APPROVE})
