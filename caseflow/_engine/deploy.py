"""Deploying bundles: validate everything, then store a new version of each changed process.

Nothing is stored when any problem is found (:class:`DeployRejected` lists them all, each
with its file, element and line where known).
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field, replace
from typing import Any

import jsonschema
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser.process import VALIDATOR
from SpiffWorkflow.spiff.specs.defaults import ServiceTask
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from caseflow import bundles, clock, store
from caseflow import manifest as manifests
from caseflow._engine import definitions, form_rules, scripting, specs
from caseflow._engine.adapters import CaseflowParser
from caseflow._engine.deploy_checks import (
    BPMN_NS,
    SPIFF_NS,
    _bpmn,
    _problem_from_validation,
    _root_problem,
    _spiff_problems,
    _structure_problems,
    _unexpected,
)
from caseflow._engine.errors import DeployRejected
from service_tasks import registry as operators

log = logging.getLogger("caseflow.engine")

_MAX_KEY = store.ProcessDefinition.__table__.c.key.type.length  # type: ignore[attr-defined]
_MAX_NAME = store.ProcessDefinition.__table__.c.name.type.length  # type: ignore[attr-defined]


@dataclass
class DeployResult:
    """One process of a deployment: its key, version and whether a new version was stored."""

    key: str
    version: int
    status: str  # deployed | unchanged | valid (a check only: it would be deployed; nothing stored)
    definition_id: int | None  # None: valid
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
    calls: dict[str, tuple[str, str | None, int | None]] = field(default_factory=dict)  # called -> a caller





def _read_tree(name: str, text: str, problems: list[bundles.Problem]) -> Any | None:
    """The checked XML tree of one file (safe parsing, BPMN root, XSD), or None after adding its problems."""
    try:
        tree = bundles.parse_xml(name, text)
    except bundles.BundleError as err:
        problems.extend(err.problems)
        return None
    if name.endswith(".dmn"):
        return tree
    root_problem = _root_problem(name, tree)
    if root_problem is not None:
        problems.append(root_problem)
        return None
    try:
        VALIDATOR.validate(tree, name)
    except ValidationException as err:
        problems.append(_problem_from_validation(err, {}, name, prefix="not valid BPMN 2.0: "))
        return None
    return tree


def _process_name(name: str | None) -> str | None:
    """A process name as stored: whitespace collapsed (modelers keep line breaks), cut to the column's size."""
    if name is None:
        return None
    text = " ".join(name.split())
    return text if len(text) <= _MAX_NAME else text[:_MAX_NAME - 1] + "…"


def _parse_bundle(bundle: bundles.Bundle, problems: list[bundles.Problem]) -> _ParsedBundle | None:
    """Check and parse every file of a bundle; None (with ``problems`` added) when any has a problem."""
    before = len(problems)
    trees: dict[str, Any] = {}
    for name in bundle.bpmn_names + bundle.dmn_names:
        tree = _read_tree(name, bundle.files[name], problems)
        if tree is not None:
            trees[name] = tree
    if not bundle.bpmn_names:
        problems.append(bundles.Problem("bundle has no .bpmn file", file=bundle.source))
    if len(problems) > before:
        return None
    bpmn_trees = {n: t for n, t in trees.items() if n.endswith(".bpmn")}
    try:
        problems.extend(_structure_problems(bpmn_trees))
        for name, tree in bpmn_trees.items():
            problems.extend(_spiff_problems(name, tree))
            problems.extend(bundles.Problem(
                f"element id {op!r} is also the name of the service operator it calls; SpiffWorkflow "
                f"indexes both by id, so give the task another id", file=name, element=op, line=line)
                for op, line in _operator_id_clashes(tree))
    except Exception as err:  # a check must never be the reason a deployment crashes
        problems.append(_unexpected(err, "checking the diagram", bundle.bpmn_names[0], {}))
    if len(problems) > before:
        return None

    parser = CaseflowParser()  # without a validator: _read_tree validated the files against the XSDs
    lines: dict[str, tuple[str, int]] = {}
    processes: dict[str, str | None] = {}
    for name, tree in trees.items():
        lines.update({k: (name, v) for k, v in bundles.element_lines(tree).items()})
        try:
            if name.endswith(".bpmn"):
                parser.add_bpmn_xml(tree, filename=name)
                for proc in _bpmn(tree, "process"):
                    pid = proc.get("id")
                    if pid and (proc.get("isExecutable") or "true").lower() != "false":
                        processes[pid] = _process_name(proc.get("name"))
                        if len(pid) > _MAX_KEY:
                            problems.append(bundles.Problem(f"process id is longer than {_MAX_KEY} characters",
                                                            file=name, element=pid[:40] + "…", line=proc.sourceline))
            else:
                parser.add_dmn_xml(tree.getroot(), filename=name)
        except ValidationException as err:
            problems.append(_problem_from_validation(err, lines, name))
        except Exception as err:  # SpiffWorkflow raises plain exceptions for some structural errors
            problems.append(_unexpected(err, "reading the file", name, lines))
    if len(problems) == before and not processes:
        first = next(((n, p) for n, t in bpmn_trees.items() for p in _bpmn(t, "process")), None)
        if first is None:
            problems.append(bundles.Problem("the file defines no process (bpmn:process), only other elements "
                                            "such as a collaboration", file=bundle.bpmn_names[0]))
        else:
            problems.append(bundles.Problem(
                'no executable process: every process has isExecutable="false"; set isExecutable="true" on '
                'the one Caseflow should run', file=first[0], element=first[1].get("id"), line=first[1].sourceline))
    if len(problems) > before:
        return None
    calls = {ca.get("calledElement") or "": (name, ca.get("id"), ca.sourceline)
             for name, tree in bpmn_trees.items() for ca in _bpmn(tree, "callActivity")}
    return _ParsedBundle(bundle, parser, lines, processes, calls=calls)


def _operator_id_clashes(tree: Any) -> list[tuple[str, int]]:
    """(operator name, line) of flow elements whose id equals a serviceTaskOperator id."""
    operators_used = {el.get("id") for el in tree.iter(f"{{{SPIFF_NS}}}serviceTaskOperator")} - {None}
    return [(el.get("id"), el.sourceline) for el in tree.iter()
            if isinstance(el.tag, str) and el.tag.startswith(f"{{{BPMN_NS}}}") and el.get("id") in operators_used]


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
        except Exception as err:  # SpiffWorkflow's task parsers raise plain exceptions too
            problems.append(_unexpected(err, f"building process {pid!r}", None, pb.lines, pid))
            continue
        built = [spec] + [s for k, s in subs.items() if k in pb.processes or k not in pb.external_calls]
        for ts in (t for s in built for t in s.task_specs.values()):
            where = pb.lines.get(ts.bpmn_id or "", (None, None))
            if isinstance(ts, ServiceTask) and ts.operation_name not in registered:
                problems.append(bundles.Problem(
                    f"service operator {ts.operation_name!r} is not registered "
                    f"(see `caseflow operators`)", file=where[0], element=ts.bpmn_id, line=where[1]))
            problems.extend(bundles.Problem(f"{ts.bpmn_name or ts.bpmn_id or ts.name!r}, {problem}", file=where[0],
                                            element=ts.bpmn_id, line=where[1])
                            for problem in scripting.script_problems(ts) + scripting.definition_problems(ts))
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
                    problems.extend(bundles.Problem(p, file=form)
                                    for p in form_rules.problems(schema) + form_rules.not_before_problems(schema))


def deploy(session: Session, paths: list[Any], actor: str = "system", if_new: bool = False,
           check_only: bool = False) -> list[DeployResult]:
    """Validate the bundles at ``paths`` and store a new version of each changed process.

    Raises :class:`DeployRejected` with every problem found; nothing is stored then.
    """
    try:
        found = bundles.collect(paths)
    except bundles.BundleError as err:
        raise DeployRejected(err.problems) from err
    return deploy_bundles(session, found, actor, if_new, check_only)


def deploy_bundles(session: Session, found: list[bundles.Bundle], actor: str = "system",
                   if_new: bool = False, check_only: bool = False) -> list[DeployResult]:
    """Validate and store already-collected bundles (uploads use this).

    A process whose content equals its latest version is ``unchanged``; with ``if_new``, so is one
    whose content equals any version stored before (the version reported is that one), so seeding
    the shipped bundles again never puts them above versions deployed since. With ``check_only``
    nothing is stored (a savepoint is rolled back): a version it would store is ``valid``.

    Whatever the files hold, validation ends in :class:`DeployRejected` or in stored versions:
    an exception no check foresaw becomes a problem (and is logged with its traceback).
    Database errors are not the files' fault and propagate as they are.
    """
    try:
        parsed = _validate(session, found)
    except (DeployRejected, SQLAlchemyError):
        raise
    except Exception as err:
        raise DeployRejected([_unexpected(err, "validating the bundle", found[0].source if found else None, {})]) \
            from err
    if not check_only:
        return _store(session, parsed, actor, if_new)
    nested = session.begin_nested()
    try:
        stored = _store(session, parsed, actor, if_new)
    finally:
        nested.rollback()
    return [replace(r, status="valid", definition_id=None) if r.status == "deployed" else r for r in stored]


def _validate(session: Session, found: list[bundles.Bundle]) -> list[_ParsedBundle]:
    """Parse and check every bundle, resolving call activities; raises :class:`DeployRejected`."""
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
        called_ids = {c for c in pb.parser.get_process_dependencies() if c}  # blank ones are problems already
        for called in sorted(called_ids - set(pb.parser.process_parsers)):
            file, element, line = pb.calls.get(called, (pb.bundle.bpmn_names[0], None, None))
            if called in owner:
                _add_callee(pb, called, owner[called], problems)
                continue
            latest = definitions.latest_definition(session, called)
            if latest is None:
                problems.append(bundles.Problem(f"call activity target {called!r} is neither in the bundle nor "
                                                f"deployed", file=file, element=element, line=line))
                continue
            try:
                pb.parser.process_parsers.update(_parsers_of(session, latest))
            except (SQLAlchemyError, DeployRejected):
                raise
            except Exception as err:
                problems.append(_unexpected(err, f"loading deployed version {latest.version} of {called!r}",
                                            file, {}, element))
                continue
            pb.external_calls[called] = f"definition:{latest.id}"
    if problems:
        raise DeployRejected(problems)
    for pb in parsed:
        try:
            _check_specs(pb, problems)
        except (SQLAlchemyError, DeployRejected):
            raise
        except Exception as err:
            problems.append(_unexpected(err, "checking the processes", pb.bundle.bpmn_names[0], pb.lines))
    if problems:
        raise DeployRejected(problems)
    return parsed


def _add_callee(pb: _ParsedBundle, called: str, callee: _ParsedBundle, problems: list[bundles.Problem]) -> None:
    """Add the bundle of this deployment that defines ``called`` to ``pb``'s parser."""
    try:
        specs.add_bundle_files(pb.parser, callee.bundle.files)
    except ValidationException as err:
        problems.append(_problem_from_validation(err, callee.lines))
        return
    except bundles.BundleError as err:
        problems.extend(err.problems)
        return
    pb.external_calls[called] = "bundle"


def _store(session: Session, parsed: list[_ParsedBundle], actor: str, if_new: bool) -> list[DeployResult]:
    """Store a new version of each changed process of validated bundles, callees first."""
    # Store callees first so callers can record the definition they call.
    results: dict[str, DeployResult] = {}
    ids: dict[str, int] = {}  # the definition each process of the deployment is (callers record their callees')
    order = _deploy_order(parsed)
    hashes: dict[str, str] = {}
    for pb, pid in order:
        deps: dict[str, int] = {}
        dep_hash_parts = []
        for called in sorted(pb.external_calls):
            if called in ids:
                deps[called] = ids[called]
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
        same = latest if latest is not None and latest.content_hash == content_hash else None
        if same is None and if_new and latest is not None:
            same = definitions.definition_with_content(session, pid, content_hash)
        if same is not None:
            results[pid] = DeployResult(pid, same.version, "unchanged", same.id, same.name, pb.bundle.source)
            ids[pid] = same.id
            continue
        definition = definitions.store_version(session, pid, pb.processes.get(pid), content_hash, pb.bundle.files,
                                               deps, actor, clock.now(), pb.bundle.source)
        results[pid] = DeployResult(pid, definition.version, "deployed", definition.id, definition.name,
                                    pb.bundle.source)
        ids[pid] = definition.id
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
