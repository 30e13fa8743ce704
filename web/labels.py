"""Bilingual labels: from form schemas (``title`` / ``x-title-zh``, ``x-enum-titles``) and,
for values the engine computes, from a small built-in table.

A deployed version never changes, so the labels of its bundle are cached per definition id.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from flask_babel import get_locale

from caseflow import bundles
from caseflow import store
from web.accounts import ROLES

# Outputs of the service tasks (PRODUCT.md §3–5) that no form declares: key -> (en, zh).
OUTPUT_LABELS: dict[str, tuple[str, str]] = {
    "complaint_no": ("Complaint no.", "客诉单号"),
    "repair_number": ("Repair no.", "维修编号"),
    "kpi_class": ("KPI class", "投诉等级"),
    "kpi_weight": ("KPI weight", "等级权重"),
    "urgency": ("Urgency", "紧急程度"),
    "special_major": ("Special major complaint", "特别重大投诉"),
    "grading_rules": ("Grading rules", "分级规则"),
    "responsible_dept": ("Responsible department", "责任部门"),
    "routing_rule": ("Routing rule", "分派规则"),
    "received_at": ("Received at", "受理时间"),
    "react_by": ("React by", "响应期限"),
    "containment_by": ("Containment by", "围堵期限"),
    "close_by": ("Close by", "结案期限"),
    "special_major_by": ("Special major if unresolved by", "未解决升级期限"),
    "repair_due": ("Repair due", "维修期限"),
    "review_due": ("Reply to the application by", "申请答复期限"),
    "device_due": ("Device expected by", "设备寄达期限"),
    "device_reminder_at": ("Reminder to ship on", "提醒寄送时间"),
    "outcome": ("Outcome", "处理结果"),
    "repair_outcome": ("Repair outcome", "返修结果"),
    "closed_at": ("Closed at", "结案时间"),
    "grade_overridden": ("Grade overridden", "等级已修改"),
    "confirm_role": ("Confirmed by", "确认部门"),
    "in_warranty": ("In warranty", "保修期内"),
    "chargeable": ("Chargeable", "收费维修"),
    "loss_amount": ("Loss amount (RMB)", "损失金额(元)"),
    "complaint_ratio": ("Complaint ratio", "客诉比率"),
    "has_repair": ("Needs repair", "需维修"),
    "repair_quantity": ("Repair quantity", "维修数量"),
    "defect_rate": ("Defect rate", "不良率"),
    "intake_missing": ("Missing items", "缺少的项目"),
    "application_missing": ("Missing items", "缺少的项目"),
    "escalations": ("Escalations", "升级记录"),
}

# Ratios kept as fractions in the data, shown as percentages.
PERCENT_KEYS = frozenset({"complaint_ratio", "defect_rate"})

OUTPUT_ENUMS: dict[str, dict[str, tuple[str, str]]] = {
    "kpi_class": {"major": ("Major", "重大"), "general": ("General", "一般"), "other": ("Other", "其他")},
    "urgency": {"serious": ("Serious", "严重"), "general": ("General", "一般"),
                "occasional": ("Occasional", "偶发")},
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
        if key in OUTPUT_LABELS:
            return pick(*OUTPUT_LABELS[key]) or key
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


SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"


def _chinese_names(filename: str, text: str) -> dict[str, str]:
    """Element name -> Chinese name, from ``<spiffworkflow:property name="nameZh" value="…"/>``."""
    found: dict[str, str] = {}
    root = bundles.parse_xml(filename, text).getroot()
    for prop in root.iter(f"{{{SPIFF_NS}}}property"):
        element = prop.getparent().getparent().getparent()  # properties < extensionElements < element
        if prop.get("name") == "nameZh" and prop.get("value") and element is not None and element.get("name"):
            found[element.get("name")] = prop.get("value")
    return found


_books: dict[int, LabelBook] = {}
_lock = threading.Lock()


def book_for_definition(definition: store.ProcessDefinition) -> LabelBook:
    """The labels of every form schema in a deployed version's bundle (cached)."""
    book = _books.get(definition.id)
    if book is None:
        book = LabelBook()
        for name in sorted(definition.files):
            if name.endswith(".bpmn"):
                book.elements.update(_chinese_names(name, definition.files[name]))
            if not name.endswith(".json"):
                continue
            try:
                schema = json.loads(definition.files[name])
            except ValueError:
                continue
            if isinstance(schema, dict) and isinstance(schema.get("properties"), dict):
                book.add_schema(schema)
                book.forms[name] = (schema.get("title"), schema.get("x-title-zh"))
        with _lock:
            _books[definition.id] = book
    return book


def task_title(task: dict) -> str:
    """The localized name of a task dict (``instance_id``, ``form``, ``title``) for the page."""
    from flask import g

    from web import get_db

    cache: dict[int, int] = g.setdefault("definition_of_instance", {})
    instance_id = task["instance_id"]
    if instance_id not in cache:
        instance = get_db().get(store.ProcessInstance, instance_id)
        cache[instance_id] = instance.definition_id if instance is not None else 0
    definition = get_db().get(store.ProcessDefinition, cache[instance_id]) if cache[instance_id] else None
    if definition is None:
        return task["title"]
    return book_for_definition(definition).task_title(task.get("form"), task["title"])


def role_label(role: str | None) -> str:
    if not role:
        return "—"
    if role in ROLES:
        return pick(*ROLES[role]) or role
    return humanize(role)
