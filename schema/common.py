"""Shared fields and schemas: strict scalars, ISO date-time strings, the error body, paging."""
from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate


class StrictBoolean(fields.Boolean):
    """A JSON boolean: ``true``/``false`` only (no 1, "yes", ...)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class QueryBoolean(fields.Boolean):
    """A boolean query parameter: ``true`` or ``false``."""

    def __init__(self, **kwargs: Any):
        super().__init__(truthy={"true"}, falsy={"false"}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if value not in ("true", "false"):
            raise self.make_error("invalid", input=value)
        return value == "true"


class StrictInteger(fields.Integer):
    """A JSON integer (no strings, no booleans)."""

    def __init__(self, **kwargs: Any):
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


class JsonObject(fields.Dict):
    """Any JSON object (process data, form schemas, audit payloads)."""

    def __init__(self, **kwargs: Any):
        super().__init__(keys=fields.String(), **kwargs)


class DateTimeString(fields.String):
    """An ISO 8601 date-time with offset, already formatted by the engine (``format: date-time``)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if isinstance(value, dt.datetime):
            return value.isoformat()
        return super()._serialize(value, attr, obj, **kwargs)


class AwareDateTime(fields.DateTime):
    """A date-time query value; one without offset is read as UTC."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.datetime:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


class RequestSchema(Schema):
    """A request body: unknown fields are an error."""

    class Meta:
        unknown = RAISE


class QuerySchema(Schema):
    """Query parameters (the API refuses unknown ones: `web.api.core.load_query`)."""

    class Meta:
        unknown = EXCLUDE


class ErrorDetailSchema(Schema):
    code = fields.String(required=True, metadata={"description": "machine-readable error code",
                                                  "example": "invalid_data"})
    message = fields.String(required=True, metadata={"description": "what went wrong, for people"})
    fields_ = JsonObject(required=True, data_key="fields", attribute="fields", metadata={
        "description": "field -> message for invalid input (nested fields joined with '.'); "
                       "for a refused deployment: {\"problems\": [{file, element, line, message}]}"})


class ErrorSchema(Schema):
    """The one error body of the API: ``{"error": {"code", "message", "fields"}}``."""

    error = fields.Nested(ErrorDetailSchema, required=True)


class PageQuery(QuerySchema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500),
                           metadata={"description": "at most this many items (1-500)"})
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10_000_000),
                            metadata={"description": "skip this many items"})


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, str]:
    """marshmallow's nested messages as ``{"a.b": "message"}``."""
    out: dict[str, str] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema":
                name = prefix or "_body"
            out.update(flatten_messages(value, name))
    elif isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages):
        out[prefix or "_body"] = " ".join(messages)
    elif isinstance(messages, list):
        for i, value in enumerate(messages):
            out.update(flatten_messages(value, f"{prefix}.{i}" if prefix else str(i)))
    else:
        out[prefix or "_body"] = str(messages)
    return out


__all__ = ["StrictBoolean", "QueryBoolean", "StrictInteger", "JsonObject", "DateTimeString", "AwareDateTime",
           "RequestSchema", "QuerySchema", "ErrorSchema", "ErrorDetailSchema", "PageQuery", "flatten_messages",
           "ValidationError"]
