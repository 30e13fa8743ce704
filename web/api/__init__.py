"""The REST API under /api/v1 (blueprint ``bp``): JSON only, personal bearer tokens.

Operations are declared in ``processes``, ``instances``, ``tasks`` and ``account`` with the
marshmallow schemas of ``schema/``; ``docs`` builds the OpenAPI document from them. Every
error is ``{"error": {"code", "message", "fields"}}`` (see ``core``).
"""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from web.api import (  # noqa: E402,F401,E501
    account,
    comments,  # noqa: E402,F401  # comments and delegation (collaboration)
    core,
    docs,
    drafts,
    instances,
    processes,
    reports,
    tasks,
    webhooks,  # noqa: E402,F401  # integrators' webhooks (admin)
)
