"""What the transactional outbox costs a case start: ``engine.start`` with and without the outbox writer.

    .venv/bin/python bench/outbox.py [--cases N] [--users U]

A transport complaint's first task goes to customer_service; U users of that role with an
e-mail address each get an in-app and an e-mail row, plus the customer's acknowledgement.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# bench/http.py would shadow the standard library's http package: bench/ is not an import root.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import engine  # noqa: E402
from caseflow import accounts, store  # noqa: E402
from caseflow._engine import outbox  # noqa: E402

REGISTRATION = {"channel": "email", "customer_code": "C-2001", "complaint_type": "transport",
                "customer_email": "buyer@huaxin.example", "description": "Cartons crushed on arrival."}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--users", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = store.Database(f"sqlite:///{folder}/bench.sqlite3")
        db.upgrade()
        with db.session() as s:
            engine.deploy(s, [ROOT / "processes" / "complaint", ROOT / "processes" / "repair"], actor="admin")
            for i in range(args.users):
                accounts.create_user(s, f"cs{i}", "a-long-password-1", ["customer_service"]).email = f"cs{i}@x.example"
        spent = [0.0]
        real = outbox.write

        def timed(*a: object, **k: object) -> int:
            began = time.perf_counter()
            try:
                return real(*a, **k)  # type: ignore[arg-type]
            finally:
                spent[0] += time.perf_counter() - began

        def starts(n: int) -> float:
            began = time.perf_counter()
            for _ in range(n):
                with db.session() as s:
                    engine.start(s, "complaint", REGISTRATION, actor="cs1")
            return (time.perf_counter() - began) / n * 1000

        starts(5)  # warm the caches
        outbox.write = lambda *a, **k: 0  # type: ignore[assignment]
        without = starts(args.cases)
        outbox.write = timed  # type: ignore[assignment]
        with_outbox = starts(args.cases)
        outbox.write = real
        rows = 2 * args.users + 1
        print(f"engine.start per case: {without:.1f} ms without the outbox, {with_outbox:.1f} ms with it; "
              f"outbox.write {spent[0] / args.cases * 1000:.2f} ms per case ({rows} rows)")
        db.dispose()


if __name__ == "__main__":
    main()
