"""The returned-goods process in the web UI: started by marketing, a refused disposition shows its
message on the task page, and the case page shows the figures (PRODUCT.md §10)."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from markupsafe import escape
from story_time import on_the_day

import engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scenarios"))
import test_returned_goods as rgs  # noqa: E402


@pytest.fixture
def app_users() -> dict[str, list[str]]:
    return {"marketing": ["marketing"], "production": ["production"], "logistics": ["logistics"],
            "manager": ["manager"]}


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
        task = rgs.ready(s, iid)["dispose_goods"]["id"]
    # Quantities that do not add up to the received 2 are refused at submission: the form comes back
    # (post/redirect/get) with the message beside the quantities, and the task stays ready.
    production = browser("production")
    response = production.post(f"/tasks/{task}", {"isolate_qty": "0", "rework_qty": "0", "repair_qty": "0",
                                                  "scrap_qty": "1", "return_to_stock_qty": "2",
                                                  "disposed_date": "2026-03-05"}, follow_redirects=True)
    assert [r.status_code for r in response.history] == [303]
    assert "The quantities add up to 3, but 2 are expected." in response.get_data(as_text=True)
    zh_form = browser("production", language="zh").post(f"/tasks/{task}", {
        "isolate_qty": "0", "rework_qty": "0", "repair_qty": "0", "scrap_qty": "1", "return_to_stock_qty": "2",
        "disposed_date": "2026-03-05"}, follow_redirects=True)
    assert [r.status_code for r in zh_form.history] == [303]
    assert "各数量之和为 3,应为 2。" in zh_form.get_data(as_text=True)
    with database.session() as s:
        assert "dispose_goods" in rgs.ready(s, iid)
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


def _complaint_with_two_calls(database) -> int:
    """A complaint whose first plan exchanges 20 units and whose re-plan (customer not satisfied)
    adds a return of 5: two returned-goods calls, each with its own record."""
    from returned_goods_cases import walk_returned_goods

    import complaint_helpers as ch

    with database.session() as s:
        iid = ch.start(s, ch.quality_registration())["id"]
        ch.confirm(s, iid)
        ch.eight_d(s, iid)
        ch.plan(s, iid, lines=[{"kind": "exchange", "quantity": 20, "amount": 5000}])
        ch.manager_decides(s, iid)
        walk_returned_goods(s, iid, tracking_no="SF-EX-20")
        ch.implement(s, iid)
        ch.feedback(s, iid, satisfied=False, satisfaction=2)
        ch.complete(s, iid, "follow_up", {"follow_up_measures": "Take 5 more units back."})
        ch.plan(s, iid, lines=[{"kind": "exchange", "quantity": 20, "amount": 5000},
                               {"kind": "return", "quantity": 5, "amount": 500}])
        ch.manager_decides(s, iid)
        walk_returned_goods(s, iid, defective=2, phenomena=[{"phenomenon": "Cracked lens", "quantity": 2}])
        assert [r["seq"] for r in ch.data(s, iid)["returned_goods_records"]] == [1, 2]
    return iid


def test_complaint_case_page_and_printouts_show_each_call(database, deployed, browser, frozen_clock):
    iid = _complaint_with_two_calls(database)
    with database.session() as s:
        first, second = engine.show(s, iid, audit=False)["data"]["returned_goods_records"]
    viewer = browser("marketing")
    page = viewer.get(f"/cases/{iid}").get_data(as_text=True)
    section = page.split('data-testid="returned-goods"', 1)[1].split("</section>", 1)[0]
    call1 = section.split('data-testid="rg-call-1"', 1)[1].split("</article>", 1)[0]
    call2 = section.split('data-testid="rg-call-2"', 1)[1].split("</article>", 1)[0]
    assert first["returned_goods_no"] in call1 and "Exchanged" in call1 and "Exchange × 20" in call1
    assert 'data-testid="rg-received">20<' in call1 and 'data-testid="rg-defective">4<' in call1
    assert 'data-testid="rg-shipped">20<' in call1 and "SF-EX-20" in call1
    assert "No power: 3" in call1 and "Scratched window: 1" in call1
    assert "Reworked: 3" in call1 and "Scrapped: 1" in call1 and "Returned to stock: 16" in call1
    assert second["returned_goods_no"] in call2 and "Returned" in call2 and "Return × 5" in call2
    assert "Cracked lens: 2" in call2 and 'data-testid="rg-shipped">—<' in call2
    assert f'href="/cases/{iid}/print/rg-1"' in call1 and f'href="/cases/{iid}/print/rg-2"' in call2

    # Each call has its own test record sheet, signed by the tasks of that call only.
    sheet1 = viewer.get(f"/cases/{iid}/print/rg-1").get_data(as_text=True)
    sheet2 = viewer.get(f"/cases/{iid}/print/rg-2").get_data(as_text=True)
    assert first["returned_goods_no"] in sheet1 and second["returned_goods_no"] not in sheet1
    assert "No power" in sheet1 and "Cracked lens" not in sheet1 and "SF-EX-20" in sheet1
    assert second["returned_goods_no"] in sheet2 and "Cracked lens" in sheet2
    assert 'data-testid="rg-shipment"' not in sheet2  # the return shipped nothing
    assert viewer.get(f"/cases/{iid}/print/rg-3").status_code == 404
    latest = viewer.get(f"/cases/{iid}/print/rg").get_data(as_text=True)
    assert second["returned_goods_no"] in latest

    zh = browser("marketing", language="zh").get(f"/cases/{iid}").get_data(as_text=True)
    zh_section = zh.split('data-testid="returned-goods"', 1)[1].split("</section>", 1)[0]
    assert "客退品" in zh_section and "已换货" in zh_section and "已退货" in zh_section and "测试记录" in zh_section
    assert "换货 × 20" in zh_section and "各不良现象数量" in zh_section


def test_the_dashboard_shows_the_defect_statistics(database, deployed, browser, frozen_clock):
    _complaint_with_two_calls(database)
    manager = browser("manager")
    page = manager.get("/reports?from=2026-03-01&to=2026-03-31").get_data(as_text=True)
    section = page.split('data-testid="report-returned-goods-defects"', 1)[1].split("</section>", 1)[0]
    table = section.split('data-testid="table-returned-goods-defects"', 1)[1].split("</table>", 1)[0]
    cells = [re.findall(r"<td[^>]*>([^<]*)</td>", row) for row in table.split("<tr>")[2:]]
    assert cells == [["2026-03", "HX-200", "No power", "3"], ["2026-03", "HX-200", "Cracked lens", "2"],
                     ["2026-03", "HX-200", "Scratched window", "1"]]
    assert ": 6 in all." in section  # 3 + 1 of the first call, 2 of the second
    empty = manager.get("/reports?from=2026-04-01&to=2026-04-30").get_data(as_text=True)
    assert "No returned goods were tested in this period." in empty
    zh = browser("manager", language="zh").get("/reports?from=2026-03-01&to=2026-03-31").get_data(as_text=True)
    assert "客退品不良统计" in zh and "不良现象" in zh


def test_a_test_record_sent_back_shows_its_problems_beside_the_fields(database, deployed, browser, frozen_clock):
    """The record check sends the test task back with ``record_problems``; the form's
    ``x-problems-from`` shows each message where it belongs when production opens the task again."""
    with database.session() as s:
        iid = rgs.start(s)
        rgs.do(s, iid, "receive_goods", rgs.RECEIPT, "marketing")
        rgs.do(s, iid, "test_goods", {**rgs.TEST, "tested_qty": 2, "defective_qty": 5,
                                      "defect_phenomena": [{"phenomenon": "No power", "quantity": 5}]}, "production")
        problems = engine.show(s, iid)["data"]["record_problems"]
        task = rgs.ready(s, iid)["test_goods"]["id"]
    assert problems and all(isinstance(m, str) for m in problems.values())
    page = browser("production").get(f"/tasks/{task}").get_data(as_text=True)
    beside = re.findall(r'<p class="error" id="[^"]+-error">([^<]*)</p>', page)
    assert sorted(str(escape(m)) for m in problems.values()) == sorted(beside), beside


def test_a_step_sent_back_to_be_redone_opens_again_with_a_warning(database, deployed, browser, frozen_clock):
    """Submitting a test record the check refuses does not say "Done" and go to the inbox: the page of
    the task the process sent back opens, with a warning and the problems beside the fields."""
    with database.session() as s:
        iid = rgs.start(s)
        rgs.do(s, iid, "receive_goods", rgs.RECEIPT, "marketing")
        task = rgs.ready(s, iid)["test_goods"]["id"]
    on_the_day(rgs.TEST)
    production = browser("production")
    response = production.post(f"/tasks/{task}", {**{k: str(v) for k, v in rgs.TEST.items() if k != "defect_phenomena"},
                                                  "tested_qty": "2", "defective_qty": "5",
                                                  "defect_phenomena.__rows": "1", "defect_phenomena.0.phenomenon":
                                                  "No power", "defect_phenomena.0.quantity": "5"})
    with database.session() as s:
        again = rgs.ready(s, iid)["test_goods"]["id"]
    assert again != task and response.status_code == 302 and response.headers["Location"].endswith(f"/tasks/{again}")
    page = production.get(response.headers["Location"]).get_data(as_text=True)
    assert "sent Test returned goods back to be done again" in page and "Done:" not in page
