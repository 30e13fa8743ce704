"""The customer portal's table: the links that open one customer task each (part of
:mod:`caseflow.store`, which re-exports it). :mod:`caseflow.portal_links` is its one writer.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from caseflow.store import Base, _now


class PortalLink(Base):
    """A signed link that lets the customer open and submit one task without an account.

    Only the SHA-256 of the token is kept. A link is good until ``expires_at``, for one
    submission (``used_at``), and until it is revoked (``revoked_at``: by staff, or because
    a newer link of the same task replaced it).
    """

    __tablename__ = "portal_link"
    __table_args__ = (Index("ix_portal_link_task", "task_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("human_task.id"))
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(5))
    created_at: Mapped[dt.datetime] = mapped_column(default=_now)
    expires_at: Mapped[dt.datetime] = mapped_column()
    used_at: Mapped[dt.datetime | None] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column()
    revoked_by: Mapped[str | None] = mapped_column(String(200))


class PortalFiling(Base):
    """A filing form sent from the portal, by the one-time token its page carried.

    Only the SHA-256 of the token is kept, with the case it filed: the same form sent again
    (a double click, a resent request) shows that case instead of filing a second one. Kept for
    :data:`caseflow.portal_filings.KEEP` after filing. :mod:`caseflow.portal_filings` is its one writer.
    """

    __tablename__ = "portal_filing"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(default=_now, index=True)
