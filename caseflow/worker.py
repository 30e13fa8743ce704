"""The timer worker: fires due timers through the engine, one transaction per instance.

Each round asks the engine which instances have a timer due (``engine.due_instance_ids``) and
fires each with ``engine.fire_timers`` in its own transaction, so one instance that fails or
loses to a concurrent change neither rolls back nor holds up the others. (``engine.fire_due_timers``
fires a whole batch inside the caller's one transaction, with a savepoint per instance: right
for a caller that owns the transaction, not for a long-running worker.)
"""
from __future__ import annotations

import logging
import threading

import engine
from caseflow import store

log = logging.getLogger("caseflow.worker")


def fire_instance(db: store.Database, instance_id: int) -> bool:
    """Fire the due timers of one instance in its own transaction; True when it advanced.

    A script that runs away is stopped by the sandbox budget and the engine puts that
    instance in ``error`` (which counts as advanced: its timers are gone).
    """
    try:
        with db.session() as session:
            return engine.fire_timers(session, instance_id, actor=engine.TIMER)
    except engine.Conflict:
        log.info("instance %s changed while its timer fired; retrying next round", instance_id)
    except Exception:  # keep the worker alive; the instance keeps its timer
        log.exception("firing timers of instance %s failed", instance_id)
    return False


def run_once(db: store.Database, batch: int = 100) -> int:
    """Fire every timer due now (batch by batch); returns the number of instances advanced.

    An instance that did not advance is not tried again in this round, and does not take a
    place in the next batch: instances that keep failing never hold up the others.
    """
    fired = 0
    skipped: set[int] = set()
    while True:
        with db.session() as session:
            due = [i for i in engine.due_instance_ids(session, batch + len(skipped)) if i not in skipped]
        if not due:
            return fired
        for instance_id in due:
            if fire_instance(db, instance_id):
                fired += 1
            else:
                skipped.add(instance_id)


def run_forever(db: store.Database, interval: float, stop: threading.Event | None = None) -> None:
    """Poll for due timers every ``interval`` seconds until ``stop`` is set."""
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            count = run_once(db)
            if count:
                log.info("fired timers of %d instance(s)", count)
        except Exception:
            log.exception("timer worker round failed")
        stop.wait(interval)


def start_background(db: store.Database, interval: float) -> threading.Event:
    """Run the worker in a daemon thread of this process; set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, args=(db, interval, stop), name="caseflow-timers", daemon=True)
    thread.start()
    return stop
