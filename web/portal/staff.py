"""Staff's hold on a customer task's link, from the case page: see whether it was mailed, when it
expires and whether it was used; revoke it, or send a new one (which revokes the old). For admins
and the roles of ``CASEFLOW_PORTAL_STAFF_ROLES`` (``web.views.common.acts_for_customer``); every
action is in the case's history.
"""
from __future__ import annotations

from typing import Any

from flask import abort, flash
from flask_babel import gettext as _
from flask_login import current_user

import engine
from caseflow import portal_links, store
from web import get_db
from web.portal.common import bp, log
from web.views.common import acts_for_customer, redirect_back


def link_state(task: dict[str, Any]) -> portal_links.LinkState | None:
    """The newest link of a customer task the signed-in user may manage (template global), else None."""
    if not acts_for_customer(task):
        return None
    return portal_links.latest(get_db(), str(task["id"]))


def _task(task_id: str) -> store.HumanTask:
    """The ready customer task, when the signed-in user may manage its links (else 404/403/409)."""
    row = get_db().get(store.HumanTask, task_id)
    if row is None:
        abort(404)
    if not acts_for_customer({"role": row.role}):
        abort(403)
    if row.state != "ready":
        abort(409)
    return row


@bp.route("/staff/task/<task_id>/revoke", methods=["POST"])
def staff_revoke(task_id: str) -> Any:
    """Withdraw the task's open links: they are refused from now on (410)."""
    row = _task(task_id)
    session = get_db()
    count = portal_links.revoke(session, task_id=row.id, by=current_user.username)
    engine.record_event(session, row.instance_id, current_user.username, "portal_link_revoked", row.name,
                        {"task_id": row.id, "links": count})
    log.info("%s revoked %s link(s) of customer task %s (case %s)", current_user.username, count, row.id,
             row.instance_id)
    flash(_("The link was withdrawn.") if count else _("There was no open link to withdraw."), "info")
    return redirect_back(fallback="inbox.index")


@bp.route("/staff/task/<task_id>/resend", methods=["POST"])
def staff_resend(task_id: str) -> Any:
    """Mail the customer a new link to the task; the old one stops working."""
    row = _task(task_id)
    session = get_db()
    instance = session.get_one(store.ProcessInstance, row.instance_id)
    names = engine.element_names(session, instance.definition_id).get(row.name) or {}
    sent = portal_links.resend(session, row, by=current_user.username, title_zh=names.get("name_zh"))
    if sent is None:
        flash(_("The case has no customer e-mail address: no link can be sent."), "error")
        return redirect_back(fallback="inbox.index")
    link_id, _notification = sent
    engine.record_event(session, row.instance_id, current_user.username, "portal_link_sent", row.name,
                        {"task_id": row.id, "link_id": link_id})
    log.info("%s sent link %s of customer task %s (case %s)", current_user.username, link_id, row.id, row.instance_id)
    flash(_("A new link was sent to the customer; the earlier one no longer works."), "info")
    return redirect_back(fallback="inbox.index")
