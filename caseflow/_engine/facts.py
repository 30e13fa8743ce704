"""The engine's side of the case facts: after each save, the case's reporting row follows it.

:func:`write` is called by :func:`caseflow._engine.sync.save` inside the action's transaction;
the derivation and the table's one writer are :mod:`caseflow.case_facts`.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from caseflow import case_facts, clock, returned_goods_stats
from caseflow import manifest as manifests
from caseflow._engine.rows import Case


def write(session: Session, case: Case, manifest: manifests.Manifest | None) -> None:
    """Bring the facts row of ``case`` in step with what was just saved (no row without ``facts``)."""
    if case.id is not None:  # the returned-goods defect statistics follow every save too
        returned_goods_stats.write(session, case.id, case.process_key, case.data or {})
    if manifest is None or manifest.facts is None or case.id is None:
        return
    tasks = [dict(r._mapping) for r in session.connection().execute(case_facts.CASE_TASKS, {"ids": [case.id]})]
    case_facts.upsert(session, case_facts.derive(
        manifest.facts, manifest.deadlines, instance_id=case.id, process_key=case.process_key, status=case.status,
        data=case.data or {}, created_at=case.created_at, completed_at=case.completed_at, tasks=tasks,
        now=clock.now(), tz=clock.business_zone()))


def rebuild(session: Session, process_key: str | None = None) -> int:
    """Derive every case's facts row again (of ``process_key`` when given); returns rows written."""
    return case_facts.rebuild(session, process_key)
