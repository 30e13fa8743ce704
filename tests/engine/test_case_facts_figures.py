"""The case-facts columns of the cost, follow-up and repair figures, derived from plain values."""
from __future__ import annotations

import datetime as dt

from caseflow import case_facts

T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)


def task(name: str, hours: float | None, state: str = "completed") -> dict:
    return {"name": name, "state": state, "completed_at": T0 + dt.timedelta(hours=hours) if hours is not None else None}


APPROVED = {"manager_decision": "approve"}


def test_a_plan_counts_once_approved_after_its_last_submission():
    assert not case_facts.plan_approved(APPROVED, [])
    assert not case_facts.plan_approved(APPROVED, [task("resolution_plan", 1)])
    assert case_facts.plan_approved(APPROVED, [task("resolution_plan", 1), task("manager_approve_plan", 2)])
    # Rejected, or resubmitted after the approval (the not-satisfied loop's new plan): not yet approved.
    assert not case_facts.plan_approved({"manager_decision": "reject"},
                                        [task("resolution_plan", 1), task("manager_approve_plan", 2)])
    assert not case_facts.plan_approved(APPROVED, [task("resolution_plan", 1), task("manager_approve_plan", 2),
                                                   task("resolution_plan", 3)])
    # A special major plan waits for the general manager, whose rejection sends it back.
    asked = [task("resolution_plan", 1), task("manager_approve_plan", 2)]
    assert not case_facts.plan_approved(APPROVED, [*asked, task("gm_approve_plan", None, "ready")])
    assert not case_facts.plan_approved(APPROVED | {"gm_plan_decision": "reject"}, [*asked, task("gm_approve_plan", 3)])
    assert case_facts.plan_approved(APPROVED | {"gm_plan_decision": "approve"}, [*asked, task("gm_approve_plan", 3)])
    # The GM's earlier rejection does not hold back a later plan the GM is not asked about.
    assert case_facts.plan_approved(APPROVED | {"gm_plan_decision": "reject"},
                                    [task("gm_approve_plan", 0.5), *asked])


def test_plan_lines_are_summed_per_kind_and_odd_lines_left_out():
    got = case_facts.dispositions({"disposition_lines": [
        {"kind": "discount", "quantity": 3, "amount": 500}, {"kind": "Discount", "quantity": 2, "amount": 250.5},
        {"kind": "claim", "quantity": 1, "amount": 12000}, {"kind": "teleport", "quantity": 1, "amount": 9},
        {"kind": "return", "quantity": "x", "amount": None}, "junk", {"quantity": 4}]})
    assert got == {"disp_discount_qty": 5, "disp_discount_amount": 750.5, "disp_claim_qty": 1,
                   "disp_claim_amount": 12000.0, "disp_return_qty": 0, "disp_return_amount": 0.0}
    assert case_facts.dispositions({"disposition_lines": "none"}) == {} == case_facts.dispositions({})


def test_the_nth_complaint_of_the_year_is_counted_with_each_save_and_by_a_rebuild(any_database):
    """Per customer and year of the business time zone, in receipt order; a rebuild numbers alike."""
    import random

    from sqlalchemy import func, select

    import engine
    from bench import seed
    from caseflow import clock, store

    clock.set(dt.datetime(2026, 3, 2, 9, 0, tzinfo=seed.TZ))
    try:
        with any_database.session() as s:
            engine.deploy(s, seed.BUNDLES, actor="admin")
        received = [("C-1", "2025-03-01T10:00:00+08:00"), ("C-1", "2025-07-01T10:00:00+08:00"),
                    ("C-2", "2025-07-02T10:00:00+08:00"), ("C-1", "2025-12-31T23:30:00+08:00"),
                    ("C-1", "2026-01-01T00:30:00+08:00")]  # a new year in Shanghai (still 2025 in UTC)
        ids = []
        with any_database.session() as s:
            for code, at in received:
                data = seed.registration(random.Random(1)) | {"customer_code": code, "received_at": at}
                ids.append(engine.start(s, "complaint", data, actor="cs1")["id"])
        with any_database.session() as s:
            def numbers() -> list[int | None]:
                return [s.get(store.CaseFacts, i).year_seq for i in ids]

            assert numbers() == [1, 2, 1, 3, 1]
            summed = s.execute(select(func.sum(store.CaseFactDay.nth_1), func.sum(store.CaseFactDay.nth_2),
                                      func.sum(store.CaseFactDay.nth_3))).one()
            assert tuple(summed) == (3, 1, 1)
            s.execute(store.CaseFacts.__table__.update().values(year_seq=None))
            engine.rebuild_facts(s)
            s.expire_all()
            assert numbers() == [1, 2, 1, 3, 1]
    finally:
        clock.reset()


def test_a_complaint_judged_not_valid_is_its_own_stage_and_weighs_nothing():
    from zoneinfo import ZoneInfo

    from caseflow import manifest as manifests

    spec = manifests.Facts(fields={"kpi_class": "kpi_class", "kpi_weight": "kpi_weight", "outcome": "outcome"})

    def derive(status: str, outcome: str | None) -> dict:
        data = {"kpi_class": "major", "kpi_weight": 2, **({"outcome": outcome} if outcome else {})}
        return case_facts.derive(spec, (), instance_id=1, process_key="complaint", status=status, data=data,
                                 created_at=T0, completed_at=T0, tasks=[], now=T0, tz=ZoneInfo("Asia/Shanghai"))

    rejected = derive("completed", "rejected")
    assert (rejected["stage"], rejected["kpi_weight"], rejected["kpi_class"]) == ("rejected", 0, "major")
    closed = derive("completed", "closed")
    assert (closed["stage"], closed["kpi_weight"]) == ("resolved", 2)
    assert derive("running", None)["kpi_weight"] == 2  # still open: the grading's weight
