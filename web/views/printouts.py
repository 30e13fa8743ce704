"""Printable record sheets (print CSS) built from a case's data and its completed tasks:
F04 complaint handling sheet, F09 1D–4D corrective action request, F10 complaint management
form, F14 repair fee notice, F15 repair report (DOMAIN.md §4).

A complaint can have several repairs (``repairs``: one record per repair, appended by the
complaint's ``record_repair`` step). Each repair that was issued a repair number has its own
F14/F15, at ``/cases/<id>/print/f14-<n>`` (or ``?repair=<n>``, ``n`` = the repair's ``seq``);
``/cases/<id>/print/f14`` stays the latest repair's.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, render_template, request
from flask_babel import lazy_gettext
from markupsafe import escape
from sqlalchemy import select

from caseflow import clock, store
from web import casefile, get_db
from web.labels import Words
from web.views import returned_goods

bp = Blueprint("printouts", __name__)


@dataclass(frozen=True)
class PrintForm:
    """A record sheet: the data key that must be present for it to apply, and its template."""

    template: str
    label: Any
    needs_key: str
    processes: tuple[str, ...]
    per_repair: bool = False


PRINT_FORMS: dict[str, PrintForm] = {
    "f04": PrintForm("print/f04.html", lazy_gettext("Handling sheet (F04)"), "complaint_no", ("complaint",)),
    "f09": PrintForm("print/f09.html", lazy_gettext("1D–4D report (F09)"), "complaint_no", ("complaint",)),
    "f10": PrintForm("print/f10.html", lazy_gettext("Complaint management form (F10)"), "complaint_no",
                     ("complaint",)),
    "f14": PrintForm("print/f14.html", lazy_gettext("Repair fee notice (F14)"), "repair_number",
                     ("repair", "complaint"), per_repair=True),
    "f15": PrintForm("print/f15.html", lazy_gettext("Repair report (F15)"), "repair_number",
                     ("repair", "complaint"), per_repair=True),
    # Labelled in both languages from the bundle (no msgid): the sheet's own labels come from its forms.
    "rg": PrintForm("print/returned_goods.html", Words("Returned-goods test record", "客退品测试记录"),
                    "returned_goods_no", ("returned_goods", "complaint")),  # a complaint: one sheet per call (rg-<n>)
}
#: The keys the repair process writes that the repair sheets print (a repair's record has those it reached).
REPAIR_KEYS = frozenset({
    "repair_number", "repair_outcome", "in_warranty", "warranty_until", "chargeable", "received_date",
    "fault_cause", "diagnosis", "parts", "estimated_fee", "fee_amount", "fee_breakdown", "payment_instructions",
    "fee_notice_date", "fee_notice_sent_via", "fee_decision", "fee_decision_date", "fee_confirmation_ref",
    "payment_confirmed_date", "payment_amount", "payment_reference", "payment_mismatch_reason", "work_done",
    "parts_used", "test_result", "technician", "repair_completed_date", "carrier", "tracking_no", "shipped_date",
})
_PER_REPAIR_ID = re.compile(r"^(?P<form>[a-z0-9]+)-(?P<seq>[1-9][0-9]{0,3})$")


def repair_records(data: dict | None) -> list[dict]:
    """The repairs of a complaint that were issued a repair number, in order (``seq`` 1, 2, …)."""
    repairs = (data or {}).get("repairs")
    if not isinstance(repairs, list):
        return []
    return [r for r in repairs if isinstance(r, dict) and r.get("repair_number") and isinstance(r.get("seq"), int)]


class _RepairLabel:
    """``Repair fee notice (F14) · RMA-…``, translated when rendered."""

    def __init__(self, label: Any, number: str) -> None:
        self.label, self.number = label, number

    def __str__(self) -> str:
        return f"{self.label} · {self.number}"

    def __html__(self) -> str:
        return str(escape(str(self)))


def forms_for(process_key: str, data: dict | None = None) -> list[tuple[str, Any]]:
    """The sheets a case of ``process_key`` can print (a complaint with repairs also has F14/F15,
    one pair per repair when it had more than one)."""
    data = data or {}
    repairs = repair_records(data) if process_key == "complaint" else []
    result: list[tuple[str, Any]] = []
    for ident, form in PRINT_FORMS.items():
        if process_key not in form.processes:
            continue
        if ident == "rg" and process_key == "complaint":
            result.extend(returned_goods.print_entries(form.label, data))
            continue
        if form.per_repair and len(repairs) > 1:
            result.extend((f"{ident}-{r['seq']}", _RepairLabel(form.label, r["repair_number"])) for r in repairs)
        elif process_key == form.processes[0] or data.get(form.needs_key):
            result.append((ident, form.label))
    return result


@dataclass
class SignOff:
    """Who completed a task and when (the signature lines of a sheet)."""

    name: str
    at: Any


def sign_offs(session: Any, instance_id: int, after: dt.datetime | None = None,
              until: dt.datetime | None = None) -> dict[str, SignOff]:
    """The last completion of each task of the case, by BPMN task id, with display names;
    only completions in (``after``, ``until``] when given (the tasks of one repair)."""
    stmt = (select(store.HumanTask.name, store.HumanTask.completed_by, store.HumanTask.completed_at,
                   store.User.display_name)
            .outerjoin(store.User, store.User.username == store.HumanTask.completed_by)
            .where(store.HumanTask.instance_id == instance_id, store.HumanTask.state == "completed")
            .order_by(store.HumanTask.completed_at))
    rows = session.execute(stmt).all()
    result: dict[str, SignOff] = {}
    for name, by, at, display in rows:
        stamp = _aware(at)
        if stamp is not None and ((after and stamp <= after) or (until and stamp > until)):
            continue
        result[name] = SignOff(display or by or "", at)
    return result


def _aware(value: Any) -> dt.datetime | None:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, dt.datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _repair_view(data: dict, seq: int | None) -> tuple[dict, dt.datetime | None, dt.datetime | None] | None:
    """The data a repair sheet prints: the complaint's data with repair ``seq``'s record over it
    (``None``: the latest repair with a number), and the time window of that repair's tasks.
    ``None`` when the complaint has no such repair."""
    repairs = [r for r in (data.get("repairs") or []) if isinstance(r, dict)]
    numbered = repair_records(data)
    if not repairs:
        return (data, None, None) if seq is None else None
    chosen = numbered[-1] if seq is None and numbered else next((r for r in numbered if r["seq"] == seq), None)
    if chosen is None:
        return None
    earlier = [r for r in repairs if isinstance(r.get("seq"), int) and r["seq"] < chosen["seq"]]
    after = _aware(earlier[-1].get("ended_at")) if earlier else None
    until = _aware(chosen.get("ended_at"))
    # The complaint's own keys, then this repair's record; what this repair did not reach is not printed
    # (the complaint's top-level repair keys are the latest repair's).
    merged = {k: v for k, v in data.items() if k not in REPAIR_KEYS}
    merged.update({k: v for k, v in chosen.items() if k not in ("seq", "ended_at")})
    return merged, after, until


@bp.route("/cases/<int:instance_id>/print/<form_id>")
def show(instance_id: int, form_id: str) -> Any:
    """One sheet; repair sheets of a complaint for one repair by ``f14-<n>`` or ``?repair=<n>``."""
    session = get_db()
    instance = session.get(store.ProcessInstance, instance_id)
    seq: int | None = None
    match = _PER_REPAIR_ID.match(form_id)
    if match:
        form_id, seq = match["form"], int(match["seq"])
    elif request.args.get("repair"):
        raw = request.args["repair"]
        if not raw.isdigit() or not 0 < int(raw) < 10000:
            abort(404)
        seq = int(raw)
    form = PRINT_FORMS.get(form_id)
    if instance is None or form is None or instance.process_key not in form.processes:
        abort(404)
    data = dict(instance.data or {})
    after = until = None
    if form.per_repair and instance.process_key == "complaint":
        chosen = _repair_view(data, seq)
        if chosen is None:
            abort(404)
        data, after, until = chosen
    elif form_id == "rg" and instance.process_key == "complaint":
        called = returned_goods.print_view(data, seq)
        if called is None:
            abort(404)
        data, after, until = called
    elif seq is not None:
        abort(404)
    if instance.process_key != form.processes[0] and not data.get(form.needs_key):
        abort(404)
    book = casefile.label_book(session, instance.definition_id)

    def value(key: str) -> str:
        return casefile.display(book, key, data.get(key))

    return render_template(form.template, case=instance, d=data, v=value, label=book.label, book=book,
                           signed=sign_offs(session, instance.id, after, until), printed_at=clock.now(),
                           form_label=form.label)
