"""Sign-in (rate limited: web/ratelimit.py), sign-out (server-side) and the language switch."""
from __future__ import annotations

import logging
import math
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_limiter import RateLimitExceeded
from flask_login import current_user, login_user, logout_user

from caseflow import accounts, store
from web import get_db, ratelimit
from web.extensions import LANGUAGES, StaffUser
from web.views.common import redirect_back, safe_target

bp = Blueprint("auth", __name__)
log = logging.getLogger("caseflow.auth")


@bp.route("/login", methods=["GET", "POST"])
@ratelimit.sign_in_limits
def login() -> Any:
    """The sign-in form; on success go to ``next`` (a local path) or the inbox.

    A wrong user name or password answers 401, which is what the rate limits count.
    """
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
        log.info("failed sign-in for %r from %s", username.strip()[:100], ratelimit.client_address())
        flash(_("The user name or password is not correct."), "error")
        return render_template("login.html", username=username, next=target), ratelimit.SIGN_IN_FAILED
    return render_template("login.html", username=username, next=target)


@bp.errorhandler(RateLimitExceeded)
def _too_many_attempts(_err: RateLimitExceeded) -> Any:
    """The sign-in page again, saying how long to wait (429, ``Retry-After``)."""
    wait = ratelimit.retry_after()
    flash(_("Too many failed sign-in attempts. Try again in %(minutes)d minutes.", minutes=math.ceil(wait / 60)),
          "error")
    page = render_template("login.html", username=request.form.get("username", ""),
                           next=safe_target(request.values.get("next")))
    return page, 429, {"Retry-After": str(wait)}


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    """Sign out: ends every session of the user on the server, so no copy of a cookie lives on
    (all the user's browsers are signed out, not only this one)."""
    if current_user.is_authenticated:
        user = get_db().get(store.User, current_user.id)
        if user is not None:
            accounts.end_sessions(user)
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
