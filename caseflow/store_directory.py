"""The directory version: one row whose token changes whenever who hears of what may have changed.

The notification outbox (``caseflow._engine.recipients``) needs, on every action, the active
webhooks and the active users of the roles concerned. Rather than query them each time, a
process keeps them in memory under the token of this table's only row, which the engine's hot
queries read along with the case (a scalar subquery, no extra statement). Database triggers give
the row a new random token in the same transaction as any change of

- ``app_user`` (a user added or removed, or a change of the columns a notification uses:
  ``username``, ``email``, ``locale``, ``notify_tasks``, ``active``),
- ``user_role`` (any change), and
- ``webhook`` (any change),

so every process, whichever wrote the change (web, API, CLI, SQL by hand), sees a token it has no
directory for and reads the directory again. The token is random, never a counter: a rolled-back
change cannot leave a token that a later, different change would repeat.

:func:`install` creates the triggers (migration ``0022``); a SQLite table rebuild by a later
migration drops a table's triggers, so such a migration must run it again.
"""
from __future__ import annotations

from sqlalchemy import Connection, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from caseflow.store import Base

TABLE = "directory_version"
#: Columns of ``app_user`` whose change a notification can see.
USER_COLUMNS = ("username", "email", "locale", "notify_tasks", "active")
_WATCHED = {"app_user": USER_COLUMNS, "user_role": None, "webhook": None}  # None: every column
_SQLITE_TOKEN = "lower(hex(randomblob(16)))"
_PG_TOKEN = "replace(gen_random_uuid()::text, '-', '')"


class DirectoryVersion(Base):
    """The one row (``id`` 1) whose ``token`` names the current state of users, roles and webhooks."""

    __tablename__ = TABLE

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    token: Mapped[str] = mapped_column(String(36))


def _sqlite_statements() -> list[str]:
    found = []
    for table, columns in _WATCHED.items():
        for op in ("INSERT", "UPDATE", "DELETE"):
            name = f"{TABLE}_{table}_{op.lower()}"
            what = f"UPDATE OF {', '.join(columns)}" if op == "UPDATE" and columns else op
            found += [f"DROP TRIGGER IF EXISTS {name}",
                      f"CREATE TRIGGER {name} AFTER {what} ON {table} BEGIN "
                      f"UPDATE {TABLE} SET token = {_SQLITE_TOKEN} WHERE id = 1; END"]
    return found


def _pg_statements() -> list[str]:
    found = [f"CREATE OR REPLACE FUNCTION {TABLE}_bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
             f"UPDATE {TABLE} SET token = {_PG_TOKEN} WHERE id = 1; RETURN NULL; END $$"]
    for table, columns in _WATCHED.items():
        update = f"UPDATE OF {', '.join(columns)}" if columns else "UPDATE"
        found += [f"DROP TRIGGER IF EXISTS {TABLE}_bump ON {table}",
                  f"CREATE TRIGGER {TABLE}_bump AFTER INSERT OR DELETE OR {update} ON {table} "
                  f"FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_bump()"]
    return found


def install(conn: Connection) -> None:
    """Give the row a fresh token (inserting it when missing) and (re)create the triggers."""
    postgres = conn.dialect.name == "postgresql"
    token = _PG_TOKEN if postgres else _SQLITE_TOKEN
    conn.exec_driver_sql(f"DELETE FROM {TABLE}")
    conn.exec_driver_sql(f"INSERT INTO {TABLE} (id, token) VALUES (1, {token})")
    for statement in _pg_statements() if postgres else _sqlite_statements():
        conn.exec_driver_sql(statement)


def uninstall(conn: Connection) -> None:
    """Drop the triggers (the table goes with its migration's downgrade)."""
    if conn.dialect.name == "postgresql":
        for table in _WATCHED:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {TABLE}_bump ON {table}")
        conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {TABLE}_bump()")
        return
    for table in _WATCHED:
        for op in ("insert", "update", "delete"):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {TABLE}_{table}_{op}")
