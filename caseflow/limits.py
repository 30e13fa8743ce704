"""Limits of input: what any text, number, date or JSON value entering Caseflow must satisfy.

One module, below the engine and the web, so the engine (every data change of a case), the
REST API (every JSON body) and the web UI (every query argument and form value) apply the same
rules. Nothing here knows a request or a session: each check returns or raises plainly.

- **Text**: no NUL, no other C0 control character except tab, line feed and carriage return,
  no lone UTF-16 surrogate (PostgreSQL refuses all three; SQLite stores them and JSON readers
  then choke). Form values and query arguments are capped at :data:`MAX_FIELD_CHARS`.
- **Numbers**: at most :data:`MAX_NUMBER_CHARS` characters of text; finite; integers within
  ±2**53 (what every JSON reader holds exactly). ``NaN``/``Infinity`` are not JSON.
- **Dates**: years :data:`MIN_YEAR` to :data:`MAX_YEAR`.
- **JSON data**: at most :data:`MAX_DEPTH` levels of objects and arrays, :data:`MAX_DATA_CHARS`
  characters in all, :data:`MAX_STRING_CHARS` per string (unless a form's ``maxLength`` allows
  more) and :data:`MAX_KEY_CHARS` per object key.
- **Ids**: database ids are 1 to :data:`caseflow.config.MAX_DB_ID`.
- **Scripts** of a diagram (a script task's, a condition's, a timer's...): at most
  :data:`MAX_SCRIPT_CHARS` characters each (deploy and the modeler's check refuse longer ones).
"""
from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from caseflow.config import MAX_DB_ID

MAX_DEPTH = 32
MAX_DATA_CHARS = 1024 * 1024
MAX_STRING_CHARS = 64 * 1024
MAX_KEY_CHARS = 200
MAX_COMMENT_CHARS = 10_000  # the text of one comment on a case or task
MAX_COMMENT_FILES = 5  # files attached to one comment
MAX_FIELD_CHARS = MAX_STRING_CHARS
MAX_NUMBER_CHARS = 100
MAX_SAFE_INTEGER = 2**53
#: Compiling and checking a much longer script costs seconds and hundreds of MB, at deploy and when it
#: runs; the shipped diagrams' longest is under 7,000. Long logic belongs in a service task.
MAX_SCRIPT_CHARS = 20_000
MIN_YEAR, MAX_YEAR = 1900, 2200

# NUL and the other C0 controls but tab, LF and CR; DEL; lone surrogates (not encodable as UTF-8).
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_PATH_KEY_CHARS = 60  # how much of a long key a field path shows


@dataclass
class DataRejected(ValueError):
    """A value breaks a limit. ``path`` is the dotted field path (``""``: the whole value);
    ``too_large`` marks size limits (HTTP 413), ``malformed`` text that is not JSON at all (400),
    as opposed to values out of bounds (422)."""

    path: str
    reason: str
    too_large: bool = False
    malformed: bool = False

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason

    @property
    def field(self) -> str:
        """The field the message belongs to (``_body`` for the value as a whole)."""
        return self.path or "_body"


def text_problem(text: str, limit: int | None = MAX_FIELD_CHARS) -> str | None:
    """Why ``text`` is not acceptable input text, or None."""
    if not isinstance(text, str):  # e.g. a multipart part whose name the parser could not decode
        return "is not readable text"
    if limit is not None and len(text) > limit:
        return f"is too long (at most {limit} characters)"
    bad = _BAD_CHARS.search(text)
    if bad is not None:
        return f"contains a character that is not allowed (U+{ord(bad.group()):04X}, a control character)"
    return None


def clean_text(text: str) -> str:
    """``text`` without the characters :func:`text_problem` refuses (for file names and the like)."""
    return _BAD_CHARS.sub("", text) if isinstance(text, str) else ""


def number_text_problem(text: str) -> str | None:
    """Why a number typed as text must not even be parsed (too long), or None."""
    if len(text) > MAX_NUMBER_CHARS:
        return f"is too long for a number (at most {MAX_NUMBER_CHARS} characters)"
    return None


def number_problem(value: int | float) -> str | None:
    """Why a parsed number is out of range (not finite, or an integer beyond ±2**53), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else "must be a finite number"
    if abs(value) > MAX_SAFE_INTEGER:
        return f"must be between -{MAX_SAFE_INTEGER} and {MAX_SAFE_INTEGER}"
    return None


def year_problem(year: int) -> str | None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        return f"must be a date between {MIN_YEAR} and {MAX_YEAR}"
    return None


def date_problem(value: str, with_time: bool) -> str | None:
    """Why an ISO date (``with_time``: date-time) string is out of range, or None (also when it
    does not parse: its format is someone else's check)."""
    try:
        year = (dt.datetime.fromisoformat(value) if with_time else dt.date.fromisoformat(value)).year
    except ValueError:
        match = re.match(r"^\s*(\d{4,})-", value)  # a well-formed date with a year Python cannot hold
        if match is None:
            return None
        year = int(match.group(1)[:9])
    return year_problem(year)


def is_db_id(value: int) -> bool:
    """``value`` can be a database id (1 to MAX_DB_ID)."""
    return not isinstance(value, bool) and 1 <= value <= MAX_DB_ID


def _path(parts: tuple[str | int, ...]) -> str:
    """The dotted field path of ``parts`` (long keys shortened)."""
    shown = (str(p) if len(str(p)) <= _PATH_KEY_CHARS else str(p)[:_PATH_KEY_CHARS] + "…" for p in parts)
    return ".".join(shown)


StringLimit = Callable[[tuple[str | int, ...]], int | None]


def check_value(value: Any, string_limit: StringLimit | None = None, max_depth: int = MAX_DEPTH,
                max_chars: int = MAX_DATA_CHARS) -> None:
    """Raise :class:`DataRejected` unless ``value`` is plain JSON data within the limits.

    ``string_limit(path)`` may allow a longer string at a path (a form's ``maxLength``); the
    path has the object keys and list indexes from the top. The walk is iterative, so no
    nesting depth makes it recurse; it stops at the first problem.
    """
    size = 0
    for parts, item in _walk(value, max_depth):
        if isinstance(item, str):
            limit = max(MAX_STRING_CHARS, (string_limit(parts) if string_limit else None) or 0)
            problem = text_problem(item, limit)
            if problem is not None:
                raise DataRejected(_path(parts), problem, too_large=len(item) > limit)
            size += len(item) + 2
        elif isinstance(item, (bool, type(None))):
            size += 5
        elif isinstance(item, (int, float)):
            problem = number_problem(item)
            if problem is not None:
                raise DataRejected(_path(parts), problem)
            size += 24
        elif isinstance(item, (dict, list, tuple)):
            size += 2 + len(item)
        elif isinstance(item, (dt.date, dt.time, dt.datetime)):  # engine callers' own values
            size += 34
        else:
            raise DataRejected(_path(parts), f"is not a JSON value ({type(item).__name__})")
        if size > max_chars:
            raise DataRejected("", f"the data is too large (at most {max_chars // 1024} KB)", too_large=True)


def _walk(value: Any, max_depth: int) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """(path, item) of ``value`` and everything in it, depth first; checks keys and depth."""
    stack: list[tuple[tuple[str | int, ...], Any, int]] = [((), value, 0)]
    while stack:
        parts, item, depth = stack.pop()
        yield parts, item
        if isinstance(item, (dict, list, tuple)) and depth >= max_depth:
            raise DataRejected(_path(parts), f"is nested too deeply (at most {max_depth} levels)")
        if isinstance(item, dict):
            children: list[tuple[str | int, Any]] = []
            for key, child in item.items():
                if not isinstance(key, str):
                    raise DataRejected(_path(parts), f"has a key that is not text ({key!r})")
                problem = text_problem(key, MAX_KEY_CHARS)
                if problem is not None:
                    raise DataRejected(_path((*parts, key)), "field name " + problem,
                                       too_large=len(key) > MAX_KEY_CHARS)
                children.append((key, child))
        elif isinstance(item, (list, tuple)):
            children = list(enumerate(item))
        else:
            continue
        stack.extend(((*parts, key), child, depth + 1) for key, child in reversed(children))


class _Refused(ValueError):
    pass


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number of {len(text)} characters is too long (at most {MAX_NUMBER_CHARS})")
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"{text[:20]} is out of range (not a finite number)")
    return value


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number of {len(text)} characters is too long (at most {MAX_NUMBER_CHARS})")
    return int(text)


def loads(text: str | bytes, max_depth: int = MAX_DEPTH, max_chars: int = MAX_DATA_CHARS) -> Any:
    """Parse JSON text strictly and check it with :func:`check_value`.

    Refuses ``NaN``/``Infinity``, numbers beyond the limits, nesting beyond ``max_depth``
    (before Python's recursion limit can be reached) and invalid JSON: all as
    :class:`DataRejected` (``too_large`` for size).
    """
    if len(text) > max_chars + max_chars // 4:
        raise DataRejected("", f"the body is too large (at most {max_chars // 1024} KB)", too_large=True)
    _check_nesting(text, max_depth)
    try:
        value = json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except _Refused as err:
        raise DataRejected("", str(err)) from None
    except RecursionError:  # pragma: no cover - _check_nesting stops this first
        raise DataRejected("", f"the JSON is nested too deeply (at most {max_depth} levels)") from None
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
        raise DataRejected("", f"the body is not valid JSON: {err}", malformed=True) from None
    check_value(value, max_depth=max_depth, max_chars=max_chars)
    return value


_NESTING = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def _check_nesting(text: str | bytes, max_depth: int) -> None:
    """Refuse JSON text nested deeper than ``max_depth`` without parsing it (strings skipped)."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return
    depth = 0
    for match in _NESTING.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                raise DataRejected("", f"the JSON is nested too deeply (at most {max_depth} levels)")
        elif token in (b"]", b"}"):
            depth -= 1
