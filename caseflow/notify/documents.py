"""The printouts a customer notice carries: F14 repair fee notice and F15 repair report (DOMAIN.md §4).

A :class:`Sheet` is built from a notice's ``args`` (the case's values and those the ``notify``
step carried) in the notice's language; the e-mail templates show it as the mail body
(``_sheet.html`` / ``_sheet.txt``) and :mod:`caseflow.notify.pdf` prints it as the attachment.
Rows without a value are left out. The web's print views (``web/views/printouts.py``) are the
staff's versions of the same sheets.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: data key -> (English, Chinese) label
LABELS: dict[str, tuple[str, str]] = {
    "repair_number": ("Repair no.", "维修编号"), "fee_notice_date": ("Notice date", "通知日期"),
    "customer_name": ("Customer", "客户名称"), "customer_contact": ("Contact", "联系人"),
    "phone": ("Phone", "电话"), "email": ("E-mail", "电子邮件"), "address": ("Address", "地址"),
    "recipient": ("Recipient", "收件人"), "product_model": ("Product model", "产品型号"),
    "serial_no": ("Serial no.", "序列号"), "purchase_date": ("Purchase date", "购买日期"),
    "in_warranty": ("In warranty", "保修期内"), "chargeable": ("Chargeable", "收费维修"),
    "received_date": ("Device received on", "收到设备日期"),
    "fault_description": ("Fault description", "故障描述"), "fault_cause": ("Cause of the fault", "故障原因"),
    "diagnosis": ("Diagnosis findings", "诊断结果"), "estimated_fee": ("Estimated fee (RMB)", "预计费用(元)"),
    "fee_amount": ("Repair fee (RMB)", "维修费用(元)"), "fee_breakdown": ("Fee breakdown", "费用明细"),
    "payment_instructions": ("Payment instructions", "汇款信息"),
    "special_requirements": ("Special requirements", "特殊要求"),
    "work_done": ("Work done", "维修内容"), "test_result": ("Test result", "测试结果"),
    "technician": ("Technician", "维修人员"), "repair_completed_date": ("Repair finished on", "完成日期"),
    "carrier": ("Courier", "快递公司"), "tracking_no": ("Tracking no.", "运单号"),
    "shipped_date": ("Shipped on", "寄出日期"), "accessories": ("Accessories", "附件"),
    "parts": ("Parts needed", "所需零件"), "parts_used": ("Parts used", "更换零件"),
}
#: data key -> value -> (English, Chinese)
CHOICES: dict[str, dict[str, tuple[str, str]]] = {
    "fault_cause": {"quality": ("Product quality fault", "产品质量故障"), "man_made": ("Man-made damage", "人为损坏"),
                    "improper_storage": ("Improper storage or keeping", "保管不善"),
                    "no_fault_found": ("No fault found", "未发现故障")},
}
MONEY_KEYS = frozenset({"estimated_fee", "fee_amount"})
PART_HEADINGS = (("Part no.", "零件编号"), ("Part", "零件名称"), ("Quantity", "数量"),
                 ("Unit price (RMB)", "单价(元)"), ("Amount (RMB)", "金额(元)"))


@dataclass(frozen=True)
class Layout:
    """A printout: its code, titles, sections of data keys (a list-valued key is a parts table) and a note."""

    code: str
    title: tuple[str, str]
    sections: tuple[tuple[tuple[str, str], tuple[str, ...]], ...]
    note: tuple[str, str] = ("", "")

    @property
    def keys(self) -> list[str]:
        """Every data key the printout shows (what a notice attaching it must carry)."""
        return [key for _heading, keys in self.sections for key in keys]


LAYOUTS: dict[str, Layout] = {
    "f14": Layout("F14", ("Repair fee notice", "维修费用通知单"), (
        (("Repair", "维修"), ("repair_number", "fee_notice_date", "customer_name", "customer_contact", "phone",
                             "email", "address", "product_model", "serial_no", "purchase_date", "in_warranty",
                             "fault_description", "fault_cause", "diagnosis")),
        (("Parts", "零件"), ("parts",)),
        (("Charges", "费用"), ("estimated_fee", "fee_amount", "fee_breakdown", "payment_instructions",
                               "special_requirements")),
    ), ("The device is repaired after you have confirmed this notice and the payment has been received. "
        "Please send back the confirmation and the remittance slip, quoting the repair number.",
        "客户确认本通知单且维修款到账后,我们即开始维修。请回传确认函和汇款底单,并注明维修编号。")),
    "f15": Layout("F15", ("Repair report", "维修报告"), (
        (("Repair", "维修"), ("repair_number", "received_date", "customer_name", "recipient", "address",
                             "product_model", "serial_no", "in_warranty", "chargeable", "fault_description",
                             "fault_cause", "fee_amount", "diagnosis")),
        (("Work done", "维修内容"), ("work_done", "test_result", "technician", "repair_completed_date")),
        (("Parts used", "更换零件"), ("parts_used",)),
        (("Shipping", "寄送"), ("carrier", "tracking_no", "shipped_date", "accessories")),
    )),
}


@dataclass
class Section:
    """A titled group of (label, text) rows, or a parts table (header row first)."""

    heading: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    table: list[list[str]] = field(default_factory=list)


@dataclass
class Sheet:
    """A printout filled in for one notice, in one language."""

    code: str
    title: str
    other_title: str
    sections: list[Section]
    note: str
    number: str

    @property
    def filename(self) -> str:
        """The attachment's file name, e.g. ``F14-RMA-2026-000123.pdf``."""
        safe = "".join(c for c in self.number if c.isalnum() or c in "-_")
        return f"{self.code}-{safe}.pdf" if safe else f"{self.code}.pdf"


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "zh" else pair[0]


def _money(value: Any) -> str:
    return f"{value:,.2f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def value_text(key: str, value: Any, lang: str) -> str:
    """How a value reads on the sheet ('' when there is none)."""
    if value is None or value == "" or value == []:
        return ""
    if isinstance(value, bool):
        return ("是" if value else "否") if lang == "zh" else ("Yes" if value else "No")
    if key in CHOICES and str(value) in CHOICES[key]:
        return _pick(CHOICES[key][str(value)], lang)
    if key in MONEY_KEYS:
        return _money(value)
    return str(value).strip()


def _parts_table(rows: Any, lang: str) -> list[list[str]]:
    if not isinstance(rows, list):
        return []
    table = [[_pick(h, lang) for h in PART_HEADINGS]]
    for part in rows:
        if not isinstance(part, dict):
            continue
        qty, price = part.get("quantity"), part.get("unit_price")
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (qty, price))
        table.append([str(part.get("part_no") or ""), str(part.get("part_name") or ""),
                      "" if qty is None else str(qty), "" if price is None else _money(price),
                      _money(qty * price) if numeric else ""])  # type: ignore[operator]  # both numbers
    return table if len(table) > 1 else []


def sheet(name: str, lang: str, args: dict[str, Any]) -> Sheet:
    """Printout ``name`` (``f14``/``f15``) filled from ``args`` in ``lang``; KeyError for an unknown name."""
    layout = LAYOUTS[name]
    other = "en" if lang == "zh" else "zh"
    sections = []
    for heading, keys in layout.sections:
        section = Section(_pick(heading, lang))
        for key in keys:
            if key in ("parts", "parts_used"):
                section.table = _parts_table(args.get(key), lang)
                continue
            text = value_text(key, args.get(key), lang)
            if text:
                section.rows.append((_pick(LABELS[key], lang), text))
        if section.rows or section.table:
            sections.append(section)
    return Sheet(layout.code, _pick(layout.title, lang), _pick(layout.title, other), sections,
                 _pick(layout.note, lang), str(args.get("repair_number") or ""))
