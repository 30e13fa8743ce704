"""``/reports``: the KPI dashboard (charts with Apache ECharts, each beside its table), and each
table as CSV or Excel (openpyxl).

Every figure is a link to the complaint register (the case list of complaints) filtered to
the cases behind it. Only managers, general managers, quality (and admins) see the page.
"""
from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError
from openpyxl import Workbook
from openpyxl.styles import Font

from caseflow import clock
from schema.common import flatten_messages
from schema.reports import KpiQuerySchema
from web import get_db, kpis
from web.labels import OUTPUT_ENUMS, pick, role_label
from web.views.common import business_tz

bp = Blueprint("reports", __name__)

TEXTS: dict[str, tuple[str, str]] = {
    "title": ("KPI dashboard", "KPI 看板"),
    "kpi_by_month": ("KPI complaint count per month", "每月客诉考核数"),
    "ratio": ("Complaint ratio (loss ÷ delivery amount)", "投诉比率(损失金额 ÷ 交货金额)"),
    "timeliness": ("Timeliness: on-time rate per deadline", "及时性:各期限按时完成率"),
    "satisfaction": ("Customer satisfaction", "客户满意度"),
    "progress": ("Progress by stage", "处理进展"),
    "customers": ("Recurrence: top customers", "重复投诉:主要客户"),
    "departments": ("KPI complaint count per department", "各部门客诉考核数"),
    "escalations": ("Escalations per level", "各级升级次数"),
    "month": ("Month", "月份"), "complaints": ("Complaints", "投诉数"),
    "kpi_count": ("KPI complaint count", "客诉考核数"), "ungraded": ("Not graded yet", "未分级"),
    "band": ("Complaint ratio", "投诉比率"), "deadline": ("Deadline", "期限"), "met": ("Met", "按时"),
    "late": ("Late", "超时完成"), "open": ("Open", "未完成"), "overdue": ("Overdue now", "当前已超期"),
    "rate": ("On-time rate", "按时率"), "level": ("Satisfaction", "满意度"), "stage": ("Stage", "阶段"),
    "customer": ("Customer", "客户"), "department": ("Department", "部门"), "escalation_level": ("Level", "级别"),
    "escalation_count": ("Escalations", "升级次数"), "total": ("Period total", "期间合计"),
    "none": ("(none)", "(无)"),
}
DEADLINE_TEXTS = {"reaction": ("Reaction", "响应"), "containment": ("Containment", "围堵"),
                  "closure": ("Closure", "结案"), "repair_reply": ("Repair reply", "维修答复"),
                  "repair_cycle": ("Repair cycle", "维修周期")}
STAGE_TEXTS = {"in_progress": ("In progress", "处理中"), "follow_up": ("Pending follow-up", "待跟进"),
               "resolved": ("Resolved", "已解决"), "cancelled": ("Cancelled", "已取消")}
LEVEL_TEXTS = {"1": ("1 Very dissatisfied", "1 非常不满意"), "2": ("2 Dissatisfied", "2 不满意"),
               "3": ("3 Average", "3 一般"), "4": ("4 Satisfied", "4 满意"), "5": ("5 Very satisfied", "5 非常满意")}
# The complaint types of the registration form (processes/complaint/complaint_register.schema.json).
COMPLAINT_TYPES = ("quality", "transport", "packaging", "labeling", "quantity", "service", "other")
BAND_TEXTS = {"lt_0.5pct": "< 0.5 %", "0.5_1pct": "0.5–1 %", "1_2pct": "1–2 %", "2_5pct": "2–5 %", "ge_5pct": "≥ 5 %"}


def text(key: str) -> str:
    return pick(*TEXTS[key])


@dataclass
class Cell:
    value: Any
    link: str | None = None


@dataclass
class Table:
    """One table of the dashboard: headers and rows of cells (a cell may link to its cases)."""

    key: str
    title: str
    headers: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    chart: dict[str, Any] = field(default_factory=dict)  # what static/js/reports.js draws


def _filter() -> tuple[kpis.KpiFilter, dict[str, str]]:
    """The filter of the query string (default: the last 12 months), or 400 with the field messages."""
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
    return kpis.KpiFilter(query["date_from"], query["date_to"], query.get("department"), query.get("customer"),
                          query.get("product_model"), query.get("complaint_type")), args


def _guard() -> None:
    if not (current_user.is_admin or kpis.can_see(set(current_user.roles))):
        abort(403)


def _cases(flt: kpis.KpiFilter, **extra: str) -> str:
    """The complaint register filtered to the cases behind a figure."""
    args: dict[str, Any] = {"date_from": flt.date_from.isoformat(), "date_to": flt.date_to.isoformat(),
                            "department": flt.department, "customer": flt.customer,
                            "product_model": flt.product_model, "complaint_type": flt.complaint_type}
    args.update(extra)
    return url_for("register.index", **{k: v for k, v in args.items() if v})


def _month_range(month: str, flt: kpis.KpiFilter) -> dict[str, str]:
    year, number = (int(p) for p in month.split("-"))
    start = max(dt.date(year, number, 1), flt.date_from)
    end = min(dt.date(year, number, calendar.monthrange(year, number)[1]), flt.date_to)
    return {"date_from": start.isoformat(), "date_to": end.isoformat()}


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f} %"


def tables(figures: dict[str, Any], flt: kpis.KpiFilter) -> list[Table]:
    """The dashboard's tables (and their charts) from the figures of :func:`web.kpis.kpis`."""
    classes = [(c, pick(*OUTPUT_ENUMS["kpi_class"][c])) for c in kpis.CLASSES] + [("ungraded", text("ungraded"))]
    out: list[Table] = []

    months = Table("kpi_by_month", text("kpi_by_month"), [text("month"), *(label for _c, label in classes),
                                                          text("complaints"), text("kpi_count")])
    for m in figures["by_month"]:
        span = _month_range(m["month"], flt)
        row = [Cell(m["month"], _cases(flt, **span))]
        row += [Cell(m[c], _cases(flt, **span, kpi_class=c) if c != "ungraded" else None) for c, _label in classes]
        row += [Cell(sum(m[c] for c, _l in classes), _cases(flt, **span)), Cell(m["kpi_complaint_count"])]
        months.rows.append(row)
    months.chart = {"type": "stacked", "categories": [m["month"] for m in figures["by_month"]],
                    "series": [{"name": label, "data": [m[c] for m in figures["by_month"]],
                                "links": [_cases(flt, **_month_range(m["month"], flt), kpi_class=c)
                                          if c != "ungraded" else None for m in figures["by_month"]]}
                               for c, label in classes],
                    "line": {"name": text("kpi_count"),
                             "data": [m["kpi_complaint_count"] for m in figures["by_month"]]}}
    out.append(months)

    ratio = figures["complaint_ratio"]
    bands = Table("ratio", text("ratio"), [text("band"), text("complaints")])
    for band, n in ratio["distribution"].items():
        bands.rows.append([Cell(BAND_TEXTS[band]), Cell(n, _cases(flt, ratio_band=band))])
    bands.rows.append([Cell(text("total")), Cell(_percent(ratio["total"]), _cases(flt))])
    bands.chart = {"type": "bar", "categories": [BAND_TEXTS[b] for b in ratio["distribution"]],
                   "series": [{"name": text("complaints"), "data": list(ratio["distribution"].values()),
                               "links": [_cases(flt, ratio_band=b) for b in ratio["distribution"]]}]}
    out.append(bands)

    timely = Table("timeliness", text("timeliness"), [text("deadline"), text("met"), text("late"), text("open"),
                                                      text("overdue"), text("rate")])
    for name, rate in figures["on_time_rate"].items():
        timely.rows.append([Cell(pick(*DEADLINE_TEXTS[name]))] +
                           [Cell(rate[s], _cases(flt, deadline=name, deadline_state=s))
                            for s in ("met", "late", "open", "overdue")] + [Cell(_percent(rate["rate"]))])
    names = list(figures["on_time_rate"])
    timely.chart = {"type": "stacked", "categories": [pick(*DEADLINE_TEXTS[n]) for n in names],
                    "series": [{"name": text(s), "data": [figures["on_time_rate"][n][s] for n in names],
                                "links": [_cases(flt, deadline=n, deadline_state=s) for n in names]}
                               for s in ("met", "late", "open")]}
    out.append(timely)

    sat = Table("satisfaction", text("satisfaction"), [text("level"), text("complaints")])
    for level, n in figures["satisfaction"].items():
        sat.rows.append([Cell(pick(*LEVEL_TEXTS[level])), Cell(n, _cases(flt, satisfaction=level))])
    sat.chart = {"type": "pie", "categories": [pick(*LEVEL_TEXTS[k]) for k in figures["satisfaction"]],
                 "series": [{"name": text("satisfaction"), "data": list(figures["satisfaction"].values()),
                             "links": [_cases(flt, satisfaction=k) for k in figures["satisfaction"]]}]}
    out.append(sat)

    stages = Table("progress", text("progress"), [text("stage"), text("complaints")])
    for stage, n in figures["stages"].items():
        stages.rows.append([Cell(pick(*STAGE_TEXTS[stage])), Cell(n, _cases(flt, stage=stage))])
    stages.chart = {"type": "bar", "categories": [pick(*STAGE_TEXTS[s]) for s in figures["stages"]],
                    "series": [{"name": text("complaints"), "data": list(figures["stages"].values()),
                                "links": [_cases(flt, stage=s) for s in figures["stages"]]}]}
    out.append(stages)

    customers = Table("customers", text("customers"), [text("customer"), text("complaints"), text("kpi_count")])
    for c in figures["top_customers"]:
        name = c["label"] or c["key"] or text("none")
        customers.rows.append([Cell(name), Cell(c["complaints"], _cases(flt, customer=c["key"]) if c["key"] else None),
                               Cell(c["kpi_complaint_count"])])
    customers.chart = {"type": "bar", "categories": [c["label"] or c["key"] or text("none")
                                                     for c in figures["top_customers"]],
                       "series": [{"name": text("complaints"),
                                   "data": [c["complaints"] for c in figures["top_customers"]],
                                   "links": [_cases(flt, customer=c["key"]) if c["key"] else None
                                             for c in figures["top_customers"]]}]}
    out.append(customers)

    departments = Table("departments", text("departments"), [text("department"), text("complaints"), text("kpi_count")])
    for d in figures["by_department"]:
        departments.rows.append([Cell(role_label(d["key"]) if d["key"] else text("none")),
                                 Cell(d["complaints"], _cases(flt, department=d["key"]) if d["key"] else None),
                                 Cell(d["kpi_complaint_count"])])
    departments.chart = {"type": "bar", "categories": [role_label(d["key"]) if d["key"] else text("none")
                                                       for d in figures["by_department"]],
                         "series": [{"name": text("kpi_count"),
                                     "data": [d["kpi_complaint_count"] for d in figures["by_department"]],
                                     "links": [_cases(flt, department=d["key"]) if d["key"] else None
                                               for d in figures["by_department"]]}]}
    out.append(departments)

    escalations = Table("escalations", text("escalations"), [text("escalation_level"), text("escalation_count")])
    for level, n in figures["escalations"].items():
        escalations.rows.append([Cell(role_label(level)), Cell(n, _cases(flt, escalated=level))])
    out.append(escalations)
    return out


@bp.route("/reports")
def index() -> Any:
    """The KPI dashboard of the complaints registered in the range, with the filters."""
    _guard()
    flt, args = _filter()
    session = get_db()
    figures = kpis.kpis(session, flt, business_tz())
    today = clock.now().astimezone(business_tz()).date()
    quarter_start = today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
    periods = [(pick("This month", "本月"), today.replace(day=1)), (pick("This quarter", "本季度"), quarter_start),
               (pick("This year", "本年"), today.replace(month=1, day=1)),
               (pick("Last 12 months", "近12个月"), (today.replace(day=1) - dt.timedelta(days=335)).replace(day=1))]
    filters: dict[str, Any] = {k: v for k, v in flt.as_args().items() if k not in ("from", "to")}
    shown = tables(figures, flt)
    return render_template(
        "reports.html", title=text("title"), flt=flt, args=flt.as_args(), figures=figures,
        tables=shown, charts={t.key: t.chart for t in shown if t.chart}, text=text,
        periods=[(label, url_for("reports.index", **{**filters, "from": start.isoformat(), "to": today.isoformat()}))
                 for label, start in periods],
        departments=[(d, role_label(d)) for d in kpis.choices(session, kpis.F.department)],
        customers=kpis.choices(session, kpis.F.customer_code),
        complaint_types=COMPLAINT_TYPES,
        all_cases=_cases(flt))


def _table(key: str) -> tuple[Table, kpis.KpiFilter]:
    _guard()
    flt, _args = _filter()
    found = next((t for t in tables(kpis.kpis(get_db(), flt, business_tz()), flt) if t.key == key), None)
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
