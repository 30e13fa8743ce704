"""``engine.try_bundle``: a bundle's process run on sample data in memory, bounded, with nothing stored."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

import engine
from caseflow import bundles, store
from caseflow._engine import try_run

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs" targetNamespace="http://caseflow.test">\n'
        '<bpmn:process id="{key}" isExecutable="true">\n')
TAIL = "</bpmn:process>\n</bpmn:definitions>\n"

#: start -> count (x += 1) -> gateway: x < 10**9 loops back to count, else end. It never ends in practice.
LOOP = HEAD.format(key="looping") + """
<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:scriptTask id="count" name="Count"><bpmn:incoming>f1</bpmn:incoming><bpmn:incoming>f_again</bpmn:incoming>
  <bpmn:outgoing>f2</bpmn:outgoing><bpmn:script>x = x + 1</bpmn:script></bpmn:scriptTask>
<bpmn:exclusiveGateway id="more" default="f_done"><bpmn:incoming>f2</bpmn:incoming>
  <bpmn:outgoing>f_again</bpmn:outgoing><bpmn:outgoing>f_done</bpmn:outgoing></bpmn:exclusiveGateway>
<bpmn:endEvent id="end"><bpmn:incoming>f_done</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="count"/>
<bpmn:sequenceFlow id="f2" sourceRef="count" targetRef="more"/>
<bpmn:sequenceFlow id="f_again" sourceRef="more" targetRef="count">
  <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">x &lt; 10**9</bpmn:conditionExpression>
</bpmn:sequenceFlow>
<bpmn:sequenceFlow id="f_done" sourceRef="more" targetRef="end"/>
""" + TAIL

#: start -> check (a script dividing by the data's `n`) -> end.
DIVIDE = HEAD.format(key="dividing") + """
<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:scriptTask id="divide" name="Divide"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
  <bpmn:script>share = 100 / n</bpmn:script></bpmn:scriptTask>
<bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="divide"/>
<bpmn:sequenceFlow id="f2" sourceRef="divide" targetRef="end"/>
""" + TAIL


def _try(session, files: dict[str, str], key: str, data: dict | None = None, answers: list | None = None) -> dict:
    return engine.try_bundle(session, bundles.Bundle(source="test", files=files), key, data, answers or [])


def _rows(session) -> dict[str, int]:
    return {t.name: int(session.scalar(select(func.count()).select_from(t)) or 0)
            for t in store.Base.metadata.sorted_tables}


def test_a_loop_that_never_ends_is_stopped_with_a_clear_message(database):
    with database.session() as s:
        started = time.monotonic()
        result = _try(s, {"looping.bpmn": LOOP}, "looping", {"x": 0})
        assert time.monotonic() - started < try_run.MAX_SECONDS + 5
        assert result["status"] == "error", result["error"]
        assert "a loop that does not end?" in result["error"]["message"]
        assert result["error"]["element"] in ("count", "more")
        assert result["path"][:3] == ["start", "count", "more"] and result["flows"][:3] == ["f1", "f2", "f_again"]
        seeded = {store.DirectoryVersion.__tablename__: 1}  # the migration's one row; nothing else
        assert _rows(s) == {t.name: seeded.get(t.name, 0) for t in store.Base.metadata.sorted_tables}


def test_the_step_and_time_budgets_stop_a_try(database, monkeypatch):
    with database.session() as s:
        monkeypatch.setattr(try_run, "MAX_STEPS", 25)
        result = _try(s, {"looping.bpmn": LOOP}, "looping", {"x": 0})
        assert result["status"] == "error" and result["steps"] == 26
        assert "more than 25 steps" in result["error"]["message"]
        monkeypatch.setattr(try_run, "MAX_STEPS", 500)
        monkeypatch.setattr(try_run, "MAX_SECONDS", 0.0)
        result = _try(s, {"looping.bpmn": LOOP}, "looping", {"x": 0})
        assert result["status"] == "error" and "took longer than 0 s" in result["error"]["message"]
        assert result["path"] == [] and result["steps"] == 1


def test_a_failing_script_is_the_end_state_with_its_element(database):
    with database.session() as s:
        result = _try(s, {"dividing.bpmn": DIVIDE}, "dividing", {"n": 0})
        assert result["status"] == "error" and result["error"]["element"] == "divide"
        assert "division by zero" in result["error"]["message"]
        assert result["path"] == ["start"]
        done = _try(s, {"dividing.bpmn": DIVIDE}, "dividing", {"n": 4})
        assert done["status"] == "completed" and done["error"] is None
        assert done["path"] == ["start", "divide", "end"] and done["flows"] == ["f1", "f2"]
        assert done["outputs"] == [{"element": "divide", "name": "Divide", "operator": None, "values": {"share": 25.0}}]
        assert done["data"]["share"] == 25.0


def test_a_bundle_that_would_not_deploy_is_refused_and_bad_input_named(database):
    with database.session() as s:
        with pytest.raises(engine.DeployRejected):
            _try(s, {"dividing.bpmn": DIVIDE.replace("100 / n", "import os")}, "dividing")
        with pytest.raises(engine.InvalidData) as err:
            _try(s, {"dividing.bpmn": DIVIDE}, "nothing")
        assert "process" in err.value.fields
        with pytest.raises(engine.InvalidData) as err:
            _try(s, {"dividing.bpmn": DIVIDE}, "dividing", {"today": 1})  # a script helper's name
        assert "data.today" in err.value.fields
        with pytest.raises(engine.InvalidData) as err:
            _try(s, {"dividing.bpmn": DIVIDE}, "dividing", {}, ["default"] * (try_run.MAX_ANSWERS + 1))
        assert "answers" in err.value.fields
