"""Read-page benchmark: the case list, its search, the complaint register (page and CSV) and the
inbox with 1,000 and with 100,000 stored instances, through the Flask app on SQLite.

A fresh SQLite database gets the real processes (``processes/``) and a handful of real
complaint cases started through the engine; synthetic instances copied from those rows
(their columns, SpiffWorkflow state included, and their human task rows) are then
bulk-inserted with SQLAlchemy Core until the table holds 1,000 and then 100,000 instances.
One in three synthetic cases is open (with ready tasks), the others are closed.

Each page is requested through the Flask test client, signed in as an admin (who sees every
task and every case), after one untimed warm-up request; the figure is the median of
``--repeats`` requests (the full CSV export, which has every complaint in it, fewer times).
The search looks for a customer name only the real cases have, the worst case: every
instance is looked at before the page is known to be complete.

Prints a table, or one JSON object with ``--json``: ``<page>_1k_ms``, ``<page>_100k_ms``,
``<page>_ratio`` (100k / 1k) and ``<page>_1k_statements`` / ``<page>_100k_statements`` (SQL
statements per request) for cases, cases_search, register, register_search, register_csv and
inbox, plus the instance counts, the state size and the seeding time.

    .venv/bin/python bench/pages.py [--json] [--repeats N] [--large N]
"""
from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# bench/http.py would shadow the standard library's http package: bench/ is not an import root.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, func, insert, select  # noqa: E402

import engine  # noqa: E402
from caseflow import store  # noqa: E402

PASSWORD = "bench-password-1"
ADMIN = "bench-admin"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
CHUNK = 2_000  # rows per executemany
SEARCHED = "Alpha Ltd"  # only the real cases have it

BASE = {"channel": "email", "customer_code": "C-9", "product_no": "P-1", "ship_date": "2026-02-01",
        "ship_qty": 500, "found_stage": "after_sales", "description": "Problem", "lot_size": 500,
        "functional_defect_qty": 0, "cosmetic_defect_qty": 1}
REAL_CASES = [
    {"customer_name": SEARCHED, "complaint_type": "quality", "functional_defect_qty": 20},
    {"customer_name": "Beta GmbH", "complaint_type": "transport"},
    {"customer_name": "Gamma Inc", "complaint_type": "packaging", "description": "Torn boxes, 12 cartons"},
    {"customer_name": "Delta SA", "complaint_type": "quality", "claim_amount": 12000},
    {"customer_name": "Epsilon AG", "complaint_type": "quality", "functional_defect_qty": 3},
    {"customer_name": "Zeta Co", "complaint_type": "transport", "channel": "phone"},
]
PAGES = {
    "cases": "/cases",
    "cases_search": f"/cases?q={SEARCHED.split()[0]}",
    "register": "/complaints",
    "register_search": f"/complaints?q={SEARCHED.split()[0]}",
    "register_csv": "/complaints.csv",
    "inbox": "/",
}
SLOW_PAGES = {"register_csv"}  # every complaint in one response: timed fewer times


def setup(tmp: Path) -> tuple[store.Database, Any]:
    """The database with the processes, an admin and the real cases; the Flask app on it."""
    os.environ["CASEFLOW_INSTANCE_DIR"] = str(tmp / "instance")
    from caseflow import accounts
    from web import create_app

    db = store.Database(f"sqlite:///{tmp / 'pages.sqlite3'}")
    db.upgrade()
    with db.session() as s:
        engine.deploy(s, [ROOT / "processes"], actor="bench")
        accounts.create_user(s, ADMIN, PASSWORD, ["admin"], "Bench Admin")
    for data in REAL_CASES:
        with db.session() as s:
            engine.start(s, "complaint", {**BASE, **data}, actor=ADMIN)
    app = create_app({"TESTING": True}, database=db)
    return db, app


def signed_in_client(app: Any) -> Any:
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"username": ADMIN, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, "sign-in failed"
    return client


def _templates(db: store.Database) -> list[tuple[dict, list[dict]]]:
    """The real instance rows (every column) with their human task rows."""
    case_t, task_t = store.ProcessInstance.__table__, store.HumanTask.__table__
    with db.engine.connect() as conn:
        cases = [dict(r._mapping) for r in conn.execute(select(case_t).order_by(case_t.c.id))]
        tasks = [dict(r._mapping) for r in conn.execute(select(task_t).order_by(task_t.c.created_at))]
    return [(c, [t for t in tasks if t["instance_id"] == c["id"]]) for c in cases]


def seed(db: store.Database, templates: list[tuple[dict, list[dict]]], total: int) -> None:
    """Bulk-insert synthetic instances (copies of the real rows) until ``total`` are stored."""
    case_t, task_t = store.ProcessInstance.__table__, store.HumanTask.__table__
    with db.engine.connect() as conn:
        existing = conn.execute(select(func.count()).select_from(case_t)).scalar_one()
        next_id = (conn.execute(select(func.max(case_t.c.id))).scalar_one() or 0) + 1
    epoch = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    cycle = itertools.cycle(templates)
    remaining = total - existing
    while remaining > 0:
        cases, tasks = [], []
        for _ in range(min(CHUNK, remaining)):
            case, case_tasks = next(cycle)
            iid = next_id
            next_id += 1
            key = f"CP-2020-{iid:06d}"
            created = epoch + dt.timedelta(minutes=iid)
            is_open = iid % 3 == 0
            data = dict(case["data"], customer_name=f"Customer {iid % 500:03d}", complaint_no=key)
            new_tasks = []
            for t in case_tasks:
                new_tasks.append(dict(t, id=str(uuid.uuid4()), instance_id=iid, business_key=key, created_at=created,
                                      state="ready" if is_open else "completed",
                                      completed_at=None if is_open else created + dt.timedelta(days=3),
                                      completed_by=None if is_open else ADMIN))
            cases.append(dict(case, id=iid, business_key=key, data=data, created_at=created, updated_at=created,
                              status=case["status"] if is_open else "completed",
                              completed_at=None if is_open else created + dt.timedelta(days=3),
                              ready_tasks=[t["id"] for t in new_tasks] if is_open else [],
                              timers=case["timers"] if is_open else [], row_version=uuid.uuid4().hex))
            tasks.extend(new_tasks)
        with db.engine.begin() as conn:
            conn.execute(insert(case_t), cases)
            conn.execute(insert(task_t), tasks)
        remaining -= len(cases)


class StatementCounter:
    def __init__(self, db: store.Database):
        self.count = 0
        event.listen(db.engine, "before_cursor_execute", self._count)

    def _count(self, *_args: Any) -> None:
        self.count += 1


def time_pages(client: Any, counter: StatementCounter, repeats: int) -> dict[str, dict[str, float]]:
    out = {}
    for name, url in PAGES.items():
        response = client.get(url)  # warm-up (caches, labels)
        assert response.status_code == 200, (url, response.status_code)
        n = max(3, repeats // 5) if name in SLOW_PAGES else repeats
        timings = []
        before = counter.count
        for _ in range(n):
            started = time.perf_counter()
            response = client.get(url)
            response.get_data()
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        out[name] = {"ms": statistics.median(timings), "statements": (counter.count - before) / n,
                     "bytes": len(response.get_data())}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeats", type=int, default=15, help="requests per page and size (median)")
    parser.add_argument("--small", type=int, default=1_000, help="instances of the first measurement")
    parser.add_argument("--large", type=int, default=100_000, help="instances of the second measurement")
    args = parser.parse_args()

    result: dict[str, Any] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        db, app = setup(tmp)
        templates = _templates(db)
        result["state_bytes"] = round(statistics.mean(len(c["state"]) for c, _t in templates))
        client = signed_in_client(app)
        counter = StatementCounter(db)
        measured = {}
        for label, size in (("1k", args.small), ("100k", args.large)):
            t = time.perf_counter()
            seed(db, templates, size)
            result[f"seed_{label}_s"] = round(time.perf_counter() - t, 1)
            measured[label] = time_pages(client, counter, args.repeats)
        with db.engine.connect() as conn:
            result["instances"] = conn.execute(select(func.count()).select_from(store.ProcessInstance)).scalar_one()
        result["db_mb"] = round((tmp / "pages.sqlite3").stat().st_size / 1e6)
        db.dispose()
    for name in PAGES:
        small, large = measured["1k"][name], measured["100k"][name]
        result[f"{name}_1k_ms"] = round(small["ms"], 2)
        result[f"{name}_100k_ms"] = round(large["ms"], 2)
        result[f"{name}_ratio"] = round(large["ms"] / small["ms"], 2)
        result[f"{name}_1k_statements"] = small["statements"]
        result[f"{name}_100k_statements"] = large["statements"]
        result[f"{name}_100k_kb"] = round(large["bytes"] / 1024)
    result["sizes"] = [args.small, args.large]
    result["repeats"] = args.repeats
    result["total_s"] = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps(result))
        return
    print(f"SQLite, {args.small:,} and {result['instances']:,} instances "
          f"(state ~{result['state_bytes']:,} bytes each, database {result['db_mb']} MB); "
          f"median of {args.repeats} requests, signed in as an admin")
    print(f"{'page':<16}{'1k ms':>10}{'100k ms':>10}{'ratio':>8}{'statements':>12}{'100k KB':>9}  url")
    for name, url in PAGES.items():
        statements = f"{result[f'{name}_1k_statements']:g}/{result[f'{name}_100k_statements']:g}"
        print(f"{name:<16}{result[f'{name}_1k_ms']:>10.2f}{result[f'{name}_100k_ms']:>10.2f}"
              f"{result[f'{name}_ratio']:>8.2f}{statements:>12}{result[f'{name}_100k_kb']:>9}  {url}")
    print(f"seeding: {result['seed_1k_s']} s to 1k, {result['seed_100k_s']} s to 100k; total {result['total_s']} s")


if __name__ == "__main__":
    main()
