"""The operator registry: service-task operator name -> plain function.

An operator is ``fn(data: dict, params: dict) -> dict``. It never touches the database
or the clock: when it needs the current time it declares a ``now`` parameter, and when it
needs a number from a database sequence it declares ``next_number``; the engine passes
those in (``CONTEXT_PARAMS``), and tests pass their own. A ``timezone`` parameter the diagram
leaves unset is the business time zone (``CASEFLOW_TIMEZONE``), passed in the same way.
Parameters are declared with a type, a default and a description so process owners can list
them (``caseflow operators``).
"""
from __future__ import annotations

import datetime as dt
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

OperatorFn = Callable[[dict, dict], dict]

_NO_DEFAULT = object()

#: Parameters the engine supplies when the diagram does not: the evaluation time
#: (an aware datetime), ``next_number(sequence_name, year) -> int``, which allocates
#: the next value of a named yearly sequence inside the caller's transaction, and
#: ``count_cases(process_key, data_key, value, start, end, exclude_business_key) -> int``.
CONTEXT_PARAMS = ("now", "next_number", "count_cases", "timezone")  # timezone: the business one


class OperatorError(Exception):
    """A rule could not run on the data it was given (names the field when it can)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field

    def __str__(self) -> str:
        msg = super().__str__()
        return f"{self.field}: {msg}" if self.field and not msg.startswith(self.field) else msg


@dataclass(frozen=True)
class Param:
    """A declared operator parameter (set on the service task in the diagram)."""

    name: str
    type: str  # "int", "float", "str", "bool", "dict", "list", "datetime", "any"
    default: Any = _NO_DEFAULT
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is _NO_DEFAULT

    def describe(self) -> dict:
        return {
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "default": None if self.required else _jsonable(self.default),
            "doc": self.doc,
        }


@dataclass
class Operator:
    """A registered operator: its function, parameters and documentation."""

    name: str
    fn: OperatorFn
    params: tuple[Param, ...] = field(default_factory=tuple)
    audit: str | None = None  # audit-event kind the engine records for every call (payload: the result)

    @property
    def doc(self) -> str:
        """The function's docstring as its readers see it (the CLI, the API, the modeler): reST's
        ``literal`` and :role:`target` markup shown as `literal`."""
        return _plain(inspect.cleandoc(self.fn.__doc__ or ""))

    def resolve_params(self, given: dict | None, context: dict | None = None) -> dict:
        """Fill defaults, reject unknown or missing parameters, supply context values."""
        context = context or {}
        given = dict(given or {})
        known = {p.name for p in self.params}
        unknown = sorted(set(given) - known)
        if unknown:
            raise OperatorError(f"unknown parameter(s) for {self.name}: {', '.join(unknown)}")
        resolved: dict[str, Any] = {}
        for p in self.params:
            if p.name in given and given[p.name] is not None:
                resolved[p.name] = given[p.name]
            elif p.name in CONTEXT_PARAMS and context.get(p.name) is not None:
                resolved[p.name] = context[p.name]
            elif p.required:
                raise OperatorError(f"parameter {p.name} is required", field=p.name)
            else:
                resolved[p.name] = p.default
        return resolved

    def run(self, data: dict, params: dict | None = None, context: dict | None = None) -> dict:
        """Run the operator on ``data`` with ``params`` (defaults and context filled in)."""
        result = self.fn(dict(data or {}), self.resolve_params(params, context))
        if not isinstance(result, dict):
            raise OperatorError(f"operator {self.name} returned {type(result).__name__}, not a dict")
        return result

    def describe(self) -> dict:
        return {"name": self.name, "doc": self.doc, "params": [p.describe() for p in self.params]}


_REGISTRY: dict[str, Operator] = {}
_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def _plain(text: str) -> str:
    return _ROLE.sub(r"`\1`", text).replace("``", "`")


def operator(name: str, params: list[Param] | tuple[Param, ...] = (),
             audit: str | None = None) -> Callable[[OperatorFn], OperatorFn]:
    """Register ``fn`` as the service-task operator ``name``.

    ``audit`` names an audit-event kind: the engine then logs every call with its result.
    """

    def decorate(fn: OperatorFn) -> OperatorFn:
        if name in _REGISTRY and _REGISTRY[name].fn is not fn:
            raise ValueError(f"operator {name} is registered twice")
        _REGISTRY[name] = Operator(name=name, fn=fn, params=tuple(params), audit=audit)
        return fn

    return decorate


def get(name: str) -> Operator:
    """The operator registered as ``name`` (KeyError when there is none)."""
    _load_builtin_operators()
    return _REGISTRY[name]


def names() -> list[str]:
    """All registered operator names, sorted."""
    _load_builtin_operators()
    return sorted(_REGISTRY)


def all_operators() -> list[Operator]:
    """All registered operators, sorted by name."""
    return [get(n) for n in names()]


def _load_builtin_operators() -> None:
    import service_tasks  # noqa: F401  (importing the package registers its modules)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value
