"""The absence section of ``/account``: set an absence period with a substitute, cancel one, and see
whom one stands in for now and the tasks they hold (``caseflow.substitutes`` has the rules).

Dates are days in the business time zone: an absence from D1 to D2 runs from D1 00:00 to the end
of D2 (``ends_at`` is D2 + 1 day, 00:00, excluded)."""
from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from caseflow import clock, store, substitutes
from web import get_db, rollback_request

bp = Blueprint("absence", __name__, url_prefix="/account/absence")


def _zone() -> ZoneInfo:
    return clock.business_zone()


def _day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        return None


def period(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The UTC period of the days ``first`` to ``last`` (both included) in the business time zone."""
    zone = _zone()
    start = dt.datetime.combine(first, dt.time(), zone).astimezone(dt.UTC)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
    return start, end


def field_messages(codes: dict[str, str]) -> dict[str, str]:
    """The translated text of each field's rejection code (:data:`caseflow.substitutes.MESSAGES`)."""
    texts = {
        "unknown_substitute": _("No active user of that name."),
        "self": _("Choose someone else as your substitute."),
        "missing_roles": _("Your substitute must hold your roles."),
        "order": _("The last day cannot be before the first."),
        "too_long": _("An absence lasts at most %(n)s days.", n=substitutes.MAX_DAYS),
        "past": _("The absence must not end in the past."),
        "overlap": _("This overlaps another of your absences."),
        "loop": _("Your substitute (or theirs) is away then with you as substitute."),
        "note": _("At most %(n)s characters, without control characters.", n=substitutes.NOTE_MAX),
        "date": _("Enter a date."),
    }
    return {k: texts.get(v, v) for k, v in codes.items()}


@bp.app_template_global()
def absence_section() -> dict[str, Any]:
    """What the account page's absence section shows of the signed-in user."""
    session = get_db()
    me = current_user.username
    standing_for = sorted(substitutes.acts_for(session, me))
    held = list(session.scalars(select(store.HumanTask).where(store.HumanTask.assignee.in_(standing_for),
                                                             store.HumanTask.state == "ready")
                                .order_by(store.HumanTask.sort_due))) if standing_for else []
    people = session.execute(select(store.User.username, store.User.display_name)
                             .where(store.User.active.is_(True), store.User.username != me)
                             .order_by(store.User.username)).all()
    zone = _zone()
    absences = [{"id": a.id, "substitute": a.substitute, "first": a.starts_at.astimezone(zone).date(),
                 "last": (a.ends_at.astimezone(zone) - dt.timedelta(days=1)).date(), "note": a.note}
                for a in substitutes.absences_of(session, me)]
    return {"absences": absences, "standing_for": standing_for, "held": held,
            "people": [(n, d or n) for n, d in people]}


@bp.post("/")
def add() -> Any:
    """Record an absence (the account page back with messages when refused: 422)."""
    form = {k: request.form.get(k, "") for k in ("substitute", "first", "last", "note")}
    first, last = _day(form["first"]), _day(form["last"])
    codes = {k: "date" for k, v in (("first", first), ("last", last)) if v is None}
    if not codes and first is not None and last is not None:
        starts_at, ends_at = period(first, last)
        try:
            substitutes.set_absence(get_db(), current_user.username, form["substitute"], starts_at, ends_at,
                                    form["note"])
        except substitutes.AbsenceRejected as err:
            codes = {("last" if k == "ends_at" else "first" if k == "starts_at" else k): v
                     for k, v in err.fields.items()}
    if codes:
        rollback_request()
        return render_account(absence_errors=field_messages(codes), absence_form=form), 422
    flash(_("Absence saved: %(name)s stands in for you then.", name=form["substitute"].strip()), "success")
    return redirect(url_for("account.index") + "#absence")


@bp.post("/<int:absence_id>/cancel")
def cancel(absence_id: int) -> Any:
    """Cancel one of my absences."""
    if substitutes.cancel_absence(get_db(), current_user.username, absence_id):
        flash(_("Absence cancelled."), "success")
    else:
        flash(_("No such absence."), "error")
    return redirect(url_for("account.index") + "#absence")


def render_account(**extra: Any) -> str:
    """The account page (as ``/account`` renders it) with the absence form's messages."""
    from caseflow import accounts

    session = get_db()
    user = session.get_one(store.User, current_user.id)
    tokens = [accounts.token_dict(r) for r in accounts.list_tokens(session, user.username)]
    return render_template("account.html", user=user, tokens=tokens, new_token=None, **extra)
