"""Complaint deadlines (PRODUCT.md §2 and §3, DOMAIN.md T-01…T-04, T-16) and escalation
records (ESC-4S-01 pattern: manager, then general manager).

Working-day limits use the business calendar (:mod:`service_tasks.calendar_ops`);
"days", "hours" and "months" are calendar units (DOMAIN §3.11 note).
"""
from __future__ import annotations

import datetime as dt

from dateutil.relativedelta import relativedelta

from service_tasks.calendar_ops import CALENDAR_PARAMS, calendar_from_params
from service_tasks.registry import OperatorError, Param, operator
from service_tasks.values import is_missing, iso, now_param, to_datetime, to_int, to_str

URGENCIES = ("serious", "general", "occasional")


@operator(
    "compute_deadlines",
    params=[
        Param("s_react_wd", "int", 2, "React within this many working days (T-01)."),
        Param("s_serious_containment_h", "int", 24, "Serious: containment within this many hours (T-02)."),
        Param("s_serious_close_days", "int", 7, "Serious: closure within this many calendar days (T-03)."),
        Param("s_general_close_days", "int", None,
              "General/occasional: closure within this many calendar days; none = no close_by (G-02)."),
        Param("r_unresolved_months", "int", 2, "Unresolved after this many months -> special major (SEV-R-03)."),
        Param("gm_react_grace_h", "int", 24,
              "Hours after react_by before the general manager is escalated to (react_gm_by)."),
        Param("gm_containment_grace_h", "int", 12,
              "Hours after containment_by before the general manager is escalated to (containment_gm_by)."),
        Param("gm_close_grace_h", "int", 48,
              "Hours after close_by before the general manager is escalated to (close_gm_by)."),
        *CALENDAR_PARAMS,
        Param("now", "datetime", None, "Evaluation time (supplied by the engine); used when received_at is absent."),
    ],
)
def compute_deadlines(data: dict, params: dict) -> dict:
    """Deadlines of a complaint from its receipt time and urgency.

    Inputs: ``received_at`` (ISO 8601 date-time; without offset it is local time in
    ``timezone``; when absent, ``now`` — the registration, since the diagram runs this at
    receipt) and ``urgency`` (serious / general / occasional; absent or empty before the
    complaint is graded: then only the deadlines that do not depend on it are computed).
    Outputs (ISO 8601 date-times with the local offset): ``received_at`` (normalised),
    ``react_by`` (end of the ``s_react_wd``-th working day after the day of receipt, at
    ``end_of_day``) and ``react_gm_by`` (+ ``gm_react_grace_h`` hours); for serious
    complaints ``containment_by`` (+ ``s_serious_containment_h`` hours) and ``close_by``
    (+ ``s_serious_close_days`` calendar days); for general and occasional complaints
    ``close_by`` only when ``s_general_close_days`` is set; with each of these its
    general-manager level ``containment_gm_by`` (+ ``gm_containment_grace_h`` hours) and
    ``close_gm_by`` (+ ``gm_close_grace_h`` hours); always ``special_major_by``
    (+ ``r_unresolved_months`` calendar months). Keys that do not apply are absent.
    Parameters: ``s_react_wd`` (2), ``s_serious_containment_h`` (24),
    ``s_serious_close_days`` (7), ``s_general_close_days`` (none), ``r_unresolved_months``
    (2), ``gm_react_grace_h`` (24), ``gm_containment_grace_h`` (12), ``gm_close_grace_h``
    (48), ``timezone``, ``country``, ``end_of_day`` (the working-day calendar).
    """
    cal = calendar_from_params(params)
    react_wd = to_int(params["s_react_wd"], "s_react_wd")
    containment_h = to_int(params["s_serious_containment_h"], "s_serious_containment_h")
    serious_close = to_int(params["s_serious_close_days"], "s_serious_close_days")
    general_close = params.get("s_general_close_days")
    general_close = None if general_close is None else to_int(general_close, "s_general_close_days")
    months = to_int(params["r_unresolved_months"], "r_unresolved_months")
    grace = {key: _hours(params, f"gm_{key}_grace_h") for key in ("react", "containment", "close")}

    urgency = data.get("urgency")
    if not is_missing(urgency):
        urgency = to_str(urgency, "urgency").lower()
        if urgency not in URGENCIES:
            raise OperatorError(f"unknown urgency {urgency!r} (known: {', '.join(URGENCIES)})", field="urgency")

    raw = data.get("received_at")
    if is_missing(raw):
        received = now_param(params, cal.tz)
    else:
        received = to_datetime(raw, "received_at", cal.tz).astimezone(cal.tz)

    react_by = cal.deadline(received, react_wd)
    result = {
        "received_at": iso(received),
        "react_by": iso(react_by),
        "react_gm_by": iso(_after_hours(react_by, grace["react"], cal.tz)),
    }
    close_by: dt.datetime | None = None
    if urgency == "serious":
        containment = _after_hours(received, containment_h, cal.tz)
        result["containment_by"] = iso(containment)
        result["containment_gm_by"] = iso(_after_hours(containment, grace["containment"], cal.tz))
        close_by = received + dt.timedelta(days=serious_close)
    elif not is_missing(urgency) and general_close is not None:
        close_by = received + dt.timedelta(days=general_close)
    if close_by is not None:
        result["close_by"] = iso(close_by)
        result["close_gm_by"] = iso(_after_hours(close_by, grace["close"], cal.tz))
    result["special_major_by"] = iso(received + relativedelta(months=months))
    return result


def _hours(params: dict, name: str) -> int:
    hours = to_int(params[name], name)
    if hours < 0:
        raise OperatorError(f"must be at least 0, got {hours}", field=name)
    return hours


def _after_hours(moment: dt.datetime, hours: int, tz: dt.tzinfo) -> dt.datetime:
    """``moment`` + ``hours`` of elapsed time (computed in UTC), shown in local time."""
    return (moment.astimezone(dt.UTC) + dt.timedelta(hours=hours)).astimezone(tz)


@operator(
    "escalate",
    params=[
        Param("deadline", "str", doc="Data key of the deadline that was overrun, e.g. 'react_by'."),
        Param("level", "str", doc="Role notified: 'manager' (first level) or 'general_manager' (second)."),
        Param("now", "datetime", None, "Evaluation time (supplied by the engine)."),
    ],
    audit="escalation",
)
def escalate(data: dict, params: dict) -> dict:
    """Record an escalation after a deadline overrun (called behind a boundary timer).

    Input: ``escalations`` (the record so far; absent = empty) and the deadline key named
    by ``deadline``. Adds ``{key, deadline, level, due, at}`` — ``due`` the deadline value
    from the data (None when the key is absent), ``at`` = ``now`` (ISO 8601).
    Outputs: ``escalations`` — a mapping ``"<deadline>:<level>[:n]" -> record`` (a mapping,
    not a list, so escalations written on parallel branches all survive when the branches
    join) — and ``last_escalation`` (the new record). The engine writes each call to the
    audit log as an ``escalation`` event. Parameters: ``deadline``, ``level``.
    """
    deadline = to_str(params["deadline"], "deadline")
    level = to_str(params["level"], "level")
    now = now_param(params)
    previous = data.get("escalations")
    if previous is None:
        previous = {}
    if not isinstance(previous, dict):
        raise OperatorError(f"expected a mapping, got {type(previous).__name__}", field="escalations")
    due = data.get(deadline)
    if isinstance(due, (dt.date, dt.datetime)):
        due = iso(due)
    key, n = f"{deadline}:{level}", 1
    while key in previous:
        n += 1
        key = f"{deadline}:{level}:{n}"
    record = {"key": key, "deadline": deadline, "level": level, "due": due, "at": iso(now)}
    return {"escalations": {**previous, key: record}, "last_escalation": record}
