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
import math
import operator
import os
import re
import sys
import threading
import time
import types
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache, partial
from itertools import islice
from typing import Any, cast

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import full_write_guard, guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.Guards import safer_getattr_raise as _rp_getattr_raise
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, RestrictingNodeTransformer, copy_locations

from caseflow import clock, config

#: Scripts are compiled under this file name (SpiffWorkflow reads error lines of ``<string>`` frames).
SCRIPT_FILENAME = "<string>"
#: The largest integer a script may build (bits), whatever the memory budget: big-number
#: arithmetic costs time in C where no trace function can stop it.
MAX_INT_BITS = 100_000
#: The widest field an f-string format spec may ask for.
MAX_FORMAT_WIDTH = 100_000
_SLOT_BYTES = 8  # one reference in a list or tuple
_ITEM_BYTES = 40  # a reference and a new small object (a list built from an iterator)
_RSS_CHECK_BYTES = 64 * 1024  # values at least this big also look at the process's memory
_RSS_EVERY = 512  # budget checks between two looks at the process's memory


class SandboxError(Exception):
    """A script or expression was refused or stopped by the sandbox."""


class ScriptRejected(SandboxError):
    """A script or expression uses something the sandbox does not allow."""


class ScriptBudgetExceeded(SandboxError):
    """A script ran longer, or would build a larger value, than its budget allows."""


# -- budgets -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Budget:
    """What one script or expression run may use."""

    timeout_s: float
    max_bytes: int

    @property
    def max_items(self) -> int:
        """The most references a list, tuple, set or dict of a script may hold."""
        return max(self.max_bytes // _SLOT_BYTES, 1)


_budget: Budget | None = None


def budget() -> Budget:
    """The budget of script runs (from the settings, read once)."""
    global _budget
    if _budget is None:
        settings = config.load()
        _budget = Budget(settings.script_timeout_s, settings.script_max_bytes)
    return _budget


def set_budget(new: Budget | None) -> Budget | None:
    """Replace the budget (None: read the settings again on next use); returns the previous one."""
    global _budget
    previous, _budget = _budget, new
    return previous


def _size(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{int(n)} bytes"


Described = str | Callable[[], str]  # what is being built (a callable: computed only for the message)


def _what(what: Described) -> str:
    return what if isinstance(what, str) else what()


def _too_big(what: Described, estimate: float) -> ScriptBudgetExceeded:
    return ScriptBudgetExceeded(
        f"{_what(what)} would build a value of about {_size(estimate)}; scripts may build at most "
        f"{_size(budget().max_bytes)} (CASEFLOW_SCRIPT_MAX_BYTES)")


def _check_bytes(what: Described, estimate: float) -> None:
    """Refuse a value of ``estimate`` bytes over the budget (big ones also check process memory)."""
    if estimate > budget().max_bytes:
        raise _too_big(what, estimate)
    if estimate >= _RSS_CHECK_BYTES:
        run = getattr(_state, "run", None)
        if run is not None:
            run.check_memory(estimate)


def _check_int_bits(what: Described, bits: float) -> None:
    if bits > MAX_INT_BITS:
        raise ScriptBudgetExceeded(
            f"{_what(what)} would give an integer of about {int(bits):,} bits; scripts may use integers "
            f"of at most {MAX_INT_BITS:,} bits")


def _rss_bytes() -> int | None:
    """The resident memory of this process (Linux ``/proc``; None elsewhere)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_state = threading.local()


class _Run:
    """One limited run: its deadline, the memory it started with, and its budget check."""

    __slots__ = ("deadline", "timeout_s", "max_bytes", "rss_start", "stopped", "check")

    def __init__(self, limits: Budget) -> None:
        self.timeout_s = limits.timeout_s
        self.max_bytes = limits.max_bytes
        self.deadline = time.monotonic() + limits.timeout_s
        self.rss_start: int | None = None  # read at the first look at memory (a file read costs ~10 µs)
        self.stopped: ScriptBudgetExceeded | None = None  # once stopped, a run stays stopped
        self.check = self._checker()

    def stop(self, err: ScriptBudgetExceeded) -> ScriptBudgetExceeded:
        self.stopped = self.stopped or err
        return self.stopped

    def _checker(self) -> Callable[[], bool]:
        """The ``_budget_check_`` of this run's scope: True, or raises once the budget is spent."""
        deadline, monotonic, every = self.deadline, time.monotonic, _RSS_EVERY
        ticks = 0

        def check() -> bool:
            nonlocal ticks
            if self.stopped is not None:
                raise self.stopped
            if monotonic() > deadline:
                raise self.stop(ScriptBudgetExceeded(
                    f"the script ran longer than its time budget of {self.timeout_s:g} s "
                    f"(CASEFLOW_SCRIPT_TIMEOUT_S)"))
            ticks += 1
            if ticks % every == 0:
                try:
                    self.check_memory()
                except ScriptBudgetExceeded as err:
                    raise self.stop(err) from None
            return True

        return check

    def check_memory(self, coming: float = 0) -> None:
        """Refuse when the process grew (or would grow by ``coming``) more than the budget in this run."""
        now = _rss_bytes()
        if now is None:
            return
        if self.rss_start is None:
            self.rss_start = now
        grown = now - self.rss_start + coming
        if grown > self.max_bytes:
            raise ScriptBudgetExceeded(
                f"the script made the server grow by about {_size(grown)}; scripts may use at most "
                f"{_size(self.max_bytes)} (CASEFLOW_SCRIPT_MAX_BYTES)")


def run_limited(code: types.CodeType, scope: dict[str, Any]) -> Any:
    """Run compiled script ``code`` in ``scope`` under the budget; the value of an expression.

    The code checks its budget itself: :class:`CaseflowPolicy` puts a call of
    ``_budget_check_`` at the head of every loop body, comprehension, function, lambda,
    ``except`` and ``finally`` block, and this binds it to the run's deadline. (A trace
    function would do the same for every line or opcode: CPython 3.11 gives a one-line
    ``while True: pass`` no line events, and opcode tracing made scripts 15-50x slower.)
    A run inside a run keeps the outer deadline.
    """
    outer = getattr(_state, "run", None)
    if outer is not None:
        scope["_budget_check_"] = outer.check
        return eval(code, scope)  # noqa: S307 - compiled by RestrictedPython, run with its guards
    run = _Run(budget())
    scope["_budget_check_"] = run.check
    _state.run = run
    try:
        return eval(code, scope)  # noqa: S307 - exec-mode code runs as a module and gives None
    finally:
        _state.run = None


def _budget_check() -> bool:
    """The budget check outside a run (never called by a limited run, whose scope has its own)."""
    run = getattr(_state, "run", None)
    return run.check() if run is not None else True


# -- the compile policy ------------------------------------------------------------------------

#: Builtins a script can never call (they are not among its builtins either; refused at deploy).
FORBIDDEN_CALLS = frozenset((
    "type", "vars", "dir", "globals", "locals", "getattr", "setattr", "delattr", "hasattr", "open",
    "compile", "input", "help", "memoryview", "object", "super",
    "exit", "quit", "iter", "next", "classmethod", "staticmethod", "property", "issubclass", "format",
    "bytes", "bytearray", "id", "callable", "aiter", "anext", "license", "credits", "copyright",
))
#: Attributes a script can never read: string formatting (walks attributes from a format
#: string), the class hierarchy, tracebacks; frame, code and generator internals.
FORBIDDEN_ATTRIBUTES = frozenset(("format", "format_map", "mro", "with_traceback", "vformat", "get_field",
                                  "func_globals", "func_code")) | INSPECT_ATTRIBUTES
_FORBIDDEN_PREFIXES = ("gi_", "cr_", "ag_", "f_", "tb_", "co_")
_GUARDED_BINOPS: dict[type[ast.operator], str] = {ast.Add: "+", ast.Mult: "*", ast.Pow: "**",
                                                  ast.LShift: "<<", ast.Mod: "%"}


def _forbidden_attribute(name: str) -> bool:
    return name in FORBIDDEN_ATTRIBUTES or name.startswith(_FORBIDDEN_PREFIXES)


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

_MISSING = object()
_UNREACHABLE = (types.FrameType, types.CodeType, types.TracebackType, types.ModuleType)


def guarded_getattr(obj: Any, name: str, default: Any = _MISSING) -> Any:
    """``obj.name`` for scripts: RestrictedPython's ``safer_getattr`` rules plus Caseflow's.

    Refuses underscore names, ``str.format``/``format_map``, class-hierarchy and inspect
    attributes; never hands out a frame, code object, traceback or module; string methods that
    grow a value come back size-guarded.
    """
    if type(name) is not str:
        raise ScriptRejected("attribute names must be strings")
    if _forbidden_attribute(name) or name.startswith("_"):
        raise ScriptRejected(f"the attribute {name!r} is not allowed in scripts")
    try:
        value = _rp_getattr_raise(obj, name) if default is _MISSING else _rp_getattr_raise(obj, name, default)
    except NotImplementedError as err:  # RestrictedPython's refusal of format() and string.Formatter
        raise ScriptRejected(str(err)) from None
    if isinstance(value, _UNREACHABLE):
        raise ScriptRejected(f"the attribute {name!r} is not allowed in scripts")
    if isinstance(obj, (str, bytes)) and name in _STRING_GUARDS:
        return partial(_STRING_GUARDS[name], obj, value)
    if obj in (str, bytes) and name in _STRING_GUARDS:
        return partial(_unbound_string_method, _STRING_GUARDS[name], value)
    if isinstance(obj, list) and name == "extend":
        return partial(_guarded_extend, obj)
    return value


def _guarded_getitem(obj: Any, key: Any) -> Any:
    return obj[key]


def _guarded_getiter(obj: Any) -> Iterator[Any]:
    return iter(obj)


def _apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


def _unit(value: Any) -> int | None:
    """Bytes per element of a sequence that ``*`` and ``+`` repeat (None: not a sequence)."""
    if isinstance(value, (str, bytes)):
        return 1
    if isinstance(value, (list, tuple)):
        return _SLOT_BYTES
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "*": operator.mul, "**": operator.pow, "<<": operator.lshift, "%": operator.mod,
    "-": operator.sub, "/": operator.truediv, "//": operator.floordiv, ">>": operator.rshift,
    "|": operator.or_, "&": operator.and_, "^": operator.xor, "@": operator.matmul,
}
_IN_PLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd, "*=": operator.imul, "**=": operator.ipow, "<<=": operator.ilshift, "%=": operator.imod,
    "-=": operator.isub, "/=": operator.itruediv, "//=": operator.ifloordiv, ">>=": operator.irshift,
    "|=": operator.ior, "&=": operator.iand, "^=": operator.ixor, "@=": operator.imatmul,
}
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")


def check_binop(symbol: str, a: Any, b: Any) -> None:
    """Refuse ``a symbol b`` when its result would be over the budget (before computing it)."""
    def expr() -> str:
        return f"{_short(a)} {symbol} {_short(b)}"

    if symbol == "*":
        if _is_int(a) and _is_int(b):
            _check_int_bits(expr, a.bit_length() + b.bit_length())
        else:
            for seq, times in ((a, b), (b, a)):
                unit = _unit(seq)
                if unit is not None and _is_int(times):
                    _check_bytes(expr, len(seq) * max(times, 0) * unit)
    elif symbol == "**":
        if _is_int(a) and _is_int(b) and b > 0 and abs(a) > 1:
            _check_int_bits(expr, b * math.log2(abs(a)))
    elif symbol == "<<":
        if _is_int(a) and _is_int(b) and a != 0 and b > 0:
            _check_int_bits(expr, a.bit_length() + b)
    elif symbol == "+":
        unit = _unit(a)
        if unit is not None and _unit(b) is not None:
            _check_bytes(expr, (len(a) + len(b)) * unit)
    elif symbol == "%" and isinstance(a, (str, bytes)):
        text = a.decode("latin-1") if isinstance(a, bytes) else a
        widest = 0
        for match in _PERCENT_SPEC.finditer(text):
            for part in match.groups():
                if part == "*":
                    raise ScriptRejected("'*' widths in %-formatting are not allowed in scripts")
                if part:
                    widest = max(widest, int(part))
        count = len(b) if isinstance(b, tuple) else 1
        _check_bytes(expr, len(a) + widest * count)


def _short(value: Any) -> str:
    if _is_int(value):
        return str(value) if value.bit_length() < 64 else f"<integer of {value.bit_length():,} bits>"
    if isinstance(value, (str, bytes, list, tuple)):
        return repr(value) if len(value) <= 12 else f"<{type(value).__name__} of length {len(value):,}>"
    return type(value).__name__


_NUMBERS = frozenset((int, float, bool))


def _binop(symbol: str, a: Any, b: Any) -> Any:
    """``a symbol b`` with the size guard (the policy rewrites ``+ * ** << %`` to this)."""
    if type(a) in _NUMBERS and type(b) in _NUMBERS and (symbol == "+" or type(a) is float or type(b) is float):
        return _OPERATORS[symbol](a, b)  # the common case: cannot grow
    check_binop(symbol, a, b)
    return _OPERATORS[symbol](a, b)


def _inplacevar(op: str, target: Any, value: Any) -> Any:
    """``target op= value`` with the size guard (RestrictedPython rewrites augmented assignments)."""
    symbol = op[:-1]
    if symbol in ("+", "*", "**", "<<", "%"):
        check_binop(symbol, target, value)
    try:
        return _IN_PLACE[op](target, value)
    except KeyError:
        raise ScriptRejected(f"the operator {op} is not allowed in scripts") from None


# string methods that grow: each gets the string and the bound method, checks, then calls it
def _width_guard(s: Any, method: Callable[..., Any], width: Any = 0, *args: Any) -> Any:
    if _is_int(width):
        _check_bytes(f"{type(s).__name__}.{method.__name__}({width})", max(width, len(s)))
    return method(width, *args)


def _expandtabs_guard(s: Any, method: Callable[..., Any], tabsize: Any = 8) -> Any:
    if _is_int(tabsize):
        tab = "\t" if isinstance(s, str) else b"\t"
        _check_bytes(f"expandtabs({tabsize})", len(s) + s.count(tab) * max(tabsize, 0))
    return method(tabsize)


def _replace_guard(s: Any, method: Callable[..., Any], old: Any, new: Any, count: Any = -1) -> Any:
    if isinstance(old, (str, bytes)) and isinstance(new, (str, bytes)) and len(new) > len(old):
        times = s.count(old) if old else len(s) + 1
        if _is_int(count) and count >= 0:
            times = min(times, count)
        _check_bytes("replace()", len(s) + times * (len(new) - len(old)))
    return method(old, new, count)


def _join_guard(s: Any, method: Callable[..., Any], iterable: Iterable[Any]) -> Any:
    items = _materialize(iterable, "join()")
    try:
        total = sum(map(len, items)) + len(s) * max(len(items) - 1, 0)  # in C: no trace events per item
    except TypeError:
        return method(items)  # not all strings: join's own error
    _check_bytes("join()", total)
    return method(items)


def _split_guard(s: Any, method: Callable[..., Any], sep: Any = None, maxsplit: Any = -1) -> Any:
    parts = len(s) // 2 + 1 if sep is None else (s.count(sep) + 1 if sep else 1)
    if _is_int(maxsplit) and maxsplit >= 0:
        parts = min(parts, maxsplit + 1)
    _check_bytes(f"{method.__name__}()", len(s) + parts * 56)
    return method(sep, maxsplit)


def _splitlines_guard(s: Any, method: Callable[..., Any], keepends: Any = False) -> Any:
    newline, ret = ("\n", "\r") if isinstance(s, str) else (b"\n", b"\r")
    _check_bytes("splitlines()", len(s) + (s.count(newline) + s.count(ret) + 1) * 56)
    return method(keepends)


def _translate_guard(s: Any, method: Callable[..., Any], table: Any, *args: Any) -> Any:
    if isinstance(table, dict):
        longest = max((len(v) for v in table.values() if isinstance(v, (str, bytes))), default=1)
        _check_bytes("translate()", len(s) * max(longest, 1))
    return method(table, *args)


_STRING_GUARDS: dict[str, Callable[..., Any]] = {
    "ljust": _width_guard, "rjust": _width_guard, "center": _width_guard, "zfill": _width_guard,
    "expandtabs": _expandtabs_guard, "replace": _replace_guard, "join": _join_guard,
    "split": _split_guard, "rsplit": _split_guard, "splitlines": _splitlines_guard, "translate": _translate_guard,
}


def _unbound_string_method(guard: Callable[..., Any], method: Callable[..., Any], s: Any, *args: Any) -> Any:
    """``str.join(sep, items)`` and the like: the guard of the bound form."""
    if not isinstance(s, (str, bytes)):
        raise TypeError(f"{method.__name__}() needs a string")
    return guard(s, getattr(s, method.__name__), *args)


def _guarded_extend(target: list, iterable: Iterable[Any]) -> None:
    items = iterable if isinstance(iterable, (list, tuple, str, dict, set, frozenset)) \
        else _materialize(iterable, "extend()")
    _check_bytes("extend()", (len(target) + len(items)) * _SLOT_BYTES)
    target.extend(items)


def _materialize(iterable: Iterable[Any], what: Described) -> list[Any]:
    """``list(iterable)``, refused as soon as it would hold more than the budget allows."""
    limit = budget().max_bytes // _ITEM_BYTES
    if isinstance(iterable, range):
        _check_range(iterable, what)
        _check_bytes(what, len(iterable) * _ITEM_BYTES)
        return list(iterable)
    if isinstance(iterable, (list, tuple, str, bytes, dict, set, frozenset)):
        _check_bytes(what, len(iterable) * _SLOT_BYTES)
        return list(iterable)
    items = list(islice(iterable, limit + 1))  # in C, and never more than one item over the limit
    if len(items) > limit:
        raise _too_big(what, len(items) * _ITEM_BYTES)
    if len(items) * _ITEM_BYTES >= _RSS_CHECK_BYTES:
        _check_bytes(what, len(items) * _ITEM_BYTES)
    return items


def _check_range(r: range, what: Described = "range()") -> None:
    try:
        length = len(r)
    except OverflowError:
        length = sys.maxsize
    limit = budget().max_items
    if length > limit:
        raise ScriptBudgetExceeded(f"{_what(what)} of {length:,} numbers is more than scripts may use "
                                   f"(at most {limit:,}; CASEFLOW_SCRIPT_MAX_BYTES)")


class _GuardedType:
    """A builtin type whose constructor is size-guarded; ``isinstance`` and its methods still work."""

    __slots__ = ("_real", "_build")

    def __init__(self, real: type, build: Callable[..., Any]) -> None:
        self._real = real
        self._build = build

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._build(*args, **kwargs)

    def __instancecheck__(self, obj: Any) -> bool:
        return isinstance(obj, self._real)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def __repr__(self) -> str:
        return repr(self._real)


def _range(*args: Any) -> range:
    r = range(*args)
    _check_range(r)
    return r


def _container(kind: type) -> Callable[..., Any]:
    def build(*args: Any, **kwargs: Any) -> Any:
        if not args:
            return kind(**kwargs)
        if len(args) > 1:
            return kind(*args, **kwargs)  # the type raises its own TypeError
        source = args[0]
        if kind is dict and hasattr(source, "keys"):
            _check_bytes("dict()", len(source) * _ITEM_BYTES)
            return dict(source, **kwargs)
        return kind(_materialize(source, f"{kind.__name__}()"), **kwargs)
    build.__name__ = kind.__name__
    return build


def _sorted(iterable: Iterable[Any], /, *, key: Any = None, reverse: bool = False) -> list[Any]:
    items = _materialize(iterable, "sorted()")
    items.sort(key=key, reverse=reverse)
    return items


def _sum(iterable: Iterable[Any], /, start: Any = 0) -> Any:
    if not isinstance(start, (int, float)):
        raise ScriptRejected("sum() adds numbers only in scripts (join strings with ''.join, lists with +)")
    return sum(iterable, start)


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
