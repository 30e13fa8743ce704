"""Cross-field rules of a form that JSON Schema cannot say (checked after the schema, before the task runs).

``x-sum-equals`` on a form's root: a rule or a list of rules
``{"fields": [field, ...], "equals": key}``: the named whole-number fields of the submission
(a missing one counts 0) must add up to ``key`` — the submission's own value of ``key`` when the form
has that field, else the case's. A rule whose total is unknown (no such value, or not a number) is
not checked. Every field of a sum that does not match gets the message ``the quantities add up to
T, but E are expected`` (translated by the web layer), so a form shows it beside each of them.
"""
from __future__ import annotations

from typing import Any


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
    """What is wrong with a form's ``x-sum-equals`` (for the deploy check); [] when it is fine."""
    found = schema.get("x-sum-equals") if isinstance(schema, dict) else None
    if found is None:
        return []
    listed = found if isinstance(found, list) else [found]
    if len(rules(schema)) != len(listed):
        return ['x-sum-equals: expected {"fields": [field, ...], "equals": key} or a list of them']
    declared = schema.get("properties") or {}
    return [f"x-sum-equals: {field!r} is not a field of the form"
            for rule in rules(schema) for field in rule["fields"] if field not in declared]


def sum_problems(schema: dict, clean: dict, case_data: dict) -> dict[str, str]:
    """Field -> message for each ``x-sum-equals`` rule the validated submission ``clean`` breaks."""
    fields: dict[str, str] = {}
    for rule in rules(schema):
        key = rule["equals"]
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
