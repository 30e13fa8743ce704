"""The one way task and start forms are built, read back and re-shown with errors."""
from __future__ import annotations

from dataclasses import dataclass

from flask import request
from sqlalchemy.orm import Session

from web import attachments
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


def _has_file(fields: list[FormField]) -> bool:
    return any(f.widget == "file" or _has_file(f.children) or _has_file(f.template_row) for f in fields)


def read(schema: dict | None, ui_schema: dict | None, batch: attachments.UploadBatch) -> Submission:
    """The posted form as typed data; uploads are saved through ``batch``."""
    return parse_submission(schema, ui_schema, request.form, request.files, business_tz(), batch.store,
                            batch.may_keep)
