"""Caseflow issue 12 (part F): every deadline runs from receipt, every number is a parameter.

Scenarios through the engine API with the frozen clock (Monday 2026-03-02 09:00 Asia/Shanghai,
``conftest.frozen_clock``) and ``engine.fire_due_timers``:

* T-01: the reaction clock starts at registration and runs while the intake check loops;
* T-02: containment is due 24 h after receipt whatever task the case is in (1D still open,
  grade not yet confirmed, an override that makes the complaint serious);
* T-11: a repair application unanswered escalates to the manager, then the general manager,
  counted from ``application_received_at`` when the caller gives it;
* T-12: a repair overrun puts an escalation task in the manager's inbox;
* the KPI weights, a general-manager grace period and ``await_device_days`` are changed in a
  copy of the diagrams and redeployed: new cases follow, running cases keep their version.
"""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from repair_cases import APPLICATION, caller_data_passes, do, to_device_wait, to_diagnosis

import engine

from complaint_helpers import (
    COMPLAINT_BUNDLE,
    REPAIR_BUNDLE,
    acknowledge,
    audit,
    complete,
    confirm,
    d1,
    d2,
    data,
    deploy,
    general_quality_registration,
    quality_registration,
    ready,
    ready_names,
    start,
    view,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
REACT_BY = "2026-03-04T18:00:00+08:00"  # Mon 2 March 09:00 + 2 working days, 18:00


def at(y: int, m: int, d: int, hh: int = 9, mm: int = 0, ss: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, ss, tzinfo=SHANGHAI)


def escalations(session, iid: int) -> list[tuple[str, str]]:
    return [(e["payload"]["deadline"], e["payload"]["level"]) for e in audit(session, iid, "escalation")]


@pytest.fixture
def cases(session, frozen_clock):
    deploy(session)
    return session


# --- T-01: the reaction clock starts at registration --------------------------------------------


def test_intake_loop_does_not_stop_the_reaction_clock(cases, frozen_clock):
    reg = quality_registration()
    del reg["ship_date"]
    iid = start(cases, reg)["id"]  # registered Monday 09:00, intake incomplete
    assert ready_names(cases, iid) == {"complete_intake"}
    assert data(cases, iid)["react_by"] == REACT_BY

    frozen_clock.set(at(2026, 3, 4, 18, 0, 1))  # 2 working days later, intake still looping
    assert engine.fire_due_timers(cases) == 1
    assert ready(cases, iid)["manager_react_overdue"]["role"] == "manager"
    assert escalations(cases, iid) == [("react_by", "manager")]
    assert audit(cases, iid, "escalation")[0]["payload"]["due"] == REACT_BY

    frozen_clock.set(at(2026, 3, 5, 10))  # Thursday: intake completed, 3 working days after registration
    complete(cases, iid, "complete_intake", {"ship_date": "2026-02-20"})
    d = data(cases, iid)
    assert (d["received_at"], d["react_by"]) == ("2026-03-02T09:00:00+08:00", REACT_BY)  # not from Thursday
    assert d["containment_by"] == "2026-03-03T09:00:00+08:00" and d["close_by"] == "2026-03-09T09:00:00+08:00"
    assert d["special_major_by"] == "2026-05-02T09:00:00+08:00"

    frozen_clock.set(at(2026, 3, 5, 18, 0, 1))  # react_by + gm_react_grace_h (24 h)
    engine.fire_due_timers(cases)
    assert ("react_by", "general_manager") in escalations(cases, iid)
    assert ready(cases, iid)["gm_react_overdue"]["role"] == "general_manager"
    assert escalations(cases, iid).count(("react_by", "manager")) == 1  # no second watch

    confirm(cases, iid)
    assert not [t for t in view(cases, iid)["timers"] if t["task"].startswith("React")]


def test_receipt_time_entered_at_registration_sets_every_deadline(cases):
    d = start(cases, quality_registration(received_at="2026-03-01T20:00:00+08:00"))["data"]  # a Sunday
    assert (d["received_at"], d["react_by"], d["react_gm_by"]) == (
        "2026-03-01T20:00:00+08:00", "2026-03-03T18:00:00+08:00", "2026-03-04T18:00:00+08:00")
    assert (d["containment_by"], d["containment_gm_by"]) == ("2026-03-02T20:00:00+08:00", "2026-03-03T08:00:00+08:00")
    assert (d["close_by"], d["close_gm_by"]) == ("2026-03-08T20:00:00+08:00", "2026-03-10T20:00:00+08:00")


# --- T-02: containment within 24 h of receipt, whatever the task --------------------------------


def test_containment_escalates_while_1d_is_still_open(cases, frozen_clock):
    iid = start(cases, quality_registration())["id"]  # serious: containment_by Tue 09:00
    frozen_clock.set(at(2026, 3, 2, 10))
    confirm(cases, iid)
    assert ready_names(cases, iid) == {"d1_describe"}

    frozen_clock.set(at(2026, 3, 3, 10))  # 25 h after receipt, 1D still open
    assert engine.fire_due_timers(cases) == 1
    tasks = ready(cases, iid)
    assert set(tasks) == {"d1_describe", "manager_containment_overdue"}
    assert tasks["manager_containment_overdue"]["role"] == "manager"
    assert escalations(cases, iid) == [("containment_by", "manager")]

    frozen_clock.set(at(2026, 3, 3, 21, 0, 1))  # containment_by + gm_containment_grace_h (12 h)
    assert engine.fire_due_timers(cases) == 1
    assert ready(cases, iid)["gm_containment_overdue"]["role"] == "general_manager"
    assert escalations(cases, iid) == [("containment_by", "manager"), ("containment_by", "general_manager")]

    d1(cases, iid)
    d2(cases, iid)  # containment recorded: the watch ends, the escalation tasks stay
    assert not [t for t in view(cases, iid)["timers"] if t["task"].startswith("Containment")]
    assert {"manager_containment_overdue", "gm_containment_overdue"} <= ready_names(cases, iid)
    acknowledge(cases, iid, "manager_containment_overdue", "manager")
    acknowledge(cases, iid, "gm_containment_overdue", "general_manager")


def test_containment_escalates_while_the_grade_is_not_yet_confirmed(cases, frozen_clock):
    iid = start(cases, quality_registration())["id"]
    frozen_clock.set(at(2026, 3, 3, 9, 0, 1))
    assert engine.fire_due_timers(cases) == 1
    assert ready_names(cases, iid) == {"confirm_grade", "manager_containment_overdue"}


def test_override_to_serious_starts_the_containment_watch(cases, frozen_clock):
    iid = start(cases, general_quality_registration())["id"]
    assert not [t for t in view(cases, iid)["timers"] if t["task"].startswith("Containment")]
    confirm(cases, iid, override_grade=True, override_reason="Line stop reported by phone.",
            confirmed_kpi_class="general", confirmed_urgency="serious", confirmed_special_major=False,
            confirmed_dept="quality")
    frozen_clock.set(at(2026, 3, 3, 9, 0, 1))  # 24 h after receipt, not after the override
    assert engine.fire_due_timers(cases) == 1
    assert escalations(cases, iid) == [("containment_by", "manager")]


def test_invalid_serious_complaint_ends_its_containment_watch(cases, frozen_clock):
    iid = start(cases, quality_registration())["id"]
    confirm(cases, iid, complaint_valid=False, invalid_reason="Not our product.")
    v = complete(cases, iid, "reply_invalid", {"reply_text": "Explained.", "reply_channel": "phone",
                                               "replied_on": "2026-03-02"})
    assert v["status"] == "completed" and v["timers"] == []
    frozen_clock.set(at(2026, 3, 10))
    assert engine.fire_due_timers(cases) == 0


# --- T-11 and T-12: repair ----------------------------------------------------------------------


def test_unanswered_repair_application_escalates_to_manager_then_gm(session, frozen_clock):
    engine.deploy(session, [REPAIR_BUNDLE], actor="admin")
    iid = engine.start(session, "repair", data=dict(APPLICATION), actor="cs1")["id"]
    assert engine.show(session, iid)["data"]["review_due"] == "2026-03-03T18:00:00+08:00"
    frozen_clock.set(at(2026, 3, 3, 18, 1))  # 1 working day unanswered
    assert engine.fire_due_timers(session) == 1
    assert [(e["deadline"], e["level"]) for e in _repair_escalations(session, iid)] == [("review_due", "manager")]
    frozen_clock.set(at(2026, 3, 4, 18, 1))  # + gm_reply_grace_h (24 h)
    assert engine.fire_due_timers(session) == 1
    tasks = {t["name"]: t for t in engine.list_tasks(session, instance_id=iid)}
    assert set(tasks) == {"review_application", "followup_review_overdue", "followup_review_gm"}
    assert tasks["followup_review_gm"]["role"] == "general_manager"
    assert [(e["deadline"], e["level"]) for e in _repair_escalations(session, iid)] == [
        ("review_due", "manager"), ("review_due", "general_manager")]


def test_reply_clock_starts_at_the_application_receipt(session, frozen_clock, monkeypatch):
    engine.deploy(session, [REPAIR_BUNDLE], actor="admin")
    with caller_data_passes(monkeypatch):
        received = {**APPLICATION, "application_received_at": "2026-02-27T16:00:00+08:00"}
        v = engine.start(session, "repair", data=received, actor="cs1")
    # Friday 27 Feb + 1 working day: Saturday 28 Feb 2026 is an official make-up working day.
    assert (v["data"]["review_due"], v["data"]["review_gm_due"]) == (
        "2026-02-28T18:00:00+08:00", "2026-03-01T18:00:00+08:00")


def test_repair_overrun_puts_an_escalation_in_the_managers_inbox(session, frozen_clock):
    engine.deploy(session, [REPAIR_BUNDLE], actor="admin")
    iid = to_diagnosis(session)
    do(session, iid, "diagnose_device", {"fault_cause": "quality", "diagnosis": "Board.", "estimated_fee": 0},
       "service_center")
    frozen_clock.set(at(2026, 3, 11, 18, 1))
    assert engine.fire_due_timers(session) == 1
    inbox = engine.list_tasks(session, roles={"manager"})
    assert [(t["instance_id"], t["name"]) for t in inbox] == [(iid, "manager_repair_overdue")]
    assert {"negotiate_with_customer", "repair_device"} <= {t["name"] for t in engine.list_tasks(session,
                                                                                                   instance_id=iid)}


def _repair_escalations(session, iid: int) -> list[dict]:
    return [e["payload"] for e in engine.show(session, iid)["audit"] if e["kind"] == "escalation"]


# --- every number is a parameter: change the diagram, redeploy, new cases follow ------------------


def _copy(bundle: Path, tmp_path: Path, name: str, old: str, new: str) -> Path:
    target = tmp_path / bundle.name
    shutil.copytree(bundle, target)
    diagram = target / name
    text = diagram.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    diagram.write_text(text.replace(old, new), encoding="utf-8")
    return target


def _override_to_major(session, iid: int) -> None:
    confirm(session, iid, override_grade=True, override_reason="More units failed at the customer.",
            confirmed_kpi_class="major", confirmed_urgency="general", confirmed_special_major=False,
            confirmed_dept="quality")


def test_kpi_weights_come_from_the_parameter_also_after_an_override(cases, tmp_path):
    old = ('<spiffworkflow:parameter id="kpi_weights" type="dict" '
           'value="{\'major\': 2, \'general\': 1, \'other\': 0}" />')
    bundle = _copy(COMPLAINT_BUNDLE, tmp_path, "complaint.bpmn", old, old.replace("'major': 2", "'major': 3"))
    assert {r.key: r.version for r in engine.deploy(cases, [bundle], actor="admin")} == {"complaint": 2}

    proposed_major = start(cases, quality_registration())["data"]
    assert (proposed_major["kpi_class"], proposed_major["kpi_weight"]) == ("major", 3)
    iid = start(cases, general_quality_registration())["id"]
    _override_to_major(cases, iid)
    d = data(cases, iid)
    assert (d["kpi_class"], d["kpi_weight"], d["proposed_grade"]["kpi_weight"]) == ("major", 3, 1)


def test_general_manager_grace_period_is_changed_in_the_diagram(cases, tmp_path, frozen_clock):
    before = start(cases, general_quality_registration())["id"]
    old = '<spiffworkflow:parameter id="gm_react_grace_h" type="int" value="24" />'
    bundle = _copy(COMPLAINT_BUNDLE, tmp_path, "complaint.bpmn", old, old.replace('"24"', '"4"'))
    assert {r.key: r.version for r in engine.deploy(cases, [bundle], actor="admin")} == {"complaint": 2}
    after = start(cases, general_quality_registration())["id"]
    assert data(cases, after)["react_gm_by"] == "2026-03-04T22:00:00+08:00"
    assert data(cases, before)["react_gm_by"] == "2026-03-05T18:00:00+08:00"  # its version keeps 24 h

    frozen_clock.set(at(2026, 3, 4, 22, 0, 1))
    engine.fire_due_timers(cases)
    assert escalations(cases, after) == [("react_by", "manager"), ("react_by", "general_manager")]
    assert escalations(cases, before) == [("react_by", "manager")]


def test_await_device_days_is_changed_in_the_diagram(session, tmp_path, frozen_clock):
    engine.deploy(session, [REPAIR_BUNDLE], actor="admin")
    old = '<spiffworkflow:parameter id="await_device_days" type="int" value="30" />'
    bundle = _copy(REPAIR_BUNDLE, tmp_path, "repair.bpmn", old, old.replace('"30"', '"10"'))
    assert {r.key: r.version for r in engine.deploy(session, [bundle], actor="admin")} == {"repair": 2}
    iid = to_device_wait(session)
    assert engine.show(session, iid)["data"]["device_due"] == "2026-03-12T09:00:00+08:00"
    frozen_clock.set(at(2026, 3, 12, 9, 0, 1))
    engine.fire_due_timers(session)
    tasks = {t["name"] for t in engine.list_tasks(session, instance_id=iid)}
    assert "notify_case_closed" in tasks and "receive_device" not in tasks
