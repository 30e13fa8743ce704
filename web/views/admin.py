"""``/admin``: the administrator's home and user management (process versions: /admin/processes)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

import engine
from caseflow import accounts, store
from web import get_db, rollback_request
from web.labels import account_message
from web.views.common import admin_required, known_roles

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@admin_required
def _admins_only() -> None:
    """Every page of this blueprint is for the ``admin`` role only."""


@bp.route("/")
def index() -> Any:
    session = get_db()
    by_status = dict(session.execute(select(store.ProcessInstance.status, func.count())
                                     .group_by(store.ProcessInstance.status)).all())
    failed = list(session.scalars(select(store.ProcessInstance).where(store.ProcessInstance.status == "error")
                                  .order_by(store.ProcessInstance.updated_at.desc()).limit(20)))
    return render_template("admin/index.html", processes=engine.list_processes(session), by_status=by_status,
                           failed=failed, user_count=len(accounts.list_users(session)))


def _roles_from_form() -> list[str]:
    roles = request.form.getlist("roles")
    extra = request.form.get("extra_roles", "")
    return roles + [r.strip() for r in extra.replace("，", ",").split(",") if r.strip()]


def _tell_unused(saved: set[str], known: list[str]) -> None:
    """Tell the roles no deployed process, task or other user has (a role ahead of its lane is
    allowed, a typo is not what anyone meant)."""
    unused = sorted(role for role in saved if role not in known)
    if unused:
        flash(_("No deployed process, task or other user has the role %(roles)s: check the spelling.",
                roles=", ".join(unused)), "info")


@bp.route("/users", methods=["GET", "POST"])
def users() -> Any:
    """All users; the form on the page adds one."""
    session = get_db()
    status = 200
    if request.method == "POST":
        known = known_roles()  # before the new user holds the roles
        try:
            user = accounts.create_user(session, request.form.get("username", ""), request.form.get("password", ""),
                                        _roles_from_form(), request.form.get("display_name"))
        except accounts.AccountError as err:
            rollback_request()
            flash(_("The user was not added: %(reason)s", reason=account_message(err)), "error")
            status = 422
        else:
            flash(_("User %(name)s added.", name=user.username), "success")
            _tell_unused(user.role_names, known)
            return redirect(url_for("admin.users"))
    return render_template("admin/users.html", users=accounts.list_users(session),
                           roles=known_roles(), form=request.form), status


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def edit_user(user_id: int) -> Any:
    """Change a user's roles, name, status or password."""
    session = get_db()
    user = session.get(store.User, user_id)
    if user is None:
        abort(404)
    if request.method == "POST":
        held = user.role_names
        known = known_roles()
        try:
            accounts.set_roles(user, _roles_from_form())
            user.display_name = request.form.get("display_name", "").strip() or None
            accounts.set_active(user, request.form.get("active") == "on")  # off: ends sessions, revokes tokens
            if request.form.get("password"):
                accounts.set_password(user, request.form["password"])
        except accounts.AccountError as err:
            rollback_request()
            flash(_("Not saved: %(reason)s", reason=account_message(err)), "error")
            return render_template("admin/user_edit.html", user=user, roles=known_roles()), 422
        flash(_("User %(name)s saved.", name=user.username), "success")
        _tell_unused(user.role_names - held, known)
        return redirect(url_for("admin.users"))
    return render_template("admin/user_edit.html", user=user, roles=known_roles())
