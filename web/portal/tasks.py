"""Customer tasks: the customer opens one task from its link and submits it (``engine.complete``
as ``customer via link N``). Staff acting for the customer use the usual task page.
"""
from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask_babel import force_locale

import engine
from caseflow import portal_links, store
from web import attachments, casefile, get_db, rollback_request
from web.forms.messages import localize_all
from web.forms.schema_form import for_customer
from web.portal.common import bp, language, log, page, refuse
from web.ratelimit import client_address
from web.templating import case_name
from web.views import form_page
from web.views.tasks import missing_label


def _case_and_facts(task: engine.TaskForm) -> tuple[store.ProcessInstance, list[casefile.Fact]]:
    """The task's case and only the facts its manifest's ``task_fields`` name."""
    session = get_db()
    instance = session.get_one(store.ProcessInstance, task["instance_id"])
    book = casefile.label_book(session, instance.definition_id)
    keys = casefile.task_field_keys(session, instance.definition_id, task["name"])
    names = casefile.attachment_names(session, instance.id)
    return instance, casefile.task_facts(book, keys, instance.data or {}, names)


def _render(task: engine.TaskForm, action: str, lang: str, values: dict | None, errors: dict[str, str] | None = None,
            status: int = 200, on_behalf: bool = False) -> Any:
    with force_locale(lang):  # the facts' labels too are in the customer's language
        instance, facts = _case_and_facts(task)
        form = form_page.build(get_db(), for_customer(task["schema"]), task["ui_schema"], values, errors,
                               task["instance_id"])
        book = casefile.label_book(get_db(), instance.definition_id)
        missing = [missing_label(book, item) for item in (instance.data or {}).get("application_missing") or []]
        return page("portal/task.html", lang, status, task=task, form=form, facts=facts, action=action,
                    case=case_name(instance.business_key, instance.id, instance.data), missing=missing,
                    on_behalf=on_behalf)


def _open(token: str) -> tuple[portal_links.LinkCheck, engine.TaskForm | None, Any]:
    """The link and its task when both are good, else the refusal page to answer with."""
    session = get_db()
    checked = portal_links.check(session, token)
    lang = language(checked.link.language if checked.link else None)
    link = checked.link
    if not checked.ok or link is None:
        status = 404 if checked.status in ("tampered", "unknown") else 410
        return checked, None, refuse(status, checked.status, lang, link=link.id if link else None)
    try:
        task = engine.task_form(session, link.task_id)
    except engine.NotFound:
        return checked, None, refuse(410, "done", lang, link=link.id)
    if task["role"] != portal_links.CUSTOMER_ROLE:
        return checked, None, refuse(403, "not_customer", lang, link=link.id)
    if task["state"] != "ready":
        return checked, None, refuse(410, "done", lang, link=link.id)
    return checked, task, None


@bp.route("/task/<token>")
def task(token: str) -> Any:
    """The customer's task from its link: that task's form and the facts it needs, nothing else."""
    checked, found, refused = _open(token)
    if found is None or checked.link is None:
        return refused
    return _render(found, url_for("portal.task_submit", token=token), language(checked.link.language),
                   form_page.proposed(found))


@bp.route("/task/<token>", methods=["POST"])
def task_submit(token: str) -> Any:
    """Submit the customer's task: the link is used up and the task completed as ``customer via link N``."""
    checked, found, refused = _open(token)
    link = checked.link
    if found is None or link is None:
        return refused
    lang = language(link.language)
    if request.form.get("task") != link.task_id:
        return refuse(403, "other_task", lang, link=link.id, task=str(request.form.get("task"))[:40])
    session = get_db()
    who = portal_links.customer_actor(link.id)
    batch = attachments.UploadBatch(session, who, found["instance_id"])
    action = url_for("portal.task_submit", token=token)
    with force_locale(lang):
        submission = form_page.read(for_customer(found["schema"]), found["ui_schema"], batch)
        errors = form_page.all_errors(submission, found["schema"], lambda data, unread: engine.form_problems(
            session, data, task_id=link.task_id, unread=unread)) if submission.errors else {}
    if errors:
        batch.discard()
        rollback_request()
        return _render(found, action, lang, submission.raw, errors, 422)
    if not portal_links.use(session, link.id):
        batch.discard()
        rollback_request()
        return refuse(410, "used", lang, link=link.id)
    try:
        view = engine.complete(session, link.task_id, submission.data,
                               engine.Actor.person(who, {portal_links.CUSTOMER_ROLE}))
    except engine.InvalidData as err:
        batch.discard()
        rollback_request()
        with force_locale(lang):
            return _render(found, action, lang, submission.raw, localize_all(err.fields, found["schema"]), 422)
    except (engine.Conflict, engine.InstanceError):
        batch.discard()
        rollback_request()
        return refuse(409, "done", lang, link=link.id)
    log.info("customer task %s (%s) of case %s completed through link %s from %s", found["name"], link.task_id,
             found["instance_id"], link.id, client_address())
    return page("portal/done.html", lang, case=case_name(view["business_key"], view["id"], view.get("data")),
                task=found)
