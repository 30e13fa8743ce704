"""Run-time guards of sandboxed code: attribute, item and iteration access, guarded
operators, string methods and containers that refuse values beyond the size budget.

Part of :mod:`caseflow._engine.sandbox` (see there).
"""
from __future__ import annotations

import math
import operator
import re
import sys
import types
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from itertools import islice
from typing import Any

from RestrictedPython.Guards import safer_getattr_raise as _rp_getattr_raise
from RestrictedPython.transformer import INSPECT_ATTRIBUTES

from caseflow._engine.sandbox_budget import (
    _ITEM_BYTES,
    _RSS_CHECK_BYTES,
    _SLOT_BYTES,
    Described,
    ScriptBudgetExceeded,
    ScriptRejected,
    _check_bytes,
    _check_int_bits,
    _too_big,
    _what,
    budget,
)

#: Attributes a script can never read: string formatting (walks attributes from a format
#: string), the class hierarchy, tracebacks; frame, code and generator internals.
FORBIDDEN_ATTRIBUTES = frozenset(("format", "format_map", "mro", "with_traceback", "vformat", "get_field",
                                  "func_globals", "func_code")) | INSPECT_ATTRIBUTES
_FORBIDDEN_PREFIXES = ("gi_", "cr_", "ag_", "f_", "tb_", "co_")


def _forbidden_attribute(name: str) -> bool:
    return name in FORBIDDEN_ATTRIBUTES or name.startswith(_FORBIDDEN_PREFIXES)




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

