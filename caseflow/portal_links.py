"""Customer task links: the one writer of ``portal_link`` rows.

A task in a diagram's ``customer`` lane is the customer's. When it becomes ready, the engine's
save (:mod:`caseflow._engine.outbox`, same transaction) calls :func:`issue` and mails the link.
A link is a token signed with the server secret (itsdangerous) that names its task and carries
a random nonce; only its SHA-256 is stored. It opens that one task until it expires
(``CASEFLOW_PORTAL_LINK_HOURS``, or the task's deadline when that is later: the repair waits 30 days
for the device, and its customer should not find the link dead after 14; at most
:data:`MAX_LINK_DAYS`), is used once (:func:`use`), or is revoked (:func:`revoke`,
or a newer link of the same task). :func:`check` says which, so the portal can refuse it clearly.

Who acted is recorded under the names of :func:`customer_actor` (``customer via link N``) and
:func:`on_behalf_actor` (``alice for the customer``); :func:`describe_actor` reads them back.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from caseflow import clock, config, store
from caseflow.accounts import CUSTOMER_ROLE

__all__ = [
    "CUSTOMER_ROLE", "EMAIL_KEYS", "LANGUAGE_KEYS", "LinkCheck", "server_secret", "customer_address", "language",
    "issue", "check", "use", "revoke", "open_links", "link_url", "customer_actor", "on_behalf_actor", "PORTAL_ACTOR",
    "describe_actor", "LinkState", "latest", "resend", "MAIL_TEMPLATE", "CASE_LANGUAGE_KEY", "adopt_language",
]

#: Case-data keys of the customer's e-mail address, first found wins (complaint, repair application).
EMAIL_KEYS = ("customer_email", "email")
#: Case-data keys of the customer's language (zh/en).
LANGUAGE_KEYS = ("customer_language", "language")
#: The key under which a case filed on the portal keeps its customer's language (the first of LANGUAGE_KEYS).
CASE_LANGUAGE_KEY = LANGUAGE_KEYS[0]
SECRET_FILE_NAME = "secret_key"  # the instance folder's generated secret, as the web app keeps it
_SALT = "caseflow.portal-link"
_ON_BEHALF_SUFFIX = " for the customer"
_CUSTOMER_ACTOR = re.compile(r"^customer via link (\d+)$")
#: The audit name of a customer filing a complaint or a repair application on the portal's public pages.
PORTAL_ACTOR = "customer via the portal"
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
#: The template of the mail that carries a customer task's link (written by the engine's outbox and :func:`resend`).
MAIL_TEMPLATE = "portal_task"


def server_secret(settings: config.Settings | None = None) -> str:
    """The server secret (``CASEFLOW_SECRET_KEY``, else the one generated in the instance folder)."""
    settings = settings or config.load()
    if settings.secret_key:
        return settings.secret_key
    path = settings.instance_dir / SECRET_FILE_NAME
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it meanwhile
            return path.read_text().strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def _serializer(secret: str | None = None) -> URLSafeSerializer:
    return URLSafeSerializer(secret or server_secret(), salt=_SALT)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def customer_address(data: dict[str, Any]) -> str | None:
    """The customer's e-mail address in the case data, when it looks like one."""
    for key in EMAIL_KEYS:
        value = str(data.get(key) or "").strip()
        if value and _EMAIL.match(value):
            return value
    return None


def language(data: dict[str, Any]) -> str:
    """The customer's language from the case data: ``en`` or ``zh`` (the default)."""
    for key in LANGUAGE_KEYS:
        value = str(data.get(key) or "").strip().lower()
        if value:
            return "en" if value.startswith("en") else "zh"
    return "zh"


def link_url(token: str, public_url: str | None = None) -> str:
    """Where the link opens: ``<CASEFLOW_PUBLIC_URL>/portal/task/<token>``."""
    base = config.load().public_url if public_url is None else public_url
    return f"{base.rstrip('/')}/portal/task/{token}"


#: The longest a link lasts when the task's deadline is later than the configured lifetime.
MAX_LINK_DAYS = 92


def expiry(now: dt.datetime, hours: int, due_at: dt.datetime | None) -> dt.datetime:
    """When a link issued ``now`` expires: after ``hours``, or at the task's deadline ``due_at`` when that
    is later (at most :data:`MAX_LINK_DAYS` days on)."""
    ends = now + dt.timedelta(hours=hours)
    if due_at is not None:
        due = due_at if due_at.tzinfo is not None else due_at.replace(tzinfo=dt.UTC)
        ends = max(ends, min(due, now + dt.timedelta(days=MAX_LINK_DAYS)))
    return ends


def issue(session: Session, instance_id: int, task_id: str, email: str, lang: str,
          now: dt.datetime | None = None, hours: int | None = None, secret: str | None = None,
          due_at: dt.datetime | None = None) -> tuple[int, str]:
    """A new link to ``task_id`` (earlier open links of the task are revoked): ``(link id, token)``.
    ``due_at``: the task's deadline, which the link lasts until when that is later (:func:`expiry`)."""
    now = now or clock.now()
    hours = config.load().portal_link_hours if hours is None else hours
    token = _serializer(secret).dumps({"t": task_id, "n": secrets.token_urlsafe(16)})
    revoke(session, task_id=task_id, by="replaced", now=now)
    link = store.PortalLink(token_hash=_hash(token), task_id=task_id, instance_id=instance_id, email=email,
                            language=lang, created_at=now, expires_at=expiry(now, hours, due_at))
    session.add(link)
    session.flush()
    return link.id, token


@dataclass(frozen=True)
class LinkCheck:
    """What a token is: ``ok`` with its link, or why it is refused (``tampered``, ``unknown``,
    ``revoked``, ``used``, ``expired``; the link too when one was found)."""

    status: str
    link: store.PortalLink | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def check(session: Session, token: str, now: dt.datetime | None = None, secret: str | None = None) -> LinkCheck:
    """Whether ``token`` opens its task now (signature, row, revocation, use, expiry, in that order)."""
    try:
        payload = _serializer(secret).loads(token)
    except BadSignature:
        return LinkCheck("tampered")
    if not isinstance(payload, dict) or not isinstance(payload.get("t"), str):
        return LinkCheck("tampered")
    link = session.scalar(select(store.PortalLink).where(store.PortalLink.token_hash == _hash(token)))
    if link is None or link.task_id != payload["t"]:
        return LinkCheck("unknown")
    now = now or clock.now()
    if link.revoked_at is not None:
        return LinkCheck("revoked", link)
    if link.used_at is not None:
        return LinkCheck("used", link)
    if link.expires_at <= now:
        return LinkCheck("expired", link)
    return LinkCheck("ok", link)


def use(session: Session, link_id: int, now: dt.datetime | None = None) -> bool:
    """Mark the link used; False when it was used or revoked meanwhile (of two submissions, one wins)."""
    link = store.PortalLink
    result = session.execute(update(link).where(link.id == link_id, link.used_at.is_(None),
                                                link.revoked_at.is_(None))
                             .values(used_at=now or clock.now()).execution_options(synchronize_session="fetch"))
    return bool(getattr(result, "rowcount", 0))


def revoke(session: Session, link_id: int | None = None, task_id: str | None = None, by: str = "",
           now: dt.datetime | None = None) -> int:
    """Revoke one link, or every open link of a task; returns how many."""
    if link_id is None and task_id is None:
        raise ValueError("name a link or a task")
    link = store.PortalLink
    stmt = update(link).where(link.revoked_at.is_(None), link.used_at.is_(None))
    stmt = stmt.where(link.id == link_id) if link_id is not None else stmt.where(link.task_id == task_id)
    result = session.execute(stmt.values(revoked_at=now or clock.now(), revoked_by=by[:200] or None)
                             .execution_options(synchronize_session="fetch"))
    return int(getattr(result, "rowcount", 0))


def open_links(session: Session, task_id: str, now: dt.datetime | None = None) -> list[store.PortalLink]:
    """The links of a task that still open it (for staff: resend or revoke)."""
    link = store.PortalLink
    return list(session.scalars(select(link).where(
        link.task_id == task_id, link.revoked_at.is_(None), link.used_at.is_(None),
        link.expires_at > (now or clock.now())).order_by(link.id)))


def customer_actor(link_id: int) -> str:
    """The audit name of the customer acting through link ``link_id``."""
    return f"customer via link {link_id}"


def on_behalf_actor(username: str) -> str:
    """The audit name of a staff member completing a customer task for the customer."""
    return f"{username}{_ON_BEHALF_SUFFIX}"


def describe_actor(name: str | None) -> tuple[str, str | int] | None:
    """``("customer", link id)`` or ``("on_behalf", username)`` for the portal's actor names, else None."""
    text = name or ""
    found = _CUSTOMER_ACTOR.match(text)
    if found:
        return "customer", int(found.group(1))
    if text == PORTAL_ACTOR:
        return "customer", "portal"
    if text.endswith(_ON_BEHALF_SUFFIX) and len(text) > len(_ON_BEHALF_SUFFIX):
        return "on_behalf", text[: -len(_ON_BEHALF_SUFFIX)]
    return None


@dataclass(frozen=True)
class LinkState:
    """What staff see of a customer task's newest link: its state (``open``, ``used``, ``revoked``,
    ``expired``) and its mail's (``pending``, ``sent``, ``failed``; None when no mail was queued)."""

    link: store.PortalLink
    state: str
    mail_status: str | None
    mail_sent_at: dt.datetime | None


def _mail_of(session: Session, link: store.PortalLink) -> store.Notification | None:
    rows = session.scalars(select(store.Notification).where(
        store.Notification.instance_id == link.instance_id, store.Notification.template == MAIL_TEMPLATE)
        .order_by(store.Notification.id.desc()))
    return next((row for row in rows if (row.args or {}).get("link_id") == link.id), None)


def latest(session: Session, task_id: str, now: dt.datetime | None = None) -> LinkState | None:
    """The newest link of ``task_id`` with its state and its mail's, or None when it never had one."""
    link = session.scalar(select(store.PortalLink).where(store.PortalLink.task_id == task_id)
                          .order_by(store.PortalLink.id.desc()).limit(1))
    if link is None:
        return None
    now = now or clock.now()
    state = ("revoked" if link.revoked_at is not None else "used" if link.used_at is not None
             else "expired" if link.expires_at <= now else "open")
    mail = _mail_of(session, link)
    return LinkState(link, state, mail.status if mail else None, mail.sent_at if mail else None)


def resend(session: Session, task: store.HumanTask, by: str, now: dt.datetime | None = None,
           title_zh: str | None = None) -> tuple[int, int] | None:
    """A new link to the ready customer task ``task``, mailed to the customer (the task's earlier links
    are revoked): ``(link id, notification id)``; None when the case has no customer address.
    ``title_zh``: the task's Chinese name (its element's nameZh) for a first mail of it."""
    now = now or clock.now()
    instance = session.get_one(store.ProcessInstance, task.instance_id)
    data = instance.data or {}
    before = latest(session, task.id, now)
    address = customer_address(data) or (before.link.email if before else None)
    if address is None:
        return None
    lang = language(data) if before is None else before.link.language
    earlier = _mail_of(session, before.link) if before else None
    args: dict[str, Any] = dict(earlier.args) if earlier is not None and earlier.args else {
        "instance_id": instance.id, "process_key": instance.process_key, "business_key": instance.business_key,
        "customer_name": data.get("customer_name") if isinstance(data.get("customer_name"), str) else None,
        "task_id": task.id, "task_title": task.title, "task_title_zh": title_zh or task.title,
        "due_at": task.due_at.isoformat() if task.due_at else None}
    link_id, token = issue(session, instance.id, task.id, address, lang, now, due_at=task.due_at)
    args.update(link_id=link_id, portal_url=link_url(token), resent_by=by[:200])
    row = store.Notification(kind="customer_task", channel="email", recipient=address, username=None, language=lang,
                             template=MAIL_TEMPLATE, args=args, status="pending", attempts=0, next_attempt_at=now,
                             created_at=now, instance_id=instance.id)
    session.add(row)
    session.flush()
    return link_id, row.id


def adopt_language(session: Session, instance_id: int, lang: str) -> int:
    """Make the customer's mails of a case just filed, not sent yet, and its open links ``lang``
    (they were written while the case started, before its language was stored); returns the mails changed."""
    lang = "en" if lang == "en" else "zh"
    instance = session.get_one(store.ProcessInstance, instance_id)
    address = customer_address(instance.data or {})
    link = store.PortalLink
    session.execute(update(link).where(link.instance_id == instance_id, link.used_at.is_(None),
                                       link.revoked_at.is_(None)).values(language=lang)
                    .execution_options(synchronize_session="fetch"))
    if address is None:
        return 0
    mail = store.Notification
    result = session.execute(update(mail).where(mail.instance_id == instance_id, mail.channel == "email",
                                                mail.recipient == address, mail.status == "pending")
                             .values(language=lang).execution_options(synchronize_session="fetch"))
    return int(getattr(result, "rowcount", 0))
