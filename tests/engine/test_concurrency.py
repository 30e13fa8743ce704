"""Two people completing the same task at the same moment: exactly one wins."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

import engine
from caseflow import store
from caseflow._engine import rows, workflows

DATA = Path(__file__).parent / "data"


def test_concurrent_completion_one_wins_one_conflicts(any_database: store.Database, monkeypatch):
    db = any_database
    with db.session() as s:
        engine.deploy(s, [DATA], actor="admin")
        view = engine.start(s, "two_tasks", {"ref": "R-1"}, actor="alice")
    task_id = view["tasks"][0]["id"]
    workflows.WORKFLOWS.clear()

    # Both transactions load the instance, then meet here before either writes.
    barrier = threading.Barrier(2, timeout=20)
    real_restore = workflows.restore

    def restore_then_wait(*args, **kwargs):
        wf = real_restore(*args, **kwargs)
        barrier.wait()
        return wf

    monkeypatch.setattr(workflows, "restore", restore_then_wait)
    outcomes: dict[str, object] = {}

    def worker(name: str, amount: int) -> None:
        try:
            with db.session() as s:  # its own connection and transaction
                engine.complete(s, task_id, {"amount": amount}, actor=engine.Actor.tool(name))
            outcomes[name] = "ok"
        except engine.Conflict as err:
            outcomes[name] = err
        except Exception as err:  # anything else is a bug the assertion below shows
            outcomes[name] = err

    threads = [threading.Thread(target=worker, args=(n, a)) for n, a in (("ann", 1), ("ben", 2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(type(v).__name__ if v != "ok" else "ok" for v in outcomes.values()) == ["Conflict", "ok"], outcomes
    winner = next(n for n, v in outcomes.items() if v == "ok")
    with db.session() as s:
        shown = engine.show(s, view["id"])
    assert shown["data"]["amount"] == {"ann": 1, "ben": 2}[winner]
    completions = [e for e in shown["audit"] if e["kind"] == "task_completed"]
    assert [e["actor"] for e in completions] == [winner]
    assert [t["name"] for t in shown["tasks"]] == ["approve"]


@pytest.mark.postgres
def test_sequence_numbers_unique_under_concurrency(postgres_server):
    db = store.Database(postgres_server.create_database("seq_concurrency"))
    db.upgrade()
    got: list[int] = []
    lock = threading.Lock()

    def allocate() -> None:
        for _ in range(25):
            with db.session() as s:
                n = store.next_number(s, "repair", 2026)
            with lock:
                got.append(n)

    threads = [threading.Thread(target=allocate) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    db.dispose()
    assert sorted(got) == list(range(1, 101))


@pytest.mark.postgres
def test_two_timer_workers_do_not_fire_the_same_timer(postgres_server, conformance, frozen_clock):
    import datetime as dt

    db = store.Database(postgres_server.create_database("timer_claims"))
    db.upgrade()
    with db.session() as s:
        engine.deploy(s, [conformance / "timer.bpmn"], actor="admin")
        iid = engine.start(s, "timer")["id"]
    frozen_clock.advance(dt.timedelta(seconds=1))
    workflows.WORKFLOWS.clear()
    first, second = db.sessionmaker(), db.sessionmaker()
    try:
        assert engine.fire_timers(first, iid) is True  # claims the timer rows, not yet committed
        assert engine.fire_timers(second, iid) is False  # the rows are held: skipped, not waited for
        second.rollback()
        first.commit()
    finally:
        first.close()
        second.close()
    with db.session() as s:
        shown = engine.show(s, iid)
    db.dispose()
    assert shown["status"] == "completed"
    assert [e["kind"] for e in shown["audit"]].count("timer_fired") == 1


def test_two_people_taking_the_same_task_one_gets_it(any_database: store.Database):
    db = any_database
    with db.session() as s:
        engine.deploy(s, [DATA], actor="admin")
        task_id = engine.start(s, "two_tasks", {"ref": "R-1"}, actor="alice")["tasks"][0]["id"]
    first, second = db.sessionmaker(), db.sessionmaker()
    try:
        # both load the task while it is free, then both try to take it
        assert rows.tasks_by_id(first, [task_id])[0]["assignee"] is None
        assert rows.tasks_by_id(second, [task_id])[0]["assignee"] is None
        assert engine.claim(first, task_id, actor=engine.Actor.tool("ann"))["assignee"] == "ann"
        first.commit()
        with pytest.raises(engine.Conflict):
            engine.claim(second, task_id, actor=engine.Actor.tool("ben"))
        second.rollback()
    finally:
        first.close()
        second.close()
    with db.session() as s:
        assert engine.list_tasks(s, instance_id=None, assignee="ann")[0]["id"] == task_id
