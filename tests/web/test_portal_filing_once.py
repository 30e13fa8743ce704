"""A portal filing page files once: the same form sent again (a double click, a resent request)
shows the case it filed instead of filing a second one; a token this browser was not given
changes nothing (and shows nobody else's case)."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

import engine
from caseflow import portal_filings, store

REPAIR = {"customer_name": "Huaxin Trading Co.", "customer_contact": "Li Wei", "address": "88 Zhongshan Road",
          "recipient": "Li Wei", "email": "li.wei@example.com", "product_model": "NLS-HR200",
          "serial_no": "SN-0042", "purchase_date": "2025-06-01", "warranty_claim": "in",
          "fault_description": "Does not power on."}
FIELD = re.compile(r'name="(csrf_token|filing_token)" value="([^"]+)"')


def _page(b, key: str = "repair") -> dict:
    """The hidden fields of a freshly opened filing page."""
    fields = dict(FIELD.findall(b.get(f"/portal/file/{key}").get_data(as_text=True)))
    assert set(fields) == {"csrf_token", "filing_token"}
    return fields


def _send(b, hidden: dict, data: dict, key: str = "repair"):
    return b.client.post(f"/portal/file/{key}", data={**data, **hidden}, follow_redirects=True)


def _number(response) -> str:
    match = re.search(r'data-testid="portal-number">([^<]+)<', response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)
    return match.group(1)


def _cases(database) -> int:
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(store.ProcessInstance)) or 0


def test_the_same_form_sent_twice_files_one_case_and_shows_it_both_times(app, deployed, browser, database):
    customer = browser()
    hidden = _page(customer)
    first = _send(customer, hidden, REPAIR)
    again = _send(customer, hidden, REPAIR)
    assert first.status_code == again.status_code == 200
    assert _number(first) == _number(again)
    assert _cases(database) == 1
    assert 'data-testid="portal-filed-again"' not in first.get_data(as_text=True)
    # A new page with other content is a new filing.
    second = _send(customer, _page(customer), {**REPAIR, "serial_no": "SN-0043"})
    assert _number(second) != _number(first)
    assert _cases(database) == 2


def test_the_same_content_sent_again_from_a_new_page_shows_the_case_it_filed(app, deployed, browser, database,
                                                                             monkeypatch):
    """Back after filing and Send again, or a second tab: the very same content from the same
    browser soon after is the filing repeated. The page says so; another browser files its own."""
    customer = browser()
    first = _number(_send(customer, _page(customer), REPAIR))
    repeated = _send(customer, _page(customer), REPAIR)
    assert _number(repeated) == first and _cases(database) == 1
    assert 'data-testid="portal-filed-again"' in repeated.get_data(as_text=True)
    other = browser()
    assert _number(_send(other, _page(other), REPAIR)) != first  # someone else's browser
    assert _cases(database) == 2
    with database.session() as s:  # staff cancel the case: the same sent again is filed anew
        cancelled = s.scalars(select(store.ProcessInstance.id).order_by(store.ProcessInstance.id)).first()
        engine.cancel(s, cancelled, "admin", reason="filed by mistake")
    refiled = _number(_send(customer, _page(customer), REPAIR))
    assert refiled != first and _cases(database) == 3
    from web.portal import pages

    monkeypatch.setattr(pages, "SAME_FILING_S", 0)  # long after: a new filing
    assert _number(_send(customer, _page(customer), REPAIR)) not in (first, refiled)
    assert _cases(database) == 4


def test_a_form_sent_back_with_errors_keeps_its_token_and_files_once_when_corrected(app, deployed, browser,
                                                                                   database):
    customer = browser()
    hidden = _page(customer)
    refused = customer.client.post("/portal/file/repair", data={**REPAIR, "email": "", **hidden})
    assert refused.status_code == 422
    kept = dict(FIELD.findall(refused.get_data(as_text=True)))
    assert kept["filing_token"] == hidden["filing_token"]  # the corrected form is the same filing
    assert _cases(database) == 0
    filed = _send(customer, kept, REPAIR)
    assert _number(filed) == _number(_send(customer, kept, REPAIR))
    assert _cases(database) == 1


def test_a_token_this_browser_was_not_given_files_its_own_case_and_shows_no_other(app, deployed, browser, database):
    customer, stranger = browser(), browser()
    hidden = _page(customer)
    number = _number(_send(customer, hidden, REPAIR))
    stolen = {**_page(stranger), "filing_token": hidden["filing_token"]}
    theirs = _send(stranger, stolen, {**REPAIR, "email": "someone@else.example"})
    assert theirs.status_code == 200 and _number(theirs) != number
    assert "li.wei@example.com" not in theirs.get_data(as_text=True)
    assert _cases(database) == 2


def test_two_sent_at_once_file_one_case(app, deployed, browser, database, monkeypatch):
    """The second of two sent together finds no filing yet, starts a case, cannot record it (the
    first did): it rolls back and shows the first one's case."""
    customer = browser()
    hidden = _page(customer)
    number = _number(_send(customer, hidden, REPAIR))
    real = portal_filings.filed_case
    calls = []

    def not_yet_then_real(session, token):  # the first look ran before the other request committed
        calls.append(token)
        return None if len(calls) == 1 else real(session, token)

    monkeypatch.setattr(portal_filings, "filed_case", not_yet_then_real)
    from web.portal import pages

    monkeypatch.setattr(pages, "_same_filed_lately", lambda key, digest: None)  # both sent with the old cookie
    again = _send(customer, hidden, REPAIR)
    assert len(calls) == 2 and again.status_code == 200 and _number(again) == number
    assert _cases(database) == 1
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(store.Notification).where(
            store.Notification.recipient == "li.wei@example.com")) == 1  # the rolled back one mailed nothing


@pytest.mark.parametrize("token", ["", "x" * 500, "not-given"])
def test_a_missing_or_malformed_token_still_files(app, deployed, browser, database, token):
    customer = browser()
    hidden = {**_page(customer), "filing_token": token}
    assert _send(customer, hidden, REPAIR).status_code == 200
    assert _cases(database) == 1


def test_filings_are_remembered_for_a_while_then_forgotten(app, deployed, database):
    with database.session() as s:
        case_id = engine.start(s, "repair", dict(REPAIR))["id"]
        now = dt.datetime(2026, 12, 4, 9, 0, tzinfo=dt.UTC)
        assert portal_filings.record(s, "old", case_id, now=now)
        assert portal_filings.filed_case(s, "old") == case_id and portal_filings.filed_case(s, "new") is None
    with database.session() as s:
        assert not portal_filings.record(s, "old", case_id, now=now)  # recorded already
    with database.session() as s:
        assert portal_filings.record(s, "new", case_id, now=now + portal_filings.KEEP + dt.timedelta(minutes=1))
        assert portal_filings.filed_case(s, "old") is None  # forgotten as a newer one came
        assert portal_filings.filed_case(s, "new") == case_id
