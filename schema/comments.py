"""Comments on an instance (and its tasks), and handing a task on."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from caseflow import limits
from schema.common import DateTimeString, RequestSchema


class CommentSchema(Schema):
    id = fields.Integer(required=True)
    instance_id = fields.Integer(required=True)
    task_id = fields.String(allow_none=True, metadata={"description": "the task commented on, if any"})
    author = fields.String(required=True)
    text = fields.String(required=True, metadata={"description": "empty when deleted"})
    mentions = fields.List(fields.String(), required=True,
                           metadata={"description": "the active users its @username mentions name (notified)"})
    attachment_ids = fields.List(fields.Integer(), required=True)
    created_at = DateTimeString(required=True)
    edited_at = DateTimeString(allow_none=True)
    deleted = fields.Boolean(required=True)
    editable = fields.Boolean(required=True, metadata={"description": "the caller may still edit or delete it"})


class CommentListSchema(Schema):
    instance_id = fields.Integer(required=True)
    items = fields.List(fields.Nested(CommentSchema), required=True)


class CommentCreateSchema(RequestSchema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=limits.MAX_COMMENT_CHARS),
                         metadata={"description": "the comment; `@username` notifies that user"})
    task_id = fields.String(allow_none=True, validate=validate.Length(min=1, max=36),
                            metadata={"description": "a task of this instance to comment on"})


class CommentEditSchema(RequestSchema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=limits.MAX_COMMENT_CHARS))


class DelegateRequestSchema(RequestSchema):
    to = fields.String(required=True, validate=validate.Length(min=1, max=100),
                       metadata={"description": "username of an active user of the task's role"})
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
