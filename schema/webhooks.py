"""Webhook registrations of integrators and their delivery log (admin only)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from caseflow.store_features import WEBHOOK_KINDS
from schema.common import DateTimeString, JsonObject, QuerySchema, RequestSchema

KIND_HELP = ("events delivered: " + ", ".join(WEBHOOK_KINDS))
URL_HELP = "an http:// or https:// address that accepts JSON POSTs"
SECRET_HELP = ("16 to 200 characters; each delivery carries `X-Caseflow-Signature: sha256=<hex>`, the "
               "HMAC-SHA256 of the exact body bytes with this secret")


def _kinds(**kwargs: object) -> fields.List:
    return fields.List(fields.String(validate=validate.OneOf(WEBHOOK_KINDS)), validate=validate.Length(min=1),
                       metadata={"description": KIND_HELP}, **kwargs)  # type: ignore[arg-type]


class WebhookSchema(Schema):
    id = fields.Integer(required=True)
    url = fields.String(required=True)
    kinds = fields.List(fields.String(), required=True, metadata={"description": KIND_HELP})
    created_by = fields.String(required=True)
    created_at = DateTimeString(required=True)


class WebhookListSchema(Schema):
    items = fields.List(fields.Nested(WebhookSchema), required=True)


class WebhookCreateSchema(RequestSchema):
    url = fields.String(required=True, validate=validate.Length(min=1, max=2000), metadata={"description": URL_HELP})
    secret = fields.String(required=True, validate=validate.Length(min=16, max=200),
                           load_only=True, metadata={"description": SECRET_HELP})
    kinds = _kinds(required=True)


class WebhookUpdateSchema(RequestSchema):
    url = fields.String(validate=validate.Length(min=1, max=2000), metadata={"description": URL_HELP})
    secret = fields.String(validate=validate.Length(min=16, max=200), load_only=True,
                           metadata={"description": SECRET_HELP})
    kinds = _kinds()

    @validates_schema
    def _something(self, data: dict, **_kwargs: object) -> None:
        if not data:
            raise ValidationError("give at least one of url, secret, kinds")


class DeliverySchema(Schema):
    id = fields.Integer(required=True, metadata={"description": "the delivery id (`delivery` in the body, "
                                                                 "`X-Caseflow-Delivery`): the same on every retry"})
    kind = fields.String(required=True, metadata={"description": "the event kind"})
    url = fields.String(required=True, attribute="recipient")
    status = fields.String(required=True, metadata={"description": "pending, sending, sent or failed"})
    attempts = fields.Integer(required=True)
    last_error = fields.String(allow_none=True)
    created_at = DateTimeString(required=True)
    next_attempt_at = DateTimeString(required=True)
    sent_at = DateTimeString(allow_none=True)
    instance_id = fields.Integer(allow_none=True)
    event = JsonObject(required=True, metadata={"description": "the event's JSON as delivered (without `delivery`)"})


class DeliveryListSchema(Schema):
    webhook_id = fields.Integer(required=True)
    items = fields.List(fields.Nested(DeliverySchema), required=True)


class DeliveryQuery(QuerySchema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500),
                           metadata={"description": "the newest this many deliveries (1-500)"})
