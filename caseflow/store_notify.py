"""The notification feature's own table: which deadline events a task has had (part of
:mod:`caseflow.store`, which re-exports it). :mod:`caseflow.notify.deadlines` is its one writer.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from caseflow.store import Base, _now


class TaskNotice(Base):
    """A staff event told for a task (``task_due_soon``, ``task_overdue``): one row per task and event.

    Written in the transaction that queues the event's notifications; its primary key makes the
    event once per task, also with two senders scanning at the same time.
    """

    __tablename__ = "task_notice"

    task_id: Mapped[str] = mapped_column(ForeignKey("human_task.id"), primary_key=True)
    event: Mapped[str] = mapped_column(String(20), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=_now)
