"""``caseflow serve``: the app under gunicorn, with the timer worker running in exactly one
gunicorn worker process at a time.

Every worker tries, now and then, to take an exclusive lock on a file in the instance folder;
the one holding it runs :func:`worker.start_background`. When that worker exits or is
restarted the lock is released and another worker takes over. (The master never opens the
database after forking starts, so no connection crosses a fork.)
"""
from __future__ import annotations

import fcntl
import logging
import os
import threading
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from caseflow import config
from caseflow import store
from caseflow import worker

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


class CaseflowServer(BaseApplication):
    """gunicorn running the Flask app; each worker builds its own app and database handle."""

    def __init__(self, options: dict[str, Any]):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # settings of newer gunicorn releases are skipped on older ones
                self.cfg.set(key, value)

    def load(self) -> Any:
        from web import create_app

        settings = config.load()
        db = store.Database(settings.database_url)
        app = create_app(database=db)
        TimerLeader(db, settings).watch()
        return app


def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Migrate the database once, then run gunicorn (blocks until stopped)."""
    settings = config.load()
    db = store.Database(settings.database_url)
    db.upgrade()
    db.dispose()
    CaseflowServer({
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
        "timeout": 60,
        "graceful_timeout": 10,
        "preload_app": False,
        "control_socket": str(Path(settings.instance_dir) / "gunicorn.ctl"),
    }).run()
