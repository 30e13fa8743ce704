"""The case's language: a case filed on the portal keeps its customer's language
(``customer_language``), and its links and the mails to the customer use it, those written while
the case started included; a case registered by staff stays Chinese (the default)."""
from __future__ import annotations

import re

from sqlalchemy import select

import engine
from caseflow import portal_links, store

REPAIR = {"customer_name": "Huaxin Trading Co.", "customer_contact": "Li Wei", "address": "88 Zhongshan Road",
          "email": "li.wei@example.com", "phone": "+86 25 8888 0000", "product_model": "NLS-HR200",
          "serial_no": "SN-0042", "purchase_date": "2025-06-01", "warranty_claim": "in",
          "fault_description": "Does not power on."}  # the recipient is missing: the customer is asked for it
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
STAFF = engine.Actor.tool("service_center_user")


def _file_in(b, lang: str):
    page = b.get("/portal/file/repair").get_data(as_text=True)
    token = CSRF.search(page)
    assert token
    b.client.post("/portal/language", data={"language": lang, "csrf_token": token.group(1), "next": "/portal/"})
    return b.client.post("/portal/file/repair", data={**REPAIR, "csrf_token": token.group(1)}, follow_redirects=True)


def _portal_mails(s, iid: int) -> list[store.Notification]:
    return list(s.scalars(select(store.Notification).where(store.Notification.instance_id == iid,
                                                           store.Notification.template == "portal_task")
                          .order_by(store.Notification.id)))


def test_an_english_filing_gets_english_links_and_mails_throughout(app, deployed, browser, database):
    response = _file_in(browser(language="zh"), "en")
    assert response.status_code == 200, response.get_data(as_text=True)
    with database.session() as s:
        case = s.scalars(select(store.ProcessInstance).order_by(store.ProcessInstance.id.desc())).first()
        assert case is not None and case.data[portal_links.CASE_LANGUAGE_KEY] == "en"
        iid = case.id
        (first,) = _portal_mails(s, iid)  # written while the case started, before its language was known
        assert first.language == "en"
        assert {link.language for link in s.scalars(select(store.PortalLink))} == {"en"}
        (task,) = engine.list_tasks(s, instance_id=iid)
        engine.complete(s, task["id"], {**REPAIR, "recipient": "Li Wei"},
                        engine.Actor.person(portal_links.on_behalf_actor("cs1"), {portal_links.CUSTOMER_ROLE}))
    with database.session() as s:  # later links, made by staff's saves, follow the case's language
        for name, data in (("review_application", {"review_opinion": "Send it in.", "remote_fixable": False}),
                           ("send_shipping_instructions", {"ship_to_address": "1 Keji Road", "shipping_method":
                                                           "express", "instructions_sent_via": "email"})):
            (task,) = [t for t in engine.list_tasks(s, instance_id=iid) if t["name"] == name]
            engine.complete(s, task["id"], data, STAFF)
        mails = _portal_mails(s, iid)
        assert [m.args["task_title"] for m in mails][-1] == "Confirm the device was shipped"
        assert {m.language for m in mails} == {"en"}
        # The diagram's notices (the repair number with the shipping instructions) follow it too.
        notices = list(s.scalars(select(store.Notification).where(
            store.Notification.instance_id == iid, store.Notification.template == "repair_shipping_instructions")))
        assert notices and {n.language for n in notices} == {"en"}


def test_a_chinese_filing_and_a_staff_registration_stay_chinese(app, deployed, browser, database):
    assert _file_in(browser(language="en"), "zh").status_code == 200
    with database.session() as s:
        staff_case = engine.start(s, "repair", data=REPAIR, actor="cs1")
    with database.session() as s:
        cases = s.scalars(select(store.ProcessInstance).order_by(store.ProcessInstance.id)).all()
        assert cases[0].data[portal_links.CASE_LANGUAGE_KEY] == "zh"
        assert portal_links.CASE_LANGUAGE_KEY not in cases[1].data and cases[1].id == staff_case["id"]
        assert {m.language for c in cases for m in _portal_mails(s, c.id)} == {"zh"}


def test_the_case_history_tells_the_kept_language_and_a_correction_names_its_fields(app, deployed, browser,
                                                                                     database):
    assert _file_in(browser(language="zh"), "en").status_code == 200
    with database.session() as s:
        iid = s.scalars(select(store.ProcessInstance.id).order_by(store.ProcessInstance.id.desc())).first()
        engine.update_data(s, iid, {"serial_no": "SN-0043"}, "admin", reason="typo on the label")
    page = browser("admin", language="en").get(f"/cases/{iid}").get_data(as_text=True)
    assert "The customer&#39;s language is kept for links and e-mails: English" in page
    assert re.search(r"Data corrected \([^)]*\): typo on the label", page), re.findall(r"Data corrected[^<]*", page)
