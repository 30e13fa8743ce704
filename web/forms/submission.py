"""Submitted form strings -> typed data for the engine (and the raw input, kept for re-display).

Conversion problems (a letter in a number field, a malformed date, a file too large) become
field errors here; everything else is validated once, by the engine against the schema.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage, MultiDict

from caseflow import limits
from web import labels
from web.forms.schema_form import ROW_INDEX, from_percent, is_percent, property_type, ui_entry, widget_for

ROWS_MARKER = "__rows"  # hidden input sent with every table, so an emptied table means []
ROW_MARKER = "__row"  # hidden input sent with every row, so a row of checkboxes is seen

#: What a number field takes: digits with an optional sign and decimal point; commas only as
#: thousands separators (1,900 or 12,500.50). "12,50" (a decimal comma) and "1e3" are refused,
#: not read as 1250 and 1000.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|[+-]?\.\d+")


class UploadRejected(ValueError):
    """An uploaded file cannot be taken (too large, empty name...); the message is for the user."""


# (file, field name) -> the reference stored in the data; raises UploadRejected.
UploadSink = Callable[[FileStorage, str], str]
# reference already in the form -> True when it may be kept (it belongs to this case).
ReferenceCheck = Callable[[str], bool]


@dataclass
class Submission:
    """The typed data, the input as typed (nested like the data) and conversion errors."""

    data: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class _Reader:
    form: MultiDict
    files: MultiDict
    tz: ZoneInfo
    store_upload: UploadSink
    may_keep: ReferenceCheck
    errors: dict[str, str]

    def object(self, schema: dict, ui: dict, src: str, dst: str) -> tuple[dict, dict]:
        data: dict[str, Any] = {}
        raw: dict[str, Any] = {}
        required = set(schema.get("required") or [])
        for key, node in (schema.get("properties") or {}).items():
            if not isinstance(node, dict):
                continue
            sub_ui = ui_entry(ui, key)
            if node.get("readOnly") or sub_ui.get("ui:readonly"):
                continue
            self.field(key, node, sub_ui, src + key, dst + key, data, raw, key in required)
        return data, raw

    def field(self, key: str, node: dict, ui: dict, src: str, dst: str, data: dict, raw: dict,
              required: bool) -> None:
        widget = widget_for(node, ui, required)
        if widget == "object":
            sub_data, raw[key] = self.object(node, ui, src + ".", dst + ".")
            if sub_data:
                data[key] = sub_data
        elif widget == "rows":
            if f"{src}.{ROWS_MARKER}" in self.form or self._row_indexes(src):
                data[key], raw[key] = self.rows(node, ui, src, dst)
        elif widget == "multichoice":
            raw[key] = self.form.getlist(src)
            data[key] = [self.choice(v, node.get("items") or {}, dst) for v in raw[key]]
        elif widget == "checkbox":
            raw[key] = src in self.form
            data[key] = raw[key]
        elif widget == "file":
            raw[key] = self.upload(src, dst)
            if raw[key]:
                data[key] = raw[key]
        else:
            raw[key] = self.form.get(src, "")
            value = self.scalar(raw[key], widget, node, dst)
            if value is not None:
                data[key] = value

    def _row_indexes(self, src: str) -> list[int]:
        pattern = re.compile(rf"^{re.escape(src)}\.(\d+)\.")
        found = {int(m.group(1)) for name in [*self.form.keys(), *self.files.keys()]
                 if (m := pattern.match(name))}
        return sorted(found)

    def rows(self, node: dict, ui: dict, src: str, dst: str) -> tuple[list, list]:
        items = node.get("items") or {}
        item_ui = ui_entry(ui, "items")
        rows_data: list[dict] = []
        rows_raw: list[dict] = []
        for index in self._row_indexes(src):
            position = len(rows_data)
            before = dict(self.errors)
            row_data, row_raw = self.object(items, item_ui, f"{src}.{index}.", f"{dst}.{position}.")
            if _blank(row_raw):
                self.errors.clear()
                self.errors.update(before)
                continue
            rows_data.append(row_data)
            rows_raw.append(row_raw)
        return rows_data, rows_raw

    def choice(self, text: str, node: dict, dst: str) -> Any:
        for value, _label in labels.enum_options(node):
            if str(value) == text or (isinstance(value, bool) and text == ("true" if value else "false")):
                return value
        self.errors.setdefault(dst, _("Choose one of the offered values."))
        return text

    def scalar(self, text: str, widget: str, node: dict, dst: str) -> Any:
        text = text.strip() if widget != "textarea" else text.rstrip()
        if text == "":
            return None
        if widget in ("select", "radio"):
            return self.choice(text, node, dst)
        if widget == "yesno":
            if text in ("true", "false"):
                return text == "true"
            return self.choice(text, node, dst)
        if widget == "integer" or (widget != "number" and property_type(node) == "integer"):
            return self.integer(text, dst)
        if widget == "number" or property_type(node) == "number":
            number = self.number(text, dst)
            return from_percent(number) if is_percent(node) else number
        if widget == "date":
            try:
                day = dt.date.fromisoformat(text)
            except ValueError:
                self.errors[dst] = _("Enter a date (YYYY-MM-DD).")
                return text
            return self.in_years(day, text, dst)
        if widget == "datetime":
            return self.datetime(text, dst)
        if widget == "lines":
            return [line.strip() for line in text.splitlines() if line.strip()]
        return text

    def decimal(self, text: str, dst: str, message: str) -> Decimal | None:
        """The typed number (bounded length, finite, within ±2**53), else None and a field error."""
        number: Decimal | None = None
        if limits.number_text_problem(text) is None and _PLAIN_NUMBER.fullmatch(text):
            try:
                number = Decimal(text.replace(",", ""))
            except InvalidOperation:
                number = None
        if number is None or not number.is_finite():
            self.errors[dst] = message
            return None
        if number.copy_abs() > limits.MAX_SAFE_INTEGER:  # compared as decimals: 1e1000000 is never expanded
            self.errors[dst] = _("The number is too large.")
            return None
        return number

    def integer(self, text: str, dst: str) -> Any:
        number = self.decimal(text, dst, _("Enter a whole number."))
        if number is None:
            return text
        if number != number.to_integral_value():
            self.errors[dst] = _("Enter a whole number.")
            return text
        return int(number)

    def number(self, text: str, dst: str) -> Any:
        number = self.decimal(text, dst, _("Enter a number."))
        if number is None:
            return text
        return int(number) if number == number.to_integral_value() and "." not in text else float(number)

    def datetime(self, text: str, dst: str) -> Any:
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            self.errors[dst] = _("Enter a date and time.")
            return text
        if limits.year_problem(moment.year) is not None:
            return self.in_years(moment, text, dst)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.tz)
        return moment.isoformat()

    def in_years(self, day: dt.date, text: str, dst: str) -> str:
        """The date in ISO form if its year is within the limits, else ``text`` and a field error."""
        if limits.year_problem(day.year) is not None:
            self.errors[dst] = _("Enter a date between the years %(low)s and %(high)s.", low=limits.MIN_YEAR,
                                 high=limits.MAX_YEAR)
            return text
        return day.isoformat()

    def upload(self, src: str, dst: str) -> str:
        upload: FileStorage | None = self.files.get(src)
        if upload is not None and upload.filename:
            try:
                return self.store_upload(upload, dst)
            except UploadRejected as err:
                self.errors[dst] = str(err)
                return ""
        kept = self.form.get(src, "")
        return kept if kept and self.may_keep(kept) else ""


def _blank(raw: Any) -> bool:
    if isinstance(raw, dict):
        return all(_blank(v) for v in raw.values())
    if isinstance(raw, list):
        return all(_blank(v) for v in raw)
    return raw in ("", None, False)


def parse_submission(schema: dict | None, ui_schema: dict | None, form: MultiDict, files: MultiDict,
                     tz: ZoneInfo, store_upload: UploadSink, may_keep: ReferenceCheck) -> Submission:
    """Read a posted form against ``schema``; nothing is validated beyond type conversion."""
    if not schema:
        return Submission()
    errors: dict[str, str] = {}
    reader = _Reader(form, files, tz, store_upload, may_keep, errors)
    data, raw = reader.object(schema, ui_schema or {}, "", "")
    return Submission(data=data, raw=raw, errors=errors)


__all__ = ["ROWS_MARKER", "ROW_MARKER", "ROW_INDEX", "Submission", "UploadRejected", "parse_submission"]
