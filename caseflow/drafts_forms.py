"""Form files of a draft: checking a JSON Schema form before it is saved, and the starter a new form
begins from (a title in English and Chinese, one text field)."""
from __future__ import annotations

import json
from typing import Any

import jsonschema

__all__ = ["MAX_PROBLEMS", "schema_problems", "starter"]

MAX_PROBLEMS = 20


def schema_problems(schema: Any) -> list[str]:
    """Why ``schema`` cannot be a form (not an object schema, not valid JSON Schema); [] when it can."""
    if not isinstance(schema, dict):
        return ["a form is a JSON object"]
    problems = []
    try:
        validator = jsonschema.validators.validator_for(schema)
        for error in sorted(validator(validator.META_SCHEMA).iter_errors(schema), key=lambda e: list(e.path)):
            where = "/".join(map(str, error.absolute_path))
            problems.append(f"{where or '(form)'}: {error.message}")
            if len(problems) >= MAX_PROBLEMS:
                break
    except Exception as err:  # a $schema naming no known draft, a broken $ref...
        problems.append(f"not a JSON Schema: {err}")
    if not problems and schema.get("type", "object") != "object":
        problems.append('a form has "type": "object" and its fields under "properties"')
    return problems


def starter(title: str, title_zh: str | None = None) -> str:
    """The text of a new form file: its title (English, Chinese) and one optional text field."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title, "x-title-zh": title_zh or title, "type": "object",
        "properties": {"notes": {"type": "string", "title": "Notes", "x-title-zh": "备注", "maxLength": 4000,
                                 "x-widget": "textarea"}},
        "required": [], "additionalProperties": False,
    }
    return json.dumps(schema, ensure_ascii=False, indent=2) + "\n"
