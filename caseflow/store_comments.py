"""Tables of the collaboration features: comments on cases and tasks, absences with their
substitute, and saved inbox filters (part of :mod:`caseflow.store`, which re-exports them).

The search index (``case_search``) has no ORM model: it is kept by database triggers
(:mod:`caseflow.search_index`) and read with plain SQL by :mod:`caseflow.search`.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from caseflow.store import Base, _now


class Comment(Base):
    """A staff comment on a case, or on one of its tasks (``task_id``); one writer: :mod:`caseflow.comments`.

    ``mentions`` are the usernames its ``@username`` mentions resolved to when it was last saved;
    ``attachment_ids`` the ids of its files (``attachment`` rows of the same case). A deleted comment
    keeps its row (``deleted_at``), its text blanked; the old text is in the audit trail.
    """

    __tablename__ = "comment"
    __table_args__ = (Index("ix_comment_instance", "instance_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    task_id: Mapped[str | None] = mapped_column(String(36))
    author: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    mentions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    attachment_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=_now)
    edited_at: Mapped[dt.datetime | None] = mapped_column()
    deleted_at: Mapped[dt.datetime | None] = mapped_column()


class Absence(Base):
    """A user's absence: from ``starts_at`` (included) to ``ends_at`` (excluded), with a substitute.

    One writer: :mod:`caseflow.substitutes`. A cancelled absence keeps its row (``cancelled_at``).
    """

    __tablename__ = "absence"
    __table_args__ = (Index("ix_absence_user_period", "username", "starts_at", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100))
    substitute: Mapped[str] = mapped_column(String(100), index=True)
    starts_at: Mapped[dt.datetime] = mapped_column()
    ends_at: Mapped[dt.datetime] = mapped_column()
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=_now)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column()


class SavedFilter(Base):
    """A named inbox filter of one user (the inbox's query arguments)."""

    __tablename__ = "saved_filter"
    __table_args__ = (UniqueConstraint("username", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(100))
    args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=_now)
