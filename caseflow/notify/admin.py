"""What administrators see of the outbox: undelivered rows with their error, and retrying them."""
from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from caseflow import clock, store

N = store.Notification
UNDELIVERED = ("pending", "sending", "failed")


def undelivered(session: Session, limit: int = 200) -> list[store.Notification]:
    """Failed rows first, then those waiting (e-mail and webhooks), newest first."""
    failed_first = (N.status != "failed")
    stmt = (select(N).where(N.status.in_(UNDELIVERED), N.channel != "in_app")
            .order_by(failed_first, N.id.desc()).limit(limit))
    return list(session.scalars(stmt))


def counts(session: Session) -> dict[str, int]:
    """Rows by status (in-app messages left out)."""
    stmt = select(N.status, func.count()).where(N.channel != "in_app").group_by(N.status)
    return {status: int(n) for status, n in session.execute(stmt)}


def retry(session: Session, notification_id: int) -> bool:
    """Make a failed row due now with a fresh set of attempts; False when it is not failed."""
    done = session.execute(update(N).where(N.id == notification_id, N.status == "failed")
                           .values(status="pending", attempts=0, next_attempt_at=clock.now()))
    return bool(done.rowcount)  # type: ignore[attr-defined]
