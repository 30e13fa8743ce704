"""The sandbox of scripts, conditions and timer expressions: RestrictedPython plus budgets.

Diagrams come from process owners, not system admins, so their code must never reach the
host. Code is compiled with RestrictedPython (:func:`compile_checked`) under
:class:`CaseflowPolicy`: no imports, no names or attributes starting with ``_``, no frame,
code or generator internals, no ``str.format``, no classes, ``with``, ``yield`` or
``global``. Every attribute read, item read, iteration and write goes through the guards of
:func:`restricted_globals`; the builtins are a short safe list plus Caseflow's date helpers.

Two budgets hold for each run (:func:`run_limited`, :class:`Budget`):

- *time*: every loop body, comprehension, function, lambda, handler and ``finally`` block
  of a script starts with a budget check, which stops the script once its deadline passes
  (``CASEFLOW_SCRIPT_TIMEOUT_S``) and keeps stopping it, so it cannot catch its way past it;
- *size*: ``*``, ``**``, ``<<``, ``+``, ``%``, ``range``, the list/tuple/set/dict constructors,
  ``sum`` and the growing string methods refuse, before building it, a value larger than
  ``CASEFLOW_SCRIPT_MAX_BYTES``; integers are capped at :data:`MAX_INT_BITS`; the process's
  resident memory is watched during the run as a backstop.

A refused script raises :class:`ScriptRejected`, an exhausted budget
:class:`ScriptBudgetExceeded` (both :class:`SandboxError`).
"""
from __future__ import annotations

import ast
import builtins
import datetime as dt
import re
import types
from functools import lru_cache
from typing import Any, cast

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import full_write_guard, guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, RestrictingNodeTransformer, copy_locations

from caseflow import clock
from caseflow._engine.sandbox_budget import (  # noqa: F401  (re-exported: the sandbox's one API)
    MAX_FORMAT_WIDTH,
    MAX_INT_BITS,
    SCRIPT_FILENAME,
    Budget,
    SandboxError,
    ScriptBudgetExceeded,
    ScriptRejected,
    _budget_check,
    budget,
    run_limited,
    set_budget,
)
from caseflow._engine.sandbox_guards import (  # noqa: F401
    FORBIDDEN_ATTRIBUTES,
    _apply,
    _binop,
    _container,
    _forbidden_attribute,
    _guarded_getitem,
    _guarded_getiter,
    _GuardedType,
    _inplacevar,
    _range,
    _sorted,
    _sum,
    check_binop,
    guarded_getattr,
)

#: Builtins a script can never call (they are not among its builtins either; refused at deploy).
FORBIDDEN_CALLS = frozenset((
    "type", "vars", "dir", "globals", "locals", "getattr", "setattr", "delattr", "hasattr", "open",
    "compile", "input", "help", "memoryview", "object", "super",
    "exit", "quit", "iter", "next", "classmethod", "staticmethod", "property", "issubclass", "format",
    "bytes", "bytearray", "id", "callable", "aiter", "anext", "license", "credits", "copyright",
))
_GUARDED_BINOPS: dict[type[ast.operator], str] = {ast.Add: "+", ast.Mult: "*", ast.Pow: "**",
                                                  ast.LShift: "<<", ast.Mod: "%"}




class CaseflowPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, narrowed for process scripts and with the size guards woven in."""

    def _refuse(self, node: ast.AST, message: str) -> None:
        self.error(node, message)

    # statements scripts do not need
    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        self._refuse(node, "class definitions are not allowed in scripts")
        return node

    def visit_With(self, node: ast.With) -> Any:
        self._refuse(node, "with statements are not allowed in scripts")
        return node

    def visit_Yield(self, node: ast.Yield) -> Any:
        self._refuse(node, "yield is not allowed in scripts")
        return node

    visit_YieldFrom = visit_Yield  # type: ignore[assignment]

    def visit_Global(self, node: ast.Global) -> Any:
        self._refuse(node, "global statements are not allowed in scripts")
        return node

    def visit_Import(self, node: ast.Import) -> Any:
        self._refuse(node, "imports are not allowed in scripts")
        return node

    visit_ImportFrom = visit_Import  # type: ignore[assignment]

    def visit_Name(self, node: ast.Name) -> Any:
        if node.id in ("print", "printed"):
            self._refuse(node, "print is not available in scripts (they have no output)")
            return node
        return super().visit_Name(node)

    def visit_Call(self, node: ast.Call) -> Any:
        func = node.func
        if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
            self._refuse(node, f"{func.id}() is not allowed in scripts")
        return super().visit_Call(node)

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        if _forbidden_attribute(node.attr) and node.attr not in INSPECT_ATTRIBUTES:
            self._refuse(node, f"the attribute {node.attr!r} is not allowed in scripts")
        return super().visit_Attribute(node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        spec = node.format_spec
        if isinstance(spec, ast.JoinedStr):
            if any(not isinstance(part, ast.Constant) for part in spec.values):
                self._refuse(node, "computed format specs in f-strings are not allowed in scripts")
            else:
                text = "".join(str(part.value) for part in spec.values if isinstance(part, ast.Constant))
                if any(int(n) > MAX_FORMAT_WIDTH for n in re.findall(r"\d+", text)):
                    self._refuse(node, f"f-string fields may be at most {MAX_FORMAT_WIDTH:,} wide")
        return super().visit_FormattedValue(node)

    # the size guards: a op b -> _binop_("op", a, b) for the operators that can grow values
    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        symbol = _GUARDED_BINOPS.get(type(node.op))
        if symbol is None:
            return node
        call = ast.Call(func=ast.Name("_binop_", ast.Load()), args=[ast.Constant(symbol), node.left, node.right],
                        keywords=[])
        copy_locations(call, node)
        return call

    # the time budget: each place a script can spend time in starts with _budget_check_()
    def visit_Try(self, node: ast.Try) -> Any:
        node = self.node_contents_visit(node)
        for handler in node.handlers:
            handler.body.insert(0, self._check_stmt(handler))
        if node.finalbody:
            node.finalbody.insert(0, self._check_stmt(node.finalbody[0]))
        return node

    def visit_While(self, node: ast.While) -> Any:
        node = cast(ast.While, super().visit_While(node))
        node.body.insert(0, self._check_stmt(node))
        return node

    def visit_For(self, node: ast.For) -> Any:
        node = cast(ast.For, super().visit_For(node))
        node.body.insert(0, self._check_stmt(node))
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        node = cast(ast.FunctionDef, super().visit_FunctionDef(node))
        node.body.insert(0, self._check_stmt(node))
        return node

    def visit_Lambda(self, node: ast.Lambda) -> Any:
        node = cast(ast.Lambda, super().visit_Lambda(node))
        node.body = ast.IfExp(test=self._check_call(node), body=node.body, orelse=ast.Constant(None))
        copy_locations(node.body, node)
        return node

    def visit_comprehension(self, node: ast.comprehension) -> Any:
        node = cast(ast.comprehension, super().visit_comprehension(node))
        node.ifs.insert(0, self._check_call(node.iter))
        return node

    @staticmethod
    def _check_call(where: ast.AST) -> ast.Call:
        call = ast.Call(func=ast.Name("_budget_check_", ast.Load()), args=[], keywords=[])
        copy_locations(call, where)  # type: ignore[arg-type]
        return call

    @classmethod
    def _check_stmt(cls, where: ast.AST) -> ast.Expr:
        stmt = ast.Expr(cls._check_call(where))
        copy_locations(stmt, where)  # type: ignore[arg-type]
        return stmt


@lru_cache(maxsize=4096)
def compile_checked(source: str, mode: str) -> types.CodeType:
    """Check and compile ``source`` (``mode`` is ``eval`` or ``exec``) with RestrictedPython; cached.

    Raises :class:`ScriptRejected` naming each problem with its line.
    """
    if mode not in ("eval", "exec"):
        raise ValueError(f"unknown mode {mode!r}")
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    result = compiler(source, filename=SCRIPT_FILENAME, policy=CaseflowPolicy)
    if result.errors or result.code is None:
        problems = [re.sub(r"^Line (\d+): ", r"line \1: ", e) for e in result.errors] or ["cannot be compiled"]
        raise ScriptRejected("; ".join(dict.fromkeys(problems)))
    return result.code


# -- guards ------------------------------------------------------------------------------------

SAFE_BUILTIN_NAMES = (
    "abs", "all", "any", "bool", "divmod", "enumerate", "filter", "float", "int", "isinstance", "len", "map",
    "max", "min", "reversed", "round", "str", "zip", "chr", "ord", "True", "False", "None",
    "Exception", "ValueError", "KeyError", "TypeError", "IndexError", "LookupError", "ArithmeticError",
    "ZeroDivisionError",
)
SAFE_BUILTINS: dict[str, Any] = {name: getattr(builtins, name) for name in SAFE_BUILTIN_NAMES}
SAFE_BUILTINS.update({
    "list": _GuardedType(list, _container(list)),
    "tuple": _GuardedType(tuple, _container(tuple)),
    "set": _GuardedType(set, _container(set)),
    "dict": _GuardedType(dict, _container(dict)),
    "range": _GuardedType(range, _range),
    "sorted": _sorted,
    "sum": _sum,
})


# -- Caseflow's helpers ------------------------------------------------------------------------

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

#: The names RestrictedPython's compiled code calls, and Caseflow's guards.
GUARDS: dict[str, Any] = {
    "_getattr_": guarded_getattr,
    "_getitem_": _guarded_getitem,
    "_getiter_": _guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": _inplacevar,
    "_apply_": _apply,
    "_binop_": _binop,
    "_budget_check_": _budget_check,
}


def restricted_globals() -> dict[str, Any]:
    """The globals every script run starts from: safe builtins, the guards and the helpers."""
    return {"__builtins__": SAFE_BUILTINS, **GUARDS, **HELPERS}


def cause(err: BaseException | None) -> SandboxError | None:
    """The sandbox refusal or budget stop behind ``err`` (SpiffWorkflow wraps them), if any."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, SandboxError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None
