"""Processes and their deployed versions: list, versions, upload, pin, diagram, diff."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from caseflow.config import MAX_DB_ID
from schema.common import DateTimeString, JsonObject, QueryBoolean, QuerySchema, RequestSchema, StrictInteger


class ProcessSchema(Schema):
    key = fields.String(required=True, metadata={"example": "complaint"})
    name = fields.String(allow_none=True)
    latest_version = fields.Integer(required=True)
    start_version = fields.Integer(required=True, metadata={"description": "the version new instances start on"})
    pinned = fields.Boolean(required=True, metadata={"description": "start_version is pinned by an admin"})
    start_form = fields.String(allow_none=True, metadata={"description": "file name of the start form"})


class ProcessListSchema(Schema):
    items = fields.List(fields.Nested(ProcessSchema), required=True)


class InstanceCountsSchema(Schema):
    running = fields.Integer(required=True)
    waiting = fields.Integer(required=True)
    error = fields.Integer(required=True)
    completed = fields.Integer(required=True)
    cancelled = fields.Integer(required=True)


class VersionSchema(Schema):
    definition_id = fields.Integer(required=True)
    key = fields.String(required=True)
    version = fields.Integer(required=True)
    name = fields.String(allow_none=True)
    content_hash = fields.String(required=True, metadata={"description": "SHA-256 of the bundle and its callees"})
    deployed_at = DateTimeString(allow_none=True)
    deployed_by = fields.String(required=True)
    pinned = fields.Boolean(required=True)
    latest = fields.Boolean(required=True)
    starts_new_instances = fields.Boolean(required=True)
    files = fields.List(fields.String(), metadata={"description": "file names (single version only)"})
    dependencies = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                               metadata={"description": "called process id -> definition id"})
    running_instances = fields.Integer(required=True, metadata={"description": "unfinished instances"})
    instances = fields.Nested(InstanceCountsSchema, required=True)


class VersionListSchema(Schema):
    key = fields.String(required=True)
    items = fields.List(fields.Nested(VersionSchema), required=True)


class PinRequestSchema(RequestSchema):
    version = StrictInteger(required=True, validate=validate.Range(min=1, max=MAX_DB_ID))


class UnpinResponseSchema(Schema):
    key = fields.String(required=True)
    start_version = fields.Integer(required=True)
    definition_id = fields.Integer(required=True)
    previously_pinned = fields.List(fields.Integer(), required=True)


class DeployResultSchema(Schema):
    key = fields.String(required=True)
    version = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["deployed", "unchanged", "valid"]),
                           metadata={"description": "valid: a validation-only run would deploy it as `version`"})
    definition_id = fields.Integer(required=True, allow_none=True,
                                   metadata={"description": "null in a validation-only run for new versions"})
    name = fields.String(allow_none=True)
    bundle = fields.String(allow_none=True)


class DeployResponseSchema(Schema):
    validate_only = fields.Boolean(required=True, metadata={"description": "true: nothing was stored"})
    files = fields.List(fields.String(), required=True, metadata={"description": "the files of the bundle"})
    processes = fields.List(fields.Nested(DeployResultSchema), required=True)


class UploadQuerySchema(QuerySchema):
    validate_only = QueryBoolean(load_default=False, metadata={
        "description": "only validate the bundle and report (nothing is stored)"})


class DiagramSchema(Schema):
    key = fields.String(required=True)
    version = fields.Integer(required=True)
    definition_id = fields.Integer(required=True)
    files = fields.Dict(keys=fields.String(), values=fields.String(), required=True,
                        metadata={"description": "BPMN file name -> XML"})


class DiffQuerySchema(QuerySchema):
    from_version = fields.Integer(required=True, data_key="from", validate=validate.Range(min=1, max=MAX_DB_ID))
    to_version = fields.Integer(required=True, data_key="to", validate=validate.Range(min=1, max=MAX_DB_ID))


class ElementSchema(Schema):
    id = fields.String(required=True)
    type = fields.String(required=True, metadata={"example": "userTask"})
    name = fields.String(allow_none=True)
    file = fields.String(required=True)


class AddedElementSchema(ElementSchema):
    properties = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class PropertyChangeSchema(Schema):
    property = fields.String(required=True, metadata={"example": "parameter days"})
    old = fields.String(allow_none=True)
    new = fields.String(allow_none=True)


class ChangedElementSchema(ElementSchema):
    changes = fields.List(fields.Nested(PropertyChangeSchema), required=True)


class ElementDiffSchema(Schema):
    added = fields.List(fields.Nested(AddedElementSchema), required=True)
    removed = fields.List(fields.Nested(ElementSchema), required=True)
    changed = fields.List(fields.Nested(ChangedElementSchema), required=True)


class FileChangeSchema(Schema):
    file = fields.String(required=True)
    diff = fields.List(fields.String(), required=True, metadata={"description": "unified diff lines"})


class FileDiffSchema(Schema):
    added = fields.List(fields.String(), required=True)
    removed = fields.List(fields.String(), required=True)
    changed = fields.List(fields.Nested(FileChangeSchema), required=True)
    bpmn_added = fields.List(fields.String(), required=True)
    bpmn_removed = fields.List(fields.String(), required=True)


class VersionRefSchema(Schema):
    definition_id = fields.Integer(required=True)
    key = fields.String(required=True)
    version = fields.Integer(required=True)
    content_hash = fields.String(required=True)
    deployed_at = DateTimeString(allow_none=True)
    deployed_by = fields.String(required=True)


class DiffSchema(Schema):
    from_ = fields.Nested(VersionRefSchema, required=True, data_key="from", attribute="from")
    to = fields.Nested(VersionRefSchema, required=True)
    elements = fields.Nested(ElementDiffSchema, required=True)
    files = fields.Nested(FileDiffSchema, required=True)
    layout_changed = fields.Boolean(required=True)
    identical = fields.Boolean(required=True)
    text = fields.List(fields.String(), required=True, metadata={"description": "the diff as plain text lines"})


class StartFormSchema(Schema):
    key = fields.String(required=True)
    version = fields.Integer(required=True)
    form = fields.String(allow_none=True)
    schema = JsonObject(allow_none=True, required=True)
