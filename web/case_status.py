"""One status vocabulary for cases: the instance status and, once a case has ended, its end state.

A finished case says how it ended (a rejected complaint, an abandoned repair, goods exchanged):
the process manifest's ``outcome`` names the data key the diagram writes the end state to and
the words for each value (``caseflow.manifest``). Every page that shows a case's status (case
page, case list, complaint register, inbox) and the API use this module, so one case reads the
same everywhere. It reads the case row's data snapshot only, never a workflow.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow import store
from caseflow.manifest import Manifest
from web import manifests
from web.labels import pick


@dataclass(frozen=True)
class CaseStatus:
    """How a case stands: its instance ``status``, its ``outcome`` when it ended with one, and the
    ``word`` people read for both (in the request's language)."""

    status: str
    outcome: str | None
    word: str

    @property
    def key(self) -> str:
        """The key that names this state in pages and styles: the outcome, else the status."""
        return self.outcome or self.status


def outcome(manifest: Manifest | None, status: str | None, data: Mapping[str, Any] | None) -> str | None:
    """The end state of a completed case: the value of its manifest's outcome key (None while it runs,
    when it was cancelled or stopped, or when its process declares no outcome)."""
    if status != "completed" or manifest is None or manifest.outcome is None:
        return None
    value = (data or {}).get(manifest.outcome[0])
    if value is None or isinstance(value, (dict, list)) or str(value).strip() == "":
        return None
    return str(value)


def outcome_word(manifest: Manifest | None, value: str | None) -> str | None:
    """The manifest's words for an outcome value in the request's language (None when it has none)."""
    if manifest is None or manifest.outcome is None or value is None:
        return None
    label = manifest.outcome[1].get(value)
    return pick(label.en, label.zh) if label is not None else None


def case_status(manifest: Manifest | None, status: str, data: Mapping[str, Any] | None) -> CaseStatus:
    """A case's status in the one vocabulary: the outcome's words for a case that ended with one,
    else the status label."""
    from web.templating import status_label

    end = outcome(manifest, status, data)
    return CaseStatus(status=status, outcome=end, word=outcome_word(manifest, end) or status_label(status))


def with_outcome(session: Session, record: Any) -> Any:
    """An instance record (``engine.CaseRecord``) with its ``outcome`` added (the API's key).
    Only a completed case has one, so only then is its version's manifest looked up."""
    completed = record["status"] == "completed"
    manifest = manifests.for_definition(session, record["definition_id"]) if completed else None
    record["outcome"] = outcome(manifest, record["status"], record.get("data"))
    return record


def _manifest_of(session: Session, row: Any) -> Manifest | None:
    """A list row's manifest: its version's, else (a row without ``definition_id``) its process's."""
    definition_id = getattr(row, "definition_id", None)
    if definition_id is not None:
        return manifests.for_definition(session, definition_id)
    return manifests.for_process(session, row.process_key)


def outcomes(session: Session, rows: Iterable[Any]) -> dict[int, str | None]:
    """Instance id -> outcome of list rows (``id``, ``status``, ``definition_id`` or ``process_key``)
    without their data: one query per distinct outcome key, reading only that value of the completed
    cases' rows."""
    by_key: dict[str, list[int]] = {}
    out: dict[int, str | None] = {}
    for row in rows:
        out[row.id] = None
        manifest = _manifest_of(session, row) if row.status == "completed" else None
        if manifest is not None and manifest.outcome is not None:
            by_key.setdefault(manifest.outcome[0], []).append(row.id)
    for key, ids in by_key.items():
        value = store.ProcessInstance.data[key].as_string()
        for instance_id, found in session.execute(select(store.ProcessInstance.id, value)
                                                  .where(store.ProcessInstance.id.in_(ids))):
            out[instance_id] = found if found not in (None, "") else None
    return out


def states(session: Session, rows: Iterable[Any]) -> dict[int, CaseStatus]:
    """Instance id -> :class:`CaseStatus` of list rows that carry no data (see :func:`outcomes`)."""
    from web.templating import status_label

    rows = list(rows)
    found = outcomes(session, rows)
    out: dict[int, CaseStatus] = {}
    for row in rows:
        end = found[row.id]
        word = outcome_word(_manifest_of(session, row), end) if end else None
        out[row.id] = CaseStatus(status=row.status, outcome=end, word=word or status_label(row.status))
    return out
