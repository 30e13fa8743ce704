"""Checking the data a caller submits to a case against its form (start form or task form).

:func:`validate_form` is the one check of data entering a case; :func:`apply_decided` and
:func:`check_case_rules` apply a form's rules that depend on the case's data (``x-decided``,
``x-same-as`` and, through :mod:`form_rules`, ``x-sum-equals``); :func:`check_submission` runs
both and reports every problem at once. Raises :class:`InvalidData` with per-field messages.
"""
from __future__ import annotations

import datetime as dt
import re

import jsonschema

from caseflow import clock, limits
from caseflow._engine import form_rules, values
from caseflow._engine.errors import DataTooLarge, InvalidData
from caseflow._engine.sandbox import HELPERS
from caseflow._engine.specs import LoadedSpec, form_validator

HELPER_NAMES = frozenset(HELPERS)  # names scripts see as helpers: data keys must not shadow them
_COMBINED = ("allOf", "anyOf", "oneOf", "then", "else")


def validate_form(loaded: LoadedSpec, form: str | None, process: str | None, data: dict | None,
                  starting: bool = False) -> dict:
    """``data`` checked against the form ``form`` of ``process``: the one check of data entering a case.

    Always: plain JSON within :mod:`caseflow.limits` (413 :class:`DataTooLarge` / 422) and no
    key the process owns (:func:`owned_keys`; a start without a start form only keeps off the
    script helpers' names: its data is the caller's to give). With a form: only the form's own writable fields
    (``additionalProperties: false`` unless the form allows more; ``readOnly`` fields are shown,
    never taken), its JSON Schema, and ``format: date``/``date-time`` values within the years
    ``limits.MIN_YEAR``..``limits.MAX_YEAR``. Raises :class:`InvalidData` with per-field messages.
    """
    if data is not None and not isinstance(data, dict):
        raise InvalidData({"_form": "the data must be an object"})
    data = dict(data or {})
    schema = loaded.shared_form_schema(form, process) if form else None  # read only
    values.check_data(data, _declared_max_length(schema) if schema else None)
    owned = HELPER_NAMES if starting and schema is None else owned_keys(loaded, schema)
    values.refuse_keys(data, owned, "is set by the process itself and cannot be submitted")
    validator = loaded.validator(form, process)
    if validator is None or schema is None:
        return data
    fields: dict[str, str] = {}
    _form_fields(schema, data, (), fields)
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.path)):
        if error.validator == "required":
            missing = re.findall(r"'([^']+)' is a required property", error.message)
            key = ".".join([*map(str, error.path), *(missing[:1] or ["_"])])
            fields.setdefault(key, "this field is required")
        elif error.validator in ("additionalProperties", "unevaluatedProperties") and fields:
            continue  # the unknown fields are already named one by one
        else:
            key = ".".join(map(str, error.path)) or "_form"
            custom = error.schema.get("x-message") if isinstance(error.schema, dict) else None
            fields.setdefault(key, custom if isinstance(custom, str) else error.message)
    if fields:
        raise InvalidData(fields)
    return data


def check_submission(loaded: LoadedSpec, form: str | None, process: str | None, data: dict | None,
                     case_data: dict, starting: bool = False, unread: frozenset[str] = frozenset()) -> dict:
    """``data`` through :func:`validate_form` and the form's rules against ``case_data``
    (:func:`check_case_rules`, ``{}`` at a start), every problem in one :class:`InvalidData`: the
    rules judge the fields that passed (no sum over a field in error or in ``unread``, whose input
    the caller could not read). Returns the clean data."""
    schema = loaded.shared_form_schema(form, process) if form else None  # read only
    fields: dict[str, str] = {}
    try:
        clean = validate_form(loaded, form, process, data, starting)
    except DataTooLarge:
        raise
    except InvalidData as err:
        if schema is None or not isinstance(data, dict):
            raise
        fields = dict(err.fields)
        failed = {key.split(".")[0] for key in fields}
        clean = {k: v for k, v in data.items() if k not in failed}
        unread = unread | failed
    if schema is not None:
        try:
            check_case_rules(schema, clean, case_data, unread)
        except InvalidData as err:
            for key, text in err.fields.items():
                fields.setdefault(key, text)
    if fields:
        raise InvalidData(fields)
    return clean


def owned_keys(loaded: LoadedSpec, schema: dict | None = None) -> set[str]:
    """Data keys only the process sets: the script helpers' names, always; the business numbers
    (``businessKeyDataKey`` of every start event, called processes included) and the outputs
    the manifest labels (service-task and script results) unless the form ``schema`` has them
    as fields of its own."""
    owned = loaded.process_owned_keys()
    return set(owned - _writable_fields(schema) if schema else owned) | HELPER_NAMES


def _properties(node: dict) -> dict[str, dict] | None:
    """The properties a schema node declares, its ``allOf``/``if-then``... branches included
    (None: it declares none, so it is a free object)."""
    found: dict[str, dict] | None = None
    stack = [node]
    while stack:
        current = stack.pop()
        props = current.get("properties")
        if isinstance(props, dict):
            found = found or {}
            for key, sub in props.items():
                if isinstance(sub, dict):
                    found.setdefault(key, sub)
        for word in _COMBINED:
            branch = current.get(word)
            stack.extend(b for b in (branch if isinstance(branch, list) else [branch]) if isinstance(b, dict))
    return found


def _writable_fields(schema: dict) -> set[str]:
    """The top-level fields of a form that submitted data may set."""
    return {k for k, node in (_properties(schema) or {}).items() if not node.get("readOnly")}


def _form_fields(node: dict, value: object, path: tuple[str | int, ...], fields: dict[str, str]) -> None:
    """Field messages for keys the form does not declare (or declares read-only) and dates out of range."""
    name = ".".join(map(str, path))
    if isinstance(value, dict):
        declared = _properties(node)
        if declared is None:
            return
        closed = node.get("additionalProperties", False) is False and not node.get("patternProperties")
        for key, child in value.items():
            sub = declared.get(key)
            where = f"{name}.{key}" if name else key
            if sub is None:
                if closed:
                    fields.setdefault(where, "is not a field of this form")
            elif sub.get("readOnly"):
                fields.setdefault(where, "is shown on this form but cannot be submitted")
            else:
                _form_fields(sub, child, (*path, key), fields)
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for index, child in enumerate(value):
            _form_fields(node["items"], child, (*path, index), fields)
    else:
        problem = _date_problem(node, value)
        if problem:
            fields.setdefault(name or "_form", problem)


def _date_problem(node: dict, value: object) -> str | None:
    """For a ``date``/``date-time`` field: a year outside Caseflow's range, or (``x-not-future``) a day after today."""
    if not isinstance(value, str) or node.get("format") not in ("date", "date-time"):
        return None
    with_time = node["format"] == "date-time"
    problem = limits.date_problem(value, with_time=with_time)
    if not problem and node.get("x-not-future"):
        problem = _future_problem(value, with_time=with_time)
    return problem


def decided_value(node: dict, case_data: dict) -> tuple[bool, object]:
    """(True, value) when a field's ``x-decided`` rule applies to the case: ``{"when": {key: value,
    ...}, "value": v}`` -- the rules decide the field (shown decided, never offered); else (False, None)."""
    rule = node.get("x-decided")
    if not isinstance(rule, dict) or not isinstance(rule.get("when"), dict) or "value" not in rule:
        return False, None
    applies = all(case_data.get(key) == value for key, value in rule["when"].items())
    return (True, rule["value"]) if applies else (False, None)


def fresh_keys(schema: dict | None) -> list[str]:
    """The top-level fields a form asks afresh each time its task comes up (``"x-fresh": true`` on the
    field, or on the form's root for all its writable fields unless a field says ``false``): a decision
    and its reason are not proposed from the previous round, and one left out clears that round's value."""
    if not isinstance(schema, dict):
        return []
    every = schema.get("x-fresh") is True
    return [name for name, node in (_properties(schema) or {}).items()
            if isinstance(node, dict) and not node.get("readOnly") and node.get("x-fresh", every) is True]


def apply_decided(schema: dict, data: dict, case_data: dict) -> dict:
    """``data`` with the values the rules decide (``x-decided`` of the form's top-level fields)
    put in place of whatever was sent: a decided field is shown decided, never offered."""
    data = dict(data)
    for name, node in (_properties(schema) or {}).items():
        decided, value = decided_value(node, case_data) if isinstance(node, dict) else (False, None)
        if decided:
            data[name] = value
    return data


def check_case_rules(schema: dict, clean: dict, case_data: dict, unread: frozenset[str] = frozenset()) -> None:
    """The form's rules that compare the submission ``clean`` with the case's data (``{}`` at a start):
    ``x-same-as`` of its top-level fields (``{"key": k, "unless": reason_field}``: the value must
    equal the case's ``k`` unless ``reason_field`` is filled in; the message names the reason field),
    ``x-sum-equals``, ``x-not-before`` and ``x-not-more-than`` (:mod:`form_rules`; a sum with a field
    in ``unread`` is not judged). Raises :class:`InvalidData`."""
    fields = form_rules.sum_problems(schema, clean, case_data, unread)  # and the form's x-sum-equals rules
    fields.update(form_rules.before_problems(schema, clean, case_data))  # and x-not-before
    fields.update(form_rules.more_than_problems(schema, clean, case_data))  # and x-not-more-than
    for name, node in (_properties(schema) or {}).items():
        rule = node.get("x-same-as") if isinstance(node, dict) else None
        if not isinstance(rule, dict) or name not in clean:
            continue
        expected = case_data.get(str(rule.get("key")))
        if expected is None or isinstance(expected, bool) or clean[name] == expected:
            continue
        unless = rule.get("unless")
        if isinstance(unless, str) and clean.get(unless) not in (None, ""):
            continue
        fields[unless if isinstance(unless, str) else name] = f"the value differs from {expected}; give the reason"
    if fields:
        raise InvalidData(fields)


def _future_problem(value: str, with_time: bool) -> str | None:
    """``must not be in the future`` when the date (date-time) is after today (now) by Caseflow's
    clock in the business time zone (a form field's ``x-not-future: true``); None otherwise."""
    zone = clock.business_zone()
    now = clock.now().astimezone(zone)
    try:
        if with_time:
            moment = dt.datetime.fromisoformat(value)
            future = (moment if moment.tzinfo else moment.replace(tzinfo=zone)) > now
        else:
            future = dt.date.fromisoformat(value) > now.date()
    except ValueError:
        return None  # the format check names it
    return "must not be in the future" if future else None


def _declared_max_length(schema: dict) -> limits.StringLimit:
    """``path -> maxLength`` of the form's field at ``path`` (list indexes match ``items``)."""

    def limit(path: tuple[str | int, ...]) -> int | None:
        node: dict | None = schema
        for part in path:
            if node is None:
                return None
            if isinstance(part, int):
                items = node.get("items")
                node = items if isinstance(items, dict) else None
            else:
                node = (_properties(node) or {}).get(part)
        length = node.get("maxLength") if node is not None else None
        return length if isinstance(length, int) and not isinstance(length, bool) else None

    return limit


def check_correction(loaded: LoadedSpec, changes: dict) -> None:
    """A data correction's values against the fields of that name on the version's forms (called
    processes' included): each value must fit the first such field's JSON Schema (type, format,
    range) and, for dates, Caseflow's years and ``x-not-future``. A key no form has is not checked. Raises
    :class:`InvalidData` with a message per key."""
    fields: dict[str, str] = {}
    for key, value in changes.items():
        node = _form_field(loaded, key)
        if node is None:
            continue
        error = jsonschema.exceptions.best_match(form_validator(node).iter_errors(value))
        if error is not None:
            custom = error.schema.get("x-message") if isinstance(error.schema, dict) else None
            fields[key] = custom if isinstance(custom, str) else error.message
        elif problem := _date_problem(node, value):
            fields[key] = problem
    if fields:
        raise InvalidData(fields)


def _form_field(loaded: LoadedSpec, key: str) -> dict | None:
    """The schema of the first top-level form field named ``key`` in the version's bundles."""
    for process, files in sorted({loaded.key: loaded.files, **loaded.process_files}.items()):
        for name in sorted(files):
            if not name.endswith(".json") or name == "manifest.json":
                continue
            try:
                schema = loaded.shared_form_schema(name, process)
            except ValueError:
                continue
            node = (_properties(schema) or {}).get(key) if isinstance(schema, dict) else None
            if isinstance(node, dict):
                return node
    return None
