"""The returned-goods process in the web UI: started by marketing, a refused disposition shows its
message on the task page, and the case page shows the figures (PRODUCT.md §10)."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

import engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scenarios"))
import test_returned_goods as rgs  # noqa: E402


@pytest.fixture
def app_users() -> dict[str, list[str]]:
    return {"marketing": ["marketing"], "production": ["production"], "logistics": ["logistics"]}


def test_exchange_through_the_pages(database, deployed, browser, frozen_clock):
    marketing = browser("marketing")
    response = marketing.post("/start/returned_goods", {
        "customer_name": "Huaxin Trading Co.", "product_model": "NLS-HR200", "request_kind": "exchange",
        "expected_qty": "2", "purchase_date": "2026-02-27"})
    assert response.status_code == 302, response.get_data(as_text=True)
    iid = int(re.search(r"/cases/(\d+)", response.headers["Location"]).group(1))
    with database.session() as s:
        rgs.do(s, iid, "receive_goods", {**rgs.RECEIPT, "received_qty": 2}, "marketing")
        rgs.do(s, iid, "record_exchange_request",
               {"purchase_date": "2026-02-27", "request_date": "2026-03-02", "unsealed": False, "deteriorated": False,
                "allergy": False, "invoice_presented": True, "event_slip_presented": True}, "marketing")
        rgs.do(s, iid, "test_goods", {**rgs.TEST, "tested_qty": 2, "defective_qty": 1,
                                      "defect_phenomena": [{"phenomenon": "No power", "quantity": 1}]}, "production")
        rgs.do(s, iid, "dispose_goods", {**rgs.DISPOSITION, "rework_qty": 0, "scrap_qty": 1,
                                         "return_to_stock_qty": 2}, "production")

        task = rgs.ready(s, iid)["dispose_goods"]["id"]
    html = browser("production").get(f"/tasks/{task}").get_data(as_text=True)
    assert "the quantities add up to 3, but 2 were received" in html
    with database.session() as s:
        rgs.do(s, iid, "dispose_goods", {**rgs.DISPOSITION, "rework_qty": 0, "scrap_qty": 1,
                                         "return_to_stock_qty": 1}, "production")
        rgs.do(s, iid, "ship_replacement", {**rgs.SHIPMENT, "shipped_qty": 2}, "logistics")
        view = rgs.do(s, iid, "notify_customer", rgs.NOTICE, "marketing")
        assert view["status"] == "completed"
        number = engine.show(s, iid)["business_key"]

    page = marketing.get(f"/cases/{iid}").get_data(as_text=True)
    assert number in page and "Defective units per phenomenon" in page and "No power" in page
    assert "SF99887766" in page and "Eligible for exchange" in page
    assert "the quantities add up" not in page  # the corrected record leaves no problem behind
    assert f"/cases/{iid}/print/rg" in page
    sheet = marketing.get(f"/cases/{iid}/print/rg")
    assert sheet.status_code == 200
    text = sheet.get_data(as_text=True)
    test = text.split('data-testid="rg-test"', 1)[1].split("</table>", 1)[0]
    assert "No power" in test and "Feng Min" in test and "production_user" in test  # who tested, and when
    disposition = text.split('data-testid="rg-disposition"', 1)[1].split("</table>", 1)[0]
    assert "Scrapped" in disposition and "Returned to stock" in disposition
    assert "SF99887766" in text.split('data-testid="rg-shipment"', 1)[1]
    zh = browser("marketing", language="zh").get(f"/cases/{iid}").get_data(as_text=True)
    assert "客退品编号" in zh and "各不良现象数量" in zh
    zh_sheet = browser("marketing", language="zh").get(f"/cases/{iid}/print/rg").get_data(as_text=True)
    assert "不良现象" in zh_sheet and "报废数量" in zh_sheet and "运单号" in zh_sheet
