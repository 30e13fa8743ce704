"""Runaway scripts are stopped by the sandbox budgets and put their instance in ``error``.

Time: ``while True: pass`` at the start, after a user task and after a timer; the engine
call returns within the budget (+1 s) and other instances' timers still fire. Size: huge
values fail fast. Depth: a loop of 600 rounds is an error, not a completed case.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path

import pytest
from sandbox_diagrams import chain, counting_loop, script, timer, user, write_bundle

import engine
from caseflow import store, worker
from caseflow._engine import sandbox, timers

TIMEOUT = 0.5
RUNAWAY = "while True:\n    pass"


@pytest.fixture(autouse=True)
def small_budget():
    """A half-second time budget (the default 50 MB size budget)."""
    previous = sandbox.set_budget(sandbox.Budget(TIMEOUT, 50_000_000))
    yield
    sandbox.set_budget(previous)


def deploy(db: store.Database, tmp_path: Path, key: str, *steps) -> None:
    bundle = write_bundle(tmp_path / key, key, chain(key, *steps))
    with db.session() as s:
        engine.deploy(s, [bundle], actor="admin")


def timed(call):
    began = time.perf_counter()
    result = call()
    return result, time.perf_counter() - began


def audit_kinds(db: store.Database, instance_id: int) -> list[str]:
    with db.session() as s:
        return [e["kind"] for e in engine.audit_log(s, instance_id)]


def test_runaway_script_at_the_start_is_stopped_logged_and_audited(database, tmp_path, caplog):
    deploy(database, tmp_path, "spin_start", script("spin", RUNAWAY), user("after"))
    caplog.set_level(logging.WARNING, logger="caseflow.sandbox")
    with database.session() as s:
        view, took = timed(lambda: engine.start(s, "spin_start", {}, "admin"))
    assert took < TIMEOUT + 1
    assert view["status"] == "error" and view["error"]["task"] == "spin"
    assert "time budget of 0.5 s" in view["error"]["message"] and "'Spin'" in view["error"]["message"]
    assert "script_stopped" in audit_kinds(database, view["id"]) and "error" in audit_kinds(database, view["id"])
    (record,) = [r for r in caplog.records if r.name == "caseflow.sandbox"]
    assert record.levelno == logging.WARNING and "spin_start" in record.getMessage() and "spin" in record.getMessage()


def test_runaway_script_after_a_user_task_is_stopped(database, tmp_path):
    deploy(database, tmp_path, "spin_after_task", user("first"), script("spin", RUNAWAY), user("after"))
    with database.session() as s:
        view = engine.start(s, "spin_after_task", {}, "admin")
        task_id = view["tasks"][0]["id"]
        view, took = timed(lambda: engine.complete(s, task_id, {}, engine.Actor.tool("clerk")))
    assert took < TIMEOUT + 1
    assert view["status"] == "error" and view["error"]["task"] == "spin"


def test_a_script_cannot_catch_its_way_past_the_deadline(database, tmp_path):
    stubborn = ("while True:\n    try:\n        while True:\n            pass\n    except Exception:\n        pass\n"
                "    finally:\n        pass")
    deploy(database, tmp_path, "stubborn", script("spin", stubborn), user("after"))
    with database.session() as s:
        view, took = timed(lambda: engine.start(s, "stubborn", {}, "admin"))
    assert took < TIMEOUT + 1 and view["status"] == "error"


def test_recursion_then_a_loop_is_stopped_too(database, tmp_path):
    # hitting the recursion limit makes CPython drop the trace function; the handler puts it back
    source = "def f(n):\n    return f(n + 1)\ntry:\n    f(0)\nexcept Exception:\n    pass\nwhile True:\n    pass"
    deploy(database, tmp_path, "deep", script("spin", source), user("after"))
    with database.session() as s:
        view, took = timed(lambda: engine.start(s, "deep", {}, "admin"))
    assert took < TIMEOUT + 1 and view["status"] == "error" and "time budget" in view["error"]["message"]


def _two_timer_cases(database, tmp_path) -> tuple[int, int]:
    deploy(database, tmp_path, "spin_after_timer", timer("wait"), script("spin", RUNAWAY), user("after"))
    deploy(database, tmp_path, "calm_after_timer", timer("wait"), user("after"))
    with database.session() as s:
        bad = engine.start(s, "spin_after_timer", {}, "admin")["id"]
        good = engine.start(s, "calm_after_timer", {}, "admin")["id"]
    return bad, good


def test_runaway_script_after_a_timer_is_stopped_and_other_timers_fire(database, tmp_path, frozen_clock):
    bad, good = _two_timer_cases(database, tmp_path)
    frozen_clock.advance(dt.timedelta(hours=2))
    with database.session() as s:
        fired, took = timed(lambda: engine.fire_due_timers(s))
    assert took < TIMEOUT + 1 and fired == 2
    with database.session() as s:
        assert engine.show(s, bad)["status"] == "error"
        calm = engine.show(s, good)
        assert calm["status"] == "running" and [t["name"] for t in calm["tasks"]] == ["after"]
        assert engine.due_instance_ids(s) == []


def test_the_worker_skips_the_runaway_instance_and_fires_the_others(database, tmp_path, frozen_clock):
    bad, good = _two_timer_cases(database, tmp_path)
    frozen_clock.advance(dt.timedelta(hours=2))
    fired, took = timed(lambda: worker.run_once(database))
    assert took < TIMEOUT + 1 and fired == 2
    with database.session() as s:
        assert engine.show(s, bad)["status"] == "error"
        assert engine.show(s, good)["status"] == "running"


def test_an_unexpected_failure_while_firing_stops_only_that_instance(database, tmp_path, frozen_clock, monkeypatch):
    bad, good = _two_timer_cases(database, tmp_path)  # here the first one breaks when it is saved
    frozen_clock.advance(dt.timedelta(hours=2))
    real_save = timers.sync.save

    def save(session, case, *args, **kwargs):
        if case.id == bad:
            raise RuntimeError("disk on fire")
        return real_save(session, case, *args, **kwargs)

    monkeypatch.setattr(timers.sync, "save", save)
    with database.session() as s:
        assert engine.fire_due_timers(s) == 2
    with database.session() as s:
        failed = engine.show(s, bad)
        assert failed["status"] == "error" and "disk on fire" in failed["error"]["message"]
        assert engine.show(s, good)["status"] == "running"
        assert engine.due_instance_ids(s) == []  # the failed one is not picked again and again


def test_a_worker_round_does_not_retry_an_instance_that_failed(database, tmp_path, frozen_clock, monkeypatch):
    bad, good = _two_timer_cases(database, tmp_path)
    frozen_clock.advance(dt.timedelta(hours=2))
    tries: list[int] = []
    real_fire = engine.fire_timers

    def fire(session, instance_id, actor=engine.TIMER):
        tries.append(instance_id)
        if instance_id == bad:
            raise engine.Conflict("someone else is changing it")
        return real_fire(session, instance_id, actor)

    monkeypatch.setattr(worker.engine, "fire_timers", fire)
    assert worker.run_once(database, batch=1) == 1
    assert tries.count(bad) == 1 and tries.count(good) == 1


@pytest.mark.parametrize("expression, message", [
    ("'a' * 10**10", "would build a value of about 10.0 GB"),
    ("10**10**8", "would give an integer of about 332,192,809 bits"),
    ("[0] * 10**9", "would build a value of about 8.0 GB"),
    ("list(range(10**10))", "range() of 10,000,000,000 numbers is more than scripts may use"),
    ("'x'.ljust(10**10)", "str.ljust(10000000000) would build a value of about 10.0 GB"),
    ("1 << 10**9", "would give an integer of about 1,000,000,001 bits"),
    ("'-'.join(['ab'] * 1000000) * 100", "would build a value of about 300.0 MB"),
    ("('x' * 1000000).replace('x', 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy')", "replace()"),
    ("'%0100000000d' % 1", "would build a value of about 100.0 MB"),
    ("sorted(range(2000000))", "sorted() would build a value of about 80.0 MB"),
    ("list(map(abs, [0] * 5000000))", "list() would build a value"),
])
def test_huge_values_fail_fast_with_a_clear_message(database, tmp_path, expression, message):
    deploy(database, tmp_path, "huge", script("build", f"value = {expression}"), user("after"))
    with database.session() as s:
        view, took = timed(lambda: engine.start(s, "huge", {}, "admin"))
    assert took < TIMEOUT
    assert view["status"] == "error" and view["error"]["task"] == "build"
    assert message in view["error"]["message"] and "CASEFLOW_SCRIPT" in view["error"]["message"] \
        or "scripts may use integers" in view["error"]["message"]


def test_values_within_the_budget_are_built(database, tmp_path):
    source = ("a = 'x' * 1000\nb = [0] * 1000\nc = 2 ** 100\nd = list(range(10))\ne = 'y'.ljust(20)\n"
              "f = ','.join(['p', 'q'])\ng = a.replace('x', 'zz').count('z')\nh = '%05d' % 42\n"
              "i = sum(range(5))\nj = sorted([3, 1, 2])\nk = dict(p=1)\nl = 1 << 10\nm = d + [10]\nm += [11]")
    deploy(database, tmp_path, "fits", script("build", source), user("after"))
    with database.session() as s:
        view = engine.start(s, "fits", {}, "admin")
    assert view["status"] == "running", view.get("error")
    data = view["data"]
    assert (data["c"], data["d"], data["e"], data["f"], data["g"], data["h"]) == \
        (2 ** 100, list(range(10)), "y" + " " * 19, "p,q", 2000, "00042")
    assert (data["i"], data["j"], data["k"], data["l"], data["m"]) == (10, [1, 2, 3], {"p": 1}, 1024, [*range(12)])


def test_memory_growth_in_a_loop_is_stopped(database, tmp_path):
    deploy(database, tmp_path, "hoard", script("grow", "x = []\nwhile True:\n    x.append('a' * 1000000)"),
           user("after"))
    with database.session() as s:
        view, took = timed(lambda: engine.start(s, "hoard", {}, "admin"))
    assert took < TIMEOUT + 1 and view["status"] == "error"
    assert "CASEFLOW_SCRIPT_MAX_BYTES" in view["error"]["message"]


@pytest.mark.parametrize("rounds, status", [(600, "error"), (20, "running")])
def test_a_loop_of_600_rounds_is_an_error_not_a_completed_case(database, tmp_path, rounds, status):
    bundle = write_bundle(tmp_path / "rounds", "rounds", counting_loop("rounds", rounds))
    with database.session() as s:
        engine.deploy(s, [bundle], actor="admin")
        view = engine.start(s, "rounds", {}, "admin")
    assert view["status"] == status, (view["status"], view["data"], view.get("error"))
    if status == "running":  # a short loop reaches its task
        assert view["data"]["n"] == rounds and [t["name"] for t in view["tasks"]] == ["check"]
        return
    assert "more than 1000 steps in a row" in view["error"]["message"]
    assert "completed" not in audit_kinds(database, view["id"])
    with database.session() as s:
        again = engine.retry(s, view["id"], actor="admin")  # still too deep: an error again, never completed
    assert again["status"] == "error"
