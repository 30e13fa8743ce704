"""The deploy validation flags flow nodes a deleted sequence flow left unconnected (Check shows them)."""
from __future__ import annotations

import engine
from caseflow import bundles

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs" '
        'targetNamespace="http://caseflow.test">\n<bpmn:process id="p" isExecutable="true">\n')
TAIL = "</bpmn:process>\n</bpmn:definitions>\n"
NODES = ('<bpmn:startEvent id="start"/><bpmn:task id="a" name="A"/><bpmn:exclusiveGateway id="gw" default="f3"/>'
         '<bpmn:task id="b" name="B"/><bpmn:endEvent id="end"/>')
FLOWS = {"f1": ("start", "a"), "f2": ("a", "gw"), "f3": ("gw", "b"), "f4": ("b", "end")}


def _problems(database, without: tuple[str, ...] = (), nodes: str = NODES) -> list[tuple[str | None, str]]:
    flows = "".join(f'<bpmn:sequenceFlow id="{fid}" sourceRef="{s}" targetRef="{t}"/>'
                    for fid, (s, t) in FLOWS.items() if fid not in without)
    with database.session() as session:
        found = engine.check_bundle(session, bundles.Bundle("test", {"p.bpmn": HEAD + nodes + flows + TAIL}))
    return [(p.element, p.message) for p in found]


def test_a_connected_diagram_and_an_implicit_end_pass(database):
    assert _problems(database) == []
    # B ends its path (BPMN's implicit end) once the end event is gone with its flow
    assert _problems(database, ("f4",), NODES.replace('<bpmn:endEvent id="end"/>', "")) == []
    assert [e for e, _m in _problems(database, ("f4",))] == ["end"]


def test_a_deleted_flow_leaves_a_node_that_can_never_run(database):
    problems = _problems(database, ("f2",))
    assert [e for e, _m in problems] == ["gw"]
    assert "exclusiveGateway 'gw' has no incoming sequence flow, so it can never run" in problems[0][1]


def test_a_gateway_that_leads_nowhere(database):
    problems = _problems(database, ("f3",))
    assert ("b", "task 'B' has no incoming sequence flow, so it can never run: connect it or delete it") in problems
    assert any(e == "gw" and "no outgoing sequence flow" in m for e, m in problems), problems
