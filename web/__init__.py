"""The Flask web UI and REST API: an app factory with blueprints, thin over the engine.

One SQLAlchemy session per request (``g.db``), committed when the view returns without
error and rolled back otherwise: a request is one transaction.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, g
from sqlalchemy.orm import Session
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from caseflow import config, store

SECRET_FILE_NAME = "secret_key"


def _secret_key(settings: config.Settings) -> str:
    """The configured secret, else one generated once and kept in the instance folder."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.instance_dir / SECRET_FILE_NAME
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


class DatabaseIdConverter(IntegerConverter):
    """``<int:...>`` limited to what a BIGINT column holds (larger ids do not match: 404)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002 - werkzeug's name
        kwargs.setdefault("max", config.MAX_DB_ID)
        super().__init__(map, *args, **kwargs)


def create_app(overrides: dict[str, Any] | None = None, database: store.Database | None = None) -> Flask:
    """Build the Flask app; ``overrides`` set Flask config (tests), ``database`` an existing handle."""
    settings = config.load()
    app = Flask(__name__, instance_path=str(settings.instance_dir), instance_relative_config=False)
    app.config.update(
        SECRET_KEY=_secret_key(settings),
        CASEFLOW_SETTINGS=settings,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        MAX_CONTENT_LENGTH=settings.max_attachment_bytes + 1024 * 1024,
        ATTACHMENT_DIR=str(settings.attachment_dir),
        WTF_CSRF_TIME_LIMIT=None,
    )
    if overrides:
        app.config.update(overrides)
    if settings.proxy_fix > 0:
        # Client address, scheme (HTTPS: Secure cookies), host and port as the trusted proxies saw them.
        hops = settings.proxy_fix
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]  # Flask's documented way to wrap it
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)

    db = database or store.Database(app.config.get("DATABASE_URL", settings.database_url))
    if database is None:
        db.upgrade()
    app.extensions["caseflow_db"] = db

    @app.after_request
    def _commit_session(response: Any) -> Any:
        # Commit before the response leaves, so a failed commit is never reported as success.
        session: Session | None = g.get("db")
        if session is None or g.get("db_rollback") or response.status_code >= 400:
            return response
        try:
            session.commit()
        except Exception as err:
            from web import errors

            session.rollback()
            if store.is_conflict(err):
                app.logger.info("commit lost to a concurrent change: %s", err)
                return errors.conflict_response("the change could not be saved because the case changed meanwhile")
            return errors.incident_response(err)
        return response

    @app.teardown_request
    def _close_session(exc: BaseException | None) -> None:
        session: Session | None = g.pop("db", None)
        if session is not None:
            session.rollback()  # anything not committed above
            session.close()

    # Ids in URLs are database integers: a larger number is simply "not found", never an overflow.
    app.url_map.converters["int"] = DatabaseIdConverter

    from web import extensions

    extensions.init_app(app)
    _register_blueprints(app)
    from web import input_guard

    input_guard.init_app(app)  # first of the before-request hooks: text limits of every request
    return app


def _register_blueprints(app: Flask) -> None:
    from web.views import register

    register(app)
    from web import portal  # /portal: the customer's pages (public) and staff acting for the customer

    portal.init_app(app)


def get_db() -> Session:
    """The request's session (opened on first use)."""
    from flask import current_app

    if "db" not in g:
        g.db = current_app.extensions["caseflow_db"].sessionmaker()
    return g.db


def rollback_request() -> None:
    """Mark the request's transaction to be rolled back instead of committed."""
    g.db_rollback = True


def static_vendor_dir() -> Path:
    """Where the npm-installed front-end libraries (bpmn-js) are copied at set-up."""
    return Path(__file__).resolve().parent / "static" / "vendor"
