"""Drafts of process bundles: create from a deployed version, read, update files, check, deploy.

Process owners and admins work on drafts; only admins deploy one (four eyes). A draft is
checked with the very validation of ``caseflow deploy`` (nothing stored) and deployed through
the same path (audited ``deployed``, the draft named as its bundle).
"""
from __future__ import annotations

from flask import request

from caseflow import bundles, drafts
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


@operation("/drafts", "GET", summary="List drafts", tags=TAGS, query=s.DraftListQuerySchema,
           response=s.DraftListSchema, errors=(403,))
def list_drafts(query: dict) -> dict:
    """Drafts, most recently changed first (without their files), of one process or status when given."""
    _editor()
    return {"items": [drafts.as_dict(d) for d in drafts.list_drafts(get_db(), query.get("key"),
                                                                      query.get("status"))]}


@operation("/drafts", "POST", summary="Start a draft from a deployed version", tags=TAGS, body=s.DraftCreateSchema,
           response=s.DraftSchema, status=201, errors=(403, 404))
def create_draft(body: dict) -> dict:
    """A new draft holding every file of version `version` of process `key` (the latest when absent)."""
    _editor()
    session = get_db()
    return drafts.as_dict(drafts.create(session, body["key"], body["version"], actor()), with_files=True)


@operation("/drafts/<int:draft_id>", "GET", summary="One draft with its files", tags=TAGS, response=s.DraftSchema,
           errors=(403, 404))
def get_draft(draft_id: int) -> dict:
    _editor()
    return _draft(draft_id)


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


@operation("/drafts/<int:draft_id>/deploy", "POST", summary="Deploy a draft as a new version", tags=TAGS,
           admin=True, response=s.DraftDeploySchema, errors=(404, 409, 422))
def deploy_draft(draft_id: int) -> dict:
    """Validate and store the draft as a new version through the path of `caseflow deploy`
    (audited); 422 lists the problems and nothing is stored. The draft is then `deployed`."""
    session = get_db()
    draft = drafts.get(session, draft_id)
    result = drafts.deploy(session, draft, engine_actor())
    return {**result, "draft": drafts.as_dict(draft)}
