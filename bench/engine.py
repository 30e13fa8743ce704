"""Engine benchmark: raw SpiffWorkflow vs Caseflow with persistence, and inbox query time.

Everything runs on one core: the engine, SQLite inside it, and PostgreSQL, a throwaway
server started from the system's binaries as in the test suite (fsync off like the test
server; on these virtual machines a server on the other core answered slower, not faster).

Prints a table, or one JSON object with ``--json``: raw_per_s, sqlite_per_s, postgres_per_s,
ratio_sqlite, ratio_postgres, inbox_ms_1k, inbox_ms_100k, the per-database inbox figures,
long_case_cost_ratio (completing the 200th task of a case ÷ the 3rd, on SQLite, ``bench/long_loop``),
and where the time goes: raw_serialized_per_s and ceiling_ratio (raw runs that also
serialize the state after each action, as any engine that persists it must), us_per_run,
the time inside the database driver per run (driver_us_per_run_sqlite / _postgres:
statement count, statement time, commit time), and bound_ratio_sqlite / _postgres: the
highest ratio an engine could reach that serializes after each action and spends that driver
time, with nothing else of its own (raw ÷ (raw + serialize + statements + commits)).

    .venv/bin/python bench/engine.py [--json] [--instances N] [--skip-postgres] [--long-at N] [--long-cases N]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# bench/http.py would shadow the standard library's http package: bench/ is not an import root.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from SpiffWorkflow.bpmn import BpmnWorkflow  # noqa: E402  (raw baseline only)
from SpiffWorkflow.task import TaskState  # noqa: E402
from sqlalchemy import event, insert  # noqa: E402

import engine  # noqa: E402
from caseflow import store  # noqa: E402
from caseflow._engine import adapters, scripting, specs, workflows  # noqa: E402  (raw baseline and cache control)

DIAGRAM = ROOT / "tests" / "engine" / "data"
ROLES = ["customer_service", "quality", "logistics", "marketing", "manager", "general_manager",
         "service_center", "finance"]


def pin_one_core() -> None:
    """Run this process, and the processes it starts, on one core."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def runs_per_second(one: Callable[[int], None], n: int, warm_up: int = 50) -> float:
    """Runs of ``one(i)`` per second over ``n`` runs, after ``warm_up`` untimed ones."""
    for i in range(warm_up):
        one(i)
    started = time.perf_counter()
    for i in range(n):
        one(i)
    return n / (time.perf_counter() - started)


def raw_per_second(n: int, serialize: bool = False) -> float:
    """Full in-memory runs of the diagram with plain SpiffWorkflow (same parser and script engine).

    With ``serialize``, the workflow is also serialized with SpiffWorkflow's serializer after
    each of the three actions, as anything that persists its state after every action must:
    the fastest any such engine can go, before a single database statement.
    """
    parser = adapters.CaseflowParser()
    specs.add_bundle_files(parser, {p.name: p.read_text() for p in DIAGRAM.iterdir() if p.is_file()})
    spec, subs = parser.get_spec("two_tasks"), parser.get_subprocess_specs("two_tasks")
    save = adapters.serialize if serialize else (lambda wf: None)

    def one(i: int) -> None:
        wf = BpmnWorkflow(spec, subs, script_engine=scripting.SCRIPT_ENGINE)
        wf.get_next_task(state=TaskState.READY).data.update({"ref": f"R-{i}"})
        wf.do_engine_steps()
        save(wf)
        for data in ({"amount": i % 700}, {}):
            task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
            task.data.update(data)
            task.run()
            wf.do_engine_steps()
            save(wf)
        assert wf.is_completed()

    return runs_per_second(one, n)


def _caseflow_run(db: store.Database) -> Callable[[int], None]:
    """One full run through the engine: start, complete, complete — one transaction each."""

    def one(i: int) -> None:
        with db.session() as s:
            view = engine.start(s, "two_tasks", {"ref": f"R-{i}"}, actor="bench")
        for data in ({"amount": i % 700}, {}):
            with db.session() as s:
                view = engine.complete(s, view["tasks"][0]["id"], data, actor=engine.Actor.tool("bench"))
        assert view["status"] == "completed"

    return one


def caseflow_per_second(db: store.Database, n: int) -> float:
    """Full runs through the engine per second."""
    with db.session() as s:
        engine.deploy(s, [DIAGRAM], actor="bench")
    return runs_per_second(_caseflow_run(db), n)


def database_time(db: store.Database, n: int) -> dict:
    """Time spent inside the database driver per run: statements (and their count) and commits.

    Measured in a separate run (the hooks cost a little): SQLAlchemy's cursor-execute events
    time the statements; the dialect's commit is wrapped to time the commits.
    """
    spent = {"statements_us": 0.0, "commits_us": 0.0, "statements": 0}
    started: list[float] = []

    def before(*_args: object) -> None:
        started.append(time.perf_counter())

    def after(*_args: object) -> None:
        spent["statements_us"] += (time.perf_counter() - started.pop()) * 1e6
        spent["statements"] += 1

    dialect = db.engine.dialect
    real_commit = dialect.do_commit

    def timed_commit(dbapi_connection: object) -> None:
        t = time.perf_counter()
        real_commit(dbapi_connection)
        spent["commits_us"] += (time.perf_counter() - t) * 1e6

    one = _caseflow_run(db)
    event.listen(db.engine, "before_cursor_execute", before)
    event.listen(db.engine, "after_cursor_execute", after)
    dialect.do_commit = timed_commit  # type: ignore[method-assign]
    try:
        for i in range(n):
            one(1_000_000 + i)
    finally:
        del dialect.do_commit
        event.remove(db.engine, "before_cursor_execute", before)
        event.remove(db.engine, "after_cursor_execute", after)
    return {k: round(v / n, 1) for k, v in spent.items()}


def seed_instances(db: store.Database, total: int) -> None:
    """Bulk-insert stored instances (each with one completed and one ready human task)."""
    with db.session() as s:
        definition = s.query(store.ProcessDefinition).filter_by(key="two_tasks").first()
        existing = s.query(store.ProcessInstance).count()
    now = dt.datetime.now(dt.UTC)
    rnd = random.Random(7)
    batch = 5000
    for start in range(existing, total, batch):
        count = min(batch, total - start)
        instances, tasks = [], []
        with db.session() as s:
            first_id = (s.query(store.ProcessInstance.id).order_by(store.ProcessInstance.id.desc()).limit(1)
                        .scalar() or 0) + 1
            for k in range(count):
                iid = first_id + k
                instances.append(dict(id=iid, definition_id=definition.id, process_key="two_tasks",
                                      business_key=f"B-{iid}", status="running", state="{}",
                                      serializer_version="1.5", data={}, started_by="seed", created_at=now,
                                      updated_at=now, row_version=uuid.uuid4().hex))
                role = rnd.choice(ROLES)
                tasks.append(dict(id=str(uuid.uuid4()), instance_id=iid, process_key="two_tasks",
                                  business_key=f"B-{iid}", name="enter", title="Enter amount", role=role,
                                  state="completed", created_at=now, completed_at=now, completed_by="seed",
                                  sort_due=store.NO_DEADLINE, spec_ref="two_tasks:enter"))
                due = now + dt.timedelta(hours=rnd.randint(-48, 400))
                tasks.append(dict(id=str(uuid.uuid4()), instance_id=iid, process_key="two_tasks",
                                  business_key=f"B-{iid}", name="approve", title="Approve", role=role,
                                  state="ready", created_at=now, due_at=due, sort_due=due,
                                  spec_ref="two_tasks:approve"))
            s.execute(insert(store.ProcessInstance), instances)
            s.execute(insert(store.HumanTask), tasks)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def inbox_ms(db: store.Database, repeats: int = 60) -> float:
    """Median time to list one role's ready tasks (the first inbox page of 50)."""
    timings = []
    for i in range(repeats):
        role = ROLES[i % len(ROLES)]
        with db.session() as s:
            started = time.perf_counter()
            rows = engine.list_tasks(s, role=role, limit=50)
            timings.append((time.perf_counter() - started) * 1000)
        assert rows, "seeded inbox is empty"
    return statistics.median(timings)


LOOP_DIAGRAM = ROOT / "bench" / "long_loop"  # one user task in a loop: a case as long as you like


def long_case_cost_ratio(db: store.Database, long_at: int = 200, cases: int = 3) -> float:
    """The cost of completing the ``long_at``-th task of a case ÷ the cost of completing its 3rd.

    Each of ``cases`` cases of ``long_loop`` is completed ``long_at`` + 1 times (one transaction
    each); the median of completions 2-4 is set against the median of ``long_at`` - 1 .. + 1, and
    the median ratio over the cases is returned (1.0: the cost does not grow with the case).
    """
    with db.session() as s:
        engine.deploy(s, [LOOP_DIAGRAM], actor="bench")
    actor = engine.Actor.tool("bench")
    ratios = []
    for _ in range(cases):
        with db.session() as s:
            view = engine.start(s, "long_loop", {}, actor="bench")
        timings = []
        for _ in range(long_at + 1):
            started = time.perf_counter()
            with db.session() as s:
                view = engine.complete(s, view["tasks"][0]["id"], {"done": False}, actor=actor)
            timings.append(time.perf_counter() - started)
        early = statistics.median(timings[1:4])  # the 2nd to 4th completions: around the 3rd
        late = statistics.median(timings[long_at - 2:long_at + 1])
        ratios.append(late / early)
        with db.session() as s:  # finish the case: the loop's way out works too
            engine.complete(s, view["tasks"][0]["id"], {"done": True}, actor=actor)
    return statistics.median(ratios)


def bound_ratio(raw: float, raw_serialized: float, driver: dict) -> float:
    """The ratio an engine reaches whose only cost beyond raw SpiffWorkflow is serializing after
    each action and the measured time inside the database driver (per second figures, driver in µs/run)."""
    floor_us = 1e6 / raw_serialized + driver["statements_us"] + driver["commits_us"]
    return (1e6 / floor_us) / raw


def measure_database(db: store.Database, n: int) -> dict:
    per_s = caseflow_per_second(db, n)
    driver = database_time(db, max(50, n // 4))
    seed_instances(db, 1_000)
    small = inbox_ms(db)
    seed_instances(db, 100_000)
    large = inbox_ms(db)
    return {"per_s": per_s, "inbox_ms_1k": small, "inbox_ms_100k": large, "driver": driver}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--instances", type=int, default=400, help="instances per throughput run")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--long-at", type=int, default=200, help="the task of a long case whose cost is compared")
    parser.add_argument("--long-cases", type=int, default=3,
                        help="long cases whose ratios' median is taken (more: a steadier figure on a busy machine)")
    args = parser.parse_args()
    pin_one_core()

    raw = raw_per_second(args.instances)
    raw_serialized = raw_per_second(args.instances, serialize=True)
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_db = store.Database(f"sqlite:///{tmp}/bench.sqlite3")
        sqlite_db.upgrade()
        sqlite = measure_database(sqlite_db, args.instances)
        long_ratio = long_case_cost_ratio(sqlite_db, args.long_at, args.long_cases)
        sqlite_db.dispose()
    postgres = None
    if not args.skip_postgres:
        from pg_server import PostgresServer

        server = PostgresServer().start()  # inherits the pinning: server and engine share the core
        try:
            workflows.WORKFLOWS.clear()
            pg_db = store.Database(server.create_database("bench"))
            pg_db.upgrade()
            postgres = measure_database(pg_db, args.instances)
            pg_db.dispose()
        finally:
            server.stop()

    result = {
        "raw_per_s": round(raw, 1),
        "sqlite_per_s": round(sqlite["per_s"], 1),
        "postgres_per_s": round(postgres["per_s"], 1) if postgres else None,
        "ratio_sqlite": round(sqlite["per_s"] / raw, 3),
        "ratio_postgres": round(postgres["per_s"] / raw, 3) if postgres else None,
        "inbox_ms_1k": round(max(sqlite["inbox_ms_1k"], postgres["inbox_ms_1k"] if postgres else 0), 3),
        "inbox_ms_100k": round(max(sqlite["inbox_ms_100k"], postgres["inbox_ms_100k"] if postgres else 0), 3),
        "inbox_ms_1k_sqlite": round(sqlite["inbox_ms_1k"], 3),
        "inbox_ms_100k_sqlite": round(sqlite["inbox_ms_100k"], 3),
        "inbox_ms_1k_postgres": round(postgres["inbox_ms_1k"], 3) if postgres else None,
        "inbox_ms_100k_postgres": round(postgres["inbox_ms_100k"], 3) if postgres else None,
        "instances_per_run": args.instances,
        # Where the time goes: the ceiling any engine that saves SpiffWorkflow's state after
        # each action can reach, and the time spent inside the database driver per run.
        "raw_serialized_per_s": round(raw_serialized, 1),
        "ceiling_ratio": round(raw_serialized / raw, 3),
        "us_per_run": {"raw": round(1e6 / raw), "raw_serialized": round(1e6 / raw_serialized),
                       "sqlite": round(1e6 / sqlite["per_s"]),
                       "postgres": round(1e6 / postgres["per_s"]) if postgres else None},
        "driver_us_per_run_sqlite": sqlite["driver"],
        "driver_us_per_run_postgres": postgres["driver"] if postgres else None,
        "bound_ratio_sqlite": round(bound_ratio(raw, raw_serialized, sqlite["driver"]), 3),
        "bound_ratio_postgres": round(bound_ratio(raw, raw_serialized, postgres["driver"]), 3) if postgres else None,
        # Completing the 200th task of a long case ÷ the 3rd (SQLite; bench/long_loop).
        "long_case_cost_ratio": round(long_ratio, 3),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"diagram: 2 user tasks + script task + 3-way gateway; {args.instances} instances per run; one core")
    print(f"raw SpiffWorkflow in memory : {result['raw_per_s']:>9} instances/s")
    print(f"Caseflow + SQLite           : {result['sqlite_per_s']:>9} instances/s  ratio {result['ratio_sqlite']}")
    if postgres:
        print(f"Caseflow + PostgreSQL       : {result['postgres_per_s']:>9} instances/s  "
              f"ratio {result['ratio_postgres']}")
    print(f"raw + serialize per action  : {result['raw_serialized_per_s']:>9} instances/s  "
          f"ceiling ratio {result['ceiling_ratio']} (no database at all)")
    print("microseconds per run (inside the database driver: statements, commits):")
    print(f"  raw {result['us_per_run']['raw']}, raw + serialize {result['us_per_run']['raw_serialized']}")
    for name, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL")):
        driver = result[f"driver_us_per_run_{name}"]
        if driver:
            print(f"  {label:<10} {result['us_per_run'][name]:>6}  (driver: {driver['statements']:.0f} statements "
                  f"{driver['statements_us']:.0f}, commits {driver['commits_us']:.0f}; "
                  f"bound ratio {result[f'bound_ratio_{name}']}: serialize + driver, nothing else)")
    print(f"long case: completing task {args.long_at} costs {result['long_case_cost_ratio']}x completing task 3")
    print("inbox (one role, first 50 ready tasks), median ms:")
    print(f"  SQLite     1k: {result['inbox_ms_1k_sqlite']:.3f}   100k: {result['inbox_ms_100k_sqlite']:.3f}")
    if postgres:
        print(f"  PostgreSQL 1k: {result['inbox_ms_1k_postgres']:.3f}   100k: {result['inbox_ms_100k_postgres']:.3f}")


if __name__ == "__main__":
    main()
