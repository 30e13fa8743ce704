"""The timer worker: wakes instances whose timers are due (one transaction per instance)."""
from __future__ import annotations

import logging
import threading

import engine
from caseflow import store

log = logging.getLogger("caseflow.worker")


def run_once(db: store.Database, batch: int = 100) -> int:
    """Fire every timer due now; returns the number of instances advanced."""
    fired = 0
    while True:
        with db.session() as session:
            ids = engine.due_instance_ids(session, batch)
        if not ids:
            return fired
        progressed = 0
        for instance_id in ids:
            try:
                with db.session() as session:
                    progressed += engine.fire_timers(session, instance_id)
            except engine.Conflict:
                log.info("instance %s changed while its timer fired; retrying next round", instance_id)
            except Exception:  # keep the worker alive; the instance keeps its timer
                log.exception("firing timers of instance %s failed", instance_id)
        fired += progressed
        if progressed == 0:
            return fired


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
