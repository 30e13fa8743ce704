"""Staff data is never lost or wrong (issue 13, part H): every repair of a complaint keeps its
record and its F14/F15, values that should be refused are refused at the form (one test per
rule), number inputs refuse what they cannot read, long texts state their limit, a field the
rules decide is shown decided.
"""
from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

import engine
from caseflow import limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scenarios"))
import test_two_repairs as two  # noqa: E402

import complaint_helpers as ch  # noqa: E402


def _ready(session, iid: int, name: str) -> dict:
    return ch.ready(session, iid)[name]


def _to_repair_application(session) -> int:
    iid = ch.start(session, ch.quality_registration())["id"]
    ch.confirm(session, iid)
    ch.eight_d(session, iid)
    ch.plan(session, iid, lines=[two.REPAIR_LINE])
    ch.manager_decides(session, iid)
    return iid


def _to_feedback(session) -> int:
    iid = ch.start(session, ch.quality_registration())["id"]
    ch.confirm(session, iid)
    ch.eight_d(session, iid)
    ch.plan(session, iid)
    ch.manager_decides(session, iid)
    ch.implement(session, iid)
    return iid


def _refused(session, iid: int, name: str, values: dict, role: str) -> dict[str, str]:
    with pytest.raises(engine.InvalidData) as err:
        ch.complete(session, iid, name, values, role=role, on_its_day=False)  # today stays today
    return err.value.fields


# --- two repairs: records and printouts --------------------------------------------------------


def test_two_repairs_each_print_their_own_f14_and_f15(database, deployed, browser, frozen_clock):
    with database.session() as s:
        iid = two.walk_two_repairs(s)
        first, second = ch.data(s, iid)["repairs"]
    b = browser("quality")
    case = b.get(f"/cases/{iid}").get_data(as_text=True)
    for form in ("f14-1", "f15-1", "f14-2", "f15-2"):
        assert f"/cases/{iid}/print/{form}" in case, form
    assert first["repair_number"] in case and second["repair_number"] in case

    def sheet(url: str) -> str:
        response = b.get(url)
        assert response.status_code == 200, url
        return response.get_data(as_text=True)

    f14_1, f15_1 = sheet(f"/cases/{iid}/print/f14-1"), sheet(f"/cases/{iid}/print/f15?repair=1")
    f14_2, f15_2 = sheet(f"/cases/{iid}/print/f14?repair=2"), sheet(f"/cases/{iid}/print/f15-2")
    assert first["repair_number"] in f14_1 and second["repair_number"] not in f14_1
    assert "2400" in f14_1 and "RS-1" in f14_1
    assert first["repair_number"] in f15_1 and "SF-FIRST" in f15_1 and "Repaired by Chen." in f15_1
    assert second["repair_number"] in f15_2 and "SF-SECOND" in f15_2 and "SF-FIRST" not in f15_2
    assert "2400" not in f14_2 and "RS-1" not in f14_2  # the free repair shows no fee of the first
    # The old URLs stay: the latest repair.
    assert second["repair_number"] in sheet(f"/cases/{iid}/print/f15")
    assert b.get(f"/cases/{iid}/print/f14-3").status_code == 404
    assert b.get(f"/cases/{iid}/print/f14?repair=x").status_code == 404


def test_the_repair_application_proposes_the_complaints_contact_details(database, deployed, browser, frozen_clock):
    """The complaint's customer e-mail and address fill the repair's (other names there), so the
    repair's number and shipped notices reach the customer."""
    with database.session() as s:
        iid = ch.start(s, ch.quality_registration(customer_email="li@huaxin.example",
                                                  customer_address="88 Zhongshan Road, Fuzhou"))["id"]
        ch.confirm(s, iid)
        ch.eight_d(s, iid)
        ch.plan(s, iid, lines=[two.REPAIR_LINE])
        ch.manager_decides(s, iid)
        task_id = _ready(s, iid, "prepare_repair")["id"]
    page = browser("service").get(f"/tasks/{task_id}").get_data(as_text=True)
    assert re.search(r'name="email"[^>]*value="li@huaxin.example"', page), page
    assert re.search(r'name="address"[^>]*>88 Zhongshan Road, Fuzhou<', page) or \
        re.search(r'name="address"[^>]*value="88 Zhongshan Road, Fuzhou"', page), page


def test_the_staff_form_says_which_text_the_customer_will_read(database, deployed, browser, frozen_clock):
    with database.session() as s:
        iid = ch.start(s, ch.quality_registration())["id"]
        ch.confirm(s, iid)
        ch.eight_d(s, iid)
        ch.plan(s, iid)
        ch.manager_decides(s, iid)
        task_id = _ready(s, iid, "implement_notify")["id"]
    page = browser("service").get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "Shown to the customer with the feedback request" in page
    assert "将随反馈请求展示给客户" in browser("service", "zh").get(f"/tasks/{task_id}").get_data(as_text=True)


# --- one test per validation rule ----------------------------------------------------------------


def test_an_incomplete_email_is_refused(session, frozen_clock):
    ch.deploy(session)
    iid = _to_repair_application(session)
    fields = _refused(session, iid, "prepare_repair", dict(two.APPLICATION, email="liming@"), "customer_service")
    assert set(fields) == {"email"} and "e-mail address" in fields["email"]
    ch.complete(session, iid, "prepare_repair", dict(two.APPLICATION, email="liming@example.com"))


def test_a_phone_number_with_words_is_refused(session, frozen_clock):
    ch.deploy(session)
    iid = _to_repair_application(session)
    fields = _refused(session, iid, "prepare_repair", dict(two.APPLICATION, phone="电话13800138000"),
                      "customer_service")
    assert set(fields) == {"phone"} and "phone number" in fields["phone"]
    ch.complete(session, iid, "prepare_repair", dict(two.APPLICATION, phone="+86 (25) 8888-0000"))


def test_a_purchase_date_in_the_future_is_refused(session, frozen_clock):
    ch.deploy(session)
    iid = _to_repair_application(session)
    fields = _refused(session, iid, "prepare_repair", dict(two.APPLICATION, purchase_date="2026-03-03"),
                      "customer_service")
    assert fields == {"purchase_date": "must not be in the future"}
    view = ch.complete(session, iid, "prepare_repair", dict(two.APPLICATION, purchase_date="2026-03-02"))
    assert view["status"] == "running"  # today (Caseflow's clock, business time zone) is fine


def test_a_ship_date_in_the_future_is_refused_at_registration(session, frozen_clock):
    ch.deploy(session)
    with pytest.raises(engine.InvalidData) as err:
        ch.start(session, ch.quality_registration(ship_date="2027-01-01"))
    assert err.value.fields == {"ship_date": "must not be in the future"}


def test_satisfaction_must_agree_with_satisfied(session, frozen_clock):
    ch.deploy(session)
    iid = _to_feedback(session)
    base = {"customer_feedback": "Too slow."}
    fields = _refused(session, iid, "customer_feedback", dict(base, satisfaction=5, satisfied=False),
                      "customer")
    assert set(fields) == {"satisfaction"} and "not satisfied" in fields["satisfaction"]
    fields = _refused(session, iid, "customer_feedback", dict(base, satisfaction=1, satisfied=True),
                      "customer")
    assert set(fields) == {"satisfaction"} and "satisfied customer" in fields["satisfaction"]
    ch.complete(session, iid, "customer_feedback", dict(base, satisfaction=3, satisfied=False))
    assert ch.ready_names(session, iid) == {"follow_up"}


def _to_payment(session) -> int:
    iid = _to_repair_application(session)
    two._send_in(session, iid)
    ch.complete(session, iid, "diagnose_device", {"fault_cause": "man_made", "diagnosis": "Cracked.",
                                                  "estimated_fee": 2400})
    ch.complete(session, iid, "send_fee_notice", {"fee_amount": 2400, "payment_instructions": "BOC 1234",
                                                  "fee_notice_date": "2026-03-02", "fee_notice_sent_via": "fax"})
    ch.complete(session, iid, "record_fee_decision", {"fee_decision": "accepted", "fee_decision_date": "2026-03-02"},
                role="customer")  # a customer task (portal lane)
    return iid


def test_a_payment_that_differs_from_the_fee_needs_a_reason(session, frozen_clock):
    ch.deploy(session)
    iid = _to_payment(session)
    paid = {"payment_confirmed_date": "2026-03-02", "payment_amount": 2000}
    fields = _refused(session, iid, "confirm_payment", paid, "finance")
    assert fields == {"payment_mismatch_reason": "the value differs from 2400; give the reason"}
    view = ch.complete(session, iid, "confirm_payment", dict(paid, payment_mismatch_reason="Bank fee deducted."),
                       role="finance")
    assert view["data"]["payment_mismatch_reason"] == "Bank fee deducted."


def test_the_payment_form_shows_the_fee(database, deployed, browser, frozen_clock):
    with database.session() as s:
        iid = _to_payment(s)
        task = _ready(s, iid, "confirm_payment")
    b = browser("finance")
    page = b.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert re.search(r'id="f-fee_amount"[^>]*value="2400"[^>]*>', page) or \
        re.search(r'value="2400"[^>]*id="f-fee_amount"', page)
    response = b.post(f"/tasks/{task['id']}", {"payment_confirmed_date": "2026-03-02", "payment_amount": "2000"},
                      follow_redirects=True)
    assert [r.status_code for r in response.history] == [303] and response.status_code == 200
    assert "The amount differs from the expected 2400: give the reason." in response.get_data(as_text=True)


# --- number inputs, long texts, decided fields (through the pages) ------------------------------


def _plan_task(database) -> tuple[int, str]:
    with database.session() as s:
        iid = ch.start(s, ch.quality_registration())["id"]
        ch.confirm(s, iid)
        ch.eight_d(s, iid)
        return iid, str(_ready(s, iid, "resolution_plan")["id"])


@pytest.mark.parametrize("typed", ["25万", "abc", "2.5.1"])
def test_a_number_input_refuses_what_it_cannot_read(database, deployed, browser, frozen_clock, typed):
    _iid, task = _plan_task(database)
    b = browser("quality")
    page = b.get(f"/tasks/{task}").get_data(as_text=True)
    assert 'type="number"' not in page  # the browser never drops what was typed
    response = b.post(f"/tasks/{task}", {"plan_summary": "Exchange.", "delivery_amount": typed,
                                         "disposition_lines.__rows": "1"}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert [r.status_code for r in response.history] == [303]  # post/redirect/get
    assert 'id="f-delivery_amount-error">Enter a number.' in html
    assert f'value="{typed}"' in html  # kept as typed


def test_a_long_text_states_its_limit_and_is_refused_with_a_message(database, deployed, browser, frozen_clock):
    iid, task = _plan_task(database)
    b = browser("quality")
    page = b.get(f"/tasks/{task}").get_data(as_text=True)
    area = re.search(r'<textarea id="f-plan_summary"[^>]*>', page)
    assert area and 'data-maxlength="4000"' in area.group(0)  # the form's limit: counted, refused by the server
    assert f' maxlength="{limits.MAX_FIELD_CHARS}"' in area.group(0)  # the request limit: the browser stops there
    assert 'data-count-for="f-plan_summary"' in page and "At most 4,000 characters." in page
    # no field of the form lets a browser send more than the request guard accepts (it would answer 400)
    controls = re.findall(r'<(?:textarea|input type="text")[^>]*>', page)
    assert controls and all(" maxlength=" in c for c in controls), [c for c in controls if " maxlength=" not in c]
    response = b.post(f"/tasks/{task}", {"plan_summary": "x" * 4001, "delivery_amount": "1000",
                                         "disposition_lines.__rows": "1"}, follow_redirects=True)
    assert response.status_code == 200 and [r.status_code for r in response.history] == [303]
    html = response.get_data(as_text=True)
    assert "4000" in html and "too long" in html
    with database.session() as s:
        assert "plan_summary" not in ch.data(s, iid) and ch.ready_names(s, iid) == {"resolution_plan"}


def test_a_field_the_rules_decide_is_shown_decided(database, deployed, browser, frozen_clock):
    with database.session() as s:
        iid = ch.start(s, ch.quality_registration())["id"]  # serious: 2D is always needed
        ch.confirm(s, iid)
        task = _ready(s, iid, "d1_describe")
    b = browser("quality")
    page = b.get(f"/tasks/{task['id']}").get_data(as_text=True)
    radios = re.findall(r'<input type="radio" name="containment_needed"[^>]*>', page)
    assert radios and all("disabled" in r for r in radios)
    assert any('value="true"' in r and "checked" in r for r in radios)
    assert "Decided by the rules for this case." in page
    response = b.post(f"/tasks/{task['id']}", {"problem_description": "No power-on."})
    assert response.status_code == 302
    with database.session() as s:
        d: dict[str, Any] = ch.data(s, iid)
        assert d["containment_needed"] is True and ch.ready_names(s, iid) == {"d2_contain"}


def test_a_field_the_rules_do_not_decide_is_offered(session, frozen_clock):
    ch.deploy(session)
    iid = ch.start(session, ch.general_quality_registration())["id"]
    ch.confirm(session, iid)
    ch.d1(session, iid, containment_needed=False)
    d = ch.data(session, iid)
    assert d["urgency"] != "serious" and d["containment_needed"] is False


# --- a case stopped in error, handled by an admin in the web UI ---------------------------------


def _stopped_by_purchase_date(session) -> int:
    """A repair whose device was received before the purchase date: the warranty check stops it.

    The receipt form refuses such a date (``x-not-before``); here a data correction made the
    purchase later after the receipt, so the check meets the contradiction and stops the case."""
    iid = _to_repair_application(session)
    ch.complete(session, iid, "prepare_repair", dict(two.APPLICATION, purchase_date="2026-02-20"))
    ch.complete(session, iid, "review_application", {"review_opinion": "Mail-in.", "remote_fixable": False})
    ch.complete(session, iid, "send_shipping_instructions", {"ship_to_address": "Fuzhou", "shipping_method": "express",
                                                             "instructions_sent_via": "email"})
    ch.complete(session, iid, "receive_device", {"received_date": "2026-02-27"})
    engine.update_data(session, iid, {"purchase_date": "2026-03-02"}, actor="admin", reason="mistyped")
    view = ch.complete(session, iid, "diagnose_device", {"fault_cause": "quality", "diagnosis": "Solder joint.",
                                                         "estimated_fee": 0})
    assert view["status"] == "error" and "before the purchase date" in view["error"]["message"]
    return iid


def test_an_admin_corrects_a_stopped_case_in_the_web_ui_and_it_runs_on(database, deployed, browser, frozen_clock):
    with database.session() as s:
        iid = _stopped_by_purchase_date(s)
    staff = browser("quality").get(f"/cases/{iid}").get_data(as_text=True)
    assert 'data-testid="error-panel"' in staff and "correct-data" not in staff  # staff see, admins act
    assert browser("quality").post(f"/cases/{iid}/repair/retry").status_code == 403

    admin = browser("admin")
    page = admin.get(f"/cases/{iid}").get_data(as_text=True)
    assert "before the purchase date" in page and 'data-testid="correct-data"' in page
    # A reason is required; nothing changes without one.
    admin.post(f"/cases/{iid}/repair/data", {"key": "purchase_date", "value": "2025-06-01", "reason": ""})
    with database.session() as s:
        assert ch.data(s, iid)["purchase_date"] == "2026-03-02"
    response = admin.post(f"/cases/{iid}/repair/data", {"key": "purchase_date", "value": "2025-06-01",
                                                        "reason": "Customer's invoice shows 2025-06-01."})
    assert response.status_code == 302
    response = admin.post(f"/cases/{iid}/repair/retry")
    assert response.status_code == 302
    with database.session() as s:
        view = engine.show(s, iid)
        assert view["status"] == "running" and view["data"]["in_warranty"] is True
        assert ch.ready_names(s, iid) == {"repair_device"}
        changed = [e for e in view["audit"] if e["kind"] == "data_changed"]
        assert changed[-1]["payload"] == {"data": {"purchase_date": "2025-06-01"},
                                          "reason": "Customer's invoice shows 2025-06-01."}
        assert changed[-1]["actor"] == "admin"
    assert "The case runs on." in admin.get(f"/cases/{iid}").get_data(as_text=True)


def test_a_correction_must_fit_the_field_its_forms_declare(database, deployed, browser, frozen_clock):
    """A date field takes a date: "yesterday-ish" is refused with the field's message, nothing changes."""
    with database.session() as s:
        iid = _stopped_by_purchase_date(s)
    admin = browser("admin")
    for value in ("yesterday-ish", "2026-02-30", "1850-01-01"):
        page = admin.post(f"/cases/{iid}/repair/data", {"key": "purchase_date", "value": value,
                                                        "reason": "Invoice."}, follow_redirects=True)
        assert "purchase_date:" in page.get_data(as_text=True), value
        with database.session() as s:
            assert ch.data(s, iid)["purchase_date"] == "2026-03-02", value
    with database.session() as s:  # a key no form declares is the admin's to set
        engine.update_data(s, iid, {"note_from_admin": "free text"}, actor="admin")
        assert ch.data(s, iid)["note_from_admin"] == "free text"


def test_an_admin_can_cancel_a_stopped_case_with_a_reason(database, deployed, browser, frozen_clock):
    with database.session() as s:
        iid = _stopped_by_purchase_date(s)
    admin = browser("admin")
    admin.post(f"/cases/{iid}/repair/cancel", {"reason": ""})
    with database.session() as s:
        assert engine.show(s, iid, audit=False)["status"] == "error"
    admin.post(f"/cases/{iid}/repair/cancel", {"reason": "Duplicate case."})
    with database.session() as s:
        view = engine.show(s, iid)
        assert view["status"] == "cancelled"
        assert [e["payload"] for e in view["audit"] if e["kind"] == "cancelled"] == [{"reason": "Duplicate case."}]


def test_a_correction_keeps_the_type_of_the_value_it_replaces():
    from web.views.cases import parse_correction

    assert parse_correction("2025-06-01", "2026-03-02") == "2025-06-01"
    assert parse_correction('"2025-06-01"', "2026-03-02") == "2025-06-01"  # typed as JSON: the text inside
    assert parse_correction('"a" and "b"', None) == '"a" and "b"'  # not one JSON string: kept as typed
    assert parse_correction("12", 3) == 12 and parse_correction("true", False) is True
    assert parse_correction("[1, 2]", []) == [1, 2]
    for text, current in (("yes", True), ("12", False), ("abc", 3), ('"x"', 3), ("{}", [])):
        with pytest.raises(ValueError):
            parse_correction(text, current)


def test_favicon_is_served_without_signing_in(app):
    response = app.test_client().get("/favicon.ico")
    assert response.status_code == 200 and response.mimetype == "image/vnd.microsoft.icon"
    assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file


# --- migration by case number (web and CLI) ----------------------------------------------------


def _second_complaint_version(session, tmp_path: Path) -> None:
    bundle = tmp_path / "complaint_v2"
    shutil.copytree(ch.COMPLAINT_BUNDLE, bundle)
    bpmn = bundle / "complaint.bpmn"
    bpmn.write_text(bpmn.read_text(encoding="utf-8").replace(
        'name="Collect customer feedback"', 'name="Collect the customer feedback"', 1), encoding="utf-8")
    assert [r.version for r in engine.deploy(session, [bundle, ch.REPAIR_BUNDLE], actor="admin")
            if r.key == "complaint"] == [2]


def test_migration_takes_case_numbers_in_the_web_ui(database, deployed, browser, frozen_clock, tmp_path):
    with database.session() as s:
        view = ch.start(s, ch.quality_registration())
        _second_complaint_version(s, tmp_path)
    number = view["business_key"]
    admin = browser("admin")
    dry = admin.post("/admin/processes/complaint/migrate",
                     {"to": "2", "select": "ids", "instance_ids": number.lower(), "action": "dry_run"})
    assert dry.status_code == 200 and number in dry.get_data(as_text=True)
    done = admin.post("/admin/processes/complaint/migrate",
                      {"to": "2", "select": "ids", "instance_ids": f"{number}, {view['id']}", "action": "migrate"})
    assert "1 of 1 instance(s) moved" in done.get_data(as_text=True)
    with database.session() as s:
        assert engine.show(s, view["id"], audit=False)["version"] == 2
    bad = admin.post("/admin/processes/complaint/migrate",
                     {"to": "2", "select": "ids", "instance_ids": "CP-1999-000001", "action": "dry_run"})
    assert bad.status_code == 422


def test_migration_takes_case_numbers_on_the_command_line(database, deployed, frozen_clock, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from caseflow import cli

    with database.session() as s:
        view = ch.start(s, ch.quality_registration())
        _second_complaint_version(s, tmp_path)
    monkeypatch.setenv("CASEFLOW_DATABASE_URL", database.url)
    monkeypatch.setenv("CASEFLOW_INSTANCE_DIR", str(tmp_path / "instance"))
    runner = CliRunner()
    result = runner.invoke(cli.main, ["migrate", "--to", "2", "--instance", view["business_key"], "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["migrated"] == 1
    result = runner.invoke(cli.main, ["migrate", "--to", "2", "--instance", "RMA-1999-000001"])
    assert result.exit_code != 0 and "no case numbered RMA-1999-000001" in result.stderr


# --- admin: uploading only the edited diagram ------------------------------------------------------


def test_uploading_only_the_edited_diagram_takes_the_rest_from_the_current_version(database, deployed, browser):
    import io

    edited = (ch.COMPLAINT_BUNDLE / "complaint.bpmn").read_text(encoding="utf-8").replace(
        'name="Collect customer feedback"', 'name="Collect the customer feedback"', 1)
    admin = browser("admin")
    response = admin.post("/admin/processes/upload", {"files": (io.BytesIO(edited.encode()), "complaint.bpmn")},
                          content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert 'data-testid="completed-from"' in html and "complaint_customer_feedback.schema.json" in html
    assert "manifest.json" in html and "taken unchanged from version 1" in html
    diff = re.search(r'<pre class="diff" data-testid="upload-diff">(.*?)</pre>', html, re.S)
    assert diff and "Collect the customer feedback" in diff.group(1)
    assert "schema.json" not in diff.group(1)  # the taken files are unchanged
    stash = re.search(r'/admin/processes/upload/([0-9a-f]{32})/deploy', html)
    assert stash
    done = admin.post(f"/admin/processes/upload/{stash.group(1)}/deploy")
    assert done.status_code == 302
    with database.session() as s:
        versions = engine.list_versions(s, "complaint")
        assert [v["version"] for v in versions] == [2, 1]
        files = engine.get_definition(s, versions[0]["definition_id"]).files
        assert "complaint_customer_feedback.schema.json" in files and "Collect the customer feedback" in \
            files["complaint.bpmn"]


@pytest.mark.parametrize("broken", [
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><bpmn:definitions><bpmn:process id="complaint"/>',
    '<bpmn:definitions><bpmn:process id="complaint" isExecutable="true"><bpmn:startEvent id="s"></bpmn:process>',
])
def test_an_edited_diagram_that_does_not_parse_is_refused_with_its_problems(database, deployed, browser, broken):
    import io

    admin = browser("admin")
    response = admin.post("/admin/processes/upload", {"files": (io.BytesIO(broken.encode()), "complaint.bpmn")},
                          content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "complaint.bpmn" in html
    assert "DOCTYPE" in html or "well-formed" in html
    with database.session() as s:
        assert [v["version"] for v in engine.list_versions(s, "complaint")] == [1]
