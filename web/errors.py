"""One error format for the API (``{"error": {"code", "message", "fields"}}``) and its HTML twin."""
from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import Response, jsonify, render_template, request

import engine

log = logging.getLogger("caseflow.web")


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def json_error(status: int, code: str, message: str, fields: dict[str, Any] | None = None) -> Response:
    response = jsonify(error_body(code, message, fields))
    response.status_code = status
    return response


def engine_error_json(err: engine.EngineError) -> Response:
    """The API response of a typed engine error (status and code from the engine's one table)."""
    kind = engine.describe_error(err)
    # Invalid data: the message names each field's problem too, as the API's own validation does.
    message = str(err) if isinstance(err, engine.InvalidData) else err.message
    return json_error(kind.http_status, kind.api_code, message, err.fields_payload())


def engine_error_response(err: engine.EngineError) -> Any:
    """Map a typed engine error to a JSON (API) or HTML response."""
    if wants_json():
        return engine_error_json(err)
    from web.labels import engine_message  # labels reads bundles through the app's session

    status = engine.describe_error(err).http_status
    return render_template("error.html", status=status, message=engine_message(err)), status


def conflict_response(message: str) -> Any:
    if wants_json():
        return json_error(409, "conflict", message)
    return render_template("error.html", status=409, message=message), 409


def incident_response(err: BaseException) -> Any:
    """A 500 for an unexpected failure: logged with its traceback under an incident id the user sees."""
    incident = uuid.uuid4().hex[:12]
    log.error("incident %s: %s %s: %s", incident, request.method, request.path, err, exc_info=err)
    message = f"an unexpected error occurred (incident {incident}); nothing was stored"
    if wants_json():
        return json_error(500, "internal_error", message, {"incident": incident})
    return render_template("error.html", status=500, message=message), 500
