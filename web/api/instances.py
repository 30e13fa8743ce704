"""Process instances: start, list with filters, get, cancel, retry, audit log, migration."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

import engine
from caseflow import store
from schema import instances as s
from web import case_status, get_db
from web.api.core import ApiError, actor, caller, operation

TAGS = ["instances"]


def _may_start(process_key: str) -> bool:
    from web.views.common import start_roles

    who = caller()
    return who.is_admin or bool(start_roles(process_key) & set(who.roles))


@operation("/instances", "POST", summary="Start an instance", tags=TAGS, body=s.StartRequestSchema,
           response=s.InstanceSchema, status=201, errors=(403, 404, 415, 422))
def start(body: dict) -> engine.CaseRecord:
    """Start an instance of `process` with the start form `data` (validated against the
    start form: 422 with `fields`) and run it until it waits. Who may start a process
    follows the UI (its start roles, or admin); only admins choose a `version`."""
    key = body["process"]
    session = get_db()
    engine.startable_definition(session, key)  # 404 for an unknown process
    if not _may_start(key):
        raise ApiError(403, "forbidden", f"your roles may not start process {key!r}")
    if body.get("version") is not None and not caller().is_admin:
        raise ApiError(403, "forbidden", "only admins start a chosen version")
    return case_status.with_outcome(session, engine.start(session, key, body.get("data") or {}, actor=actor(),
                                                          version=body.get("version")))


# What the list shows of an instance (never its workflow state), with its version number.
_LIST_COLUMNS = (store.ProcessInstance.id, store.ProcessInstance.process_key, store.ProcessDefinition.version,
                 store.ProcessInstance.definition_id, store.ProcessInstance.business_key,
                 store.ProcessInstance.status, store.ProcessInstance.error, store.ProcessInstance.started_by,
                 store.ProcessInstance.created_at, store.ProcessInstance.updated_at,
                 store.ProcessInstance.completed_at)


def _summary(inst: Any, outcome: str | None) -> dict:
    return {"outcome": outcome,
        "id": inst.id, "process_key": inst.process_key, "version": inst.version,
        "definition_id": inst.definition_id, "business_key": inst.business_key, "status": inst.status,
        "error": inst.error if inst.status == "error" else None, "started_by": inst.started_by,
        "created_at": inst.created_at.isoformat(),
        "updated_at": inst.updated_at.isoformat() if inst.updated_at else None,
        "completed_at": inst.completed_at.isoformat() if inst.completed_at else None,
    }


@operation("/instances", "GET", summary="List instances", tags=TAGS, query=s.InstanceListQuerySchema,
           response=s.InstanceListSchema, errors=(422,))
def list_instances(query: dict) -> dict:
    """Filter by process (and version), status, business key and creation time; newest first.
    Reads the instance table only."""
    session = get_db()
    instance = store.ProcessInstance
    where = []
    if query.get("process"):
        where.append(instance.process_key == query["process"])
    if query.get("version") is not None:
        if not query.get("process"):
            raise ApiError(422, "invalid_data", "filtering by version needs process",
                           {"version": "needs process"})
        where.append(store.ProcessDefinition.version == query["version"])
    if query.get("status"):
        where.append(instance.status == query["status"])
    if query.get("business_key"):
        where.append(instance.business_key == query["business_key"])
    if query.get("created_from"):
        where.append(instance.created_at >= query["created_from"])
    if query.get("created_to"):
        where.append(instance.created_at < query["created_to"])
    counted = select(func.count()).select_from(instance)
    if query.get("version") is not None:
        counted = counted.join(store.ProcessDefinition, store.ProcessDefinition.id == instance.definition_id)
    total = session.execute(counted.where(*where)).scalar_one()
    page = session.execute(select(*_LIST_COLUMNS)
                           .join_from(instance, store.ProcessDefinition,
                                      store.ProcessDefinition.id == instance.definition_id)
                           .where(*where).order_by(instance.id.desc())
                           .limit(query["limit"]).offset(query["offset"])).all()
    found = case_status.outcomes(session, page)
    return {"items": [_summary(r, found[r.id]) for r in page], "total": total, "limit": query["limit"],
            "offset": query["offset"]}


@operation("/instances/<int:instance_id>", "GET", summary="One instance", tags=TAGS,
           response=s.InstanceSchema, errors=(404,))
def get_instance(instance_id: int) -> engine.CaseRecord:
    """Status, data, ready tasks, timers and error of an instance (no history: see `/audit`)."""
    session = get_db()
    return case_status.with_outcome(session, engine.show(session, instance_id, audit=False))


@operation("/instances/<int:instance_id>/audit", "GET", summary="Audit log of an instance", tags=TAGS,
           response=s.AuditListSchema, errors=(404,))
def audit(instance_id: int) -> dict:
    """Who did what and when, oldest first (append-only)."""
    session = get_db()
    engine.show(session, instance_id, audit=False)  # 404 for an unknown instance
    return {"instance_id": instance_id, "items": engine.audit_log(session, instance_id)}


@operation("/instances/<int:instance_id>/cancel", "POST", summary="Cancel an instance", tags=TAGS, admin=True,
           body=s.CancelRequestSchema, response=s.InstanceSchema, errors=(404, 409, 415, 422))
def cancel(instance_id: int, body: dict) -> engine.CaseRecord:
    session = get_db()
    return case_status.with_outcome(session, engine.cancel(session, instance_id, actor=actor(),
                                                           reason=body.get("reason")))


@operation("/instances/<int:instance_id>/retry", "POST", summary="Retry a failed instance", tags=TAGS,
           admin=True, response=s.InstanceSchema, errors=(404, 409))
def retry(instance_id: int) -> engine.CaseRecord:
    """Run an instance in `error` again from the task that failed (after fixing the cause,
    e.g. by migrating it to a corrected version)."""
    session = get_db()
    return case_status.with_outcome(session, engine.retry(session, instance_id, actor=actor()))


@operation("/instances/<int:instance_id>/migrate", "POST", summary="Migrate an instance to another version",
           tags=TAGS, admin=True, body=s.MigrateRequestSchema, response=s.MigrationReportSchema,
           errors=(404, 409, 415, 422))
def migrate(instance_id: int, body: dict) -> dict:
    """Move the instance to another version of its process. Refused (409, `fields.reasons`)
    when it is at a task that is missing or changed in the target; nothing changes then.
    `dry_run`: only report whether it can move and why not (200)."""
    session = get_db()
    instance = session.get(store.ProcessInstance, instance_id)
    if instance is None:
        raise engine.NotFound(f"no instance {instance_id}")
    target = _target(session, instance.process_key, body)
    report = engine.migrate(session, [instance_id], target.id, actor(), dry_run=body["dry_run"])
    entry = report["instances"][0]
    if not entry["can_migrate"] and not body["dry_run"]:
        raise ApiError(409, "migration_refused", f"instance {instance_id} cannot move to version "
                       f"{target.version}: " + "; ".join(entry["reasons"]), {"reasons": entry["reasons"]})
    return report


def _target(session: object, key: str, body: dict) -> store.ProcessDefinition:
    if body.get("to_definition_id") is not None:
        target = engine.get_definition(session, body["to_definition_id"])  # type: ignore[arg-type]
        if target.key != key:
            raise ApiError(422, "invalid_data", f"definition {target.id} is a version of {target.key!r}, not {key!r}",
                           {"to_definition_id": "not a version of this process"})
        return target
    return engine.find_definition(session, key, body["to_version"])  # type: ignore[arg-type]


@operation("/migrations", "POST", summary="Migrate instances (one action)", tags=TAGS, admin=True,
           body=s.BulkMigrateRequestSchema, response=s.MigrationReportSchema, errors=(404, 415, 422))
def migrate_many(body: dict) -> dict:
    """Migrate chosen instances of `process` (by id, every unfinished one of `from_version`, or
    `all`) to a target version in one audited action; each instance moves completely or not
    at all, and the report says per instance whether it moved and why not. `dry_run` only
    reports."""
    session = get_db()
    key = body["process"]
    target = _target(session, key, body)
    if body.get("instance_ids") is not None:
        ids = body["instance_ids"]
    elif body.get("from_version") is not None:
        ids = engine.migration_candidates(session, key=key, version=body["from_version"])
    else:
        ids = engine.migration_candidates(session, key=key, exclude_definition_id=target.id)
    return engine.migrate(session, ids, target.id, actor(), dry_run=body["dry_run"])
