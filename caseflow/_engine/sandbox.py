"""The rules of the restricted Python environment for scripts, conditions and timers.

Diagrams come from process owners, so their scripts must not reach the host: no
imports, no names or attributes starting with an underscore (which closes the usual
``().__class__.__mro__`` escapes), a short list of safe builtins, and date helpers that
read Caseflow's clock. ``engine`` runs SpiffWorkflow's scripts through these rules.
"""
from __future__ import annotations

import ast
import builtins
import datetime as dt
from functools import lru_cache
from typing import Any

from caseflow import clock

SAFE_BUILTIN_NAMES = (
    "abs", "all", "any", "bool", "dict", "divmod", "enumerate", "filter", "float", "int",
    "isinstance", "len", "list", "map", "max", "min", "range", "reversed", "round", "set",
    "sorted", "str", "sum", "tuple", "zip", "True", "False", "None",
    "Exception", "ValueError", "KeyError", "TypeError",
)
SAFE_BUILTINS = {name: getattr(builtins, name) for name in SAFE_BUILTIN_NAMES}


class ScriptRejected(Exception):
    """A script or expression uses something the sandbox does not allow."""


def _now() -> dt.datetime:
    return clock.now()


def _today() -> dt.date:
    return clock.now().date()


def _parse_datetime(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


HELPERS: dict[str, Any] = {
    "now": _now,
    "today": _today,
    "datetime": dt.datetime,
    "date": dt.date,
    "timedelta": dt.timedelta,
    "timezone": dt.timezone,
    "parse_datetime": _parse_datetime,
}


class _Checker(ast.NodeVisitor):
    def visit_Import(self, node: ast.AST) -> None:
        raise ScriptRejected("imports are not allowed in scripts")

    visit_ImportFrom = visit_Import

    def visit_Name(self, node: ast.Name) -> None:
        if node.id.startswith("_"):
            raise ScriptRejected(f"the name {node.id!r} is not allowed in scripts")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr.startswith("_"):
            raise ScriptRejected(f"the attribute {node.attr!r} is not allowed in scripts")
        self.generic_visit(node)

    def _no_underscore_def(self, node: Any) -> None:
        if node.name.startswith("_"):
            raise ScriptRejected(f"the name {node.name!r} is not allowed in scripts")
        self.generic_visit(node)

    visit_FunctionDef = visit_ClassDef = _no_underscore_def

    def visit_Global(self, node: ast.AST) -> None:
        raise ScriptRejected("global/nonlocal statements are not allowed in scripts")

    visit_Nonlocal = visit_Global


@lru_cache(maxsize=4096)
def compile_checked(source: str, mode: str) -> Any:
    """Parse, check and compile ``source`` (``mode`` is ``eval`` or ``exec``); cached."""
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as err:
        raise ScriptRejected(f"syntax error: {err.msg} (line {err.lineno})") from err
    _Checker().visit(tree)
    return compile(tree, "<script>", mode)  # type: ignore[call-overload]  # typeshed lacks ast.mod
