"""A complaint whose every action runs as if in a newly started process (after a server restart,
or from the CLI): nothing kept in memory, neither the live workflows nor the parsed versions.

SpiffWorkflow connects a signal-started event subprocess (the complaint's deadline watches) to
its process only when the signal first comes, in the parsed spec itself. A case read back in a
process that parsed the version afresh must get those connections back
(``adapters.reconnect_triggered``), else its next step fails ("No input task connected").
"""
from __future__ import annotations

import functools

import pytest
from complaint_cases import REACT_BY, utc

import engine
from caseflow._engine import specs, workflows

from complaint_helpers import (
    confirm,
    d1,
    d2,
    d3,
    d4,
    feedback,
    fire,
    implement,
    manager_decides,
    plan,
    quality_registration,
    ready,
    start,
    verify_and_close,
)


@pytest.fixture
def every_action_in_a_new_process(monkeypatch):
    """Each engine action forgets the live workflows and the parsed versions first."""

    def fresh(action):
        @functools.wraps(action)
        def call(*args, **kwargs):
            workflows.WORKFLOWS.clear()
            specs.SPECS.clear()
            return action(*args, **kwargs)
        return call

    for name in ("start", "complete", "fire_due_timers", "claim", "unclaim", "retry", "update_data", "cancel"):
        monkeypatch.setattr(engine, name, fresh(getattr(engine, name)))


def test_a_complaint_runs_to_closure_with_a_restart_before_every_action(cases, every_action_in_a_new_process):
    iid = start(cases, quality_registration())["id"]
    confirm(cases, iid)  # the watches started at registration: the step that failed after a restart
    tasks = ready(cases, iid)
    assert list(tasks) == ["d1_describe"] and utc(tasks["d1_describe"]["due_at"]) == utc(REACT_BY)
    d1(cases, iid)
    d2(cases, iid)
    d3(cases, iid)
    d4(cases, iid)
    plan(cases, iid)
    manager_decides(cases, iid, "approve")
    implement(cases, iid)
    feedback(cases, iid, satisfied=True, satisfaction=5)
    v = verify_and_close(cases, iid)
    assert v["status"] == "completed", v["error"]
    assert v["data"]["outcome"] == "closed"


def test_the_deadline_watch_escalates_after_a_restart(cases, frozen_clock, every_action_in_a_new_process):
    """The reaction watch, started before the restart, still fires its escalation timer after it."""
    iid = start(cases, quality_registration())["id"]
    confirm(cases, iid)
    assert fire(cases, frozen_clock, days=30) >= 1
    view = engine.show(cases, iid)
    assert view["status"] == "running", view["error"]
    assert {"d1_describe"} < set(ready(cases, iid)), ready(cases, iid)  # the escalation task(s) came
