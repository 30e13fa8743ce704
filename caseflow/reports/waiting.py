"""Where cases wait: per element of a process version, how many cases passed and how long they
spent there; per sequence flow, how often it was taken (the heat map drawn on the diagram).

Aggregated in SQL over the task and audit tables, never by loading a workflow:

- human tasks (``human_task``, created → completed): passed (finished), waiting now (ready),
  and the median and 90th percentile of the time spent (nearest rank, by window functions);
- timer events: the times they fired (``timer_fired`` audit events, named by the event);
- start and end events of the process (not of its subprocesses): the cases started, and the
  cases completed (when it has a single end event);
- sequence flows: into a task with one incoming flow, the task's entries; out of a task with
  one outgoing flow, its completions; otherwise the consecutive task pairs of each case (a flow
  straight from one task to the next).

The period selects the tasks created (the timers fired, the cases started) from ``from`` to
``to``, days of the business time zone, both included.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Float, case, cast, func, select
from sqlalchemy.orm import Session

from caseflow import store
from caseflow.bundles import parse_xml

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
TASKS = ("userTask", "manualTask")
T = store.HumanTask
CASE = store.ProcessInstance
AUDIT = store.AuditEvent
PERCENTILES = (("median_s", 50), ("p90_s", 90))


@dataclass(frozen=True)
class Element:
    """A flow node of the diagram: its id, BPMN tag (without namespace), name, flows in and out."""

    id: str
    kind: str
    name: str
    incoming: tuple[str, ...]
    outgoing: tuple[str, ...]
    timer: bool = False
    top: bool = False  # directly in a process (not inside a subprocess)


def read_diagram(xml: str) -> tuple[dict[str, Element], dict[str, tuple[str, str]]]:
    """The flow nodes and the sequence flows (id → (source, target)) of a BPMN file."""
    root = parse_xml("diagram.bpmn", xml).getroot()
    elements: dict[str, Element] = {}
    flows: dict[str, tuple[str, str]] = {}
    for node in root.iter():
        if not isinstance(node.tag, str) or not node.tag.startswith(BPMN):
            continue
        tag, node_id = node.tag[len(BPMN):], node.get("id")
        if not node_id:
            continue
        if tag == "sequenceFlow":
            flows[node_id] = (node.get("sourceRef") or "", node.get("targetRef") or "")
        elif node.find(f"{BPMN}incoming") is not None or node.find(f"{BPMN}outgoing") is not None:
            elements[node_id] = Element(
                node_id, tag, node.get("name") or "", tuple(e.text or "" for e in node.findall(f"{BPMN}incoming")),
                tuple(e.text or "" for e in node.findall(f"{BPMN}outgoing")),
                node.find(f"{BPMN}timerEventDefinition") is not None,
                getattr(node.getparent(), "tag", None) == f"{BPMN}process")
    return elements, flows


def _seconds(session: Session, later: Any, earlier: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * cast(86400.0, Float)


def task_times(session: Session, definition_id: int, start: dt.datetime, end: dt.datetime) -> dict[str, dict]:
    """Per human task (BPMN id): finished, waiting now, median and p90 seconds from creation to completion."""
    of_version = [T.instance_id == CASE.id, CASE.definition_id == definition_id, T.created_at >= start,
                  T.created_at < end]
    out: dict[str, dict] = {}
    for name, finished, ready in session.execute(
            select(T.name, func.sum(case((T.state == "completed", 1), else_=0)),
                   func.sum(case((T.state == "ready", 1), else_=0))).where(*of_version).group_by(T.name)):
        out[name] = {"passed": int(finished or 0), "waiting": int(ready or 0), "median_s": None, "p90_s": None}
    spent = _seconds(session, T.completed_at, T.created_at)
    ranked = (select(T.name.label("name"), spent.label("spent"),
                     func.row_number().over(partition_by=T.name, order_by=spent).label("rank"),
                     func.count().over(partition_by=T.name).label("total"))
              .where(*of_version, T.state == "completed", T.completed_at.is_not(None)).subquery())
    picks = [func.max(case((ranked.c.rank == (ranked.c.total * p + 99) // 100, ranked.c.spent))).label(label)
             for label, p in PERCENTILES]
    for row in session.execute(select(ranked.c.name, *picks).group_by(ranked.c.name)):
        entry = out.setdefault(row.name, {"passed": 0, "waiting": 0})
        for label, _p in PERCENTILES:
            value = getattr(row, label)
            entry[label] = round(float(value), 1) if value is not None else None
    return out


def _pairs(session: Session, definition_id: int, start: dt.datetime, end: dt.datetime) -> dict[tuple[str, str], int]:
    """How often task B was created right after task A in the same case (consecutive creations)."""
    ordered = (select(T.name.label("name"),
                      func.lag(T.name).over(partition_by=T.instance_id, order_by=(T.created_at, T.id)).label("prev"))
               .where(T.instance_id == CASE.id, CASE.definition_id == definition_id, T.created_at >= start,
                      T.created_at < end).subquery())
    return {(prev, name): int(n) for prev, name, n in session.execute(
        select(ordered.c.prev, ordered.c.name, func.count()).where(ordered.c.prev.is_not(None))
        .group_by(ordered.c.prev, ordered.c.name))}


def _timer_fires(session: Session, definition_id: int, start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    return {name: int(n) for name, n in session.execute(
        select(AUDIT.task, func.count()).where(AUDIT.instance_id == CASE.id, CASE.definition_id == definition_id,
                                               AUDIT.kind == "timer_fired", AUDIT.at >= start, AUDIT.at < end)
        .group_by(AUDIT.task)) if name}


def _case_counts(session: Session, definition_id: int, start: dt.datetime, end: dt.datetime) -> tuple[int, int]:
    started, completed = session.execute(
        select(func.count(), func.coalesce(func.sum(case((CASE.status == "completed", 1), else_=0)), 0))
        .where(CASE.definition_id == definition_id, CASE.created_at >= start, CASE.created_at < end)).one()
    return int(started), int(completed)


def waiting(session: Session, definition_id: int, xml: str, date_from: dt.date, date_to: dt.date,
            tz: ZoneInfo) -> dict[str, Any]:
    """The heat map of a process version over a period: ``elements`` (id → figures) and ``flows`` (id → count)."""
    start = dt.datetime.combine(date_from, dt.time(), tz)
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), tz)
    elements, flows = read_diagram(xml)
    times = task_times(session, definition_id, start, end)
    fires = _timer_fires(session, definition_id, start, end)
    started, completed = _case_counts(session, definition_id, start, end)
    starts = [e for e in elements.values() if e.kind == "startEvent" and e.top]
    ends = [e for e in elements.values() if e.kind == "endEvent" and e.top]
    out: dict[str, dict[str, Any]] = {}
    for e in elements.values():
        if e.kind in TASKS and e.id in times:
            out[e.id] = {"kind": "task", **times[e.id]}
        elif e.timer and (e.name in fires or e.id in fires):
            out[e.id] = {"kind": "timer", "passed": fires.get(e.name, fires.get(e.id, 0)), "waiting": 0,
                         "median_s": None, "p90_s": None}
    if len(starts) == 1:
        out[starts[0].id] = {"kind": "start", "passed": started, "waiting": 0, "median_s": None, "p90_s": None}
    if len(ends) == 1:
        out[ends[0].id] = {"kind": "end", "passed": completed, "waiting": 0, "median_s": None, "p90_s": None}
    pairs = _pairs(session, definition_id, start, end)
    entered = {k: v["passed"] + v["waiting"] for k, v in out.items()}
    left = {k: v["passed"] for k, v in out.items()}
    counts: dict[str, int] = {}
    for flow_id, (source, target) in flows.items():
        src, tgt = elements.get(source), elements.get(target)
        if tgt is not None and len(tgt.incoming) == 1 and target in entered:
            counts[flow_id] = entered[target]
        elif src is not None and len(src.outgoing) == 1 and source in left:
            counts[flow_id] = left[source]
        elif (source, target) in pairs:
            counts[flow_id] = pairs[(source, target)]
    return {"elements": out, "flows": counts}


def versions(session: Session, process_key: str) -> list[tuple[int, int]]:
    """The deployed versions of a process: (definition id, version), newest first."""
    d = store.ProcessDefinition
    return [(i, v) for i, v in session.execute(select(d.id, d.version).where(d.key == process_key)
                                               .order_by(d.version.desc()))]


def definition_of(session: Session, process_key: str, version: int | None) -> int | None:
    """The definition id of a process version (None: the newest one), or None when there is none."""
    found: Iterable[tuple[int, int]] = versions(session, process_key)
    for definition_id, number in found:
        if version is None or number == version:
            return definition_id
    return None
