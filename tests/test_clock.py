"""The one clock's reading of moment and deadline values (``clock.parse_moment``), used alike by
the engine's task deadlines, the KPI facts and the web UI."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from caseflow import clock

UTC = dt.UTC
PLUS_8 = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture(autouse=True)
def business_zone(monkeypatch):
    monkeypatch.setenv("CASEFLOW_TIMEZONE", "Asia/Shanghai")


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-03-01T10:30:00+08:00", dt.datetime(2026, 3, 1, 10, 30, tzinfo=PLUS_8)),
    ("2026-03-01T10:30:00", dt.datetime(2026, 3, 1, 10, 30, tzinfo=UTC)),  # no offset: UTC
    (dt.datetime(2026, 3, 1, 8, 0, tzinfo=PLUS_8), dt.datetime(2026, 3, 1, 8, 0, tzinfo=PLUS_8)),
    (dt.datetime(2026, 3, 1, 8, 0), dt.datetime(2026, 3, 1, 8, 0, tzinfo=UTC)),
    # a bare date: the end of that day in the business time zone
    ("2026-03-01", dt.datetime(2026, 3, 1, 23, 59, 59, tzinfo=PLUS_8)),
    ("20260301", dt.datetime(2026, 3, 1, 23, 59, 59, tzinfo=PLUS_8)),
    (dt.date(2026, 3, 1), dt.datetime(2026, 3, 1, 23, 59, 59, tzinfo=PLUS_8)),
])
def test_a_moment_is_read_as_an_aware_datetime(value, expected):
    moment = clock.parse_moment(value)
    assert moment == expected and moment.utcoffset() == expected.utcoffset()


def test_a_bare_date_ends_in_the_configured_zone(monkeypatch):
    monkeypatch.setenv("CASEFLOW_TIMEZONE", "Europe/Berlin")
    assert clock.parse_moment("2026-07-01") == dt.datetime(2026, 7, 1, 23, 59, 59, tzinfo=ZoneInfo("Europe/Berlin"))


@pytest.mark.parametrize("value", [None, "", "tomorrow", "2026-13-01", "2026-02-30", 20260301, 1.5, True, [], {}])
def test_anything_else_is_no_moment(value):
    assert clock.parse_moment(value) is None
