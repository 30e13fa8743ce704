"""The caller and their personal API tokens."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from schema.common import DateTimeString, RequestSchema


class MeSchema(Schema):
    username = fields.String(required=True)
    display_name = fields.String(allow_none=True)
    roles = fields.List(fields.String(), required=True)
    is_admin = fields.Boolean(required=True)


class TokenSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    created_at = DateTimeString(required=True)
    last_used_at = DateTimeString(allow_none=True)
    revoked_at = DateTimeString(allow_none=True)
    active = fields.Boolean(required=True)


class TokenCreatedSchema(TokenSchema):
    token = fields.String(required=True, metadata={"description": "shown once; only its hash is kept"})


class TokenListSchema(Schema):
    items = fields.List(fields.Nested(TokenSchema), required=True)


class TokenCreateRequestSchema(RequestSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=1024),
                             metadata={"description": "the account's password: a token alone cannot create tokens"})
