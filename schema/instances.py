"""Process instances: start, list, get, cancel, retry, audit log, migration."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from caseflow.config import MAX_DB_ID
from schema.common import (
    AwareDateTime,
    DateTimeString,
    JsonObject,
    PageQuery,
    RequestSchema,
    StrictBoolean,
    StrictInteger,
)
from schema.tasks import TaskSchema

STATUSES = ["running", "waiting", "error", "completed", "cancelled"]
_ID = validate.Range(min=1, max=MAX_DB_ID)


class StartRequestSchema(RequestSchema):
    process = fields.String(required=True, validate=validate.Length(min=1, max=200),
                            metadata={"description": "process key", "example": "complaint"})
    data = JsonObject(load_default=dict, metadata={"description": "start form data"})
    version = StrictInteger(allow_none=True, validate=validate.Range(min=1, max=MAX_DB_ID),
                            metadata={"description": "start on this version (admins only)"})


class InstanceErrorSchema(Schema):
    message = fields.String(allow_none=True)
    task = fields.String(allow_none=True)


class TimerSchema(Schema):
    task = fields.String(required=True)
    task_id = fields.String(required=True)
    due_at = DateTimeString(required=True)


class _InstanceFields(Schema):
    """Fields shared by the full instance and its list summary."""

    id = fields.Integer(required=True)
    process_key = fields.String(required=True)
    version = fields.Integer(required=True)
    definition_id = fields.Integer(required=True)
    business_key = fields.String(allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    started_by = fields.String(required=True)
    created_at = DateTimeString(required=True)
    updated_at = DateTimeString(allow_none=True)
    completed_at = DateTimeString(allow_none=True)
    outcome = fields.String(allow_none=True, metadata={
        "description": "how a completed case ended (its process manifest's outcome, e.g. rejected, abandoned, "
                       "returned_unrepaired); null while it runs or when its process declares none",
        "example": "rejected"})


class InstanceSchema(_InstanceFields):
    error = fields.Nested(InstanceErrorSchema, allow_none=True, required=True)
    data = JsonObject(required=True)
    tasks = fields.List(fields.Nested(TaskSchema), required=True, metadata={"description": "ready tasks"})
    timers = fields.List(fields.Nested(TimerSchema), required=True)


class InstanceSummarySchema(_InstanceFields):
    error = fields.String(allow_none=True)


class InstanceListQuerySchema(PageQuery):
    process = fields.String(validate=validate.Length(min=1, max=200), metadata={"description": "process key"})
    version = fields.Integer(validate=validate.Range(min=1, max=MAX_DB_ID),
                             metadata={"description": "only this version of `process`"})
    status = fields.String(validate=validate.OneOf(STATUSES))
    business_key = fields.String(validate=validate.Length(min=1, max=100))
    created_from = AwareDateTime(metadata={"description": "created at or after (ISO 8601)"})
    created_to = AwareDateTime(metadata={"description": "created before (ISO 8601)"})


class InstanceListSchema(Schema):
    items = fields.List(fields.Nested(InstanceSummarySchema), required=True)
    total = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)


class CancelRequestSchema(RequestSchema):
    reason = fields.String(allow_none=True, validate=validate.Length(max=2000))


class AuditEventSchema(Schema):
    at = DateTimeString(required=True)
    actor = fields.String(required=True)
    kind = fields.String(required=True, metadata={"example": "task_completed"})
    task = fields.String(allow_none=True)
    payload = JsonObject(required=True)


class AuditListSchema(Schema):
    instance_id = fields.Integer(required=True)
    items = fields.List(fields.Nested(AuditEventSchema), required=True)


class _TargetMixin:
    @validates_schema
    def _one_target(self, data: dict, **_kwargs: object) -> None:
        if (data.get("to_version") is None) == (data.get("to_definition_id") is None):
            raise ValidationError("give exactly one of to_version and to_definition_id", "to_version")


class MigrateRequestSchema(_TargetMixin, RequestSchema):
    to_version = StrictInteger(allow_none=True, validate=validate.Range(min=1, max=MAX_DB_ID),
                               metadata={"description": "target version of the instance's process"})
    to_definition_id = StrictInteger(allow_none=True, validate=_ID)
    dry_run = StrictBoolean(load_default=False, metadata={"description": "only report whether it can move"})


class BulkMigrateRequestSchema(_TargetMixin, RequestSchema):
    process = fields.String(required=True, validate=validate.Length(min=1, max=200))
    to_version = StrictInteger(allow_none=True, validate=validate.Range(min=1, max=MAX_DB_ID))
    to_definition_id = StrictInteger(allow_none=True, validate=_ID)
    instance_ids = fields.List(StrictInteger(validate=_ID), validate=validate.Length(min=1, max=10_000),
                               metadata={"description": "these instances"})
    from_version = StrictInteger(validate=validate.Range(min=1, max=MAX_DB_ID),
                                 metadata={"description": "every unfinished instance of this version"})
    all = StrictBoolean(metadata={"description": "every unfinished instance of the process"})
    dry_run = StrictBoolean(load_default=False)

    @validates_schema
    def _one_selection(self, data: dict, **_kwargs: object) -> None:
        chosen = [k for k in ("instance_ids", "from_version") if data.get(k) is not None]
        if data.get("all"):
            chosen.append("all")
        if len(chosen) != 1:
            raise ValidationError("choose the instances with exactly one of instance_ids, from_version, all=true",
                                  "instance_ids")


class MigrationTaskSchema(Schema):
    task = fields.String(required=True)
    title = fields.String(allow_none=True)
    state = fields.String(required=True)


class MigrationEntrySchema(Schema):
    instance_id = fields.Integer(required=True)
    business_key = fields.String(allow_none=True)
    status = fields.String(allow_none=True)
    from_version = fields.Integer(allow_none=True)
    from_definition_id = fields.Integer(allow_none=True)
    to_version = fields.Integer(required=True)
    to_definition_id = fields.Integer(required=True)
    can_migrate = fields.Boolean(required=True)
    migrated = fields.Boolean(required=True)
    reasons = fields.List(fields.String(), required=True, metadata={"description": "why it cannot move"})
    notes = fields.List(fields.String(), required=True)
    tasks = fields.List(fields.Nested(MigrationTaskSchema), required=True,
                        metadata={"description": "where the instance is (before the migration)"})


class MigrationReportSchema(Schema):
    key = fields.String(required=True)
    to_version = fields.Integer(required=True)
    to_definition_id = fields.Integer(required=True)
    dry_run = fields.Boolean(required=True)
    requested = fields.Integer(required=True)
    can_migrate = fields.Integer(required=True)
    migrated = fields.Integer(required=True)
    refused = fields.Integer(required=True)
    migration = fields.String(allow_none=True, metadata={"description": "id of the migration in the audit log"})
    instances = fields.List(fields.Nested(MigrationEntrySchema), required=True)
