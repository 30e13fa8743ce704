"""The tables of the KPI dashboard (each with the chart drawn beside it, its exports and the links to
the cases behind each figure), from the figures of :func:`caseflow.reports.kpis.kpis`.
"""
from __future__ import annotations

import calendar
import datetime as dt
import functools
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import g, url_for

from caseflow.reports import kpis
from web.labels import OUTPUT_ENUMS, pick, role_label
from web.reports import figure_tables
from web.templating import when

TEXTS: dict[str, tuple[str, str]] = {
    "title": ("KPI dashboard", "KPI 看板"), "waiting": ("Where cases wait", "案件在哪里等待"),
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
    "none": ("(not given)", "(未填写)"), "unrouted": ("(not routed yet)", "(尚未分派)"),
    "late_now": ("Late now, by how much", "当前超期及超期时长"), "late_cases": ("Cases late now", "当前超期案件"),
    "late_total": ("Late now", "当前超期"), "case": ("Case", "案件"), "due": ("Due", "期限"),
    "late_hours": ("Hours late", "超期小时"),
    "open_by_age": ("Open complaints by stage and age", "未结投诉(按阶段和时长)"),
    "oldest_open": ("Oldest open complaints", "最早的未结投诉"), "age_days": ("Age (days)", "已处理天数"),
    "registered": ("Received", "受理时间"), "models": ("Recurrence: top product models", "重复投诉:主要产品型号"),
    "types": ("Recurrence: complaint types", "重复投诉:投诉类型"), "product_model": ("Product model", "产品型号"),
    "complaint_type": ("Complaint type", "投诉类型"), "repairs": ("Repairs", "维修"), "figure": ("Figure", "指标"),
    "value": ("Value", "数值"), "applications": ("Repair applications", "维修申请"),
    "in_warranty": ("In warranty", "保修期内"), "out_warranty": ("Out of warranty", "保修期外"),
    "warranty_unknown": ("Warranty not decided", "保修未判定"), "chargeable": ("Chargeable", "收费"),
    "free": ("Free of charge", "免费"), "chargeable_share": ("Chargeable share", "收费占比"),
    "fee_amount": ("Fees quoted (RMB, declined ones included)", "报价维修费(元,含客户拒绝的)"),
    "turnaround": ("Average turnaround (working days)", "平均周转(工作日)"),
    "repair_rate": ("On-time rate", "按时率"), "satisfied": ("Satisfied", "满意"), "not_satisfied":
    ("Not satisfied", "不满意"), "unknown": ("No feedback yet", "尚无反馈"),
    "satisfied_first": ("Satisfied at the first feedback", "首次反馈即满意"),
    "satisfied_after": ("Satisfied only after follow-up", "跟进后才满意"),
    "declined_fee": ("Fee declined by the customer", "客户拒绝付费"),
    "returned_unrepaired": ("Devices returned unrepaired", "未修退回的设备"),
    "abandoned": ("Devices abandoned (never sent)", "客户未寄送设备(放弃)"),
}
AGE_TEXTS = {"le_7d": ("≤ 7 days", "≤ 7 天"), "8_30d": ("8–30 days", "8–30 天"), "31_90d": ("31–90 days", "31–90 天"),
             "gt_90d": ("> 90 days", "> 90 天")}
LATENESS_TEXTS = {"lt_1d": ("< 1 day", "< 1 天"), "1_3d": ("1–3 days", "1–3 天"), "3_7d": ("3–7 days", "3–7 天"),
                  "ge_7d": ("≥ 7 days", "≥ 7 天")}
DEADLINE_TEXTS = {"reaction": ("Reaction", "响应"), "containment": ("Containment", "围堵"),
                  "closure": ("Closure", "结案"), "repair_reply": ("Repair reply", "维修答复"),
                  "repair_cycle": ("Repair cycle", "维修周期")}
STAGE_TEXTS = {"in_progress": ("In progress", "处理中"), "follow_up": ("Pending follow-up", "待跟进"),
               "resolved": ("Resolved", "已解决"), "rejected": ("Rejected (not valid)", "不成立"),
               "cancelled": ("Cancelled", "已取消")}
LEVEL_TEXTS = {"1": ("1 Very dissatisfied", "1 非常不满意"), "2": ("2 Dissatisfied", "2 不满意"),
               "3": ("3 Average", "3 一般"), "4": ("4 Satisfied", "4 满意"), "5": ("5 Very satisfied", "5 非常满意")}
# The complaint types of the registration form (processes/complaint/complaint_register.schema.json).
COMPLAINT_TYPES = kpis.COMPLAINT_TYPES
BAND_TEXTS = {"lt_0.5pct": "< 0.5 %", "0.5_1pct": "0.5–1 %", "1_2pct": "1–2 %", "2_5pct": "2–5 %", "ge_5pct": "≥ 5 %"}


#: The characters ``url_for`` leaves unencoded in a query (werkzeug's ``_urlencode``).
QUERY_SAFE = "!$'()*,/:;?@"


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


def cases_link(flt: kpis.KpiFilter, **extra: str) -> str:
    """The complaint register filtered to the cases behind a figure (a one-department viewer's department)."""
    return _list_link("register.index", flt, extra)


def repairs_link(flt: kpis.KpiFilter, **extra: str) -> str:
    """The repair list filtered to the repairs behind a figure (like :func:`cases_link`)."""
    return _list_link("register.repair_list", flt, extra)


def _list_link(endpoint: str, flt: kpis.KpiFilter, extra: dict[str, str]) -> str:
    department = flt.department or (flt.scope[0] if flt.scope and len(flt.scope) == 1 else None)
    args: dict[str, Any] = {"date_from": flt.date_from.isoformat(), "date_to": flt.date_to.isoformat(),
                            "department": department, "customer": flt.customer,
                            "product_model": flt.product_model, "complaint_type": flt.complaint_type}
    args.update(extra)
    return _with_query(_endpoint_url(endpoint), args)


def _endpoint_url(endpoint: str) -> str:
    """The URL of an endpoint without arguments, built once per request: the dashboard links a few
    hundred figures, and routing each one through ``url_for`` was a tenth of the page's time."""
    built: dict[str, str] = g.setdefault("report_urls", {})
    if endpoint not in built:
        built[endpoint] = url_for(endpoint)
    return built[endpoint]


def _with_query(base: str, args: dict[str, Any]) -> str:
    """``base`` with the arguments that are set as its query, encoded as ``url_for`` encodes them."""
    query = "&".join(_pair(k, str(v)) for k, v in args.items() if v)
    return f"{base}?{query}" if query else base


@functools.lru_cache(maxsize=4096)
def _pair(key: str, value: str) -> str:
    """One ``key=value`` of a query (the links repeat the same few: each is encoded once)."""
    return urlencode([(key, value)], safe=QUERY_SAFE)


def _month_range(month: str, flt: kpis.KpiFilter) -> dict[str, str]:
    year, number = (int(p) for p in month.split("-"))
    start = max(dt.date(year, number, 1), flt.date_from)
    end = min(dt.date(year, number, calendar.monthrange(year, number)[1]), flt.date_to)
    return {"date_from": start.isoformat(), "date_to": end.isoformat()}


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f} %"


def tables(figures: dict[str, Any], flt: kpis.KpiFilter, today: dt.date) -> list[Table]:
    """The dashboard's tables (and their charts) from the figures of :func:`web.kpis.kpis`."""
    classes = [(c, pick(*OUTPUT_ENUMS["kpi_class"][c])) for c in kpis.CLASSES] + [("ungraded", text("ungraded"))]
    out: list[Table] = []

    months = Table("kpi_by_month", text("kpi_by_month"), [text("month"), *(label for _c, label in classes),
                                                          text("complaints"), text("kpi_count")])
    for m in figures["by_month"]:
        span = _month_range(m["month"], flt)
        row = [Cell(m["month"], cases_link(flt, **span))]
        row += [Cell(m[c], cases_link(flt, **span, kpi_class=c) if c != "ungraded" else None) for c, _label in classes]
        row += [Cell(sum(m[c] for c, _l in classes), cases_link(flt, **span)), Cell(m["kpi_complaint_count"])]
        months.rows.append(row)
    months.chart = {"type": "stacked", "categories": [m["month"] for m in figures["by_month"]],
                    "series": [{"name": label, "data": [m[c] for m in figures["by_month"]],
                                "links": [cases_link(flt, **_month_range(m["month"], flt), kpi_class=c)
                                          if c != "ungraded" else None for m in figures["by_month"]]}
                               for c, label in classes],
                    "line": {"name": text("kpi_count"),
                             "data": [m["kpi_complaint_count"] for m in figures["by_month"]]}}
    out.append(months)

    ratio = figures["complaint_ratio"]
    bands = Table("ratio", text("ratio"), [text("band"), text("complaints")])
    for band, n in ratio["distribution"].items():
        bands.rows.append([Cell(BAND_TEXTS[band]), Cell(n, cases_link(flt, ratio_band=band))])
    bands.rows.append([Cell(text("total")), Cell(_percent(ratio["total"]), cases_link(flt))])
    bands.chart = {"type": "bar", "categories": [BAND_TEXTS[b] for b in ratio["distribution"]],
                   "series": [{"name": text("complaints"), "data": list(ratio["distribution"].values()),
                               "links": [cases_link(flt, ratio_band=b) for b in ratio["distribution"]]}]}
    out.append(bands)

    timely = Table("timeliness", text("timeliness"), [text("deadline"), text("met"), text("late"), text("open"),
                                                      text("overdue"), text("rate")])
    for name, rate in figures["on_time_rate"].items():
        timely.rows.append([Cell(pick(*DEADLINE_TEXTS[name]))] +
                           [Cell(rate[s], cases_link(flt, deadline=name, deadline_state=s))
                            for s in ("met", "late", "open", "overdue")] + [Cell(_percent(rate["rate"]))])
    names = list(figures["on_time_rate"])
    timely.chart = {"type": "stacked", "categories": [pick(*DEADLINE_TEXTS[n]) for n in names],
                    "series": [{"name": text(s), "data": [figures["on_time_rate"][n][s] for n in names],
                                "links": [cases_link(flt, deadline=n, deadline_state=s) for n in names]}
                               for s in ("met", "late", "open")]}
    out.append(timely)

    sat = Table("satisfaction", text("satisfaction"), [text("level"), text("complaints")])
    for level, n in figures["satisfaction"].items():
        sat.rows.append([Cell(pick(*LEVEL_TEXTS[level])), Cell(n, cases_link(flt, satisfaction=level))])
    sat.chart = {"type": "pie", "categories": [pick(*LEVEL_TEXTS[k]) for k in figures["satisfaction"]],
                 "series": [{"name": text("satisfaction"), "data": list(figures["satisfaction"].values()),
                             "links": [cases_link(flt, satisfaction=k) for k in figures["satisfaction"]]}]}
    out.append(sat)

    stages = Table("progress", text("progress"), [text("stage"), text("complaints")])
    for stage, n in figures["stages"].items():
        stages.rows.append([Cell(pick(*STAGE_TEXTS[stage])), Cell(n, cases_link(flt, stage=stage))])
    stages.chart = {"type": "bar", "categories": [pick(*STAGE_TEXTS[s]) for s in figures["stages"]],
                    "series": [{"name": text("complaints"), "data": list(figures["stages"].values()),
                                "links": [cases_link(flt, stage=s) for s in figures["stages"]]}]}
    out.append(stages)

    customers = Table("customers", text("customers"), [text("customer"), text("complaints"), text("kpi_count")])
    for c in figures["top_customers"]:
        name = c["label"] or c["key"] or text("none")
        link = cases_link(flt, customer=c["key"]) if c["key"] else None
        customers.rows.append([Cell(name), Cell(c["complaints"], link),
                               Cell(c["kpi_complaint_count"])])
    customers.chart = {"type": "bar", "categories": [c["label"] or c["key"] or text("none")
                                                     for c in figures["top_customers"]],
                       "series": [{"name": text("complaints"),
                                   "data": [c["complaints"] for c in figures["top_customers"]],
                                   "links": [cases_link(flt, customer=c["key"]) if c["key"] else None
                                             for c in figures["top_customers"]]}]}
    out.append(customers)

    departments = Table("departments", text("departments"), [text("department"), text("complaints"), text("kpi_count")])
    for d in figures["by_department"]:
        departments.rows.append([Cell(role_label(d["key"]) if d["key"] else text("unrouted")),
                                 Cell(d["complaints"], cases_link(flt, department=d["key"]) if d["key"] else None),
                                 Cell(d["kpi_complaint_count"])])
    departments.chart = {"type": "bar", "categories": [role_label(d["key"]) if d["key"] else text("unrouted")
                                                       for d in figures["by_department"]],
                         "series": [{"name": text("kpi_count"),
                                     "data": [d["kpi_complaint_count"] for d in figures["by_department"]],
                                     "links": [cases_link(flt, department=d["key"]) if d["key"] else None
                                               for d in figures["by_department"]]}]}
    out.append(departments)

    escalations = Table("escalations", text("escalations"), [text("escalation_level"), text("escalation_count")])
    for level, n in figures["escalations"].items():
        # The count is of escalations (a case may escalate twice to a level); the level's name opens
        # the register of the cases escalated to it.
        escalations.rows.append([Cell(role_label(level), cases_link(flt, escalated=level)), Cell(n)])
    out.append(escalations)
    out += _more_tables(figures, flt, today)
    return out


def _span(flt: kpis.KpiFilter, first: dt.date | None, last: dt.date) -> dict[str, str] | None:
    """The register's dates of a span of registration days within the range (None: outside it)."""
    start, end = max(first or flt.date_from, flt.date_from), min(last, flt.date_to)
    return None if end < start else {"date_from": start.isoformat(), "date_to": end.isoformat()}


def _case(instance_id: int) -> str:
    return url_for("cases.show", instance_id=instance_id)


def _moment(value: Any) -> str:
    """A moment in the business time zone, as every page shows one (the facts keep UTC)."""
    return when(value) if isinstance(value, dt.datetime) else str(value or "")


def _more_tables(figures: dict[str, Any], flt: kpis.KpiFilter, today: dt.date) -> list[Table]:
    """Late now, open by age, the recurrence lists and the repairs."""
    out: list[Table] = []
    late = figures["late_now"]
    bands = [b for b, _lo, _hi in kpis.LATENESS]
    lateness = Table("late_now", text("late_now"), [text("deadline"), text("late_total"),
                                                     *(pick(*LATENESS_TEXTS[b]) for b in bands)])
    for name, counts in late["by_deadline"].items():
        lateness.rows.append([Cell(pick(*DEADLINE_TEXTS[name])),
                              Cell(counts["total"], cases_link(flt, deadline=name, deadline_state="overdue")),
                              *(Cell(counts[b]) for b in bands)])
    names = list(late["by_deadline"])
    lateness.chart = {"type": "stacked", "categories": [pick(*DEADLINE_TEXTS[n]) for n in names],
                      "series": [{"name": pick(*LATENESS_TEXTS[b]), "data": [late["by_deadline"][n][b] for n in names],
                                  "links": [cases_link(flt, deadline=n, deadline_state="overdue") for n in names]}
                                 for b in bands]}
    out.append(lateness)
    cases = Table("late_cases", text("late_cases"), [text("case"), text("deadline"), text("due"), text("late_hours")])
    for c in late["cases"]:
        cases.rows.append([Cell(c["business_key"] or c["instance_id"], _case(c["instance_id"])),
                           Cell(pick(*DEADLINE_TEXTS[c["deadline"]])), Cell(_moment(c["due"])), Cell(c["late_hours"])])
    out.append(cases)

    ages = [b for b, _lo, _hi in kpis.AGES]
    by_age = Table("open_by_age", text("open_by_age"), [text("stage"), *(pick(*AGE_TEXTS[b]) for b in ages)])
    spans = {b: _span(flt, *kpis.age_span(b, today)) for b in ages}

    def age_link(stage: str, band: str) -> str | None:
        span = spans[band]
        return cases_link(flt, stage=stage, **span) if span else None

    for stage, counts in figures["open_by_age"]["by_stage"].items():
        by_age.rows.append([Cell(pick(*STAGE_TEXTS[stage])), *(Cell(counts[b], age_link(stage, b)) for b in ages)])
    stages = list(figures["open_by_age"]["by_stage"])
    by_age.chart = {"type": "stacked", "categories": [pick(*AGE_TEXTS[b]) for b in ages],
                    "series": [{"name": pick(*STAGE_TEXTS[s]),
                                "data": [figures["open_by_age"]["by_stage"][s][b] for b in ages],
                                "links": [age_link(s, b) for b in ages]} for s in stages]}
    out.append(by_age)
    oldest = Table("oldest_open", text("oldest_open"), [text("case"), text("stage"), text("registered"),
                                                        text("age_days")])
    for c in figures["open_by_age"]["oldest"]:
        oldest.rows.append([Cell(c["business_key"] or c["instance_id"], _case(c["instance_id"])),
                            Cell(pick(*STAGE_TEXTS[c["stage"]])), Cell(_moment(c["registered_at"])),
                            Cell(c["age_days"])])
    out.append(oldest)

    for key, figure, arg in (("models", "top_product_models", "product_model"),
                             ("types", "top_complaint_types", "complaint_type")):
        table = Table(key, text(key), [text(arg), text("complaints"), text("kpi_count")])
        entries = figures[figure]
        for e in entries:
            link = cases_link(flt, **{arg: e["key"]}) if e["key"] else None
            table.rows.append([Cell(e["label"] or text("none")), Cell(e["complaints"], link),
                               Cell(e["kpi_complaint_count"])])
        links = [cases_link(flt, **{arg: e["key"]}) if e["key"] else None for e in entries]
        table.chart = {"type": "bar", "categories": [e["label"] or text("none") for e in entries],
                       "series": [{"name": text("complaints"), "data": [e["complaints"] for e in entries],
                                   "links": links}]}
        out.append(table)

    satisfied, sat_rows = figures["satisfied"], figure_tables.SATISFIED_ROWS
    sat_link = {row: cases_link(flt, satisfied=value) for row, value in sat_rows.items()}
    sat = Table("satisfied", text("satisfied"), [text("satisfied"), text("complaints")])
    sat.rows += [[Cell(text(row), sat_link[row]), Cell(satisfied[value], sat_link[row])]
                 for row, value in sat_rows.items()]
    pie = ("satisfied_first", "satisfied_after", "not_satisfied", "unknown")
    sat.chart = {"type": "pie", "categories": [text(row) for row in pie],
                 "series": [{"name": text("complaints"), "data": [satisfied[sat_rows[row]] for row in pie],
                             "links": [sat_link[row] for row in pie]}]}
    out.append(sat)
    out += figure_tables.cost_and_recurrence(figures, flt, Table, Cell)

    r = figures["repairs"]
    rep_link = {row: repairs_link(flt, **extra) for row, extra in figure_tables.REPAIR_ROWS.items()}

    def counted(row: str, value: Any) -> list[Cell]:
        return [Cell(text(row), rep_link[row]), Cell(value, rep_link[row])]

    rep = Table("repairs", text("repairs"), [text("figure"), text("value")])
    rep.rows += [
        counted("applications", r["applications"]), counted("in_warranty", r["warranty"]["in"]),
        counted("out_warranty", r["warranty"]["out"]), counted("warranty_unknown", r["warranty"]["unknown"]),
        counted("chargeable", r["chargeable"]["yes"]), counted("free", r["chargeable"]["no"]),
        [Cell(text("chargeable_share")), Cell(_percent(r["chargeable"]["share"]))],
        [Cell(text("fee_amount")), Cell(f"{r['fees']['amount']:.2f}")],
        [Cell(text("turnaround")), Cell("—" if r["turnaround"]["average"] is None
                                        else f"{r['turnaround']['average']:.1f}")],
        counted("declined_fee", r["declined_fee"]), counted("returned_unrepaired", r["returned_unrepaired"]),
        counted("abandoned", r["abandoned"]),
    ]
    for name, rate in r["on_time_rate"].items():
        rep.rows.append([Cell(f"{pick(*DEADLINE_TEXTS[name])}: {text('repair_rate')}"), Cell(_percent(rate["rate"]))])
    warranty = ("in_warranty", "out_warranty", "warranty_unknown")
    rep.chart = {"type": "pie", "categories": [text(row) for row in warranty],
                 "series": [{"name": text("applications"),
                             "data": [r["warranty"]["in"], r["warranty"]["out"], r["warranty"]["unknown"]],
                             "links": [rep_link[row] for row in warranty]}]}
    out.append(rep)
    return out
