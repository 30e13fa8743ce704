"""HTTP benchmark: task completions over the API of a running ``caseflow serve``, and timer lateness.

Starts ``caseflow serve`` (one waitress process with the timer loop) on SQLite, then on a
throwaway PostgreSQL (``tests/pg_server.py``, as ``bench/engine.py`` does), deploys the test
diagram (``tests/engine/data``: start + 2 user tasks) and ``bench/timer_1s``, and drives, with
1, 8 and 32 client threads over loopback (``http.client``, one keep-alive connection per
client), start + 2 completions per instance: completions/s, p50/p95 completion latency and
errors, bounded by ``--instances`` per level and ``--seconds`` per level. Then 50 instances of
a 1 s timer: lateness (``timer_fired`` audit time minus the timer's due time) p50/p95.

In process (no server): ``--inprocess-n`` completions through the Flask test client, the time
per completion request (``inprocess_complete_ms``); with ``--baseline REF`` the same
measurement runs, in the same run, against the files of commit ``REF`` (``git archive``, no
change to the checkout): ``inprocess_complete_ms_baseline`` and ``inprocess_ratio``.

    .venv/bin/python bench/http.py [--json] [--skip-postgres] [--workers 2] [--baseline 2fb304f] [--profile]
"""
from __future__ import annotations

import sys
from pathlib import Path

# This file is named http.py: drop its folder from the path so that ``http.client`` is the stdlib's.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import contextlib  # noqa: E402
import cProfile  # noqa: E402
import datetime as dt  # noqa: E402
import http.client  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import pstats  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tarfile  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

DIAGRAM = ROOT / "tests" / "engine" / "data"  # two_tasks: start, enter (amount), approve
TIMER_BUNDLE = Path(__file__).resolve().parent / "timer_1s"
CLIENTS = (1, 8, 32)
USER = "bench"
START_TIMEOUT_S = 180  # a server on a machine loaded by other work can take minutes to import and migrate


# --- shared set-up: a database with the diagrams and a token ------------------------------------------


def prepare(url: str) -> str:
    """Migrate the database at ``url``, deploy the diagrams, create the admin user; its plain token."""
    import engine
    from caseflow import accounts, store

    db = store.Database(url)
    db.upgrade()
    try:
        with db.session() as s:
            engine.deploy(s, [DIAGRAM, TIMER_BUNDLE], actor="bench")
            if accounts.find_user(s, USER) is None:
                user = store.User(username=USER, password_hash="!", active=True)  # token only, no password
                user.roles = [store.UserRole(role="admin")]
                s.add(user)
                s.flush()
            _row, plain = accounts.create_token(s, USER, "bench")
        return plain
    finally:
        db.dispose()


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` (nearest rank), 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


# --- in process: the Flask test client ------------------------------------------------------------------


def inprocess_complete_ms(n: int, profile: bool = False) -> dict:
    """Milliseconds per completion request through the Flask test client (``n`` completions)."""
    from web import create_app

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CASEFLOW_INSTANCE_DIR"] = tmp
        os.environ.setdefault("CASEFLOW_SECRET_KEY", "bench-secret")
        url = f"sqlite:///{tmp}/inprocess.sqlite3"
        token = prepare(url)
        from caseflow import store

        db = store.Database(url)
        app = create_app({"RATELIMIT_ENABLED": False}, database=db)
        from web import serving

        if hasattr(serving, "settle_heap"):  # what `caseflow serve` does at start (a baseline may predate it)
            serving.settle_heap(db)
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}

        def start(i: int) -> str:
            res = client.post("/api/v1/instances", json={"process": "two_tasks", "data": {"ref": f"P-{i}"}},
                              headers=headers)
            assert res.status_code == 201, res.get_data(as_text=True)
            return res.get_json()["tasks"][0]["id"]

        def complete(task_id: str, data: dict) -> dict:
            res = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": data}, headers=headers)
            assert res.status_code == 200, res.get_data(as_text=True)
            return res.get_json()

        for i in range(20):  # warm-up: caches, first-use imports
            view = complete(start(-1 - i), {"amount": i})
            complete(view["tasks"][0]["id"], {})
        spent = cpu = 0.0
        profiler = cProfile.Profile() if profile else None
        done = 0
        i = 0
        while done < n:
            task_id = start(i)
            for data in ({"amount": i % 700}, {}):
                if done >= n:
                    break
                if profiler:
                    profiler.enable()
                t, c = time.perf_counter(), time.thread_time()
                view = complete(task_id, data)
                spent += time.perf_counter() - t
                cpu += time.thread_time() - c
                if profiler:
                    profiler.disable()
                done += 1
                if view["tasks"]:
                    task_id = view["tasks"][0]["id"]
            i += 1
        db.dispose()
        out: dict[str, Any] = {"ms": round(spent / n * 1000, 3), "cpu_ms": round(cpu / n * 1000, 3)}
        if profiler:
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(30)
            out["profile"] = text.getvalue()
        return out


def _inprocess_child(root: Path, n: int) -> dict:
    """The in-process figures of the tree at ``root``, measured in a fresh interpreter."""
    env = dict(os.environ, PYTHONPATH=str(root))
    out = subprocess.run([sys.executable, str(root / "bench" / "http.py"), "--inprocess-only",
                          "--inprocess-n", str(n), "--json"], check=True, capture_output=True, text=True,
                         env=env, cwd=root)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def compare_inprocess(ref: str, n: int, rounds: int) -> dict:
    """This tree against the files of commit ``ref`` (``git archive``; the checkout is not touched).

    Both run in fresh interpreters, alternately, ``rounds`` times each; the fastest round of each
    side counts (a shared machine only ever adds time). The ratio is of CPU time (this thread's),
    which other processes on the machine disturb far less than the wall-clock time.
    """
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref],
                                 check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(old, filter="data")
        (old / "bench").mkdir(exist_ok=True)
        shutil.copy(Path(__file__), old / "bench" / "http.py")  # this measurement, on the old files
        shutil.copytree(TIMER_BUNDLE, old / "bench" / TIMER_BUNDLE.name, dirs_exist_ok=True)
        now, then = [], []
        for _ in range(rounds):
            then.append(_inprocess_child(old, n))
            now.append(_inprocess_child(ROOT, n))

    def best(runs: list[dict], key: str) -> float:
        return float(min(r[key] for r in runs))

    wall, cpu = "inprocess_complete_ms", "inprocess_complete_cpu_ms"
    return {"inprocess_complete_ms": best(now, "inprocess_complete_ms"),
            "inprocess_complete_cpu_ms": best(now, "inprocess_complete_cpu_ms"),
            "inprocess_complete_ms_baseline": best(then, "inprocess_complete_ms"),
            "inprocess_complete_cpu_ms_baseline": best(then, "inprocess_complete_cpu_ms"),
            "inprocess_ratio": round(best(now, cpu) / best(then, cpu), 3),
            "inprocess_wall_ratio": round(best(now, wall) / best(then, wall), 3),
            "baseline_ref": ref}


# --- over HTTP: caseflow serve ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(url: str, threads: int, workers: int = 1) -> Iterator[int]:
    """``caseflow serve`` on ``url`` in a child process (``--workers`` server processes); yields its
    port, stops it after."""
    port = _free_port()
    instance = tempfile.mkdtemp(prefix="caseflow-bench-")
    env = dict(os.environ, CASEFLOW_DATABASE_URL=url, CASEFLOW_INSTANCE_DIR=instance,
               CASEFLOW_SECRET_KEY="bench-secret", CASEFLOW_RATELIMIT_ENABLED="0")
    caseflow = Path(sys.executable).with_name("caseflow")
    log = open(Path(instance) / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([str(caseflow), "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--threads", str(threads), "--workers", str(workers)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("caseflow serve did not start: " +
                                       (Path(instance) / "server.log").read_text(errors="replace")[-2000:]) from None
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(instance, ignore_errors=True)


class Client:
    """One keep-alive connection to the server, with the bench token."""

    def __init__(self, port: int, token: str):
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        payload = json.dumps(body) if body is not None else None
        for attempt in (1, 2):  # the server may close an idle keep-alive connection: reconnect once
            try:
                self.conn.request(method, "/api/v1" + path, body=payload, headers=self.headers)
                res = self.conn.getresponse()
                data = res.read()
                return res.status, json.loads(data) if data else None
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


def drive(port: int, token: str, clients: int, instances: int, seconds: float) -> dict:
    """``clients`` threads run start + 2 completions until ``instances`` are done or ``seconds`` pass."""
    lock = threading.Lock()
    left = [instances]
    latencies: list[float] = []
    errors = [0]
    deadline = time.monotonic() + seconds

    def take() -> bool:
        with lock:
            if left[0] <= 0 or time.monotonic() > deadline:
                return False
            left[0] -= 1
            return True

    def run(k: int) -> None:
        client = Client(port, token)
        mine: list[float] = []
        failed = 0
        n = 0
        try:
            while take():
                n += 1
                status, view = client.call("POST", "/instances",
                                           {"process": "two_tasks", "data": {"ref": f"H-{clients}-{k}-{n}"}})
                if status != 201:
                    failed += 1
                    continue
                for data in ({"amount": n % 700}, {}):
                    t = time.perf_counter()
                    try:
                        status, view = client.call("POST", f"/tasks/{view['tasks'][0]['id']}/complete",
                                                   {"data": data})
                    except (OSError, http.client.HTTPException):
                        status = 0
                    if status != 200:
                        failed += 1
                        break
                    mine.append((time.perf_counter() - t) * 1000)
        finally:
            client.close()
            with lock:
                latencies.extend(mine)
                errors[0] += failed

    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {"per_s": round(len(latencies) / wall, 1), "p50_ms": round(percentile(latencies, 0.5), 2),
            "p95_ms": round(percentile(latencies, 0.95), 2), "completions": len(latencies), "errors": errors[0]}


def timer_lateness(port: int, token: str, count: int, timeout: float = 30.0) -> dict:
    """Start ``count`` instances of the 1 s timer; lateness of each firing from its audit trail."""
    client = Client(port, token)
    try:
        ids = []
        for _ in range(count):
            status, view = client.call("POST", "/instances", {"process": "timer_1s", "data": {}})
            if status != 201:
                raise RuntimeError(f"starting timer_1s answered {status}: {view}")
            ids.append(view["id"])
            time.sleep(0.02)  # spread the due times a little, as real cases are
        late: list[float] = []
        deadline = time.monotonic() + timeout
        pending = list(ids)
        # Lateness comes from the audit trail, not from when it is read: read it only once the
        # timers are due, and seldom, so that the reading does not compete with the firing.
        time.sleep(1.5)
        while pending and time.monotonic() < deadline:
            for instance_id in list(pending):
                status, audit = client.call("GET", f"/instances/{instance_id}/audit")
                fired = [e for e in (audit or {}).get("items", [])
                         if e.get("kind") == "timer_fired"]
                if fired:
                    due = dt.datetime.fromisoformat(fired[0]["payload"]["due_at"])
                    at = dt.datetime.fromisoformat(fired[0]["at"])
                    late.append((at - due).total_seconds())
                    pending.remove(instance_id)
            if pending:
                time.sleep(1.0)
        return {"p50_s": round(percentile(late, 0.5), 3), "p95_s": round(percentile(late, 0.95), 3),
                "fired": len(late), "missing": len(pending)}
    finally:
        client.close()


def measure_http(url: str, args: argparse.Namespace, workers: int = 1) -> dict:
    """Every client level and the timer lateness on one database."""
    token = prepare(url)
    out: dict[str, Any] = {}
    with serving(url, args.threads, workers) as port:
        warm = Client(port, token)
        warm.call("GET", "/me")
        warm.close()
        drive(port, token, 4, 20, args.seconds)  # warm-up: caches, connections
        for clients in CLIENTS:
            out[f"c{clients}"] = drive(port, token, clients, max(args.instances, clients * 4), args.seconds)
        out["timers"] = timer_lateness(port, token, args.timers)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--instances", type=int, default=150, help="instances (start + 2 completions) per level")
    parser.add_argument("--seconds", type=float, default=30.0, help="time limit per level")
    parser.add_argument("--threads", type=int, default=8, help="server application threads")
    parser.add_argument("--timers", type=int, default=50, help="instances of the 1 s timer")
    parser.add_argument("--inprocess-n", type=int, default=300, help="completions in process")
    parser.add_argument("--baseline", metavar="REF", help="also measure in process on commit REF (git archive)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the --baseline comparison")
    parser.add_argument("--profile", action="store_true", help="print the cProfile of the in-process run")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--workers", type=int, default=1, help="server processes on PostgreSQL (serve --workers)")
    parser.add_argument("--inprocess-only", action="store_true", help="only the in-process figures")
    args = parser.parse_args()

    inprocess = inprocess_complete_ms(args.inprocess_n, args.profile)
    result: dict[str, Any] = {"inprocess_complete_ms": inprocess["ms"],
                              "inprocess_complete_cpu_ms": inprocess["cpu_ms"]}
    if args.baseline:
        result.update(compare_inprocess(args.baseline, args.inprocess_n, args.rounds))
    if args.inprocess_only:
        print(json.dumps(result))
        if inprocess.get("profile"):
            print(inprocess["profile"], file=sys.stderr)
        return
    runs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        runs["sqlite"] = measure_http(f"sqlite:///{tmp}/http.sqlite3", args)
    if not args.skip_postgres:
        from pg_server import PostgresServer

        server = PostgresServer().start()
        try:
            runs["pg"] = measure_http(server.create_database("bench_http"), args, args.workers)
        finally:
            server.stop()
    errors = 0
    for name, run in runs.items():
        for clients in CLIENTS:
            level = run[f"c{clients}"]
            result[f"{name}_c{clients}_per_s"] = level["per_s"]
            result[f"{name}_c{clients}_p50_ms"] = level["p50_ms"]
            result[f"{name}_c{clients}_p95_ms"] = level["p95_ms"]
            errors += level["errors"]
        errors += run["timers"]["missing"]
    for key in ("pg_c1_per_s", "pg_c32_per_s", "pg_c32_p95_ms"):
        result.setdefault(key, None)
    result["errors"] = errors
    result["pg_workers"] = args.workers
    timers = runs.get("pg", runs["sqlite"])["timers"]  # the PostgreSQL run when there is one
    result["timer_late_p50_s"], result["timer_late_p95_s"] = timers["p50_s"], timers["p95_s"]
    result["timer_late_sqlite_p95_s"] = runs["sqlite"]["timers"]["p95_s"]
    if args.json:
        print(json.dumps(result))
        return
    _print_table(result, runs, inprocess.get("profile"))


def _print_table(result: dict, runs: dict[str, dict], profile: str | None) -> None:
    print(f"in process (Flask test client): {result['inprocess_complete_ms']} ms per completion request", end="")
    if "inprocess_complete_ms_baseline" in result:
        print(f"; at {result['baseline_ref']}: {result['inprocess_complete_ms_baseline']} ms "
              f"(ratio {result['inprocess_ratio']})", end="")
    print()
    print(f"{'database':<10} {'clients':>7} {'completions/s':>14} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7}")
    for name, run in runs.items():
        for clients in CLIENTS:
            level = run[f"c{clients}"]
            print(f"{name:<10} {clients:>7} {level['per_s']:>14} {level['p50_ms']:>8} {level['p95_ms']:>8} "
                  f"{level['errors']:>7}")
    for name, run in runs.items():
        t = run["timers"]
        print(f"timer lateness ({name}, {t['fired']} x 1 s timer): p50 {t['p50_s']} s, p95 {t['p95_s']} s"
              + (f", {t['missing']} never fired" if t["missing"] else ""))
    if profile:
        print(profile)


if __name__ == "__main__":
    main()
