"""SQLite writers of one process take turns on a lock instead of sleeping in SQLite's busy back-off.

SQLite lets one connection write at a time. A writer that finds the database locked sleeps in
SQLite's busy handler (1, 2, 5, 10 ... up to 100 ms between tries) and so waits far longer than
the lock is held (about a millisecond per task completion): under concurrent requests the tail
latency is made of those sleeps. Here the threads of one process queue on a lock instead, taken
by a connection at its first data-changing statement (where Python's ``sqlite3`` begins the
transaction that holds SQLite's write lock) and handed to the next writer right after its
commit or rollback.

The lock only orders this process's threads: other processes (a ``caseflow worker``, the CLI)
still meet SQLite's own lock and busy timeout, and a writer that waits longer than that timeout
here goes on to SQLite, which decides. A thread that opens a second write transaction while
holding one (two sessions on one thread) is not made to wait for itself: it goes on to SQLite
as before.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Any

_DATA_CHANGING = ("INSERT", "UPDATE", "DELETE", "REPLAC")
_LOG = logging.getLogger("caseflow.store")


class WriteTurns:
    """One writing connection at a time among a process's threads; a waiting one goes on as soon as the turn is free."""

    def __init__(self, timeout_s: float):
        self._lock = threading.Lock()
        self._owner: int | None = None  # the thread holding the turn
        self._depth = 0  # connections of that thread holding it
        self.timeout_s = timeout_s

    def take(self, conn: TurnTakingConnection) -> None:
        """Give ``conn`` the turn to write (it keeps it until its commit, rollback or close)."""
        if conn.holds_turn:
            return
        me = threading.get_ident()
        if self._owner == me:  # another connection of this thread writes: SQLite decides, as without turns
            self._depth += 1
        elif self._lock.acquire(timeout=self.timeout_s):
            self._owner, self._depth = me, 1
        else:
            _LOG.warning("a database writer waited %.1f s for its turn; going on to SQLite's lock", self.timeout_s)
            return
        conn.holds_turn = True

    def give_back(self, conn: TurnTakingConnection) -> None:
        """End ``conn``'s turn (if it has one)."""
        if not conn.holds_turn:
            return
        conn.holds_turn = False
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            self._lock.release()


class TurnTakingConnection(sqlite3.Connection):
    """A ``sqlite3`` connection that gives its writing turn back when its transaction ends."""

    turns: WriteTurns  # set by :func:`connection_factory`
    holds_turn = False

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.turns.give_back(self)

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.turns.give_back(self)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.turns.give_back(self)


def connection_factory(turns: WriteTurns) -> type[TurnTakingConnection]:
    """A connection class (``sqlite3.connect(factory=...)``) whose connections share ``turns``."""
    return type("TurnTakingConnection", (TurnTakingConnection,), {"turns": turns})


def before_statement(conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
    """SQLAlchemy ``before_cursor_execute`` hook: a data-changing statement first takes the turn."""
    if statement.lstrip()[:6].upper() in _DATA_CHANGING:
        dbapi = conn.connection.dbapi_connection
        if isinstance(dbapi, TurnTakingConnection):
            dbapi.turns.take(dbapi)
