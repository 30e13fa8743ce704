"""Case pages: the list of cases, one case with its live diagram, its BPMN file, attachments."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import Blueprint, Response, abort, render_template, request, send_file
from sqlalchemy import or_, select

import engine
from caseflow import store
from web import attachments, casefile, get_db
from web.views import printouts

bp = Blueprint("cases", __name__)

PAGE_SIZE = 100
NEVER = "9999-"  # a timer parked on 9999-01-01 waits for a deadline that does not apply


@bp.route("/cases")
def index() -> Any:
    """Recent cases of every process, filtered by process, status and a number search."""
    session = get_db()
    process = request.args.get("process", "")
    status = request.args.get("status", "")
    query = request.args.get("q", "").strip()
    stmt = select(store.ProcessInstance).order_by(store.ProcessInstance.id.desc()).limit(PAGE_SIZE)
    if process:
        stmt = stmt.where(store.ProcessInstance.process_key == process)
    if status:
        stmt = stmt.where(store.ProcessInstance.status == status)
    if query:
        like = f"%{query}%"
        stmt = stmt.where(or_(store.ProcessInstance.business_key.ilike(like),
                              store.ProcessInstance.data["customer_name"].as_string().ilike(like)))
    rows = list(session.scalars(stmt))
    return render_template("cases.html", rows=rows, processes=engine.list_processes(session),
                           selected={"process": process, "status": status, "q": query})


@bp.route("/cases/<int:instance_id>")
def show(instance_id: int) -> Any:
    """Key data, deadlines, current tasks and holders, history, escalations, attachments, diagram."""
    session = get_db()
    view = engine.show(session, instance_id)
    book = casefile.label_book(session, view["definition_id"])
    names = casefile.attachment_names(session, instance_id)
    data = view["data"] or {}
    active = sorted({t["name"] for t in view["tasks"]})
    completed = sorted(set(engine.completed_elements(session, instance_id)) - set(active))
    failed = [view["error"]["task"]] if view.get("error") and view["error"].get("task") else []
    return render_template(
        "case.html", case=view, facts=casefile.facts(book, view["process_key"], data, names),
        deadline_rows=casefile.deadline_rows(book, data, view["audit"], view["completed_at"],
                                             engine.instance_tasks(session, instance_id)),
        timeline=casefile.timeline(session, instance_id, view["audit"], book, names),
        escalations=casefile.escalations(view["audit"]),
        files=attachments.for_instance(session, instance_id), book=book,
        diagram={"active": active, "completed": completed, "failed": failed},
        print_forms=printouts.forms_for(view["process_key"], data),
        timers=[t for t in view["timers"] if not t["due_at"].startswith(NEVER)],
        data_json=json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True),
    )


@bp.route("/cases/<int:instance_id>/diagram.bpmn")
def diagram(instance_id: int) -> Any:
    """The BPMN XML of the case's process version, for bpmn-js."""
    session = get_db()
    instance = session.get(store.ProcessInstance, instance_id)
    if instance is None:
        abort(404)
    response = Response(engine.diagram_xml(session, instance.definition_id), mimetype="application/xml")
    response.headers["Cache-Control"] = "private, max-age=86400"  # a deployed version never changes
    return response


@bp.route("/attachments/<int:attachment_id>")
def download(attachment_id: int) -> Any:
    """An uploaded file, always as a download (never rendered by the browser)."""
    row = get_db().get(store.Attachment, attachment_id)
    if row is None:
        abort(404)
    path = attachments.path_of(row)
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype=row.content_type or "application/octet-stream", as_attachment=True,
                     download_name=row.filename, last_modified=row.uploaded_at or dt.datetime.now(dt.timezone.utc))
