"""Customer notices from the diagram: the ``notify`` operator (issue 17).

The operator is pure: it returns a notice request (template, recipient address, language)
and the engine turns each call into an e-mail row of the outbox in the same transaction
(``caseflow._engine.outbox``). Process owners choose the template, the data key holding the
customer's address, the language, the data the notice carries and its PDF attachment on the
service task, with no code change.
"""
from __future__ import annotations

import json
import re

from service_tasks.registry import OperatorError, Param, operator
from service_tasks.values import is_missing, iso, now_param, to_str, to_str_list

#: A template name: lower-case words joined by underscores (a file stem under caseflow/notify/templates).
TEMPLATE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,80}$")
#: A plausible e-mail address (one @, no spaces); the SMTP server has the last word.
EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
LANGUAGES = ("zh", "en")
#: Printouts a notice can attach as PDF (caseflow/notify/documents.py: F14 fee notice, F15 repair report).
ATTACHMENTS = ("f14", "f15")
#: Data keys one notice may carry, and the size of their JSON.
MAX_FIELDS = 60
MAX_FIELDS_CHARS = 60_000


@operator("notify", audit="notice", params=[
    Param("template", "str", doc="Template of the notice (caseflow/notify/templates/<template>.<language>.txt)."),
    Param("recipient_key", "str", "customer_email", "Data key holding the recipient's e-mail address."),
    Param("language", "str", "zh", "Language of the notice: zh or en."),
    Param("language_key", "str", "", "Data key holding the language (zh/en); when set and present it wins."),
    Param("fields", "list", [], "Data keys whose values the notice carries as they are now, lists (parts) and "
                                "long texts included; recorded with the notice."),
    Param("attachment", "str", "", "Printout attached as PDF: f14 (repair fee notice) or f15 (repair report)."),
    Param("now", "datetime", None, "Evaluation time (supplied by the engine)."),
])
def notify(data: dict, params: dict) -> dict:
    """Ask for an e-mail notice to the customer (or anyone whose address is in the data).

    Output: ``last_notice`` = ``{template, to, language, at}``, plus ``args`` (the values of
    ``fields`` present in the data) and ``attachment`` when the diagram sets them; ``to`` is
    None (and nothing is sent) when ``data[recipient_key]`` is empty, so a case without an
    e-mail address goes on and the notice is the staff's to give by phone or letter. The engine
    writes each call to the audit log as a ``notice`` event (so the case records what was sent)
    and queues the e-mail in the outbox.
    Parameters: ``template``, ``recipient_key`` (customer_email), ``language`` (zh),
    ``language_key``, ``fields`` ([]), ``attachment`` ('').
    """
    template = to_str(params["template"], "template")
    if not TEMPLATE_NAME.match(template):
        raise OperatorError("must be lower-case letters, digits and underscores", field="template")
    key = to_str(params["recipient_key"], "recipient_key")
    language = to_str(params["language"], "language").lower()
    language_key = str(params.get("language_key") or "")
    if language_key and not is_missing(data.get(language_key)):
        language = str(data[language_key]).strip().lower()
    language = "en" if language.startswith("en") else "zh" if language.startswith("zh") else language
    if language not in LANGUAGES:
        raise OperatorError(f"must be one of {', '.join(LANGUAGES)}", field="language")
    address = data.get(key)
    to: str | None = None
    if not is_missing(address):
        to = str(address).strip()
        if not EMAIL.match(to) or len(to) > 254:
            to = None  # not an address we can send to: the staff's notice task covers it
    notice: dict = {"template": template, "to": to, "language": language, "at": iso(now_param(params))}
    carried = _carried(data, params.get("fields") or [])
    if carried:
        notice["args"] = carried
    attachment = str(params.get("attachment") or "").strip().lower()
    if attachment:
        if attachment not in ATTACHMENTS:
            raise OperatorError(f"must be one of {', '.join(ATTACHMENTS)}", field="attachment")
        notice["attachment"] = attachment
    return {"last_notice": notice}


def _carried(data: dict, fields: object) -> dict:
    """The values of the data keys ``fields`` that the data has (checked: names, count and size)."""
    keys = to_str_list(fields, "fields")
    if len(keys) > MAX_FIELDS:
        raise OperatorError(f"at most {MAX_FIELDS} data keys", field="fields")
    carried = {key: data[key] for key in dict.fromkeys(keys) if key in data}
    if len(json.dumps(carried, ensure_ascii=False, default=str)) > MAX_FIELDS_CHARS:
        raise OperatorError(f"the values of these keys exceed {MAX_FIELDS_CHARS} characters", field="fields")
    return carried
