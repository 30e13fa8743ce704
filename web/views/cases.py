"""Case pages: the list of cases, one case with its live diagram, its BPMN file, attachments."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import Blueprint, Response, abort, render_template, request, send_file
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

import engine
from caseflow import store
from web import attachments, casefile, get_db, manifests, templating
from web.views import printouts

bp = Blueprint("cases", __name__)

PAGE_SIZE = 100
# What a case list shows of an instance (never its workflow state).
LIST_COLUMNS = (store.ProcessInstance.id, store.ProcessInstance.process_key, store.ProcessInstance.business_key,
                store.ProcessInstance.status, store.ProcessInstance.data, store.ProcessInstance.created_at,
                store.ProcessInstance.updated_at)
NEVER = "9999-"  # a timer parked on 9999-01-01 waits for a deadline that does not apply


def search(session: Session, process_keys: list[str], query: str) -> ColumnElement[bool]:
    """The business key, or one of its process's ``search_fields`` (manifest), contains ``query``."""
    like = f"%{query}%"
    found: list[ColumnElement[bool]] = [store.ProcessInstance.business_key.ilike(like)]
    for key in process_keys:
        manifest = manifests.for_process(session, key)
        fields = manifest.search_fields if manifest is not None else ()
        if fields:
            found.append(and_(store.ProcessInstance.process_key == key,
                              or_(*(store.ProcessInstance.data[f].as_string().ilike(like) for f in fields))))
    return or_(*found)


@bp.route("/cases")
def index() -> Any:
    """Recent cases of every process, filtered by process, status and a search of the number and
    the fields each process's manifest makes searchable."""
    session = get_db()
    process = request.args.get("process", "")
    status = request.args.get("status", "")
    query = request.args.get("q", "").strip()[:200]  # a search term, not a document
    processes = engine.list_processes(session)
    stmt = select(*LIST_COLUMNS).order_by(store.ProcessInstance.id.desc()).limit(PAGE_SIZE)
    if process:
        stmt = stmt.where(store.ProcessInstance.process_key == process)
    if status:
        stmt = stmt.where(store.ProcessInstance.status == status)
    if query:
        stmt = stmt.where(search(session, [process] if process else [p["key"] for p in processes], query))
    rows = session.execute(stmt).all()

    def summary(row: Any) -> Any:
        return manifests.summary(manifests.for_process(session, row.process_key), row.data)

    return render_template("cases.html", rows=rows, processes=processes, summary=summary,
                           selected={"process": process, "status": status, "q": query})


@bp.route("/cases/<int:instance_id>")
def show(instance_id: int) -> Any:
    """Key data, deadlines, current tasks and holders, history, escalations, attachments, diagram."""
    session = get_db()
    view = engine.show(session, instance_id)
    templating.prepare_task_titles(definitions={instance_id: view["definition_id"]})
    manifest = casefile.manifest(session, view["definition_id"])
    book = casefile.label_book(session, view["definition_id"])
    names = casefile.attachment_names(session, instance_id)
    data = view["data"] or {}
    active = sorted({t["name"] for t in view["tasks"]})
    completed = sorted(set(engine.completed_elements(session, instance_id)) - set(active))
    error = view.get("error")
    failed = [error["task"]] if error and error.get("task") else []
    return render_template(
        "case.html", case=view, facts=casefile.facts(book, manifest, data, names),
        deadline_rows=casefile.deadline_rows(book, manifest, data, view["audit"], view["completed_at"],
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
    definition_id = session.scalar(select(store.ProcessInstance.definition_id)
                                   .where(store.ProcessInstance.id == instance_id))
    if definition_id is None:
        abort(404)
    response = Response(engine.diagram_xml(session, definition_id), mimetype="application/xml")
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
                     download_name=attachments.safe_filename(row.filename),
                     last_modified=row.uploaded_at or dt.datetime.now(dt.UTC))
