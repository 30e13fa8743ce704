"""Helpers every blueprint uses: the signed-in user's roles, admin guard, safe redirects."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import wraps
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import abort, current_app, redirect, request, url_for
from flask_login import current_user

import engine
from caseflow import accounts, config, portal_links


def settings() -> config.Settings:
    return current_app.config["CASEFLOW_SETTINGS"]


def business_tz() -> ZoneInfo:
    return ZoneInfo(settings().timezone)


def actor() -> str:
    """The name recorded in the audit log for the signed-in user."""
    return current_user.username


def engine_actor(task: Mapping[str, Any] | None = None) -> engine.Actor:
    """The signed-in user as the engine's actor (the engine enforces roles on every task action);
    on a customer task, the user acting for the customer (audited as ``<user> for the customer``)."""
    if task is not None and acts_for_customer(task):
        return engine.Actor.person(portal_links.on_behalf_actor(current_user.username), {portal_links.CUSTOMER_ROLE})
    return engine.Actor.person(current_user.username, current_user.roles)


def speaks_for_customers(roles: Iterable[str], is_admin: bool) -> bool:
    """Whether someone with ``roles`` may complete customer tasks on the customer's behalf: admins
    and the roles of ``CASEFLOW_PORTAL_STAFF_ROLES`` (customer service, the service centre)."""
    return is_admin or bool(set(settings().portal_staff_roles) & set(roles))


def task_roles(roles: Iterable[str], is_admin: bool) -> set[str]:
    """The roles whose tasks someone sees and works on: their own, and the customer's when they
    speak for customers (a feedback the customer gives by phone is entered for them)."""
    own = set(roles)
    return own | {portal_links.CUSTOMER_ROLE} if speaks_for_customers(own, is_admin) else own


def acts_for_customer(task: Mapping[str, Any]) -> bool:
    """A customer task (lane ``customer``) that the user may complete on the customer's behalf."""
    if task.get("role") != portal_links.CUSTOMER_ROLE or not current_user.is_authenticated:
        return False
    return speaks_for_customers(current_user.roles, current_user.is_admin)


def inbox_roles() -> set[str] | None:
    """Roles whose tasks the user sees; None (all) for an admin."""
    return None if current_user.is_admin else task_roles(current_user.roles, False)


def may_work_on(task: Mapping[str, Any]) -> bool:
    """The task belongs to one of the user's roles (admins may act on every task)."""
    return current_user.is_admin or task.get("role") in current_user.roles or acts_for_customer(task)


def known_roles() -> list[str]:
    """Every role there is to offer: the catalogue's, the users' and tasks', the deployed lanes'
    and start rules' (with ``CASEFLOW_START_ROLES``)."""
    from web import get_db

    session = get_db()
    configured = [r for roles in (current_app.config.get("CASEFLOW_START_ROLES") or {}).values() for r in roles]
    return accounts.known_roles(session, [*engine.lane_roles(session), *configured])


def start_roles(process_key: str) -> set[str]:
    """Who may start ``process_key`` (admins always may).

    The ``start_roles`` of the manifest of the version new cases start on; the config setting
    ``CASEFLOW_START_ROLES`` (process key -> roles) overrides it for the processes it names.
    A process that is not deployed has none.
    """
    from web import get_db, manifests

    table = current_app.config.get("CASEFLOW_START_ROLES") or {}
    if process_key in table:
        return set(table[process_key])
    manifest = manifests.for_process(get_db(), process_key)
    return set(manifest.start_roles) if manifest is not None else set()


def may_start(process_key: str) -> bool:
    return current_user.is_admin or bool(start_roles(process_key) & set(current_user.roles))


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Only users with the ``admin`` role (403 for everyone else)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated or not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def safe_target(target: str | None, fallback: str = "inbox.index") -> str:
    """``target`` if it is a path on this site, else the URL of ``fallback``."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for(fallback)


def redirect_back(fallback: str = "inbox.index") -> Any:
    return redirect(safe_target(request.form.get("next") or request.args.get("next"), fallback))
