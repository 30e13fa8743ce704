"""A process bundle's manifest (``manifest.json``): the process knowledge that pages need.

Diagrams and forms say how a case runs; the manifest says how people look at it: the key
fields of its case page, which data keys are deadlines and which tasks each one binds, the
labels of values that no form declares (service-task and script outputs), who may start the
process, and which data keys lists search and show. It is a file of the bundle, so it is
deployed and versioned with the diagram and never changes for a deployed version.

Every key is optional; an omitted key takes its default, so a bundle without a manifest
still gets a proper case page:

- ``key_fields`` — data keys shown first on case and task pages, in this order. Default: the
  start event's ``businessKeyDataKey``, then the fields of the start form (the
  ``formJsonSchemaFilename`` of every top-level start event in the bundle, in document
  order); a bundle without a start form shows every scalar value of the case data.
- ``deadlines`` — ``[{key, label, tasks}]``: the data keys that hold deadlines (ISO 8601), in
  the order a case meets them; ``tasks`` are the BPMN ids of the user or manual tasks that
  finish the deadline (``process:id`` for a task of a called process); without tasks the
  case's end finishes it. Default: one deadline per ``dueDataKey`` of a human task, binding
  the tasks that carry it.
- ``output_labels`` — ``{key: {en, zh}}``: labels of data keys that no form declares
  (service-task and script outputs). Default: none (the key's form title, else the key).
- ``start_roles`` — roles that may start the process (UI and API; the
  ``CASEFLOW_START_ROLES`` setting overrides it per process). Default: none, only admins.
- ``search_fields`` — data keys a case list's text search matches besides the business key.
  Default: none.
- ``summary_fields`` — data keys that name the case in lists (the "Customer" column): the
  first one with a value is shown. Default: none.
- ``task_fields`` — ``{task_id: [data keys]}``: what a person needs first to do that task
  (the repair number on the task that sends it, the fee on the fee answer), shown at the top
  of the task's side panel in this order; the other facts follow folded. ``task_id`` is the
  BPMN id of a user or manual task (``process:id`` for a task of a called process).
  Default: none, the side panel shows the key fields.
- ``facts`` — ``{fields, deadlines, follow_up_tasks, turnaround}``: which data keys feed the
  case-facts table of the KPI reports (:class:`Facts`). Default: none, the process keeps no facts.
- ``outcome`` — ``{key, values: {value: {en, zh}}}``: the data key a finished case's end state is
  in (``rejected``, ``abandoned`` …) and the words for each value. Default: none, the status alone.
- ``$comment`` — free text for the author, ignored.

A deadline's ``label`` and an ``output_labels`` entry are ``{"en": …, "zh": …}`` (at least one
of them); a form field's own title wins over both. The module reads only the bundle's files
(JSON, and BPMN through :func:`caseflow.bundles.parse_xml` for the defaults and the checks);
it knows nothing of the workflow library, the engine or the web.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import jsonschema

from caseflow import bundles

MANIFEST_FILE = "manifest.json"
MAX_MANIFEST_BYTES = 64 * 1024
MAX_PROBLEMS = 20

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
HUMAN_TASKS = ("userTask", "manualTask")  # the tasks Caseflow puts in inboxes

log = logging.getLogger(__name__)

# --- the format ---------------------------------------------------------------------------------

_NCNAME = r"[A-Za-z_][A-Za-z0-9_.\-]{0,199}"
#: The case-facts columns a manifest's ``facts.fields`` may feed from a data key (``store.CaseFacts``).
FACT_FIELDS = ("registered_at", "department", "customer_code", "customer_name", "product_model", "complaint_type",
               "kpi_class", "kpi_weight", "loss_amount", "delivery_amount", "satisfaction", "satisfied",
               "escalations", "in_warranty", "chargeable", "fee", "outcome")
#: The deadlines the facts track (``facts.deadlines``: name -> one of the manifest's deadline keys).
FACT_DEADLINES = ("reaction", "containment", "closure", "repair_reply", "repair_cycle")
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Caseflow process manifest",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "$comment": {"type": "string", "maxLength": 4000},
        "key_fields": {"$ref": "#/$defs/data_keys", "minItems": 1, "maxItems": 200},
        "deadlines": {
            "type": "array", "maxItems": 50,
            "items": {
                "type": "object", "additionalProperties": False, "required": ["key"],
                "properties": {
                    "key": {"$ref": "#/$defs/data_key"},
                    "label": {"$ref": "#/$defs/label"},
                    "tasks": {"type": "array", "uniqueItems": True, "maxItems": 50,
                              "items": {"type": "string", "pattern": f"^({_NCNAME}:)?{_NCNAME}$"}},
                },
            },
        },
        "output_labels": {
            "type": "object", "maxProperties": 500,
            "propertyNames": {"$ref": "#/$defs/data_key"},
            "additionalProperties": {"$ref": "#/$defs/label"},
        },
        "start_roles": {
            "type": "array", "uniqueItems": True, "maxItems": 50,
            # a role key as engine.role_key writes it: lower case, runs of other characters as "_"
            "items": {"type": "string", "maxLength": 100,
                      "pattern": "^[0-9a-z\u4e00-\u9fff]+(_[0-9a-z\u4e00-\u9fff]+)*$"},
        },
        "search_fields": {"$ref": "#/$defs/data_keys", "maxItems": 20},
        "summary_fields": {"$ref": "#/$defs/data_keys", "maxItems": 10},
        "task_fields": {
            "type": "object", "maxProperties": 500,
            "propertyNames": {"type": "string", "pattern": f"^({_NCNAME}:)?{_NCNAME}$"},
            "additionalProperties": {"$ref": "#/$defs/data_keys", "maxItems": 30},
        },
        "outcome": {"type": "object", "additionalProperties": False, "required": ["key", "values"],
                    "properties": {"key": {"$ref": "#/$defs/data_key"}, "values": {
                        "type": "object", "minProperties": 1, "maxProperties": 50, "propertyNames": {
                            "$ref": "#/$defs/data_key"}, "additionalProperties": {"$ref": "#/$defs/label"}}}},
        "facts": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "fields": {"type": "object", "additionalProperties": False,
                           "properties": {name: {"$ref": "#/$defs/data_key"} for name in FACT_FIELDS}},
                "deadlines": {"type": "object", "additionalProperties": False,
                              "properties": {name: {"$ref": "#/$defs/data_key"} for name in FACT_DEADLINES}},
                "follow_up_tasks": {"type": "array", "uniqueItems": True, "maxItems": 50,
                                    "items": {"type": "string", "pattern": f"^{_NCNAME}$"}},
                "turnaround": {"type": "object", "additionalProperties": False, "required": ["from", "to"],
                               "properties": {"from": {"$ref": "#/$defs/data_key"},
                                              "to": {"$ref": "#/$defs/data_key"}}},
            },
        },
    },
    "$defs": {
        "data_key": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,99}$"},
        "data_keys": {"type": "array", "uniqueItems": True, "items": {"$ref": "#/$defs/data_key"}},
        "text": {"type": "string", "minLength": 1, "maxLength": 200},
        "label": {
            "type": "object", "additionalProperties": False, "minProperties": 1,
            "properties": {"en": {"$ref": "#/$defs/text"}, "zh": {"$ref": "#/$defs/text"}},
        },
    },
}
_VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


# --- the parsed form ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Label:
    """A bilingual label; at least one language is given."""

    en: str | None = None
    zh: str | None = None


@dataclass(frozen=True)
class Deadline:
    """A data key holding a deadline (ISO 8601), and the human tasks that finish it.

    ``tasks`` are BPMN element ids, or ``process:id`` for a task of a called process. A
    deadline with no tasks is finished when the case ends (a closure deadline).
    """

    key: str
    label: Label | None = None
    tasks: tuple[str, ...] = ()

    def binds(self, task_name: str) -> bool:
        """Whether the human task with BPMN id ``task_name`` finishes this deadline."""
        return any(ref.rsplit(":", 1)[-1] == task_name for ref in self.tasks)


@dataclass(frozen=True)
class Facts:
    """The manifest's ``facts``: which data keys feed the case-facts columns of the KPI reports.

    ``fields`` maps a column of :data:`FACT_FIELDS` to a data key; ``deadlines`` a name of
    :data:`FACT_DEADLINES` to a deadline key of the manifest (its bound tasks say when it is
    done); ``follow_up_tasks`` are the tasks during which an open case is pending follow-up
    (待跟进); ``turnaround`` the data keys of the dates between which a repair's working days
    are counted.
    """

    fields: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    deadlines: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    follow_up_tasks: tuple[str, ...] = ()
    turnaround: tuple[str, str] | None = None


def _frozen_labels(labels: Mapping[str, Label] | None = None) -> Mapping[str, Label]:
    return MappingProxyType(dict(labels or {}))


@dataclass(frozen=True)
class Manifest:
    """The manifest of one process version, with the defaults filled in (read-only).

    ``key_fields`` is None when the bundle names none and has no start form: pages then show
    every scalar value of the case data. ``present`` tells whether the bundle has a
    ``manifest.json`` at all.
    """

    key_fields: tuple[str, ...] | None = None
    deadlines: tuple[Deadline, ...] = ()
    output_labels: Mapping[str, Label] = field(default_factory=_frozen_labels)
    start_roles: frozenset[str] = frozenset()
    search_fields: tuple[str, ...] = ()
    summary_fields: tuple[str, ...] = ()
    task_fields: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    present: bool = False
    facts: Facts | None = None  # None: the process keeps no case facts
    outcome: tuple[str, Mapping[str, Label]] | None = None  # (data key, value -> its words); None: none

    def label(self, key: str) -> Label | None:
        """The manifest's label of a data key: its output label, else its deadline's label."""
        if key in self.output_labels:
            return self.output_labels[key]
        for deadline in self.deadlines:
            if deadline.key == key:
                return deadline.label
        return None

    def deadline(self, key: str) -> Deadline | None:
        return next((d for d in self.deadlines if d.key == key), None)

    def fields_of_task(self, task_name: str, process: str | None = None) -> tuple[str, ...]:
        """The data keys task ``task_name`` (a BPMN id, of ``process`` when called) shows first."""
        if process and f"{process}:{task_name}" in self.task_fields:
            return self.task_fields[f"{process}:{task_name}"]
        return self.task_fields.get(task_name, ())

    def summary_key(self, data: Mapping[str, Any] | None) -> str | None:
        """The first of ``summary_fields`` with a value in ``data`` (None when none has one)."""
        data = data or {}
        return next((k for k in self.summary_fields if data.get(k) not in (None, "", [])), None)


# --- reading ------------------------------------------------------------------------------------


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _pointer(path: Iterable[Any]) -> str:
    """A JSON Pointer (RFC 6901) to a place in the manifest; ``/`` is the whole document."""
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts) if parts else "/"


def _problem(message: str, path: Iterable[Any] = (), line: int | None = None) -> bundles.Problem:
    where = _pointer(path)
    return bundles.Problem(f"{where}: {message}", file=MANIFEST_FILE, element=where, line=line)


def _parse(text: str) -> tuple[Any, list[bundles.Problem]]:
    """The manifest's JSON, or the problems of its bytes and syntax."""
    if len(text.encode("utf-8")) > MAX_MANIFEST_BYTES:
        return None, [_problem(f"the manifest is larger than {MAX_MANIFEST_BYTES // 1024} KiB")]
    try:
        return json.loads(text.removeprefix("\ufeff"), object_pairs_hook=_no_duplicates), []
    except _DuplicateKey as err:
        return None, [_problem(f"the key {err.args[0]!r} is given twice in one object")]
    except json.JSONDecodeError as err:
        return None, [_problem(f"not valid JSON: {err.msg}", line=err.lineno)]
    except RecursionError:
        return None, [_problem("the manifest is nested too deeply")]


@dataclass
class _Bpmn:
    """What the checks and defaults need from a bundle's diagrams."""

    human_tasks: dict[str, dict[str, str]] = field(default_factory=dict)  # process -> task id -> dueDataKey|""
    other_elements: dict[str, str] = field(default_factory=dict)  # element id -> its BPMN type
    called: set[str] = field(default_factory=set)  # calledElement of every call activity
    start_forms: list[str] = field(default_factory=list)
    business_keys: list[str] = field(default_factory=list)
    parsed: bool = True

    def task_ids(self) -> set[str]:
        return {t for tasks in self.human_tasks.values() for t in tasks}


def _properties(element: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for ext in element.findall(f"{{{BPMN_NS}}}extensionElements"):
        for props in ext.findall(f"{{{SPIFF_NS}}}properties"):
            for prop in props.findall(f"{{{SPIFF_NS}}}property"):
                if prop.get("name") and prop.get("value") is not None:
                    out.setdefault(prop.get("name"), prop.get("value"))
    return out


def _read_bpmn(files: Mapping[str, str]) -> _Bpmn:
    found = _Bpmn()
    for name in sorted(n for n in files if n.endswith(".bpmn")):
        try:
            root = bundles.parse_xml(name, files[name]).getroot()
        except bundles.BundleError:
            found.parsed = False  # the deployment reports the file itself
            continue
        for process in root.iter(f"{{{BPMN_NS}}}process"):
            pid = process.get("id") or ""
            tasks = found.human_tasks.setdefault(pid, {})
            for el in process.iter():
                if not isinstance(el.tag, str) or not el.tag.startswith(f"{{{BPMN_NS}}}"):
                    continue
                kind = el.tag.rsplit("}", 1)[1]
                element_id, called = el.get("id"), el.get("calledElement")
                if kind in HUMAN_TASKS and element_id:
                    tasks[element_id] = _properties(el).get("dueDataKey", "")
                elif element_id:
                    found.other_elements.setdefault(element_id, kind)
                if kind == "callActivity" and called:
                    found.called.add(called)
            for start in process.findall(f"{{{BPMN_NS}}}startEvent"):  # top-level start events only
                props = _properties(start)
                if props.get("formJsonSchemaFilename"):
                    found.start_forms.append(props["formJsonSchemaFilename"])
                if props.get("businessKeyDataKey"):
                    found.business_keys.append(props["businessKeyDataKey"])
    return found


def _semantic_problems(doc: dict, bpmn: _Bpmn) -> list[bundles.Problem]:
    """What the schema cannot say: unique deadlines, labels given once, tasks that exist."""
    problems: list[bundles.Problem] = []
    seen: dict[str, int] = {}
    labels = doc.get("output_labels") or {}
    for i, deadline in enumerate(doc.get("deadlines") or []):
        key = deadline["key"]
        if key in seen:
            problems.append(_problem(f"deadline {key!r} is listed twice (first at /deadlines/{seen[key]})",
                                     ("deadlines", i, "key")))
        seen.setdefault(key, i)
        if "label" in deadline and key in labels:
            problems.append(_problem(f"deadline {key!r} has a label here and in /output_labels; give it once",
                                     ("deadlines", i, "label")))
        if not bpmn.parsed:
            continue
        for j, ref in enumerate(deadline.get("tasks") or []):
            message = _task_ref_problem(ref, bpmn)
            if message:
                problems.append(_problem(message, ("deadlines", i, "tasks", j)))
    facts = doc.get("facts") or {}
    if facts.get("deadlines") and ("deadlines" in doc or bpmn.parsed):
        known = set(seen) if "deadlines" in doc else {d.key for d in _default_deadlines(bpmn)}
        for name, key in facts["deadlines"].items():
            if key not in known:
                problems.append(_problem(f"{key!r} is not a deadline of this manifest", ("facts", "deadlines", name)))
    if bpmn.parsed:
        for j, task in enumerate(facts.get("follow_up_tasks") or []):
            if task not in bpmn.task_ids():
                problems.append(_problem(f"{task!r} is not a user or manual task of the bundle's diagrams",
                                         ("facts", "follow_up_tasks", j)))
    return problems


def _task_ref_problem(ref: str, bpmn: _Bpmn) -> str | None:
    process, _, task = ref.rpartition(":")
    if process:
        if process in bpmn.human_tasks:
            if task in bpmn.human_tasks[process]:
                return None
            return f"{task!r} is not a user or manual task of process {process!r}"
        if process in bpmn.called:
            return None  # a called process deployed on its own: its ids are checked with it
        return f"process {process!r} is neither in the bundle nor called by a call activity of it"
    if task in bpmn.task_ids():
        return None
    if task in bpmn.other_elements:
        return f"{task!r} is a {bpmn.other_elements[task]}, not a user or manual task"
    return f"{task!r} is not a user or manual task of the bundle's diagrams"


def problems(files: dict[str, str]) -> list[bundles.Problem]:
    """What is wrong with the bundle's manifest (empty when it is fine or absent).

    Each problem names ``manifest.json`` as its file and a JSON Pointer to the offending
    place as its element (``/deadlines/0/tasks/1``); the message starts with that pointer.
    """
    if MANIFEST_FILE not in files:
        return []
    doc, found = _parse(files[MANIFEST_FILE])
    if found:
        return found
    errors = sorted(_VALIDATOR.iter_errors(doc), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    found = [_problem(_schema_message(err), err.absolute_path) for err in errors[:MAX_PROBLEMS]]
    if found:
        return found
    return _semantic_problems(doc, _read_bpmn(files))[:MAX_PROBLEMS]


def _schema_message(err: jsonschema.ValidationError) -> str:
    if err.validator == "additionalProperties":
        schema = err.schema if isinstance(err.schema, Mapping) else {}
        allowed = sorted((schema.get("properties") or {}).keys())
        return f"{err.message}; allowed: {', '.join(allowed)}"
    if err.validator == "pattern":
        return f"{err.instance!r} is not a valid name here (pattern {err.validator_value})"
    return err.message


def _label(node: Mapping[str, str] | None) -> Label | None:
    return Label(en=node.get("en"), zh=node.get("zh")) if node else None


def _start_form_fields(files: Mapping[str, str], bpmn: _Bpmn) -> list[str] | None:
    """The business key field, then every start form's top-level fields; None without a start form."""
    fields: list[str] = []
    schemas = 0
    for form in bpmn.start_forms:
        try:
            schema = json.loads(files.get(form) or "")
        except ValueError:
            continue
        if isinstance(schema, dict) and isinstance(schema.get("properties"), dict):
            schemas += 1
            fields.extend(k for k in schema["properties"] if isinstance(k, str))
    if not schemas:
        return None
    out: list[str] = []
    for key in [*bpmn.business_keys[:1], *fields]:
        if key not in out:
            out.append(key)
    return out


def _default_deadlines(bpmn: _Bpmn) -> tuple[Deadline, ...]:
    """One deadline per ``dueDataKey`` of a human task, binding the tasks that carry it."""
    bound: dict[str, list[str]] = {}
    for tasks in bpmn.human_tasks.values():
        for task, due_key in tasks.items():
            if due_key:
                bound.setdefault(due_key, [])
                if task not in bound[due_key]:
                    bound[due_key].append(task)
    return tuple(Deadline(key, None, tuple(tasks)) for key, tasks in bound.items())


def load(files: dict[str, str]) -> Manifest:
    """The manifest of a bundle's files, omitted keys (or a missing file) filled with defaults.

    A deployed bundle's manifest passed :func:`problems`; should one no longer pass (a stricter
    check in a later release), it is logged and the defaults are used, so its pages still work.
    """
    doc: dict[str, Any] = {}
    present = MANIFEST_FILE in files
    if present:
        found = problems(files)
        if found:
            log.warning("ignoring the invalid %s of a deployed bundle: %s", MANIFEST_FILE,
                        "; ".join(str(p) for p in found))
        else:
            doc = json.loads(files[MANIFEST_FILE].removeprefix("\ufeff"))
    bpmn = _read_bpmn(files) if "key_fields" not in doc or "deadlines" not in doc else _Bpmn()
    key_fields = doc.get("key_fields")
    if key_fields is None:
        key_fields = _start_form_fields(files, bpmn)
    if "deadlines" in doc:
        deadlines = tuple(Deadline(d["key"], _label(d.get("label")), tuple(d.get("tasks") or ()))
                          for d in doc["deadlines"])
    else:
        deadlines = _default_deadlines(bpmn)
    return Manifest(
        key_fields=tuple(key_fields) if key_fields is not None else None,
        deadlines=deadlines,
        output_labels=_frozen_labels({k: label for k, v in (doc.get("output_labels") or {}).items()
                                      if (label := _label(v)) is not None}),
        start_roles=frozenset(doc.get("start_roles") or ()),
        search_fields=tuple(doc.get("search_fields") or ()),
        summary_fields=tuple(doc.get("summary_fields") or ()),
        task_fields=MappingProxyType({str(k): tuple(v) for k, v in (doc.get("task_fields") or {}).items()}),
        present=present,
        facts=_facts(doc["facts"]) if "facts" in doc else None,
        outcome=(doc["outcome"]["key"], _frozen_labels({v: Label(en=w.get("en"), zh=w.get("zh"))
                                                        for v, w in doc["outcome"]["values"].items()}))
        if "outcome" in doc else None,
    )


def _facts(node: Mapping[str, Any]) -> Facts:
    turnaround = node.get("turnaround")
    return Facts(fields=MappingProxyType(dict(node.get("fields") or {})),
                 deadlines=MappingProxyType(dict(node.get("deadlines") or {})),
                 follow_up_tasks=tuple(node.get("follow_up_tasks") or ()),
                 turnaround=(turnaround["from"], turnaround["to"]) if turnaround else None)
