"""Processes and versions: list, versions, deploy by upload, pin/unpin, diagram, diff, start form."""
from __future__ import annotations

from typing import BinaryIO, cast

from flask import request

import engine
from caseflow import uploads
from schema import processes as s
from web import get_db
from web.api.core import MULTIPART, ApiError, actor, operation

TAGS = ["processes"]

UPLOAD_BODY = {
    "type": "object",
    "required": ["files"],
    "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"},
                             "description": "one .zip, or the bundle's .bpmn, .dmn and .json files"}},
}


@operation("/processes", "GET", summary="List deployed processes", tags=TAGS, response=s.ProcessListSchema)
def list_processes() -> dict:
    """Every process key with its latest version and the version new instances start on."""
    return {"items": engine.list_processes(get_db())}


@operation("/processes", "POST", summary="Deploy a bundle by upload", tags=TAGS, admin=True,
           multipart=UPLOAD_BODY, query=s.UploadQuerySchema, response=s.DeployResponseSchema, status=201,
           other_statuses=(200,), errors=(413, 415, 422))
def upload_bundle(query: dict) -> tuple[dict, int]:
    """Upload one `.zip` or the `.bpmn`/`.dmn`/`.json` files of one bundle (multipart field
    `files`). The bundle is validated like `caseflow deploy`; on any problem nothing is stored
    and 422 lists them (`fields.problems`: file, element, line, message). DOCTYPE/ENTITY
    declarations (XXE, "billion laughs") are refused before any XML is parsed.
    201 when a version was stored; 200 when nothing was: every process `unchanged`, or
    `validate_only=true`, which reports without storing (a version the bundle would create has
    the status `valid`, and no `definition_id`)."""
    if request.mimetype != MULTIPART:
        raise ApiError(415, "unsupported_media_type", "upload the bundle as multipart/form-data (field `files`)")
    # FileStorage.stream is typed IO[bytes]; uploads only read()s it, so BinaryIO is safe
    items = [(f.filename or "", cast(BinaryIO, f.stream)) for f in request.files.getlist("files")]
    report = uploads.deploy_upload(get_db(), items, actor(), query["validate_only"])
    stored = any(p["status"] == "deployed" for p in report["processes"])
    return report, 201 if stored else 200


@operation("/processes/<key>/versions", "GET", summary="Versions of a process", tags=TAGS,
           response=s.VersionListSchema, errors=(404,))
def list_versions(key: str) -> dict:
    """Every deployed version, newest first: deployed by and when, content hash, pin, and
    the number of instances per status on it."""
    return {"key": key, "items": engine.list_versions(get_db(), key)}


@operation("/processes/<key>/versions/<int:version>", "GET", summary="One version of a process", tags=TAGS,
           response=s.VersionSchema, errors=(404,))
def get_version(key: str, version: int) -> dict:
    session = get_db()
    return engine.version_info(session, engine.find_definition(session, key, version).id)


@operation("/processes/<key>/versions/<int:version>/diagram", "GET", summary="BPMN XML of a version", tags=TAGS,
           response=s.DiagramSchema, errors=(404,))
def get_diagram(key: str, version: int) -> dict:
    """The BPMN files of the version (file name -> XML), e.g. for bpmn-js."""
    session = get_db()
    definition = engine.find_definition(session, key, version)
    return {"key": key, "version": version, "definition_id": definition.id,
            "files": engine.diagram(session, definition.id)}


@operation("/processes/<key>/diff", "GET", summary="Differences between two versions", tags=TAGS,
           query=s.DiffQuerySchema, response=s.DiffSchema, errors=(404,))
def diff(key: str, query: dict) -> dict:
    """Elements added, removed and changed (attributes, extension properties, service-task
    parameters such as a threshold), and the form/DMN files that changed."""
    session = get_db()
    a = engine.find_definition(session, key, query["from_version"])
    b = engine.find_definition(session, key, query["to_version"])
    result = engine.diff_versions(session, a.id, b.id)
    result["text"] = engine.diff_lines(result)
    return result


@operation("/processes/<key>/pin", "POST", summary="Pin the version new instances start on", tags=TAGS,
           admin=True, body=s.PinRequestSchema, response=s.VersionSchema, errors=(404,))
def pin(key: str, body: dict) -> dict:
    """New instances start on this version instead of the latest (a rollback without
    redeploying) until unpinned. Audited."""
    return engine.pin(get_db(), key, body["version"], actor())


@operation("/processes/<key>/unpin", "POST", summary="Unpin: new instances start on the latest version",
           tags=TAGS, admin=True, response=s.UnpinResponseSchema, errors=(404,))
def unpin(key: str) -> dict:
    return engine.unpin(get_db(), key, actor())


@operation("/processes/<key>/start-form", "GET", summary="The start form of a process", tags=TAGS,
           response=s.StartFormSchema, errors=(404,))
def start_form(key: str) -> dict:
    """The JSON Schema of the start form of the version new instances start on."""
    session = get_db()
    definition = engine.startable_definition(session, key)
    listed = next((p for p in engine.list_processes(session) if p["key"] == key), None)
    return {"key": key, "version": definition.version, "form": listed["start_form"] if listed else None,
            "schema": engine.start_form(session, key)}

