"""Input coercion shared by the operators: form values -> typed Python values.

Forms and diagrams deliver numbers as strings ("15"), booleans as true/false and dates as
ISO 8601 strings. These helpers accept exactly those spellings and raise
:class:`OperatorError` naming the field for anything else, so a rule never runs on a
guessed value.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from service_tasks.registry import OperatorError

_INT_RE = re.compile(r"^[+-]?\d+$")
_DEC_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}


def is_missing(value: Any) -> bool:
    """None, an empty / blank string, or an empty list / dict count as missing."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, (list, tuple, dict, set)):
        return len(value) == 0
    return False


def to_int(value: Any, field: str, *, minimum: int | None = 0) -> int:
    """An integer from an int, an integral float or a string of digits ("15")."""
    if isinstance(value, bool):
        raise OperatorError(f"expected a whole number, got {value!r}", field=field)
    if isinstance(value, int):
        result = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        result = int(value)
    elif isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        result = int(value)
    elif isinstance(value, str) and _INT_RE.match(value.strip()):
        result = int(value.strip())
    else:
        raise OperatorError(f"expected a whole number, got {value!r}", field=field)
    if minimum is not None and result < minimum:
        raise OperatorError(f"must be at least {minimum}, got {result}", field=field)
    return result


def to_decimal(value: Any, field: str, *, minimum: Decimal | int | None = 0) -> Decimal:
    """A finite decimal number from an int, float, Decimal or numeric string ("0.01")."""
    if isinstance(value, bool):
        raise OperatorError(f"expected a number, got {value!r}", field=field)
    if isinstance(value, (int, Decimal)):
        result = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise OperatorError(f"expected a finite number, got {value!r}", field=field)
        result = Decimal(str(value))
    elif isinstance(value, str) and _DEC_RE.match(value.strip()):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:  # pragma: no cover - the regex admits only valid numbers
            raise OperatorError(f"expected a number, got {value!r}", field=field) from None
    else:
        raise OperatorError(f"expected a number, got {value!r}", field=field)
    if not result.is_finite():
        raise OperatorError(f"expected a finite number, got {value!r}", field=field)
    if minimum is not None and result < minimum:
        raise OperatorError(f"must be at least {minimum}, got {result}", field=field)
    return result


def to_bool(value: Any, field: str) -> bool:
    """A boolean from True/False, "true"/"false" (also yes/no, 1/0) or the ints 1/0."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise OperatorError(f"expected true or false, got {value!r}", field=field)


def flag(data: dict, key: str) -> bool:
    """An optional boolean input: missing (absent, None, "") means False."""
    value = data.get(key)
    return False if is_missing(value) else to_bool(value, key)


def to_str(value: Any, field: str) -> str:
    """A non-empty, stripped string."""
    if not isinstance(value, str) or not value.strip():
        raise OperatorError(f"expected a non-empty text, got {value!r}", field=field)
    return value.strip()


def to_str_list(value: Any, field: str) -> list[str]:
    """A list of non-empty strings (a tuple or set is accepted too)."""
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise OperatorError(f"expected a list, got {type(value).__name__}", field=field)
    return [to_str(v, field) for v in value]


def zone(name: Any, field: str = "timezone") -> ZoneInfo:
    """The IANA time zone ``name`` ("Asia/Shanghai")."""
    try:
        return ZoneInfo(to_str(name, field))
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise OperatorError(f"unknown time zone {name!r}", field=field) from None


def to_datetime(value: Any, field: str, tz: dt.tzinfo | None = None) -> dt.datetime:
    """An aware datetime from a datetime or an ISO 8601 date-time string.

    A value without offset is read as local time in ``tz``; without ``tz`` it is an error.
    A bare date is refused (a date-time is needed).
    """
    if isinstance(value, dt.datetime):
        result = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            pass
        else:
            raise OperatorError(f"expected an ISO 8601 date-time, got the date {value!r}", field=field)
        try:
            result = dt.datetime.fromisoformat(text)
        except ValueError:
            raise OperatorError(f"expected an ISO 8601 date-time, got {value!r}", field=field) from None
    else:
        raise OperatorError(f"expected an ISO 8601 date-time, got {value!r}", field=field)
    if result.tzinfo is None or result.utcoffset() is None:
        if tz is None:
            raise OperatorError("date-time needs a time zone offset", field=field)
        result = result.replace(tzinfo=tz)
    return result


def to_date(value: Any, field: str, tz: dt.tzinfo | None = None) -> dt.date:
    """A date from a date or an ISO string ("2026-03-01"); a date-time gives its date
    (its local date in ``tz`` when it has an offset and ``tz`` is given)."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        return value
    elif isinstance(value, str):
        text = value.strip()
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise OperatorError(f"expected an ISO 8601 date, got {value!r}", field=field) from None
    else:
        raise OperatorError(f"expected an ISO 8601 date, got {value!r}", field=field)
    if tz is not None and moment.tzinfo is not None:
        moment = moment.astimezone(tz)
    return moment.date()


def now_param(params: dict, tz: dt.tzinfo | None = None) -> dt.datetime:
    """The ``now`` parameter as an aware datetime (error when it is not supplied)."""
    value = params.get("now")
    if value is None:
        raise OperatorError("parameter now is required (the engine supplies it)", field="now")
    result = to_datetime(value, "now")
    return result.astimezone(tz) if tz is not None else result


def iso(moment: dt.datetime | dt.date) -> str:
    """ISO 8601 text: date-times to the second with their offset."""
    if isinstance(moment, dt.datetime):
        return moment.isoformat(timespec="seconds")
    return moment.isoformat()
