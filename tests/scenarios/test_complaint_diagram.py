"""Static checks of the complaint bundle: what a process owner opening it in a modeler relies on.

Complete diagram interchange (every node, lane, boundary event and flow drawn, nothing
overlapping), lanes named by role keys, names and documentation, guarded deadline timers,
thresholds set as explicit parameters, bilingual forms.
"""
from __future__ import annotations

import json
import re

import pytest
from lxml import etree
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from service_tasks import registry

from complaint_helpers import COMPLAINT_BUNDLE, REPAIR_BUNDLE

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC", "di": "http://www.omg.org/spec/DD/20100524/DI",
      "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}
FLOW_NODES = ("startEvent", "endEvent", "boundaryEvent", "exclusiveGateway", "userTask", "serviceTask",
              "scriptTask", "callActivity", "subProcess", "intermediateThrowEvent", "receiveTask")
ACTIVITIES = ("userTask", "serviceTask", "scriptTask", "callActivity", "subProcess", "receiveTask")
#: Expanded subprocesses: the handling block and the deadline watches (non-interrupting event subprocesses).
CONTAINERS = ("handling", "watch_react", "watch_containment")
DIAGRAM = COMPLAINT_BUNDLE / "complaint.bpmn"


def local(el) -> str:
    return etree.QName(el).localname


@pytest.fixture(scope="module")
def doc():
    return etree.parse(str(DIAGRAM)).getroot()


@pytest.fixture(scope="module")
def nodes(doc):
    process = doc.find("bpmn:process", NS)
    return {el.get("id"): el for el in process.iter() if isinstance(el.tag, str) and local(el) in FLOW_NODES}


@pytest.fixture(scope="module")
def flows(doc):
    return {el.get("id"): el for el in doc.iterfind(".//bpmn:sequenceFlow", NS)}


@pytest.fixture(scope="module")
def bounds(doc):
    out = {}
    for shape in doc.iterfind(".//bpmndi:BPMNShape", NS):
        b = shape.find("dc:Bounds", NS)
        out[shape.get("bpmnElement")] = tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))
    return out


@pytest.fixture(scope="module")
def waypoints(doc):
    return {e.get("bpmnElement"): [(float(w.get("x")), float(w.get("y"))) for w in e.iterfind("di:waypoint", NS)]
            for e in doc.iterfind(".//bpmndi:BPMNEdge", NS)}


def props(el) -> dict:
    return {p.get("name"): p.get("value") for p in el.iterfind("bpmn:extensionElements/spiffworkflow:properties/"
                                                               "spiffworkflow:property", NS)}


def test_parses_with_the_xsd_validator():
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_files([str(DIAGRAM), str(REPAIR_BUNDLE / "repair.bpmn"),
                           str(REPAIR_BUNDLE.parent / "returned_goods" / "returned_goods.bpmn")])
    spec = parser.get_spec("complaint")
    assert spec.name == "complaint"
    assert set(parser.get_subprocess_specs("complaint")) == {"handling", "repair", "returned_goods",
                                                             *CONTAINERS[1:]}


def test_collaboration_with_one_participant_and_role_lanes(doc, nodes):
    process = doc.find("bpmn:process", NS)
    assert (process.get("id"), process.get("isExecutable")) == ("complaint", "true")
    participants = doc.findall("bpmn:collaboration/bpmn:participant", NS)
    assert [p.get("processRef") for p in participants] == ["complaint"]
    lanes = {lane.get("name"): [r.text for r in lane.iterfind("bpmn:flowNodeRef", NS)]
             for lane in process.iterfind("bpmn:laneSet/bpmn:lane", NS)}
    assert set(lanes) == {"customer_service", "quality", "manager", "general_manager", "customer"}
    referenced = [ref for refs in lanes.values() for ref in refs]
    assert len(referenced) == len(set(referenced)) and set(referenced) <= set(nodes)
    # Expanded subprocesses span several lanes and are in none, so their tasks keep their own lanes.
    assert set(nodes) - set(referenced) == set(CONTAINERS)


def test_every_element_is_drawn(doc, nodes, flows, bounds, waypoints):
    for lane in doc.iterfind(".//bpmn:lane", NS):
        assert lane.get("id") in bounds
    assert "participant_complaint" in bounds
    assert set(nodes) <= set(bounds)
    assert set(flows) <= set(waypoints)
    assert {a.get("id") for a in doc.iterfind(".//bpmn:association", NS)} <= set(waypoints)
    for container in CONTAINERS:
        expanded = doc.find(f".//bpmndi:BPMNShape[@bpmnElement='{container}']", NS)
        assert expanded.get("isExpanded") == "true", container


def _inside(inner, outer) -> bool:
    return (inner[0] >= outer[0] and inner[1] >= outer[1] and inner[0] + inner[2] <= outer[0] + outer[2]
            and inner[1] + inner[3] <= outer[1] + outer[3])


def _overlap(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def test_layout_is_clean(doc, nodes, flows, bounds, waypoints):
    attached = {i: el.get("attachedToRef") for i, el in nodes.items() if local(el) == "boundaryEvent"}
    ids = sorted(set(nodes) - set(CONTAINERS))
    for container in CONTAINERS:
        box = bounds[container]
        children = {el.get("id") for el in nodes[container].iter() if el.get("id") in nodes} - {container}
        for a in ids:
            if a in children:
                assert _inside(bounds[a], box), (a, container)
            elif attached.get(a) != container:
                assert not _overlap(bounds[a], box), (a, container)
        for other in CONTAINERS:
            assert other == container or not _overlap(bounds[other], box), (container, other)
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            if attached.get(a) == b or attached.get(b) == a:
                continue
            assert not _overlap(bounds[a], bounds[b]), (a, b)
    # lanes contain their nodes
    for lane in doc.iterfind(".//bpmn:lane", NS):
        top, bottom = bounds[lane.get("id")][1], bounds[lane.get("id")][1] + bounds[lane.get("id")][3]
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            x, y, w, h = bounds[ref.text]
            assert top <= y + h / 2 <= bottom, ref.text
    # orthogonal edges starting and ending on their shapes
    for fid, flow in flows.items():
        pts = waypoints[fid]
        assert len(pts) >= 2
        for (x1, y1), (x2, y2) in zip(pts, pts[1:], strict=False):
            assert x1 == x2 or y1 == y2, fid
        for (px, py), ref in ((pts[0], flow.get("sourceRef")), (pts[-1], flow.get("targetRef"))):
            x, y, w, h = bounds[ref]
            assert x - 1 <= px <= x + w + 1 and y - 1 <= py <= y + h + 1, (fid, ref)
    # boundary events sit on their host's border
    for event, host in attached.items():
        ex, ey, ew, eh = bounds[event]
        hx, hy, hw, hh = bounds[host]
        cx, cy = ex + ew / 2, ey + eh / 2
        on_border = (abs(cy - hy - hh) < 1 or abs(cy - hy) < 1) and hx <= cx <= hx + hw or \
                    (abs(cx - hx - hw) < 1 or abs(cx - hx) < 1) and hy <= cy <= hy + hh
        assert on_border, event


def test_names_documentation_and_conditions(nodes, flows):
    for nid, el in nodes.items():
        assert (el.get("name") or "").strip(), f"{nid} has no name"
        if local(el) in ACTIVITIES:
            docs = el.find("bpmn:documentation", NS)
            assert docs is not None and len(docs.text) > 30, f"{nid} has no documentation"
    for fid, flow in flows.items():
        if flow.find("bpmn:conditionExpression", NS) is not None:
            assert flow.get("name"), f"conditioned flow {fid} has no name"
    for gid, gw in nodes.items():
        if local(gw) == "exclusiveGateway":
            outgoing = [f for f in flows.values() if f.get("sourceRef") == gid]
            if len(outgoing) > 1:  # a split: every branch has a condition (no silent default)
                assert all(f.find("bpmn:conditionExpression", NS) is not None for f in outgoing), gid


def test_deadline_timers_are_non_interrupting_and_guarded(nodes):
    timers = {i: el for i, el in nodes.items() if local(el) == "boundaryEvent"}
    assert len(timers) == 7
    expressions = {}
    for tid, el in timers.items():
        assert el.get("cancelActivity") == "false", tid
        expr = el.find("bpmn:timerEventDefinition/bpmn:timeDate", NS).text
        expressions[tid] = expr
        for key in ("containment_by", "close_by"):
            if key in expr:  # optional deadlines fall back to a far-future date
                assert "9999-01-01" in expr, tid
    assert expressions["timer_react_manager"].startswith("react_by")
    # The general-manager levels read deadlines computed with the grace parameters (gm_*_grace_h):
    # no number of hours is written into a timer.
    assert expressions["timer_react_gm"] == "react_gm_by"
    assert expressions["timer_containment_gm"].startswith("containment_gm_by")
    assert expressions["timer_close_gm"].startswith("close_gm_by")
    assert not [t for t, e in expressions.items() if "timedelta" in e]
    assert "special_major_by" in expressions["timer_special_major"]
    hosts = {el.get("attachedToRef") for el in timers.values()}
    # T-01 and T-02 are watched from receipt / grading whatever task the case is in (receive tasks of
    # the watches); T-03 and SEV-R-03 over the whole handling.
    assert hosts == {"wait_reaction", "wait_containment", "handling"}


def _operator_params(el) -> dict:
    op = el.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS)
    return op.get("id"), {p.get("id"): p.get("value") for p in op.iterfind("spiffworkflow:parameters/"
                                                                            "spiffworkflow:parameter", NS)}


def test_service_tasks_name_registered_operators_with_explicit_thresholds(nodes):
    registered = set(registry.names())
    ops = {}
    for nid, el in nodes.items():
        if local(el) == "serviceTask":
            name, params = _operator_params(el)
            assert name in registered, nid
            known = {p.name for p in registry.get(name).params}
            assert set(params) <= known, nid
            ops.setdefault(name, params)
    assert ops["grade_complaint"]["q_major_functional"] == "15"
    assert {"q_major_functional", "q_major_cosmetic", "q_minor_functional", "q_minor_cosmetic",
            "q_low_defect_rate", "kpi_weights", "r_claim_amount", "r_complainants",
            "r_inclusive"} <= set(ops["grade_complaint"])
    assert {"s_react_wd", "s_serious_containment_h", "s_serious_close_days", "s_general_close_days",
            "r_unresolved_months"} <= set(ops["compute_deadlines"])
    assert "'transport': {'dept': 'logistics'" in ops["route_complaint"]["table"]
    assert {"issue_complaint_number", "check_complaint_intake", "summarize_disposition", "escalate"} <= set(ops)


def test_eight_d_tasks_take_their_role_from_the_responsible_department(nodes):
    for nid in ("d1_describe", "d2_contain", "d3_root_cause", "d4_actions", "resolution_plan",
                "draft_explanation", "follow_up", "capa_rework"):
        assert props(nodes[nid])["roleFromData"] == "responsible_dept", nid
    assert props(nodes["confirm_grade"])["roleFromData"] == "confirm_role"
    assert props(nodes["confirm_grade"])["dueDataKey"] == "react_by"
    assert props(nodes["d2_contain"])["dueDataKey"] == "containment_by"
    assert nodes["call_repair"].get("calledElement") == "repair"


def _forms(nodes) -> dict[str, dict]:
    names = {props(el).get("formJsonSchemaFilename") for el in nodes.values()} - {None}
    return {n: json.loads((COMPLAINT_BUNDLE / n).read_text(encoding="utf-8")) for n in sorted(names)}


def test_forms_are_bilingual_draft_2020_12_schemas(nodes):
    forms = _forms(nodes)
    assert len(forms) == 24  # with the 2D/3D review (F09 审核)
    on_disk = {p.name for p in COMPLAINT_BUNDLE.glob("*.schema.json")}
    assert on_disk == set(forms)  # no orphan form files

    def check(node, where):
        assert node.get("title") and node.get("x-title-zh"), where
        assert re.search(r"[\u4e00-\u9fff]", node["x-title-zh"]), where
        if "enum" in node:
            titles = node["x-enum-titles"]
            assert {str(v) for v in node["enum"]} == set(titles), where
            assert all(t.get("en") and t.get("zh") for t in titles.values()), where
        for key, sub in (node.get("properties") or {}).items():
            check(sub, f"{where}.{key}")
        if isinstance(node.get("items"), dict) and node["items"].get("type") == "object":
            check(node["items"], f"{where}[]")

    for name, schema in forms.items():
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", name
        assert set(schema["required"]) <= set(schema["properties"]), name
        check(schema, name)


def test_start_form_holds_the_registration_contract(nodes):
    start = props(nodes["start_register"])
    assert start["businessKeyDataKey"] == "complaint_no"
    schema = json.loads((COMPLAINT_BUNDLE / start["formJsonSchemaFilename"]).read_text(encoding="utf-8"))
    p = schema["properties"]
    assert {"channel", "customer_name", "customer_code", "customer_contact", "product_no", "product_model",
            "order_no", "ship_date", "ship_qty", "found_stage", "description", "customer_request",
            "complaint_type", "functional_defect_qty", "cosmetic_defect_qty", "lot_size", "defect_rate",
            "complainant_count", "claim_amount", "customer_requires_formal_report", "caused_line_stop",
            "repeat_issue", "litigation", "media_exposure", "received_at", "evidence",
            "customer_address", "product_name", "product_barcode", "customer_email"} == set(p)
    assert p["evidence"]["x-widget"] == "file"  # F22 supporting evidence, stored as an attachment
    assert p["channel"]["enum"] == ["phone", "email", "letter", "fax", "visit", "onsite", "web", "other"]
    assert p["complaint_type"]["enum"] == ["quality", "transport", "packaging", "labeling", "quantity",
                                           "service", "other"]
    assert p["found_stage"]["enum"] == ["incoming", "in_process", "ageing", "after_sales"]
    assert (p["ship_date"]["format"], p["received_at"]["format"]) == ("date", "date-time")
    assert p["description"]["x-widget"] == "textarea" and p["defect_rate"]["maximum"] == 1
    assert p["defect_rate"]["x-unit"] == "percent"  # entered as a percentage, stored as a fraction


def test_override_and_rejections_require_a_reason():
    from jsonschema import Draft202012Validator

    def errors(form, data):
        schema = json.loads((COMPLAINT_BUNDLE / form).read_text(encoding="utf-8"))
        return {e.message for e in Draft202012Validator(schema).iter_errors(data)}

    assert "'override_reason' is a required property" in errors(
        "complaint_confirm.schema.json", {"complaint_valid": True, "override_grade": True})
    assert not errors("complaint_confirm.schema.json", {"complaint_valid": True, "override_grade": False})
    assert "'manager_comment' is a required property" in errors(
        "complaint_manager_plan_approval.schema.json", {"manager_decision": "reject"})
    assert errors("complaint_resolution_plan.schema.json", {
        "plan_summary": "x", "delivery_amount": 1, "disposition_lines": [{"kind": "gift", "quantity": 1,
                                                                          "amount": 1}]})
