"""KPI report benchmark: the dashboard page (/reports) and GET /api/v1/reports/kpis with 10,000
and with 100,000 complaints, on SQLite (``--database`` for another URL, e.g. PostgreSQL).

A fresh database gets the complaint and repair processes and a few dozen real cases driven
through the engine (``bench/seed.py``); synthetic cases are then bulk-inserted with SQLAlchemy
Core until the instance table holds 10,000 and then 100,000 complaints: an instance row copied
from a real one (without its workflow state, which no report reads) and a facts row with
varied values — registered over the last 12 months, every KPI class, 6 departments, 300
customers, all satisfaction levels and deadline states — as the engine would have written.

Each URL is requested through the Flask test client (signed in as a manager; the API with a
manager's token) after one untimed warm-up; the figure is the median of ``--repeats``
requests over the default range (the last 12 months).

    .venv/bin/python bench/reports.py [--json] [--repeats N] [--small N] [--large N] [--database URL]
                                      [--keep DIR] [--profile]

``--keep DIR`` keeps the SQLite file (``DIR/reports.sqlite3``) and the instance folder in DIR
and reuses them on the next run (the fill only tops up to each size; with ``--database``, the
database given is reused likewise); ``--profile`` prints each SQL statement's time at the
largest size.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, bench/ comes first on the path, where its modules (engine.py, http.py) would
# shadow the project's and the standard library's: the repository root is searched instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

from bench import seed as seeding  # noqa: E402
from caseflow import case_facts, clock, fact_summary, store, store_reports  # noqa: E402

PASSWORD = "bench-password-1"
MANAGER = "bench-manager"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
CHUNK = 2_000
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=seeding.TZ)
DEPARTMENTS = ("quality", "logistics", "marketing", "customer_service", "manager", "service_center")
CLASSES = (("major", 2), ("general", 1), ("other", 0))
WAITING_URL = (f"/api/v1/reports/waiting?process=complaint&from={(NOW - dt.timedelta(days=365)).date().isoformat()}"
               f"&to={NOW.date().isoformat()}")


def setup(tmp: Path, url: str | None) -> tuple[store.Database, Any, str]:
    """The database with the processes, a manager (password and token) and real cases; the app."""
    import os

    os.environ["CASEFLOW_INSTANCE_DIR"] = str(tmp / "instance")
    from caseflow import accounts
    from web import create_app

    db = store.Database(url or f"sqlite:///{tmp / 'reports.sqlite3'}")
    db.upgrade()
    import engine

    with db.session() as s:
        reused = accounts.find_user(s, MANAGER) is not None
        if not reused:
            engine.deploy(s, seeding.BUNDLES, actor="bench")
            accounts.create_user(s, MANAGER, PASSWORD, ["manager"], "Bench Manager")
        _row, token = accounts.create_token(s, MANAGER, "bench")
    if not reused:
        seeding.seed(db.session, complaints=40, repairs=5, months=12, start=NOW - dt.timedelta(days=360))
    clock.set(NOW)
    return db, create_app({"TESTING": True}, database=db), token


def fill(db: store.Database, total: int, rng: random.Random) -> None:
    """Bulk-insert synthetic complaints (instance and facts rows) until ``total`` complaints are stored,
    then sum the report summaries again."""
    case_t, facts_t = store.ProcessInstance.__table__, store.CaseFacts.__table__
    with db.engine.connect() as conn:
        template = dict(conn.execute(select(case_t).where(case_t.c.process_key == "complaint",
                                                          case_t.c.status == "completed").limit(1)).one()._mapping)
        existing = conn.execute(select(func.count()).select_from(case_t)
                                .where(case_t.c.process_key == "complaint")).scalar_one()
        next_id = (conn.execute(select(func.max(case_t.c.id))).scalar_one() or 0) + 1
    remaining = total - existing
    while remaining > 0:
        cases, facts = [], []
        for _ in range(min(CHUNK, remaining)):
            iid, next_id = next_id, next_id + 1
            registered = NOW - dt.timedelta(minutes=rng.randrange(360 * 24 * 60))
            kpi_class, weight = rng.choice(CLASSES)
            done = rng.random() < 0.7
            cases.append(dict(template, id=iid, business_key=f"CP-2025-{iid:07d}", state="{}", created_at=registered,
                              updated_at=registered, status="completed" if done else "running",
                              completed_at=registered + dt.timedelta(days=6) if done else None, ready_tasks=[],
                              timers=[], row_version=uuid.uuid4().hex))
            loss = rng.choice([None, 500.0, 1000.0, 2500.0, 12000.0])
            row: dict[str, Any] = dict(
                instance_id=iid, process_key="complaint", registered_at=registered,
                registered_month=registered.astimezone(seeding.TZ).strftime("%Y-%m"),
                registered_day=registered.astimezone(seeding.TZ).strftime("%Y-%m-%d"),
                department=rng.choice(DEPARTMENTS), customer_code=f"C-{rng.randrange(300):04d}",
                customer_name=f"Customer {rng.randrange(300):03d}", product_model=rng.choice(seeding.MODELS),
                complaint_type=rng.choice(seeding.TYPES), kpi_class=kpi_class, kpi_weight=weight, loss_amount=loss,
                delivery_amount=rng.choice([50000.0, 100000.0, 250000.0]) if loss else None,
                satisfaction=rng.randint(1, 5) if done else None, satisfied=rng.random() < 0.8 if done else None,
                status="completed" if done else "running",
                stage="resolved" if done else rng.choice(["in_progress", "follow_up"]),
                escalations=0, escalations_manager=0, escalations_gm=0, in_warranty=None, chargeable=None, fee=None,
                turnaround_days=None, updated_at=registered)
            for kind in store_reports.DISPOSITION_KINDS:
                row[f"disp_{kind}_qty"], row[f"disp_{kind}_amount"] = None, None
            if loss and done:  # an approved plan: one disposition line of the loss
                kind = rng.choice(store_reports.DISPOSITION_KINDS)
                row[f"disp_{kind}_qty"], row[f"disp_{kind}_amount"] = rng.randint(1, 40), loss
            row.update(follow_ups=int(rng.random() < 0.15) if done else 0, year_seq=None, repair_outcome=None,
                       fee_decision=None)
            for name in store.FACT_DEADLINES[:3]:
                row[name] = rng.choice(["met", "met", "met", "late"]) if done else rng.choice(["met", "open"])
                row[f"{name}_due"] = registered + dt.timedelta(days=rng.choice([1, 2, 7]))
            for name in store.FACT_DEADLINES[3:]:
                row[name], row[f"{name}_due"] = None, None
            facts.append(row)
        with db.engine.begin() as conn:
            conn.execute(insert(case_t), cases)
            conn.execute(insert(facts_t), facts)
        remaining -= len(cases)
    with db.engine.begin() as conn:  # the Nth complaints and the report summaries, as the facts writer keeps them
        case_facts.number_years(conn)
        fact_summary.rebuild(conn)


def signed_in(app: Any) -> Any:
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh"
    token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"username": MANAGER, "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302, "sign-in failed"
    return client


def timed(client: Any, url: str, repeats: int, headers: dict | None = None) -> float:
    assert client.get(url, headers=headers).status_code == 200, url  # warm-up
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        response.get_data()
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, url
    return statistics.median(timings)


def profile(db: store.Database, page_client: Any, api_client: Any, api_url: str, headers: dict) -> None:
    """Print each SQL statement the dashboard and the API run, with its time (slowest first)."""
    from sqlalchemy import event

    for label, client, url, hdrs in (("dashboard", page_client, "/reports", None),
                                     ("api", api_client, api_url, headers),
                                     ("waiting", api_client, WAITING_URL, headers)):
        spent: list[tuple[float, str]] = []

        def before(conn: Any, _cursor: Any, _statement: Any, _params: Any, _context: Any, _many: Any) -> None:
            conn.info["started"] = time.perf_counter()

        def after(conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: Any,
                  spent: list[tuple[float, str]] = spent) -> None:
            spent.append(((time.perf_counter() - conn.info["started"]) * 1000, " ".join(statement.split())[:160]))

        event.listen(db.engine, "before_cursor_execute", before)
        event.listen(db.engine, "after_cursor_execute", after)
        started = time.perf_counter()
        client.get(url, headers=hdrs).get_data()
        total = (time.perf_counter() - started) * 1000
        event.remove(db.engine, "before_cursor_execute", before)
        event.remove(db.engine, "after_cursor_execute", after)
        print(f"{label}: {total:.1f} ms, {len(spent)} statements, {sum(t for t, _ in spent):.1f} ms in SQL")
        for ms, text in sorted(spent, reverse=True)[:8]:
            print(f"  {ms:8.1f} ms  {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--database", help="a database URL (default: a new SQLite file)")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the database and instance folder in DIR")
    parser.add_argument("--profile", action="store_true", help="print the SQL statements' times at the largest size")
    args = parser.parse_args()
    rng = random.Random(3)
    frm = (NOW - dt.timedelta(days=365)).date().isoformat()
    api_url = f"/api/v1/reports/kpis?from={frm}&to={NOW.date().isoformat()}"
    result: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            folder = args.keep
        else:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        db, app, token = setup(folder, args.database)
        page_client, api_client = signed_in(app), app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        for size in (args.small, args.large):
            started = time.perf_counter()
            fill(db, size, rng)
            result[f"seed_{size}_s"] = round(time.perf_counter() - started, 1)
            result[f"dashboard_{size}_ms"] = round(timed(page_client, "/reports", args.repeats), 1)
            result[f"api_{size}_ms"] = round(timed(api_client, api_url, args.repeats, headers), 1)
            result[f"waiting_{size}_ms"] = round(timed(api_client, WAITING_URL, args.repeats, headers), 1)
        if args.profile:
            profile(db, page_client, api_client, api_url, headers)
        result["backend"] = db.engine.dialect.name
        db.dispose()
    clock.reset()
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['backend']}, median of {args.repeats} requests, range: the last 12 months")
    print(f"{'complaints':>12}{'dashboard ms':>15}{'API ms':>10}{'waiting API ms':>17}")
    for size in (args.small, args.large):
        print(f"{size:>12,}{result[f'dashboard_{size}_ms']:>15.1f}{result[f'api_{size}_ms']:>10.1f}"
              f"{result[f'waiting_{size}_ms']:>17.1f}")


if __name__ == "__main__":
    main()
