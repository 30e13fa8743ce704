"""Process drafts: a process owner's edit of a bundle, kept in the database until an admin deploys it.

A draft holds every file of the bundle (the ``.bpmn`` diagrams, forms, manifest), its author and
time, and the deployed version it started from. :func:`check` runs the very validation of
``caseflow deploy`` without storing anything; :func:`deploy` stores it as a new version through
the same path as an upload (``caseflow.uploads.deploy_bundle`` → ``engine.deploy_bundles``,
audited as ``deployed`` with the draft as its bundle). This module is the one writer of
``process_draft``.
"""
from __future__ import annotations

import io
import zipfile
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

import engine
from caseflow import bundles, clock, drafts_blank, limits, store, uploads

__all__ = ["MAX_FILES", "OPEN", "DEPLOYED", "create", "create_blank", "get", "list_drafts", "as_dict", "put_files",
           "remove_file", "bundle_of", "bundle_zip", "check", "try_draft", "diff", "may_deploy", "deploy"]

MAX_FILES = uploads.MAX_UPLOAD_FILES
MAX_TOTAL_CHARS = uploads.MAX_TOTAL_BYTES
OPEN, DEPLOYED = "open", "deployed"
_KEY_CHARS = 200
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # a fixed time: the same files give the same archive


def create(session: Session, key: str, version: int | None, author: str) -> store.ProcessDraft:
    """A new draft of process ``key`` with the files of ``version`` (the latest one when None)."""
    if version is None:
        versions = engine.list_versions(session, key)  # NotFound when nothing of that key is deployed
        version = int(versions[0]["version"])
    base = engine.find_definition(session, key, version)
    now = clock.now()
    draft = store.ProcessDraft(key=key, base_definition_id=base.id, base_version=base.version,
                               files=dict(base.files), author=author, created_at=now, updated_at=now,
                               updated_by=author, status=OPEN, row_version=1)
    session.add(draft)
    session.flush()
    return draft


def create_blank(session: Session, key: str, name: str | None, author: str) -> store.ProcessDraft:
    """A draft of a new process ``key`` from the blank template (pool, two lanes, start, a user task
    with its form, end); ``engine.InvalidData`` for a bad key, ``engine.Conflict`` when ``key`` is deployed."""
    problem = drafts_blank.key_problem(key)
    if problem:
        raise engine.InvalidData({"key": problem})
    if session.scalar(select(store.ProcessDefinition.id).where(store.ProcessDefinition.key == key).limit(1)):
        raise engine.Conflict(f"process {key!r} is deployed already: start a draft from its latest version")
    now = clock.now()
    draft = store.ProcessDraft(key=key, base_definition_id=None, base_version=None,
                               files=drafts_blank.blank_files(key, name), author=author, created_at=now,
                               updated_at=now, updated_by=author, status=OPEN, row_version=1)
    session.add(draft)
    session.flush()
    return draft


def get(session: Session, draft_id: int) -> store.ProcessDraft:
    """The draft ``draft_id`` with its files (``engine.NotFound`` otherwise)."""
    draft = session.scalars(select(store.ProcessDraft).options(undefer(store.ProcessDraft.files))
                            .where(store.ProcessDraft.id == draft_id)).first()
    if draft is None:
        raise engine.NotFound(f"no draft with id {draft_id}")
    return draft


def list_drafts(session: Session, key: str | None = None, status: str | None = None) -> list[store.ProcessDraft]:
    """Drafts, newest change first, of one process and/or status when given (files not loaded)."""
    query = select(store.ProcessDraft).order_by(store.ProcessDraft.updated_at.desc(), store.ProcessDraft.id.desc())
    if key is not None:
        query = query.where(store.ProcessDraft.key == key)
    if status is not None:
        query = query.where(store.ProcessDraft.status == status)
    return list(session.scalars(query.limit(500)))


def as_dict(draft: store.ProcessDraft, with_files: bool = False) -> dict[str, Any]:
    """What the API and pages show of a draft (``files``: name -> text when ``with_files``)."""
    out: dict[str, Any] = {
        "id": draft.id, "key": draft.key, "status": draft.status, "base_version": draft.base_version,
        "base_definition_id": draft.base_definition_id, "author": draft.author, "created_at": draft.created_at,
        "updated_at": draft.updated_at, "updated_by": draft.updated_by, "row_version": draft.row_version,
        "deployed_definition_id": draft.deployed_definition_id, "deployed_at": draft.deployed_at,
        "deployed_by": draft.deployed_by,
    }
    if with_files:
        out["files"] = dict(draft.files)
        out["file_names"] = sorted(draft.files)
    else:
        out["file_names"] = None
    return out


def _editable(draft: store.ProcessDraft, row_version: int | None) -> None:
    if draft.status != OPEN:
        raise engine.Conflict(f"draft {draft.id} is {draft.status}; start a new draft from the deployed version")
    if row_version is not None and row_version != draft.row_version:
        raise engine.Conflict(f"draft {draft.id} was changed by {draft.updated_by} meanwhile (row version "
                              f"{draft.row_version}, not {row_version}); reload it")


def _file_problem(name: str, text: str) -> str | None:
    """Why ``name``/``text`` cannot be a file of a bundle (the rules of an upload), or None."""
    if not name or name in (".", "..") or any(c in name for c in "/\\\0:") or len(name) > _KEY_CHARS:
        return "not a plain file name"
    if limits.text_problem(name, _KEY_CHARS):
        return "not a plain file name"
    if not name.endswith(bundles.BUNDLE_SUFFIXES):
        return "only .bpmn, .dmn and .json files belong in a bundle"
    if len(text.encode("utf-8", "surrogatepass")) > bundles.MAX_FILE_BYTES:
        return f"file is larger than {bundles.MAX_FILE_BYTES} bytes"
    return limits.text_problem(text, None)


def put_files(session: Session, draft: store.ProcessDraft, files: dict[str, str], author: str,
              row_version: int | None = None) -> store.ProcessDraft:
    """Add or replace ``files`` (name -> text) of an open draft; ``engine.InvalidData`` names bad files,
    ``engine.Conflict`` when the draft was deployed or changed since ``row_version``."""
    _editable(draft, row_version)
    bad = {name: problem for name, text in files.items() if (problem := _file_problem(name, text))}
    if bad:
        raise engine.InvalidData(bad, "some files cannot be part of a bundle")
    merged = {**draft.files, **files}
    if len(merged) > MAX_FILES:
        raise engine.InvalidData({"files": f"a bundle has at most {MAX_FILES} files"})
    if sum(len(t) for t in merged.values()) > MAX_TOTAL_CHARS:
        raise engine.InvalidData({"files": f"a bundle holds at most {MAX_TOTAL_CHARS} characters in all"})
    _touch(draft, merged, author)
    return draft


def remove_file(session: Session, draft: store.ProcessDraft, name: str, author: str,
                row_version: int | None = None) -> store.ProcessDraft:
    """Remove one file of an open draft (``engine.NotFound`` when it has no such file)."""
    _editable(draft, row_version)
    if name not in draft.files:
        raise engine.NotFound(f"draft {draft.id} has no file {name!r}")
    _touch(draft, {n: t for n, t in draft.files.items() if n != name}, author)
    return draft


def _touch(draft: store.ProcessDraft, files: dict[str, str], author: str) -> None:
    draft.files = files  # a new dict: the JSON column sees the change
    draft.updated_at = clock.now()
    draft.updated_by = author
    draft.row_version += 1


def bundle_of(draft: store.ProcessDraft) -> bundles.Bundle:
    """The draft's files as a bundle (its source names the draft in the deploy audit)."""
    return bundles.Bundle(source=f"draft {draft.id}", files=dict(draft.files))


def bundle_zip(files: dict[str, str]) -> bytes:
    """A bundle's files (name -> text) as a zip archive, each file at the top level in UTF-8: what
    ``caseflow deploy``, an upload and bpmn.io / Camunda Modeler (after unpacking) open as it is."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name].encode("utf-8"))
    return out.getvalue()


def check(session: Session, draft: store.ProcessDraft) -> list[bundles.Problem]:
    """Every problem deploying the draft would report (nothing is stored); [] when it would deploy."""
    return check_bundle(session, bundle_of(draft))


def check_unsaved(session: Session, key: str, version: int | None, draft_id: int | None,
                  changed: dict[str, str]) -> list[bundles.Problem]:
    """The problems of files as the modeler shows them, not saved: ``changed`` put in place of the
    files of draft ``draft_id`` (of ``key``) or, without one, of version ``version`` of ``key``.
    Nothing is stored; [] when that bundle would deploy."""
    if draft_id is not None:
        draft = get(session, draft_id)
        if draft.key != key:
            raise engine.NotFound(f"draft {draft_id} is not a draft of {key!r}")
        files = dict(draft.files)
    elif version is not None:
        files = dict(engine.find_definition(session, key, version).files)
    else:
        raise engine.InvalidData({"version": "give the draft or the version whose other files go with the diagram"})
    return check_bundle(session, bundles.Bundle(source=f"modeler ({key})", files={**files, **changed}))


def check_bundle(session: Session, bundle: bundles.Bundle) -> list[bundles.Problem]:
    """The files as files (an upload's rules), then the deploy validation; nothing is stored."""
    return _file_problems(bundle) or engine.check_bundle(session, bundle)


def try_draft(session: Session, draft: store.ProcessDraft, data: dict | None, answers: list[Any]) -> dict:
    """Run the draft's process on sample data in a sandbox that is thrown away (``engine.try_bundle``):
    the path, operator outputs, the human tasks reached with their forms, the end state. Nothing is
    stored; ``engine.DeployRejected`` when the draft would not deploy, ``engine.InvalidData`` for bad input."""
    problems = check_files(draft)
    if problems:
        raise engine.DeployRejected(problems)
    return engine.try_bundle(session, bundle_of(draft), draft.key, data, answers)


def check_files(draft: store.ProcessDraft) -> list[bundles.Problem]:
    """The problems of the draft's files as files (an upload's rules), before any parsing."""
    return _file_problems(bundle_of(draft))


def _file_problems(bundle: bundles.Bundle) -> list[bundles.Problem]:
    if not bundle.bpmn_names:
        return [bundles.Problem("the draft has no .bpmn file")]
    return uploads.precheck(bundle)


def diff(session: Session, draft: store.ProcessDraft) -> dict:
    """What the draft changes against the version it was based on: elements added, removed and
    changed, other files, layout (the form of ``engine.diff_versions``) and the same as text lines.
    A file of the draft that does not parse raises ``engine.DeployRejected`` naming its problems."""
    base = engine.get_definition(session, draft.base_definition_id) if draft.base_definition_id else None
    try:
        result = engine.diff_files(dict(base.files) if base is not None else {}, dict(draft.files))
    except bundles.BundleError as err:  # a draft being edited: its check names the same problems
        raise engine.DeployRejected(err.problems) from None
    elements, files = result["elements"], result["files"]
    identical = not (any(elements.values()) or any(files.values()) or result["layout_changed"])
    lines = engine.diff_lines({**result, "from": {"key": draft.key, "version": draft.base_version},
                               "to": {"key": draft.key, "version": f"{draft.base_version} + draft {draft.id}"}})
    return {**result, "draft_id": draft.id, "key": draft.key, "base_version": draft.base_version,
            "identical": identical, "text": lines}


def may_deploy(roles: set[str] | frozenset[str], owners_may_deploy: bool) -> bool:
    """Whether someone with ``roles`` deploys drafts: admins always; process owners only when the
    setting ``CASEFLOW_OWNERS_MAY_DEPLOY`` lets them (off by default: four eyes)."""
    return "admin" in roles or (owners_may_deploy and "process_owner" in roles)


def deploy(session: Session, draft: store.ProcessDraft, actor: engine.Actor | str, over_newer: bool = False) -> dict:
    """Deploy an open draft as a new version, exactly as ``caseflow deploy`` (audited ``deployed``);
    ``engine.DeployRejected`` lists its problems, and the draft stays open then. A draft made from
    an older version than the latest is a ``engine.Conflict`` unless ``over_newer``: deploying it
    would undo the later versions' changes for new cases."""
    _editable(draft, None)
    if draft.base_version is not None and not over_newer:
        latest = engine.list_versions(session, draft.key)[0]["version"]
        if latest > draft.base_version:
            raise engine.Conflict(
                f"draft {draft.id} was made from version {draft.base_version}, and version {latest} was deployed "
                f"since: deploying it would undo their changes for new cases; deploy it anyway, or start a draft "
                f"from version {latest}")
    result = uploads.deploy_bundle(session, bundle_of(draft), actor)
    ours = next((p for p in result["processes"] if p["key"] == draft.key), None)
    draft.status = DEPLOYED
    draft.deployed_definition_id = ours["definition_id"] if ours else None
    draft.deployed_at = clock.now()
    draft.deployed_by = actor.name if isinstance(actor, engine.Actor) else actor
    draft.row_version += 1
    return result
