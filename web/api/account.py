"""The caller and their personal API tokens."""
from __future__ import annotations

from caseflow import accounts
from schema import tokens as s
from web import get_db
from web.api.core import ApiError, caller, operation

TAGS = ["account"]


@operation("/me", "GET", summary="Who the token acts as", tags=TAGS, response=s.MeSchema)
def me() -> dict:
    who = caller()
    return {"username": who.username, "display_name": who.display_name, "roles": sorted(who.roles),
            "is_admin": who.is_admin}


@operation("/tokens", "GET", summary="The caller's API tokens", tags=TAGS, response=s.TokenListSchema)
def list_tokens() -> dict:
    """Name, creation, last use and revocation of each token (never the token itself)."""
    return {"items": [accounts.token_dict(t) for t in accounts.list_tokens(get_db(), caller().username)]}


@operation("/tokens", "POST", summary="Create an API token", tags=TAGS, body=s.TokenCreateRequestSchema,
           response=s.TokenCreatedSchema, status=201, errors=(415, 422))
def create_token(body: dict) -> dict:
    """The plain token is in this response only; Caseflow keeps its SHA-256."""
    row, plain = accounts.create_token(get_db(), caller().username, body["name"])
    return {**accounts.token_dict(row), "token": plain}


@operation("/tokens/<int:token_id>", "DELETE", summary="Revoke an API token", tags=TAGS,
           response=s.TokenSchema, errors=(404, 409))
def revoke_token(token_id: int) -> dict:
    """Revoke one of the caller's tokens (not the one this request uses)."""
    if token_id == caller().token_id:
        raise ApiError(409, "conflict", "this request is authenticated with that token; revoke it with another "
                                        "token, in the web UI or with `caseflow tokens revoke`")
    return accounts.token_dict(accounts.revoke_token(get_db(), token_id, caller().username))

