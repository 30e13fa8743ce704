"""Search benchmark: the navigation's search (``caseflow.search``, and the ``/search`` page) over
100,000 cases, on SQLite (``--database`` for another URL, e.g. PostgreSQL).

A fresh database gets the shipped processes and a few dozen real cases driven through the engine
(``bench/seed.py``); synthetic cases are then bulk-inserted with SQLAlchemy Core until the instance
table holds ``--cases`` rows: an instance row copied from a real one (its workflow state left out:
search never reads it) with varied numbers, customers (Latin and Chinese names), products, order
numbers and descriptions, and a comment on every tenth case. The database's triggers index every
insert, as they do each save. Each query is run once untimed, then ``--repeats`` times; the figure
is the median (ms).

    .venv/bin/python bench/search.py [--cases 100000] [--repeats 20] [--database URL] [--keep DIR] [--json]
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, bench/ comes first on the path, where its modules (engine.py, http.py) would
# shadow the project's and the standard library's: the repository root is searched instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

import engine  # noqa: E402
from bench import seed as seeding  # noqa: E402
from caseflow import clock, search, store  # noqa: E402

CHUNK = 5000
LATIN = ["Huaxin Electronics", "Dongfang Lighting", "Kaida Auto Parts", "Minghui Appliances", "Ruitai Medical"]
CHINESE = ["华信电子", "东方照明", "凯达汽配", "明辉电器", "瑞泰医疗", "盛达通信", "天宇光伏", "鑫隆电机"]
DEFECTS = ["does not power on", "cracked housing", "wrong label", "short shipment", "固件升级后无法开机",
           "外壳破裂", "标签错误", "数量短缺", "scratches on the lens", "按键失灵"]
#: (label, query): a number, a customer (Latin, CJK 2 and 4 characters), a product, an order,
#: description words, a comment word, two words, and a rare and an absent term.
QUERIES = [("number", "CP-2025-0054321"), ("customer", "minghui"), ("customer CJK 2", "凯达"),
           ("customer CJK 4", "盛达通信"), ("product", "HX-300"), ("order", "PO-2025-77"),
           ("description", "cracked housing"), ("description CJK", "无法开机"), ("comment", "8D报告"),
           ("two words", "huaxin lens"), ("rare", "SN-0099999"), ("absent", "nothing-like-this")]


def fill(db: store.Database, total: int, rng: random.Random) -> None:
    """Bulk-insert synthetic cases (and a comment on every tenth) until ``total`` instances are stored."""
    case_t, comment_t = store.ProcessInstance.__table__, store.Comment.__table__
    with db.engine.connect() as conn:
        template = dict(conn.execute(select(case_t).where(case_t.c.process_key == "complaint").limit(1)).one()._mapping)
        existing = conn.execute(select(func.count()).select_from(case_t)).scalar_one()
        next_id = (conn.execute(select(func.max(case_t.c.id))).scalar_one() or 0) + 1
    remaining = total - existing
    now = clock.now()
    while remaining > 0:
        cases, notes = [], []
        for _ in range(min(CHUNK, remaining)):
            iid, next_id = next_id, next_id + 1
            customer = rng.choice(LATIN) if rng.random() < 0.5 else rng.choice(CHINESE) + "有限公司"
            data = dict(template["data"] or {}, customer_name=customer, customer_code=f"C-{rng.randrange(3000):04d}",
                        product_model=rng.choice(seeding.MODELS), order_no=f"PO-2025-{rng.randrange(10**5):05d}",
                        serial_no=f"SN-{iid:07d}", description=f"{rng.randint(1, 200)} units: {rng.choice(DEFECTS)}")
            cases.append(dict(template, id=iid, business_key=f"CP-2025-{iid:07d}", state="{}", data=data,
                              created_at=now, updated_at=now, ready_tasks=[], timers=[],
                              row_version=uuid.uuid4().hex))
            if iid % 10 == 0:
                notes.append(dict(instance_id=iid, task_id=None, author="qa1", mentions=[], attachment_ids=[],
                                  body=rng.choice(["客户要求8D报告", "called the customer", "@qa2 please check"]),
                                  created_at=now, edited_at=None, deleted_at=None))
        with db.engine.begin() as conn:
            conn.execute(insert(case_t), cases)
            if notes:
                conn.execute(insert(comment_t), notes)
        remaining -= len(cases)


def timed(db: store.Database, query: str, repeats: int) -> tuple[float, int]:
    """Median milliseconds of ``search.search`` (ids and list rows) and the number of hits."""
    with db.session() as s:
        hits = len(search.search(s, query))
        spent = []
        for _ in range(repeats):
            began = time.perf_counter()
            search.search(s, query)
            spent.append((time.perf_counter() - began) * 1000)
    return statistics.median(spent), hits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--database", help="a database URL (default: a fresh SQLite file)")
    parser.add_argument("--keep", help="keep (and reuse) the SQLite file in this folder")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="caseflow-search-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = store.Database(args.database or f"sqlite:///{folder / 'search.sqlite3'}")
    db.upgrade()
    with db.session() as s:
        fresh = s.scalar(select(func.count()).select_from(store.ProcessInstance)) == 0
        if fresh:
            engine.deploy(s, seeding.BUNDLES, actor="admin")
    if fresh:
        seeding.seed(db.session, complaints=20, repairs=5, months=1)
    began = time.perf_counter()
    fill(db, args.cases, random.Random(11))
    filled = time.perf_counter() - began
    results = []
    for label, query in QUERIES:
        ms, hits = timed(db, query, args.repeats)
        results.append({"query": label, "text": query, "median_ms": round(ms, 2), "hits": hits})
    with db.session() as s:
        total = s.scalar(select(func.count()).select_from(store.ProcessInstance))
    report = {"database": db.engine.dialect.name, "cases": total, "fill_s": round(filled, 1), "results": results}
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(f"{report['database']}: {total} cases (filled in {filled:.1f} s), median of {args.repeats}:")
        for r in results:
            print(f"  {r['query']:<16} {r['text']!r:<22} {r['median_ms']:8.2f} ms  {r['hits']} hits")
    db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
