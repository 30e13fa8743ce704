"""The in-app inbox (the bell): a user's in-app notifications, unread counts, marking read."""
from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from caseflow import clock, store

N = store.Notification
PAGE = 100


def unread_count(session: Session, username: str) -> int:
    """In-app notifications of ``username`` not opened yet (read from ix_notification_inbox)."""
    stmt = select(func.count()).select_from(N).where(N.channel == "in_app", N.recipient == username,
                                                     N.read_at.is_(None))
    return int(session.execute(stmt).scalar_one())


def recent(session: Session, username: str, limit: int = PAGE) -> list[store.Notification]:
    """The newest in-app notifications of ``username``."""
    stmt = (select(N).where(N.channel == "in_app", N.recipient == username)
            .order_by(N.id.desc()).limit(limit))
    return list(session.scalars(stmt))


def get(session: Session, username: str, notification_id: int) -> store.Notification | None:
    """One in-app notification of ``username`` (None when it is not theirs)."""
    row = session.get(N, notification_id)
    if row is None or row.channel != "in_app" or row.recipient != username:
        return None
    return row


def mark_read(session: Session, username: str, ids: list[int] | None = None) -> int:
    """Mark ``ids`` (None: all) of ``username``'s unread in-app notifications read; returns how many."""
    stmt = update(N).where(N.channel == "in_app", N.recipient == username, N.read_at.is_(None))
    if ids is not None:
        if not ids:
            return 0
        stmt = stmt.where(N.id.in_(ids))
    done = session.execute(stmt.values(read_at=clock.now()).execution_options(synchronize_session=False))
    return int(done.rowcount)  # type: ignore[attr-defined]
