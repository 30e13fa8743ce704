"""Cross-field rules of a form that JSON Schema cannot say (checked after the schema, before the task runs).

``x-sum-equals`` on a form's root: a rule or a list of rules
``{"fields": [field, ...], "equals": key}``: the named whole-number fields of the submission
(a missing one counts 0) must add up to ``key`` — the submission's own value of ``key`` when the form
has that field, else the case's. A rule whose total is unknown (no such value, or not a number) is
not checked. Every field of a sum that does not match gets the message ``the quantities add up to
T, but E are expected`` (translated by the web layer), so a form shows it beside each of them.

``x-not-before`` on a top-level ``format: date`` or ``date-time`` field: a data key, or a list of
them. The field's value must not be earlier than each key's value — the submission's own when the
form has that field, else the case's (a receipt not before the purchase, a request not before
it). A key without a readable date is not checked. When either side is a bare date, the days
are compared in the business time zone. The message is ``must not be before D`` (D: the other
value as given).

``x-not-more-than`` on a top-level ``integer`` or ``number`` field: a data key, or a list of them,
read the same way (the submission's value first, else the case's); the field's value must not be
larger than each key's number (defects not more than the lot size). A key without a number is not
checked. The message is ``must not be more than N``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from caseflow import clock


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def rules(schema: dict) -> list[dict]:
    """The form's ``x-sum-equals`` rules (well-formed ones only: deploy checks name the others)."""
    found = schema.get("x-sum-equals") if isinstance(schema, dict) else None
    listed = found if isinstance(found, list) else [found] if isinstance(found, dict) else []
    return [r for r in listed if isinstance(r, dict) and isinstance(r.get("equals"), str)
            and isinstance(r.get("fields"), list) and r["fields"] and all(isinstance(f, str) for f in r["fields"])]


def problems(schema: dict) -> list[str]:
    """What is wrong with a form's ``x-sum-equals`` and ``x-problems-from`` (for the deploy check); [] when fine."""
    source = schema.get("x-problems-from") if isinstance(schema, dict) else None
    if source is not None and not (isinstance(source, str) and source):
        return ["x-problems-from: expected the data key that holds the problems (field -> message)"]
    found = schema.get("x-sum-equals") if isinstance(schema, dict) else None
    if found is None:
        return []
    listed = found if isinstance(found, list) else [found]
    if len(rules(schema)) != len(listed):
        return ['x-sum-equals: expected {"fields": [field, ...], "equals": key} or a list of them']
    declared = schema.get("properties") or {}
    return [f"x-sum-equals: {field!r} is not a field of the form"
            for rule in rules(schema) for field in rule["fields"] if field not in declared]


#: Field keywords that compare a field with other data keys: keyword -> (the fields that may carry
#: it, for the deploy check's message; whether a field node may carry it).
_COMPARING: dict[str, tuple[str, Any]] = {
    "x-not-before": ("format date or date-time", lambda node: node.get("format") in ("date", "date-time")),
    "x-not-more-than": ("type integer or number", lambda node: node.get("type") in ("integer", "number")),
}


def compared_keys(node: Any, keyword: str = "x-not-before") -> list[str] | None:
    """The data keys of a field's ``keyword`` ([] without one; None when it is malformed)."""
    found = node.get(keyword) if isinstance(node, dict) else None
    if found is None:
        return []
    listed = found if isinstance(found, list) else [found]
    return listed if listed and all(isinstance(k, str) and k for k in listed) else None


def not_before_problems(schema: dict) -> list[str]:
    """What is wrong with a form's ``x-not-before``, ``x-not-more-than``, ``x-fresh`` and ``x-staff-only``
    (for the deploy check); [] when fine."""
    out = []
    properties = schema.get("properties") if isinstance(schema, dict) else None
    for name, node in (properties if isinstance(properties, dict) else {}).items():
        for keyword, (allowed, fits) in _COMPARING.items():
            keys = compared_keys(node, keyword)
            if keys is None:
                out.append(f"{keyword} of {name!r}: expected a data key or a list of data keys")
            elif keys and not fits(node):
                out.append(f"{keyword} of {name!r}: only a field of {allowed} can have it")
        if isinstance(node, dict) and "x-fresh" in node and not isinstance(node["x-fresh"], bool):
            out.append(f"x-fresh of {name!r}: expected true or false")
        if isinstance(node, dict) and "x-staff-only" in node:
            if not isinstance(node["x-staff-only"], bool):
                out.append(f"x-staff-only of {name!r}: expected true or false")
            elif node["x-staff-only"] and name in (schema.get("required") or []):
                out.append(f"x-staff-only of {name!r}: a required field cannot be left out of the customer's form")
    if isinstance(schema, dict) and "x-fresh" in schema and not isinstance(schema["x-fresh"], bool):
        out.append("x-fresh of the form: expected true or false")
    return out


def before_problems(schema: dict, clean: dict, case_data: dict) -> dict[str, str]:
    """Field -> message for each ``x-not-before`` the validated submission ``clean`` breaks."""
    fields: dict[str, str] = {}
    properties = schema.get("properties") if isinstance(schema, dict) else None
    for name, node in (properties if isinstance(properties, dict) else {}).items():
        value = clean.get(name)
        for key in compared_keys(node) or []:
            other = clean[key] if key in clean else case_data.get(key)
            if isinstance(value, str) and isinstance(other, str) and _earlier(value, other):
                fields.setdefault(name, f"must not be before {other}")
    return fields


def more_than_problems(schema: dict, clean: dict, case_data: dict) -> dict[str, str]:
    """Field -> message for each ``x-not-more-than`` the validated submission ``clean`` breaks."""
    fields: dict[str, str] = {}
    properties = schema.get("properties") if isinstance(schema, dict) else None
    for name, node in (properties if isinstance(properties, dict) else {}).items():
        value = _number(clean.get(name))
        for key in compared_keys(node, "x-not-more-than") or []:
            other = _number(clean[key] if key in clean else case_data.get(key))
            if value is not None and other is not None and value > other:
                shown = int(other) if float(other).is_integer() else other
                fields.setdefault(name, f"must not be more than {shown}")
    return fields


def _earlier(value: str, other: str) -> bool:
    """Whether the date or date-time ``value`` is before ``other`` (False when either is unreadable)."""
    first, second = clock.parse_moment(value), clock.parse_moment(other)
    if first is None or second is None:
        return False
    if _bare_date(value) or _bare_date(other):  # compare the days, in the business time zone
        zone = clock.business_zone()
        return first.astimezone(zone).date() < second.astimezone(zone).date()
    return first < second


def _bare_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def sum_problems(schema: dict, clean: dict, case_data: dict, unread: frozenset[str] = frozenset()) -> dict[str, str]:
    """Field -> message for each ``x-sum-equals`` rule the validated submission ``clean`` breaks (a rule
    with a field in ``unread``, whose input could not be read, is not judged)."""
    fields: dict[str, str] = {}
    for rule in rules(schema):
        key = rule["equals"]
        if unread & {key, *rule["fields"]}:
            continue
        expected = _number(clean[key] if key in clean else case_data.get(key))
        if expected is None:
            continue
        parts = [_number(clean.get(name)) for name in rule["fields"]]
        total = sum(p for p in parts if p is not None)
        if total != expected:
            message = f"the quantities add up to {total:g}, but {expected:g} are expected"
            for name in rule["fields"]:
                fields.setdefault(name, message)
    return fields
