"""Small BPMN diagrams for the sandbox tests: a chain of steps between a start and an end event."""
from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs_{key}" '
        'targetNamespace="http://bpmn.io/schema/bpmn">\n'
        '  <bpmn:process id="{key}" name="{key}" isExecutable="true">\n')
TAIL = "  </bpmn:process>\n</bpmn:definitions>\n"


def script(element_id: str, source: str) -> tuple[str, str, str]:
    """A script task running ``source``."""
    return ("script", element_id, source)


def user(element_id: str) -> tuple[str, str, str]:
    """A user task (the case waits there)."""
    return ("user", element_id, "")


def timer(element_id: str, duration: str = '"PT1H"') -> tuple[str, str, str]:
    """An intermediate timer event waiting ``duration`` (a Python expression)."""
    return ("timer", element_id, duration)


def chain(key: str, *steps: tuple[str, str, str]) -> str:
    """The XML of process ``key``: start -> steps... -> end, one sequence flow between each."""
    ids = ["start", *(s[1] for s in steps), "end"]
    flows = [(f"flow_{i}", a, b) for i, (a, b) in enumerate(zip(ids, ids[1:], strict=False))]
    incoming = {b: f for f, _a, b in flows}
    outgoing = {a: f for f, a, _b in flows}

    def links(element_id: str) -> str:
        out = ""
        if element_id in incoming:
            out += f"<bpmn:incoming>{incoming[element_id]}</bpmn:incoming>"
        if element_id in outgoing:
            out += f"<bpmn:outgoing>{outgoing[element_id]}</bpmn:outgoing>"
        return out

    body = [f'    <bpmn:startEvent id="start">{links("start")}</bpmn:startEvent>\n']
    for kind, element_id, text in steps:
        name = element_id.replace("_", " ").title()
        if kind == "script":
            body.append(f'    <bpmn:scriptTask id="{element_id}" name="{name}">{links(element_id)}'
                        f"<bpmn:script>{escape(text)}</bpmn:script></bpmn:scriptTask>\n")
        elif kind == "user":
            body.append(f'    <bpmn:userTask id="{element_id}" name="{name}">{links(element_id)}</bpmn:userTask>\n')
        else:
            body.append(f'    <bpmn:intermediateCatchEvent id="{element_id}" name="{name}">{links(element_id)}'
                        f'<bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">'
                        f"{escape(text)}</bpmn:timeDuration></bpmn:timerEventDefinition>"
                        f"</bpmn:intermediateCatchEvent>\n")
    body.append(f'    <bpmn:endEvent id="end">{links("end")}</bpmn:endEvent>\n')
    body += [f'    <bpmn:sequenceFlow id="{f}" sourceRef="{a}" targetRef="{b}" />\n' for f, a, b in flows]
    return HEAD.format(key=key) + "".join(body) + TAIL


def write_bundle(folder: Path, key: str, xml: str) -> Path:
    """A bundle folder holding ``key.bpmn``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{key}.bpmn").write_text(xml, encoding="utf-8")
    return folder


def counting_loop(key: str, rounds: int) -> str:
    """start -> n = 0 -> n = n + 1 -> gateway (n < rounds: back to the increment) -> user task "check" -> end."""
    return HEAD.format(key=key) + f"""\
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="init" name="Init"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>n = 0</bpmn:script></bpmn:scriptTask>
    <bpmn:scriptTask id="inc" name="Count"><bpmn:incoming>f2</bpmn:incoming><bpmn:incoming>back</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing><bpmn:script>n = n + 1</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="more" default="done"><bpmn:incoming>f3</bpmn:incoming>
      <bpmn:outgoing>back</bpmn:outgoing><bpmn:outgoing>done</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:userTask id="check" name="Check"><bpmn:incoming>done</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="init" />
    <bpmn:sequenceFlow id="f2" sourceRef="init" targetRef="inc" />
    <bpmn:sequenceFlow id="f3" sourceRef="inc" targetRef="more" />
    <bpmn:sequenceFlow id="back" sourceRef="more" targetRef="inc">
      <bpmn:conditionExpression>n &lt; {rounds}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="done" sourceRef="more" targetRef="check" />
    <bpmn:sequenceFlow id="f5" sourceRef="check" targetRef="end" />
""" + TAIL
