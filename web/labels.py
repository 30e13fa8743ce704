"""Bilingual labels: from form schemas (``title`` / ``x-title-zh``, ``x-enum-titles``) and,
for values the engine computes, from the process manifest's ``output_labels`` and deadline
labels (``caseflow.manifest``).

A deployed version never changes, so the labels of its bundle are cached per version
(process key and content hash, as the engine caches its specs).
"""
from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, overload

from flask_babel import get_locale
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
    "outcome": {"rejected": ("Rejected (not valid)", "不成立"), "closed": ("Closed", "已结案")},
    "repair_outcome": {"remote_guidance": ("Remote guidance", "远程指导"), "abandoned": ("Abandoned", "已放弃"),
                       "returned_unrepaired": ("Returned unrepaired", "未修退回"), "repaired": ("Repaired", "已修复")},
}


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

    def is_percent(self, key: str) -> bool:
        """Whether the value of ``key`` is a fraction shown as a percentage."""
        return key in PERCENT_KEYS or key in self.percent

    def task_title(self, form: str | None, title: str) -> str:
        """A task's name in Chinese from its form's ``x-title-zh`` or its ``nameZh``; else the BPMN name."""
        if locale() == "zh":
            if form in self.forms and self.forms[form][1]:
                return self.forms[form][1] or title
            return self.elements.get(title, title)
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


def _build(definition: store.ProcessDefinition, manifest: Manifest, elements: dict[str, dict]) -> LabelBook:
    book = LabelBook()
    book.elements.update({e["name"]: e["name_zh"] for e in elements.values() if e["name"] and e["name_zh"]})
    for name in sorted(definition.files):
        if not name.endswith(".json") or name == MANIFEST_FILE:
            continue
        try:
            schema = json.loads(definition.files[name])
        except ValueError:
            continue
        if isinstance(schema, dict) and isinstance(schema.get("properties"), dict):
            book.add_schema(schema)
            book.forms[name] = (schema.get("title"), schema.get("x-title-zh"))
    for deadline in manifest.deadlines:
        if deadline.label is not None:
            book.outputs[deadline.key] = (deadline.label.en, deadline.label.zh)
    for key, label in manifest.output_labels.items():
        book.outputs[key] = (label.en, label.zh)
    return book


def book_for(session: Session, definition_id: int) -> LabelBook:
    """The labels of a deployed version: its form schemas, diagram names and manifest (cached)."""
    definition = session.get(store.ProcessDefinition, definition_id)
    if definition is None:
        return LabelBook()
    cache_key = (definition.key, definition.content_hash)
    book = _books.get(cache_key)
    if book is None:
        book = _build(definition, manifests.for_definition(session, definition_id),
                      engine.element_names(session, definition_id))
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


def role_label(role: str | None) -> str:
    if not role:
        return "—"
    if role in ROLES:
        return pick(*ROLES[role]) or role
    return humanize(role)
