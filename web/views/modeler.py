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

from flask import Blueprint, Response, abort, jsonify, redirect, render_template, request, url_for
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from marshmallow import ValidationError

import engine
from caseflow import bundles, drafts, drafts_forms, drafts_scripts
from caseflow import manifest as manifests
from schema.common import flatten_messages
from schema.drafts import DraftTrySchema, ScriptCheckSchema, TryResultSchema
from web import get_db, rollback_request
from web.api.core import ApiError, load_json
from web.errors import engine_error_json, json_error
from web.views import form_page
from web.views.common import actor, engine_actor, known_roles, settings

bp = Blueprint("modeler", __name__, url_prefix="/admin")

EDITOR_ROLES = frozenset({"process_owner", "admin"})
BPMN_PROCESS = "{http://www.omg.org/spec/BPMN/20100524/MODEL}process"
TRY_SCHEMA, TRY_RESULT, SCRIPT_SCHEMA = DraftTrySchema(), TryResultSchema(), ScriptCheckSchema()


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


def may_deploy() -> bool:
    """Admins deploy drafts; process owners too when ``CASEFLOW_OWNERS_MAY_DEPLOY`` is on."""
    return current_user.is_authenticated and drafts.may_deploy(set(current_user.roles), settings().owners_may_deploy)


def operators() -> list[dict]:
    """The registry as ``caseflow operators`` shows it: name, documentation, parameters with defaults."""
    from service_tasks import registry

    return [op.describe() for op in registry.all_operators()]


def _process_ids(files: dict[str, str]) -> set[str]:
    """The ids of the processes the bundle's diagrams define (call activities may call them)."""
    found: set[str] = set()
    for name, text in files.items():
        if name.endswith(".bpmn"):
            try:
                tree = bundles.parse_xml(name, text)
            except bundles.BundleError:
                continue  # Check names the broken file
            found |= {el.get("id") or "" for el in tree.iter(BPMN_PROCESS)} - {""}
    return found


def _texts() -> dict[str, str]:
    """The messages the page's script shows, in the user's language."""
    return {"Draft": _("Draft"), "No draft yet": _("No draft yet (Save creates one)"),
            "Draft saved.": _("Draft saved."), "Check found problems.": _("Check found problems."),
            "Check: no problems.": _("Check: no problems."), "Deployed as version": _("Deployed as version"),
            "Deploy over newer?": _("This draft was made from an older version than the latest: deploying it "
                                    "undoes the newer versions' changes for new cases. Deploy it anyway?"),
            "import warnings": _("import warnings"), "Ready.": _("Ready."),
            "the diagram could not be drawn in full.": _("the diagram could not be drawn in full."),
            "The diagram has no layout (BPMN DI) to draw.": _("The diagram has no layout (BPMN DI) to draw."),
            "The diagram cannot be drawn: it has no layout (BPMN DI) or parts the modeler cannot read.":
                _("The diagram cannot be drawn: it has no layout (BPMN DI) or parts the modeler cannot read."),
            "Saving from the modeler is off, so nothing of it is lost: edit the file in a modeler that reads it "
            "and upload it on the Processes page.":
                _("Saving from the modeler is off, so nothing of it is lost: edit the file in a modeler that reads "
                  "it and upload it on the Processes page."),
            "Not valid JSON:": _("Not valid JSON:"), "steps": _("steps"), "Path taken": _("Path taken"),
            "The case would be completed.": _("The case would be completed."),
            "The case waits for the answer of a task.": _("The case waits for the answer of a task."),
            "The case waits for a timer or message.": _("The case waits for a timer or message."),
            "The case would stop with an error.": _("The case would stop with an error."),
            "Outputs": _("Outputs"), "Human tasks": _("Human tasks"), "not answered yet": _("not answered yet"),
            "answered": _("answered"), "role": _("role"), "form": _("form"),
            "Timers and notices (nothing is sent)": _("Timers and notices (nothing is sent)"),
            "Try finished: nothing was stored.": _("Try finished: nothing was stored."),
            "added": _("added"), "changed": _("changed"), "removed": _("removed"),
            "No changes against the version it is based on.": _("No changes against the version it is based on."),
            "Changes drawn on the diagram.": _("Changes drawn on the diagram."),
            "A form file name ends in .json, e.g. step.schema.json.":
                _("A form file name ends in .json, e.g. step.schema.json."),
            "Form created and bound to the selected task.": _("Form created and bound to the selected task."),
            "Form created; select a user task to bind it.": _("Form created; select a user task to bind it."),
            "Form saved to the draft.": _("Form saved to the draft.")}


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
    # a draft of a new process (the blank template) is based on no version
    version = draft.base_version if draft is not None else _int_arg("version")
    if draft is not None:
        files: dict[str, str] = dict(draft.files)
    else:
        if version is None:
            version = int(engine.list_versions(session, key)[0]["version"])
        files = dict(engine.find_definition(session, key, version).files)
    bpmn_names = sorted(n for n in files if n.endswith(".bpmn"))
    if not bpmn_names:
        abort(404)
    asked = request.args.get("file")
    bpmn_file = asked if asked is not None and asked in bpmn_names else bpmn_names[0]
    config = {
        "key": key, "baseVersion": version, "bpmnFile": bpmn_file, "xml": files[bpmn_file],
        "locale": str(get_locale() or "zh"), "operators": operators(),
        "formFiles": sorted(n for n in files if n.endswith(".json") and n != "manifest.json"),
        "formTexts": {n: t for n, t in files.items() if n.endswith(".json") and n != "manifest.json"},
        "deadlineKeys": [d.key for d in manifests.load(files).deadlines],
        "processes": sorted({p["key"] for p in engine.list_processes(session)} | _process_ids(files)),
        "roles": known_roles(),
        "draft": _draft_json(draft) if draft is not None else None,
        "isAdmin": bool(current_user.is_admin), "mayDeploy": may_deploy(), "texts": _texts(),
        "csrfToken": generate_csrf(),
        "urls": {
            "page": url_for(".page", key=key),
            "newDraft": url_for(".new_draft", key=key),
            "draftFile": url_for(".put_file", draft_id=0, name="FILE").replace("/0/", "/DRAFT_ID/"),
            "check": url_for(".check_unsaved", key=key),
            "deploy": url_for(".deploy", draft_id=0).replace("/0/", "/DRAFT_ID/"),
            "try": url_for(".try_draft", draft_id=0).replace("/0/", "/DRAFT_ID/"),
            "diff": url_for(".diff", draft_id=0).replace("/0/", "/DRAFT_ID/"),
            "scriptCheck": url_for(".script_check"),
            "formPreview": url_for(".form_preview"),
            "draftZip": url_for(".draft_zip", draft_id=0).replace("/0/", "/DRAFT_ID/"),
        },
    }
    return render_template("modeler.html", key=key, version=version, config=config, bpmn_names=bpmn_names,
                           bpmn_file=bpmn_file, open_drafts=drafts.list_drafts(session, key, drafts.OPEN),
                           may_deploy=may_deploy(), draft=draft)


@bp.route("/drafts")
@_editors_only
def drafts_index() -> Any:
    """Every draft, newest change first, and the form that starts a new process from the blank template."""
    return _drafts_page(None)


@bp.route("/processes/<key>/drafts")
@_editors_only
def drafts_page(key: str) -> Any:
    """The drafts of one process (open and deployed), newest change first."""
    return _drafts_page(key)


def _drafts_page(key: str | None, errors: dict[str, str] | None = None, status: int = 200) -> Any:
    session = get_db()
    items = drafts.list_drafts(session, key)
    processes = engine.list_processes(session) if key is None else []
    return render_template("drafts.html", key=key, drafts=items, processes=processes, errors=errors or {},
                           form=request.form), status


@bp.route("/drafts/new", methods=["POST"])
@_editors_only
def new_process() -> Any:
    """Start a draft of a new process from the blank template (form fields ``key`` and ``name``)."""
    key = (request.form.get("key") or "").strip()
    name = (request.form.get("name") or "").strip() or None
    if name is not None and len(name) > 300:
        return _drafts_page(None, {"name": _("At most 300 characters.")}, 422)
    try:
        draft = drafts.create_blank(get_db(), key, name, actor())
    except engine.InvalidData:
        rollback_request()
        return _drafts_page(None, {"key": _("A process key starts with a letter or '_' and has only letters, "
                                            "digits, '_' and '-' (at most 100).")}, 422)
    except engine.Conflict:
        rollback_request()
        return _drafts_page(None, {"key": _("A process with this key is deployed already: open it in the "
                                            "modeler and save a draft of it.")}, 409)
    return redirect(url_for(".page", key=draft.key, draft=draft.id))


@bp.route("/drafts/<int:draft_id>/diff")
@_editors_only
@_json_errors
def diff(draft_id: int) -> Any:
    """What the draft changes against its base version (elements added, removed, changed), to draw it."""
    session = get_db()
    return jsonify(drafts.diff(session, drafts.get(session, draft_id)))


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


@bp.route("/processes/<key>/check", methods=["POST"])
@_editors_only
@_json_errors
def check_unsaved(key: str) -> Any:
    """The problems of the diagram as the modeler shows it (the body, file ``?file=``) with the other
    files of draft ``?draft=`` or else of version ``?version=``: the modeler's Check, nothing stored."""
    name = request.args.get("file") or ""
    if not name.endswith(".bpmn"):
        return json_error(400, "bad_request", "file must name the .bpmn file of the bundle")
    problems = drafts.check_unsaved(get_db(), key, _int_arg("version"), _int_arg("draft"), {name: _raw_text(name)})
    return jsonify({"ok": not problems, "problems": [p.as_dict() for p in problems]})


def _zip(files: dict[str, str], name: str) -> Response:
    return Response(drafts.bundle_zip(files), mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.route("/drafts/<int:draft_id>/bundle.zip")
@_editors_only
def draft_zip(draft_id: int) -> Any:
    """The draft's bundle as a zip (every file: diagrams, forms, manifest)."""
    draft = drafts.get(get_db(), draft_id)
    return _zip(dict(draft.files), f"{draft.key}-draft-{draft.id}.zip")


@bp.route("/processes/<key>/versions/<int:version>/bundle.zip")
@_editors_only
def version_zip(key: str, version: int) -> Any:
    """A deployed version's bundle as a zip."""
    definition = engine.find_definition(get_db(), key, version)
    return _zip(dict(definition.files), f"{key}-v{version}.zip")


@bp.route("/drafts/script-check", methods=["POST"])
@_editors_only
@_json_errors
def script_check() -> Any:
    """What the sandbox refuses in a script or expression (the API's ``POST /drafts/script-check``)."""
    try:
        body = load_json(SCRIPT_SCHEMA)
    except ApiError as err:
        return json_error(err.status, err.code, err.message, err.fields)
    except ValidationError as err:
        return json_error(422, "invalid_data", _("The request is not valid."), flatten_messages(err.messages))
    problems = drafts_scripts.problems(get_db(), body["source"], body["mode"])
    return jsonify({"ok": not problems, "problems": problems})


@bp.route("/forms/preview", methods=["POST"])
@_editors_only
def form_preview() -> Any:
    """A form as staff would see it, rendered by Caseflow's own form renderer in English and in Chinese,
    from a JSON body ``{"schema": {...}, "ui_schema": {...}}``; ``problems`` names what is not a valid
    JSON Schema (then no preview)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("schema"), dict) or \
            not isinstance(body.get("ui_schema") or {}, dict):
        return json_error(422, "invalid_data", _("The request is not valid."),
                          {"schema": _("Send the form's JSON Schema as an object.")})
    schema, ui_schema = body["schema"], body.get("ui_schema") or {}
    problems = drafts_forms.schema_problems(schema)
    if problems:
        return jsonify({"ok": False, "problems": problems, "html": {}})
    html = {}
    for language in ("en", "zh"):
        with force_locale(language):
            form = form_page.build(get_db(), schema, ui_schema, {}, {}, None)
            html[language] = render_template("form_preview.html", form=form)
    return jsonify({"ok": True, "problems": [], "html": html})


@bp.route("/drafts/<int:draft_id>/try", methods=["POST"])
@_editors_only
@_json_errors
def try_draft(draft_id: int) -> Any:
    """Run the draft on sample data in a sandbox that is thrown away (the API's ``POST /drafts/<id>/try``)."""
    try:
        body = load_json(TRY_SCHEMA)
    except ApiError as err:
        return json_error(err.status, err.code, err.message, err.fields)
    except ValidationError as err:
        fields = flatten_messages(err.messages)
        return json_error(422, "invalid_data", _("The request is not valid."), fields)
    session = get_db()
    result = drafts.try_draft(session, drafts.get(session, draft_id), body["data"], body["answers"])
    return jsonify(TRY_RESULT.dump(result))


@bp.route("/drafts/<int:draft_id>/deploy", methods=["POST"])
@_editors_only
@_json_errors
def deploy(draft_id: int) -> Any:
    """Deploy the draft as a new version (admins only: four eyes)."""
    if not may_deploy():
        return json_error(403, "forbidden", _("Only an administrator deploys a draft."))
    session = get_db()
    draft = drafts.get(session, draft_id)
    result = drafts.deploy(session, draft, engine_actor(), over_newer=request.args.get("over_newer") == "1")
    return jsonify({**result, "draft": _draft_json(draft)})
