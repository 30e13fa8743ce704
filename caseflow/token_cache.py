"""The cache of checked API tokens, and how it forgets across processes.

A token checked in the last :data:`TOKEN_CACHE_TTL_S` seconds costs no query. A change that
must end a cached token's trust (revocation, a new password, deactivation, new roles) forgets the
user's entries at once in the changing process, and again when its transaction commits.

Other processes must forget too, or they would serve a stale answer:

- On PostgreSQL the change also sends ``NOTIFY caseflow_auth, '<user id>'`` in its transaction
  (delivered at commit), and each server process listens (:func:`listen`) and forgets the user
  when it arrives. A process trusts its cache only while its listener is connected: without one
  (the test client, a lost connection), every request reads the database. The notification is
  not ordered with the client's next request: another process forgets milliseconds after the
  commit, not before the revoking request has answered.
- On SQLite, which serves one process (``caseflow serve --workers`` needs PostgreSQL), a change
  made by another process (e.g. ``caseflow tokens revoke`` in a shell) touches a signal file
  beside the database file (``<database>-accounts-changed``) when it commits; the server looks
  at the file's modification time before it answers from its cache (one ``stat``) and forgets
  every token when it changed. An in-memory database has no other process to hear.
"""
from __future__ import annotations

import functools
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, String, bindparam, func, select
from sqlalchemy import event as sqla_event
from sqlalchemy.orm import Session

__all__ = ["TOKEN_CACHE_TTL_S", "AUTH_CHANNEL", "Cached", "TokenCache", "TOKENS", "forget_user", "clear", "listen",
           "usable", "start_background"]

log = logging.getLogger("caseflow.auth")

#: How long a process trusts a token it has checked (see the module's docstring for who forgets when).
TOKEN_CACHE_TTL_S = 5.0
AUTH_CHANNEL = "caseflow_auth"  # PostgreSQL NOTIFY channel: the payload is a user id
_MAX_ENTRIES = 10_000  # a full cache is emptied (tokens are few, callers fewer)
_FORGET_ON_COMMIT = "caseflow_forget_token_users"  # session.info key: user ids to forget at commit
_NOTIFY_AUTH = select(func.pg_notify(AUTH_CHANNEL, bindparam("user_id", type_=String)))


@dataclass
class Cached:
    """A checked token: who it is, until when it is trusted, when it was last marked used."""

    caller: Any  # accounts.ApiCaller
    expires: float  # time.monotonic()
    last_used_at: Any  # datetime | None


class TokenCache:
    """Checked tokens by SHA-256 digest, each trusted for ``ttl`` seconds.

    ``forget_user`` drops a user's entries and raises the generation, so an answer read from the
    database before the change is not stored after it.
    """

    def __init__(self, ttl: float):
        self.ttl = ttl
        self._entries: dict[str, Cached] = {}
        self._lock = threading.Lock()
        self.generation = 0
        self.listening = 0  # PostgreSQL listeners connected in this process
        self.signal_seen: int | None = None  # SQLite: the signal file's mtime (ns) the entries are younger than

    def get(self, digest: str) -> Cached | None:
        entry = self._entries.get(digest)
        if entry is not None and entry.expires <= time.monotonic():
            with self._lock:
                self._entries.pop(digest, None)
            return None
        return entry

    def put(self, digest: str, entry: Cached, generation: int) -> None:
        with self._lock:
            if generation != self.generation:
                return
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries.clear()
            self._entries[digest] = entry

    def forget_user(self, user_id: int) -> None:
        with self._lock:
            self.generation += 1
            for digest in [d for d, e in self._entries.items() if e.caller.user_id == user_id]:
                del self._entries[digest]

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._entries.clear()


TOKENS = TokenCache(TOKEN_CACHE_TTL_S)


@functools.lru_cache(maxsize=16)
def _signal_file(dialect: str, database: str | None) -> Path | None:
    """The file whose modification tells a SQLite database's processes of an account change."""
    if dialect != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database + "-accounts-changed")


def _signal_of(bind: Any) -> Path | None:
    return _signal_file(bind.dialect.name, bind.url.database)


def _signal_mtime(path: Path) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:  # not made yet: no change was ever signalled
        return 0


def usable(session: Session) -> bool:
    """Whether this process may answer from its cache: on PostgreSQL only while a listener hears
    the other processes' changes; on SQLite always, after forgetting everything when another
    process signalled a change since the last look."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        return TOKENS.listening > 0
    signal = _signal_of(bind)
    if signal is not None:
        seen = _signal_mtime(signal)
        if seen != TOKENS.signal_seen:
            TOKENS.clear()
            TOKENS.signal_seen = seen
    return True


def clear() -> None:
    """Forget every checked token (tests; a process that changed accounts behind this module's back)."""
    TOKENS.clear()


def forget_user(session: Session | None, user_id: int | None) -> None:
    """The cached tokens of ``user_id`` are no longer trusted: now, again when ``session`` commits
    (a request that read the old rows meanwhile may have cached them), and in every other process
    (PostgreSQL: a NOTIFY sent with the commit)."""
    if user_id is None:
        return
    TOKENS.forget_user(user_id)
    if session is not None:
        session.info.setdefault(_FORGET_ON_COMMIT, set()).add(user_id)
        if session.get_bind().dialect.name == "postgresql":
            session.execute(_NOTIFY_AUTH, {"user_id": str(user_id)})


@sqla_event.listens_for(Session, "after_commit")
def _forget_committed(session: Session) -> None:
    users = session.info.pop(_FORGET_ON_COMMIT, ())
    for user_id in users:
        TOKENS.forget_user(user_id)
    signal = _signal_of(session.get_bind()) if users else None
    if signal is not None:  # SQLite: tell the database's other processes (the server, when a shell changed it)
        try:
            signal.touch()
            now = time.time_ns()
            os.utime(signal, ns=(now, now))
        except OSError:
            log.warning("cannot touch %s: other processes see this account change within %s s", signal,
                        TOKENS.ttl)


@sqla_event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_FORGET_ON_COMMIT, None)


def listen(bind: Engine, stop: threading.Event, poll_s: float = 0.25,
           connected: threading.Event | None = None) -> None:
    """On PostgreSQL, forget the users other processes' commits name on :data:`AUTH_CHANNEL` until
    ``stop`` is set (run it in a thread); returns at once on other databases.

    While connected, this process trusts its cache (:func:`usable`); when the connection is lost
    the cache is emptied and unused until listening again, after a pause.
    """
    if bind.dialect.name != "postgresql":
        return
    while not stop.is_set():
        try:
            with bind.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.exec_driver_sql(f"LISTEN {AUTH_CHANNEL}")
                raw: Any = conn.connection.driver_connection
                TOKENS.clear()  # whatever was cached before listening may be stale
                TOKENS.listening += 1
                if connected is not None:
                    connected.set()
                try:
                    while not stop.is_set():
                        for note in raw.notifies(timeout=poll_s):
                            try:
                                TOKENS.forget_user(int(note.payload))
                            except ValueError:
                                TOKENS.clear()
                finally:
                    TOKENS.listening -= 1
                    TOKENS.clear()
                    conn.exec_driver_sql(f"UNLISTEN {AUTH_CHANNEL}")
        except Exception:  # requests read the database meanwhile
            log.exception("listening for account changes failed; listening again in 5 s")
            stop.wait(5.0)


def start_background(bind: Engine) -> tuple[threading.Event, threading.Thread]:
    """Start :func:`listen` in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=listen, args=(bind, stop), name="caseflow-auth-listener", daemon=True)
    thread.start()
    return stop, thread
