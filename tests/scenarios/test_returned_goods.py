"""Scenario tests of the returned-goods process (processes/returned_goods, PRODUCT.md §10).

Every scenario deploys the bundle into a fresh database, starts ``returned_goods`` and plays the
people's tasks with ``engine.complete``; time moves only through the frozen clock (Monday
2026-03-02 09:00 Asia/Shanghai) and ``engine.fire_due_timers``.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from story_time import on_the_day

import engine
from caseflow import clock

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "processes" / "returned_goods"
SHANGHAI = ZoneInfo("Asia/Shanghai")
RG = re.compile(r"^RG-2026-\d{6}$")

REQUEST = {
    "customer_name": "Huaxin Trading Co.",
    "customer_contact": "Li Wei",
    "phone": "+86 25 8888 0000",
    "product_model": "NLS-HR200",
    "product_name": "Handheld scanner",
    "request_kind": "return",
    "expected_qty": 10,
    "purchase_date": "2026-02-27",
    "defect_info": "Several units do not power on.",
}
RECEIPT = {"goods_received_date": "2026-03-02", "received_qty": 10, "goods_condition": "Outer cartons intact."}
TEST = {
    "withdrawn_date": "2026-03-03", "tested_qty": 10, "defective_qty": 4,
    "defect_phenomena": [{"phenomenon": "No power", "quantity": 3}, {"phenomenon": "Scratched window", "quantity": 1}],
    "goods_test_result": "4 of 10 defective.", "tester": "Feng Min", "tested_date": "2026-03-04",
}
DISPOSITION = {"isolate_qty": 0, "rework_qty": 3, "repair_qty": 0, "scrap_qty": 1, "return_to_stock_qty": 6,
               "disposed_date": "2026-03-05"}
SHIPMENT = {"shipped_qty": 10, "shipment_date": "2026-03-06", "shipment_carrier": "SF Express",
            "shipment_tracking_no": "SF99887766"}
NOTICE = {"notice_via": "phone", "notice_date": "2026-03-06", "notice_summary": "Test result and shipment told."}


# --- helpers ----------------------------------------------------------------------------------


def ready(session, iid: int) -> dict[str, dict]:
    tasks = engine.list_tasks(session, instance_id=iid)
    by_name = {t["name"]: t for t in tasks}
    assert len(by_name) == len(tasks), f"duplicate ready tasks: {[t['name'] for t in tasks]}"
    return by_name


def do(session, iid: int, name: str, data: dict, role: str) -> dict:
    tasks = ready(session, iid)
    assert name in tasks, f"{name} is not ready; ready: {sorted(tasks)}"
    assert tasks[name]["role"] == role, f"{name} has role {tasks[name]['role']}, expected {role}"
    on_the_day(data)
    view = engine.complete(session, tasks[name]["id"], data=data, actor=engine.Actor.tool(f"{role}_user"))
    assert view["status"] != "error", view["error"]
    return view


def start(session, **overrides) -> int:
    view = engine.start(session, "returned_goods", data={**REQUEST, **overrides}, actor="marketing1")
    assert view["status"] == "running", view["error"]
    return view["id"]


def to_test(session, **overrides) -> int:
    iid = start(session, **overrides)
    do(session, iid, "receive_goods", RECEIPT, "marketing")
    return iid


@pytest.fixture
def rg(session, frozen_clock):
    results = engine.deploy(session, [BUNDLE], actor="admin")
    assert [r.key for r in results] == ["returned_goods"]
    return session


# --- scenarios --------------------------------------------------------------------------------


def test_return_with_scrap_and_rework(rg):
    iid = to_test(rg)
    view = engine.show(rg, iid)
    assert RG.match(view["data"]["returned_goods_no"]) and view["business_key"] == view["data"]["returned_goods_no"]
    # MLP §4.3.1: tested within one week of receipt (Mon 2 March -> Mon 9 March, end of day).
    tasks = ready(rg, iid)
    assert list(tasks) == ["test_goods"]
    assert view["data"]["test_due"] == "2026-03-09T18:00:00+08:00"
    assert dt.datetime.fromisoformat(tasks["test_goods"]["due_at"]) == dt.datetime(2026, 3, 9, 18, tzinfo=SHANGHAI)

    do(rg, iid, "test_goods", TEST, "production")
    do(rg, iid, "dispose_goods", DISPOSITION, "production")
    # A return ships nothing: straight to the notice.
    assert list(ready(rg, iid)) == ["notify_customer"]
    view = do(rg, iid, "notify_customer", NOTICE, "marketing")

    assert view["status"] == "completed"
    data = view["data"]
    assert data["returned_goods_outcome"] == "returned"
    assert data["defects_by_phenomenon"] == {"No power": 3, "Scratched window": 1}
    assert data["disposition_summary"] == {"rework": 3, "scrap": 1, "return_to_stock": 6}
    record = data["returned_goods_result"]
    assert record["received_qty"] == 10 and record["tested_qty"] == 10 and record["defective_qty"] == 4
    assert record["returned_defect_rate"] == 0.4 and record["tester"] == "Feng Min"
    assert record["shipped_qty"] is None and record["outcome"] == "returned"
    assert data["exchange_eligible"] is None  # no exchange asked: the rules did not run


def test_eligible_exchange_is_shipped(rg):
    iid = start(rg, request_kind="exchange", expected_qty=2)
    do(rg, iid, "receive_goods", {**RECEIPT, "received_qty": 2}, "marketing")
    view = do(rg, iid, "record_exchange_request",
              {"purchase_date": "2026-02-27", "request_date": "2026-03-02", "unsealed": False,
               "deteriorated": False, "allergy": False, "invoice_presented": True, "event_slip_presented": True},
              "marketing")
    data = view["data"]
    assert data["exchange_eligible"] is True and data["return_allowed"] is False
    assert data["eligibility_rules"][:2] == ["EXC-01", "EXC-03"] and "within 5 days" in data["reason"]
    assert list(ready(rg, iid)) == ["test_goods"]  # eligible: no manager decision

    do(rg, iid, "test_goods", {**TEST, "tested_qty": 2, "defective_qty": 1,
                               "defect_phenomena": [{"phenomenon": "No power", "quantity": 1}]}, "production")
    do(rg, iid, "dispose_goods", {**DISPOSITION, "rework_qty": 0, "scrap_qty": 1, "return_to_stock_qty": 1},
       "production")
    do(rg, iid, "ship_replacement", {**SHIPMENT, "shipped_qty": 2}, "logistics")
    view = do(rg, iid, "notify_customer", NOTICE, "marketing")

    assert view["status"] == "completed"
    record = view["data"]["returned_goods_result"]
    assert record["outcome"] == "exchanged" and view["data"]["returned_goods_outcome"] == "exchanged"
    assert record["shipped_qty"] == 2 and record["shipment_tracking_no"] == "SF99887766"
    assert record["exchange_eligible"] is True and record["disposition"] == {"scrap": 1, "return_to_stock": 1}


def test_ineligible_exchange_refused_by_manager_ships_nothing(rg):
    iid = start(rg, request_kind="exchange", expected_qty=1)
    do(rg, iid, "receive_goods", {**RECEIPT, "received_qty": 1}, "marketing")
    view = do(rg, iid, "record_exchange_request",
              {"purchase_date": "2026-02-20", "request_date": "2026-03-02", "unsealed": True,
               "deteriorated": False, "allergy": False, "invoice_presented": True, "event_slip_presented": False},
              "marketing")
    assert view["data"]["exchange_eligible"] is False and "EXC-03" in view["data"]["eligibility_rules"]
    do(rg, iid, "decide_ineligible_exchange",
       {"exchange_approved": False, "exchange_decision_note": "Outside the 5-day window."}, "manager")
    do(rg, iid, "test_goods", {**TEST, "tested_qty": 1, "defective_qty": 0, "defect_phenomena": []}, "production")
    do(rg, iid, "dispose_goods", {**DISPOSITION, "rework_qty": 0, "scrap_qty": 0, "return_to_stock_qty": 1},
       "production")
    assert list(ready(rg, iid)) == ["notify_customer"]
    view = do(rg, iid, "notify_customer", NOTICE, "marketing")
    assert view["data"]["returned_goods_outcome"] == "exchange_refused"


def test_make_up_shipment_skips_receipt_and_test(rg):
    iid = start(rg, request_kind="make_up_shipment", expected_qty=5)
    assert list(ready(rg, iid)) == ["ship_replacement"]
    do(rg, iid, "ship_replacement", {**SHIPMENT, "shipped_qty": 5}, "logistics")
    view = do(rg, iid, "notify_customer", NOTICE, "marketing")
    assert view["data"]["returned_goods_outcome"] == "made_up"
    assert view["data"]["returned_goods_result"]["received_qty"] is None


def test_quantities_that_do_not_add_up_are_refused(rg):
    iid = to_test(rg)
    view = do(rg, iid, "test_goods", {**TEST, "defective_qty": 11}, "production")
    # The test record is refused: the task is back, with the field's message.
    assert list(ready(rg, iid)) == ["test_goods"]
    assert view["data"]["record_valid"] is False
    assert view["data"]["record_problems"]["defective_qty"] == "11 defective, but only 10 were tested"
    do(rg, iid, "test_goods", TEST, "production")

    # A disposition that does not add up is refused at submission (the form's x-sum-equals): 4xx with
    # a message on each quantity; the task stays ready and nothing is recorded.
    task = ready(rg, iid)["dispose_goods"]
    on_the_day(DISPOSITION)
    with pytest.raises(engine.InvalidData) as err:
        engine.complete(rg, task["id"], data={**DISPOSITION, "return_to_stock_qty": 5},
                        actor=engine.Actor.tool("production_user"))
    message = "the quantities add up to 9, but 10 are expected"
    assert err.value.fields == {key: message for key in ("isolate_qty", "rework_qty", "repair_qty", "scrap_qty",
                                                         "return_to_stock_qty")}
    assert list(ready(rg, iid)) == ["dispose_goods"]
    assert engine.show(rg, iid, audit=False)["data"].get("disposition_summary") is None
    # A field in error and a sum that does not add up are refused together, in one answer
    tomorrow = (clock.now().astimezone(SHANGHAI) + dt.timedelta(days=1)).date().isoformat()
    with pytest.raises(engine.InvalidData) as err:
        engine.complete(rg, task["id"], data={**DISPOSITION, "return_to_stock_qty": 5, "disposed_date": tomorrow},
                        actor=engine.Actor.tool("production_user"))
    assert err.value.fields["disposed_date"] == "must not be in the future"
    assert err.value.fields["scrap_qty"] == message

    view = do(rg, iid, "dispose_goods", DISPOSITION, "production")
    assert view["data"]["record_valid"] is True and view["data"]["record_problems"] is None
    assert list(ready(rg, iid)) == ["notify_customer"]


def test_form_limits_refuse_bad_quantities(rg):
    iid = to_test(rg)
    task = ready(rg, iid)["test_goods"]
    with pytest.raises(engine.InvalidData) as err:
        engine.complete(rg, task["id"], data={**TEST, "tested_qty": -1}, actor=engine.Actor.tool("p1"))
    assert "tested_qty" in err.value.fields


def test_overdue_test_escalates_to_manager_then_general_manager(rg):
    iid = to_test(rg)
    clock.set(dt.datetime(2026, 3, 9, 18, 1, tzinfo=SHANGHAI))
    engine.fire_due_timers(rg)
    tasks = ready(rg, iid)
    assert set(tasks) == {"test_goods", "followup_test_overdue"}
    assert tasks["followup_test_overdue"]["role"] == "manager"
    # Second level 48 h later.
    clock.set(dt.datetime(2026, 3, 11, 18, 1, tzinfo=SHANGHAI))
    engine.fire_due_timers(rg)
    tasks = ready(rg, iid)
    assert tasks["followup_test_gm"]["role"] == "general_manager"
    audit = engine.show(rg, iid)["audit"]
    escalated = [(e["payload"]["deadline"], e["payload"]["level"]) for e in audit if e["kind"] == "escalation"]
    assert escalated == [("test_due", "manager"), ("test_gm_due", "general_manager")]

    do(rg, iid, "followup_test_overdue", {"test_escalation_action": "Asked production to test today."}, "manager")
    do(rg, iid, "followup_test_gm", {"test_escalation_action": "Test by tomorrow."}, "general_manager")
    do(rg, iid, "test_goods", TEST, "production")
    do(rg, iid, "dispose_goods", DISPOSITION, "production")
    view = do(rg, iid, "notify_customer", NOTICE, "marketing")
    assert view["status"] == "completed" and view["timers"] == []


def test_a_second_run_starts_clean(rg, monkeypatch):
    """Called again for a later plan of the same complaint, no figure of the first run survives."""
    from caseflow._engine import form_checks

    monkeypatch.setattr(form_checks, "validate_form",
                        lambda loaded, form, process, data, starting=False: dict(data or {}))
    stale = {"received_qty": 99, "defects_by_phenomenon": {"Old": 9}, "shipped_qty": 7, "record_valid": True,
             "exchange_eligible": True}
    iid = start(rg, request_kind="make_up_shipment", **stale)
    data = engine.show(rg, iid)["data"]
    assert all(data[k] is None for k in stale), {k: data[k] for k in stale}


# --- the diagram (static checks: opens cleanly in bpmn.io, lanes = roles, bilingual) -----------

BPMN_FILE = BUNDLE / "returned_goods.bpmn"
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
NODE_TAGS = ("startEvent", "endEvent", "boundaryEvent", "userTask", "serviceTask", "scriptTask",
             "exclusiveGateway", "parallelGateway", "callActivity")


@pytest.fixture(scope="module")
def doc():
    from lxml import etree

    return etree.parse(str(BPMN_FILE))


@pytest.fixture(scope="module")
def process(doc):
    (proc,) = doc.xpath("//bpmn:process", namespaces=NS)
    return proc


def xp(el, path):
    return el.xpath(path, namespaces=NS)


def nodes(process):
    from lxml import etree

    return [el for el in process if isinstance(el.tag, str) and etree.QName(el).localname in NODE_TAGS]


def bounds_of(doc) -> dict[str, tuple[float, float, float, float]]:
    out = {}
    for shape in xp(doc, "//bpmndi:BPMNShape"):
        (b,) = xp(shape, "./dc:Bounds")
        out[shape.get("bpmnElement")] = tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))
    return out


def test_diagram_parses_with_spiffworkflow_and_the_xsd():
    from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_files([str(BPMN_FILE)])
    assert "test_goods" in parser.get_spec("returned_goods").task_specs


def test_lanes_are_roles_and_hold_every_node(process):
    from caseflow.accounts import ROLES

    lanes = xp(process, "./bpmn:laneSet/bpmn:lane")
    names = {lane.get("name") for lane in lanes}
    assert names == {"marketing", "production", "logistics", "manager", "general_manager"}
    assert names <= set(ROLES)
    refs = [ref.text for lane in lanes for ref in xp(lane, "./bpmn:flowNodeRef")]
    assert sorted(refs) == sorted(n.get("id") for n in nodes(process))  # each node in exactly one lane


def test_every_element_has_diagram_interchange(doc, process):
    bounds = bounds_of(doc)
    wanted = [n.get("id") for n in nodes(process)]
    wanted += [lane.get("id") for lane in xp(process, "./bpmn:laneSet/bpmn:lane")]
    wanted += [p.get("id") for p in xp(doc, "//bpmn:participant")]
    assert sorted(bounds) == sorted(wanted)
    edges = {e.get("bpmnElement"): e for e in xp(doc, "//bpmndi:BPMNEdge")}
    flows = xp(process, "./bpmn:sequenceFlow")
    assert sorted(edges) == sorted(f.get("id") for f in flows)
    for flow in flows:
        points = [(float(p.get("x")), float(p.get("y"))) for p in xp(edges[flow.get("id")], "./di:waypoint")]
        assert len(points) >= 2
        for (x1, y1), (x2, y2) in zip(points, points[1:], strict=False):
            assert x1 == x2 or y1 == y2, f"{flow.get('id')}: diagonal segment"
        for end, ref in ((points[0], flow.get("sourceRef")), (points[-1], flow.get("targetRef"))):
            bx, by, bw, bh = bounds[ref]
            inside = bx <= end[0] <= bx + bw and by <= end[1] <= by + bh
            assert inside and (end[0] in (bx, bx + bw) or end[1] in (by, by + bh)), \
                f"{flow.get('id')}: waypoint {end} is not on the border of {ref}"


def test_shapes_do_not_overlap_and_sit_in_their_lane(doc, process):
    bounds = bounds_of(doc)
    host = {b.get("id"): b.get("attachedToRef") for b in xp(process, "./bpmn:boundaryEvent")}
    ids = [n.get("id") for n in nodes(process)]
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            if host.get(a) == b or host.get(b) == a:
                continue
            (ax, ay, aw, ah), (bx, by, bw, bh) = bounds[a], bounds[b]
            assert not (ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah), f"{a} overlaps {b}"
    for lane in xp(process, "./bpmn:laneSet/bpmn:lane"):
        lx, ly, lw, lh = bounds[lane.get("id")]
        for ref in xp(lane, "./bpmn:flowNodeRef"):
            nx, ny, nw, nh = bounds[ref.text]
            assert lx <= nx + nw / 2 <= lx + lw and ly <= ny + nh / 2 <= ly + lh, ref.text


def test_names_are_bilingual_and_decisions_named(process):
    for n in nodes(process):
        props = {p.get("name"): p.get("value") for p in
                 xp(n, "./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property")}
        assert (n.get("name") or "").strip(), n.get("id")
        form = props.get("formJsonSchemaFilename")
        if n.tag.endswith("userTask"):
            assert form and (BUNDLE / form).is_file(), n.get("id")
            assert props.get("documentationZh") and xp(n, "./bpmn:documentation/text()"), n.get("id")
        else:
            assert props.get("nameZh"), f"{n.get('id')} has no nameZh"
    for gw in xp(process, "./bpmn:exclusiveGateway"):
        for fid in xp(gw, "./bpmn:outgoing/text()") if len(xp(gw, "./bpmn:outgoing")) > 1 else []:
            (flow,) = xp(process, f"./bpmn:sequenceFlow[@id='{fid}']")
            assert flow.get("name"), fid


def test_deadline_and_rule_parameters_are_in_the_diagram(process):
    def params(task_id):
        return {p.get("id"): p.get("value") for p in
                xp(process, f"./bpmn:serviceTask[@id='{task_id}']//spiffworkflow:parameter")}

    assert params("compute_test_due") == {"test_days": "7", "gm_test_grace_h": "48"}
    assert params("check_eligibility") == {"exchange_window_days": "5", "allergy_window_days": "3"}
    (timer,) = xp(process, "./bpmn:boundaryEvent[@id='timer_test_overdue']//bpmn:timeDate/text()")
    assert timer == "test_due"


def _labels(schema: dict, where: str) -> None:
    for key, prop in (schema.get("properties") or {}).items():
        assert prop.get("title") and prop.get("x-title-zh"), f"{where}.{key}"
        if "enum" in prop:
            assert set(prop["x-enum-titles"]) == set(prop["enum"]), f"{where}.{key}"
        if prop.get("type") == "array":
            _labels(prop["items"], f"{where}.{key}")


@pytest.mark.parametrize("path", sorted(BUNDLE.glob("*.schema.json")), ids=lambda p: p.name)
def test_forms_are_bilingual_draft_2020_12_and_used(path):
    import json

    import jsonschema

    schema = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema.get("title") and schema.get("x-title-zh")
    assert set(schema["required"]) <= set(schema["properties"])
    _labels(schema, path.name)
    assert f'"{path.name}"' in BPMN_FILE.read_text(encoding="utf-8")


def test_initialisation_resets_every_key_the_process_writes(process):
    """Forms (but the start form) and scripts: the init script must follow them."""
    import ast
    import json

    (init,) = xp(process, "./bpmn:scriptTask[@id='init_returned_goods']/bpmn:script/text()")
    reset = {t.id for node in ast.walk(ast.parse(init)) if isinstance(node, ast.Assign)
             for t in node.targets if isinstance(t, ast.Name)}
    start_form = set(json.loads((BUNDLE / "returned_goods_request.schema.json").read_text())["properties"])
    written: set[str] = set()
    for path in BUNDLE.glob("*.schema.json"):
        written |= set(json.loads(path.read_text(encoding="utf-8"))["properties"]) - start_form
    for script in xp(process, "./bpmn:scriptTask[@id!='init_returned_goods']/bpmn:script/text()"):
        written |= {t.id for node in ast.walk(ast.parse(script)) if isinstance(node, ast.Assign)
                    for t in node.targets if isinstance(t, ast.Name)}
    assert written <= reset, written - reset


def test_exchange_without_event_slip_granted_by_the_manager_is_shipped(rg):
    iid = start(rg, request_kind="exchange", expected_qty=1)
    do(rg, iid, "receive_goods", {**RECEIPT, "received_qty": 1}, "marketing")
    view = do(rg, iid, "record_exchange_request",
              {"purchase_date": "2026-02-27", "request_date": "2026-03-02", "unsealed": False,
               "deteriorated": False, "allergy": False, "invoice_presented": True, "event_slip_presented": False},
              "marketing")
    assert view["data"]["exchange_eligible"] is False and view["data"]["eligibility_rules"][-1] == "EXC-04"
    do(rg, iid, "decide_ineligible_exchange",
       {"exchange_approved": True, "exchange_decision_note": "Key account; slip lost by the shop."}, "manager")
    do(rg, iid, "test_goods", {**TEST, "tested_qty": 1, "defective_qty": 0, "defect_phenomena": []}, "production")
    do(rg, iid, "dispose_goods", {**DISPOSITION, "rework_qty": 0, "scrap_qty": 0, "return_to_stock_qty": 1},
       "production")
    do(rg, iid, "ship_replacement", {**SHIPMENT, "shipped_qty": 1}, "logistics")
    view = do(rg, iid, "notify_customer", NOTICE, "marketing")
    assert view["data"]["returned_goods_outcome"] == "exchanged"


ALLERGY_REQUEST = {"purchase_date": "2026-02-27", "request_date": "2026-03-02", "unsealed": True,
                   "deteriorated": False, "allergy": True, "invoice_presented": True, "event_slip_presented": True}


def test_allergy_within_the_window_is_returned_and_refunded(rg):
    """EXC-05: an allergy confirmed on day 3, goods opened; the customer wants a refund: the goods are
    tested and disposed of, nothing is shipped, the outcome is refunded."""
    iid = start(rg, request_kind="exchange", expected_qty=1)
    do(rg, iid, "receive_goods", {**RECEIPT, "received_qty": 1}, "marketing")
    view = do(rg, iid, "record_exchange_request", {**ALLERGY_REQUEST, "refund_requested": True}, "marketing")
    assert view["data"]["return_allowed"] is True and "EXC-05" in view["data"]["eligibility_rules"]
    assert view["data"]["allergy_return"] is True
    assert list(ready(rg, iid)) == ["test_goods"]  # no manager decision, straight to the test
    do(rg, iid, "test_goods", {**TEST, "tested_qty": 1, "defective_qty": 0, "defect_phenomena": []}, "production")
    do(rg, iid, "dispose_goods", {**DISPOSITION, "rework_qty": 0, "scrap_qty": 0, "return_to_stock_qty": 1},
       "production")
    assert list(ready(rg, iid)) == ["notify_customer"]  # a refund ships no replacement
    view = do(rg, iid, "notify_customer", NOTICE, "marketing")
    assert view["data"]["returned_goods_outcome"] == "refunded"
    record = view["data"]["returned_goods_result"]
    assert record["outcome"] == "refunded" and record["allergy_return"] is True and record["shipped_qty"] is None


def test_allergy_with_an_exchange_wanted_is_exchanged(rg):
    iid = start(rg, request_kind="exchange", expected_qty=1)
    do(rg, iid, "receive_goods", {**RECEIPT, "received_qty": 1}, "marketing")
    do(rg, iid, "record_exchange_request", ALLERGY_REQUEST, "marketing")
    do(rg, iid, "test_goods", {**TEST, "tested_qty": 1, "defective_qty": 0, "defect_phenomena": []}, "production")
    do(rg, iid, "dispose_goods", {**DISPOSITION, "rework_qty": 0, "scrap_qty": 0, "return_to_stock_qty": 1},
       "production")
    assert list(ready(rg, iid)) == ["ship_replacement"]
    do(rg, iid, "ship_replacement", {**SHIPMENT, "shipped_qty": 1}, "logistics")
    view = do(rg, iid, "notify_customer", NOTICE, "marketing")
    assert view["data"]["returned_goods_outcome"] == "exchanged"


def test_a_refund_asked_after_the_allergy_window_goes_to_the_manager(rg):
    """Day 4: the allergy no longer allows a return (nor, opened, an exchange): the manager decides."""
    iid = start(rg, request_kind="exchange", expected_qty=1)
    do(rg, iid, "receive_goods", {**RECEIPT, "received_qty": 1}, "marketing")
    view = do(rg, iid, "record_exchange_request",
              {**ALLERGY_REQUEST, "request_date": "2026-03-03", "refund_requested": True}, "marketing")
    assert view["data"]["return_allowed"] is False and view["data"]["allergy_return"] is None
    assert list(ready(rg, iid)) == ["decide_ineligible_exchange"]


def test_a_received_quantity_other_than_the_announced_needs_its_reason(rg):
    """Ten announced, eight arrive: the receipt is refused without the reason, kept with it (and in the record)."""
    iid = start(rg)
    with pytest.raises(engine.InvalidData) as refused:
        do(rg, iid, "receive_goods", {**RECEIPT, "received_qty": 8}, "marketing")
    assert refused.value.fields == {"qty_difference_reason": "the value differs from 10; give the reason"}
    reason = "Two units kept by the customer's shop."
    view = do(rg, iid, "receive_goods", {**RECEIPT, "received_qty": 8, "qty_difference_reason": reason}, "marketing")
    assert view["data"]["received_qty"] == 8
    assert view["data"]["qty_difference_reason"] == reason
