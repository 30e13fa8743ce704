"""Sign-in, sign-out and the language switch."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from caseflow import accounts, store
from web import get_db
from web.extensions import LANGUAGES, StaffUser
from web.views.common import redirect_back, safe_target

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The sign-in form; on success go to ``next`` (a local path) or the inbox."""
    target = safe_target(request.values.get("next"))
    if current_user.is_authenticated:
        return redirect(target)
    username = request.form.get("username", "")
    if request.method == "POST":
        user = accounts.authenticate(get_db(), username, request.form.get("password", ""))
        if user is not None:
            locale = session.get("locale")
            session.clear()  # a fresh session for the signed-in user
            if locale and not user.locale:
                user.locale = locale
            login_user(StaffUser(user))
            return redirect(target)
        flash(_("The user name or password is not correct."), "error")
        return render_template("login.html", username=username, next=target), 401
    return render_template("login.html", username=username, next=target)


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    logout_user()
    session.pop("_fresh", None)
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
def set_language() -> Any:
    """Switch the language: saved on the user when signed in, else for this browser session."""
    wanted = request.form.get("language", "")
    if wanted in LANGUAGES:
        session["locale"] = wanted
        if current_user.is_authenticated:
            user = get_db().get(store.User, current_user.id)
            if user is not None:
                user.locale = wanted
    return redirect_back()
