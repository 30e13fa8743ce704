"""The returned-goods defect statistics (part of :mod:`caseflow.store`, which re-exports it).

:class:`ReturnedGoodsDefect`: one row per defect phenomenon (不良现象) found by one returned-goods
test — a case of ``returned_goods``, or one call of it from a complaint — with the product model
and the test day, so the KPI dashboard sums units per phenomenon by product model and month. One
writer: :mod:`caseflow.returned_goods_stats`, called after each save (the facts writer path).
"""
from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from caseflow.store import Base


class ReturnedGoodsDefect(Base):
    """Units showing one defect phenomenon in one returned-goods test (``call_seq`` 0: a case of its own)."""

    __tablename__ = "returned_goods_defect"
    __table_args__ = (
        Index("ix_rg_defect_instance", "instance_id"),
        Index("ix_rg_defect_month_model", "month", "product_model", "phenomenon"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    process_key: Mapped[str] = mapped_column(String(200))
    call_seq: Mapped[int] = mapped_column(Integer)
    returned_goods_no: Mapped[str] = mapped_column(String(40), default="")
    product_model: Mapped[str] = mapped_column(String(200), default="")
    day: Mapped[str] = mapped_column(String(10))
    month: Mapped[str] = mapped_column(String(7))
    phenomenon: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
