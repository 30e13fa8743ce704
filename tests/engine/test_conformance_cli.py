"""The conformance corpus (BPMN written by other tools) through the `caseflow` CLI."""
from __future__ import annotations

import datetime as dt


def test_approvals_runs_to_completion_after_nine_tasks(caseflow, conformance):
    code, out, _ = caseflow("deploy", str(conformance / "Approvals.bpmn"), "--json")
    assert code == 0
    assert sorted(p["key"] for p in out["processes"]) == ["Approvals", "First_Approval_Wins", "Parallel_Approvals_SP"]
    code, view, _ = caseflow("start", "Approvals", "--json", "--user", "tester")
    assert code == 0
    roles = set()
    completed = 0
    while view["tasks"]:
        task = view["tasks"][0]
        roles.add(task["role"])
        code, view, err = caseflow("complete", task["id"], "--json", "--user", "tester")
        assert code == 0, err
        completed += 1
    assert view["status"] == "completed"
    assert completed == 9
    # lanes become roles (the file also has an "Operator" lane in its parallel sub-process)
    assert {"supervisor", "manager"} <= roles <= {"test", "supervisor", "manager", "operator"}


def test_boundary_timer_fires_while_user_task_stays_ready(caseflow, conformance, frozen_clock):
    assert caseflow("deploy", str(conformance / "boundary_timer_on_task.bpmn"))[0] == 0
    code, view, _ = caseflow("start", "test_timer", "--json")
    assert code == 0 and view["status"] == "running"
    assert view["data"].get("timer_called") is False
    assert len(view["timers"]) == 1
    frozen_clock.advance(dt.timedelta(milliseconds=5))
    code, fired, _ = caseflow("worker", "--once", "--json")
    assert code == 0 and fired == {"fired": 1}
    code, view, _ = caseflow("show", str(view["id"]), "--json")
    assert view["data"]["timer_called"] is True
    assert [t["title"] for t in view["tasks"]] == ["Say Anything"]
    code, view, _ = caseflow("complete", view["tasks"][0]["id"], "--json")
    assert view["status"] == "completed"
    assert [e["kind"] for e in caseflow("show", str(view["id"]), "--json")[1]["audit"]].count("timer_fired") == 1


def test_intermediate_timer_is_completed_by_the_worker(caseflow, conformance, frozen_clock):
    caseflow("deploy", str(conformance / "timer.bpmn"))
    code, view, _ = caseflow("start", "timer", "--json")
    assert view["status"] == "waiting" and view["tasks"] == []
    due = dt.datetime.fromisoformat(view["timers"][0]["due_at"])
    assert due == frozen_clock.now() + dt.timedelta(seconds=0.25)
    assert caseflow("worker", "--once", "--json")[1] == {"fired": 0}  # not due yet
    frozen_clock.advance(dt.timedelta(seconds=0.3))
    assert caseflow("worker", "--once", "--json")[1] == {"fired": 1}
    assert caseflow("show", str(view["id"]), "--json")[1]["status"] == "completed"


def test_gateway_without_default(caseflow, conformance):
    caseflow("deploy", str(conformance / "exclusive_gateway_no_default.bpmn"))
    code, view, _ = caseflow("start", "NoDefaultGateway", "--data", '{"x": 2}', "--json")
    assert code == 0 and view["status"] == "completed"
    code, out, err = caseflow("start", "NoDefaultGateway", "--data", '{"x": 1}', "--json")
    assert code != 0  # the instance is stored, but scripts learn that it stopped
    assert "Gateway_CheckValue" in err and err.strip().count("\n") == 0
    view = out  # the JSON view is printed all the same
    assert view["status"] == "error"
    assert "Gateway_CheckValue" in view["error"]["message"] and view["error"]["task"] == "Gateway_CheckValue"
    code, shown, _ = caseflow("show", str(view["id"]), "--json")
    assert shown["data"]["x"] == 1  # nothing lost
    assert any(e["kind"] == "error" for e in shown["audit"])
    code, out, _ = caseflow("show", str(view["id"]))
    assert code == 0 and "error" in out  # showing a failed instance is not itself a failure


def test_missing_form_file_is_refused_and_nothing_stored(caseflow, conformance):
    code, _, err = caseflow("deploy", str(conformance / "user_task_variable.bpmn"))
    assert code != 0
    assert "pizza_form.json" in err and "user_task_one" in err and "user_task_two" in err
    assert caseflow("processes", "--json")[1] == {"processes": []}


def test_unregistered_operators_are_refused_and_nothing_stored(caseflow, conformance):
    code, _, err = caseflow("deploy", str(conformance / "service_task.bpmn"))
    assert code != 0
    assert "bamboohr/GetPayRate" in err and "weather/CurrentTemp" in err
    assert caseflow("processes", "--json")[1] == {"processes": []}


def test_redeploying_the_same_content_reports_unchanged(caseflow, conformance):
    first = caseflow("deploy", str(conformance / "timer.bpmn"), "--json")[1]["processes"][0]
    again = caseflow("deploy", str(conformance / "timer.bpmn"), "--json")[1]["processes"][0]
    assert (first["status"], again["status"]) == ("deployed", "unchanged")
    assert first["version"] == again["version"] == 1


def test_cli_errors_are_one_line_with_non_zero_exit(caseflow):
    code, _, err = caseflow("start", "nope")
    assert code != 0 and err.strip().count("\n") == 0 and "nope" in err
    code, _, err = caseflow("start", "nope", "--data", "{bad json")
    assert code != 0 and "not valid JSON" in err
    code, _, err = caseflow("complete", "no-such-task")
    assert code != 0 and "no task" in err

