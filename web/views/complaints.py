"""``/complaints``: the complaint register with filters, and the same rows as CSV."""
from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _

from caseflow import clock
from caseflow.manifest import Manifest
from caseflow.reports import kpis
from web import case_status, casefile, get_db, manifests, register_chips, templating
from web import complaint_register as register
from web import repair_register as repairs
from web.labels import OUTPUT_ENUMS, LabelBook, pick
from web.templating import day, when
from web.views.common import business_tz

bp = Blueprint("register", __name__)


def register_status_label(key: str) -> str:
    """F11's handling progress: in progress (处理中), pending follow-up (待跟进); a finished complaint
    by the words of its end state (the manifest's ``outcome``, as on the case page)."""
    ended = case_status.outcome_word(manifests.for_process(get_db(), register.PROCESS_KEY), key)
    return ended or {"open": _("In progress"), "follow_up": _("Pending follow-up"), "error": _("Error"),
            "closed": _("Resolved"), "rejected": _("Rejected"), "cancelled": _("Cancelled")}.get(key, key)


def _choices(session: Any) -> dict[str, list[tuple[str, str]]]:
    def enum(key: str, only: frozenset[str] | None = None) -> list[tuple[str, str]]:
        known = {k: words for k, words in OUTPUT_ENUMS[key].items() if only is None or k in only}
        values = list(known) + [v for v in register.distinct_values(session, key) if v not in known]
        return [(v, pick(*known[v]) if v in known else v) for v in values]

    return {
        "status": [(s, register_status_label(s)) for s in register.STATUSES],
        "kpi_class": enum("kpi_class"),
        "urgency": enum("urgency"),
        "department": enum("responsible_dept", kpis.DEPARTMENT_ROLES),  # the routing's departments (and any in use)
    }


def _refused(session: Any, problems: dict[str, str]) -> Any:
    """The register's form with a message per refused filter (400), and no list."""
    flt = register.RegisterFilter.from_args(request.args)
    html = render_template("register.html", result=register.RegisterPage([], 0, 1, 1), flt=flt,
                           choices=_choices(session), books={}, problems=problems, chips=[])
    return html, 400


@bp.route("/complaints")
def index() -> Any:
    session = get_db()
    problems = register.problems(request.args, session)
    if problems:
        return _refused(session, problems)
    flt = register.RegisterFilter.from_args(request.args)
    number = request.args.get("page", "1")
    manifest = manifests.for_process(session, register.PROCESS_KEY)
    result = register.page(session, flt, business_tz(), int(number) if number.isdigit() and len(number) <= 6 else 1,
                           search_fields=manifest.search_fields if manifest else ())
    books = {d: casefile.label_book(session, d) for d in {r.definition_id for r in result.rows}}
    templating.prepare_task_titles(definitions={r.id: r.definition_id for r in result.rows})
    return render_template("register.html", result=result, flt=flt, choices=_choices(session), books=books,
                           status_of=lambda row: register.status_key(
                               row, [t["name"] for t in result.current_tasks.get(row.id, [])]),
                           status_label=register_status_label,
                           received_at=register.received_at,
                           customer=lambda row: manifests.summary(manifest, row.data),
                           chips=register_chips.chips(flt.as_args()), problems={})


def _csv_headers() -> list[str]:
    return [_("Complaint no."), _("Received"), _("Customer"), _("Product"), _("Type"), _("KPI class"),
            _("Urgency"), _("Responsible department"), _("Complaint content"), _("Status"), _("Current tasks"),
            _("Closed")]


def _csv_row(book: LabelBook, row: Any, tasks: list[dict], manifest: Manifest | None,
             status_labels: dict[str, str]) -> list[str]:
    data = row.data or {}
    status = register.status_key(row, [t["name"] for t in tasks])

    def shown(key: str | None) -> str:
        return casefile.display(book, key, data.get(key)) if key else ""

    return [_cell(v) for v in [
            row.business_key or f"#{row.id}", when(register.received_at(row)),
            shown(manifest.summary_key(data) if manifest else None),
            " ".join(filter(None, (shown("product_no"), shown("product_model")))), shown("complaint_type"),
            shown("kpi_class"), shown("urgency"), shown("responsible_dept"), shown("description"),
            status_labels.get(status) or register_status_label(status),
            "; ".join(templating.task_title(t) for t in tasks),
            day(row.completed_at) if row.completed_at else ""]]


def _cell(value: str) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@bp.route("/complaints.csv")
def export() -> Any:
    """Every complaint matching the filters, as UTF-8 CSV with a BOM (opens in Excel)."""
    session = get_db()
    problems = register.problems(request.args, session)
    if problems:
        return _refused(session, problems)
    flt = register.RegisterFilter.from_args(request.args)
    manifest = manifests.for_process(session, register.PROCESS_KEY)
    result = register.all_rows(session, flt, business_tz(), search_fields=manifest.search_fields if manifest else ())
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(_csv_headers() + register.fact_headers())
    facts, now = register.facts_of(session, [r.id for r in result.rows]), clock.now()
    books = {d: casefile.label_book(session, d) for d in {r.definition_id for r in result.rows}}
    templating.prepare_task_titles(definitions={r.id: r.definition_id for r in result.rows})
    status_labels = {s: register_status_label(s) for s in register.STATUSES}  # translated once, not per row
    for row in result.rows:
        writer.writerow(_csv_row(books[row.definition_id], row, result.current_tasks.get(row.id, []), manifest,
                                 status_labels) + register.fact_cells(facts.get(row.id), now))
    stamp = clock.now().astimezone(business_tz()).strftime("%Y%m%d-%H%M")
    return Response(out.getvalue(), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="complaints-{stamp}.csv"'})


def _repair_status(row: Any) -> case_status.CaseStatus:
    """A repair's status in the one vocabulary (its outcome's words when it ended with one)."""
    return case_status.case_status(manifests.for_process(get_db(), repairs.PROCESS_KEY), row.status, row.data)


@bp.route("/repairs")
def repair_list() -> Any:
    """The repairs behind the dashboard's repair figures, filtered by period, outcome, warranty and charge."""
    session = get_db()
    flt, problems = repairs.parse(request.args)
    number = request.args.get("page", "1")
    if problems:
        result = repairs.RepairPage([], 0, 1, 1)
    else:
        result = repairs.page(session, flt, business_tz(), int(number) if number.isdigit() and len(number) <= 6 else 1)
    html = render_template("repair_register.html", result=result, flt=flt, problems=problems,
                           choices={name: [(v, pick(*repairs.TEXTS[v])) for v in values]
                                    for name, values in repairs.CHOICES.items()},
                           names={name: pick(*repairs.TEXTS[name]) for name in repairs.CHOICES},
                           state=_repair_status)
    return (html, 400) if problems else html


@bp.route("/repairs.csv")
def repair_export() -> Any:
    """Every repair matching the filters, as UTF-8 CSV with a BOM (opens in Excel)."""
    session = get_db()
    flt, problems = repairs.parse(request.args)
    if problems:
        return repair_list()
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([_("Repair no."), _("Received"), _("Customer"), _("Product model"), _("Status"), _("Fee"),
                     _("Fee decision"), _("Outcome")])
    for row in repairs.all_rows(session, flt, business_tz()):
        writer.writerow([_cell(v) for v in (
            row.business_key or f"#{row.id}", when(row.registered_at), row.customer_name or "",
            row.product_model or "", _repair_status(row).word, "" if row.fee is None else f"{row.fee:.2f}",
            row.fee_decision or "", row.repair_outcome or "")])
    stamp = clock.now().astimezone(business_tz()).strftime("%Y%m%d-%H%M")
    return Response(out.getvalue(), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="repairs-{stamp}.csv"'})
