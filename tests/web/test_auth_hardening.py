"""Sign-in, sessions and tokens that resist abuse: rate-limited sign-in, server-side sign-out,
tokens revoked with the password or the user, a new token never in the session cookie,
``Secure`` cookies on HTTPS (also behind a trusted proxy), and claim conflicts."""
from __future__ import annotations

import logging
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from caseflow import accounts, cli, store

from app_fixtures import PASSWORD

LOW_LIMITS = {"CASEFLOW_LOGIN_LIMIT_PER_ACCOUNT": "3 per 15 minutes",
              "CASEFLOW_LOGIN_LIMIT_PER_ADDRESS": "100 per 15 minutes"}


def _sign_in(b, username: str, password: str = PASSWORD, address: str | None = None):
    b.page_token("/login")
    environ = {"REMOTE_ADDR": address} if address else {}
    return b.client.post("/login", data={"username": username, "password": password, "csrf_token": b.token},
                         environ_base=environ)


# --- rate-limited sign-in ---------------------------------------------------------------------------


def test_ten_wrong_passwords_lock_the_account_even_for_the_right_one(browser, caplog):
    b = browser()
    for _ in range(10):
        assert _sign_in(b, "quality", "wrong").status_code == 401
    caplog.set_level(logging.WARNING, logger="caseflow.auth")
    locked = _sign_in(b, "quality", "wrong")
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert "Too many failed sign-in attempts" in locked.get_data(as_text=True)
    assert _sign_in(browser(), "quality").status_code == 429  # the lockout holds for the right password
    assert any(r.name == "caseflow.auth" and r.levelno == logging.WARNING and "quality" in r.getMessage()
               for r in caplog.records)
    assert _sign_in(browser(), "manager").status_code == 302  # other accounts are not locked


@pytest.mark.parametrize("app_config", [LOW_LIMITS])
def test_only_failures_count(browser):
    for _ in range(5):  # more sign-ins than the limit of failures
        b = browser()
        assert _sign_in(b, "quality").status_code == 302
    assert _sign_in(browser(), "quality", "wrong").status_code == 401


@pytest.mark.parametrize("app_config", [{"CASEFLOW_LOGIN_LIMIT_PER_ACCOUNT": "100 per 15 minutes",
                                         "CASEFLOW_LOGIN_LIMIT_PER_ADDRESS": "4 per 15 minutes"}])
def test_failures_from_one_address_over_many_accounts_lock_that_address(browser):
    b = browser()
    for name in ("quality", "manager", "gm", "nobody"):
        assert _sign_in(b, name, "wrong").status_code == 401
    assert _sign_in(b, "finance").status_code == 429
    assert _sign_in(browser(), "finance", address="10.0.0.9").status_code == 302  # another address


@pytest.mark.parametrize("app_config", [{**LOW_LIMITS, "RATELIMIT_ENABLED": False}])
def test_the_limits_can_be_turned_off(browser):
    b = browser()
    for _ in range(5):
        assert _sign_in(b, "quality", "wrong").status_code == 401
    assert _sign_in(b, "quality").status_code == 302


@pytest.mark.parametrize("app_config", [LOW_LIMITS])
def test_the_limits_can_be_reset(browser):
    from web.ratelimit import limiter

    b = browser(language="zh-CN")
    for _ in range(3):
        _sign_in(b, "quality", "wrong")
    locked = _sign_in(b, "quality")
    assert locked.status_code == 429 and "登录失败次数过多" in locked.get_data(as_text=True)
    limiter.reset()
    assert _sign_in(b, "quality").status_code == 302


def test_bad_limit_settings_are_refused_at_start(database):
    from web import create_app

    with pytest.raises(ValueError, match="CASEFLOW_LOGIN_LIMIT_PER_ACCOUNT"):
        create_app({"TESTING": True, "CASEFLOW_LOGIN_LIMIT_PER_ACCOUNT": "ten tries"}, database=database)


# --- sessions ---------------------------------------------------------------------------------------


def test_a_session_cookie_copied_before_sign_out_is_dead_after_it(app, browser):
    me = browser("quality")
    stolen = me.client.get_cookie("session").value
    assert me.post("/logout").status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    response = thief.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_sign_out_ends_every_session_of_the_user(browser):
    laptop, phone, colleague = browser("quality"), browser("quality"), browser("manager")
    assert laptop.post("/logout").status_code == 302
    assert phone.get("/").status_code == 302  # all of this user's sessions (documented)
    assert colleague.get("/").status_code == 200
    assert browser().login("quality").status_code == 302  # signing in again works


def _token(database, username: str) -> str:
    with database.session() as s:
        return accounts.create_token(s, username, "integration")[1]


def _api_status(app, token: str) -> int:
    return app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_new_password_revokes_the_users_api_tokens(app, database, browser):
    token, others = _token(database, "quality"), _token(database, "manager")
    me = browser("quality")
    assert _api_status(app, token) == 200
    response = me.post("/account/", {"display_name": "Q", "current_password": PASSWORD, "new_password": "new-pw-1"})
    assert response.status_code == 302
    assert _api_status(app, token) == 401
    assert _api_status(app, others) == 200  # another user's tokens are untouched
    assert me.get("/").status_code == 200  # the session that changed it goes on
    with database.session() as s:
        revoked = s.scalars(select(store.ApiToken.revoked_at).join(store.User)
                            .where(store.User.username == "quality")).all()
        assert revoked and all(r is not None for r in revoked)


def test_deactivating_a_user_in_the_admin_ui_ends_sessions_and_tokens_for_good(app, database, browser):
    token = _token(database, "quality")
    quality, admin = browser("quality"), browser("admin")
    with database.session() as s:
        user_id = accounts.find_user(s, "quality").id
    assert admin.post(f"/admin/users/{user_id}", {"roles": "quality", "display_name": "Q"}).status_code == 302
    assert quality.get("/").status_code == 302 and _api_status(app, token) == 401
    # Active again: the old session and token stay dead.
    assert admin.post(f"/admin/users/{user_id}", {"roles": "quality", "active": "on"}).status_code == 302
    assert quality.get("/").status_code == 302 and _api_status(app, token) == 401
    assert browser().login("quality").status_code == 302


def test_deactivating_a_user_with_the_cli_ends_sessions_and_tokens(app, database, browser, monkeypatch):
    monkeypatch.setenv("CASEFLOW_DATABASE_URL", str(database.engine.url))
    token, quality = _token(database, "quality"), browser("quality")
    result = CliRunner().invoke(cli.main, ["users", "deactivate", "quality"])
    assert result.exit_code == 0, result.output
    assert "1 API token(s) revoked" in result.output
    assert quality.get("/").status_code == 302 and _api_status(app, token) == 401
    assert CliRunner().invoke(cli.main, ["users", "activate", "quality"]).exit_code == 0
    assert _api_status(app, token) == 401 and quality.get("/").status_code == 302
    assert browser().login("quality").status_code == 302
    assert CliRunner().invoke(cli.main, ["users", "deactivate", "nobody"]).exit_code == 3


# --- tokens made in the browser -----------------------------------------------------------------------


def test_a_new_token_is_never_in_the_session_cookie(app, browser):
    me = browser("quality")
    created = me.post("/account/tokens", {"name": "ERP"})
    token = re.search(r'id="new_token" readonly value="(cf_[^"]+)"', created.get_data(as_text=True)).group(1)
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    serializer = app.session_interface.get_signing_serializer(app)
    cookie = me.client.get_cookie("session")
    assert cookie is not None and token not in str(serializer.loads(cookie.value))
    assert all(token not in h for h in created.headers.getlist("Set-Cookie"))
    assert token not in me.get("/account/").get_data(as_text=True)
    # The page shown by the POST still saves the profile to /account/, not to /account/tokens.
    assert 'action="/account/"' in created.get_data(as_text=True)


# --- cookies over HTTPS ------------------------------------------------------------------------------


def _session_cookie(response) -> str:
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))


def test_cookies_are_secure_when_the_request_came_over_https(app):
    for base, secure in (("https://localhost", True), ("http://localhost", False)):
        client = app.test_client()
        page = client.get("/login", base_url=base).get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        response = client.post("/login", base_url=base,
                               data={"username": "service", "password": PASSWORD, "csrf_token": csrf})
        cookie = _session_cookie(response)
        assert ("; Secure" in cookie) is secure
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize("app_env", [{"CASEFLOW_PROXY_FIX": "1"}])
@pytest.mark.parametrize("app_config", [{"CASEFLOW_LOGIN_LIMIT_PER_ADDRESS": "2 per 15 minutes"}])
def test_behind_a_trusted_proxy_its_scheme_and_client_address_count(app):
    client = app.test_client()  # every request comes from the proxy's own address

    def attempt(client_ip: str, password: str = "wrong"):
        headers = {"X-Forwarded-For": client_ip}
        page = client.get("/login", headers=headers).get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        return client.post("/login", headers=headers,
                           data={"username": "service", "password": password, "csrf_token": csrf})

    assert "; Secure" in _session_cookie(client.get("/login", headers={"X-Forwarded-Proto": "https"}))
    assert [attempt("203.0.113.7").status_code for _ in range(3)] == [401, 401, 429]
    assert attempt("198.51.100.2", PASSWORD).status_code == 302  # another client behind the same proxy


def test_without_proxy_fix_forwarded_headers_are_ignored(app):
    response = app.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "; Secure" not in _session_cookie(response)


# --- claims -------------------------------------------------------------------------------------------


@pytest.fixture
def requests(deployed, browser) -> None:
    """One form-demo case waiting for its quality review."""
    assert browser("admin").post("/start/formdemo", {"title": "ONE", "kind": "goods"}).status_code == 302


def test_claiming_a_task_someone_else_holds_is_a_conflict(database, browser, task_id, requests):
    with database.session() as s:
        twin = store.User(username="quality2", password_hash=s.scalars(select(store.User.password_hash)).first(),
                          active=True)
        twin.roles = [store.UserRole(role="quality")]
        s.add(twin)
    quality = browser("quality")
    tid = task_id(quality, "Review the request")
    assert quality.post(f"/tasks/{tid}/claim", {"next": "/"}).status_code == 302
    response = browser("quality2").post(f"/tasks/{tid}/claim", {"next": "/"}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Quality has taken over this task" in page  # the holder's display name
    with database.session() as s:
        assert s.get(store.HumanTask, tid).assignee == "quality"


def test_the_last_active_admin_stays_an_active_admin(app, database, browser, monkeypatch):
    admin = browser("admin")
    with database.session() as s:
        admin_id = accounts.find_user(s, "admin").id
    response = admin.post(f"/admin/users/{admin_id}", {"roles": "admin", "display_name": "A"})  # "active" unticked
    assert response.status_code == 422 and "last active administrator" in response.get_data(as_text=True)
    response = admin.post(f"/admin/users/{admin_id}", {"roles": "quality", "active": "on"})  # the admin role taken away
    assert response.status_code == 422
    with database.session() as s:
        user = accounts.find_user(s, "admin")
        assert user.active and user.role_names == {"admin"}
    monkeypatch.setenv("CASEFLOW_DATABASE_URL", str(database.engine.url))
    result = CliRunner().invoke(cli.main, ["users", "deactivate", "admin"])
    assert result.exit_code != 0 and "last active admin" in result.output
    # With a second admin, the first may go.
    assert CliRunner().invoke(cli.main, ["users", "add", "admin2", "--role", "admin", "--password",
                                         "a-long-password-1"]).exit_code == 0
    assert CliRunner().invoke(cli.main, ["users", "deactivate", "admin"]).exit_code == 0


def test_role_keys_are_normalised_as_lanes_make_them_and_names_are_unique_in_any_case(database):
    with database.session() as s:
        user = accounts.create_user(s, "henry", "a-long-password-1", ["New Dept", " qa-lab ", "Admin"])
        assert user.role_names == {"new_dept", "qa_lab", "admin"}
        with pytest.raises(accounts.AccountError) as err:
            accounts.create_user(s, "HENRY", "a-long-password-1", ["quality"])
        assert err.value.message_code == "user_exists" and "'henry'" in str(err.value)


def _token_request(app, token: str, password: str):
    return app.test_client().post("/api/v1/tokens", json={"name": "ci", "password": password},
                                  headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("app_config", [LOW_LIMITS])
def test_wrong_passwords_at_sign_in_and_at_token_creation_count_together(app, database, browser):
    """One counter per account (README): a lock at either place holds at both."""
    token = _token(database, "quality")
    for _ in range(3):
        assert _sign_in(browser(), "quality", "wrong").status_code == 401
    assert _token_request(app, token, PASSWORD).status_code == 429  # locked on the sign-in page: here too
    manager_token = _token(database, "manager")
    for _ in range(3):
        assert _token_request(app, manager_token, "wrong").status_code == 403
    assert _sign_in(browser(), "manager").status_code == 429  # locked through the API: on the sign-in page too
