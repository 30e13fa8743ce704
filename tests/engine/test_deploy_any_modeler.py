"""Any diagram from any modeler deploys or is refused with named, located problems (issue 11).

The files in ``tests/data/miwg`` come from the OMG BPMN MIWG test suite (see its README); the
inline diagrams are the adversarial cases SpiffWorkflow's parser used to answer with
``TypeError``, ``NotImplementedError``, ``KeyError`` or a misleading message.
"""
from __future__ import annotations

import io
import logging
import time
from pathlib import Path

import pytest
from SpiffWorkflow.spiff.parser.task_spec import SpiffTaskParser
from sqlalchemy import select

import engine
from caseflow import manifest, store, uploads

MIWG = Path(__file__).parents[1] / "data" / "miwg"

#: file -> the process keys it deploys, or a phrase of its first problem (which must have a line).
EXPECTED: dict[str, list[str] | str] = {
    "Activiti-Designer__A.1.0-export.bpmn": ["myProcess"],
    "Bonita-BPM__A.1.0-roundtrip.bpmn": ["_rl1VgLZ1EeawX8E3Bjsrfw"],
    "Reference__C.9.1.bpmn": ["requestDocument_en"],
    "itp-commerce-Process-Modeler-for-Microsoft-Visio__A.1.0-roundtrip.bpmn": ["WFP-6-"],
    # crashed `caseflow deploy` with TypeError: '<' not supported between 'NoneType' and 'str'
    "GenMyModel__B.1.0-export.bpmn": "has no calledElement",
    "bpmn-io__C.9.2-export.bpmn": "has no calledElement",
    # TypeError from SpiffWorkflow (raise_validation_exception(node=...)) on a prefixed messageRef
    "Trisotech-Workflow-Modeler__C.3.0-roundtrip.bpmn": "write it without the prefix",
    # NotImplementedError('Unsupported Catch Event: %r', <the whole element as XML>)
    "BIC-Cloud-Design__C.2.0-export.bpmn": "has no event definition",
    # "Cannot resolve dataOutputAssociation <Element ... at 0x7f...>"
    "BPMN-Modeler-for-Confluence-Enterprise__C.4.0-export.4.bpmn": "whose dataStoreRef names no bpmn:dataStore",
    "OMNITRACKER-BPMN__C.7.0-roundtrip.bpmn": "refers to the bpmn:dataOutput",
    # refused before too, but without a line
    "GenMyModel__C.1.1-export.bpmn": "byte 0xe4 cannot be decoded",
    "OMNITRACKER-BPMN__C.1.1-roundtrip.bpmn": "data store 'Financial Accounting System' has no implementation",
    "Camunda-Eclipse-Plugin__A.4.1-export.bpmn": "no executable process",
}


def test_every_miwg_file_has_an_expectation():
    assert sorted(p.name for p in MIWG.glob("*.bpmn")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_miwg_file_deploys_or_is_refused_with_located_problems(session, name):
    expected = EXPECTED[name]
    if isinstance(expected, list):
        assert sorted(r.key for r in engine.deploy(session, [MIWG / name], actor="admin")) == expected
        return
    with pytest.raises(engine.DeployRejected) as err:
        engine.deploy(session, [MIWG / name], actor="admin")
    problems = err.value.problems
    assert problems and all(p.message and p.file == name for p in problems)
    assert expected in problems[0].message and problems[0].line is not None, problems[0]
    assert session.scalars(select(store.ProcessDefinition)).first() is None


def _definitions(body: str, extra_ns: str = "") -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" {extra_ns} id="D" '
            f'targetNamespace="x">\n{body}\n</bpmn:definitions>\n')


def _process(inner: str, pid: str = "p") -> str:
    return _definitions(f'<bpmn:process id="{pid}" isExecutable="true">\n{inner}\n</bpmn:process>')


START = '<bpmn:startEvent id="s"><bpmn:outgoing>f</bpmn:outgoing></bpmn:startEvent>'
SIMPLE = START + ('<bpmn:endEvent id="e"><bpmn:incoming>f</bpmn:incoming></bpmn:endEvent>'
                  '<bpmn:sequenceFlow id="f" sourceRef="s" targetRef="e"/>')
SPIFF = 'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"'


def _then(element: str) -> str:
    """START, then ``element`` (with id ``t``) reached by flow ``f``."""
    return START + element + '<bpmn:sequenceFlow id="f" sourceRef="s" targetRef="t"/>'


#: name -> (file text, phrase of the first problem, the element it names)
ADVERSARIAL: dict[str, tuple[str, str, str | None]] = {
    "process without id": (_definitions(f'<bpmn:process isExecutable="true">{SIMPLE}</bpmn:process>'),
                           "has no id", None),
    "call activity without calledElement": (
        _process(_then('<bpmn:callActivity id="t"><bpmn:incoming>f</bpmn:incoming></bpmn:callActivity>')),
        "has no calledElement", "t"),
    "undefined message": (_process(_then(
        '<bpmn:intermediateCatchEvent id="t"><bpmn:incoming>f</bpmn:incoming>'
        '<bpmn:messageEventDefinition messageRef="nomsg"/></bpmn:intermediateCatchEvent>')),
        "refers to message 'nomsg'", "t"),
    "undefined signal": (_process(_then(
        '<bpmn:intermediateCatchEvent id="t"><bpmn:incoming>f</bpmn:incoming>'
        '<bpmn:signalEventDefinition signalRef="nosig"/></bpmn:intermediateCatchEvent>')),
        "refers to signal 'nosig'", "t"),
    "undefined error": (_process(_then(
        '<bpmn:endEvent id="t"><bpmn:incoming>f</bpmn:incoming><bpmn:errorEventDefinition errorRef="noerr"/>'
        '</bpmn:endEvent>')), "refers to error 'noerr'", "t"),
    "undefined escalation": (_process(_then(
        '<bpmn:endEvent id="t"><bpmn:incoming>f</bpmn:incoming>'
        '<bpmn:escalationEventDefinition escalationRef="noesc"/></bpmn:endEvent>')), "refers to escalation", "t"),
    "undefined message of a receive task": (_process(_then(
        '<bpmn:receiveTask id="t" messageRef="nomsg"><bpmn:incoming>f</bpmn:incoming></bpmn:receiveTask>')),
        "refers to message 'nomsg'", "t"),
    "boundary event without definition": (_process(_then(
        '<bpmn:task id="t"><bpmn:incoming>f</bpmn:incoming></bpmn:task>'
        '<bpmn:boundaryEvent id="b" attachedToRef="t"/>')), "has no event definition", "b"),
    "sequence flow to nowhere": (_process(START + '<bpmn:sequenceFlow id="f" sourceRef="s" targetRef="gone"/>'),
                                 "leads to 'gone'", "f"),
    "data association to a flow node": (_process(_then(
        '<bpmn:task id="t"><bpmn:incoming>f</bpmn:incoming><bpmn:dataInputAssociation id="a">'
        '<bpmn:sourceRef>s</bpmn:sourceRef><bpmn:targetRef>t</bpmn:targetRef></bpmn:dataInputAssociation>'
        '</bpmn:task>')), "refers to the bpmn:startEvent 's'", "t"),
    "spiffworkflow property without value": (_definitions(
        '<bpmn:process id="p" isExecutable="true">' + _then(
            '<bpmn:userTask id="t"><bpmn:extensionElements><spiffworkflow:properties>'
            '<spiffworkflow:property name="formJsonSchemaFilename"/></spiffworkflow:properties>'
            '</bpmn:extensionElements><bpmn:incoming>f</bpmn:incoming></bpmn:userTask>') + '</bpmn:process>',
        SPIFF), "lacks the attribute value", "t"),
    "service operator without id": (_definitions(
        '<bpmn:process id="p" isExecutable="true">' + _then(
            '<bpmn:serviceTask id="t"><bpmn:extensionElements><spiffworkflow:serviceTaskOperator>'
            '<spiffworkflow:parameters/></spiffworkflow:serviceTaskOperator></bpmn:extensionElements>'
            '<bpmn:incoming>f</bpmn:incoming></bpmn:serviceTask>') + '</bpmn:process>', SPIFF),
        "names no operator", "t"),
    "data store without implementation": (_definitions(
        f'<bpmn:dataStore id="ds" name="Warehouse"/><bpmn:process id="p" isExecutable="true">{SIMPLE}'
        '</bpmn:process>'), "data store 'Warehouse' has no implementation", "ds"),
    "process id too long for the database": (_process(SIMPLE, pid="p" * 250), "longer than 200 characters", None),
    "HTML": ("<html><body>not a diagram</body></html>", "its root element is html", None),
    "BPMN 2.0 beta namespace": ('<definitions xmlns="http://schema.omg.org/spec/BPMN/2.0" id="D">'
                                '<process id="p"/></definitions>', "export it from the modeler as BPMN 2.0", None),
    "diagram interchange only": ('<bpmndi:BPMNDiagram xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
                                 'id="x"/>', "only a bpmndi:BPMNDiagram", None),
    "duplicate ids": (_process(SIMPLE + '<bpmn:endEvent id="e"/>'), "must be unique", None),
    "deeply nested XML": (_process('<bpmn:extensionElements>' + '<a>' * 3000 + '</a>' * 3000
                                   + '</bpmn:extensionElements>'), "not well-formed XML", None),
}


@pytest.mark.parametrize("case", sorted(ADVERSARIAL))
def test_adversarial_diagram_is_refused_with_a_named_problem(session, tmp_path, case):
    text, phrase, element = ADVERSARIAL[case]
    (tmp_path / "case.bpmn").write_text(text, encoding="utf-8")
    with pytest.raises(engine.DeployRejected) as err:
        engine.deploy(session, [tmp_path / "case.bpmn"], actor="admin")
    first = err.value.problems[0]
    assert phrase in first.message and first.line is not None, first
    assert "Error(" not in first.message and "<Element" not in first.message
    if element:
        assert first.element == element


def _chain(length: int) -> str:
    """A process of ``length`` tasks one after the other."""
    parts = ['<bpmn:startEvent id="s"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>']
    for i in range(length):
        source = "s" if i == 0 else f"t{i - 1}"
        parts.append(f'<bpmn:task id="t{i}"><bpmn:incoming>f{i}</bpmn:incoming><bpmn:outgoing>f{i + 1}'
                     f'</bpmn:outgoing></bpmn:task>'
                     f'<bpmn:sequenceFlow id="f{i}" sourceRef="{source}" targetRef="t{i}"/>')
    parts.append(f'<bpmn:endEvent id="e"><bpmn:incoming>f{length}</bpmn:incoming></bpmn:endEvent>'
                 f'<bpmn:sequenceFlow id="f{length}" sourceRef="t{length - 1}" targetRef="e"/>')
    return _process("\n".join(parts))


@pytest.mark.parametrize(("length", "phrase"), [(1200, "too long for SpiffWorkflow's parser"),
                                                (2500, "Caseflow deploys at most 2000")])
def test_huge_processes_are_refused_in_time(session, tmp_path, length, phrase):
    (tmp_path / "chain.bpmn").write_text(_chain(length))
    started = time.perf_counter()
    with pytest.raises(engine.DeployRejected) as err:
        engine.deploy(session, [tmp_path / "chain.bpmn"], actor="admin")
    assert time.perf_counter() - started < 10
    [problem] = err.value.problems
    assert phrase in problem.message and problem.line is not None


def test_process_name_is_stored_on_one_line_and_fits_its_column(session, tmp_path):
    long_name = "Send\norder&#xA; " + "x" * 400
    (tmp_path / "p.bpmn").write_text(_process(SIMPLE).replace('id="p"', f'id="p" name="{long_name}"', 1))
    [result] = engine.deploy(session, [tmp_path / "p.bpmn"], actor="admin")
    assert result.name is not None and result.name.startswith("Send order x") and len(result.name) == 300


@pytest.mark.parametrize("encoding", ["utf-16", "iso-8859-1", "utf-8-sig"])
def test_xml_in_its_declared_encoding_deploys(session, tmp_path, encoding):
    text = _process(SIMPLE).replace('id="p"', 'id="p" name="Rechnung klären"', 1)
    if encoding != "utf-8-sig":
        text = text.replace('encoding="UTF-8"', f'encoding="{encoding.upper()}"')
    (tmp_path / "p.bpmn").write_bytes(text.encode(encoding))
    [result] = engine.deploy(session, [tmp_path / "p.bpmn"], actor="admin")
    assert result.name == "Rechnung klären"


def test_uploaded_xml_in_its_declared_encoding_deploys(session):
    text = _process(SIMPLE).replace('id="p"', 'id="p" name="Rechnung klären"', 1).replace("UTF-8", "UTF-16")
    bundle = uploads.bundle_from_files([("p.bpmn", io.BytesIO(text.encode("utf-16")))])
    [result] = engine.deploy_bundles(session, [bundle], actor="admin")
    assert result.name == "Rechnung klären"


def test_mislabelled_encoding_names_the_line(session, tmp_path):
    text = _process(SIMPLE).replace('id="p"', 'id="p"\n name="Rechnung klären"', 1)
    (tmp_path / "p.bpmn").write_bytes(text.encode("latin-1"))
    with pytest.raises(engine.DeployRejected) as err:
        engine.deploy(session, [tmp_path / "p.bpmn"], actor="admin")
    [problem] = err.value.problems
    assert problem.line == 4 and "0xe4" in problem.message


def test_folder_that_cannot_be_listed_is_a_problem(session, tmp_path, monkeypatch):
    def unreadable(self, pattern):  # what listing a folder without the x permission raises
        raise PermissionError(13, "Permission denied", str(self / "private"))

    monkeypatch.setattr(Path, "rglob", unreadable)
    with pytest.raises(engine.DeployRejected) as err:
        engine.deploy(session, [tmp_path], actor="admin")
    [problem] = err.value.problems
    assert problem.message == "cannot read: Permission denied" and problem.file == str(tmp_path / "private")


def test_exception_inside_spiffworkflow_parser_is_located_and_logged(session, tmp_path, monkeypatch, caplog):
    def broken(self):
        raise KeyError("value")

    monkeypatch.setattr(SpiffTaskParser, "parse_extensions", broken)
    (tmp_path / "p.bpmn").write_text(_process(SIMPLE))
    with caplog.at_level(logging.ERROR, logger="caseflow.engine"), pytest.raises(engine.DeployRejected) as err:
        engine.deploy(session, [tmp_path / "p.bpmn"], actor="admin")
    [problem] = err.value.problems
    assert problem.element == "s" and problem.line == 4 and problem.file == "p.bpmn"
    assert "KeyError" in problem.message and "logged" in problem.message
    [record] = [r for r in caplog.records if r.name == "caseflow.engine"]
    assert record.exc_info is not None and record.exc_info[0] is KeyError


def test_exception_anywhere_in_validation_becomes_a_problem(session, monkeypatch, caplog):
    def broken(files):
        raise ValueError("manifest checker bug")

    monkeypatch.setattr(manifest, "problems", broken)
    with caplog.at_level(logging.ERROR, logger="caseflow.engine"), pytest.raises(engine.DeployRejected) as err:
        engine.deploy(session, [MIWG / "Activiti-Designer__A.1.0-export.bpmn"], actor="admin")
    assert "manifest checker bug" in str(err.value)
    assert any(r.exc_info and r.exc_info[0] is ValueError for r in caplog.records if r.name == "caseflow.engine")
    assert session.scalars(select(store.ProcessDefinition)).first() is None


def test_cli_refuses_a_file_that_crashed_it(caseflow):
    code, _, err = caseflow("deploy", str(MIWG / "GenMyModel__B.1.0-export.bpmn"))
    assert code == engine.describe_error(engine.DeployRejected).exit_code
    assert "deployment refused" in err and "has no calledElement" in err and ":75 [" in err
    assert "Traceback" not in err


def test_cli_shows_an_unexpected_error_in_one_line_and_the_traceback_on_request(caseflow, monkeypatch):
    def broken(self):
        raise KeyError("value")

    monkeypatch.setattr(SpiffTaskParser, "parse_extensions", broken)
    path = str(MIWG / "Activiti-Designer__A.1.0-export.bpmn")
    code, _, err = caseflow("deploy", path)
    assert code == engine.describe_error(engine.DeployRejected).exit_code
    assert "error: unexpected KeyError while parsing" in err and "Traceback" not in err
    code, _, err = caseflow("deploy", "--traceback", path)
    assert code != 0 and "Traceback" in err and "parse_extensions" in err
