"""Delegation: a ready task handed to a named person of its role, with a reason (audited, notified).

Who may hand a task on: its holder; the substitute of its holder while the holder is absent
(``caseflow.substitutes``); a manager (a user with role ``manager`` or ``general_manager``, the
supervising leaders of PRODUCT.md §1, who approve and receive escalations of every department);
an admin. A task no one holds is handed on by managers and admins only.

To whom: an active user who holds the task's role, other than its holder. When that user is
absent, the task goes to their substitute (resolved now, with the task's role; the audit event
``task_delegated`` names who was asked for and who got it). The write is a compare-and-set on
the holder (``rows.reassign_task``): of two delegations at once, one wins, the other is a conflict.

Also here: :func:`record_event`, the audit entry of a collaboration action that changes no case
row (a comment, an absence), through the audit table's one writer.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow import limits, store, substitutes
from caseflow._engine import records, rows
from caseflow._engine.actor import Actor, require
from caseflow._engine.errors import Conflict, Forbidden, InvalidData, NotFound
from caseflow.notify import personal

REASON_MAX = 500

#: Rejection codes and their English text (the API's; the web UI translates the codes).
MESSAGES = {
    "reason": f"give a reason (at most {REASON_MAX} characters)",
    "unknown": "no active user of that name",
    "no_role": "that user does not hold the task's role",
    "same": "the task is already theirs",
}


class DelegationRejected(InvalidData):
    """The delegation's input breaks a rule: ``codes`` maps each field to a code of :data:`MESSAGES`."""

    def __init__(self, codes: dict[str, str]):
        super().__init__({k: MESSAGES[v] for k, v in codes.items()}, "the delegation is not valid")
        self.codes = codes


def may_delegate(session: Session, row: dict, actor: Actor) -> bool:
    """Whether ``actor`` may hand the task row ``row`` on (``substitutes.may_hand_on``; operator tools may)."""
    return actor.is_admin or substitutes.may_hand_on(session, row.get("assignee"), actor.name, actor.roles)


def delegate(session: Session, task_id: str, to: str, reason: str, actor: Actor) -> records.TaskRecord:
    """Hand the ready task ``task_id`` to ``to`` (their substitute when absent), audited and notified."""
    actor = require(actor)
    found = rows.tasks_by_id(session, [task_id])
    if not found:
        raise NotFound(f"no task {task_id}")
    row = found[0]
    if row["state"] != "ready":
        raise Conflict(f"task {task_id} is no longer ready (it is {row['state']})")
    if not may_delegate(session, row, actor):
        raise Forbidden("only the holder of the task, its substitute, a manager or an admin may hand it on",
                        message_code="delegation_not_allowed")
    to, reason = (to or "").strip(), (reason or "").strip()
    codes: dict[str, str] = {}
    if not reason or limits.text_problem(reason, REASON_MAX):
        codes["reason"] = "reason"
    user = session.scalars(select(store.User).where(store.User.username == to)).first() if to else None
    if user is None or not user.active:
        codes["to"] = "unknown"
    elif row["role"] not in user.role_names:
        codes["to"] = "no_role"
    elif to == row["assignee"]:
        codes["to"] = "same"
    if codes:
        raise DelegationRejected(codes)
    target = substitutes.resolve(session, to, row["role"])
    if not rows.reassign_task(session, task_id, row["assignee"], target.username):
        raise Conflict("someone else took or finished the task meanwhile")
    rows.audit(session, row["instance_id"], actor.name, "task_delegated", row["name"], {
        "title": row["title"], "from": row["assignee"], "to": target.username, "asked_for": to,
        "via": list(target.via), "reason": reason})
    names = dict(session.execute(select(store.User.username, store.User.display_name)
                                 .where(store.User.username == actor.name)).all())
    personal.notify(session, target, "task_delegated", {
        "task_id": task_id, "task_title": row["title"], "instance_id": row["instance_id"],
        "business_key": row["business_key"], "process_key": row["process_key"], "by": actor.name,
        "by_name": names.get(actor.name), "reason": reason}, row["instance_id"])
    return records.task_dict(dict(row, assignee=target.username))


def record_event(session: Session, instance_id: int | None, actor: str, kind: str, task: str | None,
                 payload: dict) -> None:
    """Append one audit event now (of a case, or of none when ``instance_id`` is None)."""
    rows.audit(session, instance_id, actor, kind, task, payload)
