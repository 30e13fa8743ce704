"""The engine's validation messages (JSON Schema wording, English) in the user's language."""
from __future__ import annotations

import re
from collections.abc import Callable

from flask_babel import gettext as _

from caseflow import clock
from web.forms.schema_form import is_percent
from web.templating import when

# (pattern of the engine's message, localized message built from its groups)
_PATTERNS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"^this field is required$"), lambda m: _("This field is required.")),
    # Caseflow's form keywords (form_checks.validate_form, .check_case_rules) and the forms' own x-message texts
    (re.compile(r"^must not be in the future$"), lambda m: _("The date must not be in the future.")),
    (re.compile(r"^must not be before (\S+)$"),  # x-not-before (form_rules)
     lambda m: _("The date must not be before %(date)s.", date=_readable_moment(m[1]))),
    (re.compile(r"^must not be more than (\S+)$"),  # x-not-more-than (form_rules)
     lambda m: _("The number must not be more than %(n)s.", n=m[1])),
    (re.compile(r"^the quantities add up to (\S+), but (\S+) are expected$"),  # x-sum-equals (form_rules)
     lambda m: _("The quantities add up to %(total)s, but %(expected)s are expected.", total=m[1], expected=m[2])),
    (re.compile(r"^the value differs from (\S+); give the reason$"),
     lambda m: _("The amount differs from the expected %(n)s: give the reason.", n=m[1])),
    (re.compile(r"^Enter an e-mail address such as name@example\.com\.$"),
     lambda m: _("Enter an e-mail address such as name@example.com.")),
    (re.compile(r"^Enter a phone number: digits, spaces, \+ \( \) - only\.$"),
     lambda m: _("Enter a phone number: digits, spaces, + ( ) - only.")),
    (re.compile(r"^A customer who is not satisfied cannot rate 4 or 5"),
     lambda m: _("A customer who is not satisfied cannot rate 4 or 5; check the satisfaction or the answer.")),
    (re.compile(r"^A satisfied customer cannot rate 1 or 2"),
     lambda m: _("A satisfied customer cannot rate 1 or 2; check the satisfaction or the answer.")),
    # caseflow.limits and the engine's form check (form_checks.validate_form)
    (re.compile(r"^must be a date between (\d+) and (\d+)$"),
     lambda m: _("Enter a date between the years %(low)s and %(high)s.", low=m[1], high=m[2])),
    (re.compile(r"^is not a field of this form$|cannot be submitted$"), lambda m: _("This field cannot be submitted.")),
    (re.compile(r"^(?:field name )?is too long \(at most (\d+) characters\)$"),
     lambda m: _("This is too long (at most %(n)s characters).", n=m[1])),
    (re.compile(r"contains a character that is not allowed"),
     lambda m: _("Remove the control characters from this text.")),
    (re.compile(r"^must be a finite number$|^must be between -\d+ and \d+$"), lambda m: _("The number is too large.")),
    (re.compile(r" is a required property$"), lambda m: _("This field is required.")),
    (re.compile(r" is less than the minimum of (\S+)$"), lambda m: _("The smallest allowed value is %(n)s.", n=m[1])),
    (re.compile(r" is less than or equal to the minimum of (\S+)$"),
     lambda m: _("The value must be greater than %(n)s.", n=m[1])),
    (re.compile(r" is greater than the maximum of (\S+)$"), lambda m: _("The largest allowed value is %(n)s.", n=m[1])),
    (re.compile(r" is greater than or equal to the maximum of (\S+)$"),
     lambda m: _("The value must be less than %(n)s.", n=m[1])),
    (re.compile(r" is too short$|should be non-empty$|does not have enough properties$"),
     lambda m: _("Please fill this in.")),
    (re.compile(r" is too long$|is expected to be empty$"), lambda m: _("This is too long.")),
    (re.compile(r" is not one of "), lambda m: _("Choose one of the offered values.")),
    (re.compile(r" is not a '(date|date-time)'$"), lambda m: _("Enter a valid date.")),
    (re.compile(r" is not a '([^']+)'$"), lambda m: _("The format is not valid (%(f)s).", f=m[1])),
    (re.compile(r" does not match "), lambda m: _("The format is not valid.")),
    (re.compile(r" is not of type '(integer)'"), lambda m: _("Enter a whole number.")),
    (re.compile(r" is not of type '(number)'"), lambda m: _("Enter a number.")),
    (re.compile(r" is not of type "), lambda m: _("The value has the wrong type.")),
    (re.compile(r" is not a multiple of (\S+)$"), lambda m: _("The value must be a multiple of %(n)s.", n=m[1])),
    (re.compile(r"^True was expected$"), lambda m: _("Tick this box to confirm.")),  # a boolean const: true
    (re.compile(r" was expected$"), lambda m: _("Only one value is allowed here.")),  # another const
    (re.compile(r"^must not be before the date in from$"),  # the reports' date range (schema/reports.py)
     lambda m: _("The end date must not be before the start date.")),
]


def _readable_moment(text: str) -> str:
    """A date as given; a date-time in the business time zone, to the minute (as pages show them)."""
    return text if len(text) == 10 else (when(text) or text)


def localize(message: str) -> str:
    """The engine's field message in the current language (unknown wording is kept)."""
    for pattern, build in _PATTERNS:
        match = pattern.search(message)
        if match:
            return build(match)
    return message


_BOUND = re.compile(r"(the (?:minimum|maximum) of )(\S+)$")
_TOO_LONG = re.compile(r" is too long$")
_TOO_SHORT = re.compile(r" is too short$|should be non-empty$")
_EMAIL = re.compile(r" is not a 'email'$")
_FUTURE = re.compile(r"^must not be in the future$")
_BEFORE = re.compile(r"^must not be before (\S+)$")


def localize_all(fields: dict[str, str], schema: dict | None = None) -> dict[str, str]:
    """Each field's message localized, saying the field's own limit where the validator's wording
    leaves it out ("is too long": at most N characters or entries; a date-time's limit is now, a
    date's a day). A bound of a percent field (``x-unit: percent``, stored as a fraction) is given
    as the percentage the person typed (100 %, not 1)."""
    out = {}
    for name, text in fields.items():
        message = str(text)
        node = _node_at(schema, name)
        if node is not None and is_percent(node):
            message = _BOUND.sub(lambda m: m[1] + _percent(m[2]), message)
        out[name] = (_precise(message, node) if node is not None else None) or localize(message)
    return out


def _node_at(schema: dict | None, name: str) -> dict | None:
    """The schema of the field at a dotted path (``lines.0.qty``), or None."""
    node: object = schema
    for part in name.split("."):
        if not isinstance(node, dict):
            return None
        if node.get("type") == "array" or "items" in node:
            node = node.get("items") if part.isdigit() else None
        else:
            properties = node.get("properties")
            node = properties.get(part) if isinstance(properties, dict) else None
    return node if isinstance(node, dict) else None


def _precise(message: str, node: dict) -> str | None:
    """The message of a length, format or date error that the field's schema makes precise, or None."""
    is_array = node.get("type") == "array"
    if _EMAIL.search(message):
        return _("Enter an e-mail address such as name@example.com.")
    if _FUTURE.search(message) and node.get("format") == "date-time":  # the limit is now, not today
        return _("The time must not be in the future.")
    before = _BEFORE.search(message)
    moment = clock.parse_moment(before[1]) if before and node.get("format") == "date" and len(before[1]) > 10 else None
    if moment is not None:  # days are compared: name the day
        return _("The date must not be before %(date)s.", date=moment.astimezone(clock.business_zone()).date())
    if _TOO_LONG.search(message):
        most = node.get("maxItems" if is_array else "maxLength")
        if isinstance(most, int):
            return _("Too many entries (at most %(n)s).", n=most) if is_array else \
                _("This is too long (at most %(n)s characters).", n=f"{most:,}")
    if _TOO_SHORT.search(message):
        least = node.get("minItems" if is_array else "minLength")
        if isinstance(least, int) and least > 1:
            return _("Please give at least %(n)s entries.", n=least) if is_array else \
                _("Please write at least %(n)s characters.", n=least)
    return None


def _percent(fraction: str) -> str:
    try:
        return f"{float(fraction) * 100:g}%"
    except ValueError:
        return fraction
