"""One timer loop per instance folder: an exclusive lock on ``<instance>/timer-worker.lock``.

The process holding it (``caseflow serve``'s timer thread, or ``caseflow worker``) fires the
timers; any other one waits. The lock is an ``flock`` on an open file, so it lasts exactly as
long as that file stays open: a held lock is kept in a module-level registry until it is
released on purpose, never closed with the last reference to whoever took it. The kernel
releases it when the process ends, however it ends.
"""
from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from typing import IO

LOCK_NAME = "timer-worker.lock"

_HELD: set[TimerLock] = set()  # strong references: a taken lock lives until release() or the process's end
_HELD_GUARD = threading.Lock()


class TimerLock:
    """The instance folder's timer lock, as this process sees it."""

    def __init__(self, instance_dir: Path | str):
        self.path = Path(instance_dir) / LOCK_NAME
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._file is not None

    def acquire(self, blocking: bool = False) -> bool:
        """Take the lock (wait for it when ``blocking``); True when this object holds it."""
        if self._file is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BaseException as err:  # taken (OSError without blocking), or e.g. Ctrl-C while waiting
            handle.close()
            if blocking or not isinstance(err, OSError):
                raise
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        with _HELD_GUARD:
            _HELD.add(self)
        return True

    def holder(self) -> str:
        """The process id written by the holder (it may be stale when nobody holds the lock)."""
        try:
            return self.path.read_text().strip()
        except OSError:
            return ""

    def release(self) -> None:
        """Give the lock up (nothing when not held)."""
        handle, self._file = self._file, None
        if handle is None:
            return
        with _HELD_GUARD:
            _HELD.discard(self)
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()
