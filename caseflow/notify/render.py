"""Notification texts from Jinja templates, per event and language, plain text and HTML.

Each template ``<name>`` has ``<name>.<language>.txt`` (blocks ``subject`` and ``body``) and
``<name>.<language>.html`` (the HTML body); the language is ``zh`` or ``en``, the recipient's.
Templates get the notification's ``args`` (the case's ids and scalar data) plus ``url``, the
case link when ``CASEFLOW_PUBLIC_URL`` is set.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, TemplateNotFound, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
LANGUAGES = ("zh", "en")

_ENV = SandboxedEnvironment(loader=FileSystemLoader(str(TEMPLATE_DIR)),
                            autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


class TemplateMissing(LookupError):
    """No template of that name and language."""


@dataclass(frozen=True)
class Message:
    """A rendered notification."""

    subject: str
    text: str
    html: str | None


def template_names() -> list[str]:
    """The templates available (each in every language)."""
    return sorted({p.name.split(".")[0] for p in TEMPLATE_DIR.glob("*.txt") if not p.name.startswith("_")})


def render(template: str, language: str, args: dict[str, Any], public_url: str = "") -> Message:
    """Render ``template`` in ``language`` (falls back to zh) with ``args``."""
    lang = language if language in LANGUAGES else "zh"
    if not template.replace("_", "").isalnum():
        raise TemplateMissing(f"no template {template!r}")
    context = dict(args)
    instance_id = args.get("instance_id")
    context["url"] = f"{public_url.rstrip('/')}/cases/{instance_id}" if public_url and instance_id else ""
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
    return Message(subject=" ".join(subject.split()), text=text, html=html)
