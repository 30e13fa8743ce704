"""``caseflow serve --workers N``: N server processes sharing one listening socket (PostgreSQL only).

The supervisor binds the address once and starts N children, each ``python -m web.serving --fd
FD --threads T``: a whole :class:`web.serving.Server` (waitress, its own connection pool, the
outbox sender, the account-change listener) accepting on the inherited socket, so the kernel
spreads connections over them. Each child offers to lead the timer loop; the instance folder's
timer lock lets one do it (and timers are claimed row by row with ``SKIP LOCKED``, so loops of
other machines on the same database never fire a timer twice).

The supervisor creates no app and holds no database connection. A child that dies
is started again (after a pause that grows while children keep dying); SIGTERM or SIGINT stops
the children (each finishes its requests) and then the supervisor.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from types import FrameType

log = logging.getLogger("caseflow.serve")

RESTART_PAUSE_S = (0.5, 30.0)  # first and longest pause before a dead child is started again
STOP_TIMEOUT_S = 15.0
BACKLOG = 1024


def needs_postgresql(database_url: str) -> str | None:
    """Why ``--workers`` above 1 cannot run on ``database_url`` (None: it can)."""
    if database_url.startswith("postgresql"):
        return None
    return ("--workers above 1 needs PostgreSQL: SQLite serves one process (raise --threads instead, "
            "or set CASEFLOW_DATABASE_URL to a PostgreSQL database)")


def bind(host: str, port: int) -> socket.socket:
    """The listening socket the children share (inheritable)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=BACKLOG, reuse_port=False)
    sock.set_inheritable(True)
    return sock


class Supervisor:
    """Starts, watches and stops the ``workers`` children serving on one socket."""

    def __init__(self, host: str, port: int, workers: int, threads: int):
        self.sock = bind(host, port)
        self.workers = workers
        self.threads = threads
        self.children: dict[int, subprocess.Popen[bytes]] = {}  # slot -> process
        self.pause = dict.fromkeys(range(workers), RESTART_PAUSE_S[0])
        self.started: dict[int, float] = {}
        self.stopping = False

    def _spawn(self, slot: int) -> None:
        fd = self.sock.fileno()
        argv = [sys.executable, "-m", "web.serving", "--fd", str(fd), "--threads", str(self.threads)]
        env = dict(os.environ, CASEFLOW_WORKER_SLOT=str(slot))
        self.children[slot] = subprocess.Popen(argv, pass_fds=(fd,), env=env)
        self.started[slot] = time.monotonic()
        log.info("worker %s started (process %s)", slot, self.children[slot].pid)

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; returns the exit status."""

        def stop(signum: int, frame: FrameType | None) -> None:
            self.stopping = True

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            for slot in range(self.workers):
                self._spawn(slot)
            host, port = self.sock.getsockname()[:2]
            print(f"serving on http://{host}:{port} with {self.workers} worker processes", flush=True)
            while not self.stopping:
                time.sleep(0.2)
                for slot, child in list(self.children.items()):
                    code = child.poll()
                    if code is None or self.stopping:
                        continue
                    if time.monotonic() - self.started[slot] > 60:  # it had been running well
                        self.pause[slot] = RESTART_PAUSE_S[0]
                    log.error("worker %s (process %s) ended with status %s; starting it again in %.1f s",
                              slot, child.pid, code, self.pause[slot])
                    deadline = time.monotonic() + self.pause[slot]
                    while time.monotonic() < deadline and not self.stopping:
                        time.sleep(0.1)
                    self.pause[slot] = min(self.pause[slot] * 2, RESTART_PAUSE_S[1])
                    if not self.stopping:
                        self._spawn(slot)
            return 0
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._stop_children()
            self.sock.close()

    def _stop_children(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for child in self.children.values():
            try:
                child.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                log.warning("worker process %s did not stop in time: killed", child.pid)
                child.kill()
                child.wait()
