"""Human tasks: the caller's ready tasks, one task with its form, claim, complete."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from caseflow.config import MAX_DB_ID
from schema.common import DateTimeString, JsonObject, PageQuery, RequestSchema


class TaskSchema(Schema):
    id = fields.String(required=True)
    instance_id = fields.Integer(required=True)
    process_key = fields.String(required=True)
    business_key = fields.String(allow_none=True)
    name = fields.String(required=True, metadata={"description": "BPMN element id"})
    title = fields.String(required=True)
    role = fields.String(allow_none=True)
    lane = fields.String(allow_none=True)
    assignee = fields.String(allow_none=True)
    form = fields.String(allow_none=True)
    state = fields.String(required=True, validate=validate.OneOf(["ready", "completed", "cancelled"]))
    due_at = DateTimeString(allow_none=True)
    created_at = DateTimeString(allow_none=True)
    completed_at = DateTimeString(allow_none=True)
    completed_by = fields.String(allow_none=True)


class TaskDetailSchema(TaskSchema):
    schema = JsonObject(allow_none=True, required=True, metadata={"description": "the form's JSON Schema"})
    ui_schema = JsonObject(allow_none=True, required=True)
    documentation = fields.String(allow_none=True)
    documentation_zh = fields.String(allow_none=True, metadata={"description": "the documentation in Chinese"})
    data = JsonObject(required=True, metadata={"description": "the process data"})


class TaskListQuerySchema(PageQuery):
    role = fields.String(validate=validate.Length(min=1, max=100),
                         metadata={"description": "only this role (one of the caller's roles)"})
    process = fields.String(validate=validate.Length(min=1, max=200))
    instance = fields.Integer(validate=validate.Range(min=1, max=MAX_DB_ID))
    assignee = fields.String(validate=validate.OneOf(["me"]), metadata={"description": "`me`: claimed by the caller"})
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=500),
                           metadata={"description": "at most this many items (1-500)"})


class TaskListSchema(Schema):
    items = fields.List(fields.Nested(TaskSchema), required=True)
    total = fields.Integer(required=True, metadata={"description": "ready tasks the filters select, all pages"})
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)


class CompleteRequestSchema(RequestSchema):
    data = JsonObject(required=True, metadata={"description": "the form data"})
