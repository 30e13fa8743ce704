"""Scenario tests of the complaint process (processes/complaint, PRODUCT.md §2–4) through the engine API.

Each scenario deploys the complaint and repair bundles into a fresh database, starts a
complaint with ``engine.start`` and plays the people's tasks with ``engine.complete`` under
the role the task must belong to. Time moves only through the frozen clock (Monday
2026-03-02 09:00 Asia/Shanghai) and ``engine.fire_due_timers``.
"""
from __future__ import annotations

import datetime as dt
import shutil

import pytest
from complaint_cases import (
    CLOSE_BY,
    CONTAINMENT_BY,
    CP,
    REACT_BY,
    RMA,
    SPECIAL_MAJOR_BY,
    at,
    escalations,
    to_handling,
    to_plan,
    utc,
)

import engine
from caseflow import store

from complaint_helpers import (
    COMPLAINT_BUNDLE,
    audit,
    complete,
    confirm,
    d1,
    d2,
    d3,
    d4,
    data,
    eight_d,
    feedback,
    general_quality_registration,
    implement,
    manager_decides,
    plan,
    quality_registration,
    ready,
    ready_names,
    start,
    transport_registration,
    verify_and_close,
    view,
)


def test_complete_registration_is_graded_routed_and_timed_at_once(cases):
    v = start(cases, quality_registration())
    assert v["status"] == "running", v["error"]
    d = v["data"]
    assert CP.match(d["complaint_no"]) and v["business_key"] == d["complaint_no"]
    assert (d["intake_complete"], d["intake_missing"]) == (True, [])
    assert (d["kpi_class"], d["kpi_weight"], d["urgency"], d["special_major"]) == ("major", 2, "serious", False)
    assert d["grading_rules"] == ["SEV-Q-02", "SEV-S-01"]
    assert (d["responsible_dept"], d["routing_rule"], d["confirm_role"]) == ("quality", "RT-02", "quality")
    assert d["received_at"] == "2026-03-02T09:00:00+08:00"
    assert (d["react_by"], d["containment_by"], d["close_by"], d["special_major_by"]) == (
        REACT_BY, CONTAINMENT_BY, CLOSE_BY, SPECIAL_MAJOR_BY)

    tasks = ready(cases, v["id"])
    assert list(tasks) == ["confirm_grade"]
    assert tasks["confirm_grade"]["role"] == "quality"
    assert utc(tasks["confirm_grade"]["due_at"]) == utc(REACT_BY)
    # T-01 and T-02 run from receipt whatever task the case is in (the deadline watches).
    assert sorted((t["task"], utc(t["due_at"])) for t in v["timers"]) == [
        ("Containment deadline + 12 h, still open", utc(CONTAINMENT_BY) + dt.timedelta(hours=12)),
        ("Containment deadline passed", utc(CONTAINMENT_BY)),
        ("React deadline + 24 h, still open", utc(REACT_BY) + dt.timedelta(hours=24)),
        ("React deadline passed", utc(REACT_BY)),
    ]
    # The acknowledgement notice is audited (with no address it is recorded as not sent).
    assert [(e["kind"], e["actor"]) for e in audit(cases, v["id"])] == [("started", "cs1"), ("notice", "system")]


def test_received_at_sets_the_clock_start(cases):
    d = start(cases, quality_registration(received_at="2026-02-27T16:00:00+08:00"))["data"]  # a Friday
    # Saturday 28 February 2026 is an official make-up working day (Spring Festival), so the two
    # working days are Sat 28 Feb and Mon 2 March; containment is 24 h after receipt.
    assert (d["react_by"], d["containment_by"]) == ("2026-03-02T18:00:00+08:00", "2026-02-28T16:00:00+08:00")


def test_invalid_complaint_is_answered_tactfully_and_rejected(cases):
    iid = start(cases, quality_registration())["id"]
    with pytest.raises(engine.InvalidData) as err:
        confirm(cases, iid, complaint_valid=False)  # no reason given
    assert "invalid_reason" in err.value.fields
    confirm(cases, iid, complaint_valid=False, invalid_reason="Defects caused by the customer's own rework.")

    tasks = ready(cases, iid)
    assert list(tasks) == ["reply_invalid"] and tasks["reply_invalid"]["role"] == "customer_service"
    with pytest.raises(engine.Forbidden):
        engine.complete(cases, tasks["reply_invalid"]["id"], {}, actor=engine.Actor.person("qa1", {"quality"}))
    v = complete(cases, iid, "reply_invalid", {"reply_text": "Explained the rework findings with photos.",
                                               "reply_channel": "visit", "replied_on": "2026-03-03"})
    assert v["status"] == "completed"
    assert v["data"]["outcome"] == "rejected"
    assert v["tasks"] == [] and v["timers"] == []
    assert [e["task"] for e in audit(cases, iid, "task_completed")] == ["confirm_grade", "reply_invalid"]


def test_incomplete_intake_goes_back_to_customer_service_until_complete(cases):
    reg = quality_registration()
    for key in ("customer_name", "customer_code", "ship_date", "found_stage", "cosmetic_defect_qty"):
        del reg[key]
    v = start(cases, reg)
    iid, d = v["id"], v["data"]
    assert CP.match(d["complaint_no"])
    assert d["intake_complete"] is False
    assert d["intake_missing"] == ["customer_name|customer_code", "ship_date", "found_stage", "cosmetic_defect_qty"]
    # Not graded while intake loops, but the reaction clock runs from receipt (T-01).
    assert "kpi_class" not in d and (d["received_at"], d["react_by"]) == ("2026-03-02T09:00:00+08:00", REACT_BY)
    assert {t["task"] for t in v["timers"]} == {"React deadline passed", "React deadline + 24 h, still open"}
    tasks = ready(cases, iid)
    assert list(tasks) == ["complete_intake"] and tasks["complete_intake"]["role"] == "customer_service"

    complete(cases, iid, "complete_intake", {"customer_code": "C-0815", "ship_date": "2026-02-20"})
    assert ready_names(cases, iid) == {"complete_intake"}
    assert data(cases, iid)["intake_missing"] == ["found_stage", "cosmetic_defect_qty"]

    v = complete(cases, iid, "complete_intake", {"found_stage": "after_sales", "cosmetic_defect_qty": 3})
    assert ready_names(cases, iid) == {"confirm_grade"}
    assert (v["data"]["kpi_class"], v["data"]["complaint_no"]) == ("major", d["complaint_no"])  # number kept
    assert [e["task"] for e in audit(cases, iid, "task_completed")] == ["complete_intake", "complete_intake"]


def test_other_complaint_types_need_only_customer_and_description(cases):
    v = start(cases, {"channel": "web", "customer_name": "Zhang San", "complaint_type": "service",
                      "description": "Hotline did not call back."})
    d = v["data"]
    assert (d["intake_complete"], d["kpi_class"], d["urgency"]) == (True, "other", "general")
    assert d["grading_rules"] == ["SEV-Q-NA", "SEV-S-02"]
    assert (d["responsible_dept"], d["confirm_role"]) == ("customer_service", "customer_service")
    assert ready(cases, v["id"])["confirm_grade"]["role"] == "customer_service"


def test_start_form_rejects_unknown_values(cases):
    with pytest.raises(engine.InvalidData) as err:
        start(cases, quality_registration(complaint_type="weather", defect_rate=1.5))
    assert {"complaint_type", "defect_rate"} <= set(err.value.fields)


# --- whole complaints --------------------------------------------------------------------------


def test_serious_quality_complaint_with_containment_runs_to_closure(cases):
    iid = to_handling(cases)
    tasks = ready(cases, iid)
    assert list(tasks) == ["d1_describe"] and tasks["d1_describe"]["role"] == "quality"
    assert utc(tasks["d1_describe"]["due_at"]) == utc(REACT_BY)
    d1(cases, iid, containment_needed=False)  # serious: 2D is required all the same
    tasks = ready(cases, iid)
    assert list(tasks) == ["d2_contain"] and utc(tasks["d2_contain"]["due_at"]) == utc(CONTAINMENT_BY)
    d2(cases, iid)
    d3(cases, iid)
    d4(cases, iid)
    d = plan(cases, iid)["data"]  # the case shows the work done inside the handling subprocess
    assert (d["problem_description"], d["responsibility"]) == ("No power-on; PCB solder joint open.", "internal")
    assert (d["loss_amount"], d["complaint_ratio"], d["has_repair"]) == (6000.0, 0.06, False)
    assert ready(cases, iid)["manager_approve_plan"]["role"] == "manager"
    manager_decides(cases, iid, "approve")
    assert ready(cases, iid)["implement_notify"]["role"] == "customer_service"  # no GM, no repair
    implement(cases, iid)
    feedback(cases, iid, satisfied=True, satisfaction=5)
    assert ready(cases, iid)["capa_verify"]["role"] == "quality"
    v = verify_and_close(cases, iid)

    assert v["status"] == "completed", v["error"]
    d = v["data"]
    assert (d["outcome"], d["satisfaction"], d["satisfied"], d["capa_effective"]) == ("closed", 5, True, True)
    assert (d["loss_amount"], d["complaint_ratio"], d["has_repair"]) == (6000.0, 0.06, False)  # F10
    assert d["closed_at"].startswith("2026-03-02T")
    assert d["special_major"] is False and "SEV-R-03" not in d["grading_rules"]
    assert v["tasks"] == [] and v["timers"] == []
    assert [e["task"] for e in audit(cases, iid, "task_completed")] == [
        "confirm_grade", "d1_describe", "d2_contain", "d3_root_cause", "review_d2_d3", "d4_actions",
        "resolution_plan", "manager_approve_plan", "implement_notify", "customer_feedback", "capa_verify",
        "close_summary"]


def test_transport_complaint_goes_to_logistics_without_containment(cases, frozen_clock):
    v = start(cases, transport_registration())
    iid, d = v["id"], v["data"]
    assert (d["kpi_class"], d["urgency"], d["responsible_dept"], d["routing_rule"]) == (
        "other", "general", "logistics", "RT-01")
    assert ready(cases, iid)["confirm_grade"]["role"] == "customer_service"
    confirm(cases, iid, role="customer_service")
    v = view(cases, iid)
    # No containment or closure deadline for a general complaint (G-02): the keys are empty and
    # the closure timers wait for 9999-01-01, i.e. they never fire.
    assert (v["data"]["containment_by"], v["data"]["close_by"]) == (None, None)
    timers = {t["task"]: utc(t["due_at"]) for t in v["timers"]}
    assert timers["Closure deadline passed"].year == 9999
    assert timers["Closure deadline + 48 h, still open"].year == 9999
    assert timers["Unresolved 2 months (SEV-R-03)"] == utc(SPECIAL_MAJOR_BY)

    tasks = ready(cases, iid)
    assert tasks["d1_describe"]["role"] == "logistics"
    with pytest.raises(engine.Forbidden):
        engine.complete(cases, tasks["d1_describe"]["id"], {}, actor=engine.Actor.person("qa1", {"quality"}))
    d1(cases, iid, dept="logistics", containment_needed=False)
    assert ready_names(cases, iid) == {"d3_root_cause"}  # 2D skipped

    frozen_clock.set(at(2026, 4, 1))
    assert engine.fire_due_timers(cases) == 0
    assert escalations(cases, iid) == [] and ready_names(cases, iid) == {"d3_root_cause"}
    d3(cases, iid, dept="logistics")
    d4(cases, iid, dept="logistics")
    assert ready(cases, iid)["resolution_plan"]["role"] == "logistics"


def test_containment_on_request_for_a_general_complaint(cases):
    iid = to_handling(cases, general_quality_registration())
    assert data(cases, iid)["urgency"] == "general"
    d1(cases, iid, containment_needed=True)
    tasks = ready(cases, iid)
    assert list(tasks) == ["d2_contain"] and tasks["d2_contain"]["due_at"] is None  # no T-02 deadline


def test_customer_caused_complaint_needs_gm_approved_explanation(cases):
    iid = to_handling(cases)
    eight_d(cases, iid, responsibility="customer")
    tasks = ready(cases, iid)
    assert list(tasks) == ["draft_explanation"] and tasks["draft_explanation"]["role"] == "quality"
    complete(cases, iid, "draft_explanation", {"explanation_text": "The units were reworked by your line."})
    assert ready(cases, iid)["gm_approve_explanation"]["role"] == "general_manager"
    with pytest.raises(engine.InvalidData) as err:
        complete(cases, iid, "gm_approve_explanation", {"gm_explanation_decision": "reject"})
    assert "gm_explanation_comment" in err.value.fields
    complete(cases, iid, "gm_approve_explanation", {"gm_explanation_decision": "reject",
                                                    "gm_explanation_comment": "Attach the X-ray evidence."})
    assert ready_names(cases, iid) == {"draft_explanation"}
    assert audit(cases, iid, "task_completed")[-1]["payload"]["data"] == {
        "gm_explanation_decision": "reject", "gm_explanation_comment": "Attach the X-ray evidence."}
    complete(cases, iid, "draft_explanation", {"explanation_text": "Rework by your line; X-ray attached.",
                                               "goodwill_offer": "Free re-test of 50 units."})
    complete(cases, iid, "gm_approve_explanation", {"gm_explanation_decision": "approve"})
    tasks = ready(cases, iid)
    assert list(tasks) == ["send_explanation"] and tasks["send_explanation"]["role"] == "customer_service"
    complete(cases, iid, "send_explanation", {"explanation_sent_on": "2026-03-04", "explanation_channel": "email"})
    feedback(cases, iid, satisfied=True, satisfaction=4)
    v = verify_and_close(cases, iid)

    assert v["status"] == "completed"
    d = v["data"]
    assert (d["outcome"], d["responsibility"], d["gm_explanation_decision"]) == ("closed", "customer", "approve")
    assert d["explanation_text"] == "Rework by your line; X-ray attached."
    assert "loss_amount" not in d and "disposition_lines" not in d
    done = [e["task"] for e in audit(cases, iid, "task_completed")]
    assert done.count("gm_approve_explanation") == 2 and "resolution_plan" not in done


def test_manager_rejects_the_plan_with_a_reason_then_approves(cases):
    iid = to_plan(cases)
    plan(cases, iid, lines=[{"kind": "compensation", "quantity": 1, "amount": 20000}])
    with pytest.raises(engine.InvalidData) as err:
        manager_decides(cases, iid, "reject")
    assert "manager_comment" in err.value.fields
    manager_decides(cases, iid, "reject", "Compensation too high; offer an exchange.")
    tasks = ready(cases, iid)
    assert list(tasks) == ["resolution_plan"] and tasks["resolution_plan"]["role"] == "quality"
    assert audit(cases, iid, "task_completed")[-1]["payload"]["data"] == {
        "manager_decision": "reject", "manager_comment": "Compensation too high; offer an exchange."}

    plan(cases, iid, lines=[{"kind": "exchange", "quantity": 20, "amount": 4000}], delivery_amount=80000)
    manager_decides(cases, iid, "approve")  # no comment this time: the rejection's reason does not stay on record
    assert "manager_comment" not in data(cases, iid) and data(cases, iid)["manager_decision"] == "approve"
    assert ready_names(cases, iid) == {"receive_goods"}  # the exchange runs the returned-goods process
    implement(cases, iid)  # walks the returned goods first
    feedback(cases, iid)
    d = verify_and_close(cases, iid)["data"]
    assert (d["loss_amount"], d["complaint_ratio"], d["manager_decision"]) == (4000.0, 0.05, "approve")
    assert [e["actor"] for e in audit(cases, iid, "task_completed") if e["task"] == "manager_approve_plan"] == [
        "mgr1", "mgr1"]


def test_special_major_complaint_needs_gm_acknowledgement_and_plan_approval(cases):
    v = start(cases, quality_registration(claim_amount=12000))
    iid = v["id"]
    assert v["data"]["special_major"] is True and "SEV-R-04" in v["data"]["grading_rules"]
    confirm(cases, iid)
    tasks = ready(cases, iid)
    assert list(tasks) == ["gm_acknowledge_special"] and tasks["gm_acknowledge_special"]["role"] == "general_manager"
    complete(cases, iid, "gm_acknowledge_special", {"gm_acknowledged": True, "gm_instructions": "Weekly report."})
    eight_d(cases, iid)
    plan(cases, iid)
    manager_decides(cases, iid, "approve")
    tasks = ready(cases, iid)
    assert list(tasks) == ["gm_approve_plan"] and tasks["gm_approve_plan"]["role"] == "general_manager"
    complete(cases, iid, "gm_approve_plan", {"gm_plan_decision": "reject", "gm_plan_comment": "Add a recall."})
    assert ready_names(cases, iid) == {"resolution_plan"}
    plan(cases, iid, lines=[{"kind": "recall", "quantity": 1000, "amount": 15000}])
    manager_decides(cases, iid, "approve")
    complete(cases, iid, "gm_approve_plan", {"gm_plan_decision": "approve"})
    assert ready_names(cases, iid) == {"implement_notify"}


def test_repair_disposition_runs_the_repair_process_and_continues(cases):
    iid = to_plan(cases)
    plan(cases, iid, lines=[{"kind": "repair", "quantity": 20, "amount": 3000}])
    manager_decides(cases, iid, "approve")
    tasks = ready(cases, iid)
    assert list(tasks) == ["prepare_repair"] and tasks["prepare_repair"]["role"] == "customer_service"
    complete(cases, iid, "prepare_repair", {
        "customer_name": "Huaxin Electronics", "customer_contact": "Ms Li", "address": "8 Keji Rd, Suzhou",
        "recipient": "Ms Li", "phone": "138 0000 0000", "product_model": "HX-200", "serial_no": "SN-26-0001",
        "purchase_date": "2025-06-01", "warranty_claim": "in"})

    # The repair process (call activity) now runs inside the complaint.
    tasks = ready(cases, iid)
    assert list(tasks) == ["review_application"] and tasks["review_application"]["role"] == "service_center"
    complete(cases, iid, "review_application", {"review_opinion": "Mail-in repair.", "remote_fixable": False})
    complete(cases, iid, "send_shipping_instructions", {"ship_to_address": "Service centre, Fuzhou",
                                                        "shipping_method": "express", "instructions_sent_via": "email"})
    complete(cases, iid, "receive_device", {"received_date": "2026-03-04"})
    complete(cases, iid, "diagnose_device", {"fault_cause": "quality", "diagnosis": "Solder joint.",
                                             "estimated_fee": 0})
    complete(cases, iid, "repair_device", {"work_done": "Resoldered.", "test_result": "Pass.", "technician": "Chen",
                                           "repair_completed_date": "2026-03-06"})
    complete(cases, iid, "ship_back", {"carrier": "SF Express", "tracking_no": "SF1", "shipped_date": "2026-03-06",
                                       "repair_report_enclosed": True})
    complete(cases, iid, "notify_customer_shipped", {"ship_notice_via": "phone"}, role="customer_service")

    assert ready_names(cases, iid) == {"implement_notify"}  # the complaint continues after the repair
    implement(cases, iid)
    feedback(cases, iid)
    v = verify_and_close(cases, iid)
    assert v["status"] == "completed"
    d = v["data"]
    assert (d["outcome"], d["has_repair"], d["repair_quantity"]) == ("closed", True, 20)
    assert RMA.match(d["repair_number"])
    assert (d["repair_outcome"], d["in_warranty"], d["chargeable"]) == ("repaired", True, False)
    assert d["fault_description"] == quality_registration()["description"]  # mapped before the call
    assert CP.match(d["complaint_no"]) and d["serial_no"] == "SN-26-0001"


def test_unsatisfied_customer_gets_follow_up_and_a_new_resolution(cases):
    iid = to_plan(cases)
    plan(cases, iid)
    manager_decides(cases, iid, "approve")
    implement(cases, iid)
    feedback(cases, iid, satisfied=False, satisfaction=2)
    tasks = ready(cases, iid)
    assert list(tasks) == ["follow_up"] and tasks["follow_up"]["role"] == "quality"
    complete(cases, iid, "follow_up", {"follow_up_measures": "Add a 2 % discount and an on-site visit."})
    assert ready_names(cases, iid) == {"resolution_plan"}  # back to the resolution (internal cause)
    plan(cases, iid, lines=[{"kind": "exchange", "quantity": 20, "amount": 5000},
                            {"kind": "discount", "quantity": 1, "amount": 2000}])
    manager_decides(cases, iid, "approve")
    implement(cases, iid)
    feedback(cases, iid, satisfied=True, satisfaction=4)
    v = verify_and_close(cases, iid)
    assert v["status"] == "completed"
    assert (v["data"]["satisfaction"], v["data"]["satisfied"], v["data"]["loss_amount"]) == (4, True, 7000.0)
    assert [e["task"] for e in audit(cases, iid, "task_completed")].count("customer_feedback") == 2


def test_ineffective_capa_is_reworked_before_closure(cases):
    iid = to_plan(cases)
    plan(cases, iid)
    manager_decides(cases, iid, "approve")
    implement(cases, iid)
    feedback(cases, iid)
    complete(cases, iid, "capa_verify", {"capa_effective": False, "verification_notes": "Lot 2603 failed again."})
    assert ready(cases, iid)["capa_rework"]["role"] == "quality"
    complete(cases, iid, "capa_rework", {"rework_actions": "Profile alarm added."})
    assert ready_names(cases, iid) == {"capa_verify"}
    v = verify_and_close(cases, iid)
    assert v["status"] == "completed" and v["data"]["capa_effective"] is True


# --- grade confirmation -----------------------------------------------------------------------


def test_changing_a_threshold_in_the_diagram_changes_new_complaints(cases, tmp_path):
    before = start(cases, quality_registration(functional_defect_qty=17))
    assert (before["data"]["kpi_class"], before["version"]) == ("major", 1)

    bundle = tmp_path / "complaint"
    shutil.copytree(COMPLAINT_BUNDLE, bundle)
    diagram = bundle / "complaint.bpmn"
    text = diagram.read_text(encoding="utf-8")
    old = '<spiffworkflow:parameter id="q_major_functional" type="int" value="15" />'
    assert text.count(old) == 1
    diagram.write_text(text.replace(old, old.replace('"15"', '"20"')), encoding="utf-8")
    results = {r.key: (r.version, r.status) for r in engine.deploy(cases, [bundle], actor="admin")}
    assert results == {"complaint": (2, "deployed")}

    after = start(cases, quality_registration(functional_defect_qty=17))
    assert (after["data"]["kpi_class"], after["data"]["kpi_weight"], after["version"]) == ("general", 1, 2)
    assert after["data"]["grading_rules"][0] == "SEV-Q-01"
    assert start(cases, quality_registration(functional_defect_qty=20))["data"]["kpi_class"] == "major"
    assert view(cases, before["id"])["data"]["kpi_class"] == "major"  # running cases keep their version


# --- audit ------------------------------------------------------------------------------------


def test_audit_log_shows_who_did_what(cases, frozen_clock):
    iid = start(cases, quality_registration(), actor="cs7")["id"]
    frozen_clock.set(at(2026, 3, 4, 18, 30))
    engine.fire_due_timers(cases)
    confirm(cases, iid)
    d1(cases, iid)
    d2(cases, iid)
    d3(cases, iid)
    d4(cases, iid)
    plan(cases, iid)
    manager_decides(cases, iid, "reject", "Cheaper option please.")
    log = view(cases, iid)["audit"]
    rows = [(e["kind"], e["actor"], e["task"]) for e in log]
    assert rows[0] == ("started", "cs7", None)
    assert ("timer_fired", "timer", "React deadline passed") in rows
    assert any(k == "escalation" and a == "system" and t and t.startswith("escalate_react") for k, a, t in rows)
    # 2D only became ready after containment_by (+ 12 h) had passed: both levels escalate at once.
    assert escalations(cases, iid) == [("react_by", "manager"), ("containment_by", "manager"),
                                       ("containment_by", "general_manager")]
    # The escalation tasks share one form; in Chinese each is named by its own nameZh.
    escalation_tasks = [t for t in engine.list_tasks(cases, instance_id=iid)
                        if t["form"] == "complaint_escalation.schema.json"]
    names = {engine.task_title_zh(cases, t["id"]) for t in escalation_tasks}
    assert len(escalation_tasks) >= 2 and len(names) == len(escalation_tasks), names
    # Each escalation ran on its own branch: the case data and the KPI facts keep all three.
    assert len(data(cases, iid)["escalations"]) == 3
    facts = cases.get(store.CaseFacts, iid)
    assert (facts.escalations, facts.escalations_manager, facts.escalations_gm) == (3, 2, 1)
    assert [(a, t) for k, a, t in rows if k == "task_completed"] == [
        ("qa1", "confirm_grade"), ("qa1", "d1_describe"), ("qa1", "d2_contain"), ("qa1", "d3_root_cause"),
        ("qa1", "review_d2_d3"), ("qa1", "d4_actions"), ("qa1", "resolution_plan"), ("mgr1", "manager_approve_plan")]
    rejection = [e for e in log if e["task"] == "manager_approve_plan"][0]
    assert rejection["payload"]["data"] == {"manager_decision": "reject", "manager_comment": "Cheaper option please."}
    assert rejection["payload"]["title"] == "Approve resolution plan (ESC-LDR-01)"
    stamps = [e["at"] for e in log]
    assert stamps == sorted(stamps)


# --- parallel paths: the case data and the audit see every token ------------------------------


def test_case_data_is_current_while_the_handling_runs(cases):
    iid = to_plan(cases)
    plan(cases, iid)
    d = data(cases, iid)
    assert (d["problem_description"], d["loss_amount"], d["complaint_ratio"]) == (
        "No power-on; PCB solder joint open.", 6000.0, 0.06)


def test_every_escalation_is_audited(cases, frozen_clock):
    iid = to_handling(cases)
    d1(cases, iid)
    frozen_clock.set(at(2026, 3, 3, 21, 0, 1))  # containment_by + 12 h: both levels due
    assert engine.fire_due_timers(cases) == 1
    assert ready_names(cases, iid) == {"d2_contain", "manager_containment_overdue", "gm_containment_overdue"}
    assert escalations(cases, iid) == [("containment_by", "manager"), ("containment_by", "general_manager")]
