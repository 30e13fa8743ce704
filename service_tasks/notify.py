"""Customer notices from the diagram: the ``notify`` operator (issue 17).

The operator is pure: it returns a notice request (template, recipient address, language)
and the engine turns each call into an e-mail row of the outbox in the same transaction
(``caseflow._engine.outbox``). Process owners choose the template, the data key holding the
customer's address and the language on the service task, with no code change.
"""
from __future__ import annotations

import re

from service_tasks.registry import OperatorError, Param, operator
from service_tasks.values import is_missing, iso, now_param, to_str

#: A template name: lower-case words joined by underscores (a file stem under caseflow/notify/templates).
TEMPLATE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,80}$")
#: A plausible e-mail address (one @, no spaces); the SMTP server has the last word.
EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
LANGUAGES = ("zh", "en")


@operator("notify", audit="notice", params=[
    Param("template", "str", doc="Template of the notice (caseflow/notify/templates/<template>.<language>.txt)."),
    Param("recipient_key", "str", "customer_email", "Data key holding the recipient's e-mail address."),
    Param("language", "str", "zh", "Language of the notice: zh or en."),
    Param("language_key", "str", "", "Data key holding the language (zh/en); when set and present it wins."),
    Param("now", "datetime", None, "Evaluation time (supplied by the engine)."),
])
def notify(data: dict, params: dict) -> dict:
    """Ask for an e-mail notice to the customer (or anyone whose address is in the data).

    Output: ``last_notice`` = ``{template, to, language, at}``; ``to`` is None (and nothing
    is sent) when ``data[recipient_key]`` is empty, so a case without an e-mail address goes on
    and the notice is the staff's to give by phone or letter. The engine writes each call to the
    audit log as a ``notice`` event and queues the e-mail in the outbox.
    Parameters: ``template``, ``recipient_key`` (customer_email), ``language`` (zh),
    ``language_key``.
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
    return {"last_notice": {"template": template, "to": to, "language": language, "at": iso(now_param(params))}}
