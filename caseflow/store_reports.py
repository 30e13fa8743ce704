"""Summary tables of the KPI reports (part of :mod:`caseflow.store`, which re-exports them).

Both are sums of ``case_facts`` rows, kept in step by the facts writer
(:mod:`caseflow.fact_summary`) with each save and rebuilt from the facts by ``caseflow facts
rebuild``: the dashboard reads a few thousand summary rows instead of every case.

- :class:`CaseFactDay`: one row per (process, registration day of the business time zone,
  department, KPI class) with every additive figure (counts, sums).
- :class:`CaseFactTop`: one row per (process, registration month, dimension, value) with the
  case count and KPI weight, for the top customers, product models and complaint types.

A NULL department, class or value is stored as ``""`` (part of the primary key).
"""
from __future__ import annotations

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from caseflow.store import Base

#: The disposition kinds of a resolution plan's lines (``service_tasks.disposition.DISPOSITION_KINDS``).
DISPOSITION_KINDS = ("return", "exchange", "repair", "discount", "compensation", "make_up_shipment", "claim", "recall")
#: The additive figures of a :class:`CaseFactDay` row (integer counts unless in SUMMARY_FLOATS).
#: The stages of a case in the reports; ``rejected``: ended as not valid (its outcome), in no KPI weight.
FACT_STAGES = ("in_progress", "follow_up", "resolved", "rejected", "cancelled")
SUMMARY_COUNTS = (
    "n", "weight", "ratio_cases", "band_lt_0_5pct", "band_0_5_1pct", "band_1_2pct", "band_2_5pct", "band_ge_5pct",
    "esc_manager", "esc_gm", "satisfied_yes", "satisfied_no",
    "reaction_met", "reaction_late", "reaction_open", "containment_met", "containment_late", "containment_open",
    "closure_met", "closure_late", "closure_open", "repair_reply_met", "repair_reply_late", "repair_reply_open",
    "repair_cycle_met", "repair_cycle_late", "repair_cycle_open",
    "sat_1", "sat_2", "sat_3", "sat_4", "sat_5",
    "stage_in_progress", "stage_follow_up", "stage_resolved", "stage_cancelled", "stage_rejected",
    "warranty_in", "warranty_out", "chargeable_yes", "chargeable_no", "fee_cases", "turnaround_cases",
    "turnaround_days",
    # 0017: the approved plans per disposition kind, satisfied at first feedback or after follow-up,
    # declined fees and devices returned unrepaired or abandoned, complaints by their Nth of the customer's year.
    *(f"disp_{kind}_{part}" for kind in DISPOSITION_KINDS for part in ("cases", "qty")),
    "sat_first", "sat_after_follow_up", "fee_declined", "outcome_returned_unrepaired", "outcome_abandoned",
    "nth_1", "nth_2", "nth_3", "nth_4plus",
)
SUMMARY_FLOATS = ("loss", "delivery", "fee", *(f"disp_{kind}_amount" for kind in DISPOSITION_KINDS))
#: The dimensions of :class:`CaseFactTop` (``case_facts`` columns).
TOP_DIMENSIONS = ("customer_code", "product_model", "complaint_type")


class CaseFactDay(Base):
    """The sums of the facts of the cases of one process registered on one day, per department and class."""

    __tablename__ = "case_fact_day"

    process_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, business time zone
    department: Mapped[str] = mapped_column(String(200), primary_key=True)
    kpi_class: Mapped[str] = mapped_column(String(50), primary_key=True)
    month: Mapped[str] = mapped_column(String(7))
    n: Mapped[int] = mapped_column(Integer, default=0)
    weight: Mapped[int] = mapped_column(Integer, default=0)
    ratio_cases: Mapped[int] = mapped_column(Integer, default=0)
    band_lt_0_5pct: Mapped[int] = mapped_column(Integer, default=0)
    band_0_5_1pct: Mapped[int] = mapped_column(Integer, default=0)
    band_1_2pct: Mapped[int] = mapped_column(Integer, default=0)
    band_2_5pct: Mapped[int] = mapped_column(Integer, default=0)
    band_ge_5pct: Mapped[int] = mapped_column(Integer, default=0)
    esc_manager: Mapped[int] = mapped_column(Integer, default=0)
    esc_gm: Mapped[int] = mapped_column(Integer, default=0)
    satisfied_yes: Mapped[int] = mapped_column(Integer, default=0)
    satisfied_no: Mapped[int] = mapped_column(Integer, default=0)
    reaction_met: Mapped[int] = mapped_column(Integer, default=0)
    reaction_late: Mapped[int] = mapped_column(Integer, default=0)
    reaction_open: Mapped[int] = mapped_column(Integer, default=0)
    containment_met: Mapped[int] = mapped_column(Integer, default=0)
    containment_late: Mapped[int] = mapped_column(Integer, default=0)
    containment_open: Mapped[int] = mapped_column(Integer, default=0)
    closure_met: Mapped[int] = mapped_column(Integer, default=0)
    closure_late: Mapped[int] = mapped_column(Integer, default=0)
    closure_open: Mapped[int] = mapped_column(Integer, default=0)
    repair_reply_met: Mapped[int] = mapped_column(Integer, default=0)
    repair_reply_late: Mapped[int] = mapped_column(Integer, default=0)
    repair_reply_open: Mapped[int] = mapped_column(Integer, default=0)
    repair_cycle_met: Mapped[int] = mapped_column(Integer, default=0)
    repair_cycle_late: Mapped[int] = mapped_column(Integer, default=0)
    repair_cycle_open: Mapped[int] = mapped_column(Integer, default=0)
    sat_1: Mapped[int] = mapped_column(Integer, default=0)
    sat_2: Mapped[int] = mapped_column(Integer, default=0)
    sat_3: Mapped[int] = mapped_column(Integer, default=0)
    sat_4: Mapped[int] = mapped_column(Integer, default=0)
    sat_5: Mapped[int] = mapped_column(Integer, default=0)
    stage_in_progress: Mapped[int] = mapped_column(Integer, default=0)
    stage_follow_up: Mapped[int] = mapped_column(Integer, default=0)
    stage_resolved: Mapped[int] = mapped_column(Integer, default=0)
    stage_cancelled: Mapped[int] = mapped_column(Integer, default=0)
    stage_rejected: Mapped[int] = mapped_column(Integer, default=0)  # 0023
    warranty_in: Mapped[int] = mapped_column(Integer, default=0)
    warranty_out: Mapped[int] = mapped_column(Integer, default=0)
    chargeable_yes: Mapped[int] = mapped_column(Integer, default=0)
    chargeable_no: Mapped[int] = mapped_column(Integer, default=0)
    fee_cases: Mapped[int] = mapped_column(Integer, default=0)
    turnaround_cases: Mapped[int] = mapped_column(Integer, default=0)
    turnaround_days: Mapped[int] = mapped_column(Integer, default=0)
    loss: Mapped[float] = mapped_column(Float, default=0.0)
    delivery: Mapped[float] = mapped_column(Float, default=0.0)
    fee: Mapped[float] = mapped_column(Float, default=0.0)
    disp_return_cases: Mapped[int] = mapped_column(Integer, default=0)
    disp_return_qty: Mapped[int] = mapped_column(Integer, default=0)
    disp_exchange_cases: Mapped[int] = mapped_column(Integer, default=0)
    disp_exchange_qty: Mapped[int] = mapped_column(Integer, default=0)
    disp_repair_cases: Mapped[int] = mapped_column(Integer, default=0)
    disp_repair_qty: Mapped[int] = mapped_column(Integer, default=0)
    disp_discount_cases: Mapped[int] = mapped_column(Integer, default=0)
    disp_discount_qty: Mapped[int] = mapped_column(Integer, default=0)
    disp_compensation_cases: Mapped[int] = mapped_column(Integer, default=0)
    disp_compensation_qty: Mapped[int] = mapped_column(Integer, default=0)
    disp_make_up_shipment_cases: Mapped[int] = mapped_column(Integer, default=0)
    disp_make_up_shipment_qty: Mapped[int] = mapped_column(Integer, default=0)
    disp_claim_cases: Mapped[int] = mapped_column(Integer, default=0)
    disp_claim_qty: Mapped[int] = mapped_column(Integer, default=0)
    disp_recall_cases: Mapped[int] = mapped_column(Integer, default=0)
    disp_recall_qty: Mapped[int] = mapped_column(Integer, default=0)
    disp_return_amount: Mapped[float] = mapped_column(Float, default=0.0)
    disp_exchange_amount: Mapped[float] = mapped_column(Float, default=0.0)
    disp_repair_amount: Mapped[float] = mapped_column(Float, default=0.0)
    disp_discount_amount: Mapped[float] = mapped_column(Float, default=0.0)
    disp_compensation_amount: Mapped[float] = mapped_column(Float, default=0.0)
    disp_make_up_shipment_amount: Mapped[float] = mapped_column(Float, default=0.0)
    disp_claim_amount: Mapped[float] = mapped_column(Float, default=0.0)
    disp_recall_amount: Mapped[float] = mapped_column(Float, default=0.0)
    sat_first: Mapped[int] = mapped_column(Integer, default=0)
    sat_after_follow_up: Mapped[int] = mapped_column(Integer, default=0)
    fee_declined: Mapped[int] = mapped_column(Integer, default=0)
    outcome_returned_unrepaired: Mapped[int] = mapped_column(Integer, default=0)
    outcome_abandoned: Mapped[int] = mapped_column(Integer, default=0)
    nth_1: Mapped[int] = mapped_column(Integer, default=0)
    nth_2: Mapped[int] = mapped_column(Integer, default=0)
    nth_3: Mapped[int] = mapped_column(Integer, default=0)
    nth_4plus: Mapped[int] = mapped_column(Integer, default=0)


class CaseFactTop(Base):
    """The case count and KPI weight of one process's cases of one month per value of a dimension."""

    __tablename__ = "case_fact_top"

    process_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(40), primary_key=True)  # one of TOP_DIMENSIONS
    value: Mapped[str] = mapped_column(String(200), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)
    weight: Mapped[int] = mapped_column(Integer, default=0)
