"""Plain JSON values out of workflow data, the limits of data going in (no SpiffWorkflow here)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from caseflow import limits
from caseflow._engine.errors import DataTooLarge, InvalidData


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


def check_data(data: Any, string_limit: limits.StringLimit | None = None) -> None:
    """Every value entering a case goes through here (start, complete, data correction):
    plain JSON within :mod:`caseflow.limits` (depth, size, string length, finite numbers,
    no control characters). Raises :class:`DataTooLarge` (413) or :class:`InvalidData` (422),
    each naming the field."""
    if not isinstance(data, dict):
        raise InvalidData({"_form": "the data must be an object"})
    try:
        limits.check_value(data, string_limit)
    except limits.DataRejected as err:
        kind = DataTooLarge if err.too_large else InvalidData
        raise kind({err.path or "_form": err.reason}, "the submitted data is too large" if err.too_large
                   else "the submitted data is not valid") from None


def refuse_keys(data: dict, owned: Iterable[str], why: str) -> None:
    """:class:`InvalidData` naming each key of ``data`` in ``owned`` (keys the engine sets)."""
    taken = sorted(set(data) & set(owned))
    if taken:
        raise InvalidData({key: f"{key!r} {why}" for key in taken})
