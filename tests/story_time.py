"""Test stories that span days: a frozen clock moves to the day a step records.

A scenario submits what happened on its day ("received 4 March", "paid 10 March") while the
suite's clock is frozen at Monday 2 March 09:00. The forms refuse a date after today
(``x-not-future``), as they must for people, so a step first moves a frozen clock forward to the
latest date its data records, keeping the time of day. A clock that is not frozen, or already
later, is left alone.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from caseflow import clock

_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2}))?")


def _moments(value: Any) -> list[dt.datetime]:
    """The dates and date-times written in ``value`` (nested lists and objects too), in the business zone."""
    zone = clock.business_zone()
    if isinstance(value, dict):
        return [m for v in value.values() for m in _moments(v)]
    if isinstance(value, list):
        return [m for v in value for m in _moments(v)]
    if not isinstance(value, str):
        return []
    match = _DATE.match(value)
    if match is None:
        return []
    try:
        day = dt.date.fromisoformat(match[1])
    except ValueError:
        return []
    if match[2] is None:
        return [dt.datetime.combine(day, dt.time(0, 0), tzinfo=zone)]
    moment = clock.parse_moment(value)
    return [moment.astimezone(zone)] if moment is not None else []


def on_the_day(data: Any) -> None:
    """Move a frozen clock forward to the latest day (or moment) ``data`` records, when it is later."""
    if not clock.is_frozen():  # the system clock: the stories' days are long past
        return
    current = clock.now().astimezone(clock.business_zone())
    latest = max(_moments(data), default=None)
    if latest is None or latest.date() <= current.date() and latest <= current:
        return
    if latest.time() == dt.time(0, 0):  # a bare date: that day, at the clock's time of day
        latest = dt.datetime.combine(latest.date(), current.time(), tzinfo=latest.tzinfo)
    if latest > current:
        clock.set(latest)


def business_today() -> dt.date:
    """Today in the business time zone, as the server (on the real clock) reads a bare date: the UTC
    date is a day behind from 16:00 UTC in Shanghai, and a form then refuses it as before the case's
    registration (``x-not-before``)."""
    return clock.now().astimezone(clock.business_zone()).date()
