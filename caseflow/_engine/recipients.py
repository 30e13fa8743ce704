"""Who hears of an action: the active webhooks and the active users of the roles concerned.

The outbox asks on every action. Each process keeps the whole directory (every active webhook,
every active user with their roles) in memory, per database, under the token of the
``directory_version`` row (:mod:`caseflow.store_directory`), which triggers renew with every change
of users, roles or webhooks. The engine's hot queries read that token along with the case; when it
names the directory in memory the answer costs no statement, otherwise one query reads the
directory again with its token. Without a token (an action whose loading query does not read it),
or with unsaved ORM changes in the session, the recipients are read from the database as before.
"""
from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import JSON, Engine, Executable, Integer, String, Table, bindparam, cast, literal, null, select
from sqlalchemy.orm import Session

from caseflow import store

__all__ = ["Person", "Recipients", "language_of", "recipients", "TOKEN"]

_USER: Table = store.User.__table__  # type: ignore[assignment]  # declarative tables are Tables
_ROLE: Table = store.UserRole.__table__  # type: ignore[assignment]
_WEBHOOK: Table = store.Webhook.__table__  # type: ignore[assignment]
_VERSION: Table = store.DirectoryVersion.__table__  # type: ignore[assignment]

#: The directory's current token, as a column the engine's loading queries add to their select.
TOKEN = select(_VERSION.c.token).where(_VERSION.c.id == 1).scalar_subquery().label("directory")
#: Directories larger than this many rows are not kept in memory (each action queries instead).
MAX_CACHED_ROWS = 50_000


@dataclass(frozen=True)
class Person:
    """A staff recipient: where and in which language they hear of things."""

    username: str
    email: str | None
    language: str
    notify_tasks: str


@dataclass
class Recipients:
    hooks: list[tuple[int, str, list]] = field(default_factory=list)  # (id, url, kinds) of the active webhooks
    people: dict[str, list[Person]] = field(default_factory=dict)  # role -> its active users, by username


def language_of(value: object) -> str:
    """``zh`` or ``en`` from a locale such as ``en_GB`` or ``zh-Hans`` (default ``zh``)."""
    text = str(value or "").strip().lower()
    return "en" if text.startswith("en") else "zh"


# The active webhooks (``hook`` rows) and the active users of roles (``person`` rows) in one
# statement, each half typed as the other's columns; the directory query adds the token.
_HOOKS = select(literal("hook").label("what"), _WEBHOOK.c.id, _WEBHOOK.c.url, _WEBHOOK.c.kinds,
                cast(null(), String).label("role"), cast(null(), String).label("username"),
                cast(null(), String).label("email"), cast(null(), String).label("locale"),
                cast(null(), String).label("notify_tasks")).where(_WEBHOOK.c.active.is_(True))
_ALL_PEOPLE = (select(literal("person").label("what"), cast(null(), Integer).label("id"),
                      cast(null(), String).label("url"), cast(null(), JSON).label("kinds"), _ROLE.c.role,
                      _USER.c.username, _USER.c.email, _USER.c.locale, _USER.c.notify_tasks)
               .join_from(_ROLE, _USER, _USER.c.id == _ROLE.c.user_id).where(_USER.c.active.is_(True)))
_PEOPLE = _ALL_PEOPLE.where(_ROLE.c.role.in_(bindparam("roles", expanding=True)))
_QUERIES: dict[tuple[bool, bool], Executable] = {
    (True, False): _HOOKS, (False, True): _PEOPLE.order_by(_USER.c.username),
    (True, True): _HOOKS.union_all(_PEOPLE).order_by("what", "username", "id")}
# The whole directory, with its token as one more row (``version``: the token in ``url``).
_VERSION_ROW = select(literal("version").label("what"), cast(null(), Integer).label("id"),
                      cast(_VERSION.c.token, String).label("url"), cast(null(), JSON).label("kinds"),
                      *(cast(null(), String).label(name) for name in ("role", "username", "email", "locale",
                                                                        "notify_tasks"))).where(_VERSION.c.id == 1)
_DIRECTORY = _HOOKS.union_all(_ALL_PEOPLE, _VERSION_ROW).order_by("what", "username", "id").limit(MAX_CACHED_ROWS + 1)


@dataclass(frozen=True)
class _Directory:
    token: str
    everyone: Recipients | None  # None: too large to hold, each action queries what it needs


_CACHE: weakref.WeakKeyDictionary[Engine, _Directory] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _collect(rows: Iterable, found: Recipients) -> Recipients:
    for row in rows:
        if row.what == "hook":
            found.hooks.append((row.id, row.url, row.kinds))
        elif row.what == "person":
            found.people.setdefault(row.role, []).append(
                Person(row.username, row.email or None, language_of(row.locale), row.notify_tasks or "immediate"))
    return found


def _directory(session: Session, token: str) -> Recipients | None:
    """Everyone, from memory when ``token`` names the directory held for this database (None:
    the directory is too large to hold)."""
    conn = session.connection()
    held = _CACHE.get(conn.engine)
    if held is not None and held.token == token:
        return held.everyone
    rows = conn.execute(_DIRECTORY).all()
    if len(rows) > MAX_CACHED_ROWS:
        held = _Directory(token, None)
    else:  # held under the token read with it (a change may have come since the case was read)
        loaded = next((row.url for row in rows if row.what == "version"), None)
        held = _Directory(str(loaded or token), _collect(rows, Recipients()))
    with _LOCK:
        _CACHE[conn.engine] = held
    return held.everyone


def recipients(session: Session, roles: Iterable[str], hooks: bool, token: str | None = None) -> Recipients:
    """The active webhooks (when ``hooks``) and the active users of ``roles``.

    ``token``: the directory token read in this transaction with the case (see the module's
    docstring); None reads the recipients from the database.
    """
    wanted = sorted({r for r in roles if r})
    if not (hooks or wanted):
        return Recipients([], {r: [] for r in wanted})
    pending = bool(session.new or session.dirty or session.deleted)
    everyone = _directory(session, token) if token is not None and not pending else None
    if everyone is not None:
        return Recipients(list(everyone.hooks) if hooks else [], {r: everyone.people.get(r, []) for r in wanted})
    if pending:
        session.flush()  # the query below runs on the connection: pending ORM changes first, as autoflush would
    params = {"roles": wanted} if wanted else {}
    return _collect(session.connection().execute(_QUERIES[hooks, bool(wanted)], params),
                    Recipients([], {r: [] for r in wanted}))
