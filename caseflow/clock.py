"""The one clock of Caseflow: engine, service tasks, audit and the workflow timers use it.

In production it is the system clock. Tests set or advance it instead of sleeping;
``engine`` points the workflow library's timer events at this clock (``ClockDatetime``), so
timers follow it too.
"""
from __future__ import annotations

import datetime as _dt
import functools
import threading
from zoneinfo import ZoneInfo

from caseflow import config

_lock = threading.Lock()
_frozen: _dt.datetime | None = None


def now() -> _dt.datetime:
    """The current time as an aware UTC datetime."""
    frozen = _frozen
    if frozen is not None:
        return frozen
    return _dt.datetime.now(_dt.UTC)


def set(moment: _dt.datetime) -> None:  # noqa: A001 - the natural name for a clock
    """Freeze the clock at ``moment`` (must be timezone-aware)."""
    global _frozen
    if moment.tzinfo is None:
        raise ValueError("clock.set needs a timezone-aware datetime")
    with _lock:
        _frozen = moment.astimezone(_dt.UTC)


def advance(delta: _dt.timedelta) -> _dt.datetime:
    """Move a frozen clock forward by ``delta`` and return the new time."""
    global _frozen
    with _lock:
        if _frozen is None:
            raise RuntimeError("clock.advance needs a frozen clock (call clock.set first)")
        _frozen = _frozen + delta
        return _frozen


def is_frozen() -> bool:
    """Whether the clock was set (tests), rather than following the system clock."""
    return _frozen is not None


def reset() -> None:
    """Go back to the system clock."""
    global _frozen
    with _lock:
        _frozen = None


class ClockDatetime(_dt.datetime):
    """A ``datetime`` whose ``now()`` reads Caseflow's clock (for the workflow library's timers)."""

    @classmethod
    def now(cls, tz: _dt.tzinfo | None = None) -> _dt.datetime:  # type: ignore[override]
        current = now()
        return current.astimezone(tz) if tz is not None else current.astimezone().replace(tzinfo=None)


def parse_moment(value: object) -> _dt.datetime | None:
    """A moment or deadline value as an aware datetime: a datetime, or an ISO 8601 string; a bare
    date (string or ``date``) means the end of that day (23:59:59) in the business time zone
    (``CASEFLOW_TIMEZONE``); a date-time without an offset is UTC. None for anything else.

    The one reading of deadline values: the engine's task deadlines, the KPI facts and the web UI's.
    """
    if isinstance(value, _dt.datetime):
        moment = value
    elif isinstance(value, _dt.date):
        return _end_of_day(value)
    elif isinstance(value, str) and value:
        try:  # a bare date first: datetime.fromisoformat would read it as its midnight
            return _end_of_day(_dt.date.fromisoformat(value))
        except ValueError:
            try:
                moment = _dt.datetime.fromisoformat(value)
            except ValueError:
                return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=_dt.UTC)


def business_zone() -> ZoneInfo:
    """The business time zone (``CASEFLOW_TIMEZONE``, checked by ``config.load`` when a process
    starts): local days, months and deadlines."""
    return _zone(config.timezone_name())


def _end_of_day(day: _dt.date) -> _dt.datetime:
    return _dt.datetime.combine(day, _dt.time(23, 59, 59), tzinfo=business_zone())


@functools.lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
