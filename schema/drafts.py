"""Schemas of ``/api/v1/drafts``: process owners' drafts of a bundle, their check and deploy."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from caseflow import limits
from caseflow.config import MAX_DB_ID
from schema.common import (
    DateTimeString,
    JsonObject,
    QueryBoolean,
    QuerySchema,
    RequestSchema,
    StrictBoolean,
    StrictInteger,
)
from schema.processes import DeployResultSchema, ElementDiffSchema, FileDiffSchema


class DraftCreateSchema(RequestSchema):
    key = fields.String(required=True, validate=validate.Length(min=1, max=200),
                        metadata={"description": "the process key, e.g. complaint"})
    version = StrictInteger(load_default=None, allow_none=True, validate=validate.Range(min=1, max=MAX_DB_ID),
                            metadata={"description": "the deployed version to start from (latest when absent)"})
    blank = StrictBoolean(load_default=False, metadata={
        "description": "true: a new process `key` from the blank template (pool, lanes, start, a user task, end)"})
    name = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=300),
                         metadata={"description": "the new process's name (with `blank`)"})

    @validates_schema
    def _blank_or_version(self, data: dict, **_kwargs: Any) -> None:
        if data.get("blank") and data.get("version") is not None:
            raise ValidationError("a blank draft has no version", field_name="version")


class DraftListQuerySchema(QuerySchema):
    key = fields.String(validate=validate.Length(min=1, max=200))
    status = fields.String(validate=validate.OneOf(["open", "deployed"]))


class DraftFilesQuerySchema(QuerySchema):
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


class DraftDeployQuerySchema(QuerySchema):
    over_newer = QueryBoolean(load_default=False, metadata={
        "description": "deploy a draft made from an older version although newer ones were deployed since "
                       "(their changes are then undone for new cases); without it that is a 409"})


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


class TryAnswerField(fields.Raw):
    """One human task's answer in a try: ``"default"`` (the form's defaults) or an object with
    ``data`` (the form's fields), ``task`` (the BPMN id of the ready task it answers, when several
    are ready) and ``default`` (true: the form's defaults under ``data``)."""

    default_error_messages = {"invalid": 'an answer is "default" or an object with data, task and default'}
    _KEYS = frozenset({"data", "task", "default"})

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if value == "default":
            return value
        if not isinstance(value, dict) or set(value) - self._KEYS:
            raise self.make_error("invalid")
        if "data" in value and not isinstance(value["data"], dict):
            raise ValidationError({"data": ["must be an object"]})
        if "task" in value and not (isinstance(value["task"], str) and 0 < len(value["task"]) <= 200):
            raise ValidationError({"task": ["must be the BPMN id of a task"]})
        if "default" in value and not isinstance(value["default"], bool):
            raise ValidationError({"default": ["must be true or false"]})
        return value


class DraftTrySchema(RequestSchema):
    data = JsonObject(load_default=dict, metadata={"description": "the start data (the start form's fields)"})
    answers = fields.List(TryAnswerField(), load_default=list, validate=validate.Length(max=100), metadata={
        "description": 'the answer of each human task in the order they come up: "default" or {"data": {...}}'})


class TryErrorSchema(Schema):
    message = fields.String(required=True)
    element = fields.String(allow_none=True, metadata={"description": "the BPMN id of the element it stopped at"})


class TryOutputSchema(Schema):
    element = fields.String(required=True)
    name = fields.String(allow_none=True)
    operator = fields.String(allow_none=True, metadata={"description": "the operator a service task called"})
    values = JsonObject(required=True, metadata={"description": "the data the task wrote"})


class TryTaskSchema(Schema):
    element = fields.String(required=True)
    title = fields.String(required=True)
    name_zh = fields.String(allow_none=True)
    role = fields.String(allow_none=True)
    lane = fields.String(allow_none=True)
    form = fields.String(allow_none=True)
    ui_form = fields.String(allow_none=True)
    schema = JsonObject(allow_none=True, metadata={"description": "the JSON Schema of the form it would show"})
    ui_schema = JsonObject(allow_none=True)
    documentation = fields.String(allow_none=True)
    documentation_zh = fields.String(allow_none=True)
    due = fields.Raw(allow_none=True, metadata={"description": "the task's deadline value, when it has one"})
    answer = JsonObject(allow_none=True, metadata={"description": "the data submitted (null: not answered)"})


class TryTimerSchema(Schema):
    task = fields.String(required=True)
    task_id = fields.String(required=True)
    due_at = fields.String(required=True)


class TryEventSchema(Schema):
    kind = fields.String(required=True, metadata={"description": "e.g. notice (an e-mail it would send)"})
    element = fields.String(allow_none=True)
    payload = JsonObject(required=True)


class TryResultSchema(Schema):
    process = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["completed", "needs_answer", "waiting", "error"]),
                           metadata={"description": "completed; needs_answer (a human task has no answer); "
                                                    "waiting (on a timer or message); error"})
    steps = fields.Integer(required=True, metadata={"description": "engine steps run"})
    error = fields.Nested(TryErrorSchema, allow_none=True)
    path = fields.List(fields.String(), required=True, metadata={"description": "elements completed, in order"})
    flows = fields.List(fields.String(), required=True, metadata={"description": "sequence flows followed"})
    outputs = fields.List(fields.Nested(TryOutputSchema), required=True)
    tasks = fields.List(fields.Nested(TryTaskSchema), required=True)
    timers = fields.List(fields.Nested(TryTimerSchema), required=True)
    events = fields.List(fields.Nested(TryEventSchema), required=True)
    data = JsonObject(required=True)


class ScriptCheckSchema(RequestSchema):
    source = fields.String(required=True, validate=validate.Length(max=limits.MAX_SCRIPT_CHARS),
                           metadata={"description": "the script (Python statements) or expression to check"})
    mode = fields.String(load_default="script", validate=validate.OneOf(["script", "expression"]), metadata={
        "description": "script: a script task's body; expression: a flow condition, timer or parameter expression"})


class ScriptCheckResultSchema(Schema):
    ok = fields.Boolean(required=True, metadata={"description": "true: the sandbox accepts it"})
    problems = fields.List(fields.String(), required=True)
