"""The ``date_from``/``date_to`` filters of the registers' query strings, read one way."""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import gettext as _

from caseflow import limits

NAMES = ("date_from", "date_to")


def day(text: str) -> dt.date | None:
    """``text`` as a day within Caseflow's years (``YYYY-MM-DD``), else None."""
    try:
        found = dt.date.fromisoformat(text)
    except ValueError:
        return None
    return found if limits.year_problem(found.year) is None else None  # 9999-12-31 + 1 day overflows


def read(args: Any) -> tuple[dict[str, dt.date | None], dict[str, str]]:
    """The two days of the query ``args`` (None when not given or not a day) and a translated message
    per refused one: not a day, or an end before the start."""
    days: dict[str, dt.date | None] = {}
    problems: dict[str, str] = {}
    for name in NAMES:
        text = args.get(name) or ""
        days[name] = day(text) if text else None
        if text and days[name] is None:
            problems[name] = _("Not a date (YYYY-MM-DD).")
    start, end = days["date_from"], days["date_to"]
    if start is not None and end is not None and end < start:
        problems["date_to"] = _("The end of the range is before its start.")
    return days, problems
