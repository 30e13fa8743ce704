"""Deployed versions: which one new instances start on, pin/unpin, their history and diff.

The one writer of ``process_definition`` rows (deploy stores new versions through
:func:`store_version`).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from caseflow import store
from caseflow._engine import diff, outbox, rows, specs
from caseflow._engine.errors import Conflict, NotFound


def latest_definition(session: Session, key: str) -> store.ProcessDefinition | None:
    """The newest deployed version of ``key`` (None when there is none)."""
    return session.scalars(
        select(store.ProcessDefinition).where(store.ProcessDefinition.key == key)
        .order_by(store.ProcessDefinition.version.desc()).limit(1)
    ).first()


def definition_with_content(session: Session, key: str, content_hash: str) -> store.ProcessDefinition | None:
    """The newest version of ``key`` stored with exactly this content (None when there is none)."""
    return session.scalars(
        select(store.ProcessDefinition).where(store.ProcessDefinition.key == key,
                                              store.ProcessDefinition.content_hash == content_hash)
        .order_by(store.ProcessDefinition.version.desc()).limit(1)
    ).first()


def store_version(session: Session, key: str, name: str | None, content_hash: str, files: dict[str, str],
                  dependencies: dict[str, int], actor: str, at: dt.datetime,
                  source: str | None) -> store.ProcessDefinition:
    """Store the next version of ``key`` (audited as ``deployed``)."""
    latest = latest_definition(session, key)
    definition = store.ProcessDefinition(
        key=key, version=(latest.version + 1) if latest else 1, name=name, content_hash=content_hash,
        files=dict(files), dependencies=dependencies, deployed_by=actor, deployed_at=at,
    )
    session.add(definition)
    try:
        session.flush()
    except IntegrityError:  # (key, version) is unique: another deployment stored this version first
        raise Conflict(f"another deployment stored version {definition.version} of {key} at the same time; "
                       "deploy again") from None
    rows.audit(session, None, actor, "deployed", None,
               {"key": key, "version": definition.version, "hash": content_hash, "bundle": source})
    return definition


def process_manifest(session: Session, definition_id: int) -> Any:
    """The manifest (``caseflow.manifest.Manifest``) of a deployed version."""
    return specs.SPECS.get(session, _ref(session, definition_id)).manifest


def element_names(session: Session, definition_id: int) -> dict[str, dict[str, str | None]]:
    """BPMN id -> ``name`` and ``name_zh`` of the named elements of a version (and those it calls)."""
    return specs.SPECS.get(session, _ref(session, definition_id)).element_names()


def task_title_zh(session: Session, task_id: str) -> str | None:
    """A human task's title in Chinese, as the inbox shows it (its form's ``x-title-zh``, else its
    element's ``nameZh``, else its name); None for an unknown task."""
    task, case = store.HumanTask, store.ProcessInstance
    found = session.execute(select(task.name, task.title, task.form, task.spec_ref, case.definition_id)
                            .join(case, case.id == task.instance_id).where(task.id == task_id)).first()
    if found is None:
        return None
    loaded = specs.SPECS.get(session, _ref(session, found.definition_id))
    return outbox.title_zh(loaded, {"name": found.name, "title": found.title, "form": found.form,
                                    "spec_ref": found.spec_ref})


def _ref(session: Session, definition_id: int) -> rows.DefinitionRef:
    """A deployed version's identifying columns (its files are read only if its spec is not cached yet)."""
    definition = rows.definition_ref(session, definition_id)
    if definition is None:
        raise NotFound(f"no process version with id {definition_id}")
    return definition


def list_processes(session: Session) -> list[dict]:
    """Every process key with its latest version, the version new instances start on, and counts."""
    rows = session.execute(
        select(store.ProcessDefinition.key, func.max(store.ProcessDefinition.version))
        .group_by(store.ProcessDefinition.key).order_by(store.ProcessDefinition.key)
    ).all()
    out = []
    for key, latest_version in rows:
        start_def = startable_definition(session, key)
        out.append({
            "key": key,
            "name": start_def.name,
            "latest_version": latest_version,
            "start_version": start_def.version,
            "definition_id": start_def.id,
            "pinned": start_def.pinned,
            "start_form": specs.SPECS.get(session, start_def).start_form,
        })
    return out


def lane_roles(session: Session) -> list[str]:
    """The roles the processes' startable versions work with: their lanes' roles (a task whose
    role comes from the case data has none here) and the roles their manifests let start them."""
    found: set[str] = set()
    for key in session.scalars(select(store.ProcessDefinition.key).distinct()):
        loaded = specs.SPECS.get(session, startable_definition(session, key))
        found |= {meta.role for meta in loaded.task_meta.values() if meta.role}
        if loaded.manifest is not None:
            found |= set(loaded.manifest.start_roles)
    return sorted(found)


def startable_definition(session: Session, key: str) -> rows.DefinitionRef:
    """The version new instances of ``key`` start on: the pinned one, else the latest."""
    definition = rows.startable_definition(session, key)
    if definition is None:
        raise NotFound(f"no process {key!r} is deployed")
    return definition


def start_form(session: Session, key: str) -> dict | None:
    """The JSON Schema of the start form of ``key`` (None when it has none)."""
    loaded = specs.SPECS.get(session, startable_definition(session, key))
    return loaded.form_schema(loaded.start_form)



UNFINISHED_STATUSES = ("running", "waiting", "error")


def get_definition(session: Session, definition_id: int) -> store.ProcessDefinition:
    """A deployed version by id (NotFound otherwise)."""
    definition = session.get(store.ProcessDefinition, definition_id)
    if definition is None:
        raise NotFound(f"no process version with id {definition_id}")
    return definition


def find_definition(session: Session, key: str, version: int) -> store.ProcessDefinition:
    """Version ``version`` of process ``key`` (NotFound otherwise)."""
    definition = session.scalars(select(store.ProcessDefinition).where(
        store.ProcessDefinition.key == key, store.ProcessDefinition.version == version)).first()
    if definition is None:
        raise NotFound(f"process {key!r} has no version {version}")
    return definition


def _version_dict(definition: store.ProcessDefinition, counts: dict[str, int] | None = None,
                  latest: int | None = None, start_id: int | None = None, with_files: bool = False) -> dict:
    counts = counts or {}
    out = {
        "definition_id": definition.id,
        "key": definition.key,
        "version": definition.version,
        "name": definition.name,
        "content_hash": definition.content_hash,
        "deployed_at": definition.deployed_at.isoformat() if definition.deployed_at else None,
        "deployed_by": definition.deployed_by,
        "pinned": bool(definition.pinned),
        "latest": latest is not None and definition.version == latest,
        "starts_new_instances": start_id is not None and definition.id == start_id,
        "dependencies": dict(definition.dependencies or {}),
        "running_instances": sum(counts.get(s, 0) for s in UNFINISHED_STATUSES),
        "instances": {s: counts.get(s, 0) for s in (*UNFINISHED_STATUSES, "completed", "cancelled")},
    }
    if with_files:  # the files column is deferred: only load it when asked
        out["files"] = sorted(definition.files or {})
    return out


def list_versions(session: Session, key: str) -> list[dict]:
    """Every deployed version of ``key``, newest first, with who deployed it when, its content
    hash and how many instances run on it (one grouped query for all counts)."""
    definitions = list(session.scalars(select(store.ProcessDefinition).where(store.ProcessDefinition.key == key)
                                       .order_by(store.ProcessDefinition.version.desc())))
    if not definitions:
        raise NotFound(f"no process {key!r} is deployed")
    counts: dict[int, dict[str, int]] = {}
    rows = session.execute(
        select(store.ProcessInstance.definition_id, store.ProcessInstance.status, func.count())
        .join(store.ProcessDefinition, store.ProcessDefinition.id == store.ProcessInstance.definition_id)
        .where(store.ProcessDefinition.key == key)
        .group_by(store.ProcessInstance.definition_id, store.ProcessInstance.status)
    ).all()
    for definition_id, status, n in rows:
        counts.setdefault(definition_id, {})[status] = int(n)
    pinned = next((d for d in definitions if d.pinned), None)
    start_id = (pinned or definitions[0]).id
    return [_version_dict(d, counts.get(d.id), definitions[0].version, start_id) for d in definitions]


def version_info(session: Session, definition_id: int) -> dict:
    """One version as in :func:`list_versions`, with the names of its files."""
    definition = get_definition(session, definition_id)
    info = next(v for v in list_versions(session, definition.key) if v["definition_id"] == definition.id)
    info["files"] = sorted(definition.files or {})
    return info


def pin(session: Session, key: str, version: int, actor: str) -> dict:
    """Make new instances of ``key`` start on ``version`` (a rollback without redeploying)."""
    definition = find_definition(session, key, version)
    previous = session.scalars(select(store.ProcessDefinition).where(
        store.ProcessDefinition.key == key, store.ProcessDefinition.pinned)).all()
    for other in previous:
        if other.id != definition.id:
            other.pinned = False
    definition.pinned = True
    session.flush()
    rows.audit(session, None, actor, "pinned", None,
           {"key": key, "version": version, "definition_id": definition.id,
            "previous": [p.version for p in previous if p.id != definition.id]})
    return version_info(session, definition.id)


def unpin(session: Session, key: str, actor: str) -> dict:
    """New instances of ``key`` start on the latest version again."""
    definitions = session.scalars(select(store.ProcessDefinition).where(store.ProcessDefinition.key == key)).all()
    if not definitions:
        raise NotFound(f"no process {key!r} is deployed")
    was = [d.version for d in definitions if d.pinned]
    for d in definitions:
        d.pinned = False
    session.flush()
    rows.audit(session, None, actor, "unpinned", None, {"key": key, "previous": was})
    start_def = startable_definition(session, key)
    return {"key": key, "start_version": start_def.version, "definition_id": start_def.id, "previously_pinned": was}


def diff_versions(session: Session, definition_id_a: int, definition_id_b: int) -> dict:
    """What changed from version A to version B: elements added, removed and changed (with
    each changed property: attributes, extension properties, service-task operator and
    parameters, scripts and conditions), and the form/DMN files added, removed or changed."""
    a, b = get_definition(session, definition_id_a), get_definition(session, definition_id_b)
    return {"from": _version_dict(a), "to": _version_dict(b), **diff.compare(a.files or {}, b.files or {}),
            "identical": a.content_hash == b.content_hash}


diff_lines = diff.diff_lines
