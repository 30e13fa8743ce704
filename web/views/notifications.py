"""``/notifications``: the signed-in user's in-app notifications (the bell), and
``/admin/notifications``: undelivered e-mails with their error, retried by an admin.

The bell's unread count is put into every page by this blueprint's context processor.
Opening a notification marks it read; so does opening the list (everything it shows).
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from caseflow import config, store
from caseflow.notify import admin as outbox_admin
from caseflow.notify import inbox, render, webhooks
from web import get_db, rollback_request
from web.labels import locale
from web.views.common import admin_required

bp = Blueprint("notifications", __name__)


@bp.app_context_processor
def _bell() -> dict[str, Any]:
    if not current_user.is_authenticated:
        return {"notification_unread": 0}
    return {"notification_unread": inbox.unread_count(get_db(), current_user.username)}


def _entry(row: Any) -> dict[str, Any]:
    """A notification as the list shows it: its subject in the reader's language, its case."""
    try:
        subject = render.render(row.template or row.kind, locale(), row.args or {}).subject
    except render.TemplateMissing:
        subject = row.kind
    return {"id": row.id, "kind": row.kind, "subject": subject, "created_at": row.created_at,
            "unread": row.read_at is None, "instance_id": row.instance_id}


@bp.get("/notifications")
def index() -> Any:
    """The newest notifications, unread ones marked; showing them marks them read."""
    session = get_db()
    rows = inbox.recent(session, current_user.username)
    entries = [_entry(r) for r in rows]
    inbox.mark_read(session, current_user.username, [e["id"] for e in entries if e["unread"]])
    return render_template("notifications.html", entries=entries)


@bp.get("/notifications/<int:notification_id>")
def open_one(notification_id: int) -> Any:
    """Mark one notification read and go to its case (or back to the list)."""
    session = get_db()
    row = inbox.get(session, current_user.username, notification_id)
    if row is None:
        abort(404)
    inbox.mark_read(session, current_user.username, [row.id])
    if row.instance_id is not None:
        return redirect(url_for("cases.show", instance_id=row.instance_id))
    return redirect(url_for("notifications.index"))


def _settings() -> config.Settings:
    settings = current_app.config.get("CASEFLOW_SETTINGS")
    return settings if isinstance(settings, config.Settings) else config.load()


@bp.get("/admin/notifications")
@admin_required
def admin_index() -> Any:
    """Delivery state: whether e-mail is on, counts by status, the undelivered rows with their error."""
    return _admin_page()


def _admin_page(fields: dict[str, str] | None = None, form: dict[str, Any] | None = None) -> str:
    session = get_db()
    return render_template("notifications_admin.html", smtp=_settings().smtp, counts=outbox_admin.counts(session),
                           rows=outbox_admin.undelivered(session), hooks=webhooks.listed(session),
                           deliveries=webhooks.log(session), kinds=store.WEBHOOK_KINDS, fields=fields or {},
                           form=form or {})


@bp.post("/admin/notifications/webhooks")
@admin_required
def admin_add_webhook() -> Any:
    """Register a webhook: URL, secret and event kinds (422 with field messages when invalid)."""
    url, kinds = request.form.get("url", ""), request.form.getlist("kinds")
    form = {"url": url, "kinds": kinds}
    try:
        webhooks.register(get_db(), url, request.form.get("secret", ""), kinds, current_user.username)
    except webhooks.WebhookError as err:
        rollback_request()
        return _admin_page(err.fields, form), 422
    flash(_("Webhook registered."), "success")
    return redirect(url_for("notifications.admin_index"))


@bp.post("/admin/notifications/webhooks/<int:webhook_id>/delete")
@admin_required
def admin_remove_webhook(webhook_id: int) -> Any:
    """Stop deliveries to a webhook (its delivery log stays)."""
    if not webhooks.remove(get_db(), webhook_id):
        abort(404)
    flash(_("Webhook removed."), "success")
    return redirect(url_for("notifications.admin_index"))


@bp.post("/admin/notifications/<int:notification_id>/retry")
@admin_required
def admin_retry(notification_id: int) -> Any:
    """Make a failed delivery due again now."""
    if outbox_admin.retry(get_db(), notification_id):
        flash(_("The notification is queued again."), "success")
    else:
        flash(_("Only a failed notification can be retried."), "error")
    return redirect(url_for("notifications.admin_index"))
