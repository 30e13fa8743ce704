"""Staff deadline events: a ready task due soon, and a ready task overdue, told once per task and event.

Found by the outbox sender's round (:meth:`caseflow.notify.sender.Sender.run_once`, inside
``caseflow serve`` and ``caseflow worker``) from the task rows' deadline column (``sort_due``,
read through ``ix_task_ready_due``), never from workflow state. "Due soon" means the deadline is
less than ``CASEFLOW_DUE_SOON_HOURS`` (default 24) away; a task found already past its deadline
is only told overdue.

Each event is told to the task's holder (its assignee) or, when nobody holds it, to the active
users of its role (of a customer's task: of the roles that speak for customers,
``CASEFLOW_PORTAL_STAFF_ROLES``, who ask the customer and may answer on their behalf), through
:func:`caseflow.notify.personal.notify`: the bell, and an e-mail by each user's choice, to their
substitute while they are absent. A ``task_notice`` row (primary key: task and event) is written
in the same transaction, so each task hears of each event once, also when two senders scan at
the same time.
"""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import exists, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

import engine
from caseflow import clock, config, store
from caseflow.accounts import CUSTOMER_ROLE
from caseflow.notify import personal

log = logging.getLogger("caseflow.notify")

DUE_SOON = "task_due_soon"
OVERDUE = "task_overdue"
BATCH = 200  # tasks per event and round; the next round takes the rest

T = store.HumanTask
M = store.TaskNotice


def _candidates(session: Session, event: str, upper: dt.datetime, lower: dt.datetime | None) -> list[store.HumanTask]:
    told = exists().where(M.task_id == T.id, M.event == event)
    stmt = select(T).where(T.state == "ready", T.due_at.is_not(None), T.sort_due <= upper, ~told)
    if lower is not None:
        stmt = stmt.where(T.sort_due > lower)
    return list(session.scalars(stmt.order_by(T.sort_due, T.created_at).limit(BATCH)))


def _mark(session: Session, task_id: str, event: str, now: dt.datetime) -> bool:
    """Record that ``task_id`` had ``event``; False when it already had (another sender was first)."""
    values = dict(task_id=task_id, event=event, created_at=now)
    if session.get_bind().dialect.name == "postgresql":
        stmt = pg_insert(M).values(**values).on_conflict_do_nothing().returning(M.task_id)
    else:  # SQLite, the other supported database
        stmt = sqlite_insert(M).values(**values).on_conflict_do_nothing().returning(M.task_id)  # type: ignore[assignment]
    return session.execute(stmt).first() is not None  # a row comes back only when it was inserted


def _recipients(session: Session, task: store.HumanTask, settings: config.Settings) -> list[str]:
    if task.assignee:
        return [task.assignee]
    if not task.role:
        return []
    # A customer's task (answered from its portal link) is followed up by the staff who speak for customers.
    roles = list(settings.portal_staff_roles) if task.role == CUSTOMER_ROLE else [task.role]
    stmt = (select(store.User.username).join(store.UserRole, store.UserRole.user_id == store.User.id)
            .where(store.UserRole.role.in_(roles), store.User.active.is_(True))
            .distinct().order_by(store.User.username))
    return list(session.scalars(stmt))


def _tell(session: Session, task: store.HumanTask, event: str, now: dt.datetime, settings: config.Settings) -> int:
    if not _mark(session, task.id, event, now):
        return 0
    args = {"task_id": task.id, "task_title": task.title, "role": task.role, "instance_id": task.instance_id,
            "task_title_zh": engine.task_title_zh(session, task.id) or task.title,  # once, not per recipient
            "process_key": task.process_key, "business_key": task.business_key,
            "due_at": task.due_at.isoformat() if task.due_at else None}
    return sum(1 for username in _recipients(session, task, settings)
               if personal.notify(session, username, event, args, task.instance_id) is not None)


def queue(db: store.Database, settings: config.Settings) -> int:
    """Queue the due-soon and overdue events not told yet (one transaction); returns the people told."""
    now = clock.now()
    told = 0
    with db.session() as session:
        for task in _candidates(session, OVERDUE, now, None):
            told += _tell(session, task, OVERDUE, now, settings)
        soon = now + dt.timedelta(hours=settings.due_soon_hours)
        for task in _candidates(session, DUE_SOON, soon, now):
            told += _tell(session, task, DUE_SOON, now, settings)
    if told:
        log.info("told %d deadline event(s)", told)
    return told
