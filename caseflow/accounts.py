"""Staff accounts: the role catalogue (PRODUCT.md §1), users with argon2 password hashes, the
demo users, and personal API tokens (created once in plain text, stored as SHA-256, revocable).

Used by the web UI (sign-in, admin and account pages), the API (``Authorization: Bearer …``)
and the CLI (``caseflow users``, ``demo-users``, ``tokens``). Functions take the caller's
session and never commit. Problems are :class:`AccountError` (a user record cannot be created
or changed as asked) and :class:`TokenError` (no such user or token, or a token cannot be made).
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import secrets
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session, object_session

from caseflow import clock, store, token_cache
from caseflow._engine.specs import role_key

__all__ = [
    "ROLES", "AccountError", "TokenError", "DemoUser", "DEMO_USERS", "ApiCaller", "TOKEN_PREFIX",
    "hash_password", "session_tag", "end_sessions", "password_matches", "find_user", "authenticate", "create_user",
    "set_roles", "set_password", "set_active", "require_user", "list_users", "known_roles", "ensure_demo_users",
    "hash_token", "token_dict", "create_token", "list_tokens", "get_token", "revoke_token", "revoke_all_tokens",
    "authenticate_token", "clear_token_cache", "TOKEN_CACHE_TTL_S",
]

# role key -> (English, Chinese); lanes of uploaded diagrams may add further roles.
ROLES: dict[str, tuple[str, str]] = {
    "customer_service": ("Customer service", "客服 / 业务部"),
    "quality": ("Quality", "品保部"),
    "logistics": ("Logistics", "储运部"),
    "marketing": ("Marketing", "市场部"),
    "manager": ("Manager", "主管领导"),
    "general_manager": ("General manager", "总经理"),
    "service_center": ("Service centre", "售后服务中心"),
    "finance": ("Finance", "财务部"),
    "production": ("Production", "生产部"),
    "process_owner": ("Process owner", "流程负责人"),
    "admin": ("Administrator", "系统管理员"),
    # The customer, through the portal's task links (caseflow/portal_links.py); no staff user holds it.
    "customer": ("Customer", "客户"),
}
CUSTOMER_ROLE = "customer"
ADMIN_ROLE = "admin"


class _CodedError(ValueError):
    """``str(err)`` is the English text (CLI, API); ``message_code`` and ``message_args`` let the
    web UI say it in the user's language."""

    def __init__(self, message: str, code: str = "invalid", **args: Any) -> None:
        super().__init__(message)
        self.message_code = code
        self.message_args = args


class AccountError(_CodedError):
    """A user record cannot be created or changed as asked."""


class TokenError(_CodedError):
    """A token cannot be created or revoked as asked (no such user or token, bad name)."""


# --- users and passwords ----------------------------------------------------------------------------

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so both paths take the same time."""
    return _hasher.hash("caseflow-no-such-user")


MIN_PASSWORD_LENGTH = 8  # NIST SP 800-63B's least for a password a person chooses


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (refused when shorter than :data:`MIN_PASSWORD_LENGTH`)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters", "password_too_short",
                           minimum=MIN_PASSWORD_LENGTH)
    return _hasher.hash(password)


def session_tag(user: store.User) -> str:
    """The tag every session cookie of ``user`` carries: a fingerprint of the password hash and
    the session generation, so a new password or :func:`end_sessions` ends all earlier sign-ins."""
    material = f"{user.session_generation or 0}:{user.password_hash}"
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def end_sessions(user: store.User) -> None:
    """End every session of ``user`` (sign-out, password change, deactivation).

    Session cookies are signed, not stored, so a copy of one would outlive a plain sign-out;
    raising the generation changes :func:`session_tag`, which the web UI checks on each request.
    All browsers of the user are signed out, not only the one that asked.
    """
    user.session_generation = (user.session_generation or 0) + 1


def password_matches(user: store.User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def find_user(session: Session, username: str) -> store.User | None:
    return session.scalars(select(store.User).where(store.User.username == username)).first()


def authenticate(session: Session, username: str, password: str) -> store.User | None:
    """The active user with these credentials (re-hashing an outdated hash), else None."""
    user = find_user(session, username.strip())
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def _check_username(username: str) -> str:
    name = username.strip()
    if not name or len(name) > 100 or any(c.isspace() for c in name):
        raise AccountError("a user name is 1-100 characters without spaces", "bad_username")
    return name


def _check_roles(roles: list[str]) -> list[str]:
    """The role keys of ``roles`` as lanes make them (``New Dept`` -> ``new_dept``, ``Admin`` -> ``admin``)."""
    cleaned = sorted({key for key in map(role_key, roles) if key})
    if not cleaned:
        raise AccountError("a user needs at least one role", "no_role")
    if CUSTOMER_ROLE in cleaned:
        raise AccountError("the customer role belongs to the portal's links, never to a staff user", "customer_role")
    return cleaned


def create_user(session: Session, username: str, password: str, roles: list[str],
                display_name: str | None = None, locale: str | None = None) -> store.User:
    """Add a user; raises AccountError when the name is taken or the input is not valid."""
    name = _check_username(username)
    taken = session.scalar(select(store.User.username).where(func.lower(store.User.username) == name.lower()))
    if taken is not None:  # "ADMIN" beside "admin" would be two people nobody tells apart
        raise AccountError(f"user {taken!r} already exists", "user_exists", name=taken)
    user = store.User(username=name, password_hash=hash_password(password),
                      display_name=(display_name or "").strip() or None, locale=locale, active=True)
    user.roles = [store.UserRole(role=r) for r in _check_roles(roles)]
    session.add(user)
    session.flush()
    return user


def _keep_an_admin(user: store.User, active: bool, roles: Collection[str]) -> None:
    """Refuse a change that would leave no active admin (nobody could manage users or deploy then)."""
    session = object_session(user)
    if session is None or user.id is None or not user.active or ADMIN_ROLE not in user.role_names:
        return
    if active and ADMIN_ROLE in roles:
        return
    others = session.scalar(select(func.count()).select_from(store.User).join(store.UserRole)
                            .where(store.UserRole.role == ADMIN_ROLE, store.User.active.is_(True),
                                   store.User.id != user.id))
    if not others:
        raise AccountError(f"{user.username} is the last active admin: make someone else an admin first",
                           "last_admin", name=user.username)


def set_roles(user: store.User, roles: list[str]) -> None:
    """Replace the roles of ``user`` (never the admin role of the last active admin)."""
    wanted = _check_roles(roles)
    _keep_an_admin(user, user.active, wanted)
    user.roles = [r for r in user.roles if r.role in wanted]
    have = {r.role for r in user.roles}
    user.roles.extend(store.UserRole(role=r) for r in wanted if r not in have)
    _forget_user(object_session(user), user.id)  # the cached callers carry the old roles


def set_password(user: store.User, password: str) -> None:
    """Give ``user`` a new password: ends all their sessions and revokes all their API tokens
    (whoever learnt the old password may have made some). The caller signs in its own session again."""
    user.password_hash = hash_password(password)
    end_sessions(user)
    _revoke_tokens_of(user)


def set_active(user: store.User, active: bool) -> int:
    """Activate or deactivate ``user``; deactivating ends their sessions and revokes their API tokens
    for good (activating the user again does not bring them back); the last active admin stays
    active. Returns the tokens revoked."""
    _keep_an_admin(user, active, user.role_names)
    revoked = 0
    if user.active and not active:
        end_sessions(user)
        revoked = _revoke_tokens_of(user)
    user.active = active
    return revoked


def _revoke_tokens_of(user: store.User) -> int:
    session = object_session(user)
    if session is None or user.id is None:  # a user not saved yet has no tokens
        return 0
    return revoke_all_tokens(session, user)


def list_users(session: Session) -> list[store.User]:
    return list(session.scalars(select(store.User).order_by(store.User.username)))


def known_roles(session: Session, lanes: Iterable[str] = ()) -> list[str]:
    """The catalogue's roles plus any role held by a user or a task, or given in ``lanes`` (the
    deployed processes' lane roles, ``engine.lane_roles``: a new lane's role before its first task)."""
    found = set(session.scalars(select(store.UserRole.role).distinct()))
    found |= {r for r in session.scalars(select(store.HumanTask.role).distinct()) if r}
    found |= {r for r in lanes if r}
    return [r for r in ROLES if r != CUSTOMER_ROLE] + sorted(found - set(ROLES))


# --- demo users -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    roles: tuple[str, ...]
    display_name: str


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("service", "service-demo", ("customer_service",), "王客服"),
    DemoUser("quality", "quality-demo", ("quality",), "李品保"),
    DemoUser("logistics", "logistics-demo", ("logistics",), "赵储运"),
    DemoUser("marketing", "marketing-demo", ("marketing",), "钱市场"),
    DemoUser("manager", "manager-demo", ("manager",), "孙主管"),
    DemoUser("gm", "gm-demo-1", ("general_manager",), "周总经理"),
    DemoUser("repair", "repair-demo", ("service_center",), "吴售后"),
    DemoUser("finance", "finance-demo", ("finance",), "郑财务"),
    DemoUser("production", "production-demo", ("production",), "冯生产"),
    DemoUser("owner", "owner-demo", ("process_owner",), "陈流程"),
    DemoUser("admin", "admin-demo", ("admin",), "系统管理员"),
)


def ensure_demo_users(session: Session) -> list[tuple[DemoUser, bool]]:
    """Create the demo users that do not exist yet (one per role of PRODUCT.md §1).

    A user of that name that exists already is left exactly as it is (password, roles, active
    flag): running this again never undoes a change an administrator made. Returns each demo
    user with ``True`` when it was created now.
    """
    out = []
    for demo in DEMO_USERS:
        missing = find_user(session, demo.username) is None
        if missing:
            create_user(session, demo.username, demo.password, list(demo.roles), demo.display_name)
        out.append((demo, missing))
    return out


# --- API tokens -------------------------------------------------------------------------------------

TOKEN_PREFIX = "cf_"
_LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def require_user(session: Session, username: str) -> store.User:
    """The user ``username``; raises TokenError (not found) when there is none."""
    user = find_user(session, username)
    if user is None:
        raise TokenError(f"no user {username!r}", "no_user", name=username)
    return user


def token_dict(row: store.ApiToken) -> dict:
    return {"id": row.id, "name": row.name, "created_at": row.created_at.isoformat(),
            "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
            "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
            "active": row.revoked_at is None}


def create_token(session: Session, username: str, name: str | None = None) -> tuple[store.ApiToken, str]:
    """A new token for ``username``: returns the row and the plain token (shown once)."""
    user = require_user(session, username)
    if not user.active:
        raise TokenError(f"user {username!r} is deactivated", "user_inactive", name=username)
    label = (name or "").strip() or f"token {clock.now():%Y-%m-%d %H:%M}"
    if len(label) > 200:
        raise TokenError("a token name has at most 200 characters", "token_name_too_long", maximum=200)
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = store.ApiToken(user_id=user.id, name=label, token_hash=hash_token(plain), created_at=clock.now())
    session.add(row)
    session.flush()
    return row, plain


def list_tokens(session: Session, username: str) -> list[store.ApiToken]:
    user = require_user(session, username)
    return list(session.scalars(select(store.ApiToken).where(store.ApiToken.user_id == user.id)
                                .order_by(store.ApiToken.id)))


def get_token(session: Session, token_id: int, username: str | None = None) -> store.ApiToken | None:
    """The token ``token_id`` (only when it belongs to ``username``, if given)."""
    row = session.get(store.ApiToken, token_id)
    if row is None:
        return None
    if username is not None and row.user_id != require_user(session, username).id:
        return None
    return row


def revoke_token(session: Session, token_id: int, username: str | None = None) -> store.ApiToken:
    """Revoke a token (of ``username`` only, when given); revoking twice is harmless."""
    row = get_token(session, token_id, username)
    if row is None:
        raise TokenError(f"no token {token_id}" + (f" of user {username!r}" if username else ""), "no_token")
    if row.revoked_at is None:
        row.revoked_at = clock.now()
    session.flush()
    _forget_user(session, row.user_id)
    return row


def revoke_all_tokens(session: Session, user: store.User) -> int:
    """Revoke every active token of ``user``; returns how many were revoked."""
    result = session.execute(update(store.ApiToken)
                             .where(store.ApiToken.user_id == user.id, store.ApiToken.revoked_at.is_(None))
                             .values(revoked_at=clock.now()))
    _forget_user(session, user.id)
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class ApiCaller:
    """Who an API request acts as."""

    user_id: int
    username: str
    display_name: str | None
    roles: frozenset[str]
    token_id: int

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


# --- token authentication: one query, then a short-lived cache (caseflow.token_cache) ----------

TOKEN_CACHE_TTL_S = token_cache.TOKEN_CACHE_TTL_S
clear_token_cache = token_cache.clear
_forget_user = token_cache.forget_user

_T: Table = store.ApiToken.__table__  # type: ignore[assignment]  # declarative tables are Tables
_U: Table = store.User.__table__  # type: ignore[assignment]
_R: Table = store.UserRole.__table__  # type: ignore[assignment]
# The token, its user and the user's roles in one statement (one row per role).
_AUTH_QUERY = (
    select(_T.c.id.label("token_id"), _T.c.token_hash, _T.c.revoked_at, _T.c.last_used_at,
           _U.c.id.label("user_id"), _U.c.username, _U.c.display_name, _U.c.active, _R.c.role)
    .select_from(_T.join(_U, _U.c.id == _T.c.user_id).outerjoin(_R, _R.c.user_id == _U.c.id))
    .where(_T.c.token_hash == bindparam("digest"))
)
_TOUCH_TOKEN = update(_T).where(_T.c.id == bindparam("token_id")).values(last_used_at=bindparam("now"))


def authenticate_token(session: Session, plain: str) -> ApiCaller | None:
    """The caller for a presented token, or None (unknown, revoked, or the user is inactive).

    A token checked in the last ``TOKEN_CACHE_TTL_S`` seconds costs no query; otherwise one
    statement reads the token, its user and roles. ``last_used_at`` is written at most once a
    minute per token.
    """
    if not plain or len(plain) > 200:
        return None
    digest = hash_token(plain)
    now = clock.now()
    cache = token_cache.TOKENS if token_cache.usable(session) else None
    entry = cache.get(digest) if cache is not None else None
    if entry is None:
        generation = token_cache.TOKENS.generation
        found = session.connection().execute(_AUTH_QUERY, {"digest": digest}).all()
        if not found:
            return None
        row = found[0]
        if row.revoked_at is not None or not row.active or not hmac.compare_digest(row.token_hash, digest):
            return None
        caller = ApiCaller(row.user_id, row.username, row.display_name,
                           frozenset(r.role for r in found if r.role is not None), row.token_id)
        entry = token_cache.Cached(caller, time.monotonic() + token_cache.TOKENS.ttl, row.last_used_at)
        if cache is not None:
            cache.put(digest, entry, generation)
    if entry.last_used_at is None or now - entry.last_used_at > _LAST_USED_RESOLUTION:
        session.connection().execute(_TOUCH_TOKEN, {"token_id": entry.caller.token_id, "now": now})
        entry.last_used_at = now
    return entry.caller
