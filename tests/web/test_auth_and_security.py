"""Sign-in, sign-out, CSRF, cookies, security headers and the language switch."""
from __future__ import annotations

import re

import pytest

from caseflow import store

PAGES = ["/", "/start/", "/cases", "/complaints", "/complaints.csv", "/account/", "/admin/", "/admin/users"]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_sends_strangers_to_the_sign_in_page(browser, url):
    response = browser().get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_sign_in_goes_to_the_page_asked_for_and_sign_out_ends_the_session(browser):
    b = browser()
    b.page_token("/login")
    response = b.post("/login", {"username": "quality", "password": "secret-pw", "next": "/cases"})
    assert response.status_code == 302 and response.headers["Location"] == "/cases"
    assert b.get("/").status_code == 200
    b.page_token("/account/")
    assert b.post("/logout").status_code == 302
    assert b.get("/").status_code == 302


def test_sign_in_never_redirects_off_site(browser):
    b = browser()
    b.page_token("/login")
    response = b.post("/login", {"username": "quality", "password": "secret-pw", "next": "https://evil.example/"})
    assert response.headers["Location"] == "/"


def test_a_wrong_password_or_an_inactive_user_is_refused(app, database, browser):
    b = browser()
    response = b.login("quality", "wrong")
    assert response.status_code == 401
    assert "The user name or password is not correct." in response.get_data(as_text=True)
    assert b.login("nobody", "secret-pw").status_code == 401
    with database.session() as s:
        s.query(store.User).filter_by(username="finance").one().active = False
    assert b.login("finance").status_code == 401


def test_changing_the_password_signs_out_other_sessions(browser, app, database):
    other = browser("quality")
    me = browser("quality")
    response = me.post("/account/", {"display_name": "Q", "current_password": "secret-pw",
                                     "new_password": "new-secret"})
    assert response.status_code == 302
    assert me.get("/").status_code == 200  # this session goes on
    assert other.get("/").status_code == 302  # the other one has to sign in again
    assert browser().login("quality", "new-secret").status_code == 302


def test_forms_without_the_csrf_token_are_refused(browser):
    b = browser("service")
    response = b.client.post("/start/repair", data={"customer_name": "x"})
    assert response.status_code == 400
    assert b.client.post("/login", data={"username": "service", "password": "secret-pw"}).status_code == 400


def test_session_cookie_is_http_only_and_same_site(browser):
    b = browser()
    b.page_token("/login")
    response = b.post("/login", {"username": "service", "password": "secret-pw"})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_cookies_can_be_required(monkeypatch, database):
    from web import create_app

    monkeypatch.setenv("CASEFLOW_SECURE_COOKIES", "1")
    assert create_app({"TESTING": True}, database=database).config["SESSION_COOKIE_SECURE"] is True


def test_pages_carry_security_headers(browser):
    response = browser("service").get("/")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_chinese_browsers_get_chinese_and_others_english(browser):
    assert "登录" in browser(language="zh-CN,zh;q=0.9,en;q=0.5").get("/login").get_data(as_text=True)
    assert "Sign in" in browser(language="de-DE,en;q=0.5").get("/login").get_data(as_text=True)


def test_the_language_switch_is_saved_on_the_user(database, browser):
    b = browser("service", language="en")
    assert "My inbox" in b.get("/").get_data(as_text=True)
    assert b.post("/language", {"language": "zh", "next": "/cases"}).headers["Location"] == "/cases"
    assert "我的待办" in b.get("/").get_data(as_text=True)
    with database.session() as s:
        assert s.query(store.User).filter_by(username="service").one().locale == "zh"
    again = browser("service", language="en")  # a new sign-in keeps the saved language
    assert "我的待办" in again.get("/").get_data(as_text=True)


def test_unknown_pages_are_404_in_html(browser):
    response = browser("service").get("/no/such/page")
    assert response.status_code == 404 and "This page does not exist." in response.get_data(as_text=True)


def test_personal_api_tokens_are_created_once_used_and_revoked_in_the_ui(browser):
    me = browser("quality")
    created = me.post("/account/tokens", {"name": "ERP link"})
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"  # shown in this response
    html = created.get_data(as_text=True)
    token = re.search(r'id="new_token" readonly value="(cf_[^"]+)"', html).group(1)
    assert html.count(token) == 1  # in its field only, not also in a message
    assert "ERP link" in html
    assert token not in me.get("/account/").get_data(as_text=True)  # shown once only
    api = me.client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200
    token_id = re.search(r'/account/tokens/(\d+)/revoke', me.get("/account/").get_data(as_text=True)).group(1)
    assert me.post(f"/account/tokens/{token_id}/revoke").status_code == 302
    assert me.client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    other = browser("manager")
    assert other.post(f"/account/tokens/{token_id}/revoke").status_code == 303  # not theirs: refused


@pytest.mark.parametrize("url", ["/cases/99999999999999999999999", "/cases/2147483648",
                                 "/cases/99999999999999999999999/print/f04", "/attachments/99999999999999999999"])
def test_ids_beyond_the_database_range_are_not_found(browser, url):
    assert browser("admin").get(url).status_code == 404
