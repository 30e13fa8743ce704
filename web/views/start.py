"""Start a case (a complaint, a repair...) from its start form."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

import engine
from web import attachments, get_db, rollback_request
from web.forms.messages import localize_all
from web.views import form_page
from web.views.common import actor, may_start

bp = Blueprint("start", __name__, url_prefix="/start")


@bp.route("/")
def index() -> Any:
    """The processes the user may start."""
    processes = [p for p in engine.list_processes(get_db()) if may_start(p["key"])]
    return render_template("start_list.html", processes=processes)


def _render(key: str, schema: dict | None, values: dict | None, errors: dict[str, str] | None = None,
            status: int = 200) -> Any:
    definition = engine.startable_definition(get_db(), key)
    form = form_page.build(get_db(), schema, None, values, errors, None)
    return render_template("start.html", key=key, definition=definition, form=form), status


def _allowed(key: str) -> dict | None:
    schema = engine.start_form(get_db(), key)  # NotFound (404) when the process is not deployed
    if not may_start(key):
        abort(403)
    return schema


def _form_again(key: str, schema: dict | None, values: dict, errors: dict[str, str]) -> Any:
    """The start form with what was typed and the messages, by post/redirect/get (at once with 422
    when the input is too large to keep in the session)."""
    return (form_page.redirect_with_draft(f"start:{key}", values, errors, url_for("start.form", key=key))
            or _render(key, schema, values, errors, 422))


@bp.route("/<key>")
def form(key: str) -> Any:
    schema = _allowed(key)
    kept = form_page.draft(f"start:{key}")
    if kept is not None:
        return _render(key, schema, kept.values, kept.errors)
    return _render(key, schema, {})


@bp.route("/<key>", methods=["POST"])
def submit(key: str) -> Any:
    """Start the case; its uploads join it; the next page is the new case."""
    session = get_db()
    schema = _allowed(key)
    batch = attachments.UploadBatch(session, actor(), None)
    submission = form_page.read(schema, None, batch)
    if submission.errors:
        errors = form_page.all_errors(submission, schema, lambda data, unread: engine.form_problems(
            session, data, key=key, unread=unread))
        batch.discard()
        rollback_request()
        return _form_again(key, schema, submission.raw, errors)
    try:
        view = engine.start(session, key, submission.data, actor=actor())
    except engine.InvalidData as err:
        batch.discard()
        rollback_request()
        return _form_again(key, schema, submission.raw, localize_all(err.fields, schema))
    except engine.EngineError:
        batch.discard()
        raise
    batch.adopt(view["id"])
    form_page.drop_draft(f"start:{key}")
    if view["status"] == "error":
        flash(_("The case was registered, but stopped with an error; an administrator has to look at it."), "error")
    else:
        flash(_("Registered: %(case)s.", case=view["business_key"] or f"#{view['id']}"), "success")
    return redirect(url_for("cases.show", instance_id=view["id"]))
