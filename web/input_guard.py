"""The request guard: every query argument, form field and path argument of every request (UI
and API) is checked once, before any view runs, against :mod:`caseflow.limits`.

Text with NUL or other control characters (tab, line feed and carriage return excepted) or
longer than ``limits.MAX_FIELD_CHARS`` is refused with a message naming the field, so no view,
query or database ever sees it: 400 on UI pages; in the API 422 ``invalid_data`` for query and
form values (as for any invalid parameter) and 404 for a path argument (no such resource).
JSON bodies are checked where the API parses them (``web/api/core.py``) and process data once
more by the engine; uploaded file names are cleaned in ``web/attachments.py``.
"""
from __future__ import annotations

from typing import Any

from flask import Flask, render_template, request
from flask_babel import force_locale
from flask_babel import gettext as _

from caseflow import limits
from web.errors import json_error, wants_json

_SHOWN_NAME_CHARS = 60


def init_app(app: Flask) -> None:
    """Run :func:`check_request` before every request (before the app's other hooks)."""
    app.before_request_funcs.setdefault(None, []).insert(0, check_request)


def problems() -> tuple[dict[str, str], dict[str, str]]:
    """(query and form fields, path arguments): name -> why its value (or the name itself) is
    refused; both empty when all is well."""
    found: dict[str, str] = {}
    in_path: dict[str, str] = {}
    sources: list[tuple[str, Any]] = [("query", request.args)]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        sources.append(("form", request.form))
    for where, values in sources:
        for name, value in values.items(multi=True):
            problem = limits.text_problem(name, limits.MAX_KEY_CHARS)
            if problem is not None:
                found.setdefault(f"{where}:{_shown(name)}", "the field name " + problem)
                continue
            problem = limits.text_problem(value)
            if problem is not None:
                found.setdefault(name, problem)
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str):
            problem = limits.text_problem(value, limits.MAX_KEY_CHARS)
            if problem is not None:
                in_path.setdefault(name, problem)
    return found, in_path


def check_request() -> Any:
    """None when the request's text is acceptable, else the refusal (API or HTML)."""
    fields, in_path = problems()
    if not fields and not in_path:
        return None
    found = {**in_path, **fields}
    detail = "; ".join(f"{name}: {text}" for name, text in found.items())
    if wants_json():
        if in_path:
            return json_error(404, "not_found", f"no resource at this path ({detail})")
        return json_error(422, "invalid_data", f"the request has text that is not allowed: {detail}", fields)
    from web.portal.common import error_page, is_portal_request, language  # lazily: the portal imports web

    if is_portal_request():  # a customer: the portal's own page, in their language
        with force_locale(language()):
            return error_page(400, _("The form contains text we cannot accept (%(detail)s). Go back, remove "
                                     "special characters or shorten the text, and send it again.", detail=detail))
    message = _("The request contains text that is not allowed (%(detail)s). Remove control characters or "
                "shorten the text and try again.", detail=detail)
    return render_template("error.html", status=400, message=message), 400


def _shown(name: str) -> str:
    shown = limits.clean_text(name)
    return shown if len(shown) <= _SHOWN_NAME_CHARS else shown[:_SHOWN_NAME_CHARS] + "…"
