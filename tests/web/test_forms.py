"""Forms from JSON Schema: every widget kind, type conversion, validation errors next to their
fields with the typed input kept and nothing stored, file attachments.
"""
from __future__ import annotations

import io
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from caseflow import store
from web.forms.schema_form import FormContext, build_fields, widget_for
from web.forms.submission import parse_submission

SHANGHAI = ZoneInfo("Asia/Shanghai")

SCHEMA = {
    "type": "object",
    "required": ["title", "ok"],
    "properties": {
        "title": {"type": "string", "title": "Title", "x-title-zh": "标题"},
        "notes": {"type": "string", "x-widget": "textarea"},
        "amount": {"type": "number"},
        "count": {"type": "integer"},
        "ok": {"type": "boolean"},
        "flag": {"type": "boolean"},
        "kind": {"type": "string", "enum": ["a", "b"], "x-enum-titles": {"a": {"en": "Alpha", "zh": "甲"}}},
        "level": {"type": "integer", "enum": [1, 2]},
        "on": {"type": "string", "format": "date"},
        "at": {"type": "string", "format": "date-time"},
        "file": {"type": "string", "x-widget": "file"},
        "tags": {"type": "array", "items": {"type": "string", "enum": ["x", "y"]}},
        "lines": {"type": "array", "items": {"type": "object", "properties": {
            "item": {"type": "string"}, "qty": {"type": "integer"}, "done": {"type": "boolean"}}}},
    },
}


def parse(form: dict | MultiDict, files: dict | None = None):
    return parse_submission(SCHEMA, None, MultiDict(form), MultiDict(files or {}), SHANGHAI,
                            lambda f, name: f"attachment:{len(f.filename)}", lambda ref: ref == "attachment:7")


def test_every_widget_kind_is_chosen_from_the_schema():
    props = SCHEMA["properties"]
    kinds = {k: widget_for(v, {}, k in SCHEMA["required"]) for k, v in props.items()}
    assert kinds == {"title": "text", "notes": "textarea", "amount": "number", "count": "integer",
                     "ok": "yesno", "flag": "checkbox", "kind": "select", "level": "select", "on": "date",
                     "at": "datetime", "file": "file", "tags": "multichoice", "lines": "rows"}
    assert widget_for(props["kind"], {"ui:widget": "radio"}) == "radio"
    assert widget_for({"type": "boolean", "const": True}, {}, True) == "checkbox"


def test_submitted_strings_become_schema_types():
    sub = parse(MultiDict([
        ("title", " Hello "), ("notes", "line 1\nline 2\n"), ("amount", "12.50"), ("count", "3"), ("ok", "false"),
        ("flag", "on"), ("kind", "b"), ("level", "2"), ("on", "2026-03-02"), ("at", "2026-03-02T09:30"),
        ("file", "attachment:7"), ("tags", "x"), ("tags", "y"),
        ("lines.0.item", "bolt"), ("lines.0.qty", "4"), ("lines.0.__row", "1"),
        ("lines.5.item", ""), ("lines.5.qty", ""), ("lines.5.__row", "1"),  # a blank row is dropped
        ("lines.9.item", "nut"), ("lines.9.done", "on"), ("lines.9.__row", "1"),
    ]))
    assert sub.errors == {}
    assert sub.data == {
        "title": "Hello", "notes": "line 1\nline 2", "amount": 12.5, "count": 3, "ok": False, "flag": True,
        "kind": "b", "level": 2, "on": "2026-03-02", "at": "2026-03-02T09:30:00+08:00", "file": "attachment:7",
        "tags": ["x", "y"],
        "lines": [{"item": "bolt", "qty": 4, "done": False}, {"item": "nut", "done": True}],
    }


def test_conversion_errors_name_the_field_and_keep_the_input():
    sub = parse({"title": "t", "amount": "12,5x", "count": "2.5", "on": "02/03/2026", "kind": "zzz",
                 "file": "attachment:99", "lines.3.qty": "many", "lines.3.__row": "1"})
    assert set(sub.errors) == {"amount", "count", "on", "kind", "lines.0.qty"}
    assert sub.raw["amount"] == "12,5x" and sub.raw["lines"][0]["qty"] == "many"
    assert "file" not in sub.data  # a reference to another case's file is not kept
    fields = build_fields(SCHEMA, None, sub.raw, FormContext(sub.errors, SHANGHAI))
    by_name = {f.name: f for f in fields}
    assert by_name["amount"].value == "12,5x" and by_name["amount"].error
    assert by_name["lines"].rows[0][1].name == "lines.0.qty" and by_name["lines"].rows[0][1].error


def test_empty_optional_fields_are_left_out_and_unticked_boxes_are_false_or_empty():
    sub = parse({"title": "t", "amount": "", "kind": ""})
    assert sub.data == {"title": "t", "flag": False, "tags": []}


def test_fields_show_stored_values_in_the_business_time_zone():
    values = {"at": "2026-03-02T01:30:00+00:00", "ok": True, "amount": 5.0, "lines": [{"item": "a", "qty": 1}]}
    fields = {f.name: f for f in build_fields(SCHEMA, {"ui:order": ["lines", "*"]}, values,
                                              FormContext({}, SHANGHAI))}
    assert fields["at"].value == "2026-03-02T09:30"
    assert fields["ok"].value == "true" and fields["amount"].value == "5"
    assert list(fields)[0] == "lines" and fields["lines"].rows[0][0].value == "a"
    assert fields["lines"].template_row[0].name == "lines.__index__.item"


def test_a_field_proposes_the_value_of_the_data_key_its_prefill_names():
    schema = {"type": "object", "properties": {
        "fee": {"type": "number", "x-prefill": "estimated_fee"},
        "grade": {"type": "string", "enum": ["a", "b"], "x-prefill": "proposed", "default": "b"}}}
    ctx = FormContext({}, SHANGHAI)
    fields = {f.name: f for f in build_fields(schema, None, {"estimated_fee": 120.0, "proposed": "a"}, ctx)}
    assert fields["fee"].value == "120" and fields["grade"].value == "a"
    fields = {f.name: f for f in build_fields(schema, None, {"fee": 90, "estimated_fee": 120.0}, ctx)}
    assert fields["fee"].value == "90" and fields["grade"].value == "b"  # own value first; else the default


# --- through the pages, with the form-demo bundle --------------------------------------------


def test_start_form_renders_every_widget_with_labels_in_the_chosen_language(deployed, browser):
    page = browser("admin").get("/start/formdemo").get_data(as_text=True)
    for snippet in ('name="title"', '<textarea id="f-notes"', 'type="text" id="f-amount"', 'inputmode="numeric"',
                    'type="checkbox" id="f-urgent"', '<select id="f-kind"', '>Goods</option>',
                    'type="date" id="f-due_on"', 'type="datetime-local" id="f-meeting_at"',
                    'data-rows="lines"', "<template>", 'type="file" id="f-evidence"', 'enctype="multipart/form-data"'):
        assert snippet in page, snippet
    zh = browser("admin", language="zh-CN,zh;q=0.9").get("/start/formdemo").get_data(as_text=True)
    assert ">标题<" in zh and ">货物</option>" in zh and "登记" in zh


def _count(database, model) -> int:
    with database.session() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def test_invalid_start_shows_errors_by_the_fields_keeps_input_and_stores_nothing(app, database, deployed, browser):
    b = browser("admin")
    response = b.post("/start/formdemo", {
        "title": "", "notes": "keep me", "amount": "-5", "count": "zwei", "kind": "goods",
        "lines.0.item": "", "lines.0.qty": "2", "lines.0.__row": "1", "lines.__rows": "1",
        "evidence": (io.BytesIO(b"x" * 100), "photo.jpg"),
    }, content_type="multipart/form-data", follow_redirects=True)
    assert [r.status_code for r in response.history] == [303]  # the form again (post/redirect/get)
    html = response.get_data(as_text=True)
    assert 'id="f-count-error">Enter a whole number.' in html  # conversion error, by its field
    assert ">keep me</textarea>" in html and 'value="zwei"' in html and 'value="2"' in html
    assert _count(database, store.ProcessInstance) == 0
    assert _count(database, store.Attachment) == 0
    folder = Path(app.config["CASEFLOW_SETTINGS"].attachment_dir)
    assert not folder.exists() or not any(folder.iterdir())

    response = b.post("/start/formdemo", {"title": "", "notes": "keep me", "amount": "-5", "kind": "goods",
                                          "lines.0.qty": "2", "lines.0.__row": "1"}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert [r.status_code for r in response.history] == [303]  # the engine's schema errors, in the user's words
    assert 'id="f-title-error">This field is required.' in html
    assert 'id="f-amount-error">The smallest allowed value is 0.' in html
    assert 'id="f-lines-0-item-error">This field is required.' in html
    assert _count(database, store.ProcessInstance) == 0


def test_errors_are_shown_in_chinese_for_a_chinese_user(deployed, browser):
    b = browser("admin", language="zh-CN")
    html = b.post("/start/formdemo", {"title": "", "kind": "goods"}, follow_redirects=True).get_data(as_text=True)
    assert "此项为必填项。" in html and "请更正标出的字段。" in html


def test_start_and_task_with_rows_and_attachments(app, database, deployed, browser, task_id):
    admin = browser("admin")
    response = admin.post("/start/formdemo", {
        "title": "REQ-1", "kind": "service", "amount": "99.5", "count": "2", "urgent": "on",
        "due_on": "2026-03-10", "meeting_at": "2026-03-03T14:00",
        "lines.0.item": "bolt", "lines.0.qty": "5", "lines.0.__row": "1",
        "evidence": (io.BytesIO(b"%PDF-1.4 evidence"), "evidence.pdf"),
    }, content_type="multipart/form-data")
    assert response.status_code == 302
    instance_id = int(re.search(r"/cases/(\d+)", response.headers["Location"]).group(1))
    with database.session() as s:
        instance = s.get(store.ProcessInstance, instance_id)
        data = instance.data
        attachment = s.scalars(select(store.Attachment)).one()
    assert data["meeting_at"] == "2026-03-03T14:00:00+08:00" and data["lines"] == [{"item": "bolt", "qty": 5}]
    assert data["evidence"] == f"attachment:{attachment.id}" and attachment.instance_id == instance_id
    stored = Path(app.config["CASEFLOW_SETTINGS"].attachment_dir) / attachment.storage_name
    assert stored.read_bytes() == b"%PDF-1.4 evidence"
    assert "static" not in stored.parts  # outside the web root

    download = admin.get(f"/attachments/{attachment.id}")
    assert download.status_code == 200 and download.data == b"%PDF-1.4 evidence"
    assert "attachment" in download.headers["Content-Disposition"]

    quality = browser("quality")
    tid = task_id(quality, "Review the request")
    form = quality.get(f"/tasks/{tid}").get_data(as_text=True)
    assert form.index('id="f-comment"') < form.index('id="f-approved"')  # ui:order
    assert 'type="radio" name="rating" value="3"' in form and "Say why." in form  # ui:widget, ui:help
    assert 'name="approved" value="true"' in form  # required yes/no question as radio buttons

    too_big = quality.post(f"/tasks/{tid}", {"approved": "true", "comment": "ok", "checked_lines.0.item": "a",
                                             "checked_lines.0.__row": "1",
                                             "report": (io.BytesIO(b"x" * 5000), "big.bin")},
                           content_type="multipart/form-data", follow_redirects=True)
    assert [r.status_code for r in too_big.history] == [303] and "larger than" in too_big.get_data(as_text=True)

    done = quality.post(f"/tasks/{tid}", {"approved": "true", "comment": "fine", "rating": "3",
                                          "checked_lines.0.item": "bolt", "checked_lines.0.ok": "on",
                                          "checked_lines.0.__row": "1",
                                          "report": (io.BytesIO(b"report"), "report.txt")},
                        content_type="multipart/form-data")
    assert done.status_code == 302
    with database.session() as s:
        data = s.get(store.ProcessInstance, instance_id).data
        names = sorted(a.filename for a in s.scalars(select(store.Attachment)))
    assert data["approved"] is True and data["rating"] == 3
    assert data["checked_lines"] == [{"item": "bolt", "ok": True}]
    assert names == ["evidence.pdf", "report.txt"]
    case = admin.get(f"/cases/{instance_id}").get_data(as_text=True)
    assert "report.txt" in case and "evidence.pdf" in case


def test_a_task_form_error_stores_nothing(database, deployed, browser, task_id):
    admin = browser("admin")
    admin.post("/start/formdemo", {"title": "REQ-2", "kind": "goods"})
    quality = browser("quality")
    tid = task_id(quality, "Review the request")
    response = quality.post(f"/tasks/{tid}", {"comment": "typed text", "checked_lines.__rows": "1"},
                            follow_redirects=True)
    html = response.get_data(as_text=True)
    assert [r.status_code for r in response.history] == [303]
    assert 'id="f-approved-error"' in html and ">typed text</textarea>" in html
    assert 'id="f-checked_lines-error"' in html  # minItems
    with database.session() as s:
        row = s.get(store.HumanTask, tid)
        assert row.state == "ready"
        kinds = list(s.scalars(select(store.AuditEvent.kind)))
    assert "task_completed" not in kinds


@pytest.mark.parametrize(("text", "value"), [("1,900", 1900), ("12,500.50", 12500.5), ("-3", -3), (".5", 0.5),
                                             ("5.", 5.0), ("  7 ", 7)])
def test_a_number_field_takes_digits_with_thousands_separators(text, value):
    sub = parse({"title": "t", "amount": text})
    assert sub.errors == {} and sub.data["amount"] == value


@pytest.mark.parametrize("text", ["12,50", "1,2345", "1e3", "1E3", "0x10", "1.2.3", "1_000"])
def test_a_number_field_refuses_what_it_would_misread(text):
    """A decimal comma or an exponent is not silently read as another number (12,50 is not 1250)."""
    sub = parse({"title": "t", "amount": text, "count": text})
    assert sub.errors == {"amount": "Enter a number.", "count": "Enter a whole number."}


def test_a_percent_fields_bound_is_given_in_percent(deployed, browser, frozen_clock):
    """Defect rate 250 %: the message names 100%, the largest percentage, not the stored fraction 1."""
    from test_case_flows import REGISTRATION

    page = browser("service").post("/start/complaint", {**REGISTRATION, "defect_rate": "250"},
                                   follow_redirects=True).get_data(as_text=True)
    assert "The largest allowed value is 100%." in page, re.findall(r"<p class=\"error\"[^>]*>([^<]*)<", page)


def test_a_date_before_a_date_time_is_named_in_local_time(app):
    from web.forms.messages import localize

    with app.test_request_context():
        assert localize("must not be before 2026-03-02T01:00:00+00:00") == \
            "The date must not be before 2026-03-02 09:00."  # Shanghai
        assert localize("must not be before 2026-03-02") == "The date must not be before 2026-03-02."


def test_length_and_e_mail_messages_name_the_fields_own_limit(app):
    """The validator says "is too long"; the person is told the limit of that very field."""
    from web.forms.messages import localize_all

    schema = {"type": "object", "properties": {
        "note": {"type": "string", "maxLength": 4000}, "code": {"type": "string", "minLength": 6},
        "mail": {"type": "string", "format": "email"},
        "lines": {"type": "array", "maxItems": 3, "minItems": 2,
                  "items": {"type": "object", "properties": {"text": {"type": "string", "maxLength": 20}}}}}}
    with app.test_request_context():
        assert localize_all({"note": "'xxxx' is too long", "code": "'ab' is too short",
                             "mail": "'x' is not a 'email'", "lines": "[1, 2, 3, 4] is too long",
                             "lines.1.text": "'yyyy' is too long", "other": "'z' is too long"}, schema) == {
            "note": "This is too long (at most 4,000 characters).",
            "code": "Please write at least 6 characters.",
            "mail": "Enter an e-mail address such as name@example.com.",
            "lines": "Too many entries (at most 3).",
            "lines.1.text": "This is too long (at most 20 characters).",
            "other": "This is too long.",  # a field the schema does not know keeps the general wording
        }
        assert localize_all({"lines": "[1] is too short"}, schema) == {"lines": "Please give at least 2 entries."}


def test_a_too_long_description_is_told_its_limit_on_the_page(deployed, browser):
    from test_case_flows import REGISTRATION

    page = browser("service").post("/start/complaint", {**REGISTRATION, "description": "x" * 4001,
                                                        "customer_email": "not-an-address"},
                                   follow_redirects=True).get_data(as_text=True)
    errors = re.findall(r"<p class=\"error\"[^>]*>([^<]*)<", page)
    assert "This is too long (at most 4,000 characters)." in errors, errors
    assert "Enter an e-mail address such as name@example.com." in errors, errors


def test_a_date_limit_is_said_as_the_field_compares_it(app):
    """A date-time may not be later than now (not "today"); a date compared with a moment is
    compared by day, so the day is named, not a time."""
    from web.forms.messages import localize_all

    schema = {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"},
                                               "day": {"type": "string", "format": "date"}}}
    with app.test_request_context():
        assert localize_all({"at": "must not be in the future", "day": "must not be in the future"}, schema) == {
            "at": "The time must not be in the future.", "day": "The date must not be in the future."}
        assert localize_all({"day": "must not be before 2026-03-02T17:30:00+00:00",
                             "at": "must not be before 2026-03-02T17:30:00+00:00"}, schema) == {
            "day": "The date must not be before 2026-03-03.",  # 01:30 on the 3rd in Shanghai
            "at": "The date must not be before 2026-03-03 01:30."}
