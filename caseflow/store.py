"""Persistence: SQLAlchemy 2.0 models, the database handle and schema migrations.

Engine and store functions take a ``Session`` and never commit: the caller (a web
request, a CLI command, one worker job) frames the transaction.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from caseflow import clock, config, sqlite_writes


class UTCDateTime(TypeDecorator):
    """Aware datetimes stored as UTC on every backend (SQLite keeps no time zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def _now() -> dt.datetime:
    return clock.now()


NO_DEADLINE = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class ProcessDefinition(Base):
    """One immutable deployed version of an executable process."""

    __tablename__ = "process_definition"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(300))
    content_hash: Mapped[str] = mapped_column(String(64))
    files: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)  # bundle file name -> text (loaded on use)
    dependencies: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # called id -> definition id
    deployed_at: Mapped[dt.datetime] = mapped_column(default=_now)
    deployed_by: Mapped[str] = mapped_column(String(200))
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)


class ProcessInstance(Base):
    """A running or finished case; ``state`` is the workflow library's JSON without the spec."""

    __tablename__ = "process_instance"
    __table_args__ = (
        Index("ix_instance_key_status", "process_key", "status"),
        # One process's cases newest first, read from the index: the case list (by id) and
        # the complaint register (by creation time).
        Index("ix_instance_key_id", "process_key", "id"),
        Index("ix_instance_key_created", "process_key", "created_at", "id"),
        # 0017: a version's cases of a period, counted from the index (the waiting diagram).
        Index("ix_instance_definition_created", "definition_id", "created_at", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str | None] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    serializer_version: Mapped[str] = mapped_column(String(20))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # process data snapshot for read paths
    ready_tasks: Mapped[list[Any]] = mapped_column(JSON, default=list)  # ids of its ready human tasks
    timers: Mapped[list[Any]] = mapped_column(JSON, default=list)  # pending timers [{task, task_id, due_at}]
    trail: Mapped[list[Any]] = mapped_column(JSON, default=list)  # BPMN ids of the elements completed so far
    error: Mapped[str | None] = mapped_column(Text)
    error_task: Mapped[str | None] = mapped_column(String(200))
    started_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=_now, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=_now)
    completed_at: Mapped[dt.datetime | None] = mapped_column()
    row_version: Mapped[str] = mapped_column(String(32))
    # The instance-level part of the serialized workflow; its tasks are rows of ``workflow_task``
    # (``store_state``). Only the engine reads it, with Core (``caseflow._engine.state_rows``).
    # Pages never load it: deferred, and loading it through the ORM raises instead of quietly
    # costing a query per row. Kept the last column so that reading the others never walks
    # its overflow pages (SQLite).
    state: Mapped[str] = mapped_column(Text, deferred=True, deferred_raiseload=True)

    definition: Mapped[ProcessDefinition] = relationship(lazy="joined")

    # Optimistic locking: every UPDATE is "... WHERE id = ? AND row_version = ?" with a
    # fresh random token, so a stale writer matches no row. The engine writes through
    # case_rows.save_case (Core, same rule); this mapping keeps any ORM write to the rule too.
    __mapper_args__ = {"version_id_col": row_version, "version_id_generator": lambda _v: uuid.uuid4().hex}


class _DataText(FunctionElement[str]):
    """``process_instance.data[key]`` as text with ``key`` written into the SQL (not bound), so
    that an index on the same expression serves it. Build it with :func:`data_text`."""

    type = String()
    inherit_cache = True
    name = "data_text"


@compiles(_DataText)
def _data_text(element: _DataText, compiler: Any, **kw: Any) -> str:  # PostgreSQL: data ->> 'key'
    column, key = element.clauses.clauses
    return f"({compiler.process(column, **kw)} ->> '{key.name}')"


@compiles(_DataText, "sqlite")
def _data_text_sqlite(element: _DataText, compiler: Any, **kw: Any) -> str:  # as data[key].as_string()
    column, key = element.clauses.clauses
    return f"CAST(JSON_EXTRACT({compiler.process(column, **kw)}, '$.\"{key.name}\"') AS VARCHAR)"


def data_text(key: str) -> _DataText:
    """The text of the top-level data key ``key`` of an instance, NULL when absent: the same
    value as ``ProcessInstance.data[key].as_string()``, in a form an expression index matches."""
    if not key.isidentifier():
        raise ValueError(f"not a plain data key: {key!r}")
    return _DataText(ProcessInstance.__table__.c.data, literal_column(key))


#: Data keys the complaint register filters by and lists the stored values of: each has an
#: index on (process_key, value), so a filter and the list of values found read only the index.
INDEXED_DATA_KEYS = ("kpi_class", "urgency", "responsible_dept")
for _key in INDEXED_DATA_KEYS:
    Index(f"ix_instance_data_{_key}", ProcessInstance.__table__.c.process_key, data_text(_key))


class HumanTask(Base):
    """A user or manual task, kept in step with the workflow so inboxes never deserialize it."""

    __tablename__ = "human_task"
    __table_args__ = (
        Index("ix_task_role_state_order", "role", "state", "sort_due", "created_at"),
        Index("ix_task_assignee_state", "assignee", "state"),
        # Every ready task in deadline order, and the overdue ones (an admin's inbox and counts).
        # Partial, so a query for some instances' tasks keeps to ix_human_task_instance_id;
        # with state in it, so the counts read the index alone.
        Index("ix_task_ready_due", "sort_due", "created_at", "state", sqlite_where=text("state = 'ready'"),
              postgresql_where=text("state = 'ready'")),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the workflow library's task id
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))  # BPMN element id
    spec_ref: Mapped[str] = mapped_column(String(400))  # "process id:element id" (forms resolve there)
    title: Mapped[str] = mapped_column(String(300))
    lane: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(100))
    assignee: Mapped[str | None] = mapped_column(String(200))
    form: Mapped[str | None] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(20))  # ready | completed | cancelled
    due_at: Mapped[dt.datetime | None] = mapped_column()
    # due_at, or NO_DEADLINE: a non-null inbox order the (role, state, sort_due) index serves
    # alike on every backend (they disagree on where NULLs sort).
    sort_due: Mapped[dt.datetime] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=_now)
    completed_at: Mapped[dt.datetime | None] = mapped_column()
    completed_by: Mapped[str | None] = mapped_column(String(200))


class Timer(Base):
    """A pending timer event; the worker wakes the instance when ``due_at`` passes."""

    __tablename__ = "timer"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[dt.datetime] = mapped_column(index=True)


class AuditEvent(Base):
    """Append-only history: who did what, when, with which data."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=_now)
    actor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    task: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


#: The deadlines a case's facts track (``case_facts.<name>``: met / late / open, ``<name>_due``),
#: each bound to a data key by the process manifest's ``facts.deadlines``.
class User(Base):
    """A person who signs in; passwords are stored as argon2 hashes."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    display_name: Mapped[str | None] = mapped_column(String(200))
    locale: Mapped[str | None] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=_now)
    #: Part of every session cookie's tag; raising it ends all the user's sessions (sign-out,
    #: password change, deactivation: see ``accounts.end_sessions``).
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Where notifications go by e-mail (none: in-app only), and when: NOTIFY_CHOICES.
    email: Mapped[str | None] = mapped_column(String(254))
    notify_tasks: Mapped[str] = mapped_column(String(20), default="immediate", server_default="immediate")

    roles: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def role_names(self) -> set[str]:
        return {r.role for r in self.roles}


class UserRole(Base):
    __tablename__ = "user_role"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(100), index=True)


class ApiToken(Base):
    """A personal API token; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=_now)
    last_used_at: Mapped[dt.datetime | None] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column()


class Attachment(Base):
    """A file uploaded on a task form; the bytes live outside the web root."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    filename: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    storage_name: Mapped[str] = mapped_column(String(100), unique=True)
    uploaded_by: Mapped[str] = mapped_column(String(200))
    uploaded_at: Mapped[dt.datetime] = mapped_column(default=_now)


#: When a user hears of tasks for them by e-mail: at once, in one daily digest, or not at all.
class Sequence(Base):
    """Named yearly counters for readable numbers (CP-2026-000123)."""

    __tablename__ = "sequence"
    __table_args__ = (UniqueConstraint("name", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    year: Mapped[int] = mapped_column(Integer)
    value: Mapped[int] = mapped_column(Integer, default=0)


def next_number(session: Session, name: str, year: int) -> int:
    """Allocate the next value of sequence ``name`` for ``year`` inside the caller's transaction.

    The row is locked by the UPDATE itself (PostgreSQL row lock, SQLite database lock), so
    concurrent transactions get distinct numbers.
    """
    for _attempt in range(2):
        result = session.execute(
            update(Sequence)
            .where(Sequence.name == name, Sequence.year == year)
            .values(value=Sequence.value + 1)
            .returning(Sequence.value)
        ).scalar_one_or_none()
        if result is not None:
            return int(result)
        try:
            with session.begin_nested():
                session.add(Sequence(name=name, year=year, value=0))
        except IntegrityError:  # another transaction created it first: take the UPDATE path again
            pass
    raise RuntimeError(f"could not allocate a number from sequence {name}/{year}")


# --- database handle ----------------------------------------------------------------

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_MIGRATION_LOCK = 0x43415345  # PostgreSQL advisory lock key held while migrating ("CASE")


_SQLITE_BUSY_TIMEOUT_S = 5.0  # how long a writer waits for SQLite's lock (and for its turn in this process)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={int(_SQLITE_BUSY_TIMEOUT_S * 1000)}")
    cur.close()


class Database:
    """An engine plus a session factory for one database URL."""

    def __init__(self, url: str, echo: bool = False):
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        options: dict[str, Any] = dict(config.pool_options(url))
        sqlite = make_url(url).get_backend_name() == "sqlite"
        if sqlite:  # this process's writers take turns (sqlite_writes)
            turns = sqlite_writes.WriteTurns(_SQLITE_BUSY_TIMEOUT_S)
            options["connect_args"] = {"factory": sqlite_writes.connection_factory(turns)}
        self.engine: Engine = create_engine(url, echo=echo, future=True, **options)
        if sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "before_cursor_execute", sqlite_writes.before_statement)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: commit on success, roll back on any error."""
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def upgrade(self) -> None:
        """Create or migrate the schema to the newest Alembic revision."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.connect() as conn:
            with conn.begin():
                if self.engine.dialect.name == "postgresql":  # processes starting together migrate one by one
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "heads")
            if self.engine.dialect.name == "sqlite":
                # A migration that rebuilds a table turns foreign keys off on its connection
                # (SQLite's procedure); this connection goes back to the pool: on again.
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")

    def dispose(self) -> None:
        self.engine.dispose()


#: SQLSTATEs of a transaction that lost to a concurrent one: serialization failure, deadlock,
#: lock not available. (SQLite says "database is locked".)
_CONFLICT_SQLSTATES = {"40001", "40P01", "55P03"}


def is_conflict(err: BaseException) -> bool:
    """Whether a failed statement or commit lost to a concurrent transaction (worth a retry)."""
    if not isinstance(err, DBAPIError):
        return False
    orig = err.orig
    if getattr(orig, "sqlstate", None) in _CONFLICT_SQLSTATES:
        return True
    return isinstance(err, OperationalError) and "database is locked" in str(orig).lower()


def count(session: Session, stmt: Any) -> int:
    """Row count of a select statement."""
    return int(session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one())


# The feature tables live in their own module; importing them here registers them on Base.metadata.
from caseflow.store_comments import Absence, Comment, SavedFilter  # noqa: E402,F401  # collaboration
from caseflow.store_directory import DirectoryVersion  # noqa: E402,F401  # the notification directory's token
from caseflow.store_features import (  # noqa: E402,F401
    FACT_DEADLINES,
    NOTIFY_CHOICES,
    WEBHOOK_KINDS,
    CaseFacts,
    Notification,
    ProcessDraft,
    Webhook,
)
from caseflow.store_notify import TaskNotice  # noqa: E402,F401  # deadline events told per task
from caseflow.store_portal import PortalFiling, PortalLink  # noqa: E402,F401  # the customer portal's links and filings
from caseflow.store_reports import CaseFactDay, CaseFactTop  # noqa: E402,F401  # KPI report summaries
from caseflow.store_returned_goods import ReturnedGoodsDefect  # noqa: E402,F401  # defect statistics
from caseflow.store_state import WorkflowTask  # noqa: E402,F401  # the workflow state, one task per row
