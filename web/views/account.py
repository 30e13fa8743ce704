"""``/account``: the signed-in user's own settings (display name, password, API tokens).

API tokens are made here only, by a signed-in browser session (CSRF-checked form), never with
another token; a new password revokes them all. A new token's text is in the response that
creates it and nowhere else (not in the session cookie, not in any cache).
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user
from sqlalchemy.orm import Session

from caseflow import accounts, store
from service_tasks import notify as notify_rules
from web import get_db, rollback_request
from web.extensions import StaffUser
from web.labels import account_message

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.route("/", methods=["GET", "POST"])
def index() -> Any:
    session = get_db()
    user = _signed_in_user(session)
    if request.method == "POST":
        user.display_name = request.form.get("display_name", "").strip() or None
        problem = _notification_choices(user)
        if problem:
            rollback_request()
            flash(problem, "error")
            return _page(user), 422
        new_password = request.form.get("new_password", "")
        if new_password:
            if not accounts.password_matches(user, request.form.get("current_password", "")):
                rollback_request()
                flash(_("The current password is not correct."), "error")
                return _page(user), 422
            try:
                accounts.set_password(user, new_password)
            except accounts.AccountError as err:
                rollback_request()
                flash(account_message(err), "error")
                return _page(user), 422
            login_user(StaffUser(user))  # the new password ends other sign-ins (and tokens), not this one
            flash(_("Password changed: your other sign-ins are ended and your API tokens revoked."), "success")
        flash(_("Saved."), "success")
        return redirect(url_for("account.index"))
    return _page(user)


def _notification_choices(user: store.User) -> str | None:
    """Take the e-mail address and the task notification choice from the form; a message when invalid."""
    if "email" not in request.form:
        return None
    address = request.form.get("email", "").strip()
    if address and (len(address) > 254 or not notify_rules.EMAIL.match(address)):
        return _("E-mail: not a valid e-mail address.")
    choice = request.form.get("notify_tasks", user.notify_tasks or "immediate")
    if choice not in store.NOTIFY_CHOICES:
        return _("Task notifications: choose one of the offered options.")
    user.email, user.notify_tasks = address or None, choice
    return None


def _signed_in_user(session: Session) -> store.User:
    """The signed-in user's row (the user loader found it in this request's session)."""
    return session.get_one(store.User, current_user.id)


def _page(user: store.User, new_token: str | None = None) -> str:
    rows = accounts.list_tokens(get_db(), user.username)
    return render_template("account.html", user=user, tokens=[accounts.token_dict(r) for r in rows],
                           new_token=new_token)


@bp.post("/tokens")
def create_token() -> Any:
    """Create a personal API token; its text is shown once, in this response only.

    The page is rendered here rather than after a redirect: carrying the token to the next
    request would put it in the session cookie, which is signed but readable. ``no-store``
    keeps it out of the browser's and any proxy's cache.
    """
    session = get_db()
    user = _signed_in_user(session)
    try:
        _row, plain = accounts.create_token(session, user.username, request.form.get("name"))
    except accounts.TokenError as err:
        rollback_request()
        flash(account_message(err), "error")
        return _page(user), 422
    flash(_("Token created. Copy it now: it is not shown again."), "success")
    response = make_response(_page(user, new_token=plain), 201)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int) -> Any:
    """Revoke one of my tokens."""
    session = get_db()
    try:
        accounts.revoke_token(session, token_id, current_user.username)
    except accounts.TokenError:
        rollback_request()
        flash(_("No such token."), "error")
        return redirect(url_for("account.index")), 303
    flash(_("Token revoked."), "success")
    return redirect(url_for("account.index"))
