"""``/account``: the signed-in user's own settings (display name, language, password)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user

import store
from web import accounts, get_db, rollback_request
from web.extensions import StaffUser

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.route("/", methods=["GET", "POST"])
def index() -> Any:
    session = get_db()
    user = session.get(store.User, current_user.id)
    if request.method == "POST":
        user.display_name = request.form.get("display_name", "").strip() or None
        new_password = request.form.get("new_password", "")
        if new_password:
            if not accounts.password_matches(user, request.form.get("current_password", "")):
                rollback_request()
                flash(_("The current password is not correct."), "error")
                return render_template("account.html", user=user), 422
            try:
                accounts.set_password(user, new_password)
            except accounts.AccountError as err:
                rollback_request()
                flash(str(err), "error")
                return render_template("account.html", user=user), 422
            login_user(StaffUser(user))  # the new password ends other sign-ins, not this one
        flash(_("Saved."), "success")
        return redirect(url_for("account.index"))
    return render_template("account.html", user=user)
