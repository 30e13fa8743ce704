"""The returned-goods defect statistics (caseflow/returned_goods_stats.py, migration 0015): rows kept
in step with each save of a complaint's calls and of a returned-goods case of its own, recounted from
the cases' data, and summed for the KPI dashboard by product model and month."""
from __future__ import annotations

import datetime as dt

from returned_goods_cases import walk_returned_goods
from sqlalchemy import delete, select

import engine
from caseflow import returned_goods_stats, store

from complaint_helpers import (
    complete,
    confirm,
    data,
    eight_d,
    feedback,
    implement,
    manager_decides,
    plan,
    quality_registration,
    start,
)

EXCHANGE = {"kind": "exchange", "quantity": 20, "amount": 5000}
RETURN = {"kind": "return", "quantity": 5, "amount": 500}


def rows(session) -> list[tuple]:
    t = store.ReturnedGoodsDefect
    return sorted(session.execute(select(t.instance_id, t.call_seq, t.product_model, t.month, t.phenomenon,
                                         t.quantity)).all())


def _two_calls(session) -> int:
    iid = start(session, quality_registration())["id"]
    confirm(session, iid)
    eight_d(session, iid)
    plan(session, iid, lines=[EXCHANGE])
    manager_decides(session, iid)
    walk_returned_goods(session, iid)  # No power 3, Scratched window 1
    implement(session, iid)
    feedback(session, iid, satisfied=False, satisfaction=2)
    complete(session, iid, "follow_up", {"follow_up_measures": "Take 5 more back."})
    plan(session, iid, lines=[EXCHANGE, RETURN])
    manager_decides(session, iid)
    walk_returned_goods(session, iid, defective=2, phenomena=[{"phenomenon": "No power", "quantity": 2}])
    return iid


def _standalone(session) -> int:
    view = engine.start(session, "returned_goods", {"customer_name": "Lin", "product_model": "NLS-HR200",
                                                    "request_kind": "return", "expected_qty": 2}, actor="mkt1")
    iid = view["id"]
    walk_returned_goods(session, iid, defective=1, phenomena=[{"phenomenon": "Cracked lens", "quantity": 1}])
    assert engine.show(session, iid, audit=False)["status"] == "completed"
    return iid


def test_rows_follow_each_save_and_a_recount_gives_the_same(cases):
    start(cases, quality_registration())
    assert rows(cases) == []  # a complaint without returned goods has no rows
    iid = _two_calls(cases)
    other = _standalone(cases)
    expected = [(iid, 1, "HX-200", "2026-03", "No power", 3), (iid, 1, "HX-200", "2026-03", "Scratched window", 1),
                (iid, 2, "HX-200", "2026-03", "No power", 2), (other, 0, "NLS-HR200", "2026-03", "Cracked lens", 1)]
    assert rows(cases) == sorted(expected)
    # The recount (what migration 0015 runs for the cases already stored) derives the same rows.
    cases.execute(delete(store.ReturnedGoodsDefect))
    assert returned_goods_stats.rebuild(cases) == 4
    assert rows(cases) == sorted(expected)
    # A correction of the data is a save too: the rows follow it.
    records = data(cases, iid)["returned_goods_records"]
    engine.update_data(cases, iid, {"returned_goods_records": records[:1]}, actor="admin",
                       reason="second call entered twice")
    assert [r for r in rows(cases) if r[0] == iid and r[1] == 2] == []


def test_the_dashboard_sums_by_product_model_month_and_phenomenon(cases):
    _two_calls(cases)
    _standalone(cases)
    march = (dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    stats = returned_goods_stats.defects(cases, *march)
    assert stats.rows == [("HX-200", "2026-03", "No power", 5), ("HX-200", "2026-03", "Scratched window", 1),
                          ("NLS-HR200", "2026-03", "Cracked lens", 1)]
    assert stats.by_phenomenon == [("No power", 5), ("Cracked lens", 1), ("Scratched window", 1)]
    assert stats.total == 7
    assert returned_goods_stats.defects(cases, *march, product_model="NLS-HR200").total == 1
    assert returned_goods_stats.defects(cases, dt.date(2026, 4, 1), dt.date(2026, 4, 30)).rows == []
    # A department's dashboard: the tests of its own cases only.
    departments = {d for d in cases.scalars(select(store.CaseFacts.department)) if d}
    for department in departments:
        own = returned_goods_stats.defects(cases, *march, scope=(department,)).total
        assert 0 < own < stats.total or own == stats.total == 7
    assert returned_goods_stats.defects(cases, *march, scope=("finance",)).total == 0


def test_derive_ignores_what_is_not_a_test_record():
    assert returned_goods_stats.derive("complaint", {"returned_goods_records": [
        {"seq": 1, "tested_date": "2026-03-04", "defects_by_phenomenon": {"No power": 2, "": 1, "Bad": 0}},
        {"seq": 2, "tested_date": "not a date", "defects_by_phenomenon": {"No power": 1}},
        "junk", {"seq": True, "tested_date": "2026-03-04", "defects_by_phenomenon": {"x": 1}}]}) == [
        {"process_key": "complaint", "call_seq": 1, "returned_goods_no": "", "product_model": "", "day": "2026-03-04",
         "month": "2026-03", "phenomenon": "No power", "quantity": 2}]
    # A complaint's calls count once: the latest call's returned_goods_result is not counted again.
    latest = {"tested_date": "2026-03-04", "defects_by_phenomenon": {"a": 1}}
    assert returned_goods_stats.derive("complaint", {"returned_goods_records": [],
                                                     "returned_goods_result": latest}) == []
