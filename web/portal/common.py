"""What every portal page shares: the blueprint, the customer's language, refusals."""
from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, session
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_limiter import RateLimitExceeded

from web.ratelimit import client_address, retry_after
from web.views.common import safe_target

bp = Blueprint("portal", __name__, url_prefix="/portal")
log = logging.getLogger("caseflow.portal")
LANGUAGES = ("zh", "en")
SESSION_KEY = "portal_locale"


def language(default: str | None = None) -> str:
    """The customer's language: their switch, else the case's (``default``), else the browser's."""
    chosen = session.get(SESSION_KEY)
    if chosen in LANGUAGES:
        return str(chosen)
    if default in LANGUAGES:
        return str(default)
    return request.accept_languages.best_match(LANGUAGES) or "zh"


def page(template: str, lang: str, status: int = 200, **context: Any) -> Any:
    """Render a portal page in ``lang``."""
    with force_locale(lang):
        return render_template(template, lang=lang, **context), status


def refuse(status: int, reason: str, lang: str, **detail: Any) -> Any:
    """A clear refusal page; every refusal is logged with its reason and the client address."""
    log.warning("portal refused %s %s: %s %s from %s", request.method, request.path.split("/task/")[0],
                reason, " ".join(f"{k}={v}" for k, v in detail.items()), client_address())
    with force_locale(lang):
        messages = {
            "tampered": _("This link is not valid. Please use the link exactly as it was sent to you."),
            "unknown": _("This link is not valid. Please use the link exactly as it was sent to you."),
            "used": _("This link has already been used. Each link can be submitted only once."),
            "expired": _("This link has expired. Please contact us for a new one."),
            "revoked": _("This link has been withdrawn. Please use the most recent link we sent you."),
            "done": _("This step is already done; nothing more is needed from you here."),
            "other_task": _("This link belongs to another step and cannot be used here."),
            "not_customer": _("This step is not one for you to complete."),
        }
        return render_template("portal/refused.html", lang=lang, status=status,
                               message=messages.get(reason, messages["unknown"])), status


def is_portal_request() -> bool:
    """Whether the request is for the portal's pages (a customer's, a stranger's), even one that
    matches no route there."""
    return request.blueprint == bp.name or request.path == bp.url_prefix or \
        request.path.startswith(f"{bp.url_prefix}/")


def error_page(status: int, message: str) -> Any:
    """A portal-branded error page in the visitor's language (no staff navigation): bad input, a
    missing page, an upload too large."""
    lang = language()
    with force_locale(lang):
        heading = _("Please check your input") if status in (400, 413, 422) else _("This page is not available")
        return render_template("portal/refused.html", lang=lang, status=status, message=message,
                               heading=heading), status


@bp.route("/language", methods=["POST"])
def set_language() -> Any:
    """The language switch of the portal pages (kept in the session)."""
    choice = request.form.get("language", "")
    if choice not in LANGUAGES:
        abort(400)
    session[SESSION_KEY] = choice
    return redirect(safe_target(request.form.get("next"), "portal.index"))


@bp.errorhandler(RateLimitExceeded)
def _too_many(_err: RateLimitExceeded) -> Any:
    """Over a portal limit: a clear page (429, ``Retry-After``), logged."""
    wait = retry_after()
    log.warning("portal rate limit: %s %s from %s", request.method, request.path.split("/task/")[0], client_address())
    with force_locale(language()):
        message = _("Too many attempts. Please wait %(minutes)s minutes and try again.", minutes=max(1, wait // 60))
        return render_template("portal/refused.html", lang=language(), status=429, message=message,
                               heading=_("Too many attempts")), 429, {"Retry-After": str(wait)}
