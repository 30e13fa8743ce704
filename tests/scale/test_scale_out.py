"""Scale-out on PostgreSQL: two ``caseflow serve`` (one with ``--workers 2``) and two ``caseflow
worker`` processes on one database, under load from both sides.

Each server and worker has its own instance folder, as on separate machines, so four timer
loops run at once. Checked: no lost update (a task raced from both servers is completed exactly
once, the loser gets 409, every case ends consistent), no double timer (each timer fires once),
no stale cache (a token revoked through one server is refused at once by the other).
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import engine
from caseflow import accounts, store

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
DIAGRAM = ROOT / "tests" / "engine" / "data"  # two_tasks: start, enter (amount), approve
TIMER_BUNDLE = ROOT / "bench" / "timer_1s"  # waits 1 s, then a user task
CASEFLOW = Path(sys.executable).with_name("caseflow")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Api:
    """One keep-alive connection to one server with one token."""

    def __init__(self, port: int, token: str):
        self.port, self.token = port, token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        for attempt in (1, 2):
            try:
                self.conn.request(method, "/api/v1" + path, body=json.dumps(body) if body is not None else None,
                                  headers=headers)
                res = self.conn.getresponse()
                raw = res.read()
                return res.status, json.loads(raw) if raw else None
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


@pytest.fixture
def cluster(postgres_server, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Two servers (A with --workers 2, B with one process) and two timer workers on one database."""
    url = postgres_server.create_database(f"scale_{os.getpid()}_{time.monotonic_ns()}")
    db = store.Database(url)
    db.upgrade()
    with db.session() as s:
        engine.deploy(s, [DIAGRAM, TIMER_BUNDLE], actor="test")
        tokens = {}
        for name in ("load", "revoked"):
            accounts.create_user(s, name, "a-long-password-1", display_name=name, roles=["admin"])
            s.flush()
            tokens[name] = accounts.create_token(s, name, "scale")[1]
        tokens["revoker"] = accounts.create_token(s, "revoked", "revoker")[1]  # the same user's second token
    processes: list[tuple[subprocess.Popen[bytes], Path]] = []

    def launch(name: str, *args: str) -> None:
        folder = tmp_path / name
        folder.mkdir()
        env = dict(os.environ, CASEFLOW_DATABASE_URL=url, CASEFLOW_INSTANCE_DIR=str(folder),
                   CASEFLOW_SECRET_KEY="scale-secret", CASEFLOW_RATELIMIT_ENABLED="0", CASEFLOW_TIMER_INTERVAL="1")
        log = folder / "log"
        with open(log, "wb") as out:
            processes.append((subprocess.Popen([str(CASEFLOW), *args], env=env, stdout=out,
                                               stderr=subprocess.STDOUT, cwd=ROOT), log))

    ports = {"A": _free_port(), "B": _free_port()}
    launch("server-a", "serve", "--host", "127.0.0.1", "--port", str(ports["A"]), "--workers", "2", "--threads", "4")
    launch("server-b", "serve", "--host", "127.0.0.1", "--port", str(ports["B"]), "--threads", "4")
    launch("worker-1", "worker", "--interval", "1")
    launch("worker-2", "worker", "--interval", "1")
    try:
        for port in ports.values():
            deadline = time.monotonic() + 180  # a loaded CI machine starts Python slowly
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    dead = [(p, log) for p, log in processes if p.poll() is not None]
                    if dead or time.monotonic() > deadline:
                        pytest.fail("a process did not start:\n" + "\n".join(
                            f"{p.args} ended with {p.returncode}:\n" + "\n".join(
                                line for line in log.read_text(errors="replace").splitlines()[-40:]
                                if "alembic" not in line) for p, log in (dead or processes)))
                    time.sleep(0.2)
        def logs() -> str:
            return "\n".join(f"{p.args} (status {p.poll()}):\n" + "\n".join(
                line for line in log.read_text(errors="replace").splitlines() if "alembic" not in line)[-3000:]
                for p, log in processes)

        yield {"db": db, "ports": ports, "tokens": tokens, "processes": processes, "logs": logs}
    finally:
        for proc, _log in processes:
            proc.terminate()
        for proc, _log in processes:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        db.dispose()
        engine.clear_caches()


def _audit(db: store.Database, kind: str) -> list[tuple[int, str | None]]:
    with db.session() as s:
        rows = s.execute(select(store.AuditEvent.instance_id, store.AuditEvent.payload)
                         .where(store.AuditEvent.kind == kind)).all()
    return [(r.instance_id, json.dumps(r.payload, sort_keys=True)) for r in rows]


def test_two_servers_and_two_workers_lose_nothing_fire_once_and_serve_no_stale_cache(cluster):
    try:
        _load_and_check(cluster)
    except (AssertionError, OSError) as problem:
        raise AssertionError(f"{problem}\n--- process logs ---\n{cluster['logs']()}") from problem


def _load_and_check(cluster: dict[str, Any]) -> None:
    ports, token = cluster["ports"], cluster["tokens"]["load"]
    db = cluster["db"]
    # The workers' timers: started through both servers, each must fire exactly once.
    timer_ids = []
    for i in range(20):
        status, view = Api(ports["AB"[i % 2]], token).call("POST", "/instances", {"process": "timer_1s", "data": {}})
        assert status == 201, view
        timer_ids.append(view["id"])

    # Load: clients on both servers start cases; each first task is raced from both servers at once.
    results: Counter[int] = Counter()
    failures: list[str] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        mine, other = Api(ports["AB"[k % 2]], token), Api(ports["BA"[k % 2]], token)
        for n in range(12):
            status, view = mine.call("POST", "/instances", {"process": "two_tasks", "data": {"ref": f"S-{k}-{n}"}})
            if status != 201:
                with lock:
                    failures.append(f"start {status} {view}")
                continue
            task = view["tasks"][0]["id"]
            answers: list[int] = []

            def race(api: Api, task: str = task, answers: list[int] = answers, n: int = n) -> None:
                answers.append(api.call("POST", f"/tasks/{task}/complete", {"data": {"amount": n}})[0])

            racers = [threading.Thread(target=race, args=(api,)) for api in (mine, Api(other.port, token))]
            for t in racers:
                t.start()
            for t in racers:
                t.join()
            with lock:
                results.update(answers)
                if sorted(answers) != [200, 409]:
                    failures.append(f"race on {task}: {answers}")
            status, case = other.call("GET", f"/instances/{view['id']}")
            nxt = [t["id"] for t in case["tasks"]] if status == 200 else []
            if len(nxt) != 1:
                with lock:
                    failures.append(f"after the race {view['id']} has tasks {nxt}")
                continue
            status, done = mine.call("POST", f"/tasks/{nxt[0]}/complete", {"data": {}})
            if status != 200 or done["status"] != "completed":
                with lock:
                    failures.append(f"second task {status} {done}")

    threads = [threading.Thread(target=client, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert results == Counter({200: 72, 409: 72})

    # No lost update: every case completed, each task completed once, in the audit exactly once.
    with db.session() as s:
        statuses = Counter(s.execute(select(store.ProcessInstance.status)
                                     .where(store.ProcessInstance.id.not_in(timer_ids))).scalars())
    assert statuses == Counter({"completed": 72})
    completed = _audit(db, "task_completed")
    per_case = Counter(instance for instance, _payload in completed)
    assert len(per_case) == 72 and set(per_case.values()) == {2}

    # No double timer: every 1 s timer fired exactly once although four loops ran.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        fired = Counter(i for i, _p in _audit(db, "timer_fired") if i in timer_ids)
        if len(fired) == len(timer_ids):
            break
        time.sleep(0.5)
    time.sleep(2)  # a late second firing would show now
    fired = Counter(i for i, _p in _audit(db, "timer_fired") if i in timer_ids)
    assert sorted(fired) == sorted(timer_ids) and set(fired.values()) == {1}

    # No stale cache: a token trusted by both servers, revoked through A, is refused by every
    # process as soon as its listener hears the commit's NOTIFY. That travels apart from the
    # client's next request, so each is given 1 s; a process that missed it would trust the token
    # until its cache entry expired (TOKEN_CACHE_TTL_S, set just now).
    revoked = cluster["tokens"]["revoked"]
    a, b = Api(ports["A"], revoked), Api(ports["B"], revoked)
    for api in (a, b, a, b):
        assert api.call("GET", "/me")[0] == 200  # cached by now in both
    status, mine = a.call("GET", "/tokens")
    token_id = next(t["id"] for t in mine["items"] if t["name"] == "scale")
    assert Api(ports["A"], cluster["tokens"]["revoker"]).call("DELETE", f"/tokens/{token_id}")[0] == 200
    deadline = time.monotonic() + 1.0
    assert 1.0 < accounts.TOKEN_CACHE_TTL_S
    refusals = 0
    while refusals < 8:  # eight refusals in a row, B and A in turn (A's two processes among them)
        answer = (b, a)[refusals % 2].call("GET", "/me")[0]
        if answer == 401:
            refusals += 1
            continue
        assert answer == 200 and time.monotonic() < deadline, f"a revoked token still answers {answer}"
        refusals = 0
        time.sleep(0.01)


def test_workers_above_one_are_refused_on_sqlite(tmp_path):
    env = dict(os.environ, CASEFLOW_DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}",
               CASEFLOW_INSTANCE_DIR=str(tmp_path))
    done = subprocess.run([str(CASEFLOW), "serve", "--workers", "2", "--port", str(_free_port())], env=env,
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2
    assert "--workers above 1 needs PostgreSQL" in done.stderr
