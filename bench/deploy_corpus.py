"""Deploy every BPMN file of a corpus and count how each one ends: deployed, refused, crashed, hung.

Each file goes through ``engine.deploy`` (the path of ``caseflow deploy``) into a throwaway
SQLite database, in its own transaction that is rolled back, so files never see each other.
Files run in a worker process; one that takes longer than ``--timeout`` seconds is counted as
hung and the worker is replaced.

Prints the figures (files, deployed, refused by problem kind, crashed, hung, max seconds per
file), or one JSON object with ``--json``; ``--details`` also lists every crash and hang.

    .venv/bin/python bench/deploy_corpus.py /tmp/miwg [--timeout 30] [--json] [--details]

The corpus used for issue 11 is every ``.bpmn`` file of github.com/bpmn-miwg/bpmn-miwg-test-suite.
"""
from __future__ import annotations

import argparse
import collections
import json
import multiprocessing as mp
import re
import sys
import tempfile
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# bench/http.py would shadow the standard library's http package: bench/ is not an import root.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|\{[^}]*\}\S*|<Element [^>]*>|\(\s*[^()]*\)")
_NUMBER = re.compile(r"0x[0-9a-f]+|\d+")


def problem_kind(message: str) -> str:
    """A problem message without its particulars (names, ids, numbers): the kind of problem."""
    kind = _NUMBER.sub("N", _QUOTED.sub("…", message.split("\n")[0]))
    return kind[:90]


def _deploy_one(session_factory: Any, path: str) -> dict:
    import engine  # imported in the worker only

    started = time.perf_counter()
    session = session_factory()
    try:
        results = engine.deploy(session, [path], actor="bench")
        outcome = {"outcome": "deployed", "processes": [r.key for r in results]}
    except engine.DeployRejected as err:
        problems = [p.as_dict() for p in err.problems]
        outcome = {"outcome": "refused" if problems else "crashed", "problems": problems,
                   "error": None if problems else "DeployRejected without problems"}
    except Exception as err:  # noqa: BLE001 - counting crashes is the point
        outcome = {"outcome": "crashed", "error": f"{type(err).__name__}: {err}"[:300],
                   "traceback": traceback.format_exc(limit=-4)}
    finally:
        session.rollback()
        session.close()
    outcome["seconds"] = time.perf_counter() - started
    return outcome


def _worker(conn: Connection, db_dir: str) -> None:
    import logging

    from caseflow import store

    logging.disable(logging.CRITICAL)  # the engine logs every crash it catches; the figures are enough
    db = store.Database(f"sqlite:///{db_dir}/corpus.sqlite3")
    db.upgrade()
    while True:
        path = conn.recv()
        if path is None:
            break
        conn.send(_deploy_one(db.sessionmaker, path))
    db.dispose()


class _Worker:
    def __init__(self, db_dir: str) -> None:
        self.conn, child = mp.Pipe()
        self.proc = mp.Process(target=_worker, args=(child, db_dir), daemon=True)
        self.proc.start()

    def run(self, path: str, timeout: float) -> dict:
        started = time.perf_counter()
        self.conn.send(path)
        if self.conn.poll(timeout + 5):  # the first call also pays for imports and migrations
            try:
                return dict(self.conn.recv())
            except EOFError:
                pass
        elapsed = time.perf_counter() - started
        alive = self.proc.is_alive()
        self.stop(force=True)
        if alive:
            return {"outcome": "hung", "seconds": elapsed}
        return {"outcome": "crashed", "error": f"worker died (exit code {self.proc.exitcode})", "seconds": elapsed}

    def stop(self, force: bool = False) -> None:
        if force:
            self.proc.kill()
        else:
            self.conn.send(None)
        self.proc.join(10)


def run_corpus(files: list[Path], timeout: float) -> dict:
    """Deploy each file; returns the figures and per-file outcomes."""
    outcomes: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as db_dir:
        worker = _Worker(db_dir)
        for path in files:
            outcome = worker.run(str(path), timeout)
            if outcome["outcome"] != "hung" and outcome["seconds"] > timeout:
                outcome["outcome"] = "hung"
            if outcome["outcome"] == "hung" or not worker.proc.is_alive():
                worker = _Worker(db_dir)
            outcomes[str(path)] = outcome
        worker.stop()
    counts = collections.Counter(o["outcome"] for o in outcomes.values())
    refused = [o for o in outcomes.values() if o["outcome"] == "refused"]
    kinds = collections.Counter(problem_kind(o["problems"][0]["message"]) for o in refused)
    located = sum(1 for o in refused if o["problems"][0]["line"] is not None)
    crashes = collections.Counter(o["error"].split(":")[0] for o in outcomes.values() if o["outcome"] == "crashed")
    slowest = max(outcomes.items(), key=lambda kv: kv[1]["seconds"], default=("", {"seconds": 0.0}))
    return {
        "files": len(files),
        "deployed": counts["deployed"],
        "refused": counts["refused"],
        "refused_with_line": located,
        "crashed": counts["crashed"],
        "hung": counts["hung"],
        "max_seconds": round(slowest[1]["seconds"], 3),
        "slowest_file": slowest[0],
        "refused_by_kind": dict(kinds.most_common()),
        "crashed_by_type": dict(crashes.most_common()),
        "outcomes": outcomes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", type=Path, help="a folder (searched recursively for .bpmn) or .bpmn files",
                        nargs="+")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per file before it counts as hung")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--details", action="store_true", help="also list every crash and hang")
    args = parser.parse_args()
    files = sorted(p for c in args.corpus for p in ([c] if c.is_file() else c.rglob("*.bpmn")))
    figures = run_corpus(files, args.timeout)
    if args.json:
        if not args.details:
            figures.pop("outcomes")
        print(json.dumps(figures, indent=2, ensure_ascii=False))
        return
    print(f"files     {figures['files']}")
    print(f"deployed  {figures['deployed']}")
    print(f"refused   {figures['refused']}  (first problem has a line: {figures['refused_with_line']})")
    for kind, n in figures["refused_by_kind"].items():
        print(f"  {n:5}  {kind}")
    print(f"crashed   {figures['crashed']}")
    for kind, n in figures["crashed_by_type"].items():
        print(f"  {n:5}  {kind}")
    print(f"hung      {figures['hung']}")
    print(f"max s/file {figures['max_seconds']}  ({figures['slowest_file']})")
    if args.details:
        for path, o in figures["outcomes"].items():
            if o["outcome"] in ("crashed", "hung"):
                print(f"\n{o['outcome']}: {path}\n  {o.get('error', '')}\n{o.get('traceback', '')}")


if __name__ == "__main__":
    main()
