"""The one clock of Caseflow: engine, service tasks, audit and the workflow timers use it.

In production it is the system clock. Tests set or advance it instead of sleeping;
``engine`` points the workflow library's timer events at this clock (``ClockDatetime``), so
timers follow it too.
"""
from __future__ import annotations

import datetime as _dt
import threading

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

