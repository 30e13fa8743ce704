"""Deploy-time checks of BPMN files: structure, references, and problems located by element and line.

Part of :mod:`caseflow._engine.deploy` (which calls them before SpiffWorkflow parses a bundle).
"""
from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterator
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from caseflow import bundles
from caseflow._engine.adapters import CaseflowParser

log = logging.getLogger("caseflow.engine")

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
#: Namespace -> prefix, to write element names in problems as modelers show them.
_PREFIXES = {BPMN_NS: "bpmn", "http://www.omg.org/spec/BPMN/20100524/DI": "bpmndi",
             "http://www.omg.org/spec/DD/20100524/DC": "dc", "http://www.omg.org/spec/DD/20100524/DI": "di",
             SPIFF_NS: "spiffworkflow", "http://www.w3.org/2001/XMLSchema-instance": "xsi"}
_MAX_MESSAGE = 400
_ELEMENT_REPR = re.compile(r"<Element \{([^}]*)\}(\w+) at 0x[0-9a-f]+>")
_QUALIFIED = re.compile(r"\{([^}]*)\}")
_HINTS = {"'xs:ID'": "an id must be unique in the file and start with a letter or '_'",
          "'xs:IDREF'": "a reference must be the id of an element of the file",
          "A Service Task must have an operator": "name a Caseflow service operator in its "
                                                  "spiffworkflow:serviceTaskOperator, see `caseflow operators`",
          "Multiple outgoing flows are not supported": "split the flow with a gateway after the task"}


def _clean(message: str) -> str:
    """A library message fit to show: first line, namespaces as prefixes, no object reprs or XML dumps."""
    text = str(message).strip().split("\n")[0]
    text = _ELEMENT_REPR.sub(lambda m: f"{_PREFIXES.get(m.group(1), m.group(1))}:{m.group(2)}", text)
    text = _QUALIFIED.sub(lambda m: f"{_PREFIXES[m.group(1)]}:" if m.group(1) in _PREFIXES else m.group(0), text)
    text = re.sub(r"\.(\s*\.)+", ".", text).strip()
    text = text.rstrip(".").strip()
    for needle, hint in _HINTS.items():
        if needle in text:
            text += f" ({hint})"
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE - 1] + "…"


def _located(element: str | None, file: str | None, lines: dict[str, tuple[str, int]]) -> tuple[str | None, int | None]:
    """(file, line) of ``element`` from the bundle's index, else ``file`` and no line."""
    if element and element in lines:
        return lines[element]
    return file, None


def _failing_node(err: BaseException) -> Any | None:
    """The innermost lxml element a SpiffWorkflow parser was working on when ``err`` was raised."""
    found = None
    for frame, _line in traceback.walk_tb(err.__traceback__):
        candidates = [frame.f_locals.get("node"), getattr(frame.f_locals.get("self"), "node", None)]
        for node in candidates:
            if isinstance(node, etree._Element) and isinstance(node.tag, str):
                found = node
                break
    return found


def _unexpected(err: BaseException, what: str, file: str | None, lines: dict[str, tuple[str, int]],
                element: str | None = None) -> bundles.Problem:
    """A problem for an exception no check expected (logged with its traceback): never a crash of deploy."""
    node = _failing_node(err)
    line = None
    if node is not None:
        element, line = node.get("id") or element, node.sourceline
    if line is None:
        file, line = _located(element, file, lines)
    if isinstance(err, RecursionError):  # SpiffWorkflow follows each path recursively: a limit, not a bug
        log.warning("%s while %s (file %s, element %s, line %s)", err, what, file, element, line)
        return bundles.Problem("the flow is too long for SpiffWorkflow's parser, which follows each path "
                               "recursively (split it with call activities or sub-processes)",
                               file=file, element=element, line=line)
    log.error("unexpected %s while %s (file %s, element %s, line %s)", type(err).__name__, what, file, element,
              line, exc_info=err)
    detail = _clean(f"{type(err).__name__}: {err}")
    subject = "this element could not be read" if element else "the bundle could not be checked"
    return bundles.Problem(f"{subject} ({what} failed: {detail}); the error is logged",
                           file=file, element=element, line=line)


def _problem_from_validation(err: ValidationException, lines: dict[str, tuple[str, int]],
                             file: str | None = None, prefix: str = "") -> bundles.Problem:
    """A problem for SpiffWorkflow's ``ValidationException``, with the element and line where known."""
    element = getattr(err, "id", None) or None
    file = getattr(err, "file_name", None) or file
    raw_line = getattr(err, "line_number", None)
    line = int(raw_line) if isinstance(raw_line, int) or (isinstance(raw_line, str) and raw_line.isdigit()) else None
    if line is None:
        file, line = _located(element, file, lines)
    cause = err.__cause__ or err.__context__
    if cause is not None and str(err).startswith(f"{type(cause).__name__}("):
        # SpiffWorkflow's task parser turns any exception into ValidationException(repr(exc)).
        return _unexpected(cause, "parsing", file, lines, element)
    return bundles.Problem(prefix + _clean(str(err)), file=file, element=element, line=line)


def _label(el: Any) -> str:
    """How a problem names an element: its name, else its id, else its tag."""
    name = " ".join((el.get("name") or "").split())
    return repr(name or el.get("id") or etree.QName(el).localname)


def _described(el: Any) -> str:
    """An element with its kind: ``endEvent 'Order lost'``."""
    return f"{etree.QName(el).localname} {_label(el)}"


def _root_problem(name: str, tree: Any) -> bundles.Problem | None:
    """Why the file is no BPMN 2.0 model at all (wrong root or namespace), else None."""
    root = tree.getroot()
    qname = etree.QName(root)
    if qname.namespace == BPMN_NS and qname.localname == "definitions":
        return None
    bpmn_like = bool(qname.namespace) and "bpmn" in (qname.namespace or "").lower()
    if bpmn_like and qname.localname == "definitions":
        message = (f"the file uses the namespace {qname.namespace!r}, not that of BPMN 2.0 ({BPMN_NS}); "
                   f"export it from the modeler as BPMN 2.0")
    elif bpmn_like:
        message = (f"the file holds only a {_qualified(root)} element, no bpmn:definitions with processes")
    else:
        message = f"not a BPMN 2.0 file: its root element is {_qualified(root)}, not bpmn:definitions"
    return bundles.Problem(message, file=name, line=root.sourceline)


def _qualified(el: Any) -> str:
    qname = etree.QName(el)
    if not qname.namespace:
        return qname.localname
    return f"{_PREFIXES.get(qname.namespace, '{' + qname.namespace + '}')}:{qname.localname}"


def _bpmn(tree: Any, local: str) -> Iterator[Any]:
    return tree.getroot().iter(full_tag(local))


def _parsed_processes(trees: dict[str, Any]) -> list[tuple[str, Any]]:
    """(file, process) of the processes SpiffWorkflow will build: the executable ones and those they call."""
    procs = [(name, proc) for name, tree in trees.items() for proc in _bpmn(tree, "process")]
    called = {ca.get("calledElement") for _n, proc in procs for ca in proc.iter(full_tag("callActivity"))}
    return [(name, proc) for name, proc in procs
            if (proc.get("isExecutable") or "true").lower() != "false" or proc.get("id") in called]


_EVENT_REFS = {"messageEventDefinition": ("messageRef", "message"), "signalEventDefinition": ("signalRef", "signal"),
               "errorEventDefinition": ("errorRef", "error"),
               "escalationEventDefinition": ("escalationRef", "escalation"),
               "sendTask": ("messageRef", "message"), "receiveTask": ("messageRef", "message")}
_BOUNDARY_EVENTS = tuple(full_tag(t) for t in (
    "cancelEventDefinition", "errorEventDefinition", "escalationEventDefinition", "messageEventDefinition",
    "signalEventDefinition", "timerEventDefinition", "conditionalEventDefinition"))
_DATA_REFERENCES = ("dataObjectReference", "dataStoreReference")
_BPMN_PREFIX_LEN = len(BPMN_NS) + 2
#: The elements SpiffWorkflow's parser turns into task specs, each with a few XPath searches.
_FLOW_NODES = tuple(full_tag(t) for t in (
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask", "businessRuleTask",
    "callActivity", "subProcess", "transaction", "adHocSubProcess", "startEvent", "endEvent",
    "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent", "exclusiveGateway", "inclusiveGateway",
    "parallelGateway", "eventBasedGateway", "complexGateway"))
#: Far above real diagrams (the MIWG suite's largest process has 70): parsing time grows faster than linearly.
MAX_FLOW_NODES = 2000


def _structure_problems(trees: dict[str, Any]) -> list[bundles.Problem]:
    """What SpiffWorkflow's parser cannot read in schema-valid files, named before it fails on them.

    It would otherwise raise ``TypeError``, ``NotImplementedError`` or a misleading message for
    these (all seen in files of common modelers).
    """
    problems: list[bundles.Problem] = []
    defined: dict[str, set[str]] = {kind: set() for kind in ("message", "signal", "error", "escalation")}
    elements: dict[str, Any] = {}  # id -> BPMN element (what data associations refer to)
    for name, tree in trees.items():
        for el in tree.getroot().iter(f"{{{BPMN_NS}}}*"):
            local = el.tag[_BPMN_PREFIX_LEN:]
            if el.get("id"):
                elements[el.get("id") or ""] = el
                if local in defined:
                    defined[local].add(el.get("id") or "")
            elif local in defined:
                problems.append(bundles.Problem(f"a bpmn:{local} has no id", file=name, line=el.sourceline))
            if local == "dataStore" and el.get("name") not in CaseflowParser.DATA_STORE_CLASSES:
                problems.append(bundles.Problem(
                    f"data store {_label(el)} has no implementation: Caseflow keeps case data in the case, so "
                    f"remove the bpmn:dataStore (and its references) or use a data object",
                    file=name, element=el.get("id"), line=el.sourceline))
    for name, proc in _parsed_processes(trees):
        if not proc.get("id"):
            problems.append(bundles.Problem(f"process {_label(proc)} has no id", file=name, line=proc.sourceline))
            continue
        inside = {el.get("id") for el in proc.iter() if isinstance(el.tag, str)} - {None}
        flow_nodes = sum(1 for el in proc.iter(*_FLOW_NODES))
        if flow_nodes > MAX_FLOW_NODES:
            problems.append(bundles.Problem(
                f"process {_label(proc)} has {flow_nodes} flow elements; Caseflow deploys at most {MAX_FLOW_NODES} "
                f"per process (split it with call activities)", file=name, element=proc.get("id"),
                line=proc.sourceline))
            continue
        for el in proc.iter(f"{{{BPMN_NS}}}*"):
            problem = _element_problem(el, defined, elements, inside)
            if problem is not None:
                problem.file = name
                problems.append(problem)
        problems.extend(_unconnected(name, proc))
    return problems


_CONTAINERS = tuple(full_tag(t) for t in ("process", "subProcess", "transaction"))
_GATEWAYS = ("exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway")


def _unconnected(name: str, proc: Any) -> list[bundles.Problem]:
    """Flow nodes a deleted sequence flow left unconnected, in the process and its sub-processes: one
    without an incoming flow can never run; a gateway without an outgoing one leads nowhere. (An
    activity or event without an outgoing flow ends its path, as BPMN allows.) Start and boundary
    events, link events, compensation handlers, event sub-processes and containers without a start
    event (implicit start) need no incoming flow; ad-hoc sub-processes are not looked into."""
    problems = []
    for container in proc.iter(*_CONTAINERS):  # the process itself first
        flows = [f for f in container if f.tag == full_tag("sequenceFlow")]
        sources, targets = {f.get("sourceRef") for f in flows}, {f.get("targetRef") for f in flows}
        nodes = [n for n in container if n.tag in _FLOW_NODES]
        has_start = any(etree.QName(n).localname == "startEvent" for n in nodes)
        for node in nodes:
            local = etree.QName(node).localname
            if (node.get("isForCompensation") == "true" or node.get("triggeredByEvent") == "true"
                    or node.find(full_tag("linkEventDefinition")) is not None):
                continue
            if has_start and local not in ("startEvent", "boundaryEvent") and node.get("id") not in targets:
                problems.append(bundles.Problem(
                    f"{_described(node)} has no incoming sequence flow, so it can never run: connect it or delete it",
                    file=name, element=node.get("id"), line=node.sourceline))
            elif local in _GATEWAYS and node.get("id") not in sources:
                problems.append(bundles.Problem(
                    f"{_described(node)} has no outgoing sequence flow, so its path leads nowhere: connect it",
                    file=name, element=node.get("id"), line=node.sourceline))
    return problems


def _element_problem(el: Any, defined: dict[str, set[str]], elements: dict[str, Any],
                     inside: set[str]) -> bundles.Problem | None:
    """The problem of one BPMN element of a parsed process (``inside``: the ids in the process), if any."""
    local = el.tag[_BPMN_PREFIX_LEN:]
    parent = el.getparent()

    def problem(message: str, at: Any) -> bundles.Problem:
        return bundles.Problem(message, element=at.get("id") if at is not None else None, line=el.sourceline)

    if local == "sequenceFlow" and el.get("targetRef") not in inside:
        return problem(f"sequence flow {_label(el)} leads to {el.get('targetRef')!r}, which is not an element of "
                       f"its process", el)
    if local == "callActivity" and not (el.get("calledElement") or "").strip():
        return problem(f"call activity {_label(el)} has no calledElement: name the process it calls", el)
    if local in _EVENT_REFS:
        attr, kind = _EVENT_REFS[local]
        ref = el.get(attr)
        owner = el if local in ("sendTask", "receiveTask") else parent
        if ref is not None and ref not in defined[kind]:
            local_ref = ref.rpartition(":")[2]
            hint = (f"; write it without the prefix ({local_ref!r}), SpiffWorkflow does not resolve QName prefixes"
                    if local_ref != ref and local_ref in defined[kind] else "")
            return problem(f"{_described(owner)} refers to {kind} {ref!r} ({attr}), but no bpmn:{kind} has that "
                           f"id{hint}", owner)
    if local == "boundaryEvent" and not any(child.tag in _BOUNDARY_EVENTS for child in el):
        return problem(f"boundary event {_label(el)} has no event definition (timer, message, signal, error, "
                       f"escalation, conditional or cancel), so it could never be triggered", el)
    if local not in ("sourceRef", "targetRef"):
        return None
    association = etree.QName(parent).localname
    data_side = {"dataInputAssociation": "sourceRef", "dataOutputAssociation": "targetRef"}.get(association)
    if local == data_side:
        wrong = _data_reference_problem((el.text or "").strip(), elements)
        if wrong:
            task = parent.getparent()
            return problem(f"a {association} of {_described(task)} refers to {wrong}", task)
    return None


def _data_reference_problem(target: str, elements: dict[str, Any]) -> str | None:
    """Why a data association's ``target`` cannot be resolved the way SpiffWorkflow resolves it, else None."""
    el = elements.get(target)
    if el is None:
        return f"{target!r}, no element of the file"
    kind = etree.QName(el).localname
    if kind not in _DATA_REFERENCES:
        return (f"the bpmn:{kind} {target!r}; only data object and data store references (bpmn:dataObjectReference, "
                f"bpmn:dataStoreReference) can be read or written")
    attr, wanted = ("dataObjectRef", "dataObject") if kind == "dataObjectReference" else ("dataStoreRef", "dataStore")
    referred = elements.get(el.get(attr) or "")
    if referred is None or etree.QName(referred).localname != wanted:
        return f"the {kind} {_label(el)}, whose {attr} names no bpmn:{wanted}"
    return None


def _spiff_problems(name: str, tree: Any) -> list[bundles.Problem]:
    """Incomplete ``spiffworkflow:`` extensions (its parser raises ``KeyError`` on them)."""
    problems = []
    for el in tree.getroot().iter(f"{{{SPIFF_NS}}}serviceTaskOperator"):
        if not el.get("id"):
            task = next((a for a in el.iterancestors() if a.get("id")), None)
            problems.append(bundles.Problem(
                "service task names no operator: give its spiffworkflow:serviceTaskOperator the id of a Caseflow "
                "operator (see `caseflow operators`)",
                file=name, element=task.get("id") if task is not None else None, line=el.sourceline))
    for el in tree.getroot().iter(f"{{{SPIFF_NS}}}property"):
        missing = [a for a in ("name", "value") if el.get(a) is None]
        if missing:
            task = next((a for a in el.iterancestors() if a.get("id")), None)
            problems.append(bundles.Problem(
                f"spiffworkflow:property {el.get('name') or ''!r} lacks the attribute {' and '.join(missing)}",
                file=name, element=task.get("id") if task is not None else None, line=el.sourceline))
    return problems


