"""KPI reports: the filters (query) and the figures of ``GET /api/v1/reports/kpis``."""
from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from caseflow import limits
from schema.common import QuerySchema

MAX_RANGE_DAYS = 3700  # ten years of complaints in one report
FILTER_TEXT = validate.Length(min=1, max=200)


def _no_control(value: str) -> None:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValidationError("control characters are not allowed")


class ReportDate(fields.Date):
    """A calendar day (YYYY-MM-DD) within the years Caseflow accepts."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.date:
        day = super()._deserialize(value, attr, data, **kwargs)
        problem = limits.year_problem(day.year)
        if problem:
            raise ValidationError(problem)
        return day


class DateRangeQuerySchema(QuerySchema):
    """A report's period: ``from`` to ``to``, both days included, at most ``MAX_RANGE_DAYS`` long."""

    date_from = ReportDate(required=True, data_key="from", metadata={"description": "first day (YYYY-MM-DD)"})
    date_to = ReportDate(required=True, data_key="to", metadata={"description": "last day (YYYY-MM-DD), included"})

    @validates_schema
    def _range(self, data: dict, **_kwargs: Any) -> None:
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            raise ValidationError("must not be before the date in from", "to")
        if start and end and (end - start).days > MAX_RANGE_DAYS:
            raise ValidationError(f"the range may span at most {MAX_RANGE_DAYS} days", "to")


class KpiQuerySchema(DateRangeQuerySchema):
    """Complaints registered (received) from ``from`` to ``to``, both days included, in the
    business time zone; the optional filters narrow them further."""

    department = fields.String(validate=[FILTER_TEXT, _no_control],
                               metadata={"description": "responsible department (role key)"})
    customer = fields.String(validate=[FILTER_TEXT, _no_control], metadata={"description": "customer code"})
    product_model = fields.String(validate=[FILTER_TEXT, _no_control])
    complaint_type = fields.String(validate=[FILTER_TEXT, _no_control])


class ClassCountsSchema(Schema):
    major = fields.Integer(required=True)
    general = fields.Integer(required=True)
    other = fields.Integer(required=True)
    ungraded = fields.Integer(required=True, metadata={"description": "not graded yet (no KPI class)"})


class RatioSchema(Schema):
    total = fields.Float(allow_none=True, required=True,
                         metadata={"description": "sum of loss amounts ÷ sum of delivery amounts (a fraction)"})
    loss_amount = fields.Float(required=True)
    delivery_amount = fields.Float(required=True)
    cases = fields.Integer(required=True, metadata={"description": "complaints with both amounts"})
    distribution = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                               metadata={"description": "complaints per ratio band (lt_0.5pct … ge_5pct)"})


class DeadlineRateSchema(Schema):
    met = fields.Integer(required=True)
    late = fields.Integer(required=True)
    open = fields.Integer(required=True, metadata={"description": "not done yet"})
    overdue = fields.Integer(required=True, metadata={"description": "not done and past due now"})
    rate = fields.Float(allow_none=True, required=True, metadata={
        "description": "met ÷ (met + late + overdue): an open deadline already past due counts as missed"})


class MonthSchema(Schema):
    month = fields.String(required=True, metadata={"example": "2026-03"})
    major = fields.Integer(required=True)
    general = fields.Integer(required=True)
    other = fields.Integer(required=True)
    ungraded = fields.Integer(required=True)
    kpi_complaint_count = fields.Integer(required=True)


class GroupSchema(Schema):
    key = fields.String(allow_none=True, required=True)
    label = fields.String(allow_none=True, required=True)
    complaints = fields.Integer(required=True)
    kpi_complaint_count = fields.Integer(required=True)


class LateCaseSchema(Schema):
    instance_id = fields.Integer(required=True)
    business_key = fields.String(allow_none=True, required=True)
    deadline = fields.String(required=True)
    due = fields.DateTime(required=True)
    late_hours = fields.Float(required=True)


class LateNowSchema(Schema):
    by_deadline = fields.Dict(keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.Integer()),
                              required=True, metadata={"description": "per deadline: total late now and per "
                                                                      "lateness band (lt_1d, 1_3d, 3_7d, ge_7d)"})
    cases = fields.List(fields.Nested(LateCaseSchema), required=True, metadata={"description": "the latest 20"})


class OpenCaseSchema(Schema):
    instance_id = fields.Integer(required=True)
    business_key = fields.String(allow_none=True, required=True)
    stage = fields.String(required=True)
    registered_at = fields.DateTime(required=True)
    age_days = fields.Integer(allow_none=True, required=True)


class OpenByAgeSchema(Schema):
    by_stage = fields.Dict(keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.Integer()),
                           required=True, metadata={"description": "open stage -> age band (le_7d, 8_30d, 31_90d, "
                                                                   "gt_90d) -> complaints"})
    oldest = fields.List(fields.Nested(OpenCaseSchema), required=True, metadata={"description": "oldest 20 first"})


class RepairsSchema(Schema):
    applications = fields.Integer(required=True)
    warranty = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    chargeable = fields.Dict(keys=fields.String(), values=fields.Float(allow_none=True), required=True)
    fees = fields.Dict(keys=fields.String(), values=fields.Float(), required=True)
    turnaround = fields.Dict(keys=fields.String(), values=fields.Float(allow_none=True), required=True,
                             metadata={"description": "working days from receipt to ship-back"})
    on_time_rate = fields.Dict(keys=fields.String(), values=fields.Nested(DeadlineRateSchema), required=True)
    stages = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    declined_fee = fields.Integer(required=True, metadata={"description": "repairs whose customer declined the fee"})
    returned_unrepaired = fields.Integer(required=True, metadata={"description": "devices returned unrepaired"})
    abandoned = fields.Integer(required=True, metadata={"description": "repairs closed as abandoned (no device)"})


class DispositionSchema(Schema):
    cases = fields.Integer(required=True, metadata={"description": "complaints with lines of this kind"})
    quantity = fields.Integer(required=True)
    amount = fields.Float(required=True, metadata={"description": "RMB"})


class CostSchema(Schema):
    by_kind = fields.Dict(keys=fields.String(), values=fields.Nested(DispositionSchema), required=True, metadata={
        "description": "per disposition kind (return, exchange, repair, discount, compensation, make_up_shipment, "
                       "claim, recall) of the approved resolution plans"})
    quantity = fields.Integer(required=True)
    amount = fields.Float(required=True, metadata={"description": "RMB, every kind"})


class RecurrenceSchema(Schema):
    by_nth = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True, metadata={
        "description": "complaints by their rank among the customer's complaints of the year: 1, 2, 3, 4+"})


class KpiSchema(Schema):
    """The KPI figures of DOMAIN.md §6 over the complaints in the range."""

    date_from = fields.Date(required=True, data_key="from")
    date_to = fields.Date(required=True, data_key="to")
    complaint_count = fields.Integer(required=True, metadata={"description": "complaints registered in the range"})
    kpi_complaint_count = fields.Integer(required=True, metadata={
        "description": "客诉考核: the sum of KPI weights (general 1, major 2, other 0, from the deployed version)"})
    complaints_by_class = fields.Nested(ClassCountsSchema, required=True)
    complaint_ratio = fields.Nested(RatioSchema, required=True)
    on_time_rate = fields.Dict(keys=fields.String(), values=fields.Nested(DeadlineRateSchema), required=True,
                               metadata={"description": "per deadline: reaction, containment, closure, "
                                                        "repair_reply, repair_cycle"})
    satisfaction = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                               metadata={"description": "complaints per satisfaction level 1 (very dissatisfied) "
                                                        "… 5 (very satisfied)"})
    satisfied = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                            metadata={"description": "customer satisfied: yes / no / unknown; satisfied at the "
                                                     "first feedback (first_feedback) or only after follow-up "
                                                     "measures (after_follow_up)"})
    cost = fields.Nested(CostSchema, required=True, metadata={"description": "cost of complaints"})
    recurrence = fields.Nested(RecurrenceSchema, required=True)
    escalations = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                              metadata={"description": "escalations per level (manager, general_manager)"})
    stages = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True, metadata={
        "description": "handling progress: in_progress 处理中, follow_up 待跟进, resolved 已解决, cancelled"})
    by_month = fields.List(fields.Nested(MonthSchema), required=True)
    by_department = fields.List(fields.Nested(GroupSchema), required=True)
    top_customers = fields.List(fields.Nested(GroupSchema), required=True,
                                metadata={"description": "the customers with most complaints (recurrence)"})
    top_product_models = fields.List(fields.Nested(GroupSchema), required=True,
                                     metadata={"description": "the product models with most complaints"})
    top_complaint_types = fields.List(fields.Nested(GroupSchema), required=True)
    late_now = fields.Nested(LateNowSchema, required=True)
    open_by_age = fields.Nested(OpenByAgeSchema, required=True)
    repairs = fields.Nested(RepairsSchema, required=True, metadata={"description": "repairs registered in the range"})


class WaitingQuerySchema(DateRangeQuerySchema):
    """A process version (the newest when ``version`` is left out) and a period of task creations."""

    process = fields.String(required=True, validate=[FILTER_TEXT, _no_control], metadata={"example": "complaint"})
    version = fields.Integer(validate=validate.Range(min=1, max=1_000_000))


class WaitingElementSchema(Schema):
    kind = fields.String(required=True, metadata={"description": "task, timer, start or end"})
    passed = fields.Integer(required=True, metadata={"description": "finished (tasks), fired (timers), cases"})
    waiting = fields.Integer(required=True, metadata={"description": "tasks ready now"})
    median_s = fields.Float(allow_none=True, required=True, metadata={"description": "median seconds spent"})
    p90_s = fields.Float(allow_none=True, required=True, metadata={"description": "90th percentile seconds spent"})


class WaitingSchema(Schema):
    """Where cases wait: per BPMN element and per sequence flow of the version."""

    process = fields.String(required=True)
    version = fields.Integer(required=True)
    date_from = fields.Date(required=True, data_key="from")
    date_to = fields.Date(required=True, data_key="to")
    elements = fields.Dict(keys=fields.String(), values=fields.Nested(WaitingElementSchema), required=True)
    flows = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                        metadata={"description": "sequence flow id -> times taken"})
