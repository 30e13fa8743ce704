"""One filing per portal form: a filing page's one-time token names the case it filed.

The portal gives every filing page a random token (:func:`new_token`) and keeps the tokens it
gave in the browser's session. When the form comes back, the case it filed is recorded under
the token's SHA-256 (:func:`record`, in the filing's own transaction): the same form sent again
(a double click, a browser resending the request) finds that case (:func:`filed_case`) instead of
filing a second one; when two arrive at once, the primary key lets one record and the other
rolls back. Rows older than :data:`KEEP` are deleted as new ones come. The one writer of
``portal_filing``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from caseflow import clock, store

#: How long a filing is remembered by its token (a form resent later than that files again).
KEEP = dt.timedelta(days=2)
_TOKEN_BYTES = 24
MAX_TOKEN_LENGTH = 64  # a longer token was never given out


def new_token() -> str:
    """A fresh one-time token for a filing page."""
    return secrets.token_urlsafe(_TOKEN_BYTES)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def filed_case(session: Session, token: str) -> int | None:
    """The id of the case the form with ``token`` filed, or None when it filed none (yet)."""
    return session.execute(select(store.PortalFiling.instance_id)
                           .where(store.PortalFiling.token_hash == _hash(token))).scalar()


def record(session: Session, token: str, instance_id: int, now: dt.datetime | None = None) -> bool:
    """Record that the form with ``token`` filed ``instance_id``; False when it filed a case already
    (then the caller's transaction is spoiled on PostgreSQL and must be rolled back)."""
    now = now or clock.now()
    try:
        session.execute(insert(store.PortalFiling).values(token_hash=_hash(token), instance_id=instance_id,
                                                         created_at=now))
    except IntegrityError:
        return False
    session.execute(delete(store.PortalFiling).where(store.PortalFiling.created_at < now - KEEP))
    return True
