"""Absences and substitutes: while a user is away, what is meant for them goes to their substitute.

A user records an absence (a period and a substitute) on their account page. The period runs
from ``starts_at`` (included) to ``ends_at`` (excluded). The rules, checked when it is saved
(:func:`set_absence`, audited as ``absence_set``; cancelling as ``absence_cancelled``):

- the substitute is another active user who holds every role of the absent user (admin aside);
- the period ends after it starts, lasts at most :data:`MAX_DAYS` days and does not end in the past;
- a user's absences do not overlap;
- no loop: the substitute, and their substitutes in turn, are not absent with the user as
  substitute during any part of the period.

**When it applies** (resolved from the table at that moment, never copied ahead of time):

- at *assignment* time: a task delegated to an absent user goes to their substitute
  (:func:`resolve` with the task's role; the audit event names both);
- at *notification* time: a personal notification (a mention, a task handed to them) goes to
  the substitute, saying for whom (``caseflow.notify.personal``);
- tasks the user already holds stay theirs, and their substitute may hand them on
  (:func:`acts_for`), as the holder could.

Role-wide notifications (a task ready for a role, an escalation) go to everyone of the role,
the substitute included, so they are not redirected.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

import engine
from caseflow import clock, limits, store

MAX_DAYS = 366
MAX_HOPS = 10
NOTE_MAX = 500
#: Roles a substitute need not hold (administration is not delegated with an absence).
UNDELEGATED_ROLES = frozenset({"admin"})

A = store.Absence

#: What each rejection code means (the API's text; the web UI translates the codes).
MESSAGES = {
    "unknown_substitute": "no active user of that name",
    "self": "choose someone else as your substitute",
    "missing_roles": "the substitute must hold your roles",
    "order": "the end must come after the start",
    "too_long": f"an absence lasts at most {MAX_DAYS} days",
    "past": "the absence must not end in the past",
    "overlap": "overlaps another of your absences",
    "loop": "the substitute (or their substitute) is away with you as substitute then",
    "note": f"at most {NOTE_MAX} characters, no control characters",
}


class AbsenceRejected(ValueError):
    """An absence breaks a rule: ``fields`` maps each form field to a code of :data:`MESSAGES`."""

    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(f"{k}: {MESSAGES[v]}" for k, v in fields.items()))
        self.fields = fields

    def messages(self) -> dict[str, str]:
        return {k: MESSAGES[v] for k, v in self.fields.items()}


@dataclass(frozen=True)
class Resolved:
    """Who receives what was meant for ``meant_for``: ``username``, reached through ``via`` (the absent ones)."""

    username: str
    meant_for: str
    via: tuple[str, ...] = ()

    @property
    def substituted(self) -> bool:
        return self.username != self.meant_for


def _active_roles(session: Session, username: str) -> set[str] | None:
    """The roles of an active user, None when there is no such active user."""
    user = session.scalars(select(store.User).where(store.User.username == username)).first()
    if user is None or not user.active:
        return None
    return set(user.role_names)


def absence_at(session: Session, username: str, at: dt.datetime | None = None) -> store.Absence | None:
    """The absence of ``username`` running at ``at`` (now by default), or None."""
    at = at or clock.now()
    return session.scalars(select(A).where(A.username == username, A.cancelled_at.is_(None), A.starts_at <= at,
                                           A.ends_at > at).order_by(A.id).limit(1)).first()


def resolve(session: Session, username: str, role: str | None = None, at: dt.datetime | None = None) -> Resolved:
    """Who stands in for ``username`` at ``at``: the first one along the substitute chain who is not
    absent then, is active and (with ``role``) holds ``role``. The user themselves when they are not
    absent, or when no one on the chain qualifies (a chain never loops back)."""
    at = at or clock.now()
    current, via, seen = username, [], {username}
    for _hop in range(MAX_HOPS):
        absence = absence_at(session, current, at)
        if absence is None:
            break
        roles = _active_roles(session, absence.substitute)
        if absence.substitute in seen or roles is None or (role is not None and role not in roles):
            return Resolved(username, username)  # no qualified stand-in: it stays with the user
        via.append(current)
        current = absence.substitute
        seen.add(current)
    else:
        return Resolved(username, username)
    return Resolved(current, username, tuple(via))


def acts_for(session: Session, substitute: str, at: dt.datetime | None = None) -> set[str]:
    """The users ``substitute`` stands in for at ``at`` (their absence runs, this one is its substitute)."""
    at = at or clock.now()
    return set(session.scalars(select(A.username).where(A.substitute == substitute, A.cancelled_at.is_(None),
                                                        A.starts_at <= at, A.ends_at > at)))


#: Who may hand on any task (besides its holder and the holder's substitute): the supervising
#: leaders of PRODUCT.md §1 (``manager``, ``general_manager``), and admins.
MANAGER_ROLES = frozenset({"manager", "general_manager"})


def may_hand_on(session: Session, holder: str | None, name: str, roles: Iterable[str]) -> bool:
    """Whether ``name`` (with ``roles``) may hand on a task held by ``holder`` (None: no one): a manager
    or an admin always; otherwise its holder, or the holder's substitute while the holder is absent."""
    if (MANAGER_ROLES | UNDELEGATED_ROLES) & set(roles):
        return True
    return bool(holder) and (holder == name or holder in acts_for(session, name))


def _overlapping(session: Session, usernames: Iterable[str], starts_at: dt.datetime,
                 ends_at: dt.datetime) -> list[store.Absence]:
    names = list(usernames)
    if not names:
        return []
    return list(session.scalars(select(A).where(A.username.in_(names), A.cancelled_at.is_(None),
                                                A.starts_at < ends_at, A.ends_at > starts_at)))


def _loops(session: Session, username: str, substitute: str, starts_at: dt.datetime, ends_at: dt.datetime) -> bool:
    """Whether the chain from ``substitute`` leads back to ``username`` during part of the period."""
    frontier, seen = {substitute}, {substitute}
    for _hop in range(MAX_HOPS):
        nxt = {a.substitute for a in _overlapping(session, frontier, starts_at, ends_at)}
        if username in nxt:
            return True
        frontier = nxt - seen
        if not frontier:
            return False
        seen |= frontier
    return True  # longer than any sensible chain: refused as if it looped


def check(session: Session, username: str, substitute: str, starts_at: dt.datetime, ends_at: dt.datetime,
          note: str | None = None) -> None:
    """Raise :class:`AbsenceRejected` unless the absence keeps the rules of this module."""
    problems: dict[str, str] = {}
    if substitute == username:
        problems["substitute"] = "self"
    else:
        theirs = _active_roles(session, substitute)
        mine = _active_roles(session, username) or set()
        if theirs is None:
            problems["substitute"] = "unknown_substitute"
        elif (mine - UNDELEGATED_ROLES) - theirs:
            problems["substitute"] = "missing_roles"
    if ends_at <= starts_at:
        problems["ends_at"] = "order"
    elif ends_at - starts_at > dt.timedelta(days=MAX_DAYS):
        problems["ends_at"] = "too_long"
    elif ends_at <= clock.now():
        problems["ends_at"] = "past"
    if note is not None and limits.text_problem(note, NOTE_MAX):
        problems["note"] = "note"
    if not problems and _overlapping(session, [username], starts_at, ends_at):
        problems["starts_at"] = "overlap"
    if not problems and _loops(session, username, substitute, starts_at, ends_at):
        problems["substitute"] = "loop"
    if problems:
        raise AbsenceRejected(problems)


def set_absence(session: Session, username: str, substitute: str, starts_at: dt.datetime, ends_at: dt.datetime,
                note: str | None = None) -> store.Absence:
    """Record an absence of ``username`` (the rules of :func:`check`), audited as ``absence_set``."""
    substitute = substitute.strip()
    note = (note or "").strip() or None
    check(session, username, substitute, starts_at, ends_at, note)
    row = A(username=username, substitute=substitute, starts_at=starts_at, ends_at=ends_at, note=note,
            created_at=clock.now())
    session.add(row)
    session.flush()
    engine.record_event(session, None, username, "absence_set", None, {
        "absence": row.id, "substitute": substitute, "starts_at": starts_at.isoformat(),
        "ends_at": ends_at.isoformat()})
    return row


def cancel_absence(session: Session, username: str, absence_id: int) -> bool:
    """Cancel one of ``username``'s absences (audited); False when it is not theirs or already cancelled."""
    row = session.get(A, absence_id)
    if row is None or row.username != username or row.cancelled_at is not None:
        return False
    row.cancelled_at = clock.now()
    session.flush()
    engine.record_event(session, None, username, "absence_cancelled", None,
                        {"absence": row.id, "substitute": row.substitute})
    return True


def absences_of(session: Session, username: str) -> list[store.Absence]:
    """The user's absences that have not ended nor been cancelled, soonest first."""
    return list(session.scalars(select(A).where(A.username == username, A.cancelled_at.is_(None),
                                                A.ends_at > clock.now()).order_by(A.starts_at)))
