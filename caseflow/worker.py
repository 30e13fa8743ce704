"""The timer worker: fires due timers through the engine, one transaction per instance.

The loop sleeps until the soonest stored timer is due (``engine.next_timer_due``) and wakes as
soon as a commit of this process saves a sooner one (``engine.on_timers_saved``) or, on
PostgreSQL, of any process (``engine.listen_for_timers``: LISTEN/NOTIFY); it looks at least
every ``CASEFLOW_TIMER_INTERVAL`` seconds anyway, the safety net.

Each round asks the engine which instances have a timer due (``engine.due_instance_ids``) and
fires each with ``engine.fire_timers`` in its own transaction, so one instance that fails or
loses to a concurrent change neither rolls back nor holds up the others. (``engine.fire_due_timers``
fires a whole batch inside the caller's one transaction, with a savepoint per instance: right
for a caller that owns the transaction, not for a long-running worker.)
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time

import engine
from caseflow import clock, store

log = logging.getLogger("caseflow.worker")

STOP_CHECK_S = 0.25  # the longest the sleeping loop goes without looking at its stop event
RETRY_S = 1.0  # a timer that is still due after a round is tried again this much later


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


class Alarm:
    """When the timer loop next looks: the time it sleeps until, brought forward by sooner timers.

    ``offer(due_at)`` is the engine's hook for saved timers (it runs in the committing thread); it
    wakes the sleeper only when ``due_at`` is sooner than the time it sleeps until, so a busy server
    saving far-off deadlines costs the loop nothing.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._until: dt.datetime | None = None  # None: awake, looking at the timers
        self._rung = False

    def offer(self, due_at: dt.datetime) -> None:
        """A commit saved a timer due at ``due_at``: wake the sleeper if that is sooner."""
        with self._cond:
            if self._until is None or due_at < self._until:
                self._rung = True
                self._cond.notify_all()

    def rearm(self) -> None:
        """Start of a round: what was offered before it is seen by the round's own query."""
        with self._cond:
            self._rung = False

    def sleep_until(self, until: dt.datetime, stop: threading.Event) -> None:
        """Sleep until ``until``, a sooner timer is saved, or ``stop`` is set.

        The length is taken from ``clock`` once and then measured on the monotonic clock, so a
        frozen or jumping wall clock never makes the loop sleep longer than it meant to.
        """
        with self._cond:
            if self._rung:  # offered while the round ran: look again at once
                return
            self._until = until
            deadline = time.monotonic() + max(0.0, (until - clock.now()).total_seconds())
            try:
                while not self._rung and not stop.is_set():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return
                    self._cond.wait(min(left, STOP_CHECK_S))
            finally:
                self._until = None


def next_wake(db: store.Database, interval: float, fired: int) -> dt.datetime:
    """When to look again: the soonest stored timer's due time, at most ``interval`` seconds away.

    A timer due by now is looked at again at once after a round that fired something (it fell
    due meanwhile); after a round that fired nothing it belongs to an instance that failed or
    changed meanwhile, and is retried after ``RETRY_S``, so a stuck instance never makes the loop spin.
    """
    now = clock.now()
    latest = now + dt.timedelta(seconds=interval)
    with db.session() as session:
        due = engine.next_timer_due(session)
    if due is None or due >= latest:
        return latest
    if due <= now:
        return now if fired else now + dt.timedelta(seconds=min(RETRY_S, interval))
    return due


def run_forever(db: store.Database, interval: float, stop: threading.Event | None = None) -> None:
    """Fire due timers until ``stop`` is set: sleep until the soonest one is due, wake early when
    a sooner one is saved (by this process; on PostgreSQL by any), and look at least every
    ``interval`` seconds (the safety net)."""
    stop = stop or threading.Event()
    alarm = Alarm()
    unsubscribe = engine.on_timers_saved(alarm.offer)
    listening = threading.Event()  # ends the listener with the loop
    listener: threading.Thread | None = None
    try:
        while not stop.is_set():
            alarm.rearm()
            until = clock.now() + dt.timedelta(seconds=min(RETRY_S, interval))
            try:
                count = run_once(db)
                if count:
                    log.info("fired timers of %d instance(s)", count)
                until = next_wake(db, interval, count)
            except Exception:
                log.exception("timer worker round failed")
            if listener is None and db.engine.dialect.name == "postgresql":
                # PostgreSQL: timers saved by other processes wake the loop too. Started after the
                # first round, by when whoever started this thread has found it as the one new thread
                # (web.serving's TimerLeader looks for it that way).
                listener = threading.Thread(target=engine.listen_for_timers, name="caseflow-timer-listener",
                                            args=(db.engine, alarm.offer, listening), daemon=True)
                listener.start()
            alarm.sleep_until(until, stop)
    finally:
        unsubscribe()
        listening.set()
        if listener is not None:
            listener.join(2.0)


def start_background(db: store.Database, interval: float) -> threading.Event:
    """Run the worker in a daemon thread of this process; set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, args=(db, interval, stop), name="caseflow-timers", daemon=True)
    thread.start()
    return stop
