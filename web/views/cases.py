"""Case pages: the list of cases, one case with its live diagram, its BPMN file, attachments."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

import engine
from caseflow import search as case_search
from caseflow import store
from web import attachments, case_status, casefile, get_db, labels, manifests, templating
from web.views import printouts
from web.views.common import admin_required

bp = Blueprint("cases", __name__)

PAGE_SIZE = 100
#: The statuses the list filters by (an instance's ``status``).
STATUSES = ("running", "waiting", "error", "completed", "cancelled")
# What a case list shows of an instance (never its workflow state).
LIST_COLUMNS = (store.ProcessInstance.id, store.ProcessInstance.process_key, store.ProcessInstance.business_key,
                store.ProcessInstance.status, store.ProcessInstance.data, store.ProcessInstance.created_at,
                store.ProcessInstance.updated_at)
NEVER = "9999-"  # a timer parked on 9999-01-01 waits for a deadline that does not apply


def search(session: Session, process_keys: list[str], query: str) -> ColumnElement[bool]:
    """The business key, or one of its process's ``search_fields`` (manifest), contains ``query``; or
    ``query`` is the case's reference (``RA-000005`` of an application, ``#5``)."""
    like = f"%{query}%"
    found: list[ColumnElement[bool]] = [store.ProcessInstance.business_key.ilike(like)]
    by_reference = case_search.reference_id(query)
    if by_reference is not None:
        found.append(store.ProcessInstance.id == by_reference)
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
    problems = {name: _("Unknown value “%(value)s”: choose one of %(allowed)s.", value=value[:50],
                        allowed=", ".join(allowed))
                for name, value, allowed in (("process", process, [p["key"] for p in processes]),
                                             ("status", status, STATUSES)) if value and value not in allowed}
    if problems:  # a filter that cannot apply: said so (400), rather than a list that ignores it
        return render_template("cases.html", rows=[], processes=processes, statuses=STATUSES, problems=problems,
                               selected={"process": "", "status": "", "q": query}), 400
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

    def state(row: Any) -> case_status.CaseStatus:
        return case_status.case_status(manifests.for_process(session, row.process_key), row.status, row.data)

    return render_template("cases.html", rows=rows, processes=processes, summary=summary, state=state,
                           statuses=STATUSES, problems={}, selected={"process": process, "status": status, "q": query})


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
        started_by=casefile.actor_names(session, {view["started_by"]}).get(view["started_by"]) if view["started_by"]
        else "",
        state=case_status.case_status(manifest, view["status"], data),
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


@bp.route("/favicon.ico")
def favicon() -> Any:
    """The site icon at the path browsers ask for (public, cached for a day)."""
    static = Path(__file__).resolve().parents[1] / "static"
    return send_from_directory(static, "favicon.ico", mimetype="image/vnd.microsoft.icon", max_age=86400)


@bp.route("/cases/<int:instance_id>/diagram.bpmn")
def diagram(instance_id: int) -> Any:
    """The BPMN XML of the case's process version, for bpmn-js."""
    session = get_db()
    definition_id = session.scalar(select(store.ProcessInstance.definition_id)
                                   .where(store.ProcessInstance.id == instance_id))
    if definition_id is None:
        abort(404)
    # Named in the user's language (web.labels); a version never changes, but the language may.
    response = Response(labels.localized_diagram(session, definition_id, engine.diagram_xml(session, definition_id)),
                        mimetype="application/xml")
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Content-Language"] = labels.locale()
    response.add_etag()
    response.make_conditional(request)
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


# --- a case stopped in error: an admin corrects its data (audited, with a reason), retries or cancels

REASON_MAX = 500


def _reason() -> str | None:
    """The required reason of an admin action (flashed and None when missing or too long)."""
    reason = request.form.get("reason", "").strip()
    if not reason or len(reason) > REASON_MAX:
        flash(_("Give a reason (at most %(n)s characters).", n=REASON_MAX), "error")
        return None
    return reason


def parse_correction(text: str, current: Any) -> Any:
    """The corrected value typed as text, in the type of the value it replaces: text stays text (a
    JSON string in quotes, ``"2026-03-02"``, is read as the text inside them); yes/no, numbers, lists
    and objects are read as JSON. Raises ValueError when it cannot be read."""
    if current is None or isinstance(current, str):
        if len(text) >= 2 and text[0] == text[-1] == '"':
            try:
                quoted = json.loads(text)
            except ValueError:
                return text
            return quoted if isinstance(quoted, str) else text
        return text
    value = json.loads(text)
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
    elif isinstance(current, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("expected a number")
    elif not isinstance(value, type(current)):
        raise ValueError(f"expected a {type(current).__name__}")
    return value


def _back(instance_id: int) -> Any:
    return redirect(url_for("cases.show", instance_id=instance_id) + "#error-panel")


@bp.route("/cases/<int:instance_id>/repair/data", methods=["POST"])
@admin_required
def correct_data(instance_id: int) -> Any:
    """Correct one data key of a case stopped in error (``engine.update_data``, audited with the reason)."""
    session = get_db()
    view = engine.show(session, instance_id, audit=False)
    key = request.form.get("key", "").strip()
    reason = _reason()
    if reason is None:
        return _back(instance_id)
    if view["status"] != "error":
        flash(_("Only a case stopped with an error can be corrected here."), "error")
        return _back(instance_id)
    data = view["data"] or {}
    if not key or len(key) > 200:
        flash(_("Choose the data field to correct."), "error")
        return _back(instance_id)
    try:
        value = parse_correction(request.form.get("value", ""), data.get(key))
    except ValueError:
        flash(_("The new value of %(key)s cannot be read: enter it like the current value.", key=key), "error")
        return _back(instance_id)
    try:
        engine.update_data(session, instance_id, {key: value}, actor=current_user.username, reason=reason)
    except engine.InvalidData as err:
        flash("; ".join(f"{k}: {v}" for k, v in err.fields.items()) or _("The value was refused."), "error")
        return _back(instance_id)
    flash(_("%(key)s corrected. Retry the case to run on.", key=key), "success")
    return _back(instance_id)


@bp.route("/cases/<int:instance_id>/repair/retry", methods=["POST"])
@admin_required
def retry(instance_id: int) -> Any:
    """Run a case stopped in error again from its failing task."""
    try:
        view = engine.retry(get_db(), instance_id, actor=current_user.username)
    except engine.InstanceError as err:
        flash(labels.engine_message(err), "error")
        return _back(instance_id)
    if view["status"] == "error":
        error = view.get("error")
        flash(_("The case stopped again: %(message)s", message=error["message"] if error else ""), "error")
    else:
        flash(_("The case runs on."), "success")
    return _back(instance_id)


@bp.route("/cases/<int:instance_id>/repair/cancel", methods=["POST"])
@admin_required
def cancel(instance_id: int) -> Any:
    """Cancel a case stopped in error (with a reason, audited)."""
    reason = _reason()
    if reason is None:
        return _back(instance_id)
    try:
        engine.cancel(get_db(), instance_id, actor=current_user.username, reason=reason)
    except engine.InstanceError as err:
        flash(labels.engine_message(err), "error")
        return _back(instance_id)
    flash(_("The case was cancelled."), "success")
    return _back(instance_id)
