"""The portal's public pages: filing a complaint or a repair application without an account,
tracking a case by number and contact without enumeration, and their abuse limits."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

import engine
from caseflow import portal_links, store

COMPLAINT = {"customer_name": "Huaxin Electronics", "customer_email": "buyer@huaxin.example",
             "customer_contact": "+86 591 8765 4321", "complaint_type": "packaging", "product_model": "NLS-HR200",
             "description": "Cartons arrived crushed, 3 scanners scratched."}
REPAIR = {"customer_name": "Huaxin Trading Co.", "customer_contact": "Li Wei", "address": "88 Zhongshan Road",
          "recipient": "Li Wei", "email": "li.wei@example.com", "product_model": "NLS-HR200",
          "serial_no": "SN-0042", "purchase_date": "2025-06-01", "warranty_claim": "in",
          "fault_description": "Does not power on."}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app_config() -> dict:
    return {"CASEFLOW_PORTAL_TRACK_LIMIT_PER_NUMBER": "4 per hour", "CASEFLOW_PORTAL_TRACK_LIMIT_PER_ADDRESS":
            "8 per hour", "CASEFLOW_PORTAL_FILE_LIMIT": "5 per hour"}


def _post(b, path: str, data: dict, page: str | None = None, **kwargs):
    match = CSRF.search(b.get(page or path).get_data(as_text=True))
    assert match
    return b.client.post(path, data={**data, "csrf_token": match.group(1)}, **kwargs)


def _file(b, key: str, data: dict, **kwargs):
    """File ``data`` on the portal and follow its redirect to the page with the number."""
    return _post(b, f"/portal/file/{key}", data, follow_redirects=True, **kwargs)


def _number(response) -> str:
    match = re.search(r'data-testid="portal-number">([^<]+)<', response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)
    return match.group(1)


def test_the_portal_needs_no_account_and_shows_no_staff_navigation(app, deployed, browser):
    customer = browser()
    for path in ("/portal/", "/portal/file/complaint", "/portal/file/repair", "/portal/track"):
        response = customer.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        assert "/inbox" not in html and "/cases" not in html and "Sign out" not in html
    form = customer.get("/portal/file/complaint").get_data(as_text=True)
    assert 'name="description"' in form and 'name="evidence"' in form
    assert 'name="channel"' not in form and 'name="litigation"' not in form and 'name="received_at"' not in form
    assert 'name="customer_code"' not in form  # the company's key of a customer: a visitor could claim another's


def test_a_visitor_cannot_file_under_a_customer_code(app, deployed, browser, database):
    """A code sent anyway is not taken: the complaint counts for no other customer in the KPIs."""
    response = _file(browser(), "complaint", {**COMPLAINT, "customer_code": "C-ACME"})
    assert response.status_code == 200, response.get_data(as_text=True)
    with database.session() as s:
        case = s.scalars(select(store.ProcessInstance).where(
            store.ProcessInstance.business_key == _number(response))).one()
        assert "customer_code" not in case.data


def test_filing_a_complaint_starts_it_on_the_web_channel_with_its_number(app, deployed, browser, database):
    customer = browser()
    photo = (io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"0" * 500), "crushed.png")
    response = _file(customer, "complaint", {**COMPLAINT, "evidence": photo}, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)
    number = _number(response)
    assert re.match(r"^CP-\d{4}-\d{6}$", number)
    with database.session() as s:
        case = s.scalars(select(store.ProcessInstance).where(store.ProcessInstance.business_key == number)).one()
        assert case.data["channel"] == "web" and case.started_by == portal_links.PORTAL_ACTOR
        (photo_row,) = s.scalars(select(store.Attachment).where(store.Attachment.instance_id == case.id)).all()
        assert photo_row.filename == "crushed.png" and case.data["evidence"] == f"attachment:{photo_row.id}"
        mails = s.scalars(select(store.Notification).where(store.Notification.instance_id == case.id,
                                                           store.Notification.recipient == "buyer@huaxin.example"))
        assert "complaint_acknowledgement" in {m.template for m in mails}


def test_reloading_the_received_page_files_nothing_again(app, deployed, browser, database):
    customer = browser()
    response = _post(customer, "/portal/file/repair", REPAIR)
    assert response.status_code == 303 and response.headers["Location"].endswith("/portal/filed")
    number = _number(customer.get("/portal/filed"))
    for _reload in range(2):  # a reload is a GET of the same page: the same number, no new case
        assert _number(customer.get("/portal/filed")) == number
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(store.ProcessInstance)) == 1
    stranger = browser()  # another browser has filed nothing: it is sent to the portal's start
    assert stranger.get("/portal/filed").status_code == 302


def test_filing_checks_the_form_and_the_upload_limit(app, deployed, browser, database):
    customer = browser()
    assert _file(customer, "complaint", {**COMPLAINT, "customer_email": ""}).status_code == 422
    too_big = (io.BytesIO(b"0" * 4096), "big.png")
    response = _file(customer, "complaint", {**COMPLAINT, "evidence": too_big}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert customer.client.post("/portal/file/complaint", data=COMPLAINT).status_code == 400  # no CSRF token
    with database.session() as s:
        assert not s.scalars(select(store.ProcessInstance)).all()


def test_an_incomplete_repair_application_asks_the_customer(app, deployed, browser, database):
    response = _file(browser(), "repair", {k: v for k, v in REPAIR.items() if k != "recipient"})
    assert response.status_code == 200
    number = _number(response)
    assert re.match(r"^RA-\d{6}$", number)
    with database.session() as s:
        (task,) = engine.list_tasks(s, instance_id=int(number[3:]))
        assert (task["name"], task["role"]) == ("complete_application", "customer")
        mail = s.scalars(select(store.Notification).where(store.Notification.template == "portal_task")).one()
        assert mail.recipient == "li.wei@example.com"


def _track(b, number: str, contact: str):
    return _post(b, "/portal/track", {"number": number, "contact": contact})


def _answer(response) -> str:
    """The page without its CSRF token (the only part that may differ between two answers)."""
    return CSRF.sub("", response.get_data(as_text=True))


def test_tracking_shows_the_customers_view_and_reveals_nothing_on_a_wrong_guess(app, deployed, browser, database):
    number = _number(_file(browser(), "repair", {**REPAIR, "phone": "+86 25 8888 0000"}))
    with database.session() as s:
        iid = int(number[3:])
        engine.update_data(s, iid, {"fee_amount": 450.0, "technician": "Chen Gang"}, "admin")
    customer = browser()
    found = _track(customer, number.lower(), " LI.WEI@example.com ")
    html = found.get_data(as_text=True)
    assert found.status_code == 200 and 'data-testid="portal-tracked"' in html
    assert 'data-key="fee_amount"' in html and "450" in html
    assert "Chen Gang" not in html and "cs1" not in html and "review_application" not in html
    by_phone = _track(browser(), number, "+86 (25) 8888-0000")
    assert 'data-testid="portal-tracked"' in by_phone.get_data(as_text=True)

    wrong_contact = _track(browser(), number, "someone@else.example")
    wrong_number = _track(browser(), "RA-999999", "li.wei@example.com")
    nonsense = _track(browser(), "<script>", "li.wei@example.com")
    assert wrong_contact.status_code == wrong_number.status_code == nonsense.status_code == 200
    assert 'data-testid="portal-no-match"' in _answer(wrong_contact)
    assert _answer(wrong_contact).replace(number, "N") == _answer(wrong_number).replace("RA-999999", "N")


def test_a_phone_number_tracks_with_or_without_its_country_code_and_staff_find_the_number(app, deployed, browser):
    number = _number(_file(browser(), "repair", {**REPAIR, "phone": "+86 25 8888 0000"}))
    for phone in ("025 8888 0000", "2588880000"):
        assert 'data-testid="portal-tracked"' in _track(browser(), number, phone).get_data(as_text=True), phone
    assert 'data-testid="portal-tracked"' not in _track(browser(), number, "8888 000").get_data(as_text=True)
    iid = int(number[3:])
    for url in (f"/search?q={number}", f"/cases?q={number}", f"/search?q=%23{iid}"):
        assert f'href="/cases/{iid}"' in browser("repair").get(url).get_data(as_text=True), url


def test_tracking_with_a_field_left_empty_asks_for_both(app, deployed, browser):
    for number, contact in (("", ""), ("RA-000001", " "), ("", "li.wei@example.com")):
        answer = _track(browser(), number, contact)
        html = answer.get_data(as_text=True)
        assert answer.status_code == 400 and 'data-testid="portal-track-missing"' in html, (number, contact)
        assert 'data-testid="portal-no-match"' not in html


def test_tracking_is_rate_limited_per_case_number_and_per_address(app, deployed, browser):
    customer = browser()
    for _attempt in range(4):
        assert _track(customer, "CP-2026-000001", "x@example.com").status_code == 200
    refused = _track(customer, "CP-2026-000001", "y@example.com")
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    # Another number from the same address still goes, until the address's own limit.
    statuses = [_track(customer, f"CP-2026-00010{i}", "x@example.com").status_code for i in range(5)]
    assert statuses[:3] == [200, 200, 200] and statuses[-1] == 429


def test_filing_is_rate_limited_per_address(app, deployed, browser):
    customer = browser()
    statuses = [_file(customer, "repair", {**REPAIR, "email": ""}).status_code for _attempt in range(6)]
    assert statuses == [422] * 5 + [429]


def test_the_language_switch_of_the_portal(app, deployed, browser):
    customer = browser(language="en")
    assert "Track a case" in customer.get("/portal/").get_data(as_text=True)
    response = _post(customer, "/portal/language", {"language": "zh", "next": "/portal/track"}, page="/portal/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/track")
    assert "查询案件" in customer.get("/portal/track").get_data(as_text=True)
    assert _post(customer, "/portal/language", {"language": "xx"}, page="/portal/").status_code == 400


def test_hostile_input_gets_4xx_or_the_form_back_never_5xx(app, deployed, browser):
    customer = browser()
    assert customer.get("/portal/task/" + "A" * 5000).status_code in (400, 404)  # the input guard, or no link
    assert customer.get("/portal/task/%00%01.x").status_code == 400  # control characters: the input guard
    assert _track(customer, "CP-2026-\x00", "a@b.c").status_code in (200, 400)
    assert _track(customer, "N" * 10000, "@" * 10000).status_code < 500
    response = _file(customer, "complaint", {**COMPLAINT, "ship_qty": "many", "ship_date": "31.02.2026"})
    assert response.status_code == 422
    assert _file(customer, "complaint", {**COMPLAINT, "description": "x" * 200000}).status_code in (400, 413, 422)


def test_bad_input_and_missing_pages_get_the_portals_own_page_in_the_customers_language(app, deployed, browser):
    customer = browser(language="en")
    refused = _post(customer, "/portal/file/complaint", {**COMPLAINT, "description": "bell \x07 here"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and 'data-testid="portal-refused"' in html
    assert "Please check your input" in html and "description" in html
    assert "/inbox" not in html and "Back to the inbox" not in html  # not the staff error page
    missing = customer.get("/portal/nothing-here")
    assert missing.status_code == 404 and 'data-testid="portal-refused"' in missing.get_data(as_text=True)
