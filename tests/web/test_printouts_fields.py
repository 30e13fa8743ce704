"""The Chinese record sheets show the fields of their source forms (DOMAIN.md §4): F04's
customer address and preliminary judgement, F09's product name, barcode, review (审核) lines
and retention, F10's "本年度第 N 次投诉", F13–F15's 保内 / 保外 and a single 维修内容.
"""
from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import update

import engine
from caseflow import store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scenarios"))
import complaint_helpers as ch  # noqa: E402

REGISTRATION = {"customer_address": "江苏省苏州市工业园区星湖街 88 号", "product_name": "LED 驱动电源",
                "product_barcode": "LOT-2602-0815"}


def _sheet(browser, iid: int, form: str, user: str = "quality") -> str:
    response = browser(user, language="zh").get(f"/cases/{iid}/print/{form}")
    assert response.status_code == 200, form
    return response.get_data(as_text=True)


def _cell(html: str, label: str) -> str:
    """The text of the cell after the header ``label``."""
    return html.split(f"<th>{label}</th>", 1)[1].split("</td>", 1)[0].split(">", 1)[1]


def _through_review(session, iid: int, decision: str = "approve", comment: str | None = None) -> None:
    ch.confirm(session, iid, preliminary_cause="焊点虚焊(初判)", preliminary_measures="先行更换不良品并致歉")
    ch.d1(session, iid)
    ch.d2(session, iid)  # serious: 2D is required
    ch.d3(session, iid, review=False)
    ch.review_d2_d3(session, iid, decision, comment)


def test_f04_prints_customer_address_preliminary_judgement_and_sign_off_dates(database, deployed, browser,
                                                                              frozen_clock):
    with database.session() as s:
        iid = ch.start(s, ch.quality_registration(**REGISTRATION))["id"]
        _through_review(s, iid)
        ch.d4(s, iid)
        ch.plan(s, iid)
        ch.manager_decides(s, iid)
        ch.implement(s, iid)
        ch.feedback(s, iid)
        ch.verify_and_close(s, iid)
    f04 = _sheet(browser, iid, "f04")
    assert _cell(f04, "客户姓名") == "Huaxin Electronics"
    assert _cell(f04, "客户地址") == REGISTRATION["customer_address"]
    assert "焊点虚焊(初判)" in _cell(f04, "初步判断原因")
    assert "先行更换不良品并致歉" in _cell(f04, "初步处理措施")
    assert "客户是否满意" in f04
    assert _cell(f04, "处理日期") == "2026-03-02" and _cell(f04, "审核日期") == "2026-03-02"
    assert _cell(f04, "处理人(签名)") == "cs1" and _cell(f04, "审核人(签名)") == "qa1"
    case = browser("quality", language="zh").get(f"/cases/{iid}").get_data(as_text=True)
    for label, value in (("客户地址", "customer_address"), ("产品名称", "product_name"),
                         ("产品条码/批号", "product_barcode")):
        assert label in case and REGISTRATION[value] in case, label


def test_f09_prints_product_fields_the_2d_3d_review_and_the_retention(database, deployed, browser, frozen_clock):
    with database.session() as s:
        iid = ch.start(s, ch.quality_registration(**REGISTRATION))["id"]
        _through_review(s, iid, "revise_root_cause", "原因分析不充分,请补充回流焊曲线数据")
    f09 = _sheet(browser, iid, "f09")
    assert "审核: ________________" in f09  # sent back: nobody has signed the review yet
    assert "原因分析不充分" in f09
    with database.session() as s:
        ch.d3(s, iid, review=False)
        ch.review_d2_d3(s, iid)
    f09 = _sheet(browser, iid, "f09")
    assert _cell(f09, "客诉日期") == "2026-03-02"
    assert _cell(f09, "出货总数") == "1000"
    assert "LED 驱动电源" in _cell(f09, "产品名称")
    assert _cell(f09, "产品条码") == REGISTRATION["product_barcode"]
    assert f09.count("审核: qa1 · 2026-03-02") == 2  # 2D and 3D reviewed by the quality reviewer
    assert "保存:一年" in f09


def test_f10_and_the_case_page_show_the_customers_complaint_count_this_year(database, deployed, browser,
                                                                            frozen_clock):
    with database.session() as s:
        first = ch.start(s, ch.quality_registration())["id"]
        second = ch.start(s, ch.quality_registration(customer_name="Huaxin (Suzhou)"))["id"]  # same code
        other = ch.start(s, ch.quality_registration(customer_code="C-0999"))["id"]
        by_name = ch.start(s, {"channel": "phone", "customer_name": "Delta", "complaint_type": "transport",
                               "description": "Two cartons crushed."})["id"]
    b = browser("quality", language="zh")
    assert "本年度第 1 次投诉" in b.get(f"/cases/{first}").get_data(as_text=True)
    assert "本年度第 2 次投诉" in b.get(f"/cases/{second}").get_data(as_text=True)
    assert "本年度第 1 次投诉" in b.get(f"/cases/{other}").get_data(as_text=True)
    assert "本年度第 1 次投诉" in b.get(f"/cases/{by_name}").get_data(as_text=True)
    f10 = _sheet(browser, second, "f10")
    assert "本年度第 2 次投诉" in f10 and "投诉比率" in f10 and "客诉比率" not in f10


def _repair_case(database, **data) -> int:
    """A repair case whose data is that of a finished repair (the sheets read only the data)."""
    with database.session() as s:
        iid = engine.start(s, "repair", {"customer_name": "ACME", "fault_description": "No display",
                                         "warranty_claim": "in"}, actor="svc1")["id"]
        s.execute(update(store.ProcessInstance).where(store.ProcessInstance.id == iid).values(data={
            "repair_number": "RMA-2026-000001", "customer_name": "ACME", "product_model": "HX-200",
            "serial_no": "SN-1", "work_done": "更换显示板", "technician": "Wu", **data}))
    return iid


def test_f14_and_f15_print_in_and_out_of_warranty_and_f15_the_work_done_once(database, deployed, browser):
    free = _repair_case(database, in_warranty=True, chargeable=False)
    paid = _repair_case(database, in_warranty=False, chargeable=True)
    f15 = _sheet(browser, free, "f15", user="repair")
    assert f15.count("维修内容") == 1 and "更换显示板" in f15
    assert _cell(f15, "保修") == "保内"
    assert _cell(_sheet(browser, paid, "f15", user="repair"), "保修") == "保外"
    assert _cell(_sheet(browser, paid, "f14", user="repair"), "保修") == "保外"
