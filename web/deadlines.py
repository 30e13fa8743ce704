"""Deadline states for inbox and case pages, read from stored timestamps (Caseflow's clock).

Which data keys are deadlines is process knowledge: the manifest's ``deadlines``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from caseflow import clock
from caseflow.clock import parse_moment

DUE_SOON = dt.timedelta(hours=24)


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
