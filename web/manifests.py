"""The process manifests pages use (``caseflow.manifest``), looked up once per request.

The engine caches each deployed version's manifest with its spec; this module only keeps the
request from asking twice (``flask.g``), so a page costs one lookup per version it shows.
Lists that span versions use the manifest of the version new cases start on (``for_process``).
"""
from __future__ import annotations

from typing import Any

from flask import g, has_app_context
from sqlalchemy.orm import Session

import engine
from caseflow.manifest import Manifest


def _cache(name: str) -> dict:
    return g.setdefault(name, {}) if has_app_context() else {}


def for_definition(session: Session, definition_id: int) -> Manifest:
    """The manifest of a deployed version (``engine.process_manifest``), once per request."""
    cache = _cache("manifest_of_definition")
    if definition_id not in cache:
        cache[definition_id] = engine.process_manifest(session, definition_id)
    return cache[definition_id]


def for_process(session: Session, key: str) -> Manifest | None:
    """The manifest of the version new cases of ``key`` start on; None when it is not deployed."""
    cache = _cache("manifest_of_process")
    if key not in cache:
        try:
            definition = engine.startable_definition(session, key)
        except engine.NotFound:
            cache[key] = None
        else:
            cache[key] = for_definition(session, definition.id)
    return cache[key]


def summary(manifest: Manifest | None, data: dict | None) -> Any:
    """The value naming a case in lists: its first ``summary_fields`` value ('' when none)."""
    key = manifest.summary_key(data) if manifest is not None else None
    return (data or {}).get(key, "") if key else ""
