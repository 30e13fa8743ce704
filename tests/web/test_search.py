"""Search across cases (number, customer, product, order, description, comments; CJK substrings) on
SQLite and PostgreSQL, the index kept in step by each save, the search page, saved inbox filters."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select, update
from test_comments import REGISTRATION

import engine
from caseflow import comments, search, search_index, store

ROOT = Path(__file__).resolve().parents[2]
REPAIR = {
    "customer_name": "华信电子有限公司", "customer_contact": "李伟", "address": "南京市中山路88号", "recipient": "李伟",
    "phone": "+86 25 8888 0000", "email": "li.wei@example.com", "product_model": "NLS-HR200",
    "serial_no": "SN20250601-0042", "purchase_date": "2025-06-01", "warranty_claim": "in",
    "fault_description": "扫描器升级固件后无法开机", "accessories": "USB cable removed",
}


@pytest.fixture
def cases(any_database, frozen_clock) -> dict[str, int]:
    """A complaint (English data, an order number) and a repair (Chinese data), on either backend."""
    with any_database.session() as s:
        engine.deploy(s, [ROOT / "processes"], actor="admin")
        complaint = engine.start(s, "complaint", dict(REGISTRATION, order_no="PO-77-31415"), actor="service")
        repair = engine.start(s, "repair", REPAIR, actor="svc")
        return {"complaint": complaint["id"], "repair": repair["id"], "number": complaint["business_key"]}


def found(db: store.Database, query: str, keys: list[str] | None = None) -> list[int]:
    with db.session() as s:
        return search.matching_ids(s, query, keys)


def test_cases_are_found_by_number_customer_product_order_and_description(any_database, cases):
    complaint, repair = cases["complaint"], cases["repair"]
    assert found(any_database, cases["number"]) == [complaint]
    assert found(any_database, "huaxin") == [complaint]  # any case, a substring of "Huaxin Electronics"
    assert found(any_database, "PN-4711") == [complaint]
    assert found(any_database, "77-314") == [complaint]  # the order number
    assert found(any_database, "power on") == [complaint]  # two words, each in the description
    assert found(any_database, "NLS-HR") == [repair]
    assert found(any_database, "信电子") == [repair]  # CJK substrings: three characters, from the index
    assert found(any_database, "华信") == [repair]  # and shorter ones
    assert found(any_database, "固件 开机") == [repair]
    assert found(any_database, "huaxin 华信") == []  # every word must match the same case
    assert found(any_database, "%") == [] and found(any_database, "_") == []  # no wildcards
    assert found(any_database, "   ") == []
    assert found(any_database, "NLS", ["complaint"]) == [] and found(any_database, "NLS", ["repair"]) == [repair]


def test_the_index_follows_each_save_and_each_comment(any_database, cases):
    complaint = cases["complaint"]
    with any_database.session() as s:
        # A data change of the case row (what every engine save writes) is indexed in the same statement.
        data = dict(s.scalar(select(store.ProcessInstance.data).where(store.ProcessInstance.id == complaint)))
        changed = dict(data, customer_name="Zhongke Devices")
        s.execute(update(store.ProcessInstance).where(store.ProcessInstance.id == complaint)
                  .values(data=changed).execution_options(synchronize_session=False))
    assert found(any_database, "zhongke") == [complaint] and found(any_database, "huaxin") == []

    with any_database.session() as s:
        note = comments.create(s, complaint, "service", "客户要求8D报告 and a replacement lot")
    assert found(any_database, "8D报告") == [complaint] and found(any_database, "replacement") == [complaint]
    with any_database.session() as s:
        comments.create(s, complaint, "service", "batch xyz123 and 123xyz")
    # Every trigram of the word is in the case, but not the word itself: no match.
    assert found(any_database, "xyz123") == [complaint] and found(any_database, "xyz123xyz") == []
    with any_database.session() as s:
        comments.edit(s, note.id, "service", "客户撤回了投诉")
    assert found(any_database, "replacement") == [] and found(any_database, "撤回") == [complaint]
    with any_database.session() as s:
        comments.delete(s, note.id, "service")
    assert found(any_database, "撤回") == []


def test_a_rolled_back_change_leaves_the_index_as_it_was(any_database, cases):
    complaint = cases["complaint"]
    with pytest.raises(RuntimeError), any_database.session() as s:
        comments.create(s, complaint, "service", "never committed")
        raise RuntimeError("the request failed")
    assert found(any_database, "never committed") == []


def test_the_index_is_filled_from_stored_cases_when_installed(any_database, cases):
    with any_database.engine.begin() as conn:
        search_index.uninstall(conn)
        search_index.install(conn)
    assert found(any_database, "huaxin") == [cases["complaint"]] and found(any_database, "华信") == [cases["repair"]]


def test_results_are_the_newest_first_and_limited(any_database, cases):
    with any_database.session() as s:
        ids = [engine.start(s, "complaint", REGISTRATION, actor="service")["id"] for _ in range(3)]
        assert search.matching_ids(s, "huaxin", limit=2) == [ids[2], ids[1]]
        assert search.terms("a  b a " + "c " * 10) == ["a", "b", "c"]


# --- the page and the saved filters ---------------------------------------------------------------------


@pytest.fixture
def web_cases(database, deployed, app, frozen_clock) -> dict[str, int]:
    with database.session() as s:
        complaint = engine.start(s, "complaint", REGISTRATION, actor="service")
        repair = engine.start(s, "repair", REPAIR, actor="repair")
        return {"complaint": complaint["id"], "repair": repair["id"], "number": complaint["business_key"]}


def test_the_navigation_search_box_leads_to_the_results(browser, web_cases):
    me = browser("quality")
    assert 'data-testid="nav-search"' in me.get("/").get_data(as_text=True)
    page = me.get("/search", query_string={"q": "华信"}).get_data(as_text=True)
    assert f'href="/cases/{web_cases["repair"]}"' in page and f'href="/cases/{web_cases["complaint"]}"' not in page
    page = me.get("/search", query_string={"q": "huaxin", "process": "repair"}).get_data(as_text=True)
    assert 'data-testid="search-empty"' in page
    assert me.get("/search", query_string={"q": "x" * 5000}).status_code == 200
    zh = browser("quality", language="zh").get("/search", query_string={"q": "nothing-like-this"})
    assert "没有找到案件。" in zh.get_data(as_text=True)


def test_saved_inbox_filters_are_per_user(browser, database, web_cases):
    me = browser("quality")
    page = me.get("/", query_string={"role": "quality", "holder": "free"}).get_data(as_text=True)
    assert 'data-testid="save-filter"' in page
    response = me.post("/filters", {"name": "Mine, free", "role": "quality", "holder": "free", "bogus": "x"})
    assert response.status_code == 302
    with database.session() as s:
        [saved] = s.scalars(select(store.SavedFilter)).all()
        assert (saved.username, saved.name, saved.args) == ("quality", "Mine, free",
                                                            {"role": "quality", "holder": "free"})
    # Saving under the same name replaces it.
    me.post("/filters", {"name": "Mine, free", "role": "quality", "holder": "me"})
    with database.session() as s:
        assert [f.args for f in s.scalars(select(store.SavedFilter))] == [{"role": "quality", "holder": "me"}]
    opened = me.get(f"/filters/{saved.id}")
    assert opened.status_code == 302 and re.search(r"/\?role=quality&holder=me$", opened.headers["Location"])
    assert "Mine, free" in me.get("/").get_data(as_text=True)
    other = browser("service")
    assert "Mine, free" not in other.get("/").get_data(as_text=True)
    assert other.get(f"/filters/{saved.id}").status_code == 404
    assert other.post(f"/filters/{saved.id}/delete").status_code == 404
    bad = me.post("/filters", {"name": "  "}, follow_redirects=True)
    assert "Name the filter" in bad.get_data(as_text=True)
    assert me.post(f"/filters/{saved.id}/delete").status_code == 302
    with database.session() as s:
        assert s.scalars(select(store.SavedFilter)).all() == []
