"""Deploying bundles: validate everything, then store a new version of each changed process.

Nothing is stored when any problem is found (:class:`DeployRejected` lists them all, each
with its file, element and line where known).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser.process import VALIDATOR
from SpiffWorkflow.spiff.specs.defaults import ServiceTask
from sqlalchemy.orm import Session

from caseflow import bundles, clock, store
from caseflow import manifest as manifests
from caseflow._engine import definitions, specs
from caseflow._engine.adapters import CaseflowParser
from caseflow._engine.errors import DeployRejected
from service_tasks import registry as operators


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
                    if proc.get("id") and proc.get("isExecutable", "true").lower() != "false":
                        processes[proc.get("id") or ""] = proc.get("name")
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
        problems.append(bundles.Problem('no executable process (every process has isExecutable="false")',
                                        file=bundle.bpmn_names[0]))
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
    checked_forms: set[tuple[str, str]] = set()
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
        built = [spec] + [s for k, s in subs.items() if k in pb.processes or k not in pb.external_calls]
        for ts in (t for s in built for t in s.task_specs.values()):
            where = pb.lines.get(ts.bpmn_id or "", (None, None))
            if isinstance(ts, ServiceTask) and ts.operation_name not in registered:
                problems.append(bundles.Problem(
                    f"service operator {ts.operation_name!r} is not registered "
                    f"(see `caseflow operators`)", file=where[0], element=ts.bpmn_id, line=where[1]))
            props = specs.properties(ts)
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
                specs.add_bundle_files(pb.parser, owner[called].bundle.files)
                pb.external_calls[called] = "bundle"
            else:
                latest = definitions.latest_definition(session, called)
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
                latest = definitions.latest_definition(session, called)
                if latest is not None and pb.external_calls[called] != "bundle":
                    deps[called] = latest.id
                    dep_hash_parts.append(latest.content_hash)
        content_hash = hashlib.sha256(
            (pid + "\0" + pb.bundle.content_hash() + "\0" + "\0".join(dep_hash_parts)).encode()
        ).hexdigest()
        hashes[pid] = content_hash
        latest = definitions.latest_definition(session, pid)
        if latest is not None and latest.content_hash == content_hash:
            results[pid] = DeployResult(pid, latest.version, "unchanged", latest.id, latest.name, pb.bundle.source)
            continue
        definition = definitions.store_version(session, pid, pb.processes.get(pid), content_hash, pb.bundle.files,
                                               deps, actor, clock.now(), pb.bundle.source)
        results[pid] = DeployResult(pid, definition.version, "deployed", definition.id, definition.name,
                                    pb.bundle.source)
    return [results[pid] for _pb, pid in order]



def _parsers_of(session: Session, definition: store.ProcessDefinition) -> dict:
    specs.SPECS.get(session, definition)  # validates that it loads
    return specs.definition_parser(session, definition)[0].process_parsers


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
