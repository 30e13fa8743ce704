"""Form fields built from a task's JSON Schema and optional UI schema (process-authoring.md).

A field's HTML name is its dotted data path (``disposition_lines.0.amount``), the same path
the engine uses in ``InvalidData.fields``, so errors land next to their fields.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

from engine import decided_value
from web import labels

ROW_INDEX = "__index__"  # placeholder index of the hidden template row


@dataclass
class FormField:
    """One input (or group of inputs) of a rendered form."""

    name: str
    key: str
    label: str
    widget: str  # text textarea number integer checkbox yesno select radio date datetime file
    #              multichoice lines object rows hidden
    required: bool = False
    help: str | None = None
    value: Any = ""
    error: str | None = None
    options: list[tuple[str, str]] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    read_only: bool = False
    children: list[FormField] = field(default_factory=list)  # object: its fields
    rows: list[list[FormField]] = field(default_factory=list)  # rows: the filled rows
    template_row: list[FormField] = field(default_factory=list)  # rows: a blank row
    attachment: dict | None = None  # file: the current attachment {id, filename}

    @property
    def has_error(self) -> bool:
        if self.error:
            return True
        return any(f.has_error for f in self.children) or any(f.has_error for row in self.rows for f in row)


def for_customer(schema: dict | None) -> dict | None:
    """The form a customer fills in on the portal: ``schema`` less its top-level fields marked
    ``"x-staff-only": true`` (staff record them, e.g. who followed the customer up), which the portal
    neither shows nor reads. Staff acting for the customer get the whole form."""
    properties = (schema or {}).get("properties")
    if not isinstance(properties, dict) or not any(
            isinstance(node, dict) and node.get("x-staff-only") is True for node in properties.values()):
        return schema
    assert schema is not None
    kept = {name: node for name, node in properties.items()
            if not (isinstance(node, dict) and node.get("x-staff-only") is True)}
    out = dict(schema, properties=kept)
    if isinstance(schema.get("required"), list):
        out["required"] = [name for name in schema["required"] if name in kept]
    return out


def property_type(node: dict) -> str | None:
    """The JSON type of a schema node (the first non-null one of a type list)."""
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind is None and ("enum" in node or "oneOf" in node):
        values = [v for v, _ in labels.enum_options(node)]
        if values and all(isinstance(v, bool) for v in values):
            return "boolean"
        if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return "integer"
        return "string"
    return kind


def widget_for(node: dict, ui: dict, required: bool = False) -> str:
    """The widget of a schema node: ``ui:widget`` wins, then ``x-widget``, format and type.

    A required yes/no question without a fixed answer gets two radio buttons, so leaving it
    unanswered is an error instead of a silent "no"; other booleans are a checkbox.
    """
    wanted = ui.get("ui:widget") or node.get("x-widget")
    kind = property_type(node)
    if wanted == "hidden":
        return "hidden"
    if kind == "array":
        items = node.get("items") or {}
        if property_type(items) == "object":
            return "rows"
        if "enum" in items or "oneOf" in items:
            return "multichoice"
        return "lines"
    if kind == "object":
        return "object"
    if kind == "boolean":
        if wanted in ("radio", "select"):
            return "yesno"
        if wanted == "checkbox" or "const" in node or not required:
            return "checkbox"
        return "yesno"
    if "enum" in node or "oneOf" in node:
        return "radio" if wanted == "radio" else "select"
    if wanted in ("textarea", "file"):
        return wanted
    if kind in ("number", "integer"):
        return kind
    if node.get("format") == "date":
        return "date"
    if node.get("format") == "date-time":
        return "datetime"
    return "text"


def ordered_keys(properties: dict, ui: dict) -> list[str]:
    """Property order: ``ui:order`` (``*`` stands for the rest), else the schema's order."""
    order = ui.get("ui:order")
    keys = list(properties)
    if not isinstance(order, list):
        return keys
    rest = [k for k in keys if k not in order]
    out: list[str] = []
    for item in order:
        if item == "*":
            out.extend(rest)
        elif item in properties:
            out.append(item)
    if "*" not in order:
        out.extend(rest)
    return out


def input_value(value: Any, widget: str, tz: ZoneInfo) -> Any:
    """A data value (typed, or as the user typed it) as the input shows it."""
    if widget == "checkbox":
        return value is True or (isinstance(value, str) and value.lower() in ("on", "true", "1", "yes"))
    if widget == "multichoice":
        return [str(v) for v in value] if isinstance(value, list) else []
    if widget == "lines":
        return "\n".join(str(v) for v in value) if isinstance(value, list) else (value or "")
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if widget == "datetime" and isinstance(value, str) and len(value) > 16:
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            moment = moment.astimezone(tz)
        return moment.strftime("%Y-%m-%dT%H:%M")
    if widget == "date" and isinstance(value, str) and len(value) > 10:
        return value[:10]
    return str(value)


def is_percent(node: dict) -> bool:
    """A number stored as a fraction (0.02) that people enter and read as a percentage (2):
    ``"x-unit": "percent"`` (process-authoring.md)."""
    return node.get("x-unit") == "percent" and property_type(node) == "number"


def to_percent(value: Any) -> Any:
    """A stored fraction as the percentage a form shows (0.025 -> 2.5); other values unchanged."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    number = (Decimal(str(value)) * 100).normalize()
    return int(number) if number == number.to_integral_value() else float(number)


def from_percent(value: Any) -> Any:
    """An entered percentage as the stored fraction (2.5 -> 0.025); other values unchanged."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return float((Decimal(str(value)) / 100).normalize())


def _attrs(node: dict, widget: str, ui: dict) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for schema_key, html in (("minimum", "min"), ("maximum", "max"), ("minLength", "minlength"),
                             ("maxLength", "maxlength")):
        if schema_key in node:
            attrs[html] = to_percent(node[schema_key]) if html in ("min", "max") and is_percent(node) \
                else node[schema_key]
    if widget == "integer":
        attrs["step"] = 1
    elif widget == "number":
        attrs["step"] = node.get("multipleOf", "any")
    if ui.get("ui:placeholder"):
        attrs["placeholder"] = ui["ui:placeholder"]
    if widget == "textarea":
        attrs["rows"] = (ui.get("ui:options") or {}).get("rows", 4)
    return attrs


@dataclass
class FormContext:
    """What building fields needs besides the schema: values, errors, language, time zone."""

    errors: dict[str, str]
    tz: ZoneInfo
    attachments: dict[int, dict] = field(default_factory=dict)  # id -> {id, filename}


def build_fields(schema: dict | None, ui_schema: dict | None, values: dict | None, ctx: FormContext,
                 prefix: str = "") -> list[FormField]:
    """The fields of an object schema, filled with ``values`` (typed data or raw input)."""
    if not schema:
        return []
    ui_schema = ui_schema or {}
    values = values if isinstance(values, dict) else {}
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    out = []
    for key in ordered_keys(properties, ui_schema):
        node = properties[key]
        if not isinstance(node, dict):
            continue
        ui = ui_entry(ui_schema, key)
        f = build_field(key, node, ui, initial_value(key, node, values), ctx, prefix, key in required)
        decided, value = decided_value(node, values) if not prefix else (False, None)
        if decided:  # the rules decide it: shown with the decided value, not offered (the engine applies it)
            f.read_only, f.value = True, input_value(value, f.widget, ctx.tz)
            f.help = _("Decided by the rules for this case.")
        out.append(f)
    return out


def ui_entry(ui: dict, key: str) -> dict:
    """The UI schema's entry for ``key`` when it is an object, else an empty one."""
    entry = ui.get(key)
    return entry if isinstance(entry, dict) else {}


def initial_value(key: str, node: dict, values: dict) -> Any:
    """The field's own value, else the value of the data key its ``x-prefill`` names (a
    proposal the person confirms or changes, e.g. the estimated fee on the fee notice), else
    the schema default."""
    if key in values:
        return values[key]
    source = node.get("x-prefill")
    if isinstance(source, str) and values.get(source) is not None:
        return values[source]
    return node.get("default")


def build_field(key: str, node: dict, ui: dict, value: Any, ctx: FormContext, prefix: str,
                required: bool) -> FormField:
    name = f"{prefix}{key}"
    widget = widget_for(node, ui, required)
    help_text = ui.get("ui:help") if isinstance(ui.get("ui:help"), str) else labels.schema_description(node)
    if widget == "textarea" and isinstance(node.get("maxLength"), int):  # the limit is stated, never a surprise
        limit = _("At most %(n)s characters.", n=f"{node['maxLength']:,}")
        help_text = f"{help_text} {limit}" if help_text else limit
    f = FormField(name=name, key=key, label=labels.schema_title(node, key), widget=widget, required=required,
                  help=help_text, error=ctx.errors.get(name), attrs=_attrs(node, widget, ui),
                  read_only=bool(node.get("readOnly") or ui.get("ui:readonly")))
    if widget == "object":
        f.children = build_fields(node, ui, value, ctx, prefix=f"{name}.")
    elif widget == "rows":
        items = node.get("items") or {}
        item_ui = ui_entry(ui, "items")
        rows = value if isinstance(value, list) else []
        f.rows = [build_fields(items, item_ui, row, ctx, prefix=f"{name}.{i}.") for i, row in enumerate(rows)]
        if not f.rows:  # one blank line to start with (left out on submit if it stays blank)
            f.rows = [build_fields(items, item_ui, {}, FormContext({}, ctx.tz), prefix=f"{name}.0.")]
        f.template_row = build_fields(items, item_ui, {}, FormContext({}, ctx.tz), prefix=f"{name}.{ROW_INDEX}.")
        f.attrs["min_rows"] = node.get("minItems", 0)
    else:
        source = (node.get("items") or {}) if widget == "multichoice" else node
        if widget in ("select", "radio", "multichoice"):
            f.options = [(input_value(v, "text", ctx.tz), text) for v, text in labels.enum_options(source)]
        f.value = input_value(to_percent(value) if is_percent(node) else value, widget, ctx.tz)
        if widget == "file" and isinstance(value, str):
            from web import attachments

            ident = attachments.parse_reference(value)
            f.attachment = ctx.attachments.get(ident) if ident is not None else None
    return f


def iter_fields(fields: list[FormField]):
    """Every field, depth first (rows' template rows excluded)."""
    for f in fields:
        yield f
        yield from iter_fields(f.children)
        for row in f.rows:
            yield from iter_fields(row)

