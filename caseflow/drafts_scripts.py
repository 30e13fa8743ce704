"""Checking one script or expression as a process owner types it, by the deploy validation itself.

The source is put into a minimal diagram (a script task for a script; a flow condition for an
expression) and that diagram goes through ``engine.check_bundle``: exactly the sandbox rules a
deployment applies, nothing stored, nothing run. The modeler calls it (debounced) for script
tasks, flow conditions and timer expressions; the browser never evaluates anything.
"""
from __future__ import annotations

from xml.sax.saxutils import escape

from sqlalchemy.orm import Session

import engine
from caseflow import bundles, limits

__all__ = ["MODES", "MAX_SOURCE_CHARS", "problems"]

MODES = ("script", "expression")
MAX_SOURCE_CHARS = limits.MAX_SCRIPT_CHARS
_ELEMENT = "checked"
_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/'
         'MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs" targetNamespace="http://caseflow">'
         '<bpmn:process id="script_check" isExecutable="true"><bpmn:startEvent id="start"/>')
_SCRIPT = ('<bpmn:scriptTask id="checked" name="checked"><bpmn:script>{source}</bpmn:script></bpmn:scriptTask>'
           '<bpmn:endEvent id="end"/><bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="checked"/>'
           '<bpmn:sequenceFlow id="f2" sourceRef="checked" targetRef="end"/>')
_EXPRESSION = ('<bpmn:exclusiveGateway id="checked" name="checked" default="f3"/><bpmn:endEvent id="end"/>'
               '<bpmn:endEvent id="other"/><bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="checked"/>'
               '<bpmn:sequenceFlow id="f2" sourceRef="checked" targetRef="end"><bpmn:conditionExpression '
               'xsi:type="bpmn:tFormalExpression">{source}</bpmn:conditionExpression></bpmn:sequenceFlow>'
               '<bpmn:sequenceFlow id="f3" sourceRef="checked" targetRef="other"/>')
_TAIL = "</bpmn:process></bpmn:definitions>"


def problems(session: Session, source: str, mode: str) -> list[str]:
    """What the sandbox refuses in ``source`` (a ``script`` or an ``expression``); [] when it is fine."""
    if mode not in MODES:
        raise engine.InvalidData({"mode": f"one of {', '.join(MODES)}"})
    if len(source) > MAX_SOURCE_CHARS:
        raise engine.InvalidData({"source": f"at most {MAX_SOURCE_CHARS} characters"})
    if not source.strip():
        return []
    body = (_SCRIPT if mode == "script" else _EXPRESSION).format(source=escape(source))
    found = engine.check_bundle(session, bundles.Bundle("script check", {"check.bpmn": _HEAD + body + _TAIL}))
    out = []
    for problem in found:
        message = problem.message
        for prefix in ("'checked', script: ", "'checked', condition of the flow to 'end': "):
            message = message.removeprefix(prefix)
        out.append(message)
    return out
