"""``caseflow serve``: the web app under waitress and the one timer loop beside it, in one process.

``caseflow serve`` migrates the database, then replaces itself with
``python -m web.serving --host H --port P --threads T`` (so the CLI never imports the web
package); a process supervisor may run that line itself.

waitress reads every request whole (headers and body, within the limits below) in its one
asynchronous I/O thread before an application thread sees it, so a slow or idle client costs a
socket, never a thread; idle sockets are dropped after ``CHANNEL_TIMEOUT_S``.

The timer loop (:func:`caseflow.worker.start_background`) runs in this process while it holds
the instance folder's timer lock (:mod:`caseflow.timer_lock`); another ``caseflow serve`` or a
``caseflow worker`` on the same folder holds it meanwhile, and this process takes over when it
is released. SIGTERM and SIGINT stop the server (requests in progress get a few seconds) and the
timer loop.
"""
from __future__ import annotations

import argparse
import gc
import logging
import os
import resource
import signal
import socket
import threading
import time
from collections.abc import Iterable
from types import FrameType
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from flask import Flask
from waitress.server import BaseWSGIServer, MultiSocketServer, create_server

import engine
from caseflow import config, log_setup, store, token_cache, worker
from caseflow.notify import sender as notify_sender
from caseflow.timer_lock import TimerLock
from web import create_app, serving_workers

log = logging.getLogger("caseflow.serve")
access_log = logging.getLogger("caseflow.access")

CONNECTION_LIMIT = 1000  # open client sockets; waitress stops accepting beyond it
CHANNEL_TIMEOUT_S = 30  # a socket that sends and receives nothing this long is closed
CLEANUP_INTERVAL_S = 10  # how often idle sockets are looked for
MAX_REQUEST_HEADER_BYTES = 64 * 1024
SPARE_FILES = 128  # descriptors besides the client sockets: database, logs, uploads, waitress's own
STOP_TIMEOUT_S = 10.0


class TimerLeader:
    """This process's one timer loop, run while it holds the instance folder's timer lock.

    A started leader stays referenced by the class until :meth:`close` (so its lock can never be
    released by garbage collection), whoever else keeps or drops it.
    """

    _running: set[TimerLeader] = set()

    def __init__(self, db: store.Database, settings: config.Settings):
        self.db = db
        self.settings = settings
        self.lock = TimerLock(settings.instance_dir)
        self.stop = threading.Event()  # ends the watching
        self.worker_stop: threading.Event | None = None
        self.worker_thread: threading.Thread | None = None
        self._watcher: threading.Thread | None = None
        self._guard = threading.Lock()

    def try_lead(self) -> bool:
        """Take the lock if it is free and start the timer loop; True when this process leads."""
        with self._guard:
            if self.worker_stop is not None:
                return True
            if self.stop.is_set() or not self.lock.acquire():
                return False
            before = set(threading.enumerate())
            self.worker_stop = worker.start_background(self.db, self.settings.timer_interval_s)
            started = [t for t in set(threading.enumerate()) - before if t.daemon]
            self.worker_thread = started[0] if len(started) == 1 else None
        log.info("the timer loop runs in process %s (lock %s)", os.getpid(), self.lock.path)
        return True

    def start(self) -> bool:
        """Lead now if the lock is free, else watch for it in a thread; True when leading now."""
        TimerLeader._running.add(self)
        if self.try_lead():
            return True
        log.info("timer lock %s is held by process %s: this process takes over when it is released",
                 self.lock.path, self.lock.holder() or "?")

        def watch() -> None:
            while not self.stop.wait(max(self.settings.timer_interval_s, 1.0)):
                if self.try_lead():
                    return

        self._watcher = threading.Thread(target=watch, name="caseflow-timer-leader", daemon=True)
        self._watcher.start()
        return False

    def close(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop watching and stop the timer loop (waiting up to ``timeout``), then release the lock."""
        self.stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout)
        with self._guard:
            if self.worker_stop is not None:
                self.worker_stop.set()
            if self.worker_thread is not None:
                self.worker_thread.join(timeout)
                if self.worker_thread.is_alive():
                    log.warning("the timer loop did not stop within %.0f s", timeout)
            self.lock.release()
        TimerLeader._running.discard(self)


def with_access_log(app: WSGIApplication) -> WSGIApplication:
    """``app`` logging one line per request when its response starts (waitress logs none)."""

    def logged(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.monotonic()

        def logging_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            size = next((value for name, value in headers if name.lower() == "content-length"), "-")
            target = environ.get("PATH_INFO", "") + ("?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING")
                                                     else "")
            access_log.info('%s "%s %s %s" %s %s %.1fms', environ.get("REMOTE_ADDR", "-"),
                            environ.get("REQUEST_METHOD", "-"), target, environ.get("SERVER_PROTOCOL", "-"),
                            status.split(" ", 1)[0], size, (time.monotonic() - started) * 1000)
            return start_response(status, headers, exc_info)

        return app(environ, logging_start_response)

    return logged


def server_options(app: Flask, host: str, port: int, threads: int) -> dict[str, Any]:
    """The waitress settings of ``caseflow serve``."""
    body_limit = app.config.get("MAX_CONTENT_LENGTH")  # attachments and bundle uploads alike
    return {
        "host": host,
        "port": port,
        "threads": threads,
        "connection_limit": CONNECTION_LIMIT,
        "channel_timeout": CHANNEL_TIMEOUT_S,
        "cleanup_interval": CLEANUP_INTERVAL_S,
        "max_request_header_size": MAX_REQUEST_HEADER_BYTES,
        "max_request_body_size": int(body_limit) if body_limit else 1024 * 1024 * 1024,
        "asyncore_use_poll": True,  # select() fails beyond 1024 descriptors
        # No proxy is trusted, and X-Forwarded-* headers reach the app untouched: the app alone
        # decides about them (werkzeug's ProxyFix where a deployment configures one).
        "trusted_proxy": None,
        "clear_untrusted_proxy_headers": False,
        "ident": "caseflow",
    }


def raise_open_files_limit(wanted: int) -> int:
    """Raise this process's soft limit of open files towards ``wanted`` (at most the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


def settle_heap(db: store.Database) -> int:
    """Parse the versions new cases start on, then move every object alive into the garbage
    collector's permanent generation (``gc.freeze``); returns how many were moved.

    A server's heap is mostly what it keeps for good: modules, the app, parsed process versions.
    Each full collection walked all of it (about 80 ms here, some every hundred requests); frozen,
    it walks only what requests made since. Objects frozen are never freed, so this runs once, at
    start, before any request."""
    with db.session() as session:
        for process in engine.list_processes(session):
            try:
                engine.start_form(session, process["key"])  # parses the version (and what it calls)
            except engine.EngineError:
                continue  # nothing startable: parsed when first used
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


class Server:
    """The app, its waitress server and the timer loop of one ``caseflow serve`` process."""

    def __init__(self, host: str, port: int, threads: int, fd: int | None = None):
        self.settings = config.load()
        files = raise_open_files_limit(CONNECTION_LIMIT + threads + SPARE_FILES)
        if files < CONNECTION_LIMIT + SPARE_FILES:
            log.warning("only %s open files allowed (ulimit -n): fewer than %s client connections fit",
                        files, CONNECTION_LIMIT)
        self.db = store.Database(self.settings.database_url)
        self.db.upgrade()  # nothing to do after `caseflow serve`; needed when a supervisor starts this
        self.app = create_app(database=self.db)
        log.info("heap settled: %s objects kept out of garbage collection", settle_heap(self.db))
        options = server_options(self.app, host, port, threads)
        if fd is not None:  # a child of `serve --workers N`: accept on the supervisor's socket
            del options["host"], options["port"]
            options["sockets"] = [socket.socket(fileno=fd)]
        self.wsgi: MultiSocketServer | BaseWSGIServer = create_server(with_access_log(self.app), **options)
        self.timers = TimerLeader(self.db, self.settings)

    def run(self) -> None:
        """Serve until SIGTERM or SIGINT, then stop the timer loop and close the database."""

        def stop(signum: int, frame: FrameType | None) -> None:
            raise SystemExit(0)  # waitress ends its loop on it and lets running requests finish

        notify_stop, notify_thread = notify_sender.start_background(self.db, self.settings)  # the outbox sender
        auth_stop, auth_thread = token_cache.start_background(self.db.engine)  # other processes' account changes
        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.timers.start()
            self.wsgi.print_listen("serving on http://{}:{}")
            self.wsgi.run()
        finally:
            for sig, handler in previous.items():  # a second signal stops the way it usually does
                signal.signal(sig, handler)
            log.info("stopping")
            self.wsgi.close()
            self.timers.close()
            notify_stop.set()
            auth_stop.set()
            notify_thread.join(STOP_TIMEOUT_S)
            auth_thread.join(STOP_TIMEOUT_S)
            self.db.dispose()


def main(argv: list[str] | None = None) -> int:
    """``python -m web.serving --host H --port P --threads T [--workers N]``."""
    parser = argparse.ArgumentParser(prog="python -m web.serving", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=8, help="application threads")
    parser.add_argument("--workers", type=int, default=1, help="server processes (PostgreSQL only above 1)")
    parser.add_argument("--fd", type=int, help=argparse.SUPPRESS)  # a worker's inherited listening socket
    args = parser.parse_args(argv)
    log_setup.configure()
    if args.workers < 1 or args.threads < 1:
        parser.error("--workers and --threads must be at least 1")
    if args.workers > 1:
        problem = serving_workers.needs_postgresql(config.load().database_url)
        if problem:
            parser.error(problem)
        return serving_workers.Supervisor(args.host, args.port, args.workers, args.threads).run()
    Server(args.host, args.port, args.threads, fd=args.fd).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
