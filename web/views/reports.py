"""``/reports``: the KPI dashboard (charts with Apache ECharts, each beside its table), and each
table as CSV or Excel (openpyxl).

Every figure is a link to the complaint register (the case list of complaints) filtered to
the cases behind it. Only managers, general managers, quality (and admins) see the page.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError
from openpyxl import Workbook
from openpyxl.styles import Font

import engine
from caseflow import clock, returned_goods_stats, store
from caseflow.reports import kpis, waiting
from schema.common import flatten_messages
from schema.reports import KpiQuerySchema, WaitingQuerySchema
from web import casefile, get_db, labels
from web.labels import pick, role_label
from web.reports.tables import COMPLAINT_TYPES, Table, cases_link, tables, text
from web.views.common import business_tz

bp = Blueprint("reports", __name__)

def _filter() -> tuple[kpis.KpiFilter, dict[str, str]]:
    """The filter of the query string (default: the last 12 months), or 400 with the field messages."""
    scope = _scope()
    today = clock.now().astimezone(business_tz()).date()
    first = (today.replace(day=1) - dt.timedelta(days=335)).replace(day=1)
    args = {k: v for k, v in request.args.items() if v}
    args.setdefault("from", first.isoformat())
    args.setdefault("to", today.isoformat())
    try:
        query = KpiQuerySchema().load(args)
    except ValidationError as err:
        fields = flatten_messages(err.messages)
        abort(Response(render_template("reports_error.html", fields=fields, title=text("title")), status=400))
    fields = kpis.unknown_filter_values(get_db(), query.get("department"), query.get("complaint_type"))
    if fields:
        abort(Response(render_template("reports_error.html", fields=fields, title=text("title")), status=400))
    return kpis.KpiFilter(query["date_from"], query["date_to"], query.get("department"), query.get("customer"),
                          query.get("product_model"), query.get("complaint_type"), scope), args


def _scope() -> tuple[str, ...] | None:
    """The departments the signed-in user sees (None: every one); 403 for a role outside the reports'."""
    if current_user.is_admin:
        return None
    try:
        return kpis.scope_for(set(current_user.roles))
    except PermissionError:
        abort(403)


@bp.route("/reports")
def index() -> Any:
    """The KPI dashboard of the complaints registered in the range, with the filters."""
    flt, args = _filter()
    session = get_db()
    figures = _figures(session, flt)
    today = clock.now().astimezone(business_tz()).date()
    quarter_start = today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
    periods = [(pick("This month", "本月"), today.replace(day=1)), (pick("This quarter", "本季度"), quarter_start),
               (pick("This year", "本年"), today.replace(month=1, day=1)),
               (pick("Last 12 months", "近12个月"), (today.replace(day=1) - dt.timedelta(days=335)).replace(day=1))]
    filters: dict[str, Any] = {k: v for k, v in flt.as_args().items() if k not in ("from", "to")}
    shown = tables(figures, flt, today)
    return render_template(
        "reports.html", title=text("title"), flt=flt, args=flt.as_args(), figures=figures,
        tables=shown, charts={t.key: t.chart for t in shown if t.chart}, text=text,
        periods=[(label, url_for("reports.index", **{**filters, "from": start.isoformat(), "to": today.isoformat()}))
                 for label, start in periods],
        departments=[(d, role_label(d)) for d in kpis.choices(session, kpis.F.department, flt.scope)],
        scope_labels=[role_label(d) for d in flt.scope] if flt.scope is not None else [],
        customers=kpis.choices(session, kpis.F.customer_code, flt.scope),
        complaint_types=_complaint_type_choices(session),
        allcases_link=cases_link(flt),
        rg_defects=returned_goods_stats.defects(session, flt.date_from, flt.date_to, flt.product_model,
                                                scope=flt.scope))


def _figures(session: Any, flt: kpis.KpiFilter) -> dict[str, Any]:
    """The KPI figures, the complaint types named with the complaint form's words (not their keys)."""
    figures = kpis.kpis(session, flt, business_tz())
    words = dict(_complaint_type_choices(session))
    for entry in figures.get("top_complaint_types") or []:
        if entry.get("key") in words:
            entry["label"] = words[entry["key"]]
    return figures


def _complaint_type_choices(session: Any) -> list[tuple[str, str]]:
    """The complaint types with the words of the complaint form (its enum labels) in the reader's language."""
    try:
        book = casefile.label_book(session, engine.startable_definition(session, "complaint").id)
    except engine.NotFound:
        return [(value, value) for value in COMPLAINT_TYPES]
    return [(value, casefile.display(book, "complaint_type", value) or value) for value in COMPLAINT_TYPES]


def _table(key: str) -> tuple[Table, kpis.KpiFilter]:
    flt, _args = _filter()
    today = clock.now().astimezone(business_tz()).date()
    found = next((t for t in tables(_figures(get_db(), flt), flt, today) if t.key == key), None)
    if found is None:
        abort(404)
    return found, flt


def _name(table: Table, flt: kpis.KpiFilter, ext: str) -> str:
    return f"kpi-{table.key}-{flt.date_from.isoformat()}-{flt.date_to.isoformat()}.{ext}"


def _cell(value: Any) -> Any:
    """A value a spreadsheet will not run as a formula (CSV/Excel injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@bp.route("/reports/<key>.csv")
def export_csv(key: str) -> Any:
    """One table of the dashboard as UTF-8 CSV with a BOM (opens in Excel)."""
    table, flt = _table(key)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(table.headers)
    for row in table.rows:
        writer.writerow([_cell(c.value) for c in row])
    return Response(out.getvalue(), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{_name(table, flt, "csv")}"'})


@bp.route("/reports/<key>.xlsx")
def export_xlsx(key: str) -> Any:
    """One table of the dashboard as an Excel workbook (openpyxl)."""
    table, flt = _table(key)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = table.key[:31]
    sheet.append([table.title])
    sheet["A1"].font = Font(bold=True)
    sheet.append([f"{flt.date_from.isoformat()} – {flt.date_to.isoformat()}"])
    sheet.append(table.headers)
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    for row in table.rows:
        sheet.append([_cell(c.value) for c in row])
    out = io.BytesIO()
    book.save(out)
    return Response(out.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{_name(table, flt, "xlsx")}"'})


def _waiting_args() -> tuple[dict[str, Any], list[tuple[int, int]], int]:
    """The heat map's query (default: the complaint process's newest version, the last 12 months),
    its process's versions and the definition id; 400 with the field messages, 404 without it."""
    if not (current_user.is_admin or kpis.can_see(set(current_user.roles))):
        abort(403)
    today = clock.now().astimezone(business_tz()).date()
    args = {k: v for k, v in request.args.items() if v}
    args.setdefault("process", "complaint")
    args.setdefault("from", (today.replace(day=1) - dt.timedelta(days=335)).replace(day=1).isoformat())
    args.setdefault("to", today.isoformat())
    try:
        query = WaitingQuerySchema().load(args)
    except ValidationError as err:
        fields = flatten_messages(err.messages)
        abort(Response(render_template("reports_error.html", fields=fields, title=text("waiting")), status=400))
    session = get_db()
    definition_id = waiting.definition_of(session, query["process"], query.get("version"))
    if definition_id is None:
        abort(404)
    return query, waiting.versions(session, query["process"]), definition_id


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    hours = seconds / 3600
    return pick(f"{hours / 24:.1f} d", f"{hours / 24:.1f} 天") if hours >= 48 else pick(f"{hours:.1f} h",
                                                                                      f"{hours:.1f} 小时")


@bp.route("/reports/waiting")
def waiting_page() -> Any:
    """Where cases wait: the version's diagram (bpmn-js) with each element's figures and flow counts."""
    query, versions, definition_id = _waiting_args()
    session = get_db()
    found = waiting.waiting(session, definition_id, engine.diagram_xml(session, definition_id), query["date_from"],
                            query["date_to"], business_tz())
    localized = labels.localized_diagram(session, definition_id, engine.diagram_xml(session, definition_id))
    names = {e.id: e.name for e in waiting.read_diagram(localized.decode("utf-8"))[0].values()}
    rows = sorted(found["elements"].items(), key=lambda kv: (-(kv[1]["p90_s"] or -1), -kv[1]["passed"], kv[0]))
    table = [{"id": k, "name": names.get(k) or k,
              "kind": v["kind"], "passed": v["passed"], "waiting": v["waiting"], "median": _duration(v["median_s"]),
              "p90": _duration(v["p90_s"])} for k, v in rows]
    overlay = {k: {"passed": v["passed"], "waiting": v["waiting"], "median": _duration(v["median_s"]),
                   "p90": _duration(v["p90_s"]), "p90_s": v["p90_s"]} for k, v in found["elements"].items()}
    version = next(v for i, v in versions if i == definition_id)
    return render_template(
        "reports_waiting.html", title=text("waiting"), query=query, versions=versions, version=version,
        table=table, data={"elements": overlay, "flows": found["flows"]},
        diagram_url=url_for("reports.waiting_diagram", definition_id=definition_id),
        dashboard=url_for("reports.index", **{"from": query["date_from"].isoformat(),
                                              "to": query["date_to"].isoformat()}))


@bp.route("/reports/waiting/<int:definition_id>/diagram.bpmn")
def waiting_diagram(definition_id: int) -> Any:
    """The BPMN XML of a version for the heat map (named in the user's language)."""
    if not (current_user.is_admin or kpis.can_see(set(current_user.roles))):
        abort(403)
    session = get_db()
    if session.get(store.ProcessDefinition, definition_id) is None:
        abort(404)
    response = Response(labels.localized_diagram(session, definition_id, engine.diagram_xml(session, definition_id)),
                        mimetype="application/xml")
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Content-Language"] = labels.locale()
    return response
