"""Plain JSON values out of workflow data (no SpiffWorkflow here)."""
from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID


def plain(value: Any) -> Any:
    """A JSON-compatible deep copy (dates become ISO strings; unknown objects are dropped)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items() if not callable(v)}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, UUID):
        return str(value)
    return None


def parse_due(value: Any) -> dt.datetime | None:
    """A deadline data value (ISO date-time, or a date meaning its end of day) as an aware datetime."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        try:
            parsed = dt.datetime.combine(dt.date.fromisoformat(str(value)), dt.time(23, 59, 59))
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
