"""Personal notifications: one staff member hears of something meant for them (a mention, a task
handed to them), written to the outbox in the caller's transaction.

Each is an in-app row (the bell) and, when the user has an e-mail address, an e-mail by their
choice on ``/account`` (at once, in the daily digest, or none). While the user is absent it goes to
their substitute instead (``caseflow.substitutes.resolve``), with ``for_user`` naming whom it was for.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

import engine
from caseflow import clock, store, substitutes

_NOTIFICATION: Table = store.Notification.__table__  # type: ignore[assignment]  # declarative tables are Tables
_INSERT = insert(_NOTIFICATION)


def _language(locale: str | None) -> str:
    return "en" if str(locale or "").strip().lower().startswith("en") else "zh"


def _row(now: dt.datetime, kind: str, channel: str, recipient: str, username: str, language: str, args: dict,
         instance_id: int | None, status: str) -> dict[str, Any]:
    sent = channel == "in_app"  # in-app rows are delivered by being written
    return dict(kind=kind, channel=channel, recipient=recipient, username=username, language=language,
                template=kind, args=args, subject=None, body=None, status="sent" if sent else status, attempts=0,
                next_attempt_at=now, last_error=None, created_at=now, sent_at=now if sent else None, read_at=None,
                instance_id=instance_id)


def notify(session: Session, to: str | substitutes.Resolved, kind: str, args: dict[str, Any],
           instance_id: int | None) -> str | None:
    """Notify ``to`` of ``kind`` (a template name of ``caseflow/notify/templates``) with ``args``: a
    username (their substitute while they are absent) or an already resolved recipient. Returns who
    was notified (None: no such active user). A task's Chinese title (``task_title_zh``) is added to
    ``args`` that name a task (``task_id``) without one."""
    target = substitutes.resolve(session, to) if isinstance(to, str) else to
    username = target.meant_for
    user = session.scalars(select(store.User).where(store.User.username == target.username)).first()
    if user is None or not user.active:
        return None
    now = clock.now()
    language = _language(user.locale)
    full = dict(args, for_user=username if target.substituted else None)
    if full.get("task_id") and not full.get("task_title_zh"):  # the Chinese mail names the task as the inbox does
        full["task_title_zh"] = engine.task_title_zh(session, str(full["task_id"])) or full.get("task_title")
    rows = [_row(now, kind, "in_app", user.username, user.username, language, full, instance_id, "sent")]
    choice = user.notify_tasks or "immediate"
    if user.email and choice != "none":
        rows.append(_row(now, kind, "email", user.email, user.username, language, full, instance_id,
                         "digest" if choice == "digest" else "pending"))
    session.execute(_INSERT, rows)
    return user.username
