"""Deployment validation: unsafe XML, schema errors, missing files; nothing stored on error."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import sandbox_diagrams as sd
from sqlalchemy import select

import engine
from caseflow import store

DATA = Path(__file__).parent / "data"

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="lol" isExecutable="true"><bpmn:documentation>&lol9;</bpmn:documentation></bpmn:process>
</bpmn:definitions>
"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="xxe" isExecutable="true"><bpmn:documentation>&xxe;</bpmn:documentation></bpmn:process>
</bpmn:definitions>
"""


def _deploy_text(session, tmp_path: Path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return engine.deploy(session, [path], actor="admin")


@pytest.mark.parametrize("text", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_entity_attacks_are_refused_fast(session, tmp_path, text):
    engine.deploy(session, [DATA], actor="admin")
    started = time.perf_counter()
    with pytest.raises(engine.DeployRejected) as err:
        _deploy_text(session, tmp_path, "evil.bpmn", text)
    assert time.perf_counter() - started < 1.0
    assert "DOCTYPE" in str(err.value)
    assert [d.key for d in session.scalars(select(store.ProcessDefinition))] == ["two_tasks"]


def test_malformed_xml_reports_file_and_line(session, tmp_path):
    with pytest.raises(engine.DeployRejected) as err:
        _deploy_text(session, tmp_path, "broken.bpmn", "<a>\n<b>\n</a>")
    [problem] = err.value.problems
    assert problem.file == "broken.bpmn" and problem.line is not None and "well-formed" in problem.message


def test_schema_violation_is_reported_with_line(session, tmp_path):
    text = (DATA / "two_tasks.bpmn").read_text().replace("<bpmn:incoming>f1</bpmn:incoming>",
                                                        "<bpmn:bogus>f1</bpmn:bogus>")
    (tmp_path / "start.schema.json").write_text((DATA / "start.schema.json").read_text())
    (tmp_path / "amount.schema.json").write_text((DATA / "amount.schema.json").read_text())
    with pytest.raises(engine.DeployRejected) as err:
        _deploy_text(session, tmp_path, "bad.bpmn", text)
    assert err.value.problems[0].line is not None
    assert session.scalars(select(store.ProcessDefinition)).first() is None


def test_invalid_json_schema_form_is_refused(session, tmp_path):
    for f in DATA.iterdir():
        if f.is_file():
            (tmp_path / f.name).write_text(f.read_text())
    (tmp_path / "amount.schema.json").write_text('{"type": "objekt"}')
    with pytest.raises(engine.DeployRejected) as err:
        engine.deploy(session, [tmp_path], actor="admin")
    assert any(p.file == "amount.schema.json" and "JSON Schema" in p.message for p in err.value.problems)


def test_unknown_call_activity_target_is_refused(session, tmp_path):
    text = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="caller" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>a</bpmn:outgoing></bpmn:startEvent>
    <bpmn:callActivity id="call" calledElement="nowhere"><bpmn:incoming>a</bpmn:incoming><bpmn:outgoing>b</bpmn:outgoing></bpmn:callActivity>
    <bpmn:endEvent id="e"><bpmn:incoming>b</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="a" sourceRef="s" targetRef="call"/>
    <bpmn:sequenceFlow id="b" sourceRef="call" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""  # noqa: E501  (a diagram: its lines are kept whole)
    with pytest.raises(engine.DeployRejected) as err:
        _deploy_text(session, tmp_path, "caller.bpmn", text)
    assert "nowhere" in str(err.value)


def test_missing_path_is_refused(session, tmp_path):
    with pytest.raises(engine.DeployRejected) as err:
        engine.deploy(session, [tmp_path / "nope"], actor="admin")
    assert "no such file" in str(err.value)


def test_task_id_equal_to_its_operator_name_gets_a_clear_message(session, tmp_path):
    text = (Path(__file__).parent / "data_service" / "grade.bpmn").read_text()
    text = text.replace('id="grade" name="Grade complaint"', 'id="grade_complaint" name="Grade complaint"')
    text = text.replace('targetRef="grade"', 'targetRef="grade_complaint"')
    text = text.replace('sourceRef="grade"', 'sourceRef="grade_complaint"')
    with pytest.raises(engine.DeployRejected) as err:
        _deploy_text(session, tmp_path, "clash.bpmn", text)
    [problem] = err.value.problems
    assert problem.element == "grade_complaint" and problem.line and "another id" in problem.message


@pytest.mark.parametrize(("steps", "expected"), [
    ([sd.timer("wait", '"PT2 SECONDS"')], "timer expression 'PT2 SECONDS' is not an ISO 8601 duration"),
    ([sd.timer("wait", "42")], "timer expression '42' is not a text"),
    ([sd.script("compute", "")], "script task without a script"),
    ([sd.script("compute", "x = 1\n" * 5000)], "30000 characters, more than the 20000 a script may have"),
], ids=["malformed-duration", "number", "no-script", "huge-script"])
def test_what_would_fail_every_run_is_refused_at_deploy(session, tmp_path, steps, expected):
    with pytest.raises(engine.DeployRejected) as err:
        engine.deploy(session, [sd.write_bundle(tmp_path / "b", "every_run", sd.chain("every_run", *steps))],
                      actor="admin")
    assert any(expected in p.message for p in err.value.problems), err.value.problems


def test_a_timer_computed_from_the_data_is_checked_when_it_runs(session, tmp_path):
    """A duration read from the case data cannot be checked at deploy; a malformed one stops that case
    with an error (as a failing script does), never the request."""
    bundle = sd.write_bundle(tmp_path / "b", "data_timer", sd.chain("data_timer", sd.timer("wait", "wait_for"),
                                                                    sd.user("check")))
    engine.deploy(session, [bundle], actor="admin")
    good = engine.start(session, "data_timer", {"wait_for": "PT1H"}, actor="admin")
    assert good["status"] == "waiting"
    bad = engine.start(session, "data_timer", {"wait_for": "PT2 SECONDS"}, actor="admin")
    assert bad["status"] == "error" and bad["error"] == {"message": "Invalid duration", "task": "wait"}
