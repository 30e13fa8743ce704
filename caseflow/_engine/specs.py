"""Parsed process versions: task metadata, forms and the spec cache.

Deployed versions are immutable, so a parsed version (:class:`LoadedSpec`) is cached for
good, keyed by its content hash.
"""
from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from sqlalchemy.orm import Session

from caseflow import bundles, limits, store
from caseflow import manifest as manifests
from caseflow._engine.adapters import CaseflowParser
from caseflow._engine.rows import DefinitionRef


def role_key(name: str | None) -> str | None:
    """Normalise a lane name or data value to a role key (``Customer service`` -> ``customer_service``)."""
    if name is None:
        return None
    key = re.sub(r"[^0-9a-zA-Z\u4e00-\u9fff]+", "_", str(name).strip()).strip("_").lower()
    return key or None


@dataclass(frozen=True)
class TaskMeta:
    """What the host needs to know about a human task spec."""

    name: str
    title: str
    lane: str | None
    role: str | None
    role_from_data: str | None
    form: str | None
    ui_form: str | None
    due_key: str | None
    documentation: str | None
    process: str = ""  # id of the process (bundle) that defines the task
    documentation_zh: str | None = None  # the documentationZh property

    @property
    def ref(self) -> str:
        """Unique within a loaded spec, also across called processes: ``process:bpmn_id``."""
        return f"{self.process}:{self.name}"


@dataclass
class LoadedSpec:
    """A parsed, immutable process version (with the processes it calls)."""

    key: str
    spec: Any
    subprocess_specs: dict
    files: dict[str, str]  # the version's own bundle
    process_files: dict[str, dict[str, str]] = field(default_factory=dict)  # process id -> its bundle
    task_meta: dict[str, TaskMeta] = field(default_factory=dict)  # TaskMeta.ref -> meta
    start_form: str | None = None
    business_key_field: str | None = None
    manifest: Any = None  # caseflow.manifest.Manifest of the version's own bundle
    _parsed: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)
    _validators: dict[tuple[str, str | None], Any] = field(default_factory=dict, repr=False)
    _names: dict[str, dict[str, str | None]] | None = field(default=None, repr=False)
    _owned: frozenset[str] | None = field(default=None, repr=False)

    def process_owned_keys(self) -> frozenset[str]:
        """Data keys the process itself sets: the ``businessKeyDataKey`` of every start event (called
        processes included) and the outputs the manifest labels (worked out once per version)."""
        if self._owned is None:
            owned = {str(key) for ts in _all_task_specs(self.spec, self.subprocess_specs)
                     if (key := properties(ts).get("businessKeyDataKey"))}
            if self.manifest is not None:
                owned.update(self.manifest.output_labels)
            self._owned = frozenset(owned)
        return self._owned

    def element_names(self) -> dict[str, dict[str, str | None]]:
        """BPMN id -> its ``name`` and ``name_zh`` (the nameZh property), for every named element."""
        if self._names is None:
            names: dict[str, dict[str, str | None]] = {}
            for ts in _all_task_specs(self.spec, self.subprocess_specs):
                if ts.bpmn_id and (ts.bpmn_name or properties(ts).get("nameZh")):
                    names.setdefault(ts.bpmn_id, {"name": ts.bpmn_name, "name_zh": properties(ts).get("nameZh")})
            self._names = names
        return self._names

    def meta(self, task_spec: Any) -> TaskMeta:
        """The metadata of a human task spec of this version."""
        found = self.task_meta.get(f"{spec_process(task_spec)}:{task_spec.bpmn_id or task_spec.name}")
        return found or task_meta(task_spec)

    def form_schema(self, filename: str | None, process: str | None = None) -> dict | None:
        """The parsed JSON file ``filename`` of ``process``'s bundle (default: this version's own), a copy
        the caller may change."""
        shared = self.shared_form_schema(filename, process)
        return None if shared is None else copy.deepcopy(shared)

    def shared_form_schema(self, filename: str | None, process: str | None = None) -> dict | None:
        """Like :meth:`form_schema`, but the cached object itself, for readers that never change it
        (the validation of every action: no copy per action)."""
        files = self.process_files.get(process or self.key, self.files)
        if not filename or filename not in files:
            return None
        cache_key = (process or self.key, filename)
        if cache_key not in self._parsed:
            self._parsed[cache_key] = json.loads(files[filename])
        parsed: dict = self._parsed[cache_key]
        return parsed

    def validator(self, filename: str | None, process: str | None = None) -> Any | None:
        """A JSON Schema validator for the form ``filename`` (built once; None without a form)."""
        cache_key = (process or self.key, filename)
        if cache_key not in self._validators:
            schema = self.form_schema(filename, process)
            if schema is None:
                self._validators[cache_key] = None
            else:
                self._validators[cache_key] = form_validator(schema)
        return self._validators[cache_key]


def _whole_number(checker: Any, value: Any) -> bool:
    """JSON Schema's ``integer``, within ±2**53: 1e300 has no fraction, but no reader holds it exactly."""
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return value.is_integer() and abs(value) <= limits.MAX_SAFE_INTEGER
    return isinstance(value, int)


def form_validator(schema: dict) -> Any:
    """The JSON Schema validator of a form (or a field of one): its draft, formats checked, and an
    ``integer`` that is a whole number within ±2**53."""
    base = jsonschema.validators.validator_for(schema)
    cls = jsonschema.validators.extend(base, type_checker=base.TYPE_CHECKER.redefine("integer", _whole_number))
    return cls(schema, format_checker=base.FORMAT_CHECKER)


def spec_process(task_spec: Any) -> str:
    wf_spec = getattr(task_spec, "_wf_spec", None)
    return getattr(wf_spec, "name", "") or ""


def properties(task_spec: Any) -> dict:
    return (getattr(task_spec, "extensions", None) or {}).get("properties", {}) or {}


def task_meta(task_spec: Any) -> TaskMeta:
    props = properties(task_spec)
    lane = getattr(task_spec, "lane", None)
    return TaskMeta(
        name=task_spec.bpmn_id or task_spec.name,
        title=task_spec.bpmn_name or task_spec.bpmn_id or task_spec.name,
        lane=lane,
        role=role_key(lane),
        role_from_data=props.get("roleFromData"),
        form=props.get("formJsonSchemaFilename"),
        ui_form=props.get("formUiSchemaFilename"),
        due_key=props.get("dueDataKey"),
        documentation=getattr(task_spec, "documentation", None),
        process=spec_process(task_spec),
        documentation_zh=props.get("documentationZh"),
    )


def _all_task_specs(spec: Any, subprocess_specs: dict) -> Iterable[Any]:
    for s in [spec, *subprocess_specs.values()]:
        yield from s.task_specs.values()


def _start_event(spec: Any) -> Any | None:
    for ts in spec.start.outputs:
        if isinstance(ts, StartEvent):
            return ts
    return None


class SpecCache:
    """Parsed specs per deployed version; versions never change, so entries never expire.

    Keyed by the version's content hash (which covers the processes it calls), so two
    databases served by one process can never see each other's specs.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._specs: dict[tuple[str, str], LoadedSpec] = {}

    def get(self, session: Session, definition: store.ProcessDefinition | DefinitionRef) -> LoadedSpec:
        cache_key = (definition.key, definition.content_hash)
        loaded = self._specs.get(cache_key)
        if loaded is None:
            row = definition if isinstance(definition, store.ProcessDefinition) else \
                session.get(store.ProcessDefinition, definition.id)  # the files are needed now
            if row is None:
                raise LookupError(f"process version {definition.id} is not in this database")
            loaded = self._load(session, row)
            with self._lock:
                self._specs[cache_key] = loaded
        return loaded

    def _load(self, session: Session, definition: store.ProcessDefinition) -> LoadedSpec:
        parser, process_files = definition_parser(session, definition)
        spec = parser.get_spec(definition.key)
        subs = parser.get_subprocess_specs(definition.key)
        loaded = LoadedSpec(definition.key, spec, subs, definition.files, process_files,
                            manifest=manifests.load(definition.files))
        for ts in _all_task_specs(spec, subs):
            if getattr(ts, "manual", False):
                meta = task_meta(ts)
                loaded.task_meta[meta.ref] = meta
        start = _start_event(spec)
        if start is not None:
            props = properties(start)
            loaded.start_form = props.get("formJsonSchemaFilename")
            loaded.business_key_field = props.get("businessKeyDataKey")
        return loaded

    def clear(self) -> None:
        with self._lock:
            self._specs.clear()


SPECS = SpecCache()


def add_bundle_files(parser: CaseflowParser, files: dict[str, str]) -> set[str]:
    """Add a bundle's BPMN and DMN files to ``parser``; returns the process ids it added."""
    added: set[str] = set()
    for name in sorted(files):
        if name.endswith(".bpmn"):
            tree = bundles.parse_xml(name, files[name])
            ids = {p.get("id") or "" for p in tree.getroot().iter(full_tag("process"))} - {""}
            if ids & set(parser.process_parsers):
                continue  # the same process came in through another dependency
            parser.add_bpmn_xml(tree, filename=name)
            added |= ids
        elif name.endswith(".dmn"):
            parser.add_dmn_xml(bundles.parse_xml(name, files[name]).getroot(), filename=name)
    return added



def definition_parser(session: Session, definition: store.ProcessDefinition
                       ) -> tuple[CaseflowParser, dict[str, dict[str, str]]]:
    """A parser holding a version's files and those of every version it calls.

    Also returns which bundle each process id came from, so forms resolve in their own bundle.
    """
    parser = CaseflowParser()
    process_files: dict[str, dict[str, str]] = {}
    seen: set[int] = set()

    def add(defn: store.ProcessDefinition) -> None:
        if defn.id in seen:
            return
        seen.add(defn.id)
        for pid in add_bundle_files(parser, defn.files):
            process_files[pid] = defn.files
        for dep_id in (defn.dependencies or {}).values():
            dep = session.get(store.ProcessDefinition, dep_id)
            if dep is not None:
                add(dep)

    add(definition)
    return parser, process_files
