"""Webhooks for integrators (admin only): register, list, change and remove endpoints, and read
each one's delivery log. Deliveries are signed JSON POSTs from the outbox (caseflow.notify.webhooks)."""
from __future__ import annotations

from typing import Any

from flask import Response

from caseflow import store
from caseflow.notify import webhooks
from schema import webhooks as s
from web import get_db
from web.api.core import ApiError, actor, operation

TAGS = ["webhooks"]


def _invalid(err: webhooks.WebhookError) -> ApiError:
    return ApiError(422, "invalid_data", f"the webhook is not valid: {err}", err.fields)


def _found(webhook_id: int) -> Any:
    hook = webhooks.active(get_db(), webhook_id)
    if hook is None:
        raise ApiError(404, "not_found", f"no webhook {webhook_id}")
    return hook


@operation("/webhooks", "GET", summary="Registered webhooks", tags=TAGS, response=s.WebhookListSchema,
           errors=(403,), admin=True)
def list_webhooks() -> dict:
    """The active webhooks, oldest first (their secrets are never shown)."""
    return {"items": webhooks.listed(get_db())}


@operation("/webhooks", "POST", summary="Register a webhook", tags=TAGS, body=s.WebhookCreateSchema,
           response=s.WebhookSchema, status=201, errors=(403, 415, 422), admin=True)
def create_webhook(body: dict) -> dict:
    """Deliver the chosen event kinds to `url` from now on: `instance_started`, `instance_completed`,
    `instance_error`, `task_created`, `task_completed`, `escalation`. Each delivery is a JSON POST
    with `X-Caseflow-Event`, `X-Caseflow-Delivery` and `X-Caseflow-Signature: sha256=<HMAC-SHA256
    of the body with the secret>`; a receiver that does not answer 2xx gets it again with
    exponential backoff (30 s to 6 h, 8 attempts)."""
    try:
        hook = webhooks.register(get_db(), body["url"], body["secret"], body["kinds"], actor())
    except webhooks.WebhookError as err:
        raise _invalid(err) from None
    return webhooks.as_dict(hook)


@operation("/webhooks/<int:webhook_id>", "GET", summary="One webhook", tags=TAGS, response=s.WebhookSchema,
           errors=(403, 404), admin=True)
def get_webhook(webhook_id: int) -> dict:
    """An active webhook (404 when there is none or it was removed)."""
    return webhooks.as_dict(_found(webhook_id))


@operation("/webhooks/<int:webhook_id>", "PATCH", summary="Change a webhook", tags=TAGS,
           body=s.WebhookUpdateSchema, response=s.WebhookSchema, errors=(403, 404, 415, 422), admin=True)
def update_webhook(webhook_id: int, body: dict) -> dict:
    """Change the URL, the secret or the event kinds (what is given). Events from now on use the new
    values; deliveries already queued keep the URL they were queued for."""
    try:
        hook = webhooks.update(get_db(), webhook_id, body.get("url"), body.get("secret"), body.get("kinds"))
    except webhooks.WebhookError as err:
        raise _invalid(err) from None
    if hook is None:
        raise ApiError(404, "not_found", f"no webhook {webhook_id}")
    return webhooks.as_dict(hook)


@operation("/webhooks/<int:webhook_id>", "DELETE", summary="Remove a webhook", tags=TAGS, status=204,
           errors=(403, 404), admin=True)
def delete_webhook(webhook_id: int) -> Response:
    """Stop deliveries to the webhook, queued ones included (they fail as removed); its delivery
    log stays readable."""
    if not webhooks.remove(get_db(), webhook_id):
        raise ApiError(404, "not_found", f"no webhook {webhook_id}")
    return Response(status=204)


@operation("/webhooks/<int:webhook_id>/deliveries", "GET", summary="Delivery log of a webhook", tags=TAGS,
           query=s.DeliveryQuery, response=s.DeliveryListSchema, errors=(403, 404), admin=True)
def list_deliveries(webhook_id: int, query: dict) -> dict:
    """The webhook's newest deliveries, every status, with the attempts and the last error (also
    of a removed webhook)."""
    session = get_db()
    if session.get(store.Webhook, webhook_id) is None:
        raise ApiError(404, "not_found", f"no webhook {webhook_id}")
    rows = webhooks.log(session, query["limit"], webhook_id=webhook_id)
    return {"webhook_id": webhook_id, "items": [
        {"id": r.id, "kind": r.kind, "recipient": r.recipient, "status": r.status, "attempts": r.attempts,
         "last_error": r.last_error, "created_at": r.created_at, "next_attempt_at": r.next_attempt_at,
         "sent_at": r.sent_at, "instance_id": r.instance_id, "event": (r.args or {}).get("body") or {}}
        for r in rows]}
