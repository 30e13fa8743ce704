"""Blueprints of the staff UI (and the REST API's), the sign-in gate and HTML error pages."""
from __future__ import annotations

import importlib.util
import re
from typing import Any

from flask import Flask, render_template, request
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, NotFound

import engine
from caseflow.config import MAX_DB_ID
from web import templating
from web.errors import engine_error_response, incident_response, json_error, wants_json
from web.extensions import login_manager

# Endpoints reachable without signing in (the API authenticates with its own bearer tokens).
PUBLIC_ENDPOINTS = {"auth.login", "auth.set_language", "static", "cases.favicon"}

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def register(app: Flask) -> None:
    """Register the API blueprint and the UI blueprints, with their shared hooks."""
    from web.api import bp as api_bp
    from web.views import account, admin, auth, cases, complaints, inbox, printouts, reports, start, tasks

    app.register_blueprint(api_bp)
    for module in (auth, inbox, tasks, start, cases, complaints, printouts, admin, account, reports):
        app.register_blueprint(module.bp)
    from web.views import modeler  # /admin/processes/<key>/modeler, for process owners and admins

    app.register_blueprint(modeler.bp)
    from web.views import notifications  # /notifications (the bell) and /admin/notifications

    app.register_blueprint(notifications.bp)
    from web.views import absence, comments, delegation, search  # collaboration: comments, hand-on, absences, search

    for module in (comments, delegation, absence, search):
        app.register_blueprint(module.bp)
    if importlib.util.find_spec("web.admin_versions") is not None:  # /admin/processes, built beside this UI
        from web.admin_versions import bp as versions_bp

        app.register_blueprint(versions_bp)
    templating.init_app(app)

    @app.before_request
    def _require_sign_in() -> Any:
        if request.blueprint == "api" or request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
            return None
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return None

    @app.after_request
    def _security_headers(response: Any) -> Any:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if request.blueprint != "api":
            response.headers.setdefault("X-Frame-Options", "DENY")
            response.headers.setdefault("Referrer-Policy", "same-origin")
            response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if response.mimetype == "text/html" and current_user.is_authenticated:  # JSON answers load no user
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(engine.EngineError)
    def _engine_error(err: engine.EngineError) -> Any:
        return engine_error_response(err)

    @app.errorhandler(CSRFError)
    def _csrf_error(err: CSRFError) -> Any:
        message = _("The form has expired or did not come from this site. Go back, reload the page and try again.")
        return render_template("error.html", status=400, message=message), 400

    @app.errorhandler(InternalServerError)
    def _incident(err: InternalServerError) -> Any:  # an unexpected failure: logged with the id users see
        return incident_response(err.original_exception or err)

    def _http_message(err: HTTPException) -> str:
        messages = {
            403: _("You do not have permission to see this page or do this."),
            404: _("This page does not exist."),
            413: _("The upload is too large."),
        }
        return messages.get(err.code or 500, err.description or "")

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException) -> Any:
        if err.code == 405 and any(int(n) > MAX_DB_ID for n in re.findall(r"/(\d+)(?=/|$)", request.path)):
            err = NotFound()  # an id beyond any database id matches no rule (werkzeug says 405 when
            # a rule of another method has the same path): there is no such resource
        if wants_json():
            description = err.description or ""
            if err.code == 404 and description == NotFound.description:  # no route: say what, not "check your spelling"
                description = (f"nothing is at {request.path[:200]} (ids are whole numbers from 1 to {MAX_DB_ID}; "
                               "see /api/v1/openapi.json for the paths)")
            return json_error(err.code or 500, (err.name or "error").lower().replace(" ", "_"), description)
        from web.portal.common import error_page, is_portal_request, language  # lazily: the portal imports web

        if is_portal_request():  # a customer: the portal's own page, in their language
            with force_locale(language()):
                return error_page(err.code or 500, _http_message(err))
        message = _http_message(err)
        return render_template("error.html", status=err.code, message=message), err.code or 500
