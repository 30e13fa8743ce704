"""KPI reports: the figures of the dashboard as JSON (manager, general manager, quality)."""
from __future__ import annotations

import engine
from caseflow.reports import kpis, waiting
from schema import reports as s
from web import get_db
from web.api.core import ApiError, caller, operation
from web.views.common import business_tz

TAGS = ["reports"]


@operation("/reports/kpis", "GET", summary="KPI figures of complaints registered in a range", tags=TAGS,
           query=s.KpiQuerySchema, response=s.KpiSchema, errors=(403, 422))
def get_kpis(query: dict) -> dict:
    """The KPI complaint count (客诉考核: sum of the KPI weights), the complaints per class, the
    complaint ratio (sum of losses ÷ sum of delivery amounts, and its per-complaint bands),
    the on-time rate per deadline, the satisfaction levels, escalations, handling progress,
    per month, per department and the top customers, over the complaints registered
    (received) from `from` to `to` (days of the business time zone, both included).
    Also the cases late now, open complaints by age, the top product models and complaint types,
    and the repairs registered in the range. Roles: manager, general_manager, quality (and
    admins) see every department; logistics, marketing and customer_service their own
    department's complaints; others get 403."""
    try:
        scope = kpis.scope_for(set(caller().roles))
    except PermissionError as err:
        raise ApiError(403, "forbidden", str(err)) from err
    fields = kpis.unknown_filter_values(get_db(), query.get("department"), query.get("complaint_type"))
    if fields:
        raise ApiError(422, "invalid_data", "a filter value no complaint can have", fields)
    flt = kpis.KpiFilter(query["date_from"], query["date_to"], query.get("department"), query.get("customer"),
                         query.get("product_model"), query.get("complaint_type"), scope)
    return kpis.kpis(get_db(), flt, business_tz())


@operation("/reports/waiting", "GET", summary="Where cases wait: the heat map of a process version", tags=TAGS,
           query=s.WaitingQuerySchema, response=s.WaitingSchema, errors=(403, 404, 422))
def get_waiting(query: dict) -> dict:
    """Per BPMN element of a version (the newest without `version`): cases passed, waiting now,
    median and 90th percentile of the time spent (human tasks, creation to completion; timers:
    times fired), and per sequence flow the times taken, over the tasks created from `from` to
    `to`. Aggregated in SQL over the task and audit tables. Roles: manager, general_manager,
    quality (and admins)."""
    if not kpis.can_see(caller().roles):
        raise ApiError(403, "forbidden", "the waiting-time report is for managers, general managers and quality")
    session = get_db()
    definition_id = waiting.definition_of(session, query["process"], query.get("version"))
    if definition_id is None:
        raise ApiError(404, "not_found", "no such process version")
    found = waiting.waiting(session, definition_id, engine.diagram_xml(session, definition_id), query["date_from"],
                            query["date_to"], business_tz())
    version = next(v for i, v in waiting.versions(session, query["process"]) if i == definition_id)
    return {"process": query["process"], "version": version, "date_from": query["date_from"],
            "date_to": query["date_to"], **found}
