"""Drafts of process bundles: create from a deployed version, read, update files, check, deploy.

Process owners and admins work on drafts; only admins deploy one (four eyes). A draft is
checked with the very validation of ``caseflow deploy`` (nothing stored) and deployed through
the same path (audited ``deployed``, the draft named as its bundle).
"""
from __future__ import annotations

from flask import Response, current_app, request

import engine
from caseflow import bundles, drafts, drafts_scripts
from schema import drafts as s
from web import get_db
from web.api.core import MULTIPART, ApiError, actor, caller, engine_actor, operation

TAGS = ["drafts"]
EDITOR_ROLES = frozenset({"process_owner", "admin"})

FILES_BODY = {
    "type": "object",
    "required": ["files"],
    "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"},
                             "description": "bundle files (.bpmn, .dmn, .json) to add or replace, by file name"}},
}


def _editor() -> None:
    if not EDITOR_ROLES & caller().roles:
        raise ApiError(403, "forbidden", "drafts are for the process_owner and admin roles")


def _draft(draft_id: int) -> dict:
    return drafts.as_dict(drafts.get(get_db(), draft_id), with_files=True)


@operation("/drafts/operators", "GET", summary="Service-task operators a diagram may call", tags=TAGS,
           response=s.OperatorListSchema, errors=(403,))
def list_operators() -> dict:
    """The operator registry as `caseflow operators` shows it: each operator's documentation and
    its parameters (type, required, default), for the modeler's service-task panel."""
    _editor()
    from service_tasks import registry

    return {"items": [op.describe() for op in registry.all_operators()]}


@operation("/drafts/script-check", "POST", summary="Check a script or expression against the sandbox rules",
           tags=TAGS, body=s.ScriptCheckSchema, response=s.ScriptCheckResultSchema, errors=(403,))
def check_script(body: dict) -> dict:
    """What the script sandbox would refuse in `source` (imports, dunder names, `open`...), by the very
    check of a deployment; nothing runs. The modeler calls it as the owner types (debounced)."""
    _editor()
    problems = drafts_scripts.problems(get_db(), body["source"], body["mode"])
    return {"ok": not problems, "problems": problems}


@operation("/drafts", "GET", summary="List drafts", tags=TAGS, query=s.DraftListQuerySchema,
           response=s.DraftListSchema, errors=(403,))
def list_drafts(query: dict) -> dict:
    """Drafts, most recently changed first (without their files), of one process or status when given."""
    _editor()
    return {"items": [drafts.as_dict(d) for d in drafts.list_drafts(get_db(), query.get("key"),
                                                                      query.get("status"))]}


@operation("/drafts", "POST", summary="Start a draft from a deployed version or the blank template", tags=TAGS,
           body=s.DraftCreateSchema, response=s.DraftSchema, status=201, errors=(403, 404, 409, 422))
def create_draft(body: dict) -> dict:
    """A new draft holding every file of version `version` of process `key` (the latest when absent);
    with `blank`, a new process `key` (409 when it is deployed) from the blank template: a pool with
    two lanes, a start event, a user task with its form and an end event, ready to check and try."""
    _editor()
    session = get_db()
    if body["blank"]:
        return drafts.as_dict(drafts.create_blank(session, body["key"], body["name"], actor()), with_files=True)
    return drafts.as_dict(drafts.create(session, body["key"], body["version"], actor()), with_files=True)


@operation("/drafts/<int:draft_id>", "GET", summary="One draft with its files", tags=TAGS, response=s.DraftSchema,
           errors=(403, 404))
def get_draft(draft_id: int) -> dict:
    _editor()
    return _draft(draft_id)


def _zip_response(files: dict[str, str], name: str) -> Response:
    response = Response(drafts.bundle_zip(files), mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@operation("/drafts/<int:draft_id>/bundle", "GET", summary="A draft as a bundle zip", tags=TAGS, errors=(403, 404))
def draft_bundle(draft_id: int) -> Response:
    """Every file of the draft in one zip (`application/zip`): unpacked, its diagrams open in bpmn.io or
    Camunda Modeler, and the zip deploys as it is (`caseflow deploy`, `POST /processes`)."""
    _editor()
    draft = drafts.get(get_db(), draft_id)
    return _zip_response(dict(draft.files), f"{draft.key}-draft-{draft.id}.zip")


@operation("/processes/<key>/versions/<int:version>/bundle", "GET", summary="A deployed version as a bundle zip",
           tags=TAGS, errors=(403, 404))
def version_bundle(key: str, version: int) -> Response:
    """Every file of a deployed version in one zip (`application/zip`), as a draft's bundle."""
    _editor()
    definition = engine.find_definition(get_db(), key, version)
    return _zip_response(dict(definition.files), f"{key}-v{version}.zip")


@operation("/drafts/<int:draft_id>/files", "PUT", summary="Add or replace files of a draft", tags=TAGS,
           multipart=FILES_BODY, query=s.DraftFilesQuerySchema, response=s.DraftSchema,
           errors=(403, 404, 409, 413, 415, 422))
def put_files(draft_id: int, query: dict) -> dict:
    """Upload bundle files (multipart field `files`, each named by its file name); a file of the
    same name is replaced. 409 when the draft is deployed, or changed since `row_version`."""
    _editor()
    if request.mimetype != MULTIPART:
        raise ApiError(415, "unsupported_media_type", "send the files as multipart/form-data (field `files`)")
    uploaded = request.files.getlist("files")
    if not uploaded:
        raise ApiError(422, "invalid_data", "no file uploaded", {"files": "send one or more files"})
    files: dict[str, str] = {}
    for item in uploaded:
        name = item.filename or ""
        raw = item.stream.read(bundles.MAX_FILE_BYTES + 1)
        if len(raw) > bundles.MAX_FILE_BYTES:
            raise ApiError(413, "too_large", f"{name}: file is larger than {bundles.MAX_FILE_BYTES} bytes",
                           {name or "files": "too large"})
        try:
            files[name] = bundles.decode(name, raw)
        except bundles.BundleError as err:
            raise ApiError(422, "invalid_data", str(err), {name or "files": err.problems[0].message}) from None
    session = get_db()
    draft = drafts.get(session, draft_id)
    drafts.put_files(session, draft, files, actor(), query.get("row_version"))
    return drafts.as_dict(draft, with_files=True)


@operation("/drafts/<int:draft_id>/files/<name>", "DELETE", summary="Remove a file of a draft", tags=TAGS,
           query=s.DraftFilesQuerySchema, response=s.DraftSchema, errors=(403, 404, 409))
def delete_file(draft_id: int, name: str, query: dict) -> dict:
    _editor()
    session = get_db()
    draft = drafts.get(session, draft_id)
    drafts.remove_file(session, draft, name, actor(), query.get("row_version"))
    return drafts.as_dict(draft, with_files=True)


@operation("/drafts/<int:draft_id>/diff", "GET", summary="What a draft changes", tags=TAGS,
           response=s.DraftDiffSchema, errors=(403, 404))
def diff_draft(draft_id: int) -> dict:
    """The draft against the version it was based on: BPMN elements added, removed and changed
    (each changed property: operator parameters, extension properties, scripts...), other files, layout."""
    _editor()
    session = get_db()
    return drafts.diff(session, drafts.get(session, draft_id))


@operation("/drafts/<int:draft_id>/check", "POST", summary="Check a draft (the deploy validation)", tags=TAGS,
           response=s.CheckSchema, errors=(403, 404))
def check_draft(draft_id: int) -> dict:
    """Every problem deploying the draft would report (file, element, line, message), exactly as
    `caseflow deploy` would; nothing is stored. `ok` is true when it would deploy."""
    _editor()
    session = get_db()
    problems = drafts.check(session, drafts.get(session, draft_id))
    return {"ok": not problems, "problems": [p.as_dict() for p in problems]}


@operation("/drafts/<int:draft_id>/try", "POST", summary="Try a draft on sample data (nothing stored)", tags=TAGS,
           body=s.DraftTrySchema, response=s.TryResultSchema, errors=(403, 404, 413, 422))
def try_draft(draft_id: int, body: dict) -> dict:
    """Run the draft's process on `data` in a sandbox that is thrown away, answering its human tasks
    with `answers` in the order they come up (`"default"`: the form's defaults). The answer names
    the path taken (`path`, `flows`), the operators' outputs (grades, routes, deadlines), each human
    task reached with the form it would show, the pending timers and the end `status`, or the
    `error` with its element. No row is written anywhere and no mail is sent; a run is bounded in
    steps and time. 422: the draft would not deploy (`problems`), or the data or an answer is not
    valid (fields `data.<field>`, `answers.<n>.<field>`)."""
    _editor()
    session = get_db()
    return drafts.try_draft(session, drafts.get(session, draft_id), body["data"], body["answers"])


@operation("/drafts/<int:draft_id>/deploy", "POST", summary="Deploy a draft as a new version", tags=TAGS,
           query=s.DraftDeployQuerySchema, response=s.DraftDeploySchema, errors=(403, 404, 409, 422))
def deploy_draft(draft_id: int, query: dict) -> dict:
    """Validate and store the draft as a new version through the path of `caseflow deploy`
    (audited); 422 lists the problems and nothing is stored. The draft is then `deployed`.
    Admins deploy; process owners only when the server's `CASEFLOW_OWNERS_MAY_DEPLOY` is on.
    A draft made from an older version than the latest is 409 (it would undo the later versions'
    changes for new cases) unless `over_newer=true`."""
    if not drafts.may_deploy(caller().roles, current_app.config["CASEFLOW_SETTINGS"].owners_may_deploy):
        raise ApiError(403, "forbidden", "only an admin deploys a draft (four eyes)")
    session = get_db()
    draft = drafts.get(session, draft_id)
    result = drafts.deploy(session, draft, engine_actor(), over_newer=query["over_newer"])
    return {**result, "draft": drafts.as_dict(draft)}
