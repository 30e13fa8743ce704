"""The timer loop sleeps until the next due timer and wakes when a sooner one is saved.

The loop runs with a 30 s safety-net interval: a timer that fires within a couple of seconds
can only have been found by the loop's own schedule (``engine.next_timer_due``) or by the
wake-up a commit sends (``engine.on_timers_saved``), never by the poll.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import engine
from caseflow import clock, store, worker

INTERVAL_S = 30.0  # the poll: far longer than any wait below
TIMER_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D_wake"
    targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="wake_{seconds}s" isExecutable="true">
    <bpmn:laneSet id="LS"><bpmn:lane id="L" name="Quality">
      <bpmn:flowNodeRef>s</bpmn:flowNodeRef><bpmn:flowNodeRef>w</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>check</bpmn:flowNodeRef><bpmn:flowNodeRef>e</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s" />
    <bpmn:intermediateCatchEvent id="w">
      <bpmn:timerEventDefinition id="wd"><bpmn:timeDuration>"PT{seconds}S"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:userTask id="check" name="Check" />
    <bpmn:endEvent id="e" />
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="w" />
    <bpmn:sequenceFlow id="f2" sourceRef="w" targetRef="check" />
    <bpmn:sequenceFlow id="f3" sourceRef="check" targetRef="e" />
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture
def timer_db(database: store.Database, tmp_path: Path) -> store.Database:
    """The test database with ``wake_1s`` and ``wake_600s`` (a timer, then a quality task) deployed."""
    for seconds in (1, 600):
        folder = tmp_path / f"wake_{seconds}s"
        folder.mkdir()
        (folder / f"wake_{seconds}s.bpmn").write_text(TIMER_BPMN.format(seconds=seconds))
        with database.session() as s:
            engine.deploy(s, [folder], actor="admin")
    return database


@pytest.fixture
def loop(timer_db: store.Database) -> Iterator[threading.Thread]:
    """The timer loop in a thread (as ``caseflow serve`` runs it), stopped after the test."""
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(timer_db, INTERVAL_S, stop), daemon=True)
    yield thread
    stop.set()
    thread.join(5)
    assert not thread.is_alive(), "the timer loop did not stop within 5 s of its stop event"


def start(db: store.Database, key: str) -> int:
    with db.session() as s:
        return int(engine.start(s, key, {}, actor="admin")["id"])


def wait_fired(db: store.Database, instance_id: int, within: float) -> float | None:
    """Seconds until the instance's timer fired (its quality task is ready), or None after ``within``."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        with db.session() as s:
            if engine.show(s, instance_id, audit=False)["tasks"]:
                return time.monotonic() - started
        time.sleep(0.05)
    return None


def test_next_timer_due_is_the_soonest_stored_timer(timer_db: store.Database) -> None:
    with timer_db.session() as s:
        assert engine.next_timer_due(s) is None
    before = clock.now()
    start(timer_db, "wake_600s")
    start(timer_db, "wake_1s")
    with timer_db.session() as s:
        due = engine.next_timer_due(s)
    assert due is not None and due.tzinfo is not None
    assert before + dt.timedelta(seconds=1) <= due <= clock.now() + dt.timedelta(seconds=1)


def test_the_loop_wakes_for_a_sooner_timer_saved_while_it_sleeps(timer_db: store.Database,
                                                                  loop: threading.Thread) -> None:
    far = start(timer_db, "wake_600s")  # the loop will sleep towards this one (capped by the 30 s poll)
    loop.start()
    time.sleep(0.5)  # the loop has looked once and sleeps now
    near = start(timer_db, "wake_1s")
    took = wait_fired(timer_db, near, within=5.0)
    assert took is not None, "the 1 s timer did not fire within 5 s: the loop was not woken"
    assert took < 2.5, f"the 1 s timer fired after {took:.2f} s"
    with timer_db.session() as s:
        assert engine.show(s, far, audit=False)["tasks"] == []  # the far timer waits on


def test_timers_stored_before_the_loop_starts_fire_on_time(timer_db: store.Database,
                                                           loop: threading.Thread) -> None:
    """After a restart, the loop's first look schedules the stored timers (no poll needed)."""
    instance_id = start(timer_db, "wake_1s")
    loop.start()
    took = wait_fired(timer_db, instance_id, within=5.0)
    assert took is not None and took < 2.5, f"the stored 1 s timer fired after {took} s"


def test_a_far_timer_does_not_wake_the_loop(timer_db: store.Database) -> None:
    """Saving a timer later than the loop's wake time leaves it asleep; a sooner one wakes it."""
    alarm = worker.Alarm()
    stop = threading.Event()
    until = clock.now() + dt.timedelta(seconds=INTERVAL_S)
    sleeper = threading.Thread(target=alarm.sleep_until, args=(until, stop), daemon=True)
    sleeper.start()
    time.sleep(0.2)
    alarm.offer(until + dt.timedelta(seconds=5))
    sleeper.join(0.5)
    assert sleeper.is_alive(), "a later timer woke the loop"
    alarm.offer(clock.now() + dt.timedelta(seconds=1))
    sleeper.join(1.0)
    assert not sleeper.is_alive(), "a sooner timer did not wake the loop"


def test_a_burst_of_timers_falling_due_one_after_another_all_fire_on_time(timer_db: store.Database,
                                                                          loop: threading.Thread) -> None:
    """Timers that fall due while the loop is firing others are fired in the next round at once
    (not after the retry delay kept for instances that could not be fired)."""
    loop.start()
    with timer_db.session() as s:  # one commit: due times a few ms apart, closer than a firing takes
        ids = [int(engine.start(s, "wake_1s", {}, actor="admin")["id"]) for _ in range(10)]
    for instance_id in ids:
        assert wait_fired(timer_db, instance_id, within=5.0) is not None
    late = []
    for instance_id in ids:
        with timer_db.session() as s:
            [fired] = [e for e in engine.audit_log(s, instance_id) if e["kind"] == "timer_fired"]
        late.append((dt.datetime.fromisoformat(fired["at"]) -
                     dt.datetime.fromisoformat(fired["payload"]["due_at"])).total_seconds())
    assert max(late) < 0.9, f"timers fired late by {sorted(late)} s"


def test_when_the_loop_looks_next(timer_db: store.Database, frozen_clock: object) -> None:
    """The soonest due time, capped by the poll; a timer already due: at once after a round that
    fired something (it fell due meanwhile), after ``RETRY_S`` after one that fired nothing."""
    now = clock.now()
    assert worker.next_wake(timer_db, INTERVAL_S, 0) == now + dt.timedelta(seconds=INTERVAL_S)
    start(timer_db, "wake_1s")
    start(timer_db, "wake_600s")
    assert worker.next_wake(timer_db, INTERVAL_S, 0) == now + dt.timedelta(seconds=1)
    assert worker.next_wake(timer_db, 0.5, 0) == now + dt.timedelta(seconds=0.5)
    later = clock.advance(dt.timedelta(seconds=2))
    assert worker.next_wake(timer_db, INTERVAL_S, 1) == later
    assert worker.next_wake(timer_db, INTERVAL_S, 0) == later + dt.timedelta(seconds=worker.RETRY_S)


@pytest.mark.postgres
def test_postgres_tells_every_process_of_a_saved_timer(postgres_database: store.Database, tmp_path: Path) -> None:
    """LISTEN/NOTIFY: the listener hears of a timer committed on another connection (as another
    process's would be), and only once it is committed."""
    any_database = postgres_database
    folder = tmp_path / "wake_1s"
    folder.mkdir()
    (folder / "wake_1s.bpmn").write_text(TIMER_BPMN.format(seconds=1))
    with any_database.session() as s:
        engine.deploy(s, [folder], actor="admin")
    heard: list[dt.datetime] = []
    stop = threading.Event()
    listener = threading.Thread(target=engine.listen_for_timers, args=(any_database.engine, heard.append, stop),
                                daemon=True)
    listener.start()
    other = store.Database(str(any_database.engine.url.render_as_string(hide_password=False)))  # its own pool
    try:
        time.sleep(0.5)  # listening
        with other.session() as s:
            engine.start(s, "wake_1s", {}, actor="admin")
            time.sleep(0.5)
            assert heard == [], "notified before the commit"
        deadline = time.monotonic() + 3
        while not heard and time.monotonic() < deadline:
            time.sleep(0.05)
        with any_database.session() as s:
            assert heard == [engine.next_timer_due(s)]
    finally:
        stop.set()
        listener.join(3)
        other.dispose()
    assert not listener.is_alive()
