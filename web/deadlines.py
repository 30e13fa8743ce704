"""Deadline states for inbox and case pages, read from stored timestamps (Caseflow's clock).

Which data keys are deadlines is process knowledge: the manifest's ``deadlines``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from caseflow import clock

DUE_SOON = dt.timedelta(hours=24)


def parse_moment(value: Any) -> dt.datetime | None:
    """An aware datetime from a datetime or an ISO 8601 string (a bare date ends that day, UTC)."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        try:
            moment = dt.datetime.combine(dt.date.fromisoformat(value), dt.time(23, 59, 59))
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def state(due: Any, done_at: Any = None, now: dt.datetime | None = None) -> str:
    """``met`` / ``late`` once done, else ``overdue`` / ``due_soon`` / ``open``; ``none`` without a due time."""
    due_at = parse_moment(due)
    if due_at is None:
        return "none"
    finished = parse_moment(done_at)
    if finished is not None:
        return "met" if finished <= due_at else "late"
    now = now or clock.now()
    if now > due_at:
        return "overdue"
    if due_at - now <= DUE_SOON:
        return "due_soon"
    return "open"
