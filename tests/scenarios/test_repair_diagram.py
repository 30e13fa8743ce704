"""Static checks of the repair bundle: a modeler-readable diagram (complete diagram
interchange, lanes = roles, names, documentation) and bilingual form schemas."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from lxml import etree
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

BUNDLE = Path(__file__).resolve().parents[2] / "processes" / "repair"
BPMN_FILE = BUNDLE / "repair.bpmn"
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
ROLES = {"customer_service", "service_center", "finance", "manager", "general_manager", "customer"}
NODE_TAGS = ("startEvent", "endEvent", "boundaryEvent", "userTask", "serviceTask", "scriptTask",
             "exclusiveGateway", "parallelGateway", "callActivity", "intermediateThrowEvent")
TASK_TAGS = ("userTask", "serviceTask", "scriptTask")


@pytest.fixture(scope="module")
def doc():
    return etree.parse(str(BPMN_FILE))


@pytest.fixture(scope="module")
def process(doc):
    (proc,) = doc.xpath("//bpmn:process", namespaces=NS)
    return proc


def x(el, path):
    return el.xpath(path, namespaces=NS)


def local(el) -> str:
    return etree.QName(el).localname


def nodes(process):
    return [el for el in process if isinstance(el.tag, str) and local(el) in NODE_TAGS]


def shape_bounds(doc) -> dict[str, tuple[float, float, float, float]]:
    out = {}
    for shape in x(doc, "//bpmndi:BPMNShape"):
        (b,) = x(shape, "./dc:Bounds")
        out[shape.get("bpmnElement")] = tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))
    return out


def test_parses_with_spiffworkflow_and_the_xsd():
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_files([str(BPMN_FILE)])
    spec = parser.get_spec("repair")
    assert "review_application" in spec.task_specs


def test_process_header(doc, process):
    assert process.get("id") == "repair" and process.get("isExecutable") == "true"
    assert doc.getroot().nsmap.get("spiffworkflow") == NS["spiffworkflow"]
    (participant,) = x(doc, "//bpmn:collaboration/bpmn:participant")
    assert participant.get("processRef") == "repair"


def test_lanes_are_roles_and_hold_every_node(process):
    lanes = x(process, "./bpmn:laneSet/bpmn:lane")
    assert {lane.get("name") for lane in lanes} == ROLES
    refs = [ref.text for lane in lanes for ref in x(lane, "./bpmn:flowNodeRef")]
    assert sorted(refs) == sorted(n.get("id") for n in nodes(process))  # each node in exactly one lane


def test_every_element_has_diagram_interchange(doc, process):
    bounds = shape_bounds(doc)
    wanted = [n.get("id") for n in nodes(process)]
    wanted += [lane.get("id") for lane in x(process, "./bpmn:laneSet/bpmn:lane")]
    wanted += [p.get("id") for p in x(doc, "//bpmn:participant")]
    assert sorted(bounds) == sorted(wanted)
    edges = {e.get("bpmnElement"): e for e in x(doc, "//bpmndi:BPMNEdge")}
    flows = x(process, "./bpmn:sequenceFlow")
    assert sorted(edges) == sorted(f.get("id") for f in flows)
    for flow in flows:
        points = [(float(p.get("x")), float(p.get("y"))) for p in x(edges[flow.get("id")], "./di:waypoint")]
        assert len(points) >= 2
        for (x1, y1), (x2, y2) in zip(points, points[1:], strict=False):
            assert x1 == x2 or y1 == y2, f"{flow.get('id')}: diagonal segment"
        for end, ref in ((points[0], flow.get("sourceRef")), (points[-1], flow.get("targetRef"))):
            bx, by, bw, bh = bounds[ref]
            on_x = bx - 0.5 <= end[0] <= bx + bw + 0.5
            on_y = by - 0.5 <= end[1] <= by + bh + 0.5
            on_border = on_x and on_y and (
                end[0] in (bx, bx + bw) or end[1] in (by, by + bh))
            assert on_border, f"{flow.get('id')}: waypoint {end} is not on the border of {ref}"


def test_shapes_do_not_overlap_and_sit_in_their_lane(doc, process):
    bounds = shape_bounds(doc)
    boundary_host = {b.get("id"): b.get("attachedToRef") for b in x(process, "./bpmn:boundaryEvent")}
    ids = [n.get("id") for n in nodes(process)]

    def overlap(a, b):
        ax, ay, aw, ah = bounds[a]
        bx, by, bw, bh = bounds[b]
        return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah

    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            if boundary_host.get(a) == b or boundary_host.get(b) == a:
                continue
            assert not overlap(a, b), f"{a} overlaps {b}"
    for host_event, host in boundary_host.items():  # a boundary event sits on its host's border
        ex, ey, ew, eh = bounds[host_event]
        hx, hy, hw, hh = bounds[host]
        cx, cy = ex + ew / 2, ey + eh / 2
        assert (cy in (hy, hy + hh) and hx <= cx <= hx + hw) or (cx in (hx, hx + hw) and hy <= cy <= hy + hh)
    for lane in x(process, "./bpmn:laneSet/bpmn:lane"):
        lx, ly, lw, lh = bounds[lane.get("id")]
        for ref in x(lane, "./bpmn:flowNodeRef"):
            nx, ny, nw, nh = bounds[ref.text]
            cx, cy = nx + nw / 2, ny + nh / 2
            assert lx <= cx <= lx + lw and ly <= cy <= ly + lh, f"{ref.text} is outside lane {lane.get('name')}"


def test_names_documentation_and_conditions(process):
    for n in nodes(process):
        tag = local(n)
        if tag in TASK_TAGS or tag.endswith("Gateway"):
            assert (n.get("name") or "").strip(), f"{n.get('id')} has no name"
        if tag in TASK_TAGS:
            assert x(n, "./bpmn:documentation/text()"), f"{n.get('id')} has no documentation"
    for flow in x(process, "./bpmn:sequenceFlow"):
        if x(flow, "./bpmn:conditionExpression"):
            assert flow.get("name"), f"conditioned flow {flow.get('id')} has no name"
    for gw in x(process, "./bpmn:exclusiveGateway"):
        outgoing = x(gw, "./bpmn:outgoing/text()")
        if len(outgoing) > 1:  # a decision: every branch is named
            for fid in outgoing:
                (flow,) = x(process, f"./bpmn:sequenceFlow[@id='{fid}']")
                assert flow.get("name"), fid


def test_user_tasks_have_forms_and_due_keys(process):
    props = {}
    for n in nodes(process):
        props[n.get("id")] = {p.get("name"): p.get("value") for p in
                              x(n, "./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property")}
    for task in x(process, "./bpmn:userTask"):
        form = props[task.get("id")].get("formJsonSchemaFilename")
        assert form and (BUNDLE / form).is_file(), task.get("id")
    assert props["start_application"]["formJsonSchemaFilename"] == "repair_application.schema.json"
    assert props["review_application"]["dueDataKey"] == "review_due"
    assert props["repair_device"]["dueDataKey"] == "repair_due"
    assert props["receive_device"]["dueDataKey"] == "device_due"


def _check_labels(schema: dict, where: str) -> None:
    for key, prop in (schema.get("properties") or {}).items():
        here = f"{where}.{key}"
        assert prop.get("title") and prop.get("x-title-zh"), f"{here}: title / x-title-zh missing"
        if "enum" in prop:
            titles = prop.get("x-enum-titles") or {}
            assert set(titles) == set(prop["enum"]), f"{here}: x-enum-titles do not match enum"
            assert all(t.get("en") and t.get("zh") for t in titles.values()), here
        if prop.get("type") == "array" and isinstance(prop.get("items"), dict):
            _check_labels(prop["items"], here)


@pytest.mark.parametrize("path", sorted(BUNDLE.glob("*.schema.json")), ids=lambda p: p.name)
def test_form_schemas_are_bilingual_draft_2020_12(path):
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema.get("title") and schema.get("x-title-zh")
    assert set(schema["required"]) <= set(schema["properties"])
    _check_labels(schema, path.name)


def test_every_form_file_is_used():
    text = BPMN_FILE.read_text(encoding="utf-8")
    unused = [p.name for p in BUNDLE.glob("*.schema.json") if f'"{p.name}"' not in text]
    assert unused == []


# Keys written by the operators the diagram calls (service_tasks/intake, numbering, warranty,
# calendar_ops); `escalations` / `last_escalation` are shared with the caller and kept.
OPERATOR_OUTPUTS = {"application_complete", "application_missing", "review_due", "review_gm_due", "repair_number",
                    "device_reminder_at", "device_due", "in_warranty", "warranty_until", "chargeable",
                    "free_return_shipping", "warranty_reason", "repair_due", "fee_answer_due"}


def _script(process, task_id: str) -> str:
    (text,) = x(process, f"./bpmn:scriptTask[@id='{task_id}']/bpmn:script/text()")
    return text


def test_initialisation_clears_every_key_the_process_writes(process):
    """A repair called again by the same complaint must not inherit the earlier repair's data
    (see test_repair.test_second_repair_of_a_complaint_starts_clean); the list in the script
    has to follow the forms."""
    import ast

    tree = ast.parse(_script(process, "init_repair_case"))
    cleared = {t.id for node in ast.walk(tree) if isinstance(node, ast.Delete) for t in node.targets}
    application = set(json.loads((BUNDLE / "repair_application.schema.json").read_text())["properties"])
    written = set(OPERATOR_OUTPUTS)
    for path in BUNDLE.glob("*.schema.json"):
        written |= set(json.loads(path.read_text(encoding="utf-8"))["properties"]) - application
    for script in x(process, "./bpmn:scriptTask[@id!='init_repair_case']/bpmn:script/text()"):
        written |= {t.id for node in ast.walk(ast.parse(script)) if isinstance(node, ast.Assign)
                    for t in node.targets if isinstance(t, ast.Name)}
    assert cleared == written


def test_every_end_sets_the_outputs_for_the_caller(process):
    """Each outcome script sets repair_outcome and the outputs its path did not reach."""
    import ast

    expected = {
        "set_outcome_remote_guidance": ("remote_guidance",
                                        {"repair_number", "in_warranty", "chargeable", "repair_due"}),
        "set_outcome_abandoned": ("abandoned", {"in_warranty", "chargeable", "repair_due"}),
        "set_outcome_returned_unrepaired": ("returned_unrepaired", {"repair_due"}),
        "set_outcome_repaired": ("repaired", set()),
    }
    for task_id, (outcome, nulls) in expected.items():
        assigned = {}
        for node in ast.walk(ast.parse(_script(process, task_id))):
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    assigned[t.id] = ast.literal_eval(node.value)
        assert assigned == {"repair_outcome": outcome, **{k: None for k in nulls}}, task_id
    ends = {e.get("id") for e in x(process, "./bpmn:endEvent")}
    outcome_ends = {x(process, f"./bpmn:sequenceFlow[@sourceRef='{t}']/@targetRef")[0] for t in expected}
    assert outcome_ends == {"end_remote_guidance", "end_abandoned", "end_returned_unrepaired", "end_repaired"}
    assert ends - outcome_ends == {"end_review_escalation", "end_review_gm_escalation", "end_reminder_sent",
                                   "end_reminder_not_needed", "end_overrun_negotiated", "end_repair_escalation",
                                   "end_shipment_confirmed", "end_shipment_confirmation_closed"}
