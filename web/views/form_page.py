"""The one way task and start forms are built, read back and re-shown with errors.

A form with errors is shown again by post/redirect/get: what was typed and the field messages
are kept in the user's session (:func:`keep_draft`, bounded in size, one entry per form), the
POST answers 303 to the form's page, which shows them (:func:`draft`); a successful submission
drops them (:func:`drop_draft`). Back and reload then never resubmit the form.
"""
from __future__ import annotations

import base64
import json
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Response, redirect, request, session
from sqlalchemy.orm import Session

import engine
from web import attachments
from web.forms.messages import localize_all
from web.forms.schema_form import FormContext, FormField, build_fields, iter_fields
from web.forms.submission import Submission, parse_submission
from web.labels import schema_description, schema_title
from web.views.common import business_tz


@dataclass
class RenderedForm:
    """The fields to render, errors that belong to no field, and the schema's own texts."""

    fields: list[FormField]
    stray_errors: list[str]
    title: str | None
    description: str | None
    multipart: bool


def build(session: Session, schema: dict | None, ui_schema: dict | None, values: dict | None,
          errors: dict[str, str] | None, instance_id: int | None) -> RenderedForm:
    """Fields filled with ``values`` (process data, or the raw input after an error)."""
    errors = errors or {}
    names = ({a.id: {"id": a.id, "filename": a.filename} for a in attachments.for_instance(session, instance_id)}
             if instance_id is not None else {})
    fields = build_fields(schema, ui_schema, values, FormContext(errors, business_tz(), names))
    known = {f.name for f in iter_fields(fields)}
    stray = [text for name, text in errors.items() if name not in known]
    multipart = _has_file(fields)
    schema = schema or {}
    return RenderedForm(fields, stray, schema_title(schema) if schema.get("title") or schema.get("x-title-zh")
                        else None, schema_description(schema), multipart)


def proposed(task: Mapping[str, Any]) -> dict:
    """What a task's form first shows: the case data, less the fields the form asks afresh each
    round (``x-fresh``: the previous round's decision and reason are not proposed again)."""
    fresh = set(engine.fresh_keys(task["schema"]))
    return {key: value for key, value in (task["data"] or {}).items() if key not in fresh}


def _has_file(fields: list[FormField]) -> bool:
    return any(f.widget == "file" or _has_file(f.children) or _has_file(f.template_row) for f in fields)


# The session is a signed cookie, which browsers keep only up to 4 KB: a draft takes at most this
# much of it (compressed, as the session is stored); a larger one is shown again at once (422).
MAX_DRAFT_BYTES = 2400
MAX_DRAFTS = 2  # forms with a draft at once (two tabs); the oldest is dropped
DRAFT_TTL_S = 3600  # an older draft is forgotten: the form shows the case's values again
_DRAFTS = "form_drafts"


@dataclass(frozen=True)
class Draft:
    """What was typed into a form and its field messages, kept for the form's next GET."""

    values: dict[str, Any]
    errors: dict[str, str]


def _fresh(entry: Any) -> bool:
    return isinstance(entry, dict) and time.time() - float(entry.get("at", 0)) < DRAFT_TTL_S


def keep_draft(slot: str, values: dict[str, Any], errors: dict[str, str]) -> bool:
    """Keep ``values`` and ``errors`` of the form ``slot`` (``task:<id>``, ``start:<key>``) in the
    session; False (nothing kept) when they are larger than :data:`MAX_DRAFT_BYTES`."""
    entry = {"values": values, "errors": {str(k): str(v) for k, v in errors.items()}, "at": time.time()}
    try:
        packed = json.dumps(entry, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")
    except (TypeError, ValueError):
        return False
    if len(base64.urlsafe_b64encode(zlib.compress(packed))) > MAX_DRAFT_BYTES:
        return False
    others = [(k, v) for k, v in (session.get(_DRAFTS) or {}).items() if k != slot and _fresh(v)]
    others.sort(key=lambda kv: float(kv[1].get("at", 0)))
    session[_DRAFTS] = {**dict(others[-(MAX_DRAFTS - 1):] if MAX_DRAFTS > 1 else []), slot: entry}
    return True


def draft(slot: str) -> Draft | None:
    """The kept input of form ``slot`` (None when there is none, or it is too old)."""
    entry = (session.get(_DRAFTS) or {}).get(slot)
    if not isinstance(entry, dict) or not _fresh(entry):
        return None
    values, errors = entry.get("values"), entry.get("errors")
    if not isinstance(values, dict) or not isinstance(errors, dict):
        return None
    return Draft(values=values, errors=errors)


def drop_draft(slot: str) -> None:
    """Forget the kept input of form ``slot`` (after it was submitted, or it is gone)."""
    drafts = session.get(_DRAFTS)
    if drafts and slot in drafts:
        session[_DRAFTS] = {k: v for k, v in drafts.items() if k != slot}


def redirect_with_draft(slot: str, values: dict[str, Any], errors: dict[str, str], url: str) -> Response | None:
    """303 to the form's page ``url`` with the input kept (post/redirect/get); None when it is too
    large to keep, and the caller shows the form again at once."""
    if not keep_draft(slot, values, errors):
        return None
    return redirect(url, 303)  # type: ignore[return-value]  # werkzeug's Response is Flask's base


def read(schema: dict | None, ui_schema: dict | None, batch: attachments.UploadBatch) -> Submission:
    """The posted form as typed data; uploads are saved through ``batch``."""
    return parse_submission(schema, ui_schema, request.form, request.files, business_tz(), batch.store,
                            batch.may_keep)


def all_errors(submission: Submission, schema: dict | None,
               check: Callable[[dict, frozenset[str]], dict[str, str]]) -> dict[str, str]:
    """The input errors of ``submission`` and what ``check(data, unread)`` (``engine.form_problems``)
    finds in the fields that could be read, localized: a form comes back with every problem at once,
    not the typing errors first and the form's rules after. ``unread``: the fields in error."""
    found = dict(submission.errors)
    for name, text in localize_all(check(submission.data, frozenset(found)), schema).items():
        found.setdefault(name, text)  # a field's own input error stands ("Enter a whole number")
    return found
