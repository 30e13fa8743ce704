"""SQLite writers of one process take turns: a second writer waits for the first one's commit
in order, not in SQLite's busy handler."""
from __future__ import annotations

import logging
import sqlite3
import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from caseflow import sqlite_writes, store


@pytest.fixture()
def db(tmp_path):
    database = store.Database(f"sqlite:///{tmp_path}/turns.sqlite3")
    with database.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE note (id INTEGER PRIMARY KEY, who TEXT)")
    yield database
    database.dispose()


def _no_busy_wait(conn) -> None:
    """SQLite's own busy handler off for this connection: a locked database fails at once."""
    conn.exec_driver_sql("PRAGMA busy_timeout=0")


def _turns(db: store.Database) -> sqlite_writes.WriteTurns:
    with db.engine.connect() as conn:
        return conn.connection.dbapi_connection.turns


def test_a_second_writer_waits_for_the_first_ones_commit_not_for_sqlite(db):
    first_wrote, go_on = threading.Event(), threading.Event()
    order: list[str] = []
    failures: list[BaseException] = []

    def first() -> None:
        with db.engine.connect() as conn:
            _no_busy_wait(conn)
            conn.execute(text("INSERT INTO note (who) VALUES ('first')"))
            first_wrote.set()
            go_on.wait(10)
            order.append("first commits")
            conn.commit()

    def second() -> None:
        first_wrote.wait(10)
        try:
            with db.engine.connect() as conn:
                _no_busy_wait(conn)  # without turns this insert fails at once: the database is locked
                conn.execute(text("INSERT INTO note (who) VALUES ('second')"))
                order.append("second wrote")
                conn.commit()
        except BaseException as err:
            failures.append(err)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    first_wrote.wait(10)
    time.sleep(0.2)  # time for the second writer to reach its turn
    assert order == []  # it waits
    go_on.set()
    for t in threads:
        t.join(10)
    assert failures == []
    assert order == ["first commits", "second wrote"]
    with db.engine.connect() as conn:
        assert sorted(conn.exec_driver_sql("SELECT who FROM note").scalars()) == ["first", "second"]


def test_a_turn_ends_with_commit_rollback_or_close(db):
    turns = _turns(db)
    for end in ("commit", "rollback", "close"):
        raw = db.engine.raw_connection()
        conn = raw.dbapi_connection
        assert isinstance(conn, sqlite_writes.TurnTakingConnection)
        with db.engine.connect() as sa_conn:
            sqlite_writes.before_statement(sa_conn, None, "SELECT 1")  # reading takes no turn
            assert not sa_conn.connection.dbapi_connection.holds_turn
        turns.take(conn)
        assert conn.holds_turn
        getattr(conn, end)()
        assert not conn.holds_turn
        assert turns._lock.acquire(timeout=1), f"the turn was not given back on {end}"
        turns._lock.release()
        raw.close()


def test_two_writing_connections_on_one_thread_meet_sqlite_not_a_wait_for_themselves(db):
    with db.engine.connect() as one, db.engine.connect() as two:
        one.execute(text("INSERT INTO note (who) VALUES ('one')"))
        _no_busy_wait(two)
        with pytest.raises(OperationalError, match="locked"):
            two.execute(text("INSERT INTO note (who) VALUES ('two')"))
        two.rollback()
        one.commit()
    taken = threading.Event()

    def other_thread() -> None:  # the turn is free again for everyone
        with db.engine.connect() as conn:
            conn.execute(text("INSERT INTO note (who) VALUES ('other')"))
            taken.set()
            conn.commit()

    t = threading.Thread(target=other_thread)
    t.start()
    t.join(10)
    assert taken.is_set()


def test_a_writer_that_waits_too_long_goes_on_to_sqlite_and_says_so(caplog):
    turns = sqlite_writes.WriteTurns(timeout_s=0.05)
    factory = sqlite_writes.connection_factory(turns)
    holder = sqlite3.connect(":memory:", factory=factory, check_same_thread=False)
    waiter = sqlite3.connect(":memory:", factory=factory, check_same_thread=False)
    turns.take(holder)
    caplog.set_level(logging.WARNING, logger="caseflow.store")
    result: list[bool] = []
    t = threading.Thread(target=lambda: (turns.take(waiter), result.append(waiter.holds_turn)))
    t.start()
    t.join(10)
    assert result == [False]
    assert any("waited" in r.getMessage() for r in caplog.records)
    holder.commit()
    t2 = threading.Thread(target=lambda: (turns.take(waiter), result.append(waiter.holds_turn), waiter.commit()))
    t2.start()
    t2.join(10)
    assert result == [False, True]
