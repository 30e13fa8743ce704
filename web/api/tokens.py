"""Personal API tokens: created once in plain text, stored as SHA-256, revocable.

Used by the API (``Authorization: Bearer …``), the CLI (``caseflow tokens …``) and the web
UI's token page. Functions take the caller's session and never commit.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow import clock
from caseflow import store

TOKEN_PREFIX = "cf_"
_LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


class TokenError(ValueError):
    """A token cannot be created or revoked as asked."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _user(session: Session, username: str) -> store.User:
    user = session.scalars(select(store.User).where(store.User.username == username)).first()
    if user is None:
        raise TokenError(f"no user {username!r}")
    return user


def token_dict(row: store.ApiToken) -> dict:
    return {"id": row.id, "name": row.name, "created_at": row.created_at.isoformat(),
            "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
            "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
            "active": row.revoked_at is None}


def create_token(session: Session, username: str, name: str | None = None) -> tuple[store.ApiToken, str]:
    """A new token for ``username``: returns the row and the plain token (shown once)."""
    user = _user(session, username)
    if not user.active:
        raise TokenError(f"user {username!r} is deactivated")
    label = (name or "").strip() or f"token {clock.now():%Y-%m-%d %H:%M}"
    if len(label) > 200:
        raise TokenError("a token name has at most 200 characters")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = store.ApiToken(user_id=user.id, name=label, token_hash=hash_token(plain), created_at=clock.now())
    session.add(row)
    session.flush()
    return row, plain


def list_tokens(session: Session, username: str) -> list[store.ApiToken]:
    user = _user(session, username)
    return list(session.scalars(select(store.ApiToken).where(store.ApiToken.user_id == user.id)
                                .order_by(store.ApiToken.id)))


def get_token(session: Session, token_id: int, username: str | None = None) -> store.ApiToken | None:
    """The token ``token_id`` (only when it belongs to ``username``, if given)."""
    row = session.get(store.ApiToken, token_id)
    if row is None:
        return None
    if username is not None and row.user_id != _user(session, username).id:
        return None
    return row


def revoke_token(session: Session, token_id: int, username: str | None = None) -> store.ApiToken:
    """Revoke a token (of ``username`` only, when given); revoking twice is harmless."""
    row = get_token(session, token_id, username)
    if row is None:
        raise TokenError(f"no token {token_id}" + (f" of user {username!r}" if username else ""))
    if row.revoked_at is None:
        row.revoked_at = clock.now()
    session.flush()
    return row


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


def authenticate(session: Session, plain: str) -> ApiCaller | None:
    """The caller for a presented token, or None (unknown, revoked, or the user is inactive)."""
    if not plain or len(plain) > 200:
        return None
    digest = hash_token(plain)
    row = session.scalars(select(store.ApiToken).where(store.ApiToken.token_hash == digest)).first()
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_hash, digest):
        return None
    user = session.get(store.User, row.user_id)
    if user is None or not user.active:
        return None
    now = clock.now()
    if row.last_used_at is None or now - row.last_used_at > _LAST_USED_RESOLUTION:
        row.last_used_at = now
    return ApiCaller(user.id, user.username, user.display_name, frozenset(user.role_names), row.id)
