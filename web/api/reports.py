"""KPI reports: the figures of the dashboard as JSON (manager, general manager, quality)."""
from __future__ import annotations

from schema import reports as s
from web import get_db, kpis
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
    Roles: manager, general_manager, quality (and admins); others get 403."""
    if not kpis.can_see(caller().roles):
        raise ApiError(403, "forbidden", "the KPI reports are for managers, general managers and quality")
    flt = kpis.KpiFilter(query["date_from"], query["date_to"], query.get("department"), query.get("customer"),
                         query.get("product_model"), query.get("complaint_type"))
    return kpis.kpis(get_db(), flt, business_tz())
