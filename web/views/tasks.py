"""A task's form: show it, complete it, claim and release it (roles enforced by the engine too)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

import engine
from caseflow import store
from web import attachments, casefile, get_db, rollback_request
from web.forms.messages import localize_all
from web.labels import engine_message, pick, task_title
from web.templating import case_name
from web.views import form_page
from web.views.common import actor, engine_actor, may_work_on, redirect_back

bp = Blueprint("tasks", __name__, url_prefix="/tasks")


def conflict_message(err: engine.EngineError) -> str:
    """A task could not be changed because the case moved on: say so in the user's language
    (from the error's message code and arguments, never its English text)."""
    return engine_message(err)


def _load(task_id: str) -> engine.TaskForm:
    """The task with its form; 403 when it belongs to none of the user's roles."""
    task = engine.task_form(get_db(), task_id)
    if not may_work_on(task):
        abort(403)
    return task


def _render(task: engine.TaskForm, values: dict | None, errors: dict[str, str] | None = None, status: int = 200) -> Any:
    session = get_db()
    instance = session.get_one(store.ProcessInstance, task["instance_id"])  # the task's own case
    manifest = casefile.manifest(session, instance.definition_id)
    book = casefile.label_book(session, instance.definition_id)
    form = form_page.build(session, task["schema"], task["ui_schema"], values, errors, task["instance_id"])
    held_by_other = bool(task["assignee"]) and task["assignee"] != current_user.username and not current_user.is_admin
    names = casefile.attachment_names(session, instance.id)
    data = instance.data or {}
    # What this task needs first (manifest task_fields); the rest of the case folded below it.
    first_keys = casefile.task_field_keys(session, instance.definition_id, task["name"])
    first = casefile.task_facts(book, first_keys, data, names)
    shown = {fact.key for fact in first}
    facts = [f for f in casefile.facts(book, manifest, data, names) if f.key not in shown]
    work = [f for f in casefile.work_facts(book, manifest, data, names) if f.key not in shown]
    missing = [missing_label(book, item) for item in (instance.data or {}).get("intake_missing") or
               (instance.data or {}).get("application_missing") or []]
    return render_template("task.html", task=task, form=form, facts=facts, first=first, instance=instance,
                           held_by_other=held_by_other, missing=missing, work=work,
                           documentation=pick(task["documentation"], task.get("documentation_zh"))), status


def missing_label(book: casefile.LabelBook, item: str) -> str:
    """A missing-items entry of the intake checks in words: ``a|b`` one of, ``a+b`` all of."""
    return _(" or ").join(" + ".join(book.label(k) for k in alt.split("+")) for alt in str(item).split("|"))


def _slot(task_id: str) -> str:
    return f"task:{task_id}"


def _form_again(task_id: str, task: engine.TaskForm, values: dict, errors: dict[str, str]) -> Any:
    """The form with what was typed and the messages: by redirect to its page (post/redirect/get),
    or at once (422) when the input is too large to keep in the session."""
    url = url_for("tasks.show", task_id=task_id)
    return form_page.redirect_with_draft(_slot(task_id), values, errors, url) or _render(task, values, errors, 422)


@bp.route("/<task_id>")
def show(task_id: str) -> Any:
    task = _load(task_id)
    if task["state"] != "ready":
        form_page.drop_draft(_slot(task_id))
        flash(_("This task is already done."), "info")
        return redirect(url_for("cases.show", instance_id=task["instance_id"]))
    kept = form_page.draft(_slot(task_id))
    if kept is not None:
        return _render(task, kept.values, kept.errors)
    return _render(task, form_page.proposed(task), problems_to_correct(task))


def problems_to_correct(task: engine.TaskForm) -> dict[str, str] | None:
    """The messages a rule of the process left for this form (its ``x-problems-from`` data key,
    ``field -> message``), shown beside their fields when the task comes back; None without any."""
    key = (task["schema"] or {}).get("x-problems-from")
    found = task["data"].get(key) if isinstance(key, str) else None
    if not isinstance(found, dict):
        return None
    return localize_all({str(field): message for field, message in found.items() if isinstance(message, str)},
                        task["schema"]) or None


@bp.route("/<task_id>", methods=["POST"])
def submit(task_id: str) -> Any:
    """Convert the form to typed data and complete the task; errors re-show what was typed."""
    session = get_db()
    task = _load(task_id)
    batch = attachments.UploadBatch(session, actor(), task["instance_id"])
    submission = form_page.read(task["schema"], task["ui_schema"], batch)
    if submission.errors:
        errors = form_page.all_errors(submission, task["schema"], lambda data, unread: engine.form_problems(
            session, data, task_id=task_id, unread=unread))
        batch.discard()
        rollback_request()
        return _form_again(task_id, task, submission.raw, errors)
    try:
        view = engine.complete(session, task_id, submission.data, actor=engine_actor(task))
    except engine.InvalidData as err:
        batch.discard()
        rollback_request()
        return _form_again(task_id, task, submission.raw, localize_all(err.fields, task["schema"]))
    except (engine.Conflict, engine.InstanceError) as err:
        batch.discard()
        rollback_request()
        form_page.drop_draft(_slot(task_id))
        flash(conflict_message(err), "error")
        return redirect(url_for("cases.show", instance_id=task["instance_id"]))
    except engine.EngineError:
        batch.discard()
        raise
    form_page.drop_draft(_slot(task_id))
    if view["status"] == "error":
        flash(_("The task was saved, but the case stopped with an error; an administrator has to look at it."),
              "error")
        return redirect(url_for("cases.show", instance_id=view["id"]))
    again = next((t for t in view["tasks"] if t["name"] == task["name"] and t["id"] != task_id), None)
    if again is not None and may_work_on(again):  # the process sent the step back to be redone
        flash(_("Saved, but the process sent %(task)s back to be done again: see the messages on the form.",
                task=task_title(task)), "warning")
        return redirect(url_for("tasks.show", task_id=again["id"]))
    flash(_("Done: %(task)s (%(case)s).", task=task_title(task),
            case=case_name(view["business_key"], view["id"], view.get("data"))), "success")
    return redirect(url_for("inbox.index"))


@bp.route("/<task_id>/claim", methods=["POST"])
def claim(task_id: str) -> Any:
    _load(task_id)
    try:
        engine.claim(get_db(), task_id, engine_actor())
    except (engine.Conflict, engine.InstanceError) as err:
        rollback_request()
        flash(conflict_message(err), "error")
    return redirect_back()


@bp.route("/<task_id>/unclaim", methods=["POST"])
def unclaim(task_id: str) -> Any:
    _load(task_id)
    try:
        engine.unclaim(get_db(), task_id, engine_actor())
    except (engine.Conflict, engine.InstanceError) as err:
        rollback_request()
        flash(conflict_message(err), "error")
    return redirect_back()
