"""The portal's public pages: the start page, and filing a complaint or a repair application.

A filing form is the process's own start form cut down to what a customer can know
(:data:`COMPLAINT_FIELDS`, :data:`REPAIR_FIELDS`), rendered and read by Caseflow's form code;
the case starts through ``engine.start`` as :data:`caseflow.portal_links.PORTAL_ACTOR`, a
complaint with ``channel`` = ``web``. Filing is rate-limited per client address, and a filing
page files once (:mod:`caseflow.portal_filings`): sent again, it shows the case it filed.
"""
from __future__ import annotations

import copy
import hashlib
import json
import time
from typing import Any

from flask import current_app, redirect, request, url_for
from flask import session as browser_session
from flask_babel import force_locale

import engine
from caseflow import portal_filings, portal_links, search
from web import attachments, get_db, rollback_request
from web.forms.messages import localize, localize_all
from web.portal.common import bp, language, log, page
from web.ratelimit import client_address, limiter
from web.views import form_page

#: The complaint registration fields a customer can know (PRODUCT.md §3), in this order. Not the
#: customer code: it is the company's key of a customer (KPIs, the Nth complaint of the year), and a
#: visitor could claim another customer's; staff set it when they complete the intake.
COMPLAINT_FIELDS = ("customer_name", "customer_contact", "customer_email", "customer_address",
                    "complaint_type", "product_name", "product_model", "product_no", "product_barcode", "order_no",
                    "ship_date", "ship_qty", "found_stage", "functional_defect_qty", "cosmetic_defect_qty",
                    "lot_size", "description", "customer_request", "customer_requires_formal_report", "evidence")
#: The repair application (F13).
REPAIR_FIELDS = ("customer_name", "customer_contact", "address", "recipient", "phone", "email", "product_model",
                 "serial_no", "purchase_date", "warranty_claim", "fault_description", "special_requirements",
                 "accessories")
FILINGS = {"complaint": (COMPLAINT_FIELDS, "customer_email"), "repair": (REPAIR_FIELDS, "email")}
#: Flask config key of the filing limit per client address (a Flask-Limiter rate string).
FILE_LIMIT = "CASEFLOW_PORTAL_FILE_LIMIT"


def _file_limit() -> str:
    return str(current_app.config.get(FILE_LIMIT, "10 per hour"))


def portal_schema(schema: dict | None, fields: tuple[str, ...], email_key: str) -> dict:
    """``schema`` (a start form) with only ``fields``; the e-mail address becomes required."""
    schema = copy.deepcopy(schema or {})
    props = schema.get("properties") or {}
    schema["properties"] = {k: props[k] for k in fields if k in props}
    required = [k for k in schema.get("required") or [] if k in schema["properties"]]
    schema["required"] = required + ([email_key] if email_key in props and email_key not in required else [])
    for key in ("if", "then", "else", "allOf", "anyOf", "oneOf", "dependentRequired"):
        schema.pop(key, None)  # conditions may name staff fields; the process's own checks run on start
    return schema


def reference(view: engine.CaseRecord) -> str:
    """The number a customer tracks a case by: its business key, else ``RA-<id>`` (an application)."""
    return view["business_key"] or search.application_reference(view["id"])


@bp.route("/")
def index() -> Any:
    """What a customer can do here."""
    return page("portal/index.html", language())


def _filing(key: str) -> tuple[dict, dict]:
    fields, email_key = FILINGS[key]
    full = engine.start_form(get_db(), key) or {}
    return full, portal_schema(full, fields, email_key)


_FILED = "portal_filed"  # the session's note of this browser's last filing: what the "Received" page shows
_FILING_TOKENS = "portal_filing_tokens"  # the session's one-time tokens of the filing pages it was given
_KEPT_TOKENS = 8  # the newest ones (a page opened in several tabs)
FILING_TOKEN_FIELD = "filing_token"


def _issue_token() -> str:
    """A new filing page's one-time token, kept in the browser's session."""
    token = portal_filings.new_token()
    kept = browser_session.get(_FILING_TOKENS)
    kept = [t for t in kept if isinstance(t, str)] if isinstance(kept, list) else []
    browser_session[_FILING_TOKENS] = [*kept, token][-_KEPT_TOKENS:]
    return token


def _sent_token() -> str | None:
    """The posted form's token when this browser's session was given it (another's is ignored:
    it would show that filing's number to a stranger)."""
    token = request.form.get(FILING_TOKEN_FIELD, "")
    kept = browser_session.get(_FILING_TOKENS)
    if not token or len(token) > portal_filings.MAX_TOKEN_LENGTH or not isinstance(kept, list) or token not in kept:
        return None
    return token


def _render(key: str, schema: dict, values: dict | None, errors: dict[str, str] | None = None,
            status: int = 200, token: str | None = None) -> Any:
    lang = language()
    with force_locale(lang):
        form = form_page.build(get_db(), schema, None, values, errors, None)
        return page("portal/file.html", lang, status, key=key, form=form,
                    action=url_for("portal.file_submit", key=key), filing_token=token or _issue_token())


def _show_filed(key: str, view: engine.CaseRecord, again: bool = False) -> Any:
    """Post/redirect/get to the "Received" page of the case ``view`` (reloading it files nothing
    again); ``again``: the page says the same was sent before and is filed once."""
    browser_session[_FILED] = {"key": key, "number": reference(view), "email": view["data"].get(FILINGS[key][1]),
                               "again": again}
    return redirect(url_for("portal.filed"), 303)


_SENT = "portal_filed_contents"  # the session's recent filings: a digest of what was sent, the case, when
_KEPT_SENT = 4
SAME_FILING_S = 30 * 60  # the same content sent again this soon by the same browser is the filing repeated


def _content_digest(key: str) -> str:
    """A digest of what the customer sent (the fields and the attached files' names), never the tokens."""
    fields = sorted((name, value) for name, value in request.form.items(multi=True)
                    if name not in ("csrf_token", FILING_TOKEN_FIELD))
    files = sorted((name, upload.filename or "") for name, upload in request.files.items(multi=True))
    text = json.dumps([key, fields, files], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _recent_filings() -> list[dict]:
    """This browser's filings of the last :data:`SAME_FILING_S` seconds (as its session keeps them)."""
    kept = browser_session.get(_SENT)
    if not isinstance(kept, list):
        return []
    now = time.time()
    return [entry for entry in kept if isinstance(entry, dict) and isinstance(entry.get("case"), int)
            and isinstance(entry.get("at"), (int, float)) and now - entry["at"] < SAME_FILING_S]


def _same_filed_lately(key: str, digest: str) -> Any | None:
    """The "Received" page of the case this browser filed with the very same content lately (the
    form sent again after Back, or from a second tab), or None."""
    for entry in _recent_filings():
        if entry.get("digest") == digest:
            session = get_db()
            try:
                view = engine.show(session, entry["case"], audit=False)
            except engine.NotFound:
                return None
            if view["status"] == "cancelled":  # staff ended it meanwhile: sent again, it is filed anew
                return None
            log.info("portal: the same %s sent again from %s; showing case %s, filed with it", key,
                     client_address(), view["id"])
            return _show_filed(key, view, again=True)
    return None


def _remember_filing(digest: str, case_id: int) -> None:
    browser_session[_SENT] = [*_recent_filings(), {"digest": digest, "case": case_id, "at": int(time.time())}][
        -_KEPT_SENT:]


def _filed_before(key: str, token: str | None) -> Any | None:
    """The "Received" page of the case the form with ``token`` filed already (sent twice), or None."""
    session = get_db()
    earlier = portal_filings.filed_case(session, token) if token else None
    if earlier is None:
        return None
    log.info("portal: the %s form sent again from %s; showing case %s, filed by it", key, client_address(), earlier)
    return _show_filed(key, engine.show(session, earlier, audit=False))


@bp.route("/file/<any(complaint, repair):key>")
def file_form(key: str) -> Any:
    """The filing form of a complaint or a repair application."""
    return _render(key, _filing(key)[1], {})


def _keep_language(session: Any, view: engine.CaseRecord) -> None:
    """The case keeps the customer's language (``customer_language``): its links and the mails to the
    customer use it, those written while it started included."""
    lang = language()
    if view["status"] in ("running", "waiting"):
        engine.update_data(session, view["id"], {portal_links.CASE_LANGUAGE_KEY: lang}, portal_links.PORTAL_ACTOR,
                           reason="the customer's language on the portal")
    portal_links.adopt_language(session, view["id"], lang)


def _filed(key: str, data: dict) -> dict:
    """The start data of a customer's filing (a complaint records that it came from the web)."""
    return dict(data, channel="web") if key == "complaint" else dict(data)


@bp.route("/file/<any(complaint, repair):key>", methods=["POST"])
@limiter.limit(_file_limit, methods=["POST"], error_message="too many filings from this address")
def file_submit(key: str) -> Any:
    """Start the case from the customer's form; the number is shown (a complaint's also mailed)."""
    session = get_db()
    token = _sent_token()
    again = _filed_before(key, token)
    if again is not None:
        return again
    _full, schema = _filing(key)
    batch = attachments.UploadBatch(session, portal_links.PORTAL_ACTOR, None)
    with force_locale(language()):
        submission = form_page.read(schema, None, batch)
        for name in schema.get("required") or []:  # the portal's own requirements (the address to answer at)
            if submission.data.get(name) in (None, "", []):
                submission.errors.setdefault(name, localize("this field is required"))
        errors = form_page.all_errors(submission, schema, lambda data, unread: engine.form_problems(
            session, _filed(key, data), key=key, unread=unread)) if submission.errors else {}
    if errors:
        batch.discard()
        rollback_request()
        return _render(key, schema, submission.raw, errors, 422, token)
    digest = _content_digest(key)
    same = _same_filed_lately(key, digest)
    if same is not None:
        batch.discard()
        rollback_request()
        return same
    data = _filed(key, submission.data)
    try:
        view = engine.start(session, key, data, actor=portal_links.PORTAL_ACTOR)
    except engine.InvalidData as err:
        batch.discard()
        rollback_request()
        with force_locale(language()):
            return _render(key, schema, submission.raw, localize_all(err.fields, schema), 422, token)
    except engine.EngineError:
        batch.discard()
        raise
    if token is not None and not portal_filings.record(session, token, view["id"]):
        batch.discard()  # the same form, sent twice at once, filed meanwhile: this one files nothing
        session.rollback()
        rollback_request()
        again = _filed_before(key, token)
        if again is None:
            raise engine.Conflict("the form was sent twice at once; open the portal again to see your case")
        return again
    batch.adopt(view["id"])
    _keep_language(session, view)
    _remember_filing(digest, view["id"])
    log.info("portal: %s %s filed from %s (case %s)", key, reference(view), client_address(), view["id"])
    return _show_filed(key, view)



@bp.route("/filed")
def filed() -> Any:
    """The number of the case this browser filed last (after the filing's redirect)."""
    found = browser_session.get(_FILED)
    if not isinstance(found, dict) or found.get("key") not in FILINGS:
        return redirect(url_for("portal.index"))
    return page("portal/filed.html", language(), key=found["key"], number=str(found.get("number") or ""),
                email=found.get("email"), again=found.get("again") is True)
