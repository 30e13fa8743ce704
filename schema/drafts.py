"""Schemas of ``/api/v1/drafts``: process owners' drafts of a bundle, their check and deploy."""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from caseflow.config import MAX_DB_ID
from schema.common import DateTimeString, QuerySchema, RequestSchema, StrictInteger
from schema.processes import DeployResultSchema, ElementDiffSchema, FileDiffSchema


class DraftCreateSchema(RequestSchema):
    key = fields.String(required=True, validate=validate.Length(min=1, max=200),
                        metadata={"description": "the process key, e.g. complaint"})
    version = StrictInteger(load_default=None, allow_none=True, validate=validate.Range(min=1, max=MAX_DB_ID),
                            metadata={"description": "the deployed version to start from (latest when absent)"})


class _StrictQuery(QuerySchema):
    """Query parameters of the drafts API: an unknown one is an error (422), not silently ignored."""

    class Meta:
        unknown = RAISE


class DraftListQuerySchema(_StrictQuery):
    key = fields.String(validate=validate.Length(min=1, max=200))
    status = fields.String(validate=validate.OneOf(["open", "deployed"]))


class DraftFilesQuerySchema(_StrictQuery):
    row_version = fields.Integer(validate=validate.Range(min=1, max=MAX_DB_ID), metadata={
        "description": "the draft's row_version the change is based on: 409 when it changed meanwhile"})


class DraftSchema(Schema):
    id = fields.Integer(required=True)
    key = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["open", "deployed"]))
    base_version = fields.Integer(allow_none=True)
    base_definition_id = fields.Integer(allow_none=True)
    author = fields.String(required=True)
    created_at = DateTimeString(required=True)
    updated_at = DateTimeString(required=True)
    updated_by = fields.String(required=True)
    row_version = fields.Integer(required=True)
    deployed_definition_id = fields.Integer(allow_none=True)
    deployed_at = DateTimeString(allow_none=True)
    deployed_by = fields.String(allow_none=True)
    file_names = fields.List(fields.String(), allow_none=True)
    files = fields.Dict(keys=fields.String(), values=fields.String(),
                        metadata={"description": "file name -> text (single draft only)"})


class DraftListSchema(Schema):
    items = fields.List(fields.Nested(DraftSchema), required=True)


class ProblemSchema(Schema):
    file = fields.String(allow_none=True)
    element = fields.String(allow_none=True, metadata={"description": "the BPMN id of the element at fault"})
    line = fields.Integer(allow_none=True)
    message = fields.String(required=True)


class CheckSchema(Schema):
    ok = fields.Boolean(required=True, metadata={"description": "true: the draft would deploy"})
    problems = fields.List(fields.Nested(ProblemSchema), required=True)


class DraftDeploySchema(Schema):
    validate_only = fields.Boolean(required=True)
    files = fields.List(fields.String(), required=True)
    processes = fields.List(fields.Nested(DeployResultSchema), required=True)
    draft = fields.Nested(DraftSchema, required=True)


class OperatorParamSchema(Schema):
    name = fields.String(required=True)
    type = fields.String(required=True)
    required = fields.Boolean(required=True)
    default = fields.Raw(allow_none=True)
    doc = fields.String(required=True)


class OperatorSchema(Schema):
    name = fields.String(required=True)
    doc = fields.String(required=True)
    params = fields.List(fields.Nested(OperatorParamSchema), required=True)


class OperatorListSchema(Schema):
    items = fields.List(fields.Nested(OperatorSchema), required=True)


class DraftDiffSchema(Schema):
    draft_id = fields.Integer(required=True)
    key = fields.String(required=True)
    base_version = fields.Integer(allow_none=True, metadata={"description": "the version the draft started from"})
    elements = fields.Nested(ElementDiffSchema, required=True)
    files = fields.Nested(FileDiffSchema, required=True)
    layout_changed = fields.Boolean(required=True)
    identical = fields.Boolean(required=True)
    text = fields.List(fields.String(), required=True, metadata={"description": "the diff as plain text lines"})
