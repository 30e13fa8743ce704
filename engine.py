"""The engine: the one door to the workflow runtime (SpiffWorkflow 3.2).

Web, API and CLI call these functions; nothing else imports SpiffWorkflow. Every function
takes the caller's SQLAlchemy ``Session`` and never commits: one caller action is one
transaction. Deployed versions are immutable, so parsed specs are cached per version.
"""
from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import re
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Iterable
from uuid import UUID

import jsonschema
from sqlalchemy import or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.specs.event_definitions import timer as timer_events
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser, SpiffTaskParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter
from SpiffWorkflow.spiff.specs.defaults import NoneTask, ServiceTask
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.task import TaskState

from caseflow._engine import diff as bpmn_diff
from caseflow import bundles
from caseflow import manifest as manifests
from caseflow._engine import rows as case_rows
from caseflow import clock
from caseflow import store
from caseflow._engine import sandbox
from caseflow._engine.rows import Case, DefinitionRef
from caseflow._engine.sandbox import ScriptRejected
from service_tasks import registry as operators
from service_tasks.registry import OperatorError

# SpiffWorkflow's timer events read datetime.now(); make them read Caseflow's clock.
timer_events.datetime = clock.ClockDatetime

# --- errors ------------------------------------------------------------------------------


class EngineError(Exception):
    """Base of the engine's typed errors (mapped to HTTP codes, flashes and exit codes)."""

    code = "error"
    http_status = 400


class NotFound(EngineError):
    code, http_status = "not_found", 404


class Forbidden(EngineError):
    code, http_status = "forbidden", 403


class Conflict(EngineError):
    code, http_status = "conflict", 409


class InvalidData(EngineError):
    """Submitted data does not satisfy the form: ``fields`` maps field -> message."""

    code, http_status = "invalid_data", 422

    def __init__(self, fields: dict[str, str], message: str = "the submitted data is not valid"):
        super().__init__(message + ": " + "; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.message = message
        self.fields = fields


class DeployRejected(EngineError):
    """A bundle failed validation; nothing was stored."""

    code, http_status = "deploy_rejected", 422

    def __init__(self, problems: list[bundles.Problem]):
        super().__init__("deployment refused:\n" + "\n".join(f"  {p}" for p in problems))
        self.problems = problems


class InstanceError(EngineError):
    """The instance cannot do what was asked in its current state."""

    code, http_status = "instance_error", 409


# --- SpiffWorkflow wiring -------------------------------------------------------------------


class CaseflowServiceTask(ServiceTask):
    """Service task whose result dict is merged into the data when no resultVariable is set."""

    def __init__(self, *args: Any, **kwargs: Any):
        self.merge_result = not kwargs.get("result_variable")
        super().__init__(*args, **kwargs)

    def _execute(self, task: Any) -> bool:
        result = task.workflow.script_engine.call_service(
            task, operation_name=self.operation_name, operation_params=self.evaluate_params(task)
        )
        value = json.loads(result)
        if self.merge_result and isinstance(value, dict):
            task.data.update(value)
        else:
            task.data[self.result_variable] = value
        return True


class PassThroughTask(NoneTask):
    """A plain ``bpmn:task`` (no type): BPMN gives it no behaviour, so it completes at once.

    SpiffWorkflow treats it as a human task; Caseflow's humans work on user and manual tasks.
    """

    def __init__(self, wf_spec: Any, bpmn_id: str, **kwargs: Any):
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.manual = False


class CaseflowParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("task"): (SpiffTaskParser, PassThroughTask),
        full_tag("serviceTask"): (ServiceTaskParser, CaseflowServiceTask),
    }

    def _add_diagram_indexes(self, bpmn: Any) -> None:
        """Also accept lane references written without their process prefix.

        Some modelers (BonitaSoft among them) give elements ids like ``Proc.Task`` but list
        them in ``flowNodeRef`` as ``Task``; map those to the lane of their own process.
        """
        super()._add_diagram_indexes(bpmn)
        lanes = self.document_lanes.get(self._document_key(bpmn))
        if not lanes:
            return
        ids = {el.get("id") for el in bpmn.iter() if isinstance(el.tag, str) and el.get("id")}
        for process in bpmn.iter(full_tag("process")):
            prefix = f"{process.get('id')}."
            for ref in process.iter(full_tag("flowNodeRef")):
                text = (ref.text or "").strip()
                if text and text not in ids and prefix + text in ids:
                    lanes.setdefault(prefix + text, ref.getparent().get("name"))


class _SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Serializes instance state only; the spec lives once per deployed version."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict:
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict) -> BpmnWorkflow:
        spec, subprocess_specs = dct.pop("spec"), dct.pop("subprocess_specs")
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[CaseflowServiceTask] = ServiceTaskConverter
    config[PassThroughTask] = config[NoneTask]
    config[BpmnWorkflow] = _SpeclessWorkflowConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


SERIALIZER = _make_serializer()
SERIALIZER_VERSION = SERIALIZER.VERSION

_call_context = threading.local()


class RestrictedEnvironment(TaskDataEnvironment):
    """TaskDataEnvironment that checks code first and runs it with safe builtins only."""

    def __init__(self) -> None:
        super().__init__({"__builtins__": sandbox.SAFE_BUILTINS, **sandbox.HELPERS})

    def evaluate(self, expression: str, context: dict, external_context: dict | None = None) -> Any:
        code = sandbox.compile_checked(expression.strip(), "eval")
        scope = dict(self.globals)
        scope.update(external_context or {})
        scope.update(context)
        scope["__builtins__"] = sandbox.SAFE_BUILTINS
        return eval(code, scope)  # noqa: S307 - checked and restricted above

    def execute(self, script: str, context: dict, external_context: dict | None = None) -> bool:
        code = sandbox.compile_checked(script, "exec")
        self.check_for_overwrite(context, external_context or {})
        context.update(external_context or {})
        context.update(self.globals)
        try:
            exec(code, context)  # noqa: S102 - checked and restricted above
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
        return True


class CaseflowScriptEngine(PythonScriptEngine):
    """Restricted scripts, and service tasks routed to the operator registry."""

    def __init__(self) -> None:
        super().__init__(environment=RestrictedEnvironment())

    def call_service(self, task: Any, operation_name: str = "", operation_params: dict | None = None,
                     **_kwargs: Any) -> str:
        # SpiffWorkflow 3.2's own call_service hides every failure behind a NameError.
        try:
            op = operators.get(operation_name)
        except KeyError:
            raise WorkflowTaskException(f"service operator {operation_name!r} is not registered", task=task)
        params = {name: p.get("value") for name, p in (operation_params or {}).items()}
        session: Session | None = getattr(_call_context, "session", None)
        context = {
            "now": clock.now(),
            "next_number": (lambda name, year: store.next_number(session, name, year)) if session else None,
        }
        try:
            result = op.run(_plain(task.data), params, context)
            if op.audit:
                events = getattr(_call_context, "events", None)
                if events is not None:
                    payload = result.get("last_escalation", result) if op.audit == "escalation" else result
                    events.append((op.audit, task.task_spec.bpmn_id, payload))
        except OperatorError as err:
            raise WorkflowTaskException(f"{operation_name}: {err}", task=task, exception=err)
        except Exception as err:  # a rule bug: keep the real message for the instance error
            raise WorkflowTaskException(f"{operation_name} failed: {type(err).__name__}: {err}",
                                        task=task, exception=err)
        return json.dumps(_plain(result))


SCRIPT_ENGINE = CaseflowScriptEngine()

# --- spec cache -------------------------------------------------------------------------------


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

    def meta(self, task_spec: Any) -> TaskMeta:
        """The metadata of a human task spec of this version."""
        found = self.task_meta.get(f"{_spec_process(task_spec)}:{task_spec.bpmn_id or task_spec.name}")
        return found or _task_meta(task_spec)

    def form_schema(self, filename: str | None, process: str | None = None) -> dict | None:
        """The parsed JSON file ``filename`` of ``process``'s bundle (default: this version's own)."""
        files = self.process_files.get(process or self.key, self.files)
        if not filename or filename not in files:
            return None
        cache_key = (process or self.key, filename)
        if cache_key not in self._parsed:
            self._parsed[cache_key] = json.loads(files[filename])
        return copy.deepcopy(self._parsed[cache_key])

    def validator(self, filename: str | None, process: str | None = None) -> Any | None:
        """A JSON Schema validator for the form ``filename`` (built once; None without a form)."""
        cache_key = (process or self.key, filename)
        if cache_key not in self._validators:
            schema = self.form_schema(filename, process)
            if schema is None:
                self._validators[cache_key] = None
            else:
                validator_cls = jsonschema.validators.validator_for(schema)
                self._validators[cache_key] = validator_cls(schema, format_checker=validator_cls.FORMAT_CHECKER)
        return self._validators[cache_key]


def _spec_process(task_spec: Any) -> str:
    wf_spec = getattr(task_spec, "_wf_spec", None)
    return getattr(wf_spec, "name", "") or ""


def _properties(task_spec: Any) -> dict:
    return (getattr(task_spec, "extensions", None) or {}).get("properties", {}) or {}


def _task_meta(task_spec: Any) -> TaskMeta:
    props = _properties(task_spec)
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
        process=_spec_process(task_spec),
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
            if not isinstance(definition, store.ProcessDefinition):  # the files are needed now
                definition = session.get(store.ProcessDefinition, definition.id)
            loaded = self._load(session, definition)
            with self._lock:
                self._specs[cache_key] = loaded
        return loaded

    def _load(self, session: Session, definition: store.ProcessDefinition) -> LoadedSpec:
        parser, process_files = _definition_parser(session, definition)
        spec = parser.get_spec(definition.key)
        subs = parser.get_subprocess_specs(definition.key)
        loaded = LoadedSpec(definition.key, spec, subs, definition.files, process_files,
                            manifest=manifests.load(definition.files))
        for ts in _all_task_specs(spec, subs):
            if getattr(ts, "manual", False):
                meta = _task_meta(ts)
                loaded.task_meta[meta.ref] = meta
        start = _start_event(spec)
        if start is not None:
            props = _properties(start)
            loaded.start_form = props.get("formJsonSchemaFilename")
            loaded.business_key_field = props.get("businessKeyDataKey")
        return loaded

    def clear(self) -> None:
        with self._lock:
            self._specs.clear()


SPECS = SpecCache()


def _add_bundle_files(parser: CaseflowParser, files: dict[str, str]) -> set[str]:
    """Add a bundle's BPMN and DMN files to ``parser``; returns the process ids it added."""
    added: set[str] = set()
    for name in sorted(files):
        if name.endswith(".bpmn"):
            tree = bundles.parse_xml(name, files[name])
            ids = {p.get("id") for p in tree.getroot().iter(full_tag("process"))}
            if ids & set(parser.process_parsers):
                continue  # the same process came in through another dependency
            parser.add_bpmn_xml(tree, filename=name)
            added |= ids
        elif name.endswith(".dmn"):
            parser.add_dmn_xml(bundles.parse_xml(name, files[name]).getroot(), filename=name)
    return added


# --- deploy -------------------------------------------------------------------------------------


@dataclass
class DeployResult:
    """One process of a deployment: its key, version and whether a new version was stored."""

    key: str
    version: int
    status: str  # deployed | unchanged
    definition_id: int
    name: str | None = None
    bundle: str | None = None

    def as_dict(self) -> dict:
        return {"key": self.key, "version": self.version, "status": self.status,
                "definition_id": self.definition_id, "name": self.name, "bundle": self.bundle}


@dataclass
class _ParsedBundle:
    bundle: bundles.Bundle
    parser: CaseflowParser
    lines: dict[str, tuple[str, int]]
    processes: dict[str, str | None]  # executable process id -> name
    external_calls: dict[str, str] = field(default_factory=dict)  # called id -> source


def _problem_from_validation(err: ValidationException, lines: dict[str, tuple[str, int]]) -> bundles.Problem:
    element = getattr(err, "id", None) or None
    file = getattr(err, "file_name", None) or None
    line = getattr(err, "line_number", None) or None
    if element and element in lines and not line:
        file, line = lines[element]
    return bundles.Problem(str(err).split("\n")[0], file=file, element=element, line=int(line) if line else None)


def _latest_definition(session: Session, key: str) -> store.ProcessDefinition | None:
    return session.scalars(
        select(store.ProcessDefinition).where(store.ProcessDefinition.key == key)
        .order_by(store.ProcessDefinition.version.desc()).limit(1)
    ).first()


def _parse_bundle(bundle: bundles.Bundle, problems: list[bundles.Problem]) -> _ParsedBundle | None:
    parser = CaseflowParser(validator=VALIDATOR)
    lines: dict[str, tuple[str, int]] = {}
    processes: dict[str, str | None] = {}
    ok = True
    for name in bundle.bpmn_names + bundle.dmn_names:
        try:
            tree = bundles.parse_xml(name, bundle.files[name])
        except bundles.BundleError as err:
            problems.extend(err.problems)
            ok = False
            continue
        lines.update({k: (name, v) for k, v in bundles.element_lines(tree).items()})
        clashes = _operator_id_clashes(tree)
        if clashes:
            problems.extend(bundles.Problem(
                f"element id {op!r} is also the name of the service operator it calls; SpiffWorkflow "
                f"indexes both by id, so give the task another id", file=name, element=op, line=line)
                for op, line in clashes)
            ok = False
            continue
        try:
            if name.endswith(".bpmn"):
                parser.add_bpmn_xml(tree, filename=name)
                for proc in tree.getroot().iter(full_tag("process")):
                    if proc.get("isExecutable", "true").lower() != "false":
                        processes[proc.get("id")] = proc.get("name")
            else:
                parser.add_dmn_xml(tree.getroot(), filename=name)
        except ValidationException as err:
            problems.append(_problem_from_validation(err, lines))
            ok = False
        except Exception as err:  # SpiffWorkflow raises plain exceptions for some structural errors
            problems.append(bundles.Problem(f"{type(err).__name__}: {err}", file=name))
            ok = False
    if not bundle.bpmn_names:
        problems.append(bundles.Problem("bundle has no .bpmn file", file=bundle.source))
        ok = False
    elif ok and not processes:
        problems.append(bundles.Problem("no executable process (every process has isExecutable=\"false\")", file=bundle.bpmn_names[0]))
        ok = False
    return _ParsedBundle(bundle, parser, lines, processes) if ok else None


def _operator_id_clashes(tree: Any) -> list[tuple[str, int]]:
    """(operator name, line) of flow elements whose id equals a serviceTaskOperator id."""
    operators_used = {el.get("id") for el in tree.iter("{http://spiffworkflow.org/bpmn/schema/1.0/core}serviceTaskOperator")}
    return [(el.get("id"), el.sourceline) for el in tree.iter()
            if isinstance(el.tag, str) and el.tag.startswith("{http://www.omg.org/spec/BPMN/20100524/MODEL}")
            and el.get("id") in operators_used]


def _check_specs(pb: _ParsedBundle, problems: list[bundles.Problem]) -> None:
    """Build every executable process, then check operators, form files and the manifest."""
    registered = set(operators.names())
    files = pb.bundle.files
    problems.extend(manifests.problems(files))
    checked_forms: set[str] = set()
    for pid in pb.processes:
        try:
            spec = pb.parser.get_spec(pid)
            subs = pb.parser.get_subprocess_specs(pid)
        except ValidationException as err:
            problems.append(_problem_from_validation(err, pb.lines))
            continue
        except Exception as err:
            problems.append(bundles.Problem(f"process {pid}: {type(err).__name__}: {err}",
                                            file=pb.lines.get(pid, (None, None))[0], element=pid))
            continue
        specs = [spec] + [s for k, s in subs.items() if k in pb.processes or k not in pb.external_calls]
        for ts in (t for s in specs for t in s.task_specs.values()):
            where = pb.lines.get(ts.bpmn_id or "", (None, None))
            if isinstance(ts, ServiceTask) and ts.operation_name not in registered:
                problems.append(bundles.Problem(
                    f"service operator {ts.operation_name!r} is not registered "
                    f"(see `caseflow operators`)", file=where[0], element=ts.bpmn_id, line=where[1]))
            props = _properties(ts)
            for prop in ("formJsonSchemaFilename", "formUiSchemaFilename"):
                form = props.get(prop)
                if not form or (form, ts.bpmn_id) in checked_forms:
                    continue
                checked_forms.add((form, ts.bpmn_id))
                label = ts.bpmn_name or ts.bpmn_id
                if form not in files:
                    problems.append(bundles.Problem(
                        f"task {label!r} references form file {form!r}, which is not in the bundle",
                        file=where[0], element=ts.bpmn_id, line=where[1]))
                    continue
                try:
                    schema = json.loads(files[form])
                except json.JSONDecodeError as err:
                    problems.append(bundles.Problem(f"not valid JSON: {err.msg}", file=form, line=err.lineno))
                    continue
                if prop == "formJsonSchemaFilename":
                    try:
                        jsonschema.validators.validator_for(schema).check_schema(schema)
                    except jsonschema.SchemaError as err:
                        problems.append(bundles.Problem(f"not a valid JSON Schema: {err.message}", file=form))


def deploy(session: Session, paths: list[Any], actor: str = "system") -> list[DeployResult]:
    """Validate the bundles at ``paths`` and store a new version of each changed process.

    Raises :class:`DeployRejected` with every problem found; nothing is stored then.
    """
    try:
        found = bundles.collect(paths)
    except bundles.BundleError as err:
        raise DeployRejected(err.problems) from err
    return deploy_bundles(session, found, actor)


def deploy_bundles(session: Session, found: list[bundles.Bundle], actor: str = "system") -> list[DeployResult]:
    """Validate and store already-collected bundles (uploads use this)."""
    problems: list[bundles.Problem] = []
    parsed = [pb for pb in (_parse_bundle(b, problems) for b in found) if pb is not None]
    if problems:
        raise DeployRejected(problems)

    owner: dict[str, _ParsedBundle] = {}
    for pb in parsed:
        for pid in pb.parser.process_parsers:
            if pid in owner and owner[pid] is not pb:
                problems.append(bundles.Problem(f"process id {pid!r} is defined in two bundles",
                                                file=pb.bundle.source, element=pid))
            owner[pid] = pb
    # Call activities: resolve inside the bundle, then in this deployment, then deployed versions.
    for pb in parsed:
        for called in sorted(set(pb.parser.get_process_dependencies()) - set(pb.parser.process_parsers)):
            if called in owner:
                _add_bundle_files(pb.parser, owner[called].bundle.files)
                pb.external_calls[called] = "bundle"
            else:
                latest = _latest_definition(session, called)
                if latest is None:
                    where = pb.lines.get(called, (pb.bundle.bpmn_names[0], None))
                    problems.append(bundles.Problem(
                        f"call activity target {called!r} is neither in the bundle nor deployed",
                        file=where[0]))
                    continue
                pb.parser.process_parsers.update(_parsers_of(session, latest))
                pb.external_calls[called] = f"definition:{latest.id}"
    if problems:
        raise DeployRejected(problems)
    for pb in parsed:
        _check_specs(pb, problems)
    if problems:
        raise DeployRejected(problems)

    # Store callees first so callers can record the definition they call.
    results: dict[str, DeployResult] = {}
    order = _deploy_order(parsed)
    hashes: dict[str, str] = {}
    for pb, pid in order:
        deps: dict[str, int] = {}
        dep_hash_parts = []
        for called in sorted(pb.external_calls):
            if called in results:
                deps[called] = results[called].definition_id
                dep_hash_parts.append(hashes[called])
            else:
                latest = _latest_definition(session, called)
                if latest is not None and pb.external_calls[called] != "bundle":
                    deps[called] = latest.id
                    dep_hash_parts.append(latest.content_hash)
        content_hash = hashlib.sha256(
            (pid + "\0" + pb.bundle.content_hash() + "\0" + "\0".join(dep_hash_parts)).encode()
        ).hexdigest()
        hashes[pid] = content_hash
        latest = _latest_definition(session, pid)
        if latest is not None and latest.content_hash == content_hash:
            results[pid] = DeployResult(pid, latest.version, "unchanged", latest.id, latest.name, pb.bundle.source)
            continue
        definition = store.ProcessDefinition(
            key=pid, version=(latest.version + 1) if latest else 1, name=pb.processes.get(pid),
            content_hash=content_hash, files=dict(pb.bundle.files), dependencies=deps,
            deployed_by=actor, deployed_at=clock.now(),
        )
        session.add(definition)
        session.flush()
        _audit(session, None, actor, "deployed", None, {"key": pid, "version": definition.version,
                                                        "hash": content_hash, "bundle": pb.bundle.source})
        results[pid] = DeployResult(pid, definition.version, "deployed", definition.id, definition.name,
                                    pb.bundle.source)
    return [results[pid] for _pb, pid in order]


def _definition_parser(session: Session, definition: store.ProcessDefinition
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
        for pid in _add_bundle_files(parser, defn.files):
            process_files[pid] = defn.files
        for dep_id in (defn.dependencies or {}).values():
            dep = session.get(store.ProcessDefinition, dep_id)
            if dep is not None:
                add(dep)

    add(definition)
    return parser, process_files


def _parsers_of(session: Session, definition: store.ProcessDefinition) -> dict:
    SPECS.get(session, definition)  # validates that it loads
    return _definition_parser(session, definition)[0].process_parsers


def _deploy_order(parsed: list[_ParsedBundle]) -> list[tuple[_ParsedBundle, str]]:
    items = {pid: pb for pb in parsed for pid in pb.processes}
    done: list[tuple[_ParsedBundle, str]] = []
    visiting: set[str] = set()
    placed: set[str] = set()

    def visit(pid: str) -> None:
        if pid in placed or pid in visiting:
            return
        visiting.add(pid)
        for called in items[pid].external_calls:
            if called in items:
                visit(called)
        visiting.discard(pid)
        placed.add(pid)
        done.append((items[pid], pid))

    for pid in items:
        visit(pid)
    return done


# --- process definitions -------------------------------------------------------------------------


def list_processes(session: Session) -> list[dict]:
    """Every process key with its latest version, the version new instances start on, and counts."""
    from sqlalchemy import func

    rows = session.execute(
        select(store.ProcessDefinition.key, func.max(store.ProcessDefinition.version))
        .group_by(store.ProcessDefinition.key).order_by(store.ProcessDefinition.key)
    ).all()
    out = []
    for key, latest_version in rows:
        start_def = startable_definition(session, key)
        out.append({
            "key": key,
            "name": start_def.name,
            "latest_version": latest_version,
            "start_version": start_def.version,
            "pinned": start_def.pinned,
            "start_form": SPECS.get(session, start_def).start_form,
        })
    return out


def startable_definition(session: Session, key: str) -> DefinitionRef:
    """The version new instances of ``key`` start on: the pinned one, else the latest."""
    definition = case_rows.startable_definition(session, key)
    if definition is None:
        raise NotFound(f"no process {key!r} is deployed")
    return definition


def start_form(session: Session, key: str) -> dict | None:
    """The JSON Schema of the start form of ``key`` (None when it has none)."""
    loaded = SPECS.get(session, startable_definition(session, key))
    return loaded.form_schema(loaded.start_form)


# --- running instances ---------------------------------------------------------------------------


class _WorkflowCache:
    """Live workflows of recently saved instances, keyed by the row version they were saved as.

    A hit skips deserialization; the random row version token means a rolled-back save can
    never be mistaken for a committed one. Entries are taken out while in use.
    """

    def __init__(self, size: int = 2000) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[int, tuple[str, BpmnWorkflow]] = OrderedDict()
        self.size = size

    def take(self, instance_id: int, row_version: str) -> BpmnWorkflow | None:
        with self._lock:
            item = self._items.pop(instance_id, None)
        if item is not None and item[0] == row_version:
            return item[1]
        return None

    def put(self, instance_id: int, row_version: str, wf: BpmnWorkflow) -> None:
        with self._lock:
            self._items[instance_id] = (row_version, wf)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


WORKFLOWS = _WorkflowCache()


def _restore(session: Session, case: Case, loaded: LoadedSpec) -> BpmnWorkflow:
    """The instance's live workflow: from the cache when it is current, else deserialized."""
    wf = WORKFLOWS.take(case.id, case.row_version)
    return wf if wf is not None else _fresh_workflow(case_rows.load_state(session, case), loaded)


def _fresh_workflow(state: str, loaded: LoadedSpec) -> BpmnWorkflow:
    """Deserialize stored state against the cached spec (never the cached live object)."""
    dct = json.loads(state)
    version = dct.pop(SERIALIZER.VERSION_KEY, SERIALIZER_VERSION)
    if version != SERIALIZER_VERSION:
        dct[SERIALIZER.VERSION_KEY] = version
        SERIALIZER.migrate(dct)
    dct["spec"] = loaded.spec
    dct["subprocess_specs"] = loaded.subprocess_specs
    wf = SERIALIZER.from_dict(dct)
    wf.script_engine = SCRIPT_ENGINE
    return wf


def _serialize(wf: BpmnWorkflow) -> str:
    return SERIALIZER.serialize_json(wf)


def _plain(value: Any) -> Any:
    """A JSON-compatible deep copy (dates become ISO strings; unknown objects are dropped)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if not callable(v)}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (UUID,)):
        return str(value)
    return None


_DATA_STATES = TaskState.COMPLETED | TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


@dataclass
class _Snapshot:
    """What the tables keep of a workflow, gathered in one walk of its task tree."""

    data: dict
    status: str
    ready: dict[str, Any]  # task id -> ready human task
    timers: list[dict]  # pending timers, soonest first
    trail: list[str]  # BPMN ids of completed elements of the version's own diagram


def _snapshot(wf: BpmnWorkflow, loaded: LoadedSpec) -> _Snapshot:
    """Walk the task tree once (called processes included) and collect the snapshot."""
    ready: dict[str, Any] = {}
    timers: list[dict] = []
    trail: set[str] = set()
    with_data: list[Any] = []
    for task in wf.get_tasks():
        state, spec = task.state, task.task_spec
        if state & _DATA_STATES:
            with_data.append(task)
        if state == TaskState.COMPLETED:
            if spec.bpmn_id and loaded.process_files.get(_spec_process(spec), loaded.files) is loaded.files:
                trail.add(spec.bpmn_id)
        elif state == TaskState.READY:
            if spec.manual:
                ready[str(task.id)] = task
        elif state == TaskState.WAITING:
            if isinstance(getattr(spec, "event_definition", None), TimerEventDefinition):
                due = _timer_due(task)
                if due is not None:
                    timers.append({"task": spec.bpmn_name or spec.bpmn_id or spec.name, "task_id": str(task.id),
                                   "due_at": due.isoformat()})
    completed = wf.is_completed()
    return _Snapshot(
        data=_replay_writes(with_data),
        status="completed" if completed else "running" if ready else "waiting",
        ready=ready,
        timers=[] if completed else sorted(timers, key=lambda t: t["due_at"]),
        trail=sorted(trail),
    )


def _replay_writes(tasks: list[Any]) -> dict:
    """The case data as people see it: every task's own writes, replayed in time order.

    Each SpiffWorkflow task holds a copy of the data; with parallel paths (a non-interrupting
    escalation beside the main path, a call activity) the copies diverge, and no single task
    has the whole truth. A task's writes are what differs from its parent's data, so applying
    them oldest first gives "the latest write of each key wins" across all paths.
    """
    merged: dict = {}
    for task in sorted(tasks, key=lambda t: t.last_state_change):
        parent = task.parent
        if parent is None:
            merged.update(task.data)
            continue
        base = parent.data
        for key, value in task.data.items():
            if key not in base or base[key] != value:
                merged[key] = value
        for key in base:
            if key not in task.data:
                merged.pop(key, None)
    return _plain(merged)


def _human_task_rows(session: Session, instance_id: int, states: tuple[str, ...] = ("ready",)) -> list[store.HumanTask]:
    return list(session.scalars(
        select(store.HumanTask).where(store.HumanTask.instance_id == instance_id, store.HumanTask.state.in_(states))
    ))


def _parse_due(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        try:
            parsed = dt.datetime.combine(dt.date.fromisoformat(str(value)), dt.time(23, 59, 59))
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _timer_due(task: Any) -> dt.datetime | None:
    value = task._get_internal_data("event_value")
    if isinstance(value, dict):  # cycle timer
        value = value.get("next")
    if not value:
        return None
    try:
        return TimerEventDefinition.get_datetime(str(value))
    except Exception:
        return None


def _sync(session: Session, case: Case, wf: BpmnWorkflow, loaded: LoadedSpec, actor: str,
          events: list[dict], completed: dict[str, str] | None = None) -> list[dict]:
    """Save the workflow and bring human tasks, timers and the audit log in step with it.

    The case keeps the ids of its ready tasks and its pending timers, so only what changed
    is written: usually the instance row (insert or version-checked update), the finished
    task, the next task and the action's audit events. ``events`` (from :func:`_event`)
    are appended in order. Returns the case's ready task rows.
    """
    now = clock.now()
    completed = completed or {}
    snap = _snapshot(wf, loaded)
    data = snap.data
    previous_status = case.status
    case.state = _serialize(wf)
    case.serializer_version = SERIALIZER_VERSION
    case.data = data
    if case.status not in ("error", "cancelled"):
        case.status = snap.status
    case.updated_at = now
    business_key_changed = False
    if loaded.business_key_field and data.get(loaded.business_key_field):
        new_key = str(data[loaded.business_key_field])
        business_key_changed = new_key != case.business_key
        case.business_key = new_key
    if case.status in ("completed", "cancelled") and case.completed_at is None:
        case.completed_at = now
    if case.status == "completed" and previous_status != "completed":
        events.append(_event(actor, "completed", None, {}))

    ready = snap.ready
    case.trail = snap.trail
    before = set(case.ready_tasks or [])
    case.ready_tasks = sorted(ready)
    timers = [] if case.status in ("completed", "cancelled") else snap.timers
    timers_changed = timers != (case.timers or [])
    case.timers = timers
    try:
        saved = case_rows.save_case(session, case)
    except OperationalError as err:
        if "locked" in str(err).lower():
            raise Conflict("the case is being changed by someone else; try again") from err
        raise
    if not saved:
        raise Conflict("the case was changed by someone else at the same time; reload and try again")

    # Human tasks: finish the ones that left the ready set, insert the new ones.
    kept = before & set(ready)
    changes = [dict(id=t, state="completed", completed_by=completed[t], completed_at=now)
               if t in completed else dict(id=t, state="cancelled", completed_by=actor, completed_at=now)
               for t in sorted(before - set(ready))]
    if business_key_changed:
        changes += [dict(id=t, business_key=case.business_key) for t in sorted(kept)]
    case_rows.update_tasks(session, changes)
    rows = []
    for task_id, task in ready.items():
        if task_id in before:
            continue
        meta = loaded.meta(task.task_spec)
        role = meta.role
        if meta.role_from_data:
            role = role_key(task.data.get(meta.role_from_data)) or role
        due_at = _parse_due(task.data.get(meta.due_key)) if meta.due_key else None
        rows.append(dict(
            id=task_id, instance_id=case.id, process_key=case.process_key, spec_ref=meta.ref,
            business_key=case.business_key, name=meta.name, title=meta.title, lane=meta.lane,
            role=role, form=meta.form, state="ready", assignee=None, completed_at=None, completed_by=None,
            due_at=due_at, sort_due=due_at or store.NO_DEADLINE, created_at=now,
        ))
    case_rows.insert_tasks(session, rows)

    # Timers: the table the worker polls follows the instance's pending timers.
    if timers_changed:
        case_rows.replace_timers(session, case.id, [
            dict(task_id=t["task_id"], name=t["task"], due_at=dt.datetime.fromisoformat(t["due_at"]))
            for t in timers])
    case_rows.append_audit(session, [dict(e, instance_id=case.id) for e in events])
    WORKFLOWS.put(case.id, case.row_version, wf)
    return rows + case_rows.tasks_by_id(session, sorted(kept))


def _event(actor: str, kind: str, task: str | None, payload: dict | None) -> dict:
    """An audit event (its instance is set when it is written)."""
    return dict(at=clock.now(), actor=actor, kind=kind, task=task, payload=_plain(payload or {}))


def _audit(session: Session, instance_id: int | None, actor: str, kind: str, task: str | None,
           payload: dict | None) -> None:
    """Append one audit event now (actions that save a case pass theirs to :func:`_sync`)."""
    case_rows.append_audit(session, [dict(_event(actor, kind, task, payload), instance_id=instance_id)])


def _run_engine(session: Session, case: Case, wf: BpmnWorkflow, actor: str, steps: Any,
                events: list[dict]) -> None:
    """Run ``steps(wf)`` (task run + engine steps); a failure puts the instance in ``error``.

    Operators declared with an audit kind (e.g. ``escalate``) and the failure are added to
    ``events`` as they happen.
    """
    _call_context.session = session
    _call_context.events = ran = []
    try:
        steps(wf)
    except (SpiffWorkflowException, ScriptRejected, OperatorError) as err:
        task = getattr(err, "task", None)
        task_spec = task.task_spec if task is not None else getattr(err, "task_spec", None)
        task_name = (task_spec.bpmn_id or task_spec.name) if task_spec is not None else None
        message = _error_message(err)
        case.status = "error"
        case.error = message
        case.error_task = task_name
        ran.append(("error", task_name, {"message": message}))
    finally:
        _call_context.session = None
        _call_context.events = None
    events.extend(_event("system" if kind != "error" else actor, kind, task_name, payload)
                  for kind, task_name, payload in ran)


def _error_message(err: Exception) -> str:
    message = str(err).split("\n")[0]
    task = getattr(err, "task", None)
    if task is not None:
        label = task.task_spec.bpmn_name or task.task_spec.bpmn_id
        if label and label not in message:
            message = f"{message} (at {label!r})"
    return message


def _validate_form(loaded: LoadedSpec, form: str | None, process: str | None, data: dict | None) -> dict:
    """``data`` checked against the form ``form`` of ``process`` (no form: taken as it is)."""
    data = dict(data or {})
    validator = loaded.validator(form, process)
    if validator is None:
        return data
    fields: dict[str, str] = {}
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.path)):
        if error.validator == "required":
            missing = re.findall(r"'([^']+)' is a required property", error.message)
            key = ".".join([*map(str, error.path), *(missing[:1] or ["_"])])
            fields.setdefault(key, "this field is required")
        else:
            key = ".".join(map(str, error.path)) or "_form"
            fields.setdefault(key, error.message)
    if fields:
        raise InvalidData(fields)
    return data


def _load_case(session: Session, instance_id: int) -> Case:
    case = case_rows.load_case(session, instance_id)
    if case is None:
        raise NotFound(f"no instance {instance_id}")
    return case


def start(session: Session, key: str, data: dict | None = None, actor: str = "system",
          version: int | None = None) -> dict:
    """Start an instance of ``key`` (the start form validates ``data``) and run it until it waits."""
    definition = case_rows.startable_definition(session, key, version)
    if definition is None:
        raise NotFound(f"process {key!r} has no version {version}" if version is not None
                       else f"no process {key!r} is deployed")
    loaded = SPECS.get(session, definition)
    clean = _validate_form(loaded, loaded.start_form, None, data) if loaded.start_form else dict(data or {})
    wf = BpmnWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=SCRIPT_ENGINE)
    first = wf.get_next_task(state=TaskState.READY)
    if first is not None:
        first.data.update(copy.deepcopy(clean))
    now = clock.now()
    case = Case(id=None, definition=definition, process_key=key, business_key=None, status="running",
                serializer_version=SERIALIZER_VERSION, data={}, ready_tasks=[], timers=[], trail=[], error=None,
                error_task=None, started_by=actor, created_at=now, updated_at=now, completed_at=None,
                row_version=None)
    events = [_event(actor, "started", None, {"version": definition.version, "data": clean})]
    _run_engine(session, case, wf, actor, lambda w: w.do_engine_steps(), events)
    rows = _sync(session, case, wf, loaded, actor, events)
    return _view(session, case, rows, audit=False)


def _ready_task(session: Session, task_id: str) -> dict:
    found = case_rows.tasks_by_id(session, [str(task_id)])
    if not found:
        raise NotFound(f"no task {task_id}")
    row = found[0]
    if row["state"] != "ready":
        raise Conflict(f"task {task_id} is no longer ready (it is {row['state']})")
    return row


def _check_roles(row: dict, actor: str, roles: set[str] | None) -> None:
    if roles is None:  # operator tools (CLI) act for anyone
        return
    if "admin" not in roles and row["role"] not in roles:
        raise Forbidden(f"task {row['title']!r} belongs to role {row['role']!r}")
    if row["assignee"] and row["assignee"] != actor and "admin" not in roles:
        raise Forbidden(f"task {row['title']!r} is claimed by {row['assignee']}")


def task_form(session: Session, task_id: str) -> dict:
    """The task row with its form schema and UI schema (no workflow is deserialized)."""
    found = case_rows.load_task_with_case(session, str(task_id))
    if found is None:
        raise NotFound(f"no task {task_id}")
    row, case = found
    loaded = SPECS.get(session, case.definition)
    meta = loaded.task_meta.get(row["spec_ref"])
    process = meta.process if meta else None
    out = _task_dict(row)
    out["schema"] = loaded.form_schema(row["form"], process)
    out["ui_schema"] = loaded.form_schema(meta.ui_form, process) if meta else None
    out["documentation"] = meta.documentation if meta else None
    out["documentation_zh"] = meta.documentation_zh if meta else None
    out["data"] = case.data
    return out


def complete(session: Session, task_id: str, data: dict | None = None, actor: str = "system",
             roles: set[str] | None = None) -> dict:
    """Complete a ready human task with ``data`` (validated against its form) and run on.

    ``roles`` are the actor's roles when the caller enforces them (web, API); the CLI
    passes None. Raises NotFound, Forbidden, InvalidData or Conflict.
    """
    found = case_rows.load_task_with_case(session, str(task_id))
    if found is None:
        raise NotFound(f"no task {task_id}")
    row, case = found
    if row["state"] != "ready":
        raise Conflict(f"task {task_id} is no longer ready (it is {row['state']})")
    _check_roles(row, actor, roles)
    if case.status in ("error", "cancelled", "completed"):
        raise InstanceError(f"instance {case.id} is {case.status}")
    loaded = SPECS.get(session, case.definition)
    meta = loaded.task_meta.get(row["spec_ref"])
    clean = _validate_form(loaded, row["form"], meta.process if meta else None, data)
    wf = _restore(session, case, loaded)
    task = wf.get_task_from_id(UUID(row["id"]))
    if task is None or task.state != TaskState.READY:
        raise Conflict(f"task {task_id} is no longer ready")

    def steps(w: BpmnWorkflow) -> None:
        task.data.update(copy.deepcopy(clean))
        task.run()
        w.do_engine_steps()

    events = [_event(actor, "task_completed", row["name"], {"title": row["title"], "data": clean})]
    _run_engine(session, case, wf, actor, steps, events)
    rows = _sync(session, case, wf, loaded, actor, events, completed={row["id"]: actor})
    return _view(session, case, rows, audit=False)


def claim(session: Session, task_id: str, actor: str, roles: set[str] | None = None) -> dict:
    """Take a ready task so others see it is being worked on."""
    row = _ready_task(session, task_id)
    _check_roles(row, actor, roles)
    if row["assignee"] and row["assignee"] != actor:
        raise Conflict(f"task is already claimed by {row['assignee']}")
    # Conditional UPDATE: of two people taking the task at once, exactly one gets it.
    taken = session.execute(
        update(store.HumanTask)
        .where(store.HumanTask.id == row["id"], store.HumanTask.state == "ready",
               or_(store.HumanTask.assignee.is_(None), store.HumanTask.assignee == actor))
        .values(assignee=actor).execution_options(synchronize_session="fetch")
    ).rowcount
    if taken != 1:
        raise Conflict("someone else took or finished the task meanwhile")
    _audit(session, row["instance_id"], actor, "task_claimed", row["name"], {})
    return _task_dict(dict(row, assignee=actor))


def unclaim(session: Session, task_id: str, actor: str, roles: set[str] | None = None) -> dict:
    """Give a claimed task back to its role."""
    row = _ready_task(session, task_id)
    if roles is not None and row["assignee"] != actor and "admin" not in roles:
        raise Forbidden("only the holder or an admin can release this task")
    case_rows.update_tasks(session, [dict(id=row["id"], assignee=None)])
    _audit(session, row["instance_id"], actor, "task_released", row["name"], {})
    return _task_dict(dict(row, assignee=None))


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _task_dict(row: Any) -> dict:
    """The public form of a human task row (a mapping of its columns)."""
    return {
        "id": row["id"], "instance_id": row["instance_id"], "process_key": row["process_key"],
        "business_key": row["business_key"], "name": row["name"], "title": row["title"], "role": row["role"],
        "lane": row["lane"], "assignee": row["assignee"], "form": row["form"], "state": row["state"],
        "due_at": _iso(row["due_at"]), "created_at": _iso(row["created_at"]),
        "completed_at": _iso(row["completed_at"]), "completed_by": row["completed_by"],
    }


def list_tasks(session: Session, instance_id: int | None = None, role: str | None = None,
               roles: Iterable[str] | None = None, assignee: str | None = None,
               process_key: str | None = None, limit: int = 500) -> list[dict]:
    """Ready human tasks, soonest deadline first; reads only the task table (one indexed query)."""
    table = store.HumanTask.__table__
    stmt = select(table).where(table.c.state == "ready")
    if instance_id is not None:
        stmt = stmt.where(table.c.instance_id == instance_id)
    if role is not None:
        stmt = stmt.where(table.c.role == role)
    if roles is not None:
        stmt = stmt.where(table.c.role.in_(list(roles)))
    if assignee is not None:
        stmt = stmt.where(table.c.assignee == assignee)
    if process_key is not None:
        stmt = stmt.where(table.c.process_key == process_key)
    stmt = stmt.order_by(table.c.sort_due, table.c.created_at).limit(limit)
    return [_task_dict(r._mapping) for r in session.execute(stmt)]


def show(session: Session, instance_id: int, audit: bool = True) -> dict:
    """An instance as stored: status, data, ready tasks, timers, error and (optionally) history."""
    case = _load_case(session, instance_id)
    return _view(session, case, case_rows.tasks_by_id(session, case.ready_tasks or []), audit)


def _view(session: Session, case: Case, ready_rows: list[dict], audit: bool) -> dict:
    """The public form of a case, given its ready task rows."""
    rows = sorted(ready_rows, key=lambda r: (r["sort_due"], r["created_at"]))
    out = {
        "id": case.id,
        "process_key": case.process_key,
        "version": case.definition.version,
        "definition_id": case.definition_id,
        "business_key": case.business_key,
        "status": case.status,
        "error": {"message": case.error, "task": case.error_task} if case.status == "error" else None,
        "data": case.data,
        "tasks": [_task_dict(r) for r in rows],
        "timers": list(case.timers or []),
        "started_by": case.started_by,
        "created_at": case.created_at.isoformat(),
        "updated_at": _iso(case.updated_at),
        "completed_at": _iso(case.completed_at),
    }
    if audit:
        out["audit"] = audit_log(session, case.id)
    return out


def audit_log(session: Session, instance_id: int) -> list[dict]:
    """The instance's history, oldest first."""
    return [
        {"at": e.at.isoformat(), "actor": e.actor, "kind": e.kind, "task": e.task, "payload": e.payload}
        for e in session.scalars(select(store.AuditEvent).where(store.AuditEvent.instance_id == instance_id)
                                 .order_by(store.AuditEvent.id))
    ]


def instance_tasks(session: Session, instance_id: int) -> list[dict]:
    """Every human task the instance has had (ready, completed, cancelled), oldest first."""
    table = store.HumanTask.__table__
    stmt = select(table).where(table.c.instance_id == instance_id).order_by(table.c.created_at)
    return [_task_dict(r._mapping) for r in session.execute(stmt)]


def completed_elements(session: Session, instance_id: int) -> list[str]:
    """BPMN ids of the instance's own diagram elements completed so far (to mark the diagram)."""
    return list(_load_case(session, instance_id).trail or [])


def process_manifest(session: Session, definition_id: int) -> Any:
    """The manifest (``caseflow.manifest.Manifest``) of a deployed version."""
    return SPECS.get(session, get_definition(session, definition_id)).manifest


def diagram(session: Session, definition_id: int) -> dict[str, str]:
    """The BPMN files of a deployed version (file name -> XML)."""
    definition = session.get(store.ProcessDefinition, definition_id)
    if definition is None:
        raise NotFound(f"no process version {definition_id}")
    return {n: t for n, t in definition.files.items() if n.endswith(".bpmn")}


def diagram_xml(session: Session, definition_id: int) -> str:
    """The BPMN file of a deployed version that defines its process (for drawing it)."""
    definition = session.get(store.ProcessDefinition, definition_id)
    if definition is None:
        raise NotFound(f"no process version {definition_id}")
    files = diagram(session, definition_id)
    for name in sorted(files):
        root = bundles.parse_xml(name, files[name]).getroot()
        if any(p.get("id") == definition.key for p in root.iter(full_tag("process"))):
            return files[name]
    raise NotFound(f"no BPMN file of version {definition_id} defines {definition.key!r}")


# --- timers, retry, cancel -----------------------------------------------------------------------


def due_instance_ids(session: Session, limit: int = 100) -> list[int]:
    """Instances with a timer due now, soonest first (``fire_timers`` claims them one by one)."""
    stmt = (select(store.Timer.instance_id).where(store.Timer.due_at <= clock.now())
            .order_by(store.Timer.due_at).limit(limit))
    return list(dict.fromkeys(session.scalars(stmt)))


def fire_timers(session: Session, instance_id: int, actor: str = "timer") -> bool:
    """Fire the due timers of one instance and run it on; True when something fired."""
    case = _load_case(session, instance_id)
    if case.status in ("error", "cancelled", "completed"):
        case_rows.replace_timers(session, case.id, [])
        return False
    now = clock.now()
    stmt = select(store.Timer).where(store.Timer.instance_id == case.id, store.Timer.due_at <= now)
    if session.get_bind().dialect.name == "postgresql":
        # claim the rows: another worker holding them is skipped, not waited for
        stmt = stmt.with_for_update(skip_locked=True)
    due = list(session.scalars(stmt))
    if not due:
        return False
    loaded = SPECS.get(session, case.definition)
    wf = _restore(session, case, loaded)

    def steps(w: BpmnWorkflow) -> None:
        w.refresh_timers()
        w.do_engine_steps()

    events = [_event(actor, "timer_fired", timer.name, {"due_at": timer.due_at.isoformat()}) for timer in due]
    _run_engine(session, case, wf, actor, steps, events)
    _sync(session, case, wf, loaded, actor, events)
    return True


def fire_due_timers(session: Session, limit: int = 100) -> int:
    """Fire every due timer (each instance in its own savepoint); returns instances advanced."""
    fired = 0
    for instance_id in due_instance_ids(session, limit):
        try:
            with session.begin_nested():
                fired += fire_timers(session, instance_id)
        except Conflict:
            continue  # someone changed it meanwhile; the next round sees the new state
    return fired


def retry(session: Session, instance_id: int, actor: str = "system") -> dict:
    """Run a failed instance again from its failing task (after the cause is fixed)."""
    case = _load_case(session, instance_id)
    if case.status != "error":
        raise InstanceError(f"instance {instance_id} is {case.status}, not in error")
    loaded = SPECS.get(session, case.definition)
    wf = _restore(session, case, loaded)
    failed = wf.get_tasks(state=TaskState.ERROR)
    case.status, case.error, case.error_task = "running", None, None
    events = [_event(actor, "retried", None, {"tasks": [t.task_spec.bpmn_id for t in failed]})]

    def steps(w: BpmnWorkflow) -> None:
        for task in failed:
            task._set_state(TaskState.READY)
        w.do_engine_steps()

    _run_engine(session, case, wf, actor, steps, events)
    return _view(session, case, _sync(session, case, wf, loaded, actor, events), audit=False)


def update_data(session: Session, instance_id: int, changes: dict, actor: str) -> dict:
    """Correct process data of an instance (e.g. before a retry); audited."""
    case = _load_case(session, instance_id)
    loaded = SPECS.get(session, case.definition)
    wf = _restore(session, case, loaded)
    targets = wf.get_tasks(state=TaskState.READY | TaskState.ERROR | TaskState.WAITING) or [wf.last_task]
    for task in targets:
        if task is not None:
            task.data.update(copy.deepcopy(changes))
    events = [_event(actor, "data_changed", None, {"data": changes})]
    return _view(session, case, _sync(session, case, wf, loaded, actor, events), audit=False)


def cancel(session: Session, instance_id: int, actor: str = "system", reason: str | None = None) -> dict:
    """Cancel an unfinished instance: its tasks and timers go away."""
    case = _load_case(session, instance_id)
    if case.status in ("completed", "cancelled"):
        raise InstanceError(f"instance {instance_id} is already {case.status}")
    loaded = SPECS.get(session, case.definition)
    wf = _restore(session, case, loaded)
    wf.cancel()
    case.status = "cancelled"
    case.completed_at = clock.now()
    events = [_event(actor, "cancelled", None, {"reason": reason})]
    return _view(session, case, _sync(session, case, wf, loaded, actor, events), audit=False)


def new_id() -> str:
    """A random id (for uploads and tokens)."""
    return uuid.uuid4().hex


# --- versions and migration ---------------------------------------------------------------------
# Which version new instances start on (pin/unpin), the versions of a process with their
# instance counts, a readable diff of two versions and the migration of running instances
# (SpiffWorkflow's workflow diff: SpiffWorkflow.bpmn.util.diff).

from SpiffWorkflow.bpmn.util.diff import diff_workflow as _spiff_diff_workflow  # noqa: E402
from SpiffWorkflow.bpmn.util.diff import migrate_workflow as _spiff_migrate_workflow  # noqa: E402

UNFINISHED_STATUSES = ("running", "waiting", "error")
# Spec attributes that may differ on a task an instance is waiting at: the flows around it
# (a task added after it changes its outputs) and its label.
_MIGRATION_NEUTRAL_ATTRS = {"inputs", "outputs"}
_MIGRATION_COSMETIC_ATTRS = {"bpmn_name", "documentation"}
# Task states in which an instance "is at" a task: these must exist unchanged in the target.
_LIVE_STATES = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


def get_definition(session: Session, definition_id: int) -> store.ProcessDefinition:
    """A deployed version by id (NotFound otherwise)."""
    definition = session.get(store.ProcessDefinition, definition_id)
    if definition is None:
        raise NotFound(f"no process version with id {definition_id}")
    return definition


def find_definition(session: Session, key: str, version: int) -> store.ProcessDefinition:
    """Version ``version`` of process ``key`` (NotFound otherwise)."""
    definition = session.scalars(select(store.ProcessDefinition).where(
        store.ProcessDefinition.key == key, store.ProcessDefinition.version == version)).first()
    if definition is None:
        raise NotFound(f"process {key!r} has no version {version}")
    return definition


def _version_dict(definition: store.ProcessDefinition, counts: dict[str, int] | None = None,
                  latest: int | None = None, start_id: int | None = None, with_files: bool = False) -> dict:
    counts = counts or {}
    out = {
        "definition_id": definition.id,
        "key": definition.key,
        "version": definition.version,
        "name": definition.name,
        "content_hash": definition.content_hash,
        "deployed_at": definition.deployed_at.isoformat() if definition.deployed_at else None,
        "deployed_by": definition.deployed_by,
        "pinned": bool(definition.pinned),
        "latest": latest is not None and definition.version == latest,
        "starts_new_instances": start_id is not None and definition.id == start_id,
        "dependencies": dict(definition.dependencies or {}),
        "running_instances": sum(counts.get(s, 0) for s in UNFINISHED_STATUSES),
        "instances": {s: counts.get(s, 0) for s in (*UNFINISHED_STATUSES, "completed", "cancelled")},
    }
    if with_files:  # the files column is deferred: only load it when asked
        out["files"] = sorted(definition.files or {})
    return out


def list_versions(session: Session, key: str) -> list[dict]:
    """Every deployed version of ``key``, newest first, with who deployed it when, its content
    hash and how many instances run on it (one grouped query for all counts)."""
    from sqlalchemy import func

    definitions = list(session.scalars(select(store.ProcessDefinition).where(store.ProcessDefinition.key == key)
                                       .order_by(store.ProcessDefinition.version.desc())))
    if not definitions:
        raise NotFound(f"no process {key!r} is deployed")
    counts: dict[int, dict[str, int]] = {}
    rows = session.execute(
        select(store.ProcessInstance.definition_id, store.ProcessInstance.status, func.count())
        .join(store.ProcessDefinition, store.ProcessDefinition.id == store.ProcessInstance.definition_id)
        .where(store.ProcessDefinition.key == key)
        .group_by(store.ProcessInstance.definition_id, store.ProcessInstance.status)
    ).all()
    for definition_id, status, n in rows:
        counts.setdefault(definition_id, {})[status] = int(n)
    pinned = next((d for d in definitions if d.pinned), None)
    start_id = (pinned or definitions[0]).id
    return [_version_dict(d, counts.get(d.id), definitions[0].version, start_id) for d in definitions]


def version_info(session: Session, definition_id: int) -> dict:
    """One version as in :func:`list_versions`, with the names of its files."""
    definition = get_definition(session, definition_id)
    info = next(v for v in list_versions(session, definition.key) if v["definition_id"] == definition.id)
    info["files"] = sorted(definition.files or {})
    return info


def pin(session: Session, key: str, version: int, actor: str) -> dict:
    """Make new instances of ``key`` start on ``version`` (a rollback without redeploying)."""
    definition = find_definition(session, key, version)
    previous = session.scalars(select(store.ProcessDefinition).where(
        store.ProcessDefinition.key == key, store.ProcessDefinition.pinned)).all()
    for other in previous:
        if other.id != definition.id:
            other.pinned = False
    definition.pinned = True
    session.flush()
    _audit(session, None, actor, "pinned", None,
           {"key": key, "version": version, "definition_id": definition.id,
            "previous": [p.version for p in previous if p.id != definition.id]})
    return version_info(session, definition.id)


def unpin(session: Session, key: str, actor: str) -> dict:
    """New instances of ``key`` start on the latest version again."""
    definitions = session.scalars(select(store.ProcessDefinition).where(store.ProcessDefinition.key == key)).all()
    if not definitions:
        raise NotFound(f"no process {key!r} is deployed")
    was = [d.version for d in definitions if d.pinned]
    for d in definitions:
        d.pinned = False
    session.flush()
    _audit(session, None, actor, "unpinned", None, {"key": key, "previous": was})
    start_def = startable_definition(session, key)
    return {"key": key, "start_version": start_def.version, "definition_id": start_def.id, "previously_pinned": was}


# --- readable diff of two versions (see bpmn_diff; no workflow objects) ---


def diff_versions(session: Session, definition_id_a: int, definition_id_b: int) -> dict:
    """What changed from version A to version B: elements added, removed and changed (with
    each changed property: attributes, extension properties, service-task operator and
    parameters, scripts and conditions), and the form/DMN files added, removed or changed."""
    a, b = get_definition(session, definition_id_a), get_definition(session, definition_id_b)
    return {"from": _version_dict(a), "to": _version_dict(b), **bpmn_diff.compare(a.files or {}, b.files or {}),
            "identical": a.content_hash == b.content_hash}


diff_lines = bpmn_diff.diff_lines


# --- migration of running instances ---


@dataclass
class _MigrationTrial:
    """The outcome of migrating one instance's workflow in memory."""

    entry: dict
    workflow: BpmnWorkflow | None = None


def _task_label(task: Any) -> str:
    spec = task.task_spec
    label = spec.bpmn_name or spec.bpmn_id or spec.name
    return f"{label!r} ({spec.bpmn_id})" if spec.bpmn_id and spec.bpmn_id != label else repr(label)


def _check_workflow_diff(wdiff: Any, version: int, reasons: list[str], notes: list[str], where: str = "") -> None:
    changed = set(wdiff.changed)
    removed = set(wdiff.removed)
    for task in list(wdiff.alignment) + list(removed):
        spec = task.task_spec
        at = f"{where}the instance {_STATE_VERBS.get(task.state, 'is at')} task {_task_label(task)}"
        if task in removed:
            if task.has_state(_LIVE_STATES):
                reasons.append(f"{at}, which does not exist in version {version}")
            elif task.has_state(TaskState.FINISHED_MASK) and spec.bpmn_id:
                reasons.append(f"{where}the instance has passed task {_task_label(task)}, which does not exist "
                               f"in version {version} (its history could not be kept)")
            continue
        if task not in changed or not task.has_state(_LIVE_STATES):
            continue
        target = wdiff.alignment.get(task)
        if target is not None and target.name != spec.name:
            reasons.append(f"{at}; version {version} has {target.bpmn_name or target.name!r} ({target.name}) "
                           f"in its place")
            continue
        attrs = set(_spec_changes(task, target)) - _MIGRATION_NEUTRAL_ATTRS
        blocking = sorted(attrs - _MIGRATION_COSMETIC_ATTRS)
        if blocking and task.state == TaskState.ERROR and "typename" not in attrs:
            # Moving a failed instance to a corrected version is the point: retry runs the fix.
            notes.append(f"{where}the failed task {_task_label(task)} is changed in version {version} "
                         f"({', '.join(_ATTR_WORDS.get(a, a) for a in blocking)}); a retry runs it as changed")
        elif blocking:
            reasons.append(f"{at}, which is changed in version {version}: "
                           f"{', '.join(_ATTR_WORDS.get(a, a) for a in blocking)}")
        elif attrs:
            notes.append(f"{where}task {_task_label(task)}: {', '.join(_ATTR_WORDS.get(a, a) for a in sorted(attrs))} "
                         f"changed (applied)")


_STATE_VERBS = {TaskState.READY: "waits at", TaskState.WAITING: "waits at", TaskState.STARTED: "is in",
                TaskState.ERROR: "failed at"}
_ATTR_WORDS = {"extensions": "properties/extensions", "lane": "lane (role)", "bpmn_name": "title",
               "operation_params": "service parameters", "operation_name": "service operator",
               "typename": "element type", "manual": "manual flag", "event_definition": "event definition",
               "cond_task_specs": "conditions", "script": "script"}


def _spec_changes(task: Any, target: Any) -> list[str]:
    s1, s2 = SERIALIZER.registry.convert(task.task_spec), SERIALIZER.registry.convert(target)
    if s1.get("typename") != s2.get("typename"):
        return ["typename"]
    return [k for k, v in s1.items() if s2.get(k) != v]


def _verify_specs(wf: BpmnWorkflow, version: int, reasons: list[str]) -> None:
    """Every task of the migrated workflow must point at a spec of the target version."""
    workflows = [wf, *wf.subprocesses.values()]
    for w in workflows:
        for task in w.tasks.values():
            if w.spec.task_specs.get(task.task_spec.name) is not task.task_spec:
                reasons.append(f"task {_task_label(task)} would refer to an element missing from version {version}")
                return


def _try_migration(session: Session, instance: Case | None, instance_id: int,
                   target: store.ProcessDefinition, target_loaded: LoadedSpec) -> _MigrationTrial:
    """Migrate one instance's workflow in memory and say whether that is safe (and why not)."""
    entry: dict[str, Any] = {"instance_id": instance_id, "business_key": None, "status": None,
                             "from_version": None, "from_definition_id": None,
                             "to_version": target.version, "to_definition_id": target.id,
                             "can_migrate": False, "reasons": [], "notes": [], "tasks": []}
    reasons, notes = entry["reasons"], entry["notes"]
    if instance is None:
        reasons.append(f"no instance {instance_id}")
        return _MigrationTrial(entry)
    entry.update(business_key=instance.business_key, status=instance.status,
                 from_version=instance.definition.version, from_definition_id=instance.definition_id)
    if instance.process_key != target.key:
        reasons.append(f"the instance belongs to process {instance.process_key!r}, the target version to {target.key!r}")
    elif instance.definition_id == target.id:
        reasons.append(f"the instance already runs on version {target.version}")
    elif instance.status in ("completed", "cancelled"):
        reasons.append(f"the instance is {instance.status}")
    if reasons:
        return _MigrationTrial(entry)
    try:
        source_loaded = SPECS.get(session, instance.definition)
        wf = _fresh_workflow(case_rows.load_state(session, instance), source_loaded)
        entry["tasks"] = [{"task": t.task_spec.bpmn_id or t.task_spec.name, "title": t.task_spec.bpmn_name,
                           "state": TaskState.get_name(t.state).lower()}
                          for t in wf.get_tasks(state=_LIVE_STATES) if t.task_spec.bpmn_id]
        top_diff, sub_diffs = _spiff_diff_workflow(SERIALIZER.registry, wf, target_loaded.spec,
                                                   target_loaded.subprocess_specs)
        _check_workflow_diff(top_diff, target.version, reasons, notes)
        for sp_id, sub_diff in sub_diffs.items():
            sub = wf.subprocesses[sp_id]
            where = f"in sub-process {sub.spec.name!r}: "
            if sub_diff is None:
                if not sub.is_completed():
                    reasons.append(f"{where}it is running but does not exist in version {target.version}")
                continue
            _check_workflow_diff(sub_diff, target.version, reasons, notes, where)
        for task in wf.get_tasks(state=TaskState.READY, manual=True):
            form = _properties(task.task_spec).get("formJsonSchemaFilename")
            if form and source_loaded.files.get(form) != target_loaded.files.get(form):
                notes.append(f"the form {form} of task {_task_label(task)} differs in version {target.version}; "
                             f"the new form applies")
        if reasons:
            return _MigrationTrial(entry)
        # Keep the data and timer state of the tasks the migration resets and re-predicts.
        keep = {t.id: (copy.deepcopy(t.data), copy.deepcopy(t.internal_data), t.state, t.task_spec.name)
                for w in (wf, *wf.subprocesses.values())
                for t in w.get_tasks(state=TaskState.READY | TaskState.WAITING, skip_subprocesses=True)}
        _spiff_migrate_workflow(top_diff, wf, target_loaded.spec)
        wf.subprocess_specs = target_loaded.subprocess_specs
        for sp_id, sub_diff in sub_diffs.items():
            if sub_diff is not None and sp_id in wf.subprocesses:
                sub = wf.subprocesses[sp_id]
                _spiff_migrate_workflow(sub_diff, sub, target_loaded.subprocess_specs[sub.spec.name])
        for w in (wf, *wf.subprocesses.values()):
            for task_id, (data, internal, state, spec_name) in keep.items():
                task = w.tasks.get(task_id)
                if task is not None and task.task_spec.name == spec_name:
                    task.data = data
                    if task.state == state:
                        task.internal_data = internal
        _verify_specs(wf, target.version, reasons)
        if not reasons:  # the migrated state must load against the target spec
            dct = json.loads(_serialize(wf))
            dct.pop(SERIALIZER.VERSION_KEY, None)
            dct["spec"], dct["subprocess_specs"] = target_loaded.spec, target_loaded.subprocess_specs
            SERIALIZER.from_dict(dct)
    except (SpiffWorkflowException, KeyError, AttributeError, TypeError, ValueError) as err:
        reasons.append(f"the workflow could not be compared with version {target.version}: "
                       f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
    if reasons:
        return _MigrationTrial(entry)
    entry["can_migrate"] = True
    return _MigrationTrial(entry, wf)


def _migration_target(session: Session, target_definition_id: int) -> tuple[store.ProcessDefinition, LoadedSpec]:
    target = get_definition(session, target_definition_id)
    return target, SPECS.get(session, target)


def _instances_by_id(session: Session, instance_ids: Iterable[int]) -> dict[int, Case | None]:
    return {i: case_rows.load_case(session, i) for i in dict.fromkeys(int(i) for i in instance_ids)}


def migration_candidates(session: Session, key: str | None = None, version: int | None = None,
                         definition_id: int | None = None, exclude_definition_id: int | None = None,
                         status: str | None = None) -> list[int]:
    """Ids of unfinished instances: of a process, of one of its versions, or of a definition."""
    stmt = select(store.ProcessInstance.id).where(store.ProcessInstance.status.in_(UNFINISHED_STATUSES))
    if key is not None:
        stmt = stmt.where(store.ProcessInstance.process_key == key)
    if version is not None:
        if key is None:
            raise InvalidData({"version": "a version needs the process key"})
        stmt = stmt.where(store.ProcessInstance.definition_id == find_definition(session, key, version).id)
    if definition_id is not None:
        stmt = stmt.where(store.ProcessInstance.definition_id == definition_id)
    if exclude_definition_id is not None:
        stmt = stmt.where(store.ProcessInstance.definition_id != exclude_definition_id)
    if status is not None:
        stmt = stmt.where(store.ProcessInstance.status == status)
    return list(session.scalars(stmt.order_by(store.ProcessInstance.id)))


def migration_plan(session: Session, instance_ids: Iterable[int], target_definition_id: int) -> dict:
    """Per instance: can it move to the target version, and why not. Changes nothing.

    An instance cannot move when a task it is at (ready, waiting, running or failed) is
    missing or changed in the target (beyond its label and the flows around it), when a task
    it has passed no longer exists, or when the migrated state would not load.
    """
    target, target_loaded = _migration_target(session, target_definition_id)
    entries = [_try_migration(session, inst, iid, target, target_loaded).entry
               for iid, inst in _instances_by_id(session, instance_ids).items()]
    return _migration_report(target, entries, dry_run=True)


def _migration_report(target: store.ProcessDefinition, entries: list[dict], dry_run: bool) -> dict:
    movable = [e for e in entries if e["can_migrate"]]
    return {
        "key": target.key, "to_version": target.version, "to_definition_id": target.id, "dry_run": dry_run,
        "requested": len(entries),
        "can_migrate": len(movable),
        "migrated": 0 if dry_run else sum(1 for e in entries if e.get("migrated")),
        "refused": sum(1 for e in entries if not e["can_migrate"] or (not dry_run and not e.get("migrated"))),
        "instances": entries,
    }


class _MigrationAborted(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _migrate_one(session: Session, instance: Case, trial: _MigrationTrial,
                 target: store.ProcessDefinition, target_loaded: LoadedSpec, actor: str, batch: str) -> None:
    wf = trial.workflow
    assert wf is not None
    previous_status = instance.status
    from_version, from_id = instance.definition.version, instance.definition_id
    instance.definition = DefinitionRef(target.id, target.key, target.version, target.content_hash, target.name,
                                        target.pinned)
    events = [_event(actor, "migrated", None, {"from_version": from_version, "to_version": target.version,
                                               "from_definition_id": from_id, "to_definition_id": target.id,
                                               "migration": batch})]
    if previous_status != "error":
        _run_engine(session, instance, wf, actor, lambda w: w.do_engine_steps(), events)
        if instance.status == "error":
            raise _MigrationAborted(f"after the migration the instance failed: {instance.error}")
    _sync(session, instance, wf, target_loaded, actor, events)
    # Ready tasks keep their ids; bring their rows in step with the target's task specs.
    for row in _human_task_rows(session, instance.id):
        task = wf.get_task_from_id(UUID(row.id))
        if task is None:
            continue
        meta = target_loaded.meta(task.task_spec)
        row.spec_ref = meta.ref
        role = role_key(task.data.get(meta.role_from_data)) if meta.role_from_data else None
        row.name, row.title, row.lane, row.form = meta.name, meta.title, meta.lane, meta.form
        row.role = role or meta.role
    session.flush()


def migrate(session: Session, instance_ids: Iterable[int], target_definition_id: int, actor: str,
            dry_run: bool = False) -> dict:
    """Move running instances to another version of their process, as one audited action.

    Each instance is migrated in its own savepoint: all of it or nothing of it. Instances
    that cannot move (see :func:`migration_plan`) are left untouched and reported with the
    reason. Migrated instances keep their ready tasks (same ids), data and timers, and run
    on through the target version's flow; an instance in ``error`` moves as it is (its
    failed task may be corrected by the target) and continues with :func:`retry`. The
    action is audited per instance (``migrated``) and once (``migration``, instance none)
    when anything moved. ``dry_run`` only reports.
    """
    target, target_loaded = _migration_target(session, target_definition_id)
    instances = _instances_by_id(session, instance_ids)
    entries: list[dict] = []
    batch = new_id()
    for iid, inst in instances.items():
        trial = _try_migration(session, inst, iid, target, target_loaded)
        entry = trial.entry
        entries.append(entry)
        if dry_run or not entry["can_migrate"] or inst is None:
            entry["migrated"] = False
            continue
        try:
            with session.begin_nested():
                _migrate_one(session, inst, trial, target, target_loaded, actor, batch)
            entry["migrated"] = True
        except _MigrationAborted as err:
            entry.update(migrated=False, can_migrate=False)
            entry["reasons"].append(err.reason)
        except (Conflict, SpiffWorkflowException, StaleDataError) as err:
            entry.update(migrated=False, can_migrate=False)
            entry["reasons"].append(f"the migration failed and was undone: {str(err).splitlines()[0]}")
    report = _migration_report(target, entries, dry_run)
    if not dry_run and report["migrated"]:  # a refused migration changes nothing, not even the log
        _audit(session, None, actor, "migration", None, {
            "key": target.key, "to_version": target.version, "to_definition_id": target.id, "migration": batch,
            "migrated": [e["instance_id"] for e in entries if e.get("migrated")],
            "refused": {str(e["instance_id"]): e["reasons"] for e in entries if not e.get("migrated")},
        })
        report["migration"] = batch
    return report
