"""``/search``: the navigation's search box across cases; ``/filters``: the user's saved inbox filters."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

import engine
from caseflow import search
from web import case_status, get_db, rollback_request

bp = Blueprint("search", __name__)


@bp.get("/search")
def index() -> Any:
    """Cases whose number, customer, product, order, description or comments contain every word."""
    session = get_db()
    query = request.args.get("q", "").strip()[:search.MAX_QUERY_CHARS]
    process = request.args.get("process", "")
    processes = engine.list_processes(session)
    rows = search.search(session, query, [process] if process else None) if query else []
    return render_template("search.html", rows=rows, query=query, process=process, processes=processes,
                           limit=search.LIMIT, states=case_status.states(session, rows))


@bp.app_template_global()
def saved_filters() -> list[Any]:
    """The signed-in user's saved inbox filters (for the navigation)."""
    return search.filters_of(get_db(), current_user.username)


@bp.post("/filters")
def save() -> Any:
    """Save the inbox's current filter under a name (the same name replaces it)."""
    args = {k: request.form.get(k, "") for k in search.FILTER_ARGS}
    try:
        search.save_filter(get_db(), current_user.username, request.form.get("name", ""), args)
    except search.FilterRejected as err:
        rollback_request()
        message = (_("At most %(n)s saved filters.", n=search.MAX_FILTERS) if err.code == "too_many"
                   else _("Name the filter (at most %(n)s characters).", n=search.FILTER_NAME_MAX))
        flash(message, "error")
        return redirect(_inbox(args))
    flash(_("Filter saved."), "success")
    return redirect(_inbox(args))


def _inbox(args: dict[str, str]) -> str:
    query = urlencode(search.filter_args(args))
    return url_for("inbox.index") + (f"?{query}" if query else "")


@bp.get("/filters/<int:filter_id>")
def open_filter(filter_id: int) -> Any:
    """The inbox with a saved filter's arguments."""
    saved = get_db().get(search.F, filter_id)
    if saved is None or saved.username != current_user.username:
        abort(404)
    query = search.query_string(saved)
    return redirect(url_for("inbox.index") + (f"?{query}" if query else ""))


@bp.post("/filters/<int:filter_id>/delete")
def remove(filter_id: int) -> Any:
    """Delete one of my saved filters."""
    if not search.delete_filter(get_db(), current_user.username, filter_id):
        abort(404)
    flash(_("Filter deleted."), "success")
    return redirect(url_for("inbox.index"))
