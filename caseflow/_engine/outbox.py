"""The outbox writer: the one writer of ``notification`` rows caused by engine actions.

:func:`write` is called by :func:`sync.save` inside the action's transaction, so a
notification exists exactly when the change that causes it is committed. The sender
(:mod:`caseflow.notify.sender`) delivers the rows afterwards.

What is written, per action:

- a new human task for a role: an in-app message to each active user of the role, and an
  e-mail to those with an address (at once, or held for the daily digest, by their choice);
- an ``escalation`` event: in-app and e-mail (at once) to the users of the escalated-to role;
- an ``error`` event: in-app and e-mail to the administrators;
- a ``notice`` event (the ``notify`` operator of a diagram): an e-mail to the address the
  operator found in the case data, with the template and language it names, the values it
  carried (``fields``: lists and long texts too) over the case's scalars, and its PDF attachment;
- for each active webhook subscribed to the kind: a delivery of the event (instance started,
  completed or stopped by an error, task created or completed, escalation).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from caseflow import accounts, clock, portal_links, store
from caseflow._engine import specs
from caseflow._engine.recipients import Person, language_of, recipients
from caseflow._engine.rows import Case

#: Case-data values a template may use: top-level scalars, strings up to this length.
MAX_ARG_CHARS = 2000
MAX_ARGS = 200
ADMIN_ROLE = "admin"
_NOTIFICATION: Table = store.Notification.__table__  # type: ignore[assignment]  # declarative tables are Tables
_INSERT = insert(_NOTIFICATION)
LANGUAGES = ("zh", "en")
#: The args key naming a notice's PDF attachment (the ``attachment`` parameter of ``notify``).
ATTACHMENT_ARG = "_attachment"


def case_args(case: Case, data: dict) -> dict[str, Any]:
    """What templates get of a case: its ids and the top-level scalar values of its data."""
    args: dict[str, Any] = {}
    for key, value in data.items():
        if len(args) >= MAX_ARGS:
            break
        if isinstance(value, (bool, int, float)) or value is None:
            args[key] = value
        elif isinstance(value, str) and len(value) <= MAX_ARG_CHARS:
            args[key] = value
    args.update(instance_id=case.id, process_key=case.process_key, business_key=case.business_key)
    return args


def _row(now: dt.datetime, kind: str, channel: str, recipient: str, language: str, template: str,
         args: dict, instance_id: int | None, username: str | None = None, status: str = "pending") -> dict:
    delivered = channel == "in_app"
    return dict(kind=kind, channel=channel, recipient=recipient, username=username, language=language,
                template=template, args=args, subject=None, body=None,
                status="sent" if delivered else status, attempts=0, next_attempt_at=now, last_error=None,
                created_at=now, sent_at=now if delivered else None, read_at=None, instance_id=instance_id)


def _to_staff(rows: list[dict], now: dt.datetime, kind: str, people: list[Person], args: dict,
              instance_id: int | None, by_choice: bool) -> None:
    """In-app for everyone, e-mail for those with an address (``by_choice``: their task choice)."""
    for person in people:
        rows.append(_row(now, kind, "in_app", person.username, person.language, kind, args, instance_id,
                         username=person.username))
        if not person.email:
            continue
        choice = person.notify_tasks if by_choice else "immediate"
        if choice == "none":
            continue
        rows.append(_row(now, kind, "email", person.email, person.language, kind, args, instance_id,
                         username=person.username, status="digest" if choice == "digest" else "pending"))


#: audit-event kind -> webhook event kind
_WEBHOOK_EVENTS = {"started": "instance_started", "completed": "instance_completed", "error": "instance_error",
                   "task_completed": "task_completed", "escalation": "escalation"}


def _webhook_events(case: Case, new_tasks: list[dict], events: list[dict]) -> list[tuple[str, dict]]:
    """(kind, JSON body) of each webhook event of the action."""
    instance = {"id": case.id, "process_key": case.process_key, "business_key": case.business_key,
                "status": case.status}
    found: list[tuple[str, dict]] = []
    for event in events:
        kind = _WEBHOOK_EVENTS.get(event["kind"])
        if kind is None:
            continue
        payload = event["payload"] or {}
        detail: dict[str, Any] = {}
        if kind == "instance_error":
            detail = {"message": payload.get("message")}
        elif kind == "escalation":
            detail = {k: payload.get(k) for k in ("deadline", "level", "due", "at")}
        elif kind == "task_completed":
            detail = {"title": payload.get("title")}
        found.append((kind, {"event": kind, "at": event["at"].isoformat(), "actor": event.get("actor"),
                             "instance": instance, "element": event.get("task"), **detail}))
    for task in new_tasks:
        found.append(("task_created", {
            "event": "task_created", "at": task["created_at"].isoformat(), "instance": instance,
            "task": {"id": task["id"], "name": task["name"], "title": task["title"], "role": task.get("role"),
                     "due_at": task["due_at"].isoformat() if task.get("due_at") else None}}))
    return found


def _webhook_rows(case: Case, found: list[tuple[str, dict]], hooks: list[tuple[int, str, list]],
                  now: dt.datetime) -> list[dict]:
    return [_row(now, kind, "webhook", url, "en", "webhook", {"webhook_id": hook_id, "body": body}, case.id)
            for kind, body in found for hook_id, url, kinds in hooks if kind in (kinds or [])]


def _customer_mails(session: Session, case: Case, loaded: specs.LoadedSpec, data: dict, base: dict,
                    new_tasks: list[dict], now: dt.datetime) -> list[dict]:
    """A customer task (lane ``customer``) gets a link of its own, mailed to the case's customer
    address; without one the task waits for staff to complete it on the customer's behalf."""
    tasks = [t for t in new_tasks if t.get("role") == portal_links.CUSTOMER_ROLE]
    address = portal_links.customer_address(data) if tasks else None
    if not tasks or address is None or case.id is None:
        return []
    language = portal_links.language(data)
    found = []
    for task in tasks:
        link_id, token = portal_links.issue(session, case.id, task["id"], address, language, now,
                                            due_at=task.get("due_at"))
        args = dict(base, task_id=task["id"], task_title=task["title"], link_id=link_id,
                    task_title_zh=title_zh(loaded, task),
                    portal_url=portal_links.link_url(token), due_at=task["due_at"].isoformat()
                    if task.get("due_at") else None)
        found.append(_row(now, "customer_task", "email", address, language, "portal_task", args, case.id))
    return found


def title_zh(loaded: specs.LoadedSpec, task: dict) -> str:
    """A new task's title in Chinese, as the inbox shows it: the task's ``nameZh`` (tasks sharing a
    form differ by it), else its form's ``x-title-zh``, else its name."""
    own = (loaded.element_names().get(task["name"]) or {}).get("name_zh")
    if own:
        return str(own)
    process = str(task.get("spec_ref") or "").partition(":")[0] or None
    schema = loaded.shared_form_schema(task["form"], process) if task.get("form") else None  # read only
    if isinstance(schema, dict) and isinstance(schema.get("x-title-zh"), str) and schema["x-title-zh"]:
        return schema["x-title-zh"]
    return task["title"]


def write(session: Session, case: Case, new_tasks: list[dict], events: list[dict]) -> int:
    """Write the notifications of one saved action (same transaction); returns how many."""
    now = clock.now()
    hook_events = _webhook_events(case, new_tasks, events)
    notices = [e for e in events if e["kind"] == "notice"]
    escalations = [e for e in events if e["kind"] == "escalation"]
    errors = [e for e in events if e["kind"] == "error"]
    task_roles = [t["role"] for t in new_tasks if t.get("role")]
    levels = [str((e["payload"] or {}).get("level") or "") for e in escalations]
    found = recipients(session, [*task_roles, *levels, *([ADMIN_ROLE] if errors else [])], hooks=bool(hook_events),
                       token=case.directory)
    hook_rows = _webhook_rows(case, hook_events, found.hooks, now)
    if not (notices or escalations or errors or task_roles):
        if hook_rows:
            session.connection().execute(_INSERT, hook_rows)
        return len(hook_rows)
    data = case.data or {}
    base = case_args(case, data)
    people = found.people
    rows: list[dict] = []
    if task_roles:  # new tasks: their titles come from the version this action ran (already parsed)
        loaded = specs.SPECS.get(session, case.definition)
        for task in new_tasks:
            if not task.get("role"):
                continue
            args = dict(base, task_id=task["id"], task_title=task["title"], task_title_zh=title_zh(loaded, task),
                        role=task["role"], due_at=task["due_at"].isoformat() if task.get("due_at") else None)
            _to_staff(rows, now, "task_ready", people.get(task["role"], []), args, case.id, by_choice=True)
        rows += _customer_mails(session, case, loaded, data, base, new_tasks, now)
    deadline_labels = {d.key: d.label for d in (specs.SPECS.get(session, case.definition).manifest.deadlines
                                                   if escalations else ())}
    for event, level in zip(escalations, levels, strict=True):
        payload = event["payload"] or {}
        key = str(payload.get("deadline") or "")
        label = deadline_labels.get(key)
        level_en, level_zh = accounts.ROLES.get(level, (level, level))
        args = dict(base, level=level, deadline=key, due=payload.get("due"), task=event.get("task"),
                    deadline_en=(label.en if label else None) or key, deadline_zh=(label.zh if label else None) or key,
                    level_en=level_en, level_zh=level_zh)
        _to_staff(rows, now, "escalation", people.get(level, []), args, case.id, by_choice=False)
    for event in errors:
        args = dict(base, error=str((event["payload"] or {}).get("message") or case.error or ""),
                    task=event.get("task"))
        _to_staff(rows, now, "instance_error", people.get(ADMIN_ROLE, []), args, case.id, by_choice=False)
    for event in notices:
        request = (event["payload"] or {}).get("last_notice") or {}
        address = request.get("to")
        template = request.get("template")
        if not address or not template:
            continue  # no address in the case: the notice is the staff's to give by hand
        carried = request.get("args")
        args = {**base, **(carried if isinstance(carried, dict) else {}), "task": event.get("task")}
        if request.get("attachment"):
            args[ATTACHMENT_ARG] = str(request["attachment"])
        rows.append(_row(now, "notice", "email", str(address), language_of(request.get("language")),
                         str(template), args, case.id))
    rows += hook_rows
    if rows:
        session.connection().execute(_INSERT, rows)  # Core executemany: one statement for all rows
    return len(rows)
