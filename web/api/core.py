"""The machinery every API view uses: operations registered with their schemas (for the
OpenAPI document), bearer-token authentication, request parsing and the error format."""
from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import Response, current_app, g, jsonify, request
from flask_limiter import RateLimitExceeded
from marshmallow import RAISE, Schema, ValidationError
from werkzeug.exceptions import HTTPException

import engine
from caseflow import accounts, limits
from caseflow.config import MAX_DB_ID
from caseflow.uploads import UploadRejected
from schema.common import flatten_messages
from web import get_db, ratelimit
from web.api import bp
from web.errors import engine_error_json, incident_response, json_error

JSON = "application/json"
MULTIPART = "multipart/form-data"

ERROR_TEXT = {
    400: "The request is malformed (e.g. the body is not JSON).",
    401: "No valid API token: send `Authorization: Bearer <token>`.",
    403: "The caller's roles do not allow this.",
    404: "No such resource.",
    405: "The method is not allowed here.",
    409: "Conflict with the current state (e.g. the task is no longer ready).",
    413: "The upload or the submitted data is too large (see `fields`).",
    415: "Unsupported content type (send application/json).",
    422: "The input is not valid; `fields` names each problem.",
    429: "Too many rejected API tokens from this address; wait `Retry-After` seconds.",
}


@dataclass
class Operation:
    """One API operation, as registered on the blueprint and described in the OpenAPI document."""

    rule: str
    method: str
    endpoint: str
    summary: str
    description: str
    tags: list[str]
    body: type[Schema] | None = None
    multipart: dict | None = None
    query: type[Schema] | None = None
    response: type[Schema] | None = None
    status: int = 200
    other_statuses: tuple[int, ...] = ()  # further success statuses the view may answer with
    errors: set[int] = field(default_factory=set)
    auth: bool = True
    admin: bool = False

    @property
    def path(self) -> str:
        return "/api/v1" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", self.rule)

    @property
    def path_params(self) -> list[tuple[str, str]]:
        return [(name, conv or "string") for conv, name in re.findall(r"<(?:(\w+):)?(\w+)>", self.rule)]


OPERATIONS: list[Operation] = []


def caller() -> accounts.ApiCaller:
    return g.api_caller


def actor() -> str:
    return caller().username


def engine_actor() -> engine.Actor:
    """The caller as the engine's actor (the engine enforces roles on task actions; admins act on all)."""
    user = caller()
    return engine.Actor.person(user.username, user.roles)


def _authenticate(admin: bool) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "send a personal API token as `Authorization: Bearer <token>`")
    who = accounts.authenticate_token(get_db(), token.strip())
    if who is None:
        g.api_token_rejected = True  # counted by the per-address limit (web/ratelimit.py)
        raise ApiError(401, "unauthorized", "the API token is unknown, revoked or its user is deactivated")
    g.api_caller = who
    if admin and not who.is_admin:
        raise ApiError(403, "forbidden", "this operation needs the admin role")


_SCHEMAS: dict[type[Schema], Schema] = {}


def schema_instance(schema: type[Schema] | Schema) -> Schema:
    """The one shared instance of ``schema`` (built on first use; marshmallow keeps no per-call state
    on an instance, so building one per request would only repeat the field set-up)."""
    if isinstance(schema, Schema):
        return schema
    found = _SCHEMAS.get(schema)
    if found is None:
        found = _SCHEMAS.setdefault(schema, schema())
    return found


def load_json(schema: type[Schema] | Schema) -> dict:
    """The request body, validated by ``schema`` (415 not JSON, 400 malformed, 413 too large,
    422 invalid: too deep, non-finite numbers, control characters... see ``caseflow.limits``)."""
    if (request.content_length or 0) > limits.MAX_DATA_CHARS * 2:
        raise ApiError(413, "too_large", f"the body is too large (at most {limits.MAX_DATA_CHARS // 1024} KB)")
    json_type = request.mimetype == JSON or request.mimetype.endswith("+json")
    if request.content_length and not json_type:  # before reading: a form body is parsed (and used up) elsewhere
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    raw = request.get_data(cache=True)
    if not raw:  # no body at all: no fields (blank text is not JSON)
        payload: Any = {}
    else:
        if not json_type:
            raise ApiError(415, "unsupported_media_type", "send the body as application/json")
        try:
            payload = limits.loads(raw)
        except limits.DataRejected as err:
            if err.too_large:
                raise ApiError(413, "too_large", str(err), {err.field: err.reason}) from None
            if err.malformed:
                raise ApiError(400, "bad_request", err.reason) from None
            raise ApiError(422, "invalid_data", f"the body is not acceptable: {err}", {err.field: err.reason}) from None
    if not isinstance(payload, dict):
        raise ApiError(422, "invalid_data", "the body must be a JSON object", {"_body": "must be an object"})
    return schema_instance(schema).load(payload)


def load_query(schema: type[Schema] | Schema | None) -> dict:
    """The query string, validated by ``schema``; a parameter the operation does not take is
    refused (422, named in ``fields``), so a misspelt filter never silently selects everything."""
    args = {k: v for k, v in request.args.items()}
    if schema is None:
        if args:
            raise ValidationError({name: ["Unknown field."] for name in args})
        return {}
    return schema_instance(schema).load(args, unknown=RAISE)


class ApiError(Exception):
    """An error answered in the API's error format."""

    def __init__(self, status: int, code: str, message: str, fields: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields or {}


def operation(rule: str, method: str, *, summary: str, tags: list[str], description: str = "",
              body: type[Schema] | None = None, multipart: dict | None = None, query: type[Schema] | None = None,
              response: type[Schema] | None = None, status: int = 200, other_statuses: tuple[int, ...] = (),
              errors: tuple[int, ...] = (), auth: bool = True, admin: bool = False) -> Callable:
    """Register a view on the API blueprint and describe it for the OpenAPI document.

    The view receives path arguments plus ``body`` and/or ``query`` (validated dicts) and
    returns data dumped with ``response`` (or a ready ``Response``), answered with ``status``;
    a view with ``other_statuses`` may return ``(data, one_of_them)`` instead.
    """

    def decorate(fn: Callable) -> Callable:
        op = Operation(rule, method, fn.__name__, summary, description or inspect.cleandoc(fn.__doc__ or ""), tags,
                       body, multipart, query, response, status, other_statuses, set(errors), auth, admin)
        # Built once here, not per request.
        body_schema = schema_instance(body) if body is not None else None
        query_schema = schema_instance(query) if query is not None else None
        response_schema = schema_instance(response) if response is not None else None

        @wraps(fn)
        def view(**kwargs: Any) -> Any:
            for name, value in kwargs.items():
                if isinstance(value, int) and not 0 < value <= MAX_DB_ID:
                    raise ApiError(404, "not_found", f"no resource with {name} {value}")
            if auth:
                _authenticate(admin)
            query_args = load_query(query_schema)
            if query_schema is not None:
                kwargs["query"] = query_args
            if body_schema is not None:
                kwargs["body"] = load_json(body_schema)
            result = fn(**kwargs)
            if isinstance(result, Response):
                return result
            answer = status
            if isinstance(result, tuple):
                result, answer = result
                assert answer in (status, *other_statuses), f"{fn.__name__} answers {answer}, not declared"
            payload = response_schema.dump(result) if response_schema is not None else result
            out = jsonify(payload)
            out.status_code = answer
            return out

        bp.add_url_rule(rule, fn.__name__, ratelimit.api_token_limit(view) if auth else view, methods=[method])
        OPERATIONS.append(op)
        return fn

    return decorate


# --- errors: one format for everything under /api/v1 ---


def _error(status: int, code: str, message: str, fields: dict | None = None) -> Response:
    response = json_error(status, code, message, fields)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="caseflow"'
    return response


@bp.errorhandler(ApiError)
def _api_error(err: ApiError) -> Response:
    return _error(err.status, err.code, err.message, err.fields)


@bp.errorhandler(ValidationError)
def _validation_error(err: ValidationError) -> Response:
    fields = flatten_messages(err.messages)
    return _error(422, "invalid_data", "the request is not valid: " +
                  "; ".join(f"{k}: {v}" for k, v in fields.items()), fields)


@bp.errorhandler(engine.EngineError)
def _engine_error(err: engine.EngineError) -> Response:
    return engine_error_json(err)


@bp.errorhandler(UploadRejected)
def _upload_rejected(err: UploadRejected) -> Response:
    return _error(422, "deploy_rejected", "the upload is not a usable bundle:\n" +
                  "\n".join(f"  {p}" for p in err.problems), {"problems": [p.as_dict() for p in err.problems]})


@bp.errorhandler(RateLimitExceeded)
def _rate_limited(err: RateLimitExceeded) -> Response:
    response = _error(429, "too_many_requests", err.description or "too many requests")
    response.headers["Retry-After"] = str(ratelimit.retry_after())
    return response


@bp.errorhandler(accounts.TokenError)
def _token_error(err: accounts.TokenError) -> Response:
    return _error(404, "not_found", str(err))


@bp.errorhandler(HTTPException)
def _http_error(err: HTTPException) -> Response:
    status = err.code or 500
    code = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
            409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid_data"}.get(
        status, re.sub(r"\W+", "_", (err.name or "error").lower()))
    response = _error(status, code, err.description or err.name or "error")
    valid_methods = getattr(err, "valid_methods", None)  # set on MethodNotAllowed
    if status == 405 and valid_methods:
        response.headers["Allow"] = ", ".join(valid_methods)
    return response


@bp.errorhandler(Exception)
def _unexpected(err: Exception) -> Response:
    if isinstance(err, HTTPException):  # pragma: no cover - handled above
        return _http_error(err)
    return incident_response(err)  # logged under the incident id the answer names


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@bp.route("/<path:_rest>", methods=list(_METHODS))
def not_found(_rest: str) -> Response:
    """Unknown API paths (and known paths with another method) answer in the API's format."""
    adapter = current_app.url_map.bind("localhost")
    allowed = []
    for method in _METHODS:
        try:
            endpoint, _args = adapter.match(request.path, method=method)
        except HTTPException:
            continue
        if endpoint != "api.not_found":
            allowed.append(method)
    if allowed:
        response = _error(405, "method_not_allowed", f"{request.method} is not allowed here; use {', '.join(allowed)}")
        response.headers["Allow"] = ", ".join(allowed)
        return response
    return _error(404, "not_found", f"no API resource at {request.path}")


@bp.after_request
def _api_headers(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response
