"""The caller and their personal API tokens: list, create and revoke them.

A token alone cannot create tokens: creating one needs the account's password in the same
request (re-authentication, limited like sign-in), so a leaked token cannot mint others that
would outlive its revocation. People also create tokens in the web UI (``/account``) and
operators with ``caseflow tokens create``.
"""
from __future__ import annotations

from caseflow import accounts, store
from schema import tokens as s
from web import get_db, ratelimit
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


@operation("/tokens", "POST", summary="Create an API token (needs the account's password)", tags=TAGS,
           body=s.TokenCreateRequestSchema, response=s.TokenCreatedSchema, status=201, errors=(403, 415, 422, 429))
def create_token(body: dict) -> dict:
    """Re-authenticates with `password` (a token alone cannot create tokens); the plain token is
    in this response only, Caseflow keeps its SHA-256."""
    session = get_db()
    who = caller()
    if not ratelimit.reauthentication_allowed(who.username):
        raise ApiError(429, "too_many_requests", "too many wrong passwords for this account; try again later")
    user = session.get(store.User, who.user_id)
    if user is None or not accounts.password_matches(user, body["password"]):
        ratelimit.reauthentication_failed(who.username)
        raise ApiError(403, "forbidden", "the password does not match: creating a token needs the account's "
                                         "password", fields={"password": "does not match"})
    row, plain = accounts.create_token(session, who.username, body["name"])
    return {**accounts.token_dict(row), "token": plain}


@operation("/tokens/<int:token_id>", "DELETE", summary="Revoke an API token", tags=TAGS,
           response=s.TokenSchema, errors=(404, 409))
def revoke_token(token_id: int) -> dict:
    """Revoke one of the caller's tokens (not the one this request uses)."""
    if token_id == caller().token_id:
        raise ApiError(409, "conflict", "this request is authenticated with that token; revoke it with another "
                                        "token, in the web UI or with `caseflow tokens revoke`")
    return accounts.token_dict(accounts.revoke_token(get_db(), token_id, caller().username))

