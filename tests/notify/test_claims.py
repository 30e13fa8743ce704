"""Claiming outbox rows: each due row goes to one sender, a lapsed claim is taken again.

On PostgreSQL the claim is ``SELECT … FOR UPDATE SKIP LOCKED``: rows another transaction holds
are skipped, not waited for. On SQLite it is a conditional UPDATE (one writer at a time).
"""
from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import insert, select, text

from caseflow import clock, store
from caseflow.notify import sender

N = store.Notification


def queue(db: store.Database, count: int) -> list[int]:
    now = clock.now()
    with db.session() as s:
        s.execute(insert(N), [dict(kind="notice", channel="email", recipient=f"c{i}@example.com", language="zh",
                                   template="complaint_acknowledgement", args={}, status="pending", attempts=0,
                                   next_attempt_at=now, created_at=now) for i in range(count)])
        return list(s.scalars(select(N.id).order_by(N.id)))


def test_concurrent_senders_claim_each_row_once(any_database, frozen_clock):
    ids = queue(any_database, 40)
    claimed: list[list[int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def one_sender() -> None:
        start.wait()
        mine: list[int] = []
        try:
            while rows := sender.claim(any_database, ["email"], limit=5):
                mine += [r.id for r in rows]
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)
        claimed.append(mine)

    threads = [threading.Thread(target=one_sender) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    every = [i for mine in claimed for i in mine]
    assert sorted(every) == ids  # each row once, none left
    assert sender.claim(any_database, ["email"]) == []  # all claimed: nothing due until the lease lapses
    clock.advance(sender.LEASE)
    assert sorted(r.id for r in sender.claim(any_database, ["email"], limit=100)) == ids  # lapsed: taken again


@pytest.mark.postgres
def test_postgres_skips_rows_another_transaction_holds(postgres_server, tmp_path, frozen_clock):
    db = store.Database(postgres_server.create_database(f"skip_locked_{int(time.time() * 1000)}"))
    db.upgrade()
    try:
        first, second = queue(db, 2)
        with db.engine.connect() as other:
            with other.begin():
                other.execute(text("SELECT id FROM notification WHERE id = :id FOR UPDATE"), {"id": first})
                began = time.monotonic()
                rows = sender.claim(db, ["email"])
                assert [r.id for r in rows] == [second]  # the held row is skipped, not waited for
                assert time.monotonic() - began < 5
        clock.advance(dt.timedelta(seconds=1))
        assert [r.id for r in sender.claim(db, ["email"])] == [first]
    finally:
        db.dispose()
