"""Notification texts from Jinja templates, per event and language, plain text and HTML.

Each template ``<name>`` has ``<name>.<language>.txt`` (blocks ``subject`` and ``body``) and
``<name>.<language>.html`` (the HTML body); the language is ``zh`` or ``en``, the recipient's.
Templates get the notification's ``args`` (the case's ids and scalar data) plus ``url``, the
case link when ``CASEFLOW_PUBLIC_URL`` is set, and ``sheet(name)``, a printout
(:mod:`caseflow.notify.documents`) filled from the args in the template's language. A notice
whose args name an attachment (``_attachment``: ``f14``/``f15``) gets that printout as a PDF.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, TemplateNotFound, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from caseflow import clock
from caseflow.notify import documents, pdf

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
LANGUAGES = ("zh", "en")
ATTACHMENT_ARG = "_attachment"  # caseflow._engine.outbox.ATTACHMENT_ARG

_ENV = SandboxedEnvironment(loader=FileSystemLoader(str(TEMPLATE_DIR)),
                            autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


def business_day(value: Any) -> str:
    """The day (YYYY-MM-DD) of an ISO date or moment in the business time zone: a case closed at
    02:00 in Shanghai (18:00 UTC the day before) was closed on the Shanghai day."""
    text = str(value or "")
    moment = clock.parse_moment(text) if len(text) > 10 else None
    if moment is None or moment.tzinfo is None:
        return text[:10]
    return moment.astimezone(clock.business_zone()).date().isoformat()


_ENV.filters["day"] = business_day


class TemplateMissing(LookupError):
    """No template of that name and language."""


@dataclass(frozen=True)
class Message:
    """A rendered notification."""

    subject: str
    text: str
    html: str | None
    attachments: list[Attachment] = field(default_factory=list)


@dataclass(frozen=True)
class Attachment:
    """A file attached to a notification's e-mail."""

    filename: str
    content: bytes
    mime_type: str = "application/pdf"


def template_names() -> list[str]:
    """The templates available (each in every language)."""
    return sorted({p.name.split(".")[0] for p in TEMPLATE_DIR.glob("*.txt") if not p.name.startswith("_")})


def render(template: str, language: str, args: dict[str, Any], public_url: str = "", attach: bool = False) -> Message:
    """Render ``template`` in ``language`` (falls back to zh) with ``args`` (``attach``: with the PDF
    the args name, for the e-mail; a list showing only the subject skips it)."""
    lang = language if language in LANGUAGES else "zh"
    if not template.replace("_", "").isalnum():
        raise TemplateMissing(f"no template {template!r}")
    context = dict(args)
    instance_id = args.get("instance_id")
    context["url"] = f"{public_url.rstrip('/')}/cases/{instance_id}" if public_url and instance_id else ""
    context["sheet"] = partial(_sheet, lang, args)
    try:
        text_tpl = _ENV.get_template(f"{template}.{lang}.txt")
    except TemplateNotFound:
        raise TemplateMissing(f"no template {template!r} in language {lang!r}") from None
    blocks = text_tpl.new_context(context)
    subject = "".join(text_tpl.blocks["subject"](blocks)).strip() if "subject" in text_tpl.blocks else template
    text = "".join(text_tpl.blocks["body"](text_tpl.new_context(context))).strip() + "\n"
    try:
        html: str | None = _ENV.get_template(f"{template}.{lang}.html").render(context)
    except TemplateNotFound:
        html = None
    return Message(subject=" ".join(subject.split()), text=text, html=html,
                   attachments=attachments(lang, args) if attach else [])


def _sheet(lang: str, args: dict[str, Any], name: str) -> documents.Sheet:
    try:
        return documents.sheet(name, lang, args)
    except KeyError:
        raise TemplateMissing(f"no printout {name!r}") from None


def attachments(lang: str, args: dict[str, Any]) -> list[Attachment]:
    """The PDF printout the notice's args name (none when they name none)."""
    name = args.get(ATTACHMENT_ARG)
    if not name:
        return []
    printout = _sheet(lang, args, str(name))
    return [Attachment(printout.filename, pdf.render(printout))]
