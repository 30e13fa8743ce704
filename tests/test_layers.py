"""The layers of Caseflow: which project modules may import which.

Every project module (the top-level modules such as ``engine.py``, and ``caseflow/``,
``service_tasks/``, ``schema/``, ``web/``) is parsed, never imported, and each import
statement in it is checked -- top-level and function-local ones alike, ``if TYPE_CHECKING:``
blocks included, relative imports resolved, and ``importlib.import_module("...")`` /
``__import__("...")`` with a literal name counted as imports too.

The rules, one test each:

- the rules (``service_tasks``) never reach the engine, the store, the web UI or the CLI;
- the store (``caseflow.store`` and its Alembic ``caseflow.migrations``) knows nothing above it;
- the engine (``engine`` and ``caseflow._engine``) knows neither the web UI nor the CLI;
- the CLI (``caseflow.cli``) does not import the web UI;
- only ``caseflow._engine`` imports SpiffWorkflow (not even the ``engine`` facade does);
- the API schemas (``schema``) import neither the web UI nor SpiffWorkflow.
"""
from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("caseflow", "service_tasks", "schema", "web")
SKIP_PARTS = {".venv", "node_modules", "__pycache__", "tests", "bench"}


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    importers: tuple[str, ...]  # modules (and their submodules) the rule applies to
    forbidden: tuple[str, ...]  # modules (and their submodules) they must not import
    exempt: tuple[str, ...] = ()  # importers the rule does not apply to


RULES = [
    Rule("rules-stay-pure", "service_tasks (the rules) never import the engine, the store, the web UI or the CLI",
         ("service_tasks",), ("engine", "caseflow.store", "caseflow._engine", "web", "caseflow.cli")),
    Rule("store-at-the-bottom", "caseflow.store and caseflow.migrations import no engine, web or CLI",
         ("caseflow.store", "caseflow.migrations"), ("engine", "caseflow._engine", "web", "caseflow.cli")),
    Rule("engine-below-ui", "engine and caseflow._engine import neither the web UI nor the CLI",
         ("engine", "caseflow._engine"), ("web", "caseflow.cli")),
    Rule("cli-without-web", "caseflow.cli does not import the web UI",
         ("caseflow.cli",), ("web",)),
    Rule("spiff-only-in-engine-internals", "only modules under caseflow._engine import SpiffWorkflow",
         ("",), ("SpiffWorkflow",), exempt=("caseflow._engine",)),
    Rule("schema-standalone", "schema imports neither the web UI nor SpiffWorkflow",
         ("schema",), ("web", "SpiffWorkflow")),
]


@dataclass(frozen=True)
class Import:
    path: Path
    line: int
    module: str  # the importing module, e.g. "caseflow.cli.admin"
    target: str  # the imported module, e.g. "web.accounts"


def within(name: str, prefix: str) -> bool:
    """``name`` is ``prefix`` or one of its submodules (``""`` contains every module)."""
    return prefix == "" or name == prefix or name.startswith(prefix + ".")


def project_files() -> list[Path]:
    files = sorted(p for p in ROOT.glob("*.py") if p.is_file())
    for package in PACKAGES:
        files += sorted(p for p in (ROOT / package).rglob("*.py")
                        if not SKIP_PARTS.intersection(p.relative_to(ROOT).parts))
    return files


def module_name(path: Path) -> tuple[str, bool]:
    """The dotted module name of ``path`` and whether it is a package ``__init__``."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute module of ``from <level dots><name> import ...`` inside ``module``."""
    if level == 0:
        return name or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, name] if name else base)


def imports_of(source: str, module: str, is_package: bool = False, path: Path = ROOT) -> list[Import]:
    """Every import in ``source`` (all nesting levels): for ``from X import a`` both ``X`` and ``X.a``."""
    found: list[Import] = []
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.Import):
            found += [Import(path, node.lineno, module, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            found.append(Import(path, node.lineno, module, base))
            found += [Import(path, node.lineno, module, f"{base}.{alias.name}" if base else alias.name)
                      for alias in node.names if alias.name != "*"]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if called in ("import_module", "__import__"):
                found.append(Import(path, node.lineno, module, node.args[0].value))
    return found


@functools.cache
def project_imports() -> list[Import]:
    """The imports of every project module (parsed once per test session)."""
    out: list[Import] = []
    for path in project_files():
        module, is_package = module_name(path)
        out += imports_of(path.read_text(encoding="utf-8"), module, is_package, path)
    return out


def violations(rule: Rule, imports: list[Import]) -> list[str]:
    """``file:line: module imports target`` for each import that breaks ``rule``, sorted."""
    # keyed by statement and forbidden module: `from web import a, b` is reported once, as `web`
    found: dict[tuple[str, int, str], Import] = {}
    for imp in imports:
        if not any(within(imp.module, p) for p in rule.importers):
            continue
        if any(within(imp.module, p) for p in rule.exempt):
            continue
        where = str(imp.path.relative_to(ROOT) if imp.path.is_relative_to(ROOT) else imp.path)
        for forbidden in rule.forbidden:
            key = (where, imp.line, forbidden)
            if within(imp.target, forbidden) and (key not in found or len(imp.target) < len(found[key].target)):
                found[key] = imp
    return [f"{where}:{line}: {imp.module} imports {imp.target}" for (where, line, _), imp in sorted(
        found.items(), key=lambda item: item[0])]


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_layer_rule(rule: Rule):
    found = violations(rule, project_imports())
    assert not found, f"layer rule broken: {rule.description}\n" + "\n".join(
        f"  {line}  [rule {rule.id}]" for line in found)


def test_every_layer_has_modules_to_check():
    """A rule over modules that moved away would pass without checking anything."""
    modules = {module_name(p)[0] for p in project_files()}
    for rule in RULES:
        for prefix in rule.importers:
            assert any(within(m, prefix) for m in modules), f"rule {rule.id}: no module {prefix!r} found"
    assert not any("tests" in p.relative_to(ROOT).parts for p in project_files())


def test_the_checker_sees_local_relative_and_dynamic_imports():
    source = """
import os
from caseflow import store, clock
from . import sibling
from ..cli import admin

def later():
    import web.views
    from SpiffWorkflow.bpmn import BpmnWorkflow
    importlib.import_module("web.api")
"""
    targets = {(i.line, i.target) for i in imports_of(source, "caseflow._engine.run")}
    assert {(2, "os"), (3, "caseflow.store"), (3, "caseflow.clock"), (4, "caseflow._engine.sibling"),
            (5, "caseflow.cli"), (5, "caseflow.cli.admin"), (8, "web.views"),
            (9, "SpiffWorkflow.bpmn"), (10, "web.api")} <= targets
    package = {i.target for i in imports_of("from . import store\nfrom .cli import main", "caseflow", True)}
    assert {"caseflow.store", "caseflow.cli", "caseflow.cli.main"} <= package
    rule = next(r for r in RULES if r.id == "engine-below-ui")
    assert violations(rule, imports_of(source, "caseflow._engine.run", path=ROOT / "x.py")) == [
        "x.py:5: caseflow._engine.run imports caseflow.cli", "x.py:8: caseflow._engine.run imports web.views",
        "x.py:10: caseflow._engine.run imports web.api"]
    spiff = next(r for r in RULES if r.id == "spiff-only-in-engine-internals")
    assert not violations(spiff, imports_of(source, "caseflow._engine.run"))
    assert violations(spiff, imports_of(source, "engine", path=ROOT / "engine.py")) == [
        "engine.py:9: engine imports SpiffWorkflow.bpmn"]
    assert not within("webhooks", "web") and within("web", "web") and within("web.api", "web")


def test_only_the_engine_package_names_spiffworkflow():
    """The architecture's check, as its issue states it: ``grep -rl SpiffWorkflow --include=*.py``
    over the project (tests and benchmarks aside) lists only ``caseflow/_engine``."""
    naming = [str(p.relative_to(ROOT)) for p in project_files()
              if "SpiffWorkflow" in p.read_text(encoding="utf-8")
              and not p.relative_to(ROOT).parts[:2] == ("caseflow", "_engine")]
    assert naming == []
