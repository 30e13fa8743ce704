"""``/admin/processes/<key>/modeler``: the process owner's modeler (bpmn-js with Caseflow's properties panel).

Process owners and admins edit a deployed version or a draft, save drafts (every file of the
bundle, in the database), run Check (the deploy validation, nothing stored); admins deploy a
draft (four eyes). The page's JavaScript (``web/static/js/modeler/``, bundled into
``static/vendor/modeler/``) calls the JSON endpoints below with the session and the CSRF token;
the bearer-token API offers the same under ``/api/v1/drafts``.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

import engine
from caseflow import bundles, drafts
from web import get_db, rollback_request
from web.errors import engine_error_json, json_error
from web.views.common import actor, engine_actor

bp = Blueprint("modeler", __name__, url_prefix="/admin")

EDITOR_ROLES = frozenset({"process_owner", "admin"})


def may_edit() -> bool:
    """Process owners and admins edit, check and save drafts."""
    return bool(current_user.is_authenticated and EDITOR_ROLES & set(current_user.roles))


def _editors_only(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not may_edit():
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def _json_errors(view: Callable[..., Any]) -> Callable[..., Any]:
    """Engine errors of a JSON endpoint answered as JSON (status and code from the engine's table)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except engine.EngineError as err:
            rollback_request()
            return engine_error_json(err)

    return wrapped


def operators() -> list[dict]:
    """The registry as ``caseflow operators`` shows it: name, documentation, parameters with defaults."""
    from service_tasks import registry

    return [op.describe() for op in registry.all_operators()]


def _texts() -> dict[str, str]:
    """The messages the page's script shows, in the user's language."""
    return {"Draft": _("Draft"), "No draft yet": _("No draft yet (Save creates one)"),
            "Draft saved.": _("Draft saved."), "Check found problems.": _("Check found problems."),
            "Check: no problems.": _("Check: no problems."), "Deployed as version": _("Deployed as version"),
            "import warnings": _("import warnings"), "Ready.": _("Ready.")}


def _draft_json(draft: Any) -> dict:
    data = drafts.as_dict(draft)
    for name in ("created_at", "updated_at", "deployed_at"):
        data[name] = data[name].isoformat() if data[name] else None
    return data


def _raw_text(name: str) -> str:
    """The request body as the text of bundle file ``name`` (400 when it cannot be read as text)."""
    raw = request.get_data(cache=False)
    if len(raw) > bundles.MAX_FILE_BYTES:
        raise engine.InvalidData({name: f"file is larger than {bundles.MAX_FILE_BYTES} bytes"})
    try:
        return bundles.decode(name, raw)
    except bundles.BundleError as err:
        raise engine.InvalidData({name: err.problems[0].message}) from None


def _int_arg(name: str) -> int | None:
    value = request.args.get(name)
    if value is None or value == "":
        return None
    if not value.isdigit() or not 0 < int(value) < 2**31:
        abort(json_error(400, "bad_request", f"{name} must be a positive whole number"))
    return int(value)


@bp.route("/processes/<key>/modeler")
@_editors_only
def page(key: str) -> Any:
    """The modeler on the latest version of ``key`` (``?version=N``) or on a draft (``?draft=ID``)."""
    session = get_db()
    draft_id = _int_arg("draft")
    draft = drafts.get(session, draft_id) if draft_id is not None else None
    if draft is not None and draft.key != key:
        abort(404)
    version = draft.base_version if draft is not None else _int_arg("version")
    if version is None:
        version = int(engine.list_versions(session, key)[0]["version"])
    definition = engine.find_definition(session, key, version)
    files: dict[str, str] = dict(draft.files) if draft is not None else dict(definition.files)
    bpmn_names = sorted(n for n in files if n.endswith(".bpmn"))
    if not bpmn_names:
        abort(404)
    asked = request.args.get("file")
    bpmn_file = asked if asked is not None and asked in bpmn_names else bpmn_names[0]
    config = {
        "key": key, "baseVersion": version, "bpmnFile": bpmn_file, "xml": files[bpmn_file],
        "locale": str(get_locale() or "zh"), "operators": operators(),
        "formFiles": sorted(n for n in files if n.endswith(".json") and n != "manifest.json"),
        "draft": _draft_json(draft) if draft is not None else None,
        "isAdmin": bool(current_user.is_admin), "texts": _texts(), "csrfToken": generate_csrf(),
        "urls": {
            "page": url_for(".page", key=key),
            "newDraft": url_for(".new_draft", key=key),
            "draftFile": url_for(".put_file", draft_id=0, name="FILE").replace("/0/", "/DRAFT_ID/"),
            "check": url_for(".check", draft_id=0).replace("/0/", "/DRAFT_ID/"),
            "deploy": url_for(".deploy", draft_id=0).replace("/0/", "/DRAFT_ID/"),
        },
    }
    return render_template("modeler.html", key=key, version=version, config=config, bpmn_names=bpmn_names,
                           bpmn_file=bpmn_file, open_drafts=drafts.list_drafts(session, key, drafts.OPEN))


@bp.route("/processes/<key>/drafts", methods=["POST"])
@_editors_only
@_json_errors
def new_draft(key: str) -> Any:
    """A new draft from version ``?version=`` (the latest when absent); a body becomes its file ``?file=``."""
    session = get_db()
    draft = drafts.create(session, key, _int_arg("version"), actor())
    name = request.args.get("file")
    if name and request.content_length:
        drafts.put_files(session, draft, {name: _raw_text(name)}, actor())
    return _created(draft)


def _created(draft: Any) -> Response:
    response = jsonify(_draft_json(draft))
    response.status_code = 201
    return response


@bp.route("/drafts/<int:draft_id>/files/<name>", methods=["PUT"])
@_editors_only
@_json_errors
def put_file(draft_id: int, name: str) -> Any:
    """Replace (or add) one file of a draft with the request body; ``?row_version=`` guards against lost updates."""
    session = get_db()
    draft = drafts.get(session, draft_id)
    drafts.put_files(session, draft, {name: _raw_text(name)}, actor(), _int_arg("row_version"))
    return jsonify(_draft_json(draft))


@bp.route("/drafts/<int:draft_id>/check", methods=["POST"])
@_editors_only
@_json_errors
def check(draft_id: int) -> Any:
    """The problems deploying the draft would report (nothing is stored)."""
    session = get_db()
    problems = drafts.check(session, drafts.get(session, draft_id))
    return jsonify({"ok": not problems, "problems": [p.as_dict() for p in problems]})


@bp.route("/drafts/<int:draft_id>/deploy", methods=["POST"])
@_editors_only
@_json_errors
def deploy(draft_id: int) -> Any:
    """Deploy the draft as a new version (admins only: four eyes)."""
    if not current_user.is_admin:
        return json_error(403, "forbidden", _("Only an administrator deploys a draft."))
    session = get_db()
    draft = drafts.get(session, draft_id)
    result = drafts.deploy(session, draft, engine_actor())
    return jsonify({**result, "draft": _draft_json(draft)})
