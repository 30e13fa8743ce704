"""Webhook deliveries: JSON POSTs signed with HMAC-SHA256, and the admins' registrations.

The body is the event's JSON plus ``delivery`` (the outbox row id, the same on every retry, so
a receiver can drop a repeat). ``X-Caseflow-Signature: sha256=<hex>`` is the HMAC-SHA256 of
the exact body bytes with the webhook's secret; ``X-Caseflow-Event`` names the kind.

A receiver may live on the company's network (private and loopback addresses are fine), but never
at a link-local, multicast, unspecified or reserved address (a cloud's metadata service answers at
169.254.169.254): such an address is refused on registration, and a host name that resolves to one
is refused on delivery. Redirects are not followed (a 3xx answer is a failed delivery).
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow import store

TIMEOUT_S = 10.0
MAX_URL = 2000
MIN_SECRET = 16
MAX_SECRET = 200
_LOG = logging.getLogger("caseflow.notify")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as what it is (an HTTPError with its 3xx status), never followed."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def forbidden_address(address: str) -> bool:
    """Whether an IP address is one no webhook may be sent to (link-local, multicast, unspecified,
    reserved; an IPv4 address mapped into IPv6 counts as itself). Not an address: False."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0].strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_loopback and (ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved)


def _forbidden_target(host: str) -> str | None:
    """The forbidden address ``host`` is or resolves to, else None (an unknown host is urlopen's to report)."""
    if forbidden_address(host):
        return host
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return None
    return next((str(info[4][0]) for info in found if forbidden_address(str(info[4][0]))), None)


class WebhookError(ValueError):
    """A registration that cannot be saved: ``fields`` maps each bad field to its message."""

    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


class Refused(Exception):
    """The receiver answered with a status that is not 2xx (retried), or the webhook is gone (not)."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


def sign(secret: str, body: bytes) -> str:
    """The signature header value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def body_of(row: store.Notification) -> bytes:
    """The JSON bytes delivered for an outbox row."""
    args = row.args or {}
    return json.dumps({**(args.get("body") or {}), "delivery": row.id}, ensure_ascii=False,
                      sort_keys=True, separators=(",", ":")).encode()


def deliver(session: Session, row: store.Notification) -> None:
    """POST the row's event to its webhook; raises on anything but a 2xx answer."""
    hook = session.get(store.Webhook, (row.args or {}).get("webhook_id"))
    if hook is None or not hook.active:
        raise Refused("the webhook was removed or deactivated", permanent=True)
    host = urlsplit(row.recipient).hostname or ""
    refused = _forbidden_target(host)
    if refused is not None:
        _LOG.warning("webhook %s: refused to deliver to %s (%s is a link-local, multicast or reserved address)",
                     hook.id, host, refused)
        raise Refused(f"{host} is at {refused}, a link-local, multicast or reserved address", permanent=True)
    body = body_of(row)
    request = urllib.request.Request(row.recipient, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "Caseflow-Webhook",
        "X-Caseflow-Event": row.kind, "X-Caseflow-Delivery": str(row.id),
        "X-Caseflow-Signature": sign(hook.secret, body)})
    try:
        with _OPENER.open(request, timeout=TIMEOUT_S) as response:  # http(s) checked on save
            status = response.status
    except urllib.error.HTTPError as err:
        moved = " (redirects are not followed)" if 300 <= err.code < 400 else ""
        raise Refused(f"HTTP {err.code} {err.reason}{moved}") from None
    if not 200 <= status < 300:
        raise Refused(f"HTTP {status}")


def validate(url: str, secret: str, kinds: list[str]) -> dict[str, str]:
    """Field messages for a registration (empty when it is valid)."""
    fields: dict[str, str] = {}
    parts = urlsplit(url)
    try:
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        host = ""
    if len(url) > MAX_URL or parts.scheme not in ("http", "https") or not parts.netloc or not host:
        fields["url"] = "an http:// or https:// address"
    elif forbidden_address(host):
        fields["url"] = "a link-local, multicast or reserved address cannot receive webhooks"
    if not MIN_SECRET <= len(secret) <= MAX_SECRET:
        fields["secret"] = f"{MIN_SECRET} to {MAX_SECRET} characters"
    if not kinds or any(k not in store.WEBHOOK_KINDS for k in kinds):
        fields["kinds"] = "choose at least one of the offered events"
    return fields


def register(session: Session, url: str, secret: str, kinds: list[str], actor: str) -> store.Webhook:
    """Save a webhook (raises :class:`WebhookError` with field messages)."""
    url, secret = url.strip(), secret.strip()
    fields = validate(url, secret, kinds)
    if fields:
        raise WebhookError(fields)
    hook = store.Webhook(url=url, secret=secret, kinds=sorted(set(kinds)), active=True, created_by=actor)
    session.add(hook)
    session.flush()
    return hook


def active(session: Session, webhook_id: int) -> store.Webhook | None:
    """The active webhook ``webhook_id`` (None when there is none or it was removed)."""
    hook = session.get(store.Webhook, webhook_id)
    return hook if hook is not None and hook.active else None


def update(session: Session, webhook_id: int, url: str | None = None, secret: str | None = None,
           kinds: list[str] | None = None) -> store.Webhook | None:
    """Change what is given of an active webhook (None when there is none; :class:`WebhookError`
    with field messages when the result is not valid). Deliveries already queued keep their URL."""
    hook = active(session, webhook_id)
    if hook is None:
        return None
    new_url = hook.url if url is None else url.strip()
    new_secret = hook.secret if secret is None else secret.strip()
    new_kinds = list(hook.kinds or []) if kinds is None else kinds
    fields = validate(new_url, new_secret, new_kinds)
    if fields:
        raise WebhookError(fields)
    hook.url, hook.secret, hook.kinds = new_url, new_secret, sorted(set(new_kinds))
    session.flush()
    return hook


def as_dict(hook: store.Webhook) -> dict[str, Any]:
    """A webhook as admins see it (never its secret)."""
    return {"id": hook.id, "url": hook.url, "kinds": list(hook.kinds or []), "created_by": hook.created_by,
            "created_at": hook.created_at}


def remove(session: Session, webhook_id: int) -> bool:
    """Deactivate a webhook (its delivery log stays); False when there is none."""
    hook = session.get(store.Webhook, webhook_id)
    if hook is None or not hook.active:
        return False
    hook.active = False
    return True


def listed(session: Session) -> list[dict[str, Any]]:
    """Active webhooks, without their secrets."""
    rows = session.scalars(select(store.Webhook).where(store.Webhook.active.is_(True)).order_by(store.Webhook.id))
    return [as_dict(h) for h in rows]


def log(session: Session, limit: int = 100, webhook_id: int | None = None) -> list[store.Notification]:
    """The newest webhook deliveries (every status), of one webhook when ``webhook_id`` is given."""
    N = store.Notification
    stmt = select(N).where(N.channel == "webhook")
    if webhook_id is not None:
        stmt = stmt.where(N.args["webhook_id"].as_integer() == webhook_id)
    return list(session.scalars(stmt.order_by(N.id.desc()).limit(limit)))
