"""One error format for the API (``{"error": {"code", "message", "fields"}}``) and its HTML twin."""
from __future__ import annotations

from typing import Any

from flask import Response, jsonify, render_template, request

import engine

ERROR_STATUS = {
    engine.NotFound: 404,
    engine.Forbidden: 403,
    engine.Conflict: 409,
    engine.InvalidData: 422,
    engine.DeployRejected: 422,
    engine.InstanceError: 409,
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def json_error(status: int, code: str, message: str, fields: dict[str, Any] | None = None) -> Response:
    response = jsonify(error_body(code, message, fields))
    response.status_code = status
    return response


def engine_error_fields(err: engine.EngineError) -> dict[str, Any]:
    if isinstance(err, engine.InvalidData):
        return dict(err.fields)
    if isinstance(err, engine.DeployRejected):
        return {"problems": [p.as_dict() for p in err.problems]}
    return {}


def engine_error_response(err: engine.EngineError) -> Any:
    """Map a typed engine error to a JSON (API) or HTML response."""
    status = ERROR_STATUS.get(type(err), 400)
    message = err.message if isinstance(err, engine.InvalidData) else str(err)
    if wants_json():
        return json_error(status, err.code, message, engine_error_fields(err))
    return render_template("error.html", status=status, message=message), status


def conflict_response(message: str) -> Any:
    if wants_json():
        return json_error(409, "conflict", message)
    return render_template("error.html", status=409, message=message), 409
