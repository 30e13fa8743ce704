"""Tables of the reporting, notification and modeler features: case facts, the notification
outbox and webhooks, process drafts (part of :mod:`caseflow.store`, which re-exports them).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from caseflow.store import Base, _now

FACT_DEADLINES = ("reaction", "containment", "closure", "repair_reply", "repair_cycle")


class CaseFacts(Base):
    """The reporting facts of one case, kept in step with each save (``caseflow._engine.facts``).

    Which data key feeds which column is declared by the process manifest's ``facts``
    section; the KPI dashboard aggregates these rows with SQL, never the workflow or JSON.
    ``stage`` is F11's handling progress: ``in_progress`` (处理中), ``follow_up`` (待跟进),
    ``resolved`` (已解决), or ``cancelled``. Deadline columns hold ``met``, ``late`` (done after
    the due time) or ``open`` (not done yet), NULL when the case has no such deadline.
    """

    __tablename__ = "case_facts"
    __table_args__ = (
        Index("ix_facts_key_registered", "process_key", "registered_at"),
        Index("ix_facts_key_month", "process_key", "registered_month", "kpi_class"),
        Index("ix_facts_key_department", "process_key", "department", "registered_at"),
        Index("ix_facts_key_customer", "process_key", "customer_code", "registered_at"),
        Index("ix_facts_key_stage", "process_key", "stage", "registered_at"),
        # 0009: the reports' range scans read these indexes only (never the table rows).
        Index("ix_facts_key_registered_top", "process_key", "registered_at", "customer_code", "product_model",
              "complaint_type", "kpi_weight"),
        # 0021: the cases late now, in due order, read from the index alone (the state column included).
        *(Index(f"ix_facts_late_{name}", "process_key", f"{name}_due", "registered_at", "department", name,
                sqlite_where=text(f"{name} = 'open'"), postgresql_where=text(f"{name} = 'open'"))
          for name in FACT_DEADLINES),
    )

    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"),
                                             primary_key=True)
    process_key: Mapped[str] = mapped_column(String(200))
    registered_at: Mapped[dt.datetime] = mapped_column()
    registered_month: Mapped[str] = mapped_column(String(7))  # YYYY-MM in the business time zone
    registered_day: Mapped[str | None] = mapped_column(String(10))  # YYYY-MM-DD, business time zone (0009)
    department: Mapped[str | None] = mapped_column(String(200))
    customer_code: Mapped[str | None] = mapped_column(String(200))
    customer_name: Mapped[str | None] = mapped_column(String(300))
    product_model: Mapped[str | None] = mapped_column(String(200))
    complaint_type: Mapped[str | None] = mapped_column(String(100))
    kpi_class: Mapped[str | None] = mapped_column(String(50))
    kpi_weight: Mapped[int | None] = mapped_column(Integer)
    loss_amount: Mapped[float | None] = mapped_column(Float)
    delivery_amount: Mapped[float | None] = mapped_column(Float)
    satisfaction: Mapped[int | None] = mapped_column(Integer)  # 1 very dissatisfied … 5 very satisfied
    satisfied: Mapped[bool | None] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(20))  # the instance's status
    stage: Mapped[str] = mapped_column(String(20))
    reaction: Mapped[str | None] = mapped_column(String(8))
    reaction_due: Mapped[dt.datetime | None] = mapped_column()
    containment: Mapped[str | None] = mapped_column(String(8))
    containment_due: Mapped[dt.datetime | None] = mapped_column()
    closure: Mapped[str | None] = mapped_column(String(8))
    closure_due: Mapped[dt.datetime | None] = mapped_column()
    repair_reply: Mapped[str | None] = mapped_column(String(8))
    repair_reply_due: Mapped[dt.datetime | None] = mapped_column()
    repair_cycle: Mapped[str | None] = mapped_column(String(8))
    repair_cycle_due: Mapped[dt.datetime | None] = mapped_column()
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    escalations_manager: Mapped[int] = mapped_column(Integer, default=0)
    escalations_gm: Mapped[int] = mapped_column(Integer, default=0)
    in_warranty: Mapped[bool | None] = mapped_column(Boolean)
    chargeable: Mapped[bool | None] = mapped_column(Boolean)
    fee: Mapped[float | None] = mapped_column(Float)
    turnaround_days: Mapped[int | None] = mapped_column(Integer)  # working days, receipt to ship-back
    # 0017: the approved plan's quantity and amount per disposition kind (NULL: no approved plan),
    # the follow-ups of the not-satisfied loop, the customer's Nth complaint of the year, the repair's end.
    disp_return_qty: Mapped[int | None] = mapped_column(Integer)
    disp_return_amount: Mapped[float | None] = mapped_column(Float)
    disp_exchange_qty: Mapped[int | None] = mapped_column(Integer)
    disp_exchange_amount: Mapped[float | None] = mapped_column(Float)
    disp_repair_qty: Mapped[int | None] = mapped_column(Integer)
    disp_repair_amount: Mapped[float | None] = mapped_column(Float)
    disp_discount_qty: Mapped[int | None] = mapped_column(Integer)
    disp_discount_amount: Mapped[float | None] = mapped_column(Float)
    disp_compensation_qty: Mapped[int | None] = mapped_column(Integer)
    disp_compensation_amount: Mapped[float | None] = mapped_column(Float)
    disp_make_up_shipment_qty: Mapped[int | None] = mapped_column(Integer)
    disp_make_up_shipment_amount: Mapped[float | None] = mapped_column(Float)
    disp_claim_qty: Mapped[int | None] = mapped_column(Integer)
    disp_claim_amount: Mapped[float | None] = mapped_column(Float)
    disp_recall_qty: Mapped[int | None] = mapped_column(Integer)
    disp_recall_amount: Mapped[float | None] = mapped_column(Float)
    follow_ups: Mapped[int | None] = mapped_column(Integer)  # follow-up measures defined (customer not satisfied)
    year_seq: Mapped[int | None] = mapped_column(Integer)  # the customer's Nth complaint of the registration year
    repair_outcome: Mapped[str | None] = mapped_column(String(30))  # repaired, returned_unrepaired, abandoned, …
    fee_decision: Mapped[str | None] = mapped_column(String(20))  # the customer's answer to the fee notice
    updated_at: Mapped[dt.datetime] = mapped_column(default=_now)


NOTIFY_CHOICES = ("immediate", "digest", "none")


class Notification(Base):
    """The transactional outbox: one message to deliver, written with the change that causes it.

    ``channel``: ``email`` (SMTP), ``in_app`` (the bell; delivered when written) or ``webhook``.
    ``status``: ``pending`` → ``sending`` (claimed until ``next_attempt_at``) → ``sent`` or
    ``failed``; ``digest`` rows wait for the recipient's daily digest. The sender claims rows
    due at ``next_attempt_at`` (a lapsed claim is taken again: a crashed sender loses nothing).
    """

    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_due", "status", "next_attempt_at"),
        Index("ix_notification_inbox", "channel", "recipient", "read_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # task_ready, escalation, instance_error, notice, digest
    channel: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(320))  # username (in_app), address (email), URL (webhook)
    username: Mapped[str | None] = mapped_column(String(100), index=True)  # the staff recipient, if any
    language: Mapped[str] = mapped_column(String(10), default="zh")
    template: Mapped[str | None] = mapped_column(String(100))
    args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    subject: Mapped[str | None] = mapped_column(String(500))
    body: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=_now)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=_now)
    sent_at: Mapped[dt.datetime | None] = mapped_column()
    read_at: Mapped[dt.datetime | None] = mapped_column()
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)


#: Events a webhook may subscribe to (``Webhook.kinds``).
WEBHOOK_KINDS = ("instance_started", "instance_completed", "instance_error", "task_created", "task_completed",
                 "escalation")


class Webhook(Base):
    """An integrator's endpoint: JSON deliveries of the chosen event kinds, signed with ``secret`` (HMAC-SHA256)."""

    __tablename__ = "webhook"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    kinds: Mapped[list[Any]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=_now)
    created_by: Mapped[str] = mapped_column(String(200))


class ProcessDraft(Base):
    """A process owner's unsaved-to-production edit of a bundle: every file, who, when, based on what.

    ``status``: ``open`` (editable) or ``deployed`` (then ``deployed_definition_id`` is the
    version it became). ``row_version`` guards concurrent saves (compare and set).
    """

    __tablename__ = "process_draft"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    base_definition_id: Mapped[int | None] = mapped_column(ForeignKey("process_definition.id"))
    base_version: Mapped[int | None] = mapped_column(Integer)
    files: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)  # bundle file name -> text
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=_now)
    updated_by: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="open")
    row_version: Mapped[int] = mapped_column(Integer, default=1)
    deployed_definition_id: Mapped[int | None] = mapped_column(ForeignKey("process_definition.id"))
    deployed_at: Mapped[dt.datetime | None] = mapped_column()
    deployed_by: Mapped[str | None] = mapped_column(String(200))

