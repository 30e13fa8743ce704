"""Shared set-up of the complaint scenario tests: the deployed bundles, the deadlines of the
standard registration (Monday 2026-03-02 09:00 Asia/Shanghai) and shortcuts into the handling."""
from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from complaint_helpers import (
    audit,
    confirm,
    deploy,
    eight_d,
    quality_registration,
    ready_names,
    start,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
CP = re.compile(r"^CP-2026-\d{6}$")
RMA = re.compile(r"^RMA-2026-\d{6}$")
REACT_BY = "2026-03-04T18:00:00+08:00"        # 2 working days after Mon 2 March, 18:00
CONTAINMENT_BY = "2026-03-03T09:00:00+08:00"  # + 24 h
CLOSE_BY = "2026-03-09T09:00:00+08:00"        # + 7 days
SPECIAL_MAJOR_BY = "2026-05-02T09:00:00+08:00"  # + 2 months


def at(y, m, d, hh=9, mm=0, ss=0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, ss, tzinfo=SHANGHAI)


def utc(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso).astimezone(dt.UTC)


def escalations(session, iid) -> list[tuple[str, str]]:
    return [(e["payload"]["deadline"], e["payload"]["level"]) for e in audit(session, iid, "escalation")]


def deployed_cases(session):
    """The session, with the complaint and repair bundles deployed (version 1 each)."""
    deployed = deploy(session)
    assert {k: r.version for k, r in deployed.items()} == {"complaint": 1, "repair": 1, "returned_goods": 1}
    return session


def to_handling(session, registration=None, dept="quality", confirm_role="quality") -> int:
    iid = start(session, registration or quality_registration())["id"]
    confirm(session, iid, role=confirm_role)
    return iid


def to_plan(session, registration=None, **kw) -> int:
    iid = to_handling(session, registration)
    eight_d(session, iid, **kw)
    assert ready_names(session, iid) == {"resolution_plan"}
    return iid


# --- registration, grading, routing, deadlines ------------------------------------------------
