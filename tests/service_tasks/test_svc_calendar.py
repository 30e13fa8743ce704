"""Working-day calendar over the holidays package (PRODUCT §6), China 2026 as reference.

2026 facts (State Council notice, as shipped in holidays 0.109):
Spring Festival off 15–23 Feb, make-up working Saturdays 14 and 28 Feb;
National Day off 1–7 Oct, make-up working days Sun 20 Sep and Sat 10 Oct.
"""
import datetime as dt

import pytest

from service_tasks import registry
from service_tasks.calendar_ops import WorkingCalendar, country_holidays, get_calendar
from service_tasks.registry import OperatorError

D = dt.date.fromisoformat
CST = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def cal():
    return get_calendar("CN", "Asia/Shanghai", "18:00")


@pytest.mark.parametrize("day, working", [
    ("2026-03-06", True),    # Friday
    ("2026-03-07", False),   # Saturday
    ("2026-03-08", False),   # Sunday
    ("2026-10-01", False),   # National Day
    ("2026-10-07", False),   # National Day (Wednesday off)
    ("2026-10-08", True),    # first working day after
    ("2026-09-20", True),    # make-up working Sunday
    ("2026-10-10", True),    # make-up working Saturday
    ("2026-10-11", False),   # ordinary Sunday
    ("2026-02-14", True),    # make-up working Saturday (Spring Festival)
    ("2026-02-17", False),   # Spring Festival
    ("2026-02-23", False),   # Monday off (substituted)
    ("2026-02-28", True),    # make-up working Saturday
    ("2026-01-04", True),    # make-up working Sunday (New Year)
    ("2011-12-31", True),    # make-up Saturday filed for the next year's New Year
])
def test_is_working_day(cal, day, working):
    assert cal.is_working_day(D(day)) is working


@pytest.mark.parametrize("start, days, expected", [
    ("2026-03-06", 1, "2026-03-09"),  # Fri + 1 -> Mon (weekend skipped)
    ("2026-03-06", 2, "2026-03-10"),
    ("2026-03-07", 1, "2026-03-09"),  # start on Saturday
    ("2026-03-09", 5, "2026-03-16"),
    ("2026-09-30", 1, "2026-10-08"),  # National Day skipped
    ("2026-09-30", 3, "2026-10-10"),  # make-up Saturday counts
    ("2026-09-30", 4, "2026-10-12"),
    ("2026-09-19", 1, "2026-09-20"),  # make-up Sunday counts
    ("2026-02-13", 1, "2026-02-14"),
    ("2026-02-13", 2, "2026-02-24"),  # whole Spring Festival skipped
    ("2025-12-31", 1, "2026-01-04"),  # across the year end
    ("2026-03-06", 0, "2026-03-06"),
    ("2026-03-07", 0, "2026-03-09"),  # 0 days from a day off -> next working day
])
def test_add_working_days(cal, start, days, expected):
    assert cal.add_working_days(D(start), days) == D(expected)


def test_working_days_between_matches_add(cal):
    start = D("2026-09-25")
    for n in range(1, 12):
        assert cal.working_days_between(start, cal.add_working_days(start, n)) == n


def test_deadline_ends_at_end_of_day_local(cal):
    due = cal.deadline(dt.datetime(2026, 9, 30, 9, 15, tzinfo=CST), 2)
    assert due.isoformat() == "2026-10-09T18:00:00+08:00"


def test_deadline_uses_the_local_day_of_the_start(cal):
    # 2026-03-08 20:00 UTC is Monday 04:00 in Shanghai: counting starts after Monday.
    due = cal.deadline(dt.datetime(2026, 3, 8, 20, 0, tzinfo=dt.UTC), 2)
    assert due.isoformat() == "2026-03-11T18:00:00+08:00"


def test_other_end_of_day_and_timezone():
    cal = get_calendar("CN", "Europe/Berlin", "17:30")
    assert cal.deadline(D("2026-03-06"), 1).isoformat() == "2026-03-09T17:30:00+01:00"


def test_calendars_and_holiday_objects_are_cached():
    assert get_calendar("CN", "Asia/Shanghai", "18:00") is get_calendar("cn", "Asia/Shanghai", "18:00")
    assert country_holidays("CN", (2026,)) is country_holidays("CN", (2026,))


def test_other_country():
    de = WorkingCalendar("DE", "Europe/Berlin")
    assert de.is_working_day(D("2026-10-03")) is False  # German Unity Day (Saturday anyway)
    assert de.is_working_day(D("2026-12-25")) is False
    assert de.is_working_day(D("2026-10-01")) is True


@pytest.mark.parametrize("kwargs, field", [
    ({"country": "XX"}, "country"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"end_of_day": "25:00"}, "end_of_day"),
    ({"end_of_day": "six pm"}, "end_of_day"),
])
def test_bad_calendar_settings(kwargs, field):
    with pytest.raises(OperatorError) as err:
        get_calendar(**kwargs)
    assert err.value.field == field


# --- working_days_deadline operator ----------------------------------------------------

def run(data, params, now=None):
    return registry.get("working_days_deadline").run(data, params, context={"now": now})


def test_operator_from_date_key():
    out = run({"received_date": "2026-09-30"}, {"start_key": "received_date", "days": 3, "output_key": "due"})
    assert out == {"due": "2026-10-10T18:00:00+08:00"}


def test_operator_from_datetime_key_and_params():
    out = run({"applied_at": "2026-02-13T10:00:00+08:00"},
              {"start_key": "applied_at", "days": 2, "output_key": "reply_by", "end_of_day": "17:00"})
    assert out == {"reply_by": "2026-02-24T17:00:00+08:00"}


def test_operator_without_start_key_uses_now():
    out = run({}, {"days": 1, "output_key": "due"}, now=dt.datetime(2026, 3, 6, 2, 0, tzinfo=dt.UTC))
    assert out == {"due": "2026-03-09T18:00:00+08:00"}


def test_operator_missing_start_value_names_the_key():
    with pytest.raises(OperatorError) as err:
        run({"received_date": ""}, {"start_key": "received_date", "days": 1, "output_key": "due"})
    assert err.value.field == "received_date"


@pytest.mark.parametrize("params, field", [
    ({"days": -1, "output_key": "due"}, "days"),
    ({"days": "two", "output_key": "due"}, "days"),
    ({"days": 1, "output_key": ""}, "output_key"),
    ({"days": 1, "output_key": "due", "country": "XX"}, "country"),
])
def test_operator_bad_params(params, field):
    with pytest.raises(OperatorError) as err:
        run({"d": "2026-03-06"}, {"start_key": "d", **params})
    assert err.value.field == field


def test_operator_requires_days_and_output_key():
    with pytest.raises(OperatorError) as err:
        run({}, {"output_key": "due"})
    assert err.value.field == "days"
