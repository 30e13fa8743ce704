"""The web app under gunicorn (``caseflow serve``), with the timer worker running in exactly
one gunicorn worker process at a time.

gunicorn loads :func:`worker_app` by name in every worker process (see web/gunicorn_conf.py
for the server settings and caseflow/cli/serve.py for the command line). Each worker builds
its own app and database handle, then keeps trying, now and then, to take an exclusive lock
on a file in the instance folder; the one holding it runs :func:`worker.start_background`.
When that worker exits or is restarted the lock is released and another worker takes over.
(The master never opens the database, so no connection crosses a fork; the CLI migrated the
database before starting gunicorn.)
"""
from __future__ import annotations

import fcntl
import logging
import os
import threading
from pathlib import Path
from typing import Any

from flask import Flask

from caseflow import config, store, worker
from web import create_app

log = logging.getLogger("caseflow.serve")
LOCK_NAME = "timer-worker.lock"


class TimerLeader:
    """Runs the timer worker in this process while it holds the instance folder's lock."""

    def __init__(self, db: store.Database, settings: config.Settings):
        self.db = db
        self.settings = settings
        self.stop = threading.Event()
        self.worker_stop: threading.Event | None = None
        self._lock_file: Any = None

    def try_lead(self) -> bool:
        """Take the lock if free and start the worker thread; True when this process leads."""
        path = Path(self.settings.instance_dir) / LOCK_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._lock_file = handle
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self.worker_stop = worker.start_background(self.db, self.settings.timer_interval_s)
        log.info("timer worker runs in process %s", os.getpid())
        return True

    def watch(self) -> None:
        """Keep trying to lead until it works (another worker may hold the lock now)."""

        def loop() -> None:
            while not self.stop.is_set():
                if self.try_lead():
                    return
                self.stop.wait(max(self.settings.timer_interval_s, 1.0))

        threading.Thread(target=loop, name="caseflow-timer-leader", daemon=True).start()


def worker_app() -> Flask:
    """The app of one gunicorn worker process, which also watches for the timer worker's lock."""
    settings = config.load()
    db = store.Database(settings.database_url)
    app = create_app(database=db)
    TimerLeader(db, settings).watch()
    return app
