"""What a case page shows, built from the engine's view of an instance (no workflow is loaded):
key facts, deadlines and their state, the history timeline and escalations.

Which data keys are key facts and which are deadlines (with the tasks they bind) is process
knowledge: it comes from the version's manifest (``caseflow.manifest``, via ``web.manifests``).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow import portal_links, store
from caseflow.manifest import Manifest
from web import attachments, deadlines, manifests
from web.labels import LabelBook, book_for, display_name, humanize

LONG_TEXT_KEYS = {"description", "customer_request", "fault_description", "special_requirements"}
MAX_GENERIC_FACTS = 40
UNSUMMED = ("price", "rate", "ratio", "percent")  # numeric columns whose sum means nothing


@dataclass
class Fact:
    """A labelled value as a page shows it."""

    key: str
    label: str
    text: str
    long: bool = False
    attachment_id: int | None = None
    table: Table | None = None  # a list of rows (disposition lines, parts), shown as a table


@dataclass
class Table:
    """Rows of a table field with labelled columns, and the sums of its numeric columns."""

    columns: list[tuple[str, str]]  # (column key, label)
    rows: list[list[str]]
    totals: list[str]  # one per column: the sum of a numeric column, else ""


def display(book: LabelBook, key: str, value: Any) -> str:
    """A data value as text: enum labels, yes/no, lists, local date-times."""
    from web.templating import when, yes_no

    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return yes_no(value)
    label = book.value_label(key, value) if not isinstance(value, (list, dict)) else None
    if label:
        return label
    if isinstance(value, list):
        if any(isinstance(v, dict) for v in value):  # rows of a table: one "label: value, …" per row
            return "; ".join(display(book, key, v) for v in value if isinstance(v, dict))
        return ", ".join(display(book, key, v) for v in value)
    if isinstance(value, dict):  # a row: its columns are labelled in the table's schema (``key.column``)
        return ", ".join(f"{_row_label(book, key, k)}: {display(book, _row_key(book, key, k), v)}"
                         for k, v in value.items())
    if book.is_percent(key) and isinstance(value, (int, float)):
        return f"{value * 100:.2f} %"
    if isinstance(value, float):
        return f"{value:,.6f}".rstrip("0").rstrip(".")
    if isinstance(value, str) and len(value) > 16 and value[4:5] == "-" and value[10:11] == "T":
        return when(value)
    return str(value)


def facts(book: LabelBook, manifest: Manifest, data: dict, names: dict[int, str] | None = None) -> list[Fact]:
    """The key data of a case in the manifest's order (``key_fields``), empty values left out.

    Without key fields (no manifest entry and no start form) every scalar value is shown.
    """
    names = names or {}
    keys = manifest.key_fields
    if keys is None:
        keys = tuple(k for k, v in data.items() if not isinstance(v, (dict, list)) or
                     (isinstance(v, list) and all(not isinstance(i, dict) for i in v)))[:MAX_GENERIC_FACTS]
    out = []
    for key in keys:
        value = data.get(key)
        if value is None or value == "" or value == []:
            continue
        ident = attachments.parse_reference(value)
        text = names.get(ident, _("attachment")) if ident is not None else display(book, key, value)
        out.append(Fact(key, book.label(key), text, long=key in LONG_TEXT_KEYS, attachment_id=ident))
    return out


def work_facts(book: LabelBook, manifest: Manifest, data: dict, names: dict[int, str] | None = None) -> list[Fact]:
    """What people entered on the case's forms so far, beyond the key data (for reviewers).

    Every data key that is a field of one of the process's forms, in the order it was
    written; the key data (``facts``) is left out.
    """
    names = names or {}
    shown = set(manifest.key_fields or ())
    out = []
    for key, value in data.items():
        if key in shown or key not in book.keys or value is None or value == "" or value == []:
            continue
        ident = attachments.parse_reference(value)
        text = names.get(ident, _("attachment")) if ident is not None else display(book, key, value)
        if text:
            out.append(Fact(key, book.label(key), text, long=True, attachment_id=ident))
    return out


def table_of(book: LabelBook, key: str, value: Any) -> Table | None:
    """A list of row objects as a table, columns in their first appearance, numbers summed (a
    column's ``"x-total"`` says whether; without it, not prices, rates, ratios or percentages)."""
    if not isinstance(value, list) or not value or not all(isinstance(r, dict) for r in value):
        return None
    columns: list[str] = []
    for row in value:
        columns.extend(c for c in row if c not in columns)
    rows = [[display(book, _row_key(book, key, c), row.get(c)) for c in columns] for row in value]
    totals = []
    for c in columns:
        numbers = [row.get(c) for row in value if row.get(c) is not None]
        wanted = book.totals.get(f"{key}.{c}", not any(word in c for word in UNSUMMED))
        summable = wanted and bool(numbers) and all(
            isinstance(n, (int, float)) and not isinstance(n, bool) for n in numbers)
        totals.append(display(book, c, sum(numbers)) if summable else "")
    return Table([(c, _row_label(book, key, c)) for c in columns], rows, totals)


def task_facts(book: LabelBook, keys: Sequence[str], data: dict, names: dict[int, str] | None = None) -> list[Fact]:
    """The facts a task needs first (its manifest ``task_fields``), in that order, empty ones left out."""
    names = names or {}
    out = []
    for key in keys:
        value = data.get(key)
        if value is None or value == "" or value == []:
            continue
        ident = attachments.parse_reference(value)
        text = names.get(ident, _("attachment")) if ident is not None else display(book, key, value)
        out.append(Fact(key, book.label(key), text, long=key in LONG_TEXT_KEYS, attachment_id=ident,
                        table=table_of(book, key, value)))
    return out


def task_field_keys(session: Session, definition_id: int, task_name: str) -> tuple[str, ...]:
    """A task's ``task_fields``: from its case's version's manifest, else from the manifest of the
    called version that defines it (a repair task inside a complaint)."""
    from web.labels import called_versions

    own = manifest(session, definition_id).fields_of_task(task_name)
    if own:
        return own
    for version in called_versions(session, definition_id):
        keys = manifests.for_definition(session, version.id).fields_of_task(task_name)
        if keys:
            return keys
    return ()


@dataclass
class DeadlineRow:
    key: str
    label: str
    due: str
    state: str
    escalated: bool


def escalations(audit: Sequence[Mapping[str, Any]]) -> list[dict]:
    """The escalation records (deadline, level, due, at), oldest first, from the audit log.

    The log has every escalation, also those of parallel branches that the data snapshot
    may not show.
    """
    out = []
    for event in audit:
        if event["kind"] == "escalation":
            record = dict(event.get("payload") or {})
            record.setdefault("at", event["at"])
            out.append(record)
    return out


def deadline_rows(book: LabelBook, manifest: Manifest, data: dict, audit: Sequence[Mapping[str, Any]],
                  completed_at: str | None, tasks: Sequence[Mapping[str, Any]]) -> list[DeadlineRow]:
    """Each deadline of the manifest that the data holds, with its state: met/late once done,
    else overdue/due soon/open.

    A deadline is done when the tasks the manifest binds to it that the case has had are all
    finished; a deadline without such tasks (closure, the 2-month trigger, or a bound task
    that has not come yet) when the case is.
    """
    escalated = {e.get("deadline") for e in escalations(audit)}
    rows = []
    for deadline in manifest.deadlines:
        key = deadline.key
        due = data.get(key)
        if not due:
            continue
        bound = [t for t in tasks if deadline.binds(t["name"])]
        if bound:
            finished = [t["completed_at"] for t in bound if t["state"] != "ready" and t["completed_at"]]
            done_at = max(finished) if len(finished) == len(bound) else None
        else:
            done_at = completed_at
        rows.append(DeadlineRow(key, book.label(key), due, deadlines.state(due, done_at), key in escalated))
    return rows


@dataclass
class TimelineEntry:
    at: str
    actor: str
    kind: str
    text: str
    details: list[Fact] = field(default_factory=list)


def actor_label(actor: str | None) -> str:
    """Who did it, when it was not a person: the engine itself or the timer loop."""
    names = {"system": _("System"), "timer": _("Timer"), "engine": _("System")}
    portal = portal_links.describe_actor(actor)  # the customer through a link, or staff acting for them
    if portal is not None:
        if portal[0] == "on_behalf":
            return _("%(name)s for the customer", name=portal[1])
        if portal[1] == "portal":
            return _("the customer (portal)")
        return _("the customer (link %(link)s)", link=portal[1])
    return names.get(actor or "", actor or "")


def actor_names(session: Session, actors: set[str]) -> dict[str, str]:
    """Each audit actor as pages show it: a user's display name, else :func:`actor_label` (the customer,
    the system, the timer)."""
    found = dict(session.execute(select(store.User.username, store.User.display_name)
                                 .where(store.User.username.in_(actors))).all()) if actors else {}
    return {actor: found.get(actor) or actor_label(actor) for actor in actors}


def _row_key(book: LabelBook, key: str, column: str) -> str:
    """The data path of a table column (``parts.part_name``) when the schemas know it, else the column."""
    path = f"{key}.{column}"
    return path if path in book.keys or path in book.enums else column


def _row_label(book: LabelBook, key: str, column: str) -> str:
    return book.label(_row_key(book, key, column))


def decision_of(book: LabelBook, data: Mapping[str, Any] | None) -> str | None:
    """What an approval task decided (its ``*_decision`` enum, e.g. approve / reject), in words."""
    for key, value in (data or {}).items():
        if key.endswith("_decision") and isinstance(value, str):
            return book.value_label(key, value) or None
    return None


_LANGUAGE_NAMES = {"zh": "中文", "en": "English"}  # as the language switch names them


def _data_changed(payload: Mapping[str, Any], book: LabelBook) -> str:
    """A data change in words: the customer's language kept from the portal, else which fields
    were corrected and why."""
    sent = payload.get("data")
    changes: Mapping[str, Any] = sent if isinstance(sent, Mapping) else {}
    if set(changes) == {portal_links.CASE_LANGUAGE_KEY}:
        lang = str(changes[portal_links.CASE_LANGUAGE_KEY])
        return _("The customer's language is kept for links and e-mails: %(language)s",
                 language=_LANGUAGE_NAMES.get(lang, lang))
    names = [book.label(str(key)) for key in changes]
    fields = ", ".join(names[:6]) + (" …" if len(names) > 6 else "")
    reason = payload.get("reason")
    if fields and reason:
        return _("Data corrected (%(fields)s): %(reason)s", fields=fields, reason=reason)
    if fields:
        return _("Data corrected (%(fields)s)", fields=fields)
    return _("Data corrected")


def _describe(event: Mapping[str, Any], titles: dict[str, str], book: LabelBook) -> str:
    from web.labels import role_label

    task = titles.get(event.get("task") or "") or book.element_name(event.get("task"))
    payload = event.get("payload") or {}
    kind = event["kind"]
    if kind == "started":
        return _("Case started (process version %(v)s)", v=payload.get("version", "?"))
    if kind == "task_completed":
        done = titles.get(event.get("task") or "") or payload.get("title") or task
        decision = decision_of(book, payload.get("data"))
        if decision:
            return _("Completed: %(task)s (%(decision)s)", task=done, decision=decision)
        return _("Completed: %(task)s", task=done)
    if kind == "task_claimed":
        return _("Took over: %(task)s", task=task)
    if kind == "task_released":
        return _("Released: %(task)s", task=task)
    if kind == "task_delegated":
        to = display_name(str(payload.get("to") or ""))
        if payload.get("asked_for") and payload.get("asked_for") != payload.get("to"):
            to = _("%(to)s (substitute of %(absent)s)", to=to, absent=display_name(str(payload["asked_for"])))
        return _("Handed %(task)s to %(to)s: %(reason)s", task=titles.get(event.get("task") or "")
                 or payload.get("title") or task, to=to, reason=payload.get("reason") or "")
    if kind == "timer_fired":
        return _("Timer fired: %(task)s", task=task)
    if kind == "escalation":
        return _("Escalated to %(level)s: %(deadline)s overrun",
                 level=role_label(payload.get("level")), deadline=book.label(str(payload.get("deadline") or "")))
    if kind == "error":
        return _("Stopped with an error at %(task)s: %(message)s", task=task, message=payload.get("message", ""))
    if kind == "retried":
        return _("Retried after an error")
    if kind == "data_changed":
        return _data_changed(payload, book)
    if kind == "cancelled":
        return _("Case cancelled: %(reason)s", reason=payload.get("reason") or "—")
    if kind == "completed":
        return _("Case closed")
    if kind == "portal_link_revoked":
        return _("Customer link withdrawn: %(task)s", task=task)
    if kind == "portal_link_sent":
        return _("New customer link sent: %(task)s", task=task)
    if kind == "notice":
        notice = payload.get("last_notice") or {}
        if notice.get("to"):
            return _("E-mail notice to the customer queued: %(to)s", to=notice["to"])
        return _("No e-mail notice sent (no address in the case): inform the customer by phone or letter")
    return humanize(kind)


def timeline(session: Session, instance_id: int, audit: Sequence[Mapping[str, Any]], book: LabelBook,
             names: dict[int, str]) -> list[TimelineEntry]:
    """The history, newest first, with the data each completed task submitted."""
    titles = {name: book.task_title(form, title) for name, title, form in session.execute(
        select(store.HumanTask.name, store.HumanTask.title, store.HumanTask.form)
        .where(store.HumanTask.instance_id == instance_id))}
    people = actor_names(session, {e["actor"] for e in audit if e["actor"]})
    out = []
    for event in audit:
        data = (event.get("payload") or {}).get("data") if event["kind"] in ("task_completed", "started",
                                                                                "data_changed") else None
        details = []
        for key, value in (data or {}).items():
            ident = attachments.parse_reference(value)
            text = names.get(ident, "") if ident is not None else display(book, key, value)
            if text:
                details.append(Fact(key, book.label(key), text, attachment_id=ident))
        actor = people.get(event["actor"]) or actor_label(event["actor"])
        out.append(TimelineEntry(event["at"], actor, event["kind"], _describe(event, titles, book), details))
    out.reverse()
    return out


def label_book(session: Session, definition_id: int) -> LabelBook:
    return book_for(session, definition_id)


def manifest(session: Session, definition_id: int) -> Manifest:
    """The version's manifest (one lookup per request)."""
    return manifests.for_definition(session, definition_id)


def attachment_names(session: Session, instance_id: int) -> dict[int, str]:
    return {a.id: a.filename for a in attachments.for_instance(session, instance_id)}

