"""Printable record sheets (print CSS) built from a case's data and its completed tasks:
F04 complaint handling sheet, F09 1D–4D corrective action request, F10 complaint management
form, F14 repair fee notice, F15 repair report (DOMAIN.md §4).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, render_template
from flask_babel import lazy_gettext
from sqlalchemy import select

from caseflow import clock, store
from web import casefile, get_db

bp = Blueprint("printouts", __name__)


@dataclass(frozen=True)
class PrintForm:
    """A record sheet: the data key that must be present for it to apply, and its template."""

    template: str
    label: Any
    needs_key: str
    processes: tuple[str, ...]


PRINT_FORMS: dict[str, PrintForm] = {
    "f04": PrintForm("print/f04.html", lazy_gettext("Handling sheet (F04)"), "complaint_no", ("complaint",)),
    "f09": PrintForm("print/f09.html", lazy_gettext("1D–4D report (F09)"), "complaint_no", ("complaint",)),
    "f10": PrintForm("print/f10.html", lazy_gettext("Complaint management form (F10)"), "complaint_no",
                     ("complaint",)),
    "f14": PrintForm("print/f14.html", lazy_gettext("Repair fee notice (F14)"), "repair_number",
                     ("repair", "complaint")),
    "f15": PrintForm("print/f15.html", lazy_gettext("Repair report (F15)"), "repair_number",
                     ("repair", "complaint")),
}


def forms_for(process_key: str, data: dict | None = None) -> list[tuple[str, Any]]:
    """The sheets a case of ``process_key`` can print (a complaint with a repair also has F14/F15)."""
    data = data or {}
    return [(ident, form.label) for ident, form in PRINT_FORMS.items()
            if process_key in form.processes and (process_key == form.processes[0] or data.get(form.needs_key))]


@dataclass
class SignOff:
    """Who completed a task and when (the signature lines of a sheet)."""

    name: str
    at: Any


def sign_offs(session: Any, instance_id: int) -> dict[str, SignOff]:
    """The last completion of each task of the case, by BPMN task id, with display names."""
    rows = session.execute(
        select(store.HumanTask.name, store.HumanTask.completed_by, store.HumanTask.completed_at,
               store.User.display_name)
        .outerjoin(store.User, store.User.username == store.HumanTask.completed_by)
        .where(store.HumanTask.instance_id == instance_id, store.HumanTask.state == "completed")
        .order_by(store.HumanTask.completed_at)).all()
    return {name: SignOff(display or by or "", at) for name, by, at, display in rows}


@bp.route("/cases/<int:instance_id>/print/<form_id>")
def show(instance_id: int, form_id: str) -> Any:
    session = get_db()
    instance = session.get(store.ProcessInstance, instance_id)
    form = PRINT_FORMS.get(form_id)
    if instance is None or form is None or form_id not in dict(forms_for(instance.process_key, instance.data)):
        abort(404)
    book = casefile.label_book(session, instance.definition_id)
    data = instance.data or {}

    def value(key: str) -> str:
        return casefile.display(book, key, data.get(key))

    return render_template(form.template, case=instance, d=data, v=value, label=book.label, book=book,
                           signed=sign_offs(session, instance.id), printed_at=clock.now(), form_label=form.label)
