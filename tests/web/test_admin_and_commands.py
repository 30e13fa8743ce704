"""Admin pages (admin only), the account page and the user commands of the ``caseflow`` CLI."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from caseflow import cli
from caseflow import store
from web import accounts


@pytest.mark.parametrize("user", ["service", "quality", "manager", "gm", "finance"])
@pytest.mark.parametrize("url", ["/admin/", "/admin/users", "/admin/users/1"])
def test_admin_pages_are_for_admins_only(browser, user, url):
    assert browser(user).get(url).status_code == 403


def test_admin_home_lists_processes_and_links_to_process_versions(deployed, browser):
    html = browser("admin").get("/admin/").get_data(as_text=True)
    assert 'href="/admin/processes"' in html and "Customer complaint" in html and "formdemo" in html
    assert 'href="/admin/"' in browser("admin").get("/").get_data(as_text=True)
    assert 'href="/admin/"' not in browser("service").get("/").get_data(as_text=True)


def test_admin_adds_and_edits_users(database, browser):
    admin = browser("admin")
    assert "quality" in admin.get("/admin/users").get_data(as_text=True)
    response = admin.post("/admin/users", {"username": "zhang", "display_name": "张三", "password": "pw-1234",
                                           "roles": ["quality", "manager"], "extra_roles": "warehouse"})
    assert response.status_code == 302
    with database.session() as s:
        user = accounts.find_user(s, "zhang")
        assert user.role_names == {"quality", "manager", "warehouse"} and user.display_name == "张三"
        user_id = user.id
    assert browser().login("zhang", "pw-1234").status_code == 302

    taken = admin.post("/admin/users", {"username": "zhang", "password": "pw-1234", "roles": ["quality"]})
    assert taken.status_code == 422 and "already exists" in taken.get_data(as_text=True)
    assert admin.post("/admin/users", {"username": "li", "password": "pw-1234"}).status_code == 422  # no role

    assert admin.get(f"/admin/users/{user_id}").status_code == 200
    response = admin.post(f"/admin/users/{user_id}", {"display_name": "Zhang San", "roles": ["finance"]})
    assert response.status_code == 302
    with database.session() as s:
        user = accounts.find_user(s, "zhang")
        assert user.role_names == {"finance"} and user.active is False
    assert browser().login("zhang", "pw-1234").status_code == 401  # deactivated
    assert admin.get("/admin/users/999").status_code == 404


def test_account_page_changes_the_display_name(database, browser):
    b = browser("finance")
    assert b.get("/account/").status_code == 200
    assert b.post("/account/", {"display_name": "Finance Wang"}).status_code == 302
    assert "Finance Wang" in b.get("/").get_data(as_text=True)
    wrong = b.post("/account/", {"display_name": "x", "current_password": "bad", "new_password": "abcdef"})
    assert wrong.status_code == 422


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    monkeypatch.setenv("CASEFLOW_INSTANCE_DIR", str(tmp_path))
    monkeypatch.setenv("CASEFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    return store.Database(f"sqlite:///{tmp_path / 'cli.sqlite3'}")


def test_users_add_and_list(cli_env):
    runner = CliRunner()
    result = runner.invoke(cli.main, ["users", "add", "wang", "--role", "quality", "--role", "manager",
                                      "--password", "pw-1234"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(cli.main, ["users", "add", "wang", "--role", "quality", "--password", "x1234"]).exit_code == 2
    prompted = runner.invoke(cli.main, ["users", "add", "zhao", "--role", "finance"], input="pw-5678\npw-5678\n")
    assert prompted.exit_code == 0, prompted.output
    listing = runner.invoke(cli.main, ["users", "list"]).output
    assert "wang" in listing and "manager, quality" in listing and "zhao" in listing
    with cli_env.session() as s:
        assert accounts.authenticate(s, "zhao", "pw-5678") is not None
        assert accounts.find_user(s, "wang").password_hash.startswith("$argon2")


def test_demo_users_cover_every_role_and_are_idempotent(cli_env):
    runner = CliRunner()
    first = runner.invoke(cli.main, ["demo-users"])
    assert first.exit_code == 0 and "service-demo" in first.output
    assert runner.invoke(cli.main, ["demo-users"]).exit_code == 0
    with cli_env.session() as s:
        users = accounts.list_users(s)
        assert len(users) == len(accounts.DEMO_USERS)
        assert set().union(*(u.role_names for u in users)) == set(accounts.ROLES)
        for demo in accounts.DEMO_USERS:
            assert accounts.authenticate(s, demo.username, demo.password) is not None
            assert demo.username in first.output and demo.password in first.output


def test_serve_is_a_command():
    result = CliRunner().invoke(cli.main, ["serve", "--help"])
    assert result.exit_code == 0 and "--port" in result.output and "--host" in result.output
