"""The case search index (``case_search``): one row per case, kept in step by database triggers.

Each row holds the case's searchable text (``doc``: its number and the data keys of
:data:`SEARCH_KEYS`, read from the instance row's ``data`` column, never from the workflow state)
and the text of its comments that are not deleted (``comments``). Triggers on
``process_instance`` (insert; an update of ``business_key`` or ``data`` that changes the case's text)
and on ``comment`` (every change) rewrite it in the same statement, so the index commits, or rolls
back, with the change.

- **SQLite**: an FTS5 table with the ``trigram`` tokenizer (substrings of three characters or
  more are found from the index, CJK text included); ``rowid`` is the instance id.
- **PostgreSQL**: a plain table with ``pg_trgm`` GIN indexes on both columns, which serve
  ``ILIKE '%…%'``. When the extension cannot be created (no privilege), the table has no such
  index and searches scan it.

:func:`install` creates all of it and fills it from the stored cases (migration ``0011``); it
may be run again to restore the triggers (a SQLite table rebuild by a later migration drops them).
"""
from __future__ import annotations

from sqlalchemy import Connection, text

#: The data keys whose values a search finds (complaints, repairs, returned goods).
SEARCH_KEYS = ("customer_name", "customer_code", "product_model", "product_no", "product_name", "serial_no",
               "order_no", "repair_number", "description", "problem_description", "fault_description")
TABLE = "case_search"
VOCABULARY = "case_search_vocab"  # SQLite: the index's trigrams with their document counts


def _sqlite_doc(row: str) -> str:
    parts = [f"coalesce({row}.business_key, '')"]
    parts += [f"coalesce(json_extract({row}.data, '$.{key}'), '')" for key in SEARCH_KEYS]
    return " || ' ' || ".join(parts)


def _sqlite_comments(instance: str) -> str:
    return (f"coalesce((SELECT group_concat(body, ' ') FROM comment WHERE instance_id = {instance} "
            "AND deleted_at IS NULL), '')")


def _pg_doc(row: str) -> str:
    return "concat_ws(' ', " + ", ".join([f"{row}.business_key", *(f"{row}.data ->> '{k}'" for k in SEARCH_KEYS)]) + ")"


def _sqlite_case_triggers(when_changed: bool = True) -> list[str]:
    """The SQLite triggers of the case rows; with ``when_changed`` an update rewrites the index row
    only when the case's text changed."""
    when = f"WHEN {_sqlite_doc('NEW')} IS NOT {_sqlite_doc('OLD')} " if when_changed else ""
    return [
        "DROP TRIGGER IF EXISTS case_search_insert",
        "CREATE TRIGGER case_search_insert AFTER INSERT ON process_instance BEGIN "
        f"INSERT INTO case_search(rowid, doc, comments) VALUES (NEW.id, {_sqlite_doc('NEW')}, ''); END",
        "DROP TRIGGER IF EXISTS case_search_update",
        f"CREATE TRIGGER case_search_update AFTER UPDATE OF business_key, data ON process_instance {when}BEGIN "
        f"UPDATE case_search SET doc = {_sqlite_doc('NEW')} WHERE rowid = NEW.id; END",
        "DROP TRIGGER IF EXISTS case_search_delete",
        "CREATE TRIGGER case_search_delete AFTER DELETE ON process_instance BEGIN "
        "DELETE FROM case_search WHERE rowid = OLD.id; END",
    ]


def _sqlite_comment_triggers() -> list[str]:
    comments = "UPDATE case_search SET comments = {value} WHERE rowid = {row}.instance_id;"
    return [
        *(f"DROP TRIGGER IF EXISTS case_search_comment_{op}" for op in ("insert", "update", "delete")),
        "CREATE TRIGGER case_search_comment_insert AFTER INSERT ON comment BEGIN "
        + comments.format(value=_sqlite_comments("NEW.instance_id"), row="NEW") + " END",
        "CREATE TRIGGER case_search_comment_update AFTER UPDATE ON comment BEGIN "
        + comments.format(value=_sqlite_comments("NEW.instance_id"), row="NEW") + " END",
        "CREATE TRIGGER case_search_comment_delete AFTER DELETE ON comment BEGIN "
        + comments.format(value=_sqlite_comments("OLD.instance_id"), row="OLD") + " END",
    ]


def _sqlite_statements() -> list[str]:
    return [
        "CREATE VIRTUAL TABLE IF NOT EXISTS case_search USING fts5(doc, comments, tokenize='trigram')",
        # How many cases hold each trigram: a search reads the rarest trigrams of a word first.
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {VOCABULARY} USING fts5vocab(case_search, row)",
        *_sqlite_case_triggers(),
        *_sqlite_comment_triggers(),
        "DELETE FROM case_search",
        f"INSERT INTO case_search(rowid, doc, comments) SELECT p.id, {_sqlite_doc('p')}, "
        f"{_sqlite_comments('p.id')} FROM process_instance AS p",
    ]


def _pg_case_triggers(when_changed: bool = True) -> list[str]:
    """The PostgreSQL triggers of the case rows; with ``when_changed`` an update rewrites the
    index row only when the case's text changed."""
    if not when_changed:
        return ["DROP TRIGGER IF EXISTS case_search_case_update ON process_instance",
                "DROP TRIGGER IF EXISTS case_search_case ON process_instance",
                "CREATE TRIGGER case_search_case AFTER INSERT OR UPDATE OF business_key, data ON process_instance "
                "FOR EACH ROW EXECUTE FUNCTION case_search_case()"]
    return [
        "DROP TRIGGER IF EXISTS case_search_case ON process_instance",
        "CREATE TRIGGER case_search_case AFTER INSERT ON process_instance "
        "FOR EACH ROW EXECUTE FUNCTION case_search_case()",
        "DROP TRIGGER IF EXISTS case_search_case_update ON process_instance",
        "CREATE TRIGGER case_search_case_update AFTER UPDATE OF business_key, data ON process_instance "
        f"FOR EACH ROW WHEN ({_pg_doc('OLD')} IS DISTINCT FROM {_pg_doc('NEW')}) "
        "EXECUTE FUNCTION case_search_case()",
    ]


def _pg_statements() -> list[str]:
    return [
        "CREATE TABLE IF NOT EXISTS case_search (instance_id INTEGER PRIMARY KEY "
        "REFERENCES process_instance(id) ON DELETE CASCADE, doc TEXT NOT NULL DEFAULT '', "
        "comments TEXT NOT NULL DEFAULT '')",
        "CREATE OR REPLACE FUNCTION case_search_case() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"INSERT INTO case_search (instance_id, doc) VALUES (NEW.id, {_pg_doc('NEW')}) "
        "ON CONFLICT (instance_id) DO UPDATE SET doc = EXCLUDED.doc; RETURN NULL; END $$",
        *_pg_case_triggers(),
        "CREATE OR REPLACE FUNCTION case_search_comments() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "DECLARE target INTEGER; BEGIN "
        "IF TG_OP = 'DELETE' THEN target := OLD.instance_id; ELSE target := NEW.instance_id; END IF; "
        "UPDATE case_search SET comments = coalesce((SELECT string_agg(body, ' ' ORDER BY id) FROM comment "
        "WHERE instance_id = target AND deleted_at IS NULL), '') WHERE instance_id = target; "
        "RETURN NULL; END $$",
        "DROP TRIGGER IF EXISTS case_search_comments ON comment",
        "CREATE TRIGGER case_search_comments AFTER INSERT OR UPDATE OR DELETE ON comment "
        "FOR EACH ROW EXECUTE FUNCTION case_search_comments()",
        "DELETE FROM case_search",
        f"INSERT INTO case_search (instance_id, doc, comments) SELECT p.id, {_pg_doc('p')}, "
        "coalesce((SELECT string_agg(c.body, ' ' ORDER BY c.id) FROM comment AS c "
        "WHERE c.instance_id = p.id AND c.deleted_at IS NULL), '') FROM process_instance AS p",
    ]


def _pg_trigram_indexes(conn: Connection) -> bool:
    """The pg_trgm GIN indexes (in a savepoint: without the privilege to create the extension, none)."""
    try:
        with conn.begin_nested():
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except Exception:  # noqa: BLE001 - any refusal leaves the ILIKE scan, which still finds everything
        return False
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_case_search_doc ON case_search USING gin (doc gin_trgm_ops)"))
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_case_search_comments ON case_search "
                      "USING gin (comments gin_trgm_ops)"))
    return True


def install(conn: Connection) -> None:
    """Create (or restore) the index table and its triggers, and fill it from the stored cases."""
    if conn.dialect.name == "postgresql":
        for statement in _pg_statements():
            conn.exec_driver_sql(statement)
        _pg_trigram_indexes(conn)
        return
    for statement in _sqlite_statements():
        conn.exec_driver_sql(statement)


def install_triggers(conn: Connection, when_changed: bool = True) -> None:
    """Recreate the triggers of the case rows (the index table stays as it is; migration ``0019``).

    With ``when_changed`` a case update rewrites its index row only when its text changed (a
    completion that leaves the searched keys alone costs no index write); without, on every
    update of ``business_key`` or ``data`` (before ``0019``).
    """
    postgres = conn.dialect.name == "postgresql"
    for statement in (_pg_case_triggers if postgres else _sqlite_case_triggers)(when_changed):
        conn.exec_driver_sql(statement)


def uninstall(conn: Connection) -> None:
    """Drop the index table and its triggers (the migration's downgrade)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS case_search_case ON process_instance")
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS case_search_case_update ON process_instance")
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS case_search_comments ON comment")
        conn.exec_driver_sql("DROP FUNCTION IF EXISTS case_search_case()")
        conn.exec_driver_sql("DROP FUNCTION IF EXISTS case_search_comments()")
        conn.exec_driver_sql("DROP TABLE IF EXISTS case_search")
        return
    for name in ("insert", "update", "delete", "comment_insert", "comment_update", "comment_delete"):
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS case_search_{name}")
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {VOCABULARY}")
    conn.exec_driver_sql("DROP TABLE IF EXISTS case_search")
