"""Scenario tests of the complaint's deadlines: overrides, escalations (T-01, T-02, T-03), the
special-major trigger and diagram parameters (split from test_complaint.py; same set-up)."""
from __future__ import annotations

import pytest
from complaint_cases import (
    CLOSE_BY,
    CONTAINMENT_BY,
    REACT_BY,
    at,
    escalations,
    to_handling,
    utc,
)

import engine

from complaint_helpers import (
    acknowledge,
    audit,
    complete,
    confirm,
    d1,
    d2,
    d3,
    d4,
    data,
    feedback,
    general_quality_registration,
    implement,
    manager_decides,
    plan,
    quality_registration,
    ready,
    ready_names,
    start,
    verify_and_close,
    view,
)


def test_override_needs_a_reason_and_recomputes_deadlines(cases, frozen_clock):
    iid = start(cases, quality_registration())["id"]
    with pytest.raises(engine.InvalidData) as err:
        confirm(cases, iid, override_grade=True, confirmed_kpi_class="general")
    assert {"override_reason", "confirmed_urgency", "confirmed_dept"} <= set(err.value.fields)
    confirm(cases, iid, override_grade=True, override_reason="Defects are cosmetic after re-inspection.",
            confirmed_kpi_class="general", confirmed_urgency="general", confirmed_special_major=False,
            confirmed_dept="logistics")
    d = data(cases, iid)
    assert (d["kpi_class"], d["kpi_weight"], d["urgency"], d["responsible_dept"]) == (
        "general", 1, "general", "logistics")
    assert d["grade_overridden"] is True and d["grade_confirmed"] is True
    assert d["proposed_grade"] == {"kpi_class": "major", "kpi_weight": 2, "urgency": "serious",
                                   "special_major": False, "responsible_dept": "quality"}
    assert (d["react_by"], d["containment_by"], d["close_by"]) == (REACT_BY, None, None)  # follows the override
    assert ready(cases, iid)["d1_describe"]["role"] == "logistics"
    assert ready_names(cases, iid) == {"d1_describe"}  # confirm_grade not asked again

    d1(cases, iid, dept="logistics")
    assert ready_names(cases, iid) == {"d3_root_cause"}  # no 2D: not serious any more
    frozen_clock.set(at(2026, 3, 12))  # past the proposal's containment and close deadlines
    assert engine.fire_due_timers(cases) == 0
    assert escalations(cases, iid) == []


def test_override_to_serious_adds_containment_and_closure_deadlines(cases):
    iid = start(cases, general_quality_registration())["id"]
    assert data(cases, iid)["urgency"] == "general"
    confirm(cases, iid, override_grade=True, override_reason="Line stop reported by phone.",
            confirmed_kpi_class="general", confirmed_urgency="serious", confirmed_special_major=False,
            confirmed_dept="quality")
    d = data(cases, iid)
    assert (d["urgency"], d["containment_by"], d["close_by"]) == ("serious", CONTAINMENT_BY, CLOSE_BY)
    d1(cases, iid)
    assert utc(ready(cases, iid)["d2_contain"]["due_at"]) == utc(CONTAINMENT_BY)


# --- deadlines and escalation -----------------------------------------------------------------


def test_late_reaction_escalates_to_manager_then_general_manager(cases, frozen_clock):
    iid = start(cases, general_quality_registration())["id"]  # not serious: no containment deadline
    frozen_clock.set(at(2026, 3, 4, 18, 0, 1))
    assert engine.fire_due_timers(cases) == 1
    tasks = ready(cases, iid)
    assert set(tasks) == {"confirm_grade", "manager_react_overdue"}  # the task stays with QA
    assert tasks["manager_react_overdue"]["role"] == "manager"
    assert escalations(cases, iid) == [("react_by", "manager")]
    assert audit(cases, iid, "escalation")[0]["payload"]["due"] == REACT_BY
    assert [(e["actor"], e["task"]) for e in audit(cases, iid, "timer_fired")] == [("timer", "React deadline passed")]

    frozen_clock.set(at(2026, 3, 5, 18, 0, 1))  # 24 h later, still not confirmed
    assert engine.fire_due_timers(cases) == 1
    tasks = ready(cases, iid)
    assert set(tasks) == {"confirm_grade", "manager_react_overdue", "gm_react_overdue"}
    assert tasks["gm_react_overdue"]["role"] == "general_manager"
    assert escalations(cases, iid) == [("react_by", "manager"), ("react_by", "general_manager")]

    acknowledge(cases, iid, "manager_react_overdue", "manager")
    acknowledge(cases, iid, "gm_react_overdue", "general_manager")
    confirm(cases, iid)
    v = view(cases, iid)
    assert not [t for t in v["timers"] if t["task"].startswith("React")]
    assert ready_names(cases, iid) == {"d1_describe"}


def test_reaction_in_time_never_escalates(cases, frozen_clock):
    iid = start(cases, quality_registration())["id"]
    confirm(cases, iid)
    d1(cases, iid)
    d2(cases, iid)  # containment done the same morning
    frozen_clock.set(at(2026, 3, 8))  # after react_by + 24 h and containment_by, before close_by
    assert engine.fire_due_timers(cases) == 0
    assert escalations(cases, iid) == [] and ready_names(cases, iid) == {"d3_root_cause"}


def test_late_containment_escalates(cases, frozen_clock):
    iid = to_handling(cases)
    d1(cases, iid)
    frozen_clock.set(at(2026, 3, 3, 9, 0, 1))
    assert engine.fire_due_timers(cases) == 1
    tasks = ready(cases, iid)
    assert set(tasks) == {"d2_contain", "manager_containment_overdue"}
    assert tasks["manager_containment_overdue"]["role"] == "manager"
    frozen_clock.set(at(2026, 3, 3, 21, 0, 1))  # + 12 h
    assert engine.fire_due_timers(cases) == 1
    assert ready(cases, iid)["gm_containment_overdue"]["role"] == "general_manager"
    assert escalations(cases, iid) == [("containment_by", "manager"), ("containment_by", "general_manager")]
    d2(cases, iid)
    assert not [t for t in view(cases, iid)["timers"] if t["task"].startswith("Containment")]
    assert ready_names(cases, iid) == {"d3_root_cause", "manager_containment_overdue", "gm_containment_overdue"}

    # Escalation tasks raised by the containment watch keep the case open until they are answered
    # (the complaint itself is already closed: its outcome is recorded).
    d3(cases, iid)
    d4(cases, iid)
    plan(cases, iid)
    manager_decides(cases, iid, "approve")
    implement(cases, iid)
    feedback(cases, iid)
    v = verify_and_close(cases, iid)
    assert v["status"] == "running" and v["data"]["outcome"] == "closed"
    assert ready_names(cases, iid) == {"manager_containment_overdue", "gm_containment_overdue"}
    acknowledge(cases, iid, "manager_containment_overdue", "manager")
    v = acknowledge(cases, iid, "gm_containment_overdue", "general_manager")
    assert v["status"] == "completed" and v["data"]["outcome"] == "closed"


def test_late_closure_escalates_and_the_case_still_closes(cases, frozen_clock):
    iid = to_handling(cases)
    d1(cases, iid)
    d2(cases, iid)
    d3(cases, iid)
    frozen_clock.set(at(2026, 3, 9, 9, 0, 1))
    assert engine.fire_due_timers(cases) == 1
    tasks = ready(cases, iid)
    assert set(tasks) == {"d4_actions", "manager_close_overdue"}
    assert tasks["manager_close_overdue"]["role"] == "manager"
    frozen_clock.set(at(2026, 3, 11, 9, 0, 1))  # + 48 h
    assert engine.fire_due_timers(cases) == 1
    assert ready(cases, iid)["gm_close_overdue"]["role"] == "general_manager"
    assert escalations(cases, iid) == [("close_by", "manager"), ("close_by", "general_manager")]

    acknowledge(cases, iid, "manager_close_overdue", "manager")
    d4(cases, iid)
    plan(cases, iid)
    manager_decides(cases, iid, "approve")
    implement(cases, iid)
    feedback(cases, iid)
    v = verify_and_close(cases, iid)
    assert v["status"] == "running"  # the GM's escalation task is still open
    assert ready_names(cases, iid) == {"gm_close_overdue"}
    v = acknowledge(cases, iid, "gm_close_overdue", "general_manager")
    assert v["status"] == "completed"
    assert v["data"]["outcome"] == "closed"
    assert v["timers"] == []


def test_unresolved_after_two_months_becomes_special_major(cases, frozen_clock):
    iid = to_handling(cases, general_quality_registration())
    d1(cases, iid)
    assert ready_names(cases, iid) == {"d3_root_cause"}
    frozen_clock.set(at(2026, 5, 2, 9, 0, 1))
    assert engine.fire_due_timers(cases) == 1
    tasks = ready(cases, iid)
    assert set(tasks) == {"d3_root_cause", "gm_special_major_overdue"}
    assert tasks["gm_special_major_overdue"]["role"] == "general_manager"
    assert escalations(cases, iid) == [("special_major_by", "general_manager")]
    acknowledge(cases, iid, "gm_special_major_overdue", "general_manager")

    d3(cases, iid)
    d4(cases, iid)
    plan(cases, iid)
    manager_decides(cases, iid, "approve")
    # SEV-R-03: the plan of a complaint that became special major needs the GM as well.
    assert ready_names(cases, iid) == {"gm_approve_plan"}
    complete(cases, iid, "gm_approve_plan", {"gm_plan_decision": "approve"})
    implement(cases, iid)
    feedback(cases, iid)
    v = verify_and_close(cases, iid)
    assert v["status"] == "completed"
    d = v["data"]
    assert (d["outcome"], d["special_major"], d["unresolved_overdue"]) == ("closed", True, True)
    assert d["grading_rules"].count("SEV-R-03") == 1


def test_special_major_timer_is_off_for_complaints_already_special_major(cases):
    iid = start(cases, quality_registration(litigation=True))["id"]
    confirm(cases, iid)
    complete(cases, iid, "gm_acknowledge_special", {"gm_acknowledged": True})
    timers = {t["task"]: utc(t["due_at"]) for t in view(cases, iid)["timers"]}
    assert timers["Unresolved 2 months (SEV-R-03)"].year == 9999
    assert timers["Closure deadline passed"] == utc(CLOSE_BY)


# --- process owner changes a threshold (acceptance 4) -----------------------------------------


