"""What one save costs the database: statements per action, one statement per table, no idle index writes.

The statements are counted with SQLAlchemy's ``before_cursor_execute`` event, on SQLite and
PostgreSQL. The bounds are the counts of today's save path: a feature that adds a statement to
every save makes these tests fail, and its author raises the bound knowingly (``bench/engine.py
--json`` prints the statements of a whole run).
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Update, event, text
from sqlalchemy import update as sa_update

import engine
from caseflow import accounts, search, store

#: Statements of one save, by action, with a staff member of the task's role and an active webhook.
#: The recipients come from memory while users, roles and webhooks are unchanged (see the recipients test).
START_BOUND = 6  # version (+ directory token), instance (+ search row), workflow tasks, human task, outbox, audit
COMPLETE_BOUND = 7  # task + case (+ directory token), instance, workflow tasks, human tasks (done, new), outbox, audit


@contextmanager
def counted(db: store.Database) -> Iterator[list[str]]:
    """The SQL text of every statement the engine runs inside the block."""
    seen: list[str] = []

    def before(_conn, _cursor, statement, _params, _context, _many) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


_WRITE = re.compile(r"^(INSERT INTO|UPDATE|DELETE FROM) (\w+)")


def writes_by_table(statements: list[str]) -> Counter[tuple[str, str]]:
    """(verb, table) of each write statement, counted."""
    return Counter(m.groups() for m in map(_WRITE.match, statements) if m)


@pytest.fixture
def staffed(db: store.Database) -> store.Database:
    """two_tasks with a person of each of its roles and an active webhook for every kind."""
    with db.session() as s:
        for name, role in (("cs1", "customer_service"), ("mgr1", "manager")):
            user = accounts.create_user(s, name, "a-long-password-1", [role], locale="en")
            user.email = f"{name}@factory.example"
        s.add(store.Webhook(url="https://erp.example/hook", secret="s" * 32, kinds=list(store.WEBHOOK_KINDS),
                            created_by="admin"))
    with db.session() as s:  # the version's files are read once per process, not per save
        engine.start(s, "two_tasks", {"ref": "R-0"}, actor="cs1")
    with db.session() as s:
        s.execute(text("DELETE FROM notification"))
    return db


def test_a_typical_completion_stays_within_its_statement_bound(staffed):
    with counted(staffed) as started, staffed.session() as s:
        view = engine.start(s, "two_tasks", {"ref": "R-1"}, actor="cs1")
    with counted(staffed) as completed, staffed.session() as s:
        view = engine.complete(s, view["tasks"][0]["id"], {"amount": 120}, actor=engine.Actor.tool("cs1"))
    assert view["status"] == "running"
    assert len(started) <= START_BOUND, started
    assert len(completed) <= COMPLETE_BOUND, completed
    # The save did reach every side table it should (the bound is not met by skipping work).
    with staffed.session() as s:
        kinds = Counter(s.execute(text("SELECT channel FROM notification")).scalars())
    # Start: instance_started and task_created; completion: task_completed and task_created (webhooks),
    # and for each new task its role's person in-app and by e-mail.
    assert kinds == {"in_app": 2, "email": 2, "webhook": 4}


def test_each_table_is_written_by_at_most_one_statement_per_save(staffed):
    with counted(staffed) as started, staffed.session() as s:
        view = engine.start(s, "two_tasks", {"ref": "R-2"}, actor="cs1")
    with counted(staffed) as completed, staffed.session() as s:
        engine.complete(s, view["tasks"][0]["id"], {"amount": 120}, actor=engine.Actor.tool("cs1"))
    for statements in (started, completed):
        repeated = {key: n for key, n in writes_by_table(statements).items() if n > 1}
        assert repeated == {}, statements


def _lookups(statements: list[str]) -> list[str]:
    return [q for q in statements if "FROM webhook" in q or "FROM user_role" in q]


def _start_told(db: store.Database) -> tuple[list[str], Counter[tuple[str, str | None]]]:
    """Start a case: the recipient lookups it ran, and its notifications as (channel, username)."""
    with db.session() as s:
        s.execute(text("DELETE FROM notification"))
    with counted(db) as started, db.session() as s:
        engine.start(s, "two_tasks", {"ref": "R-3"}, actor="cs1")
    with db.session() as s:
        rows = s.execute(text("SELECT channel, username FROM notification"))
        told = Counter((row.channel, row.username) for row in rows)
    return _lookups(started), told


def test_the_recipients_come_from_memory_until_users_roles_or_webhooks_change(staffed):
    lookups, told = _start_told(staffed)  # unchanged since the fixture's start: no lookup at all
    assert lookups == []
    assert told == {("in_app", "cs1"): 1, ("email", "cs1"): 1, ("webhook", None): 2}

    with staffed.session() as s:  # another process's change, by hand: a new person of the role
        s.execute(text("INSERT INTO app_user (username, password_hash, active, session_generation, notify_tasks, "
                       "created_at) VALUES ('cs2', 'x', 1, 0, 'immediate', '2026-12-01')"
                       if staffed.engine.dialect.name == "sqlite" else
                       "INSERT INTO app_user (username, password_hash, active, session_generation, notify_tasks, "
                       "created_at) VALUES ('cs2', 'x', true, 0, 'immediate', '2026-12-01')"))
        s.execute(text("INSERT INTO user_role (user_id, role) SELECT id, 'customer_service' FROM app_user "
                       "WHERE username = 'cs2'"))
    lookups, told = _start_told(staffed)
    assert len(lookups) == 1, lookups  # the directory is read again, once
    assert told[("in_app", "cs2")] == 1
    assert _start_told(staffed)[0] == []  # and then held again

    with staffed.session() as s:  # a webhook switched off, and a person's address removed
        s.execute(sa_update(store.Webhook.__table__).values(active=False))
        s.execute(sa_update(store.User.__table__).where(store.User.__table__.c.username == "cs1").values(email=None))
    lookups, told = _start_told(staffed)
    assert len(lookups) == 1, lookups
    assert told == {("in_app", "cs1"): 1, ("in_app", "cs2"): 1}

    with staffed.session() as s:  # a rolled-back change leaves the directory as it was
        s.execute(sa_update(store.Webhook.__table__).values(active=True))
        s.rollback()
    lookups, told = _start_told(staffed)
    assert lookups == []  # the committed token is the one held
    assert ("webhook", None) not in told

    with staffed.session() as s:  # a sign-in's columns are not the directory's: still held
        users = store.User.__table__
        s.execute(sa_update(users).values(session_generation=users.c.session_generation + 1))
    assert _start_told(staffed)[0] == []


def _changes(session, db: store.Database) -> int:
    """Rows changed so far: SQLite's total (trigger programs included); PostgreSQL: the index row's version."""
    if db.engine.dialect.name == "sqlite":
        return int(session.connection().connection.driver_connection.total_changes)
    return int(session.execute(text("SELECT xmin::text::bigint FROM case_search")).scalar_one())


def test_the_search_row_is_rewritten_only_when_the_searched_text_changes(db):
    with db.session() as s:
        case_id = engine.start(s, "two_tasks", {"ref": "R-4"}, actor="cs1")["id"]
    instance = store.ProcessInstance.__table__

    def update(data: dict) -> Update:
        return sa_update(instance).where(instance.c.id == case_id).values(data=data)

    sqlite = db.engine.dialect.name == "sqlite"

    with db.session() as s:  # a key nobody searches: the index row stays as it is
        before = _changes(s, db)
        s.execute(update({"ref": "R-4", "amount": 5}))
        assert _changes(s, db) - before == (1 if sqlite else 0)  # SQLite: the instance row alone

    with db.session() as s:  # a searched key: rewritten in the same statement
        before = _changes(s, db)
        s.execute(update({"ref": "R-4", "customer_name": "Zhongshan", "amount": 5}))
        changed = _changes(s, db) - before
        assert changed > 1 if sqlite else changed != 0  # SQLite: the instance row and the index's shadow rows
    with db.session() as s:
        assert search.matching_ids(s, "Zhongshan") == [case_id]


def test_the_manifest_of_a_version_read_with_its_case_is_not_read_again_in_that_transaction(staffed):
    with staffed.session() as s:
        view = engine.start(s, "two_tasks", {"ref": "R-9"}, actor="cs1")
        with counted(staffed) as again:
            manifest = engine.process_manifest(s, view["definition_id"])  # start read the version by key
    assert len(again) == 1 and "FROM process_definition" in again[0]
    with staffed.session() as s:
        view = engine.complete(s, view["tasks"][0]["id"], {"amount": 120}, actor=engine.Actor.tool("cs1"))
        with counted(staffed) as after_completion:
            assert engine.process_manifest(s, view["definition_id"]) is manifest
    assert after_completion == []  # the completion read the version with the task and its case
    with staffed.session() as s, counted(staffed) as fresh:
        assert engine.process_manifest(s, view["definition_id"]) is manifest
    assert len(fresh) == 1  # a new transaction reads it again
