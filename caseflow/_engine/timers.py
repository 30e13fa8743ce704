"""Timers: the due ones fire, each instance in its own transaction or savepoint.

One bad instance never holds up the others: a script that runs away after a timer is stopped
by the sandbox budget and puts its instance in ``error`` (:func:`run.run_steps`); any other
failure while firing is rolled back to the instance's savepoint, logged, and the instance is
put in ``error`` with its timers cleared, so it is not picked again and again.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from caseflow import clock, store
from caseflow._engine import records, rows, run, specs, sync, workflows
from caseflow._engine.errors import Conflict

log = logging.getLogger("caseflow.engine")

_NEXT_DUE = select(func.min(store.Timer.due_at))  # MIN over the due_at index: one index probe


def next_timer_due(session: Session) -> dt.datetime | None:
    """When the soonest stored timer is due (None: no timers); one read of the ``due_at`` index."""
    return session.connection().execute(_NEXT_DUE).scalar()


def on_timers_saved(hook: Callable[[dt.datetime], None]) -> Callable[[], None]:
    """Call ``hook(soonest_due_at)`` in the committing thread after each commit of this process that
    wrote timers (so a sleeping timer loop can wake for a sooner one); returns the unsubscriber."""
    return rows.on_timers_committed(hook)


def listen_for_timers(bind: Engine, hook: Callable[[dt.datetime], None], stop: threading.Event,
                      poll_s: float = 0.25) -> None:
    """On PostgreSQL, call ``hook(due_at)`` for every timer any process commits (``LISTEN`` on
    ``rows.TIMER_CHANNEL``) until ``stop`` is set; returns at once on other databases.

    Holds one pooled connection while it listens; a lost connection is opened again after a
    pause (the caller's poll covers the gap).
    """
    if bind.dialect.name != "postgresql":
        return
    while not stop.is_set():
        try:
            with bind.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.exec_driver_sql(f"LISTEN {rows.TIMER_CHANNEL}")
                raw: Any = conn.connection.driver_connection
                try:
                    while not stop.is_set():
                        for note in raw.notifies(timeout=poll_s):
                            hook(dt.datetime.fromisoformat(note.payload))
                finally:
                    conn.exec_driver_sql(f"UNLISTEN {rows.TIMER_CHANNEL}")
        except Exception:  # keep listening; the timer loop's poll is the safety net meanwhile
            log.exception("listening for timers failed; listening again in 5 s")
            stop.wait(5.0)


def due_instance_ids(session: Session, limit: int = 100) -> list[int]:
    """Instances with a timer due now, soonest first (``fire_timers`` claims them one by one)."""
    return rows.due_timer_instances(session, clock.now(), limit)


def fire_timers(session: Session, instance_id: int, actor: str = "timer") -> bool:
    """Fire the due timers of one instance and run it on; True when something fired (or it failed).

    Runs in a savepoint: an unexpected failure rolls back what the firing wrote, and the
    instance is put in ``error`` instead (:class:`Conflict` and database errors are raised).
    """
    try:
        with session.begin_nested():
            return _fire(session, instance_id, actor)
    except (Conflict, SQLAlchemyError):
        raise
    except Exception as err:  # a bug or an engine failure outside the scripts: this instance only
        log.exception("firing the timers of instance %s failed; the instance is put in error", instance_id)
        with session.begin_nested():
            _mark_failed(session, instance_id, actor, f"firing its timer failed: {type(err).__name__}: {err}")
        return True


def _fire(session: Session, instance_id: int, actor: str) -> bool:
    case = records.load_case(session, instance_id)
    assert case.id is not None
    if case.status in run.FINISHED:
        rows.replace_timers(session, case.id, [])
        return False
    due = rows.claim_due_timers(session, case.id, clock.now())
    if not due:
        return False
    loaded = specs.SPECS.get(session, case.definition)
    wf = workflows.restore(session, case, loaded)

    def steps(w: BpmnWorkflow) -> None:
        w.refresh_timers()
        w.do_engine_steps()

    events = [rows.event(actor, "timer_fired", t["name"], {"due_at": t["due_at"].isoformat()}) for t in due]
    run.run_steps(session, case, wf, actor, steps, events)
    sync.save(session, case, wf, loaded, actor, events)
    return True


def _mark_failed(session: Session, instance_id: int, actor: str, message: str) -> None:
    """Put an instance in ``error`` without its workflow (which could not be run or saved)."""
    case = records.load_case(session, instance_id)
    assert case.id is not None
    case.status, case.error, case.error_task = "error", message[:400], None
    case.timers = []
    case.updated_at = clock.now()
    if not rows.save_case(session, case):
        raise Conflict("the case was changed by someone else while its timer fired")
    rows.replace_timers(session, case.id, [])
    rows.audit(session, case.id, actor, "error", None, {"message": case.error})


def fire_due_timers(session: Session, limit: int = 100) -> int:
    """Fire every due timer (each instance in its own savepoint); returns instances advanced."""
    fired = 0
    for instance_id in due_instance_ids(session, limit):
        try:
            fired += fire_timers(session, instance_id)
        except Conflict:
            continue  # someone changed it meanwhile; the next round sees the new state
    return fired
