"""The F14/F15 printouts of customer notices: the sheet, its e-mail rendering and its PDF (reportlab)."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pypdf
import pytest

from caseflow.notify import documents, pdf, render

ROOT = Path(__file__).resolve().parents[2]
ARGS = {"repair_number": "RMA-2026-000123", "customer_name": "华信贸易有限公司", "fee_amount": 1234.5,
        "fault_cause": "man_made", "in_warranty": False, "payment_instructions": "中国银行 6222 0000",
        "parts": [{"part_no": "HS-9", "part_name": "外壳", "quantity": 2, "unit_price": 100}], "diagnosis": ""}


def test_a_sheet_shows_labels_and_values_in_the_language_and_leaves_out_empty_rows():
    zh = documents.sheet("f14", "zh", ARGS)
    rows = dict(row for section in zh.sections for row in section.rows)
    assert rows["维修费用(元)"] == "1,234.50" and rows["故障原因"] == "人为损坏" and rows["保修期内"] == "否"
    assert "诊断结果" not in rows  # empty: left out
    parts, = [s.table for s in zh.sections if s.table]
    assert parts[1] == ["HS-9", "外壳", "2", "100.00", "200.00"]
    en = documents.sheet("f14", "en", ARGS)
    assert dict(row for s in en.sections for row in s.rows)["Cause of the fault"] == "Man-made damage"
    assert (en.title, en.other_title, en.filename) == ("Repair fee notice", "维修费用通知单", "F14-RMA-2026-000123.pdf")
    with pytest.raises(KeyError):
        documents.sheet("f99", "en", ARGS)


@pytest.mark.parametrize("lang, title", [("zh", "维修费用通知单"), ("en", "Repair fee notice")])
def test_the_pdf_is_a_pdf_with_the_text_in_the_cjk_font(lang, title):
    content = pdf.render(documents.sheet("f14", lang, ARGS))
    reader = pypdf.PdfReader(io.BytesIO(content))
    text = reader.pages[0].extract_text()
    assert content.startswith(b"%PDF-") and title in text and "1,234.50" in text and "华信贸易有限公司" in text
    assert "中国银行 6222 0000" in text
    fonts = {str(f["/BaseFont"]) for page in reader.pages for f in page["/Resources"]["/Font"].values()}
    assert "/STSong-Light" in fonts  # the built-in CID font (reportlab's canvas also names Helvetica)
    assert b"/FontFile" not in content  # no font file is shipped nor embedded


def test_markup_in_the_data_is_text_in_the_pdf():
    content = pdf.render(documents.sheet("f15", "en", {"repair_number": "R-1", "work_done": "<b>a & b</b>\nline 2"}))
    assert "<b>a & b</b>" in pypdf.PdfReader(io.BytesIO(content)).pages[0].extract_text()


def test_a_notice_naming_an_attachment_renders_it_and_others_have_none():
    message = render.render("repair_fee_notice", "en", {**ARGS, "_attachment": "f14"}, attach=True)
    attachment, = message.attachments
    assert (attachment.filename, attachment.mime_type) == ("F14-RMA-2026-000123.pdf", "application/pdf")
    assert attachment.content.startswith(b"%PDF-")
    assert "Repair fee (RMB): 1,234.50" in message.text and "RMB 1234.50" in message.text
    assert message.html is not None and "HS-9" in message.html
    assert render.render("repair_fee_notice", "en", ARGS, attach=True).attachments == []
    assert render.render("repair_fee_notice", "en", {**ARGS, "_attachment": "f14"}).attachments == []  # a list
    with pytest.raises(render.TemplateMissing):
        render.render("repair_fee_notice", "en", {**ARGS, "_attachment": "f99"}, attach=True)


def test_every_template_exists_in_both_languages_plain_and_html():
    folder = ROOT / "caseflow" / "notify" / "templates"
    for name in render.template_names():
        for lang in render.LANGUAGES:
            assert (folder / f"{name}.{lang}.txt").is_file() and (folder / f"{name}.{lang}.html").is_file(), name


def test_the_diagrams_notices_name_existing_templates_and_carry_what_their_printout_shows():
    """Each notify step of the shipped diagrams: the template exists; an attachment's sheet keys are carried."""
    step = re.compile(r'<spiffworkflow:serviceTaskOperator id="notify">(.*?)</spiffworkflow:serviceTaskOperator>',
                      re.S)
    param = re.compile(r'<spiffworkflow:parameter id="(\w+)" type="\w+" value="([^"]*)" />')
    found = {}
    for diagram in (ROOT / "processes").glob("*/*.bpmn"):
        for block in step.findall(diagram.read_text(encoding="utf-8")):
            params = {k: eval(v) for k, v in param.findall(block)}  # noqa: S307 - literal parameter values
            found[params["template"]] = params
    assert {"complaint_acknowledgement", "complaint_invalid_reply", "complaint_closure", "repair_shipping_instructions",
            "repair_fee_notice", "repair_shipped"} <= set(found)
    for template, params in found.items():
        assert template in render.template_names()
        if params.get("attachment"):
            assert set(documents.LAYOUTS[params["attachment"]].keys) <= set(params["fields"]), template
    assert (found["repair_fee_notice"]["attachment"], found["repair_shipped"]["attachment"]) == ("f14", "f15")


@pytest.mark.parametrize(("language", "said"), [("zh", "已处理完毕并结案(2026-12-04)"),
                                              ("en", "is closed (2026-12-04)")])
def test_the_closure_mail_gives_the_day_of_the_business_time_zone(language, said):
    """Closed at 02:24 in Shanghai, stored as 18:24 UTC the day before: the mail names the Shanghai day."""
    args = {"complaint_no": "CP-2026-000001", "closed_at": "2026-12-03T18:24:16+00:00"}
    message = render.render("complaint_closure", language, args)
    assert said in message.text and said in (message.html or "")
