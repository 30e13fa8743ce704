"""Bilingual labels: from form schemas (``title`` / ``x-title-zh``, ``x-enum-titles``) and,
for values the engine computes, from the process manifest's ``output_labels`` and deadline
labels (``caseflow.manifest``).

A deployed version never changes, so the labels of its bundle are cached per version
(process key and content hash, as the engine caches its specs).
"""
from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, overload

from flask_babel import get_locale, lazy_gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

import engine
from caseflow import store
from caseflow.accounts import ROLES
from caseflow.manifest import MANIFEST_FILE, Manifest
from web import manifests

# Ratios kept as fractions in the data, shown as percentages.
PERCENT_KEYS = frozenset({"complaint_ratio", "defect_rate"})

# Values the engine computes, with the source documents' terms: the KPI classes of the MLP
# procedure §3.6–3.8 and the complaint levels of the 8D procedure §4.2 (DOMAIN.md §3.1, §3.2).
OUTPUT_ENUMS: dict[str, dict[str, tuple[str, str]]] = {
    "kpi_class": {"major": ("Major complaint", "重大客诉"), "general": ("General complaint", "一般客诉"),
                  "other": ("Other quality problem", "其他质量问题")},
    "urgency": {"serious": ("Serious complaint", "严重抱怨"), "general": ("General abnormal complaint", "一般异常抱怨"),
                "occasional": ("Occasional abnormal complaint", "偶发性异常抱怨")},
    "responsible_dept": dict(ROLES),
    "confirm_role": dict(ROLES),
}


class Words:
    """Bilingual words from the bundle (no msgid), rendered in the reader's language."""

    def __init__(self, en: str, zh: str) -> None:
        self.en, self.zh = en, zh

    def __str__(self) -> str:
        return pick(self.en, self.zh)

    def __html__(self) -> str:
        from markupsafe import escape

        return str(escape(str(self)))


def locale() -> str:
    """The request's language code (``zh`` or ``en``)."""
    current = get_locale()
    return current.language if current is not None else "en"


@overload
def pick(en: str, zh: str) -> str: ...


@overload
def pick(en: str | None, zh: str | None) -> str | None: ...


def pick(en: str | None, zh: str | None) -> str | None:
    """The text for the current language, falling back to the other one."""
    return (zh or en) if locale() == "zh" else (en or zh)


def humanize(key: str) -> str:
    text = key.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def schema_title(node: dict, key: str = "") -> str:
    """The label of a schema node in the current language (the key when it has no title)."""
    return pick(node.get("title"), node.get("x-title-zh")) or humanize(key)


def schema_description(node: dict) -> str | None:
    return pick(node.get("description"), node.get("x-description-zh"))


def enum_options(node: dict) -> list[tuple[Any, str]]:
    """``(value, label)`` for an ``enum`` (with ``x-enum-titles``) or a ``oneOf`` of consts."""
    if "enum" in node:
        titles = node.get("x-enum-titles") or {}
        out = []
        for value in node["enum"]:
            entry = titles.get(str(value)) if isinstance(titles, dict) else None
            if isinstance(entry, dict):
                label = pick(entry.get("en"), entry.get("zh"))
            else:
                label = entry if isinstance(entry, str) else None
            out.append((value, label or str(value)))
        return out
    return [(c["const"], pick(c.get("title"), c.get("x-title-zh")) or str(c["const"]))
            for c in node.get("oneOf", []) if isinstance(c, dict) and "const" in c]


@dataclass
class LabelBook:
    """Labels of the data keys of one process version: key -> (en, zh), enum values likewise."""

    keys: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    enums: dict[str, dict[str, tuple[str | None, str | None]]] = field(default_factory=dict)
    forms: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)  # form file -> title
    elements: dict[str, str] = field(default_factory=dict)  # BPMN element name -> its nameZh property
    outputs: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)  # manifest labels
    percent: set[str] = field(default_factory=set)  # keys of ``"x-unit": "percent"`` fields (fractions)
    totals: dict[str, bool] = field(default_factory=dict)  # table columns with ``"x-total"``: summed or not

    def is_percent(self, key: str) -> bool:
        """Whether the value of ``key`` is a fraction shown as a percentage."""
        return key in PERCENT_KEYS or key in self.percent

    def task_title(self, form: str | None, title: str) -> str:
        """A task's name in Chinese: its own ``nameZh`` (tasks sharing a form differ by it), else its form's
        ``x-title-zh``; else the BPMN name. The rule of the diagram's names (:func:`diagram_names`)."""
        if locale() == "zh":
            if title in self.elements:
                return self.elements[title]
            if form in self.forms and self.forms[form][1]:
                return self.forms[form][1] or title
        return title

    def element_name(self, name: str | None) -> str:
        """A diagram element's name (a timer, an event) in the current language."""
        if name and locale() == "zh":
            return self.elements.get(name, name)
        return name or ""

    def label(self, key: str) -> str:
        if key in self.keys:
            return pick(*self.keys[key]) or humanize(key)
        if key in self.outputs:
            return pick(*self.outputs[key]) or key
        return humanize(key)

    def value_label(self, key: str, value: Any) -> str | None:
        """The label of an enum value of ``key``, None when it is not an enum value."""
        titles = self.enums.get(key) or {}
        if str(value) in titles:
            return pick(*titles[str(value)])
        builtin = OUTPUT_ENUMS.get(key, {})
        if str(value) in builtin:
            return pick(*builtin[str(value)])
        return None

    def add_schema(self, node: dict, prefix: str = "") -> None:
        for key, prop in (node.get("properties") or {}).items():
            if not isinstance(prop, dict):
                continue
            name = prefix + key
            if "title" in prop or "x-title-zh" in prop:
                self.keys.setdefault(name, (prop.get("title"), prop.get("x-title-zh")))
            if prop.get("x-unit") == "percent":
                self.percent.add(name)
            if isinstance(prop.get("x-total"), bool):
                self.totals.setdefault(name, prop["x-total"])
            titles = prop.get("x-enum-titles")
            if isinstance(titles, dict):
                bucket = self.enums.setdefault(name, {})
                for value, entry in titles.items():
                    if isinstance(entry, dict):
                        bucket.setdefault(str(value), (entry.get("en"), entry.get("zh")))
            items = prop.get("items")
            if isinstance(items, dict) and items.get("type") == "object":
                self.add_schema(items, prefix=f"{name}.")
            if prop.get("type") == "object":
                self.add_schema(prop, prefix=f"{name}.")




_books: dict[tuple[str, str], LabelBook] = {}
_lock = threading.Lock()


def _versions(session: Session, definition: store.ProcessDefinition) -> list[store.ProcessDefinition]:
    """A version, then every version it calls (a repair inside a complaint), each once."""
    out: list[store.ProcessDefinition] = []
    seen: set[int] = set()
    pending = [definition]
    while pending:
        current = pending.pop(0)
        if current.id in seen:
            continue
        seen.add(current.id)
        out.append(current)
        for dep_id in sorted((current.dependencies or {}).values()):
            dep = session.get(store.ProcessDefinition, dep_id)
            if dep is not None:
                pending.append(dep)
    return out


def called_versions(session: Session, definition_id: int) -> list[store.ProcessDefinition]:
    """The versions a version calls (directly or further down), without itself."""
    definition = session.get(store.ProcessDefinition, definition_id)
    return _versions(session, definition)[1:] if definition is not None else []


def _build(versions: list[tuple[dict[str, str], Manifest]], elements: dict[str, dict]) -> LabelBook:
    """The labels of ``(files, manifest)`` bundles, the version's own first (never overridden)."""
    book = LabelBook()
    book.elements.update({e["name"]: e["name_zh"] for e in elements.values() if e["name"] and e["name_zh"]})
    for files, _manifest in versions:
        for name in sorted(files):
            if not name.endswith(".json") or name == MANIFEST_FILE:
                continue
            try:
                schema = json.loads(files[name])
            except ValueError:
                continue
            if isinstance(schema, dict) and isinstance(schema.get("properties"), dict):
                book.add_schema(schema)
                book.forms.setdefault(name, (schema.get("title"), schema.get("x-title-zh")))
    for _files, manifest in versions:
        for deadline in manifest.deadlines:
            if deadline.label is not None:
                book.outputs.setdefault(deadline.key, (deadline.label.en, deadline.label.zh))
        for key, label in manifest.output_labels.items():
            book.outputs.setdefault(key, (label.en, label.zh))
        if manifest.outcome is not None:  # the end states' words (web.case_status), as enum values
            bucket = book.enums.setdefault(manifest.outcome[0], {})
            for value, words in manifest.outcome[1].items():
                bucket.setdefault(value, (words.en, words.zh))
    return book


def book_for(session: Session, definition_id: int) -> LabelBook:
    """The labels of a deployed version: its form schemas, diagram names and manifest (cached)."""
    definition = session.get(store.ProcessDefinition, definition_id)
    if definition is None:
        return LabelBook()
    cache_key = (definition.key, definition.content_hash)
    book = _books.get(cache_key)
    if book is None:
        versions = [(v.files, manifests.for_definition(session, v.id)) for v in _versions(session, definition)]
        book = _build(versions, engine.element_names(session, definition_id))
        with _lock:
            _books[cache_key] = book
    return book


def task_title(task: Mapping[str, Any]) -> str:
    """The localized name of a task dict (``instance_id``, ``form``, ``title``) for the page."""
    from flask import g

    from web import get_db

    cache: dict[int, int] = g.setdefault("definition_of_instance", {})
    instance_id = task["instance_id"]
    if instance_id not in cache:
        instance = get_db().get(store.ProcessInstance, instance_id)
        cache[instance_id] = instance.definition_id if instance is not None else 0
    if not cache[instance_id]:
        return task["title"]
    return book_for(get_db(), cache[instance_id]).task_title(task.get("form"), task["title"])


#: The outbox's delivery states and notification kinds as administrators read them.
NOTIFICATION_STATUSES: dict[str, tuple[str, str]] = {
    "pending": ("waiting to be sent", "待发送"), "sending": ("being sent", "发送中"), "sent": ("sent", "已发送"),
    "failed": ("failed", "发送失败"), "digest": ("held for the daily digest", "待汇总"),
    "digested": ("in a daily digest", "已汇总"),
    "withdrawn": ("withdrawn (the task was done first)", "已撤回(任务已先完成)"),
}
NOTIFICATION_KINDS: dict[str, tuple[str, str]] = {
    "task_ready": ("new task", "新任务"), "customer_task": ("customer's task link", "客户任务链接"),
    "notice": ("customer notice", "客户通知"), "escalation": ("escalation", "升级"),
    "error": ("case error", "案件出错"),
    "task_due_soon": ("task due soon", "任务即将到期"), "task_overdue": ("task overdue", "任务已超时"),
    "task_delegated": ("task handed on", "任务转交"), "comment_mention": ("mention", "评论提及"),
    "digest": ("daily digest", "每日汇总"), "webhook": ("webhook", "Webhook"),
}


def notification_status(status: str) -> str:
    """An outbox row's state in the page's language (an unknown one as it is stored)."""
    words = NOTIFICATION_STATUSES.get(status)
    return pick(*words) if words else status


def notification_kind(kind: str) -> str:
    """A notification's kind in the page's language (an unknown one as it is stored)."""
    words = NOTIFICATION_KINDS.get(kind)
    return pick(*words) if words else kind


def role_label(role: str | None) -> str:
    if not role:
        return "—"
    if role in ROLES:
        return pick(*ROLES[role]) or role
    return humanize(role)


# --- engine messages in the user's language ---------------------------------------------------

# Each engine message code (``EngineError.message_code``) as people read it; the English text of
# the error stays the API's and the CLI's. Arguments a person cannot use (task ids) are left out.
ENGINE_MESSAGES: dict[str, Any] = {
    "task_not_ready": lazy_gettext("This task is no longer open: someone else has already completed this task "
                                   "or the case has moved on. Nothing was saved."),
    "task_claimed": lazy_gettext("%(holder)s has taken over this task; only they can complete or release it."),
    "task_taken": lazy_gettext("Someone else took over or completed this task meanwhile."),
    "case_busy": lazy_gettext("The case is being changed by someone else right now; try again in a moment."),
    "draft_base_outdated": lazy_gettext("This draft was made from version %(base)s, and version %(latest)s was "
                                        "deployed since: deploying it would undo their changes for new cases."),
    "deploy_race": lazy_gettext("Another deployment stored version %(version)s of %(process)s at the same time; "
                                "nothing of this one was stored: deploy it again."),
    "case_changed": lazy_gettext("The case was changed by someone else at the same time; reload the page and "
                                 "try again."),
    "case_stopped": lazy_gettext("The case is %(status)s: its tasks cannot be worked on now."),
    "case_not_in_error": lazy_gettext("The case is %(status)s, not stopped by an error: there is nothing to retry."),
    "case_already_ended": lazy_gettext("The case is already %(status)s."),
    "task_not_found": lazy_gettext("This task does not exist (any more)."),
    "case_not_found": lazy_gettext("There is no case %(instance)s."),
    "version_not_found": lazy_gettext("This process version does not exist."),
    "process_not_deployed": lazy_gettext("The process %(process)s is not deployed."),
    "diagram_not_found": lazy_gettext("The diagram of this process version is missing."),
    "task_of_other_role": lazy_gettext("This task belongs to the role %(role)s."),
    "release_not_allowed": lazy_gettext("Only the person who took over the task, or an administrator, can "
                                        "release it."),
    "delegation_not_allowed": lazy_gettext("Only the holder of the task, their substitute, a manager or an "
                                           "administrator can hand it on."),
    "invalid_data": lazy_gettext("Some entries are not valid: see the marked fields."),
    "deploy_rejected": lazy_gettext("The upload was refused: %(count)s problems were found."),
    "not_found": lazy_gettext("Not found."),
    "forbidden": lazy_gettext("You may not do this."),
    "conflict": lazy_gettext("Someone else changed this meanwhile; reload the page and try again."),
    "instance_error": lazy_gettext("The case cannot do this in its current state."),
    "too_large": lazy_gettext("The submitted data is too large."),
}


def engine_message(err: Exception) -> str:
    """An engine error as a sentence in the user's language (from its message code and arguments)."""
    from web.templating import status_label

    code = getattr(err, "message_code", None)
    args: dict[str, Any] = dict(getattr(err, "message_args", {}) or {})
    template = ENGINE_MESSAGES.get(code or "") or ENGINE_MESSAGES["instance_error"]
    if "status" in args:
        args["status"] = status_label(str(args["status"]))
    if "role" in args:
        args["role"] = role_label(str(args["role"]))
    if "process" in args:
        from web.templating import process_label

        args["process"] = process_label(str(args["process"]))
    if "holder" in args:
        args["holder"] = display_name(str(args["holder"]))
    try:
        return str(template) % args if "%(" in str(template) else str(template)
    except (KeyError, ValueError):
        return str(ENGINE_MESSAGES.get(describe_code(err), ENGINE_MESSAGES["instance_error"]))


# Account and token problems (``caseflow.accounts``: ``message_code``, ``message_args``) as people read them.
ACCOUNT_MESSAGES: dict[str, Any] = {
    "password_too_short": lazy_gettext("The password needs at least %(minimum)s characters."),
    "bad_username": lazy_gettext("A user name has 1 to 100 characters and no spaces."),
    "no_role": lazy_gettext("Give the user at least one role."),
    "customer_role": lazy_gettext("The customer role is given by portal links, never to a staff user."),
    "user_exists": lazy_gettext("The user %(name)s already exists."),
    "no_user": lazy_gettext("There is no user %(name)s."),
    "user_inactive": lazy_gettext("The user %(name)s is deactivated."),
    "last_admin": lazy_gettext("%(name)s is the last active administrator: make someone else an administrator first."),
    "token_name_too_long": lazy_gettext("A token name has at most %(maximum)s characters."),
    "no_token": lazy_gettext("There is no such token."),
    "invalid": lazy_gettext("This cannot be saved as entered."),
}


def account_message(err: Exception) -> str:
    """An account or token problem as a sentence in the user's language."""
    template = ACCOUNT_MESSAGES.get(getattr(err, "message_code", "") or "", ACCOUNT_MESSAGES["invalid"])
    try:
        return str(template) % dict(getattr(err, "message_args", {}) or {}) if "%(" in str(template) else str(template)
    except (KeyError, ValueError):
        return str(ACCOUNT_MESSAGES["invalid"])


def describe_code(err: Exception) -> str:
    return str(getattr(err, "code", "instance_error"))


def display_name(username: str | None) -> str:
    """A user's display name (their user name when they have none), read once per request."""
    if not username:
        return ""
    from flask import g

    from web import get_db

    names: dict[str, str] = g.setdefault("display_names", {})
    if username not in names:
        found = get_db().scalar(select(store.User.display_name).where(store.User.username == username))
        names[username] = found or username
    return names[username]


# --- the diagram in the user's language --------------------------------------------------------

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_diagrams: dict[tuple[str, str, str], bytes] = {}


def _lane_role(name: str) -> str | None:
    key = re.sub(r"[^0-9a-zA-Z]+", "_", name.strip()).strip("_").lower()
    return key if key in ROLES else None


# A name in both languages, as a diagram's pool has it: "Returned goods and exchange (客退品及换货)".
BILINGUAL_NAME = re.compile(r"^\s*(?P<en>[^()]*?)\s*[(（](?P<zh>[^()（）]*[\u3400-\u9fff][^()（）]*)[)）]\s*$")


def diagram_names(root: Any, book: LabelBook, language: str) -> dict[Any, str]:
    """Element -> its name in ``language``: a lane is named by its role in both languages; in
    Chinese an element by its ``nameZh`` property, a user task by its form's ``x-title-zh``; in
    English a name in both languages (``English (中文)``) by its English part. Elements with no
    such name keep theirs."""
    out: dict[Any, str] = {}
    for element in root.iter(f"{{{BPMN_NS}}}*"):
        name = element.get("name")
        if not name:
            continue
        if element.tag == f"{{{BPMN_NS}}}lane":
            role = _lane_role(name)
            if role is not None:
                out[element] = ROLES[role][1 if language == "zh" else 0]
            continue
        if language != "zh":
            if match := BILINGUAL_NAME.match(name):  # "Return-for-repair (维护返修)": its English part
                out[element] = match.group("en")
            continue
        props = {p.get("name"): p.get("value")
                 for p in element.iterfind("{*}extensionElements/{*}properties/{*}property")}
        zh = props.get("nameZh")
        if not zh and props.get("formJsonSchemaFilename"):
            form = book.forms.get(props["formJsonSchemaFilename"])
            zh = form[1] if form else None
        if zh:
            out[element] = zh
    return out


BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"


def drop_authoring_notes(root: Any) -> int:
    """Remove the author's notes from a diagram staff read: text annotations (data keys, timer
    tricks) with their associations and shapes, and the elements' documentation (never drawn;
    a task's instructions reach staff on its form page). The modeler keeps them. The count of
    annotations removed."""
    notes = {e.get("id") for e in root.iter(f"{{{BPMN_NS}}}textAnnotation")}
    links = {e.get("id") for e in root.iter(f"{{{BPMN_NS}}}association")
             if e.get("sourceRef") in notes or e.get("targetRef") in notes}
    gone = notes | links
    doomed = [e for e in root.iter(f"{{{BPMN_NS}}}textAnnotation", f"{{{BPMN_NS}}}association") if e.get("id") in gone]
    doomed += [e for e in root.iter(f"{{{BPMNDI_NS}}}BPMNShape", f"{{{BPMNDI_NS}}}BPMNEdge")
               if e.get("bpmnElement") in gone]
    doomed += list(root.iter(f"{{{BPMN_NS}}}documentation"))
    for element in doomed:
        element.getparent().remove(element)
    return len(notes)


def localized_diagram(session: Session, definition_id: int, xml: str) -> bytes:
    """The BPMN XML of a version for drawing, its elements named in the user's language
    (:func:`diagram_names`) and without the author's notes (:func:`drop_authoring_notes`).
    Cached per version and language."""
    from caseflow.bundles import parse_xml

    definition = session.get(store.ProcessDefinition, definition_id)
    if definition is None:
        return xml.encode("utf-8")
    language = locale()
    cache_key = (definition.key, definition.content_hash, language)
    if cache_key not in _diagrams:
        tree = parse_xml("diagram.bpmn", xml)
        drop_authoring_notes(tree.getroot())
        for element, name in diagram_names(tree.getroot(), book_for(session, definition_id), language).items():
            element.set("name", name)
        with _lock:
            _diagrams[cache_key] = etree_bytes(tree)
    return _diagrams[cache_key]


def etree_bytes(tree: Any) -> bytes:
    from lxml import etree

    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")
