"""compute_deadlines and escalate (PRODUCT §2–3, T-01…T-04, SEV-R-03)."""
import datetime as dt

import pytest

from service_tasks import registry
from service_tasks.registry import OperatorError

NOW = dt.datetime(2026, 3, 6, 2, 0, tzinfo=dt.UTC)  # Fri 10:00 in Shanghai


def deadlines(data, params=None, now=NOW):
    return registry.get("compute_deadlines").run(data, params or {}, context={"now": now})


def test_serious_complaint_gets_all_deadlines():
    out = deadlines({"received_at": "2026-03-06T10:30:00+08:00", "urgency": "serious"})
    assert out == {
        "received_at": "2026-03-06T10:30:00+08:00",
        "react_by": "2026-03-10T18:00:00+08:00",        # Fri + 2 working days, weekend skipped
        "react_gm_by": "2026-03-11T18:00:00+08:00",     # + gm_react_grace_h 24 h
        "containment_by": "2026-03-07T10:30:00+08:00",  # + 24 h
        "containment_gm_by": "2026-03-07T22:30:00+08:00",  # + gm_containment_grace_h 12 h
        "close_by": "2026-03-13T10:30:00+08:00",        # + 7 calendar days
        "close_gm_by": "2026-03-15T10:30:00+08:00",     # + gm_close_grace_h 48 h
        "special_major_by": "2026-05-06T10:30:00+08:00",  # + 2 months
    }


@pytest.mark.parametrize("urgency", ["general", "occasional"])
def test_general_and_occasional_have_no_containment_and_no_close_by(urgency):
    out = deadlines({"received_at": "2026-03-06T10:30:00+08:00", "urgency": urgency})
    assert set(out) == {"received_at", "react_by", "react_gm_by", "special_major_by"}


def test_general_close_days_when_set():
    out = deadlines({"received_at": "2026-03-06T10:30:00+08:00", "urgency": "general"},
                    {"s_general_close_days": 10})
    assert out["close_by"] == "2026-03-16T10:30:00+08:00"
    assert "containment_by" not in out


def test_react_by_across_national_day_with_make_up_day():
    out = deadlines({"received_at": "2026-09-30T16:00:00+08:00", "urgency": "general"})
    assert out["react_by"] == "2026-10-09T18:00:00+08:00"
    out = deadlines({"received_at": "2026-09-30T16:00:00+08:00", "urgency": "general"}, {"s_react_wd": 3})
    assert out["react_by"] == "2026-10-10T18:00:00+08:00"  # Saturday make-up working day


def test_react_by_across_spring_festival():
    out = deadlines({"received_at": "2026-02-13T09:00:00+08:00", "urgency": "serious"})
    assert out["react_by"] == "2026-02-24T18:00:00+08:00"


def test_received_at_in_utc_is_normalised_to_local_time():
    out = deadlines({"received_at": "2026-03-08T20:00:00Z", "urgency": "serious"})
    assert out["received_at"] == "2026-03-09T04:00:00+08:00"
    assert out["react_by"] == "2026-03-11T18:00:00+08:00"
    assert out["containment_by"] == "2026-03-10T04:00:00+08:00"


def test_naive_received_at_is_local_time():
    out = deadlines({"received_at": "2026-03-06T10:30:00", "urgency": "general"})
    assert out["received_at"] == "2026-03-06T10:30:00+08:00"


def test_absent_received_at_uses_now():
    out = deadlines({"urgency": "general"})
    assert out["received_at"] == "2026-03-06T10:00:00+08:00"
    assert out["react_by"] == "2026-03-10T18:00:00+08:00"


def test_special_major_by_clamps_to_month_end():
    out = deadlines({"received_at": "2025-12-31T09:00:00+08:00", "urgency": "general"})
    assert out["special_major_by"] == "2026-02-28T09:00:00+08:00"


def test_changed_params_change_the_deadlines():
    data = {"received_at": "2026-03-06T10:30:00+08:00", "urgency": "serious"}
    out = deadlines(data, {"s_react_wd": 1, "s_serious_containment_h": 48, "s_serious_close_days": 14,
                           "r_unresolved_months": 3, "end_of_day": "17:00"})
    assert out["react_by"] == "2026-03-09T17:00:00+08:00"
    assert out["containment_by"] == "2026-03-08T10:30:00+08:00"
    assert out["close_by"] == "2026-03-20T10:30:00+08:00"
    assert out["special_major_by"] == "2026-06-06T10:30:00+08:00"


@pytest.mark.parametrize("data, field", [
    ({"received_at": "2026-03-06T10:30:00+08:00", "urgency": "urgent"}, "urgency"),
    ({"received_at": "2026-03-06", "urgency": "general"}, "received_at"),
    ({"received_at": "yesterday", "urgency": "general"}, "received_at"),
])
def test_bad_input_names_the_field(data, field):
    with pytest.raises(OperatorError) as err:
        deadlines(data)
    assert err.value.field == field


def test_no_received_at_and_no_now_is_an_error():
    with pytest.raises(OperatorError) as err:
        deadlines({"urgency": "general"}, now=None)
    assert err.value.field == "now"


@pytest.mark.parametrize("params, field", [({"timezone": "Nowhere/City"}, "timezone"),
                                           ({"s_react_wd": -1}, "s_react_wd"),
                                           ({"s_general_close_days": "x"}, "s_general_close_days")])
def test_bad_params(params, field):
    with pytest.raises(OperatorError) as err:
        deadlines({"urgency": "general"}, params)
    assert err.value.field == field


# --- escalate ----------------------------------------------------------------------------

def escalate(data, params, now=NOW):
    return registry.get("escalate").run(data, params, context={"now": now})


def test_escalate_appends_a_record():
    data = {"react_by": "2026-03-10T18:00:00+08:00"}
    out = escalate(data, {"deadline": "react_by", "level": "manager"})
    record = {"key": "react_by:manager", "deadline": "react_by", "level": "manager",
              "due": "2026-03-10T18:00:00+08:00", "at": "2026-03-06T02:00:00+00:00"}
    assert out == {"escalations": {"react_by:manager": record}, "last_escalation": record}


def test_escalate_keeps_earlier_records_without_mutating_them():
    first = {"key": "react_by:manager", "deadline": "react_by", "level": "manager", "due": "x", "at": "y"}
    data = {"escalations": {"react_by:manager": first}, "react_by": "2026-03-10T18:00:00+08:00"}
    out = escalate(data, {"deadline": "react_by", "level": "general_manager"})
    assert [e["level"] for e in out["escalations"].values()] == ["manager", "general_manager"]
    assert data["escalations"] == {"react_by:manager": first}
    assert out["last_escalation"]["level"] == "general_manager"


def test_escalate_same_deadline_and_level_again_gets_a_new_key():
    once = escalate({}, {"deadline": "repair_due", "level": "manager"})
    twice = escalate({"escalations": once["escalations"]}, {"deadline": "repair_due", "level": "manager"})
    assert list(twice["escalations"]) == ["repair_due:manager", "repair_due:manager:2"]


def test_escalate_due_is_none_when_the_deadline_key_is_absent():
    assert escalate({}, {"deadline": "close_by", "level": "manager"})["last_escalation"]["due"] is None


@pytest.mark.parametrize("data, params, field", [
    ({"escalations": "oops"}, {"deadline": "react_by", "level": "manager"}, "escalations"),
    ({}, {"level": "manager"}, "deadline"),
    ({}, {"deadline": "react_by"}, "level"),
    ({}, {"deadline": "react_by", "level": " "}, "level"),
])
def test_escalate_bad_input(data, params, field):
    with pytest.raises(OperatorError) as err:
        escalate(data, params)
    assert err.value.field == field


def test_escalate_needs_now():
    with pytest.raises(OperatorError) as err:
        escalate({}, {"deadline": "react_by", "level": "manager"}, now=None)
    assert err.value.field == "now"


def test_before_grading_only_the_receipt_deadlines_are_computed():
    """T-01 / SEV-R-03: the clock starts at receipt, before the urgency is known."""
    out = deadlines({"received_at": "2026-03-06T10:30:00+08:00"})
    assert out == {"received_at": "2026-03-06T10:30:00+08:00", "react_by": "2026-03-10T18:00:00+08:00",
                   "react_gm_by": "2026-03-11T18:00:00+08:00", "special_major_by": "2026-05-06T10:30:00+08:00"}
    assert deadlines({"urgency": None}, now=NOW)["received_at"] == "2026-03-06T10:00:00+08:00"


def test_general_manager_grace_periods_are_parameters():
    out = deadlines({"received_at": "2026-03-06T10:30:00+08:00", "urgency": "serious"},
                    {"gm_react_grace_h": 2, "gm_containment_grace_h": 1, "gm_close_grace_h": 0})
    assert (out["react_gm_by"], out["containment_gm_by"], out["close_gm_by"]) == (
        "2026-03-10T20:00:00+08:00", "2026-03-07T11:30:00+08:00", out["close_by"])
    with pytest.raises(OperatorError, match="gm_close_grace_h"):
        deadlines({"urgency": "serious"}, {"gm_close_grace_h": -1})
